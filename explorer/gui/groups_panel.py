"""Right panel, top: sharing groups with swatch, members and parameters saved.

Drop a card, slot chip or head chip on a group to join it; on empty space to form a new
group. Select a group to highlight its members in the stack. Double-click to rename.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QEvent, QPoint, QRect, QSignalBlocker, Qt, QTimer
from PySide6.QtGui import QColor, QIcon, QPainter, QPalette, QPen, QPixmap
from PySide6.QtWidgets import (
    QAbstractItemView,
    QColorDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QMenu,
    QPushButton,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from explorer.analysis.structure import structural_entries
from explorer.errors import SpecError
from explorer import fmt
from explorer.design import edits
from explorer.gui import commands, drop_words, mime, theme
from explorer.gui.design_model import DesignModel, one_line

STRUCTURAL_ROLE = Qt.ItemDataRole.UserRole + 1      # rows for GQA, cross-layer K/V, ...: not groups


def swatch(color: QColor) -> QIcon:
    pixmap = QPixmap(14, 14)
    pixmap.fill(color)
    return QIcon(pixmap)


class GroupTree(QTreeWidget):
    """The group list; drop handling lives here, as plain methods."""

    def __init__(self, model: DesignModel, parent=None) -> None:
        super().__init__(parent)
        self.model = model
        self.setColumnCount(3)
        self.setHeaderLabels(["Group", "Members", "Saved"])
        self.setRootIsDecorated(False)
        self.setAcceptDrops(True)
        self.setDropIndicatorShown(False)
        self.setDragDropMode(QAbstractItemView.DragDropMode.DropOnly)
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)   # the name only: see rename_current
        header = self.header()
        # names whole (a narrow panel scrolls sideways rather than cut "attention.q-group" short);
        # the figures' column takes what is left
        header.setStretchLastSection(True)
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(2, QHeaderView.ResizeMode.Stretch)
        self.setTextElideMode(Qt.TextElideMode.ElideNone)
        self._hover: tuple[str | None, bool] | None = None     # (group or None = new group, valid)

    def paintEvent(self, event) -> None:
        super().paintEvent(event)
        rect = self.hover_rect()
        if rect is not None:
            painter = QPainter(self.viewport())
            color = theme.color("drop_ok" if self._hover[1] else "drop_refused")
            painter.setPen(QPen(color, 2, Qt.PenStyle.SolidLine if self._hover[0] else Qt.PenStyle.DashLine))
            color.setAlpha(60)
            painter.setBrush(color)
            painter.drawRect(rect)
            painter.end()
        if self.topLevelItemCount() == 0:
            painter = QPainter(self.viewport())
            painter.setPen(self.palette().color(QPalette.ColorRole.PlaceholderText))
            painter.drawText(self.viewport().rect().adjusted(12, 12, -12, -12),
                             Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap,
                             "Nothing is shared yet.\nApply a scheme from the palette, or drop a layer, slot or "
                             "head chip here to start a group.")
            painter.end()

    def rename_current(self) -> None:
        """Edit the name in place (only the name: the other columns are figures)."""
        item = self.currentItem()
        if item is not None:
            self.editItem(item, 0)

    def mouseDoubleClickEvent(self, event) -> None:
        item = self.itemAt(event.position().toPoint())
        if item is not None and event.button() == Qt.MouseButton.LeftButton:
            self.setCurrentItem(item)
            self.editItem(item, 0)
            return
        super().mouseDoubleClickEvent(event)

    def keyPressEvent(self, event) -> None:
        if event.key() in (Qt.Key.Key_F2,) and self.state() != QAbstractItemView.State.EditingState:
            self.rename_current()
            return
        super().keyPressEvent(event)

    def target_at(self, pos: QPoint) -> str | None:
        """The group under a viewport point, or None for empty space (= new group)."""
        item = self.itemAt(pos)
        return None if item is None else item.data(0, Qt.ItemDataRole.UserRole)

    def item_point(self, name: str) -> QPoint:
        for i in range(self.topLevelItemCount()):
            item = self.topLevelItem(i)
            if item.data(0, Qt.ItemDataRole.UserRole) == name:
                return self.visualItemRect(item).center()
        raise KeyError(name)

    def empty_point(self) -> QPoint:
        return QPoint(10, self.viewport().height() - 4)

    def change_for(self, data, group: str | None):
        members = mime.read_members(data)
        if members is None:
            return None
        if group is None:
            return lambda s: edits.new_group(s, members)
        return lambda s: edits.join_group(s, group, members)

    def refusal(self, data, group: str | None) -> str:
        """Why dropping `data` on `group` (None: empty space) would be refused, in words ('' if it would not)."""
        spec, members = self.model.spec, mime.read_members(data)
        words = (drop_words.join_refusal(spec, members, group) if group is not None
                 else drop_words.new_group_refusal(spec, members))
        if words:
            return words
        try:
            reason = self.model.check(self.change_for(data, group)(spec))
        except SpecError as err:
            reason = one_line(err)
        return drop_words.reword(spec, reason)

    def accept_drop(self, data, group: str | None) -> bool:
        """Join `group` (None: form a new group) with the members the drag carries."""
        change = self.change_for(data, group)
        if change is None:
            self.model.message.emit("only layers, slots and heads can join a group")
            return False
        reason = self.refusal(data, group)
        if reason:
            self.model.message.emit(f"cannot {'join ' + group if group else 'form a new group'}: {reason}")
            return False
        members = mime.read_members(data)
        who = drop_words.names(members)
        if group is None:
            ok = self.model.edit(commands.SpecCommand, f"New group from {who}", change)
            if ok:
                self.model.select_group(self.model.spec.groups[-1].name)
            return ok
        return self.model.edit(commands.SpecCommand, f"{who} joins {group}", change)

    def _set_hover(self, group: str | None, valid: bool | None) -> None:
        """Remember the drop target and repaint; None for `valid` clears it.

        The highlight is painted over the viewport, not set on the items: an item's
        background change emits itemChanged (read as a rename, which rebuilds the tree
        under the running drag) and an item pointer dies with any refresh mid-drag.
        """
        hover = None if valid is None else (group, valid)
        if hover != self._hover:
            self._hover = hover
            self.viewport().update()

    def hover_rect(self) -> QRect | None:
        """Viewport rectangle the drop highlight covers: the group's row, or the empty space."""
        if self._hover is None:
            return None
        group = self._hover[0]
        if group is None:
            rect = self.viewport().rect()
            last = self.topLevelItem(self.topLevelItemCount() - 1) if self.topLevelItemCount() else None
            if last is not None:
                rect.setTop(self.visualItemRect(last).bottom() + 1)
            return rect.adjusted(2, 2, -2, -2)
        for i in range(self.topLevelItemCount()):
            item = self.topLevelItem(i)
            if item.data(0, Qt.ItemDataRole.UserRole) == group:
                rect = self.visualItemRect(item)
                return QRect(0, rect.top(), self.viewport().width(), rect.height())
        return None

    def dragEnterEvent(self, event) -> None:
        if mime.read_members(event.mimeData()) is not None:
            event.acceptProposedAction()
        else:
            event.ignore()

    def dragMoveEvent(self, event) -> None:
        pos = event.position().toPoint()
        group = self.target_at(pos)
        change = self.change_for(event.mimeData(), group)
        if change is None:
            event.ignore()
            return
        reason = self.refusal(event.mimeData(), group)
        self._set_hover(group, not reason)
        self.parent().set_hint(group, reason)
        event.acceptProposedAction()

    def dragLeaveEvent(self, event) -> None:
        self._set_hover(None, None)
        self.parent().set_hint(None, None)

    def dropEvent(self, event) -> None:
        self._set_hover(None, None)
        self.parent().set_hint(None, None)
        if self.accept_drop(event.mimeData(), self.target_at(event.position().toPoint())):
            event.acceptProposedAction()
        else:
            event.ignore()


