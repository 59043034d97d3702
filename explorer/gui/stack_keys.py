"""The stack by keyboard: a current card that the arrows move (a dashed frame while the stack has
the focus), Shift+arrows to extend the selection, Space to select, the menu key for the card's menu.

A mixin of StackView (stack_view.py), which has the cards, the model and the menu."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QPen
from PySide6.QtWidgets import QGraphicsRectItem

from explorer.gui import theme
from explorer.gui.card_layout import CARD_GAP, CARD_HEIGHT

PITCH = CARD_HEIGHT + CARD_GAP


class CardKeyboard:
    """Keyboard handling for StackView: needs its `cards`, `model`, `_anchor`, `zoom()` and
    `open_menu_for_selection()`."""

    def init_keyboard(self) -> None:
        self.current: str | None = None         # the keyboard's card: arrows move it (see keyPressEvent)
        self._current_frame = QGraphicsRectItem()
        self._current_frame.setPen(QPen(theme.color("selection"), 1.5, Qt.PenStyle.DashLine))
        self._current_frame.setZValue(9)
        self._current_frame.hide()
        self.scene().addItem(self._current_frame)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)

    def _card_of(self, layer_id: str | None):
        return next((c for c in self.cards if c.info is not None and c.info.layer.id == layer_id), None)

    def _place_current_frame(self) -> None:
        """A dashed frame around the keyboard's card while the stack has the focus."""
        card = self._card_of(self.current)
        if card is None or not self.hasFocus():
            self._current_frame.hide()
            return
        self._current_frame.setRect(card.sceneBoundingRect().adjusted(-2, -2, 2, 2))
        self._current_frame.show()

    def set_current(self, layer_id: str | None, scroll: bool = True) -> None:
        """Make `layer_id` the keyboard's card and (with `scroll`) bring it into view."""
        self.current = layer_id
        card = self._card_of(layer_id)
        if card is not None and scroll:
            self.ensureVisible(card.sceneBoundingRect(), 4, 8)
        self._place_current_frame()

    def focusInEvent(self, event) -> None:
        super().focusInEvent(event)
        ids = [layer.id for layer in self.model.spec.layers]
        if self.current not in ids and ids:           # the first selected card, else the bottom one
            self.current = next((i for i in ids if i in self.model.selected_layers), ids[0])
        # a click gives the focus too: the view never scrolls under the mouse
        self.set_current(self.current, scroll=event.reason() != Qt.FocusReason.MouseFocusReason)

    def focusOutEvent(self, event) -> None:
        super().focusOutEvent(event)
        self._current_frame.hide()

    def move_current(self, steps: int, modifiers) -> None:
        """Move the keyboard's card `steps` layers up (negative: down). Alone it selects that card;
        with Shift the selection runs from the anchor to it; with Ctrl the selection stays."""
        ids = [layer.id for layer in self.model.spec.layers]
        if not ids:
            return
        start = ids.index(self.current) if self.current in ids else 0
        new = ids[max(0, min(len(ids) - 1, start + steps))]
        if modifiers & Qt.KeyboardModifier.ShiftModifier:
            anchor = self._anchor if self._anchor in ids else ids[start]
            self._anchor = anchor
            a, b = sorted((ids.index(anchor), ids.index(new)))
            self.model.select_layers(tuple(ids[a:b + 1]))
        elif not modifiers & Qt.KeyboardModifier.ControlModifier:
            self._anchor = new
            self.model.select_layers((new,))
        self.set_current(new)

    def keyPressEvent(self, event) -> None:
        """Arrows (Home, End, Page Up/Down) move the keyboard's card, Shift+arrows extend the
        selection, Ctrl+arrows move without selecting; Space selects the card (Ctrl+Space toggles
        it); Esc clears the selection; the menu key or Shift+F10 opens the card's menu."""
        key, mods = event.key(), event.modifiers()
        if key == Qt.Key.Key_Menu or (key == Qt.Key.Key_F10 and mods & Qt.KeyboardModifier.ShiftModifier):
            self.open_menu_for_selection()
            return
        page = max(1, int(self.viewport().height() / (PITCH * self.zoom())) - 1)
        steps = {Qt.Key.Key_Up: 1, Qt.Key.Key_Down: -1, Qt.Key.Key_PageUp: page, Qt.Key.Key_PageDown: -page,
                 Qt.Key.Key_Home: -len(self.cards), Qt.Key.Key_End: len(self.cards)}.get(key)
        if steps is not None:                  # the first layer is at the bottom: Up goes to the next one
            self.move_current(steps, mods)
            return
        if key == Qt.Key.Key_Space and self.current is not None:
            selected = list(self.model.selected_layers)
            if self.current not in selected:
                selected.append(self.current)
            elif mods & Qt.KeyboardModifier.ControlModifier:
                selected.remove(self.current)
            self._anchor = self.current
            self.model.select_layers(tuple(layer.id for layer in self.model.spec.layers if layer.id in selected))
            return
        if key == Qt.Key.Key_Escape and self.model.selected_layers:
            self.model.select_layers(())
            return
        super().keyPressEvent(event)
