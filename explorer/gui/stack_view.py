"""The stack: one painted card per layer, first layer at the bottom, in a QGraphicsView.

Cards are reused across edits (a 96-layer stack is 96 light items, no widgets). Drags
carry the mime payloads of explorer.gui.mime; `target_at` and `accept_drop` are the plain
methods the drop events call, so tests drive the very same code path.
"""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import QPoint, QPointF, QRectF, Qt
from PySide6.QtGui import QDrag, QPainter, QPen, QPixmap, QTransform
from PySide6.QtWidgets import QApplication, QGraphicsLineItem, QGraphicsScene, QGraphicsView, QMenu

from explorer.errors import SpecError
from explorer.design import edits
from explorer.gui import commands, drop_words, mime, theme
from explorer.gui.card_layout import ATTENTION, CARD_GAP, CARD_HEIGHT, card_infos
from explorer.gui.design_model import DesignModel, one_line
from explorer.gui.layer_card import LayerCard
from explorer.gui.stack_keys import CardKeyboard
from explorer.design.model import BLOCK, Member, Slot

PITCH = CARD_HEIGHT + CARD_GAP
MARGIN = 10.0
ZOOM_STEP, MIN_ZOOM, MAX_ZOOM = 1.15, 0.04, 2.0      # 0.04: a 160-layer stack fits a 500 px view
MAX_CARD_WIDTH = 2400.0       # zoomed far out, cards stop widening (their chip pixmaps stay small)
MAX_DRAG_IMAGE_WIDTH = 360    # px: the image a drag carries
EDGE_STRIP = 10.0        # a card's top and bottom strips count as "between cards" for a card drop


@dataclass(frozen=True, slots=True)
class DropTarget:
    """Where a drop lands: a gap between cards (insert / reorder) or a slot to share with."""

    gap: int | None = None
    member: Member | None = None
    reason: str = ""          # why a drop here would be refused ('' = it is fine)


