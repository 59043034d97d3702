"""Right panel, top: sharing groups with swatch, members and parameters saved.

Drop a card, slot chip or head chip on a group to join it; on empty space to form a new
group. Select a group to highlight its members in the stack. Double-click to rename.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QPoint, Qt
from PySide6.QtGui import QBrush, QColor, QIcon, QPainter, QPalette, QPixmap
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

from explorer.errors import SpecError
from explorer import fmt
from explorer.gui import commands, edits, mime
from explorer.gui.colors import group_color
from explorer.gui.design_model import DesignModel


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
        self.setEditTriggers(QAbstractItemView.EditTrigger.DoubleClicked | QAbstractItemView.EditTrigger.EditKeyPressed)
        header = self.header()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(2, QHeaderView.ResizeMode.ResizeToContents)
        self._hover: QTreeWidgetItem | None = None

    def paintEvent(self, event) -> None:
        super().paintEvent(event)
        if self.topLevelItemCount() == 0:
            painter = QPainter(self.viewport())
            painter.setPen(self.palette().color(QPalette.ColorRole.PlaceholderText))
            painter.drawText(self.viewport().rect().adjusted(12, 12, -12, -12),
                             Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap,
                             "Nothing is shared yet.\nApply a scheme from the palette, or drop a layer, slot or "
                             "head chip here to start a group.")
            painter.end()

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

    def accept_drop(self, data, group: str | None) -> bool:
        """Join `group` (None: form a new group) with the members the drag carries."""
        change = self.change_for(data, group)
        if change is None:
            self.model.message.emit("only layers, slots and heads can join a group")
            return False
        members = mime.read_members(data)
        who = ", ".join(map(str, members))
        if group is None:
            ok = self.model.edit(commands.NewGroup, f"New group from {who}", change)
            if ok:
                self.model.select_group(self.model.spec.groups[-1].name)
            return ok
        return self.model.edit(commands.JoinGroup, f"{who} joins {group}", change)

    def _paint_hover(self, item: QTreeWidgetItem | None, valid: bool) -> None:
        if self._hover is not None:
            for c in range(3):
                self._hover.setBackground(c, QBrush())
        self._hover = item
        if item is not None:
            color = QColor("#1e8e3e" if valid else "#d93025")
            color.setAlpha(70)
            for c in range(3):
                item.setBackground(c, QBrush(color))

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
        try:
            reason = self.model.check(change(self.model.spec))
        except SpecError as err:
            reason = str(err)
        self._paint_hover(self.itemAt(pos), not reason)
        self.parent().set_hint(group, reason)
        event.acceptProposedAction()

    def dragLeaveEvent(self, event) -> None:
        self._paint_hover(None, True)
        self.parent().set_hint(None, None)

    def dropEvent(self, event) -> None:
        self._paint_hover(None, True)
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
        self.hint.setStyleSheet("color: palette(mid); font-size: 11px; padding: 2px;")
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

    def set_hint(self, group: str | None, reason: str | None) -> None:
        if reason is None:
            self.hint.setText("Drop on a group to join it · on empty space for a new group")
            self.hint.setStyleSheet("color: palette(mid); font-size: 11px; padding: 2px;")
            return
        where = f"join '{group}'" if group else "form a new group"
        text = f"Release to {where}" if not reason else f"Cannot {where}: {reason}"
        color = "#1e8e3e" if not reason else "#d93025"
        self.hint.setText(text)
        self.hint.setStyleSheet(f"color: {color}; font-size: 11px; padding: 2px; font-weight: bold;")

    def refresh(self) -> None:
        spec, report = self.model.spec, self.model.report
        saved = {g.name: g.saved for g in report.params.per_group} if report else {}
        self.tree.blockSignals(True)
        self.tree.clear()
        for gi, g in enumerate(spec.groups):
            item = QTreeWidgetItem([g.name, str(len(g.members)), fmt.count(saved[g.name]) if g.name in saved else "—"])
            item.setIcon(0, swatch(group_color(g, gi)))
            item.setData(0, Qt.ItemDataRole.UserRole, g.name)
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsEditable | Qt.ItemFlag.ItemIsDropEnabled)
            item.setToolTip(0, "Members: " + ", ".join(map(str, g.members)))
            item.setTextAlignment(1, Qt.AlignmentFlag.AlignRight)
            item.setTextAlignment(2, Qt.AlignmentFlag.AlignRight)
            self.tree.addTopLevelItem(item)
            if g.name == self.model.selected_group:
                item.setSelected(True)
        self.tree.blockSignals(False)
        has = self.model.selected_group is not None
        self.recolor_button.setEnabled(has)
        self.unshare_button.setEnabled(has)

    def on_model_selection_changed(self) -> None:
        self.refresh()

    def on_tree_selection_changed(self) -> None:
        items = self.tree.selectedItems()
        self.model.select_group(items[0].data(0, Qt.ItemDataRole.UserRole) if items else None)

    def on_tree_item_changed(self, item: QTreeWidgetItem, column: int) -> None:
        if column == 0:
            self.rename(item.data(0, Qt.ItemDataRole.UserRole), item.text(0))

    def rename(self, old: str, new: str) -> bool:
        ok = self.model.edit(commands.RenameGroup, f"Rename group {old} to {new}",
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
        color = color or self.pick_color(group_color(self.model.spec.groups[index], index))
        if color is None or not color.isValid():
            return False
        return self.model.edit(commands.RecolorGroup, f"Recolor group {name}",
                               lambda s: edits.recolor_group(s, name, color.name()))

    def unshare(self, name: str | None) -> bool:
        if name is None:
            return False
        return self.model.edit(commands.Unshare, f"Unshare group {name}", lambda s: edits.remove_group(s, name))

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
