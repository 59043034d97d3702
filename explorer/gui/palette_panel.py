"""Left panel: layer kinds to drag into the stack, and one-click sharing schemes by family."""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable

from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QButtonGroup,
    QGroupBox,
    QInputDialog,
    QListWidget,
    QListWidgetItem,
    QMenu,
    QPushButton,
    QRadioButton,
    QScrollArea,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from explorer.errors import SpecError
from explorer.gui import commands, mime, theme
from explorer.gui.design_model import DesignModel
from explorer.design.model import KINDS
from explorer.kinds import kind as kind_of
from explorer.design.diff import describe_change
from explorer.design.scheme_options import parse_options
from explorer.design.strategies import SCHEMES, apply_scheme

FAMILIES = (("layers", "Layer sharing"), ("heads", "Heads and K/V"), ("experts", "Mixture of experts"),
            ("embeddings", "Embeddings"), ("factorized", "Factorized"), ("other", "RNN, conv, tasks"))


class KindList(QListWidget):
    """Drag a kind into the stack, or double-click to insert it above the selection."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.setDragEnabled(True)
        self.setDragDropMode(QAbstractItemView.DragDropMode.DragOnly)
        self.setFlow(QListWidget.Flow.LeftToRight)
        self.setWrapping(True)
        self.setResizeMode(QListWidget.ResizeMode.Adjust)
        metrics = self.fontMetrics()
        self.setGridSize(QSize(max(metrics.horizontalAdvance(k) for k in KINDS) + 14, metrics.height() + 7))
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        for kind in KINDS:
            item = QListWidgetItem(kind)
            item.setData(Qt.ItemDataRole.UserRole, kind)
            item.setToolTip(f"{kind_of(kind).tip or kind}.\nDrag into the stack, or double-click to insert "
                            f"above the selected layer.")
            self.addItem(item)
        self.fit_rows(2)

    def fit_rows(self, columns: int) -> None:
        """As tall as the rows of kinds `columns` to a row need: none hidden, none scrolled to."""
        rows = math.ceil(self.count() / max(columns, 1))
        self.setFixedHeight(rows * self.gridSize().height() + 2 * self.frameWidth() + 4)

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self.fit_rows(self.viewport().width() // self.gridSize().width())

    def mimeTypes(self) -> list[str]:
        return [mime.KIND_MIME]

    def mimeData(self, items):
        return mime.kind_mime(items[0].data(Qt.ItemDataRole.UserRole)) if items else None


def scheme_options(name: str) -> str:
    params = inspect.signature(SCHEMES[name].fn).parameters
    return ", ".join(f"{n}={p.default!r}" for n, p in params.items() if n not in ("spec", "layers"))


class PalettePanel(QWidget):
    scheme_applied = Signal(str)

    def __init__(self, model: DesignModel, parent=None) -> None:
        super().__init__(parent)
        self.model = model
        self.ask_options: Callable[[str, str], str | None] = self._ask_options_dialog
        # one scrolling column: kinds, scope and every scheme family. Never wider than its view, so
        # Tab onto a button scrolls only up or down (sideways it would cut the titles' first letters)
        content = QWidget()
        outer = QVBoxLayout(content)
        outer.setContentsMargins(4, 4, 4, 4)
        kinds_box = QGroupBox("Layers")
        QVBoxLayout(kinds_box).addWidget(kinds := KindList())
        self.kinds = kinds
        outer.addWidget(kinds_box)
        scope_box = QGroupBox("Apply schemes to")
        scope_layout = QVBoxLayout(scope_box)
        self.scope_all = QRadioButton("the whole stack")
        self.scope_selected = QRadioButton("the selected layers")
        self.scope_all.setToolTip("Schemes act on every layer that offers the slot")
        self.scope_selected.setToolTip("Schemes act only on the layers selected in the stack (Ctrl/Shift-click)")
        self.scope_all.setChecked(True)
        group = QButtonGroup(self)
        for b in (self.scope_all, self.scope_selected):
            group.addButton(b)
            scope_layout.addWidget(b)
        outer.addWidget(scope_box)
        self.buttons: dict[str, QPushButton] = {}
        self.family_boxes: dict[str, QGroupBox] = {}
        for family, title in FAMILIES:
            box = QGroupBox(title)
            layout = QVBoxLayout(box)
            layout.setSpacing(1)
            layout.setContentsMargins(4, 4, 4, 4)
            for scheme in (s for s in SCHEMES.values() if s.family == family):
                button = QPushButton(scheme.title)
                button.setFlat(True)
                button.setStyleSheet(theme.style("scheme_button"))
                button.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
                kind = "adds groups only" if scheme.pure else "changes the architecture"
                button.setToolTip(f"{scheme.doc}\n({kind}; options: {scheme_options(scheme.name) or 'none'})\n"
                                  f"Click to apply with defaults; right-click to set options.")
                button.clicked.connect(lambda _=False, n=scheme.name: self.apply(n))
                button.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
                button.customContextMenuRequested.connect(lambda _p, n=scheme.name, b=button: self._menu(n, b))
                layout.addWidget(button)
                self.buttons[scheme.name] = button
            outer.addWidget(box)
            self.family_boxes[family] = box
        outer.addStretch(1)
        self.scroll = scroll = QScrollArea()
        scroll.setWidget(content)
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QScrollArea.Shape.NoFrame)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        scroll.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOn)
        scroll.setMinimumWidth(content.minimumSizeHint().width() + scroll.verticalScrollBar().sizeHint().width()
                               + 2 * scroll.frameWidth())
        panel = QVBoxLayout(self)
        panel.setContentsMargins(0, 0, 0, 0)
        panel.addWidget(scroll)
        kinds.itemDoubleClicked.connect(self.on_kinds_item_double_clicked)

    def on_kinds_item_double_clicked(self, item: QListWidgetItem) -> None:
        from explorer.design.edits import insert_layer

        kind = item.data(Qt.ItemDataRole.UserRole)
        spec = self.model.spec
        selected = [spec.layer_index(i) for i in self.model.selected_layers]
        index = max(selected) + 1 if selected else len(spec.layers)
        if self.model.edit(commands.SpecCommand, f"Insert {kind}", lambda s: insert_layer(s, index, kind)):
            self.model.select_layers((self.model.spec.layers[index].id,))

    def apply(self, name: str, **options) -> bool:
        """Apply scheme `name` to the scope chosen above (the selection, or the whole stack)."""
        scheme = SCHEMES[name]
        if self.scope_selected.isChecked() and name not in ("unshare",):
            if not self.model.selected_layers:
                self.model.message.emit("select layers in the stack first, or apply to the whole stack")
                return False
            options["layers"] = list(self.model.selected_layers)
        elif name == "unshare" and self.scope_selected.isChecked():
            options["layers"] = list(self.model.selected_layers)
        before = self.model.spec
        ok = self.model.edit(commands.SpecCommand, f"Apply {scheme.title}",
                             lambda s: apply_scheme(s, name, **options))
        if ok:       # what changed, in words: schemes stack, and may take members from groups there
            self.model.message.emit(self.model.outcome(f"{scheme.title}: {describe_change(before, self.model.spec)}"))
            self.scheme_applied.emit(name)
        return ok

    def _menu(self, name: str, button: QPushButton) -> None:
        menu = QMenu(self)
        action = menu.addAction(f"Apply {SCHEMES[name].title} with options…")
        if menu.exec(button.mapToGlobal(button.rect().bottomLeft())) is action:
            self.apply_with_options(name)

    def apply_with_options(self, name: str) -> bool:
        text = self.ask_options(name, scheme_options(name))
        if text is None:
            return False
        try:
            options = parse_options(text)
        except SpecError as err:
            self.model.message.emit(str(err))
            return False
        return self.apply(name, **options)

    def _ask_options_dialog(self, name: str, defaults: str) -> str | None:
        text, ok = QInputDialog.getText(self, SCHEMES[name].title, f"Options ({SCHEMES[name].doc}):",
                                        text=defaults)
        return text if ok else None