class StackView(CardKeyboard, QGraphicsView):
    def __init__(self, model: DesignModel, parent=None) -> None:
        super().__init__(parent)
        self.model = model
        self.setScene(QGraphicsScene(self))
        self.setAcceptDrops(True)
        self.setRenderHint(QPainter.RenderHint.Antialiasing)
        self.setAlignment(Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignBottom)
        self.setViewportUpdateMode(QGraphicsView.ViewportUpdateMode.MinimalViewportUpdate)
        self.setToolTip("The stack, first layer at the bottom. Click a card to select it (Ctrl/Shift for more);\n"
                        "drag a card by its name to reorder, drag a slot or head chip onto the same slot of\n"
                        "another layer to share it, or onto a group in the Groups panel to join that group.")
        self.cards: list[LayerCard] = []
        self.context_actions: list = []          # (text, QAction) set by the main window
        self.drag_class = QDrag                  # tests swap in a recorder (QDrag.exec blocks)
        self._insert_line = QGraphicsLineItem()
        self._insert_line.setPen(QPen(theme.color("insert_line"), 3))
        self._insert_line.setZValue(10)
        self._insert_line.hide()
        self.scene().addItem(self._insert_line)
        self.init_keyboard()
        self._press: tuple[QPointF, str, str | None] | None = None
        self._anchor: str | None = None
        self._hint_card: LayerCard | None = None
        self._check_cache: dict[tuple, str] = {}
        self._last_target: DropTarget | None = None
        model.changed.connect(self.refresh)
        model.selection_changed.connect(self.refresh)
        self.refresh()

    # ------------------------------------------------------------------ drawing

    def card_width(self) -> float:
        """Cards fill the view's width at any zoom (so a zoomed-out stack shows more of each card)."""
        return min(max(self.viewport().width() / self.zoom() - 2 * MARGIN - 4, 640.0), MAX_CARD_WIDTH)

    # ------------------------------------------------------------------ zoom

    def zoom(self) -> float:
        return self.transform().m11()

    def set_zoom(self, factor: float) -> None:
        """Scale the stack (MIN_ZOOM to MAX_ZOOM); cards re-lay out to the new width."""
        factor = max(MIN_ZOOM, min(MAX_ZOOM, factor))
        if abs(factor - self.zoom()) < 1e-6:
            return
        self.setTransform(QTransform.fromScale(factor, factor))
        self.refresh()

    def zoom_by(self, steps: float) -> None:
        self.set_zoom(self.zoom() * ZOOM_STEP ** steps)

    def fit_stack(self) -> None:
        """Zoom so the whole stack fits the view's height (never above 100%)."""
        n = max(len(self.cards), 1)
        self.set_zoom(min(1.0, (self.viewport().height() - 4) / (n * PITCH + 2 * MARGIN)))

    def wheelEvent(self, event) -> None:
        if event.modifiers() & Qt.KeyboardModifier.ControlModifier:
            self.zoom_by(event.angleDelta().y() / 120)
            event.accept()
            return
        super().wheelEvent(event)

    def refresh(self, force: bool = False) -> None:
        spec = self.model.spec
        self._check_cache.clear()
        if force:                               # a palette change: the theme's light or dark line
            self._insert_line.setPen(QPen(theme.color("insert_line"), 3))
        width = self.card_width()
        infos = card_infos(spec, self.model.plan, width, self.model.selected_group)
        while len(self.cards) < len(infos):
            card = LayerCard(width)
            self.scene().addItem(card)
            self.cards.append(card)
        while len(self.cards) > len(infos):
            self.scene().removeItem(self.cards.pop())
        n = len(infos)
        selected = set(self.model.selected_layers)
        for card, info in zip(self.cards, infos):
            is_selected = info.layer.id in selected
            if card.width != width:
                card.prepareGeometryChange()
                card.width = width
            elif not force and card.info == info and card.selected == is_selected and card.hint is None:
                continue                    # unchanged: keep its cached pixels
            card.info = info
            card.selected = is_selected
            card.hint = None
            card.setPos(MARGIN, MARGIN + (n - 1 - info.index) * PITCH)
            card.update()
        self.scene().setSceneRect(QRectF(0, 0, width + 2 * MARGIN, max(n, 1) * PITCH + 2 * MARGIN))
        self._place_current_frame()

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        if self.cards and abs(self.cards[0].width - self.card_width()) > 1:
            self.refresh()

    # ------------------------------------------------------------------ geometry

    def card_at(self, scene_pos: QPointF) -> LayerCard | None:
        for card in self.cards:
            if card.sceneBoundingRect().contains(scene_pos):
                return card
        return None

    def gap_at(self, scene_pos: QPointF) -> int:
        """Insertion gap under a point: 0 = below the first layer, n = above the last."""
        n = len(self.cards)
        row = (scene_pos.y() - MARGIN) / PITCH          # 0 = top card (index n-1)
        index_below_point = n - 1 - int(row) if row >= 0 else n - 1
        frac = row - int(row) if row >= 0 else 0.0
        gap = index_below_point + (1 if frac < 0.5 else 0)
        return max(0, min(gap, n))

    def gap_point(self, gap: int) -> QPointF:
        """Scene point that `gap_at` maps to `gap` (for tests and keyboard inserts)."""
        n = len(self.cards)
        return QPointF(MARGIN + 40, MARGIN + (n - gap) * PITCH - CARD_GAP / 2 - 1)

    def chip_point(self, layer_id: str, slot: Slot | str) -> QPointF:
        """Scene centre of a chip (or of the card, for 'block')."""
        slot = Slot.parse(slot)
        card = self.cards[self.model.spec.layer_index(layer_id)]
        for chip in card.info.chips:
            if chip.slot == slot:
                # the centre, unless a smaller chip sits there (heads on 'attention'): then its label strip
                for point in (chip.rect.center(), QPointF(chip.rect.center().x(), chip.rect.top() + 8)):
                    hit = card.chip_at(point)
                    if hit is not None and hit.slot == slot:
                        return card.mapToScene(point)
                return card.mapToScene(chip.rect.center())
        return card.mapToScene(QPointF(card.width / 2, CARD_HEIGHT / 2))

    # ------------------------------------------------------------------ drops

    @staticmethod
    def _slot_change(sources: list[Member], target: Member):
        return lambda spec: edits.share_with(spec, sources, target)

    def target_at(self, scene_pos: QPointF, data, modifiers=Qt.KeyboardModifier.NoModifier) -> DropTarget | None:
        """What dropping `data` at `scene_pos` would do, with the reason it would be refused.

        A kind inserts at the gap. Cards: dropped on another card's body they share its block;
        between cards (the gap, or a card's top or bottom edge strip), or with Shift, they move.
        A slot or head shares with the same slot of the card under the cursor; a head dropped
        on a head chip targets that head (as many heads as were dragged, from there)."""
        if mime.read_kind(data) is not None:
            return DropTarget(gap=self.gap_at(scene_pos))
        card = self.card_at(scene_pos)
        layer_ids = mime.read_layers(data)
        if layer_ids is not None:
            if (card is None or modifiers & Qt.KeyboardModifier.ShiftModifier
                    or not self.in_card_body(card, scene_pos) or card.info.layer.id in layer_ids):
                return DropTarget(gap=self.gap_at(scene_pos))
            return self._share_target([Member(i) for i in layer_ids], Member(card.info.layer.id))
        sources = mime.read_slots(data)
        if not sources or card is None:
            return None
        slot = sources[0].slot
        chip = card.chip_at(card.mapFromScene(scene_pos))
        if chip is not None and chip.is_head and slot.is_range and slot.name == chip.slot.name:
            slot = slot.starting_at(chip.slot.lo)
        return self._share_target(sources, Member(card.info.layer.id, slot))

    def in_card_body(self, card: LayerCard, scene_pos: QPointF) -> bool:
        """Whether a point is on the card away from its top and bottom edge strips (which,
        with the gaps, mean "between cards")."""
        y = card.mapFromScene(scene_pos).y()
        return EDGE_STRIP <= y <= CARD_HEIGHT - EDGE_STRIP

    def _share_target(self, sources: list[Member], target: Member) -> DropTarget | None:
        sources = [s for s in sources if s.layer != target.layer]
        if not sources:
            return None
        key = (tuple(sources), target)
        if key not in self._check_cache:
            spec = self.model.spec
            reason = drop_words.share_refusal(spec, sources, target)       # a different kind, in words
            if not reason:
                try:
                    reason = self.model.check(self._slot_change(sources, target)(spec))
                except SpecError as err:
                    reason = one_line(err)
            self._check_cache[key] = drop_words.reword(spec, reason)
        return DropTarget(member=target, reason=self._check_cache[key])

    def accept_drop(self, data, target: DropTarget | None) -> bool:
        """Perform a drop; an impossible one says why on the status bar and changes nothing."""
        if target is None:
            return False
        kind = mime.read_kind(data)
        if kind is not None and target.gap is not None:
            ok = self.model.edit(commands.SpecCommand, f"Insert {kind}",
                                 lambda s: edits.insert_layer(s, target.gap, kind))
            if ok:
                self.model.select_layers((self.model.spec.layers[min(target.gap, len(self.model.spec.layers) - 1)].id,))
            return ok
        layer_ids = mime.read_layers(data)
        if layer_ids is not None and target.gap is not None:
            return self.model.edit(commands.SpecCommand, f"Move {', '.join(layer_ids)}",
                                   lambda s: edits.move_layers(s, layer_ids, target.gap))
        sources = mime.read_slots(data)
        if layer_ids is not None:
            sources = [Member(i) for i in layer_ids]
        if sources and target.member is not None:
            if target.reason:
                self.model.message.emit(f"cannot share {drop_words.names(sources)} with "
                                        f"{drop_words.name(target.member)}: {target.reason}")
                return False
            sources = [s for s in sources if s.layer != target.member.layer]
            what = f"{drop_words.names(sources)} with {drop_words.name(target.member)}"
            return self.model.edit(commands.SpecCommand, f"Share {what}", self._slot_change(sources, target.member))
        return False

    def _show_hint(self, target: DropTarget | None) -> None:
        if self._hint_card is not None:
            self._hint_card.hint = None
            self._hint_card.update()
            self._hint_card = None
        self._insert_line.hide()
        if target is None:
            return
        if target.gap is not None:
            y = MARGIN + (len(self.cards) - target.gap) * PITCH - CARD_GAP / 2
            self._insert_line.setLine(MARGIN, y, MARGIN + self.card_width(), y)
            self._insert_line.show()
        elif target.member is not None:
            card = self.cards[self.model.spec.layer_index(target.member.layer)]
            slot = target.member.slot
            shown = slot == BLOCK or slot.is_range or any(c.slot == slot for c in card.info.chips)
            card.hint = (slot if shown else ATTENTION, not target.reason)
            card.hint_reason = target.reason
            card.update()
            self._hint_card = card

    def dragEnterEvent(self, event) -> None:
        data = event.mimeData()
        if any(data.hasFormat(f) for f in (mime.KIND_MIME, mime.LAYER_MIME, mime.SLOT_MIME)):
            event.acceptProposedAction()
        else:
            event.ignore()

    def dragMoveEvent(self, event) -> None:
        target = self.target_at(self.mapToScene(event.position().toPoint()), event.mimeData(), event.modifiers())
        self._show_hint(target)
        if target is None:
            event.ignore()
            return
        if target != self._last_target:            # say once per target what a release would do
            self._last_target = target
            self.model.preview.emit(self.describe_drop(event.mimeData(), target))
        event.acceptProposedAction()

    def describe_drop(self, data, target: DropTarget) -> str:
        """What a release would do, and how to get the other intent."""
        layers = mime.read_layers(data)
        if target.reason:
            return f"cannot share here: {target.reason}"
        if target.member is not None:
            sources = ", ".join(layers or ()) or ", ".join(str(m) for m in mime.read_slots(data) or ())
            other = " · drop between cards, or hold Shift, to move instead" if layers else ""
            return f"release to share {sources} with {drop_words.name(target.member)}{other}"
        if layers is not None:
            return (f"release to move {', '.join(layers)} to position {target.gap} · "
                    "drop on a card's middle to share its block instead")
        return f"release to insert {mime.read_kind(data)} at position {target.gap}"

    def dragLeaveEvent(self, event) -> None:
        # not QGraphicsView's: its drag enter never ran (the scene takes no drops), so it would
        # warn "drag leave received before drag enter"
        self._show_hint(None)
        if self._last_target is not None:
            self.model.preview.emit("")          # the "release to ..." line is stale once the drag leaves
        self._last_target = None
        event.accept()

    def dropEvent(self, event) -> None:
        target = self.target_at(self.mapToScene(event.position().toPoint()), event.mimeData(), event.modifiers())
        self._show_hint(None)
        self._last_target = None
        if self.accept_drop(event.mimeData(), target):
            event.acceptProposedAction()
        else:
            event.ignore()

    # ------------------------------------------------------------------ clicks and drags out

    def mousePressEvent(self, event) -> None:
        if event.button() != Qt.MouseButton.LeftButton:
            return super().mousePressEvent(event)
        pos = self.mapToScene(event.position().toPoint())
        card = self.card_at(pos)
        if card is None:
            self.model.select_layers(())
            self._press = None
            return
        chip = card.chip_at(card.mapFromScene(pos))
        layer_id = card.info.layer.id
        self.set_current(layer_id, scroll=False)         # it is under the mouse: no scrolling mid-press
        self._press = (event.position(), layer_id, chip.slot if chip else None)
        selected = list(self.model.selected_layers)
        mods = event.modifiers()
        if mods & Qt.KeyboardModifier.ControlModifier:
            selected = [i for i in selected if i != layer_id] if layer_id in selected else selected + [layer_id]
        elif mods & Qt.KeyboardModifier.ShiftModifier and self._anchor in {c.info.layer.id for c in self.cards}:
            a, b = sorted((self.model.spec.layer_index(self._anchor), card.info.index))
            selected = [layer.id for layer in self.model.spec.layers[a:b + 1]]
        elif layer_id not in selected:
            selected = [layer_id]
        if not mods & Qt.KeyboardModifier.ShiftModifier:
            self._anchor = layer_id
        self.model.select_layers(tuple(selected))
        style = card.info.styles.get(chip.slot) if chip else None
        if style is not None and style.group:          # clicking a shared chip shows its group
            self.model.select_group(style.group)

    def contextMenuEvent(self, event) -> None:
        if event.reason() == event.Reason.Keyboard:
            self.open_menu_for_selection()
            return
        menu = self.context_menu(self.mapToScene(event.pos()))
        if menu is not None:
            menu.exec(event.globalPos())

    def open_menu_for_selection(self) -> None:
        """The menu key (or Shift+F10): the current card's menu when it is selected, else the
        first selected card's, at that card."""
        selected = [c for c in self.cards if c.info.layer.id in self.model.selected_layers]
        if not selected:
            self.model.message.emit("select a layer first (arrows or Space, a click, or Ctrl+A for all)")
            return
        card = next((c for c in selected if c.info.layer.id == self.current), selected[0])
        self.ensureVisible(card.sceneBoundingRect())
        scene_pos = card.mapToScene(QPointF(60, CARD_HEIGHT / 2))
        menu = self.context_menu(scene_pos)
        if menu is not None:
            menu.exec(self.viewport().mapToGlobal(self.mapFromScene(scene_pos)))

    def context_menu(self, scene_pos: QPointF) -> QMenu | None:
        """Every drag's keyboard and menu equivalent, for the card or chip at `scene_pos`:
        share the slot with another layer, add it to a group, form a group from the selection,
        unshare it; then the window's layer actions (duplicate, delete, ...)."""
        card = self.card_at(scene_pos)
        if card is None:
            return None
        layer_id = card.info.layer.id
        if layer_id not in self.model.selected_layers:
            self.model.select_layers((layer_id,))
        chip = card.chip_at(card.mapFromScene(scene_pos))
        slot = chip.slot if chip is not None else BLOCK
        sources = mime.read_slots(self.drag_payload(layer_id, slot)) or [Member(layer_id, slot)]
        spec = self.model.spec
        menu = QMenu(self)
        menu.setToolTipsVisible(True)
        menu.addSection(f"{layer_id}:{slot}" + (f" and {len(sources) - 1} more" if len(sources) > 1 else ""))
        share = menu.addMenu(f"Share {slot} with")
        for other in self.cards:
            target = Member(other.info.layer.id, slot)
            if target.layer in {s.layer for s in sources} or not self._offers(other, slot):
                continue
            action = share.addAction(target.layer, lambda t=target: self.model.edit(
                commands.SpecCommand, f"Share {', '.join(map(str, sources))} with {t}", self._slot_change(sources, t)))
            # refusals shown up front on stacks small enough to check every target at once;
            # on a 96-layer stack a refused choice says why when it is picked
            reason = self._share_target(sources, target) if len(self.cards) <= 32 else None
            if reason is not None and reason.reason:
                action.setEnabled(False)
                action.setToolTip(reason.reason)
        share.setEnabled(bool(share.actions()))
        add = menu.addMenu("Add to group")
        for g in spec.groups:
            if all(m in g.members for m in sources):
                continue
            add.addAction(g.name, lambda name=g.name: self.model.edit(
                commands.SpecCommand, f"{', '.join(map(str, sources))} joins {name}",
                lambda s: edits.join_group(s, name, sources)))
        add.setEnabled(bool(add.actions()))
        form = menu.addAction(f"New group from the {len(sources)} selected", lambda: self.model.edit(
            commands.SpecCommand, f"New group from {', '.join(map(str, sources))}",
            lambda s: edits.new_group(s, sources)))
        form.setEnabled(len(sources) >= 2)
        grouped = [s for s in sources if edits.group_of_member(spec, s) is not None]
        unshare = menu.addAction(f"Unshare {slot}", lambda: self.model.edit(
            commands.SpecCommand, f"Unshare {', '.join(map(str, grouped))}", lambda s: edits.leave_group(s, grouped)))
        unshare.setEnabled(bool(grouped))
        menu.addSeparator()
        for _text, action in self.context_actions:
            if action is None:
                menu.addSeparator()
            else:
                menu.addAction(action)
        return menu

    def _offers(self, card: LayerCard, slot: Slot) -> bool:
        """Whether a card has `slot` to share: a chip of it, its whole block (same kind), or heads."""
        if slot == BLOCK:
            return card.info.layer.kind == self.model.spec.layer(self.model.selected_layers[0]).kind \
                if self.model.selected_layers else True
        if slot.is_range:
            return any(c.is_head and c.slot.name == slot.name for c in card.info.chips)
        return any(c.slot == slot for c in card.info.chips)

    def mouseReleaseEvent(self, event) -> None:
        if self._press is not None and not event.modifiers():
            self.model.select_layers((self._press[1],))
        self._press = None
        super().mouseReleaseEvent(event)

    def mouseMoveEvent(self, event) -> None:
        if self._press is None or not event.buttons() & Qt.MouseButton.LeftButton:
            return super().mouseMoveEvent(event)
        start, layer_id, slot = self._press
        if (event.position() - start).manhattanLength() < QApplication.startDragDistance():
            return
        self._press = None
        self.start_drag(layer_id, slot)

    def drag_payload(self, layer_id: str, slot: Slot | str | None):
        """The mime data a drag from this card (or chip) carries: its layers, or its slot of them."""
        selection = [i for i in self.model.selected_layers if i != layer_id]
        selection = [layer_id] + (selection if layer_id in self.model.selected_layers else [])
        if slot is None:
            ordered = [layer.id for layer in self.model.spec.layers if layer.id in set(selection)]
            return mime.layers_mime(ordered)
        return mime.slot_mime([Member(lid, slot) for lid in selection])

    def drag_hot_spot(self, pixmap: QPixmap) -> QPoint:
        """Where the cursor holds the drag image: below its middle, a card's height away, so the
        image floats above the card under the cursor and never covers a drop's "✕ refused" or
        "share here", the Groups panel's hint or the status bar, which are all at or below it."""
        size = pixmap.deviceIndependentSize()
        return QPoint(round(size.width() / 2), round(size.height() + CARD_HEIGHT * self.zoom() + 8))

    def start_drag(self, layer_id: str, slot: Slot | str | None) -> None:
        slot = None if slot is None else Slot.parse(slot)
        drag = self.drag_class(self)
        drag.setMimeData(self.drag_payload(layer_id, slot))
        card = self.cards[self.model.spec.layer_index(layer_id)]
        rect = card.sceneBoundingRect()
        if slot is not None:
            chip = next((c for c in card.info.chips if c.slot == slot), None)
            if chip is not None:
                rect = card.mapRectToScene(chip.rect.adjusted(-2, -2, 2, 2))
        pixmap = QPixmap(rect.size().toSize())
        pixmap.fill(Qt.GlobalColor.transparent)
        painter = QPainter(pixmap)
        self.scene().render(painter, QRectF(pixmap.rect()), rect)
        painter.end()
        if pixmap.width() > MAX_DRAG_IMAGE_WIDTH:           # a whole card: a smaller image covers less
            pixmap = pixmap.scaledToWidth(MAX_DRAG_IMAGE_WIDTH, Qt.TransformationMode.SmoothTransformation)
        drag.setPixmap(pixmap)
        drag.setHotSpot(self.drag_hot_spot(pixmap))
        drag.exec(Qt.DropAction.MoveAction | Qt.DropAction.CopyAction | Qt.DropAction.LinkAction)