class GroupsPanel(QWidget):
    def __init__(self, model: DesignModel, parent=None) -> None:
        super().__init__(parent)
        self.model = model
        self.pick_color: Callable[[QColor], QColor | None] = self._color_dialog
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.tree = GroupTree(model, self)
        self.tree.setToolTip("Sharing groups: all members hold one set of tensors.\nDrop a layer, slot or head "
                             "here to join a group, on empty space to form a new one.\nDouble-click a name to "
                             "rename; right-click for color and unshare.")
        layout.addWidget(self.tree, 1)
        self.hint = QLabel("Drop on a group to join it · on empty space for a new group")
        self.hint.setWordWrap(True)
        self.hint.setStyleSheet(theme.style("hint"))
        layout.addWidget(self.hint)
        buttons = QHBoxLayout()
        self.recolor_button = QPushButton("Color…")
        self.recolor_button.setToolTip("Choose the selected group's color")
        self.unshare_button = QPushButton("Unshare")
        self.unshare_button.setToolTip("Delete the selected group: its members get their own tensors again")
        for b in (self.recolor_button, self.unshare_button):
            buttons.addWidget(b)
        layout.addLayout(buttons)
        self.recolor_button.clicked.connect(lambda: self.recolor(self.model.selected_group))
        self.unshare_button.clicked.connect(lambda: self.unshare(self.model.selected_group))
        self.tree.itemSelectionChanged.connect(self.on_tree_selection_changed)
        self.tree.itemChanged.connect(self.on_tree_item_changed)
        self.tree.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.tree.customContextMenuRequested.connect(self.on_tree_context_menu)
        model.report_changed.connect(self.refresh)
        model.selection_changed.connect(self.on_model_selection_changed)
        self.refresh()

    def changeEvent(self, event) -> None:
        """Follow a light/dark switch: the hint's style sheet holds theme colors."""
        super().changeEvent(event)
        if event.type() == QEvent.Type.PaletteChange:
            self.set_hint(None, None)

    def set_hint(self, group: str | None, reason: str | None) -> None:
        if reason is None:
            self.hint.setText("Drop on a group to join it · on empty space for a new group")
            self.hint.setStyleSheet(theme.style("hint"))
            return
        where = f"join '{group}'" if group else "form a new group"
        text = f"Release to {where}" if not reason else f"Cannot {where}: {reason}"
        self.hint.setText(text)
        self.hint.setStyleSheet(theme.style("hint_refused" if reason else "hint_ok"))

    def refresh(self) -> None:
        spec, report = self.model.spec, self.model.report
        saved = {g.name: g.saved for g in report.params.per_group} if report else {}
        self.tree.blockSignals(True)
        self.tree.clear()
        for gi, g in enumerate(spec.groups):
            item = QTreeWidgetItem([g.name, str(len(g.members)), fmt.count(saved[g.name]) if g.name in saved else "—"])
            item.setIcon(0, swatch(theme.group_color(g, gi)))
            item.setData(0, Qt.ItemDataRole.UserRole, g.name)
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsEditable | Qt.ItemFlag.ItemIsDropEnabled)
            item.setToolTip(0, "Members: " + ", ".join(map(str, g.members)))
            item.setTextAlignment(1, Qt.AlignmentFlag.AlignRight)
            item.setTextAlignment(2, Qt.AlignmentFlag.AlignRight)
            self.tree.addTopLevelItem(item)
            if g.name == self.model.selected_group:
                item.setSelected(True)
        for entry in (structural_entries(spec, report.params.unique) if report else ()):
            item = QTreeWidgetItem([entry.name, fmt.plural(entry.layers, "layer"),
                                    fmt.count(entry.saved)])
            item.setData(0, STRUCTURAL_ROLE, entry.name)
            item.setFlags(Qt.ItemFlag.ItemIsEnabled)          # not a group: no selection, rename or drop
            font = item.font(0)
            font.setItalic(True)
            for column in range(3):
                item.setFont(column, font)
            item.setToolTip(0, f"Structural sharing, not a group: {entry.name} ({entry.detail}).\n"
                            f"Saving = parameters with it undone minus the design's: {entry.saved:,}.")
            item.setTextAlignment(1, Qt.AlignmentFlag.AlignRight)
            item.setTextAlignment(2, Qt.AlignmentFlag.AlignRight)
            self.tree.addTopLevelItem(item)
        self.tree.blockSignals(False)
        has = self.model.selected_group is not None
        self.recolor_button.setEnabled(has)
        self.unshare_button.setEnabled(has)

    def on_model_selection_changed(self) -> None:
        """Select the group's row in place: rebuilding the rows here would end an in-place
        rename that the same click started."""
        with QSignalBlocker(self.tree):
            for i in range(self.tree.topLevelItemCount()):
                item = self.tree.topLevelItem(i)
                item.setSelected(item.data(0, Qt.ItemDataRole.UserRole) == self.model.selected_group)
        has = self.model.selected_group is not None
        self.recolor_button.setEnabled(has)
        self.unshare_button.setEnabled(has)
        self.tree.viewport().update()

    def on_tree_selection_changed(self) -> None:
        items = self.tree.selectedItems()
        self.model.select_group(items[0].data(0, Qt.ItemDataRole.UserRole) if items else None)

    def on_tree_item_changed(self, item: QTreeWidgetItem, column: int) -> None:
        """A finished in-place edit of a name. Anything else that changes an item (a role
        that is not the text) is no rename; the rename's refresh is queued, never run while
        Qt may still hold the item."""
        old = item.data(0, Qt.ItemDataRole.UserRole)
        if column != 0 or item.text(0) == old:
            return
        new = item.text(0)
        QTimer.singleShot(0, self, lambda: self.rename(old, new))

    def rename(self, old: str, new: str) -> bool:
        ok = self.model.edit(commands.SpecCommand, f"Rename group {old} to {new}",
                             lambda s: edits.rename_group(s, old, new))
        if ok:
            self.model.select_group(new.strip())
        else:
            self.refresh()
        return ok

    def recolor(self, name: str | None, color: QColor | None = None) -> bool:
        if name is None:
            return False
        index = next(i for i, g in enumerate(self.model.spec.groups) if g.name == name)
        color = color or self.pick_color(theme.group_color(self.model.spec.groups[index], index))
        if color is None or not color.isValid():
            return False
        return self.model.edit(commands.SpecCommand, f"Recolor group {name}",
                               lambda s: edits.recolor_group(s, name, color.name()))

    def unshare(self, name: str | None) -> bool:
        if name is None:
            return False
        return self.model.edit(commands.SpecCommand, f"Unshare group {name}", lambda s: edits.remove_group(s, name))

    def on_tree_context_menu(self, pos: QPoint) -> None:
        name = self.tree.target_at(pos)
        if name is None:
            return
        menu = QMenu(self)
        rename = menu.addAction("Rename")
        recolor = menu.addAction("Color…")
        unshare = menu.addAction("Unshare")
        chosen = menu.exec(self.tree.viewport().mapToGlobal(pos))
        if chosen is rename:
            self.tree.editItem(self.tree.itemAt(pos), 0)
        elif chosen is recolor:
            self.recolor(name)
        elif chosen is unshare:
            self.unshare(name)

    def _color_dialog(self, initial: QColor) -> QColor | None:
        color = QColorDialog.getColor(initial, self, "Group color")
        return color if color.isValid() else None
