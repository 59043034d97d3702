"""Undo and redo the design wherever the focus is in the window.

A QLineEdit (alone or inside a spin box) claims Ctrl+Z, Ctrl+Shift+Z and Ctrl+Y in its
ShortcutOverride, so the Edit menu's shortcuts never fire while a field has focus. An
application event filter takes those keys back for the design's QUndoStack, unless the
focused field holds typed text not yet applied to the design: then its own text undo runs.
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, QObject, Qt
from PySide6.QtWidgets import QAbstractSpinBox, QApplication, QLineEdit, QWidget

CTRL, SHIFT = Qt.KeyboardModifier.ControlModifier, Qt.KeyboardModifier.ShiftModifier
KEYS = {(Qt.Key.Key_Z, CTRL): "undo", (Qt.Key.Key_Z, CTRL | SHIFT): "redo", (Qt.Key.Key_Y, CTRL): "redo"}
MODIFIERS = CTRL | SHIFT | Qt.KeyboardModifier.AltModifier | Qt.KeyboardModifier.MetaModifier


def line_edit_of(widget: QWidget | None) -> QLineEdit | None:
    """The text field a widget types into: itself, or a spin box's editor."""
    if isinstance(widget, QLineEdit):
        return widget
    if isinstance(widget, QAbstractSpinBox):
        return widget.findChild(QLineEdit)
    return None


class UndoRouter(QObject):
    """Ctrl+Z / Ctrl+Shift+Z / Ctrl+Y from any widget of `window` go to `model.undo_stack`; the
    Edit menu's Undo and Redo go through it too, so each says on the status bar what it did."""

    def __init__(self, window, model, undo_action, redo_action) -> None:
        super().__init__(window)
        self.window, self.model = window, model
        self._applied: dict[int, str] = {}       # id(line edit) -> its text as the design last had it
        for action, slot in ((undo_action, self.undo), (redo_action, self.redo)):
            action.triggered.disconnect()         # QUndoStack's own connection: the stack, with no message
            action.triggered.connect(lambda _=False, slot=slot: slot())
        model.undo_stack.indexChanged.connect(self.on_undo_stack_index_changed)
        QApplication.instance().installEventFilter(self)
        window.destroyed.connect(self._uninstall)

    def _uninstall(self, *_args) -> None:
        app = QApplication.instance()
        if app is not None:
            app.removeEventFilter(self)

    # ------------------------------------------------------------------ undo and redo

    def undo(self) -> bool:
        return self._step("undo")

    def redo(self) -> bool:
        return self._step("redo")

    def _step(self, which: str) -> bool:
        stack = self.model.undo_stack
        can, text = (stack.canUndo(), stack.undoText()) if which == "undo" else (stack.canRedo(), stack.redoText())
        if not can:
            self.model.message.emit(f"nothing to {which}")
            return False
        stack.undo() if which == "undo" else stack.redo()
        self.model.message.emit(self.model.outcome(f"{'Undid' if which == 'undo' else 'Redid'}: {text}"))
        self._remember_focused()
        return True

    # ------------------------------------------------------------------ what a field has applied

    def _remember_focused(self) -> None:
        edit = line_edit_of(QApplication.focusWidget())
        if edit is not None:
            self._applied[id(edit)] = edit.text()

    def on_undo_stack_index_changed(self, _index: int) -> None:
        self._remember_focused()          # the focused field's text is now the design's

    def has_pending_text(self, edit: QLineEdit) -> bool:
        """Typed text the design does not have yet (a name before Enter, a number it refused)."""
        return edit.isUndoAvailable() and edit.text() != self._applied.get(id(edit), edit.text())

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        kind = event.type()
        if kind == QEvent.Type.FocusIn:
            edit = line_edit_of(watched) if isinstance(watched, QWidget) else None
            if edit is not None:
                self._applied[id(edit)] = edit.text()
            return False
        if kind not in (QEvent.Type.ShortcutOverride, QEvent.Type.KeyPress):
            return False
        which = KEYS.get((event.key(), event.modifiers() & MODIFIERS))
        if which is None or not isinstance(watched, QWidget) or watched.window() is not self.window:
            return False
        edit = line_edit_of(watched)
        if edit is None or watched is not QApplication.focusWidget():
            return False                  # no field in the way: the Edit menu's shortcut fires
        if self.has_pending_text(edit):
            return False                  # the field undoes its own typing
        if kind == QEvent.Type.ShortcutOverride:
            event.accept()                # the key comes to the field as a KeyPress, handled below
            return True
        self._step(which)
        return True
