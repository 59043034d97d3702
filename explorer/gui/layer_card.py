"""One layer of the stack as a painted card: kind, key dims, slot chips colored by group.

A card is a light QGraphicsItem that paints itself from a plain CardInfo (card_layout.py);
the chips area is rendered once per distinct look and reused by every card that looks
alike (an ALBERT stack of 48 layers renders its chips once).
"""

from __future__ import annotations

from collections import OrderedDict

from PySide6.QtCore import QPointF, QRectF, QSizeF, Qt
from PySide6.QtGui import QColor, QFont, QPainter, QPen, QPixmap
from PySide6.QtWidgets import QGraphicsItem

from explorer.gui.card_layout import (ATTENTION, BADGE_WIDTH, BOX_SLOTS, CARD_HEIGHT, HEADER_WIDTH, LABEL_STRIP,
                                      CardInfo, Chip, ChipStyle)
from explorer.design.model import BLOCK, Slot
from explorer.gui import theme

MAX_CHIP_PIXMAPS = 256
_CHIP_PIXMAPS: OrderedDict[tuple, QPixmap] = OrderedDict()


def clear_pixmap_cache() -> None:
    _CHIP_PIXMAPS.clear()


class LayerCard(QGraphicsItem):
    """Paints one CardInfo; the StackView does all event handling."""

    def __init__(self, width: float) -> None:
        super().__init__()
        self.width = width
        self.info: CardInfo | None = None
        self.selected = False
        self.hint: tuple[Slot, bool] | None = None     # (slot, valid) under a drag
        self.hint_reason = ""
        self.setCacheMode(QGraphicsItem.CacheMode.DeviceCoordinateCache)

    def boundingRect(self) -> QRectF:
        return QRectF(-2, -2, self.width + 4, CARD_HEIGHT + 4)

    def chip_at(self, pos: QPointF) -> Chip | None:
        if self.info is None:
            return None
        for chip in sorted(self.info.chips, key=lambda c: not (c.is_head or c.slot.name.startswith("attention."))):
            if chip.rect.contains(pos):
                return chip
        return None

    def paint(self, painter: QPainter, _option, _widget=None) -> None:
        info = self.info
        if info is None:
            return
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        block = info.block_style
        border = block.fill if block.group else theme.color("card_border")
        if self.hint is not None and self.hint[0] == BLOCK:      # a card dropped here shares the block
            painter.setPen(QPen(theme.color("drop_ok" if self.hint[1] else "drop_refused"), 3.5))
        elif self.selected:
            painter.setPen(QPen(theme.color("selection"), 3.0))
        elif BLOCK in info.highlighted:
            painter.setPen(QPen(theme.color("group_highlight"), 2.4))
        else:
            painter.setPen(QPen(border, 1.6))
        painter.setBrush(theme.color("card_fill"))
        painter.drawRoundedRect(QRectF(0, 0, self.width, CARD_HEIGHT), 6, 6)
        if block.group:                                # stripe: the whole block is shared
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(block.fill)
            painter.drawRoundedRect(QRectF(1, 1, 7, CARD_HEIGHT - 2), 3, 3)
        font = QFont(painter.font())
        font.setPointSizeF(9.5)
        font.setBold(True)
        painter.setFont(font)
        painter.setPen(theme.color("text"))
        painter.drawText(QRectF(14, 7, HEADER_WIDTH - 18, 18), Qt.AlignmentFlag.AlignLeft,
                         f"{info.index:>2}  {info.layer.id}")
        font.setBold(False)
        font.setPointSizeF(8.5)
        painter.setFont(font)
        painter.setPen(theme.color("text_faint"))
        painter.drawText(QRectF(14, 27, HEADER_WIDTH - 18, 16), Qt.AlignmentFlag.AlignLeft,
                         painter.fontMetrics().elidedText(info.kind_line, Qt.TextElideMode.ElideRight,
                                                          int(HEADER_WIDTH - 20)))
        painter.drawText(QRectF(14, 45, HEADER_WIDTH - 18, 16), Qt.AlignmentFlag.AlignLeft,
                         painter.fontMetrics().elidedText(info.summary, Qt.TextElideMode.ElideRight,
                                                          int(HEADER_WIDTH - 20)))
        painter.drawPixmap(QPointF(HEADER_WIDTH - 2, 0), self._chips_pixmap(painter, font))
        if info.block_uses > 1:                        # the marker: one block, run N times
            badge = QRectF(self.width - BADGE_WIDTH + 6, CARD_HEIGHT - 26, BADGE_WIDTH - 12, 20)
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(block.fill)
            painter.drawRoundedRect(badge, 9, 9)
            font.setBold(True)
            font.setPointSizeF(9)
            painter.setFont(font)
            painter.setPen(theme.text_on(block.fill))
            painter.drawText(badge, Qt.AlignmentFlag.AlignCenter, f"×{info.block_uses}")

    def _chips_pixmap(self, painter: QPainter, font: QFont) -> QPixmap:
        """The chips area, rendered once per distinct look (ALBERT: 48 cards, one render)."""
        dpr = painter.device().devicePixelRatioF() if painter.device() else 1.0
        key = (self.info.look(), self.hint, self.hint_reason, theme.is_dark(), dpr, self.width)
        pixmap = _CHIP_PIXMAPS.get(key)
        if pixmap is not None:
            _CHIP_PIXMAPS.move_to_end(key)
            return pixmap
        size = QSizeF(self.width - HEADER_WIDTH + 2, CARD_HEIGHT)
        pixmap = QPixmap((size * dpr).toSize())
        pixmap.setDevicePixelRatio(dpr)
        pixmap.fill(Qt.GlobalColor.transparent)
        chip_painter = QPainter(pixmap)
        chip_painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        chip_painter.translate(-(HEADER_WIDTH - 2), 0)
        for chip in self.info.chips:
            self._paint_chip(chip_painter, chip, QFont(font))
        chip_painter.end()
        _CHIP_PIXMAPS[key] = pixmap
        if len(_CHIP_PIXMAPS) > MAX_CHIP_PIXMAPS:
            _CHIP_PIXMAPS.popitem(last=False)
        return pixmap

    def _hinted(self, chip: Chip) -> bool:
        """Whether the drop hint covers this chip: its slot, or a head inside a hinted head range."""
        if self.hint is None:
            return False
        slot = self.hint[0]
        if slot == chip.slot:
            return True
        return chip.is_head and slot.covers(chip.slot)

    def _paint_chip(self, painter: QPainter, chip: Chip, font: QFont) -> None:
        info = self.info
        style = info.styles.get(chip.slot) or ChipStyle(theme.color("own_fill"))
        fill = QColor(style.fill)
        if style.group and not style.direct and chip.slot not in BOX_SLOTS:
            fill = fill.lighter(112)
        pen = QPen(fill.darker(135), 1.0)
        if chip.slot in info.highlighted:
            pen = QPen(theme.color("group_highlight"), 2.4)
        hinted = self._hinted(chip)
        if hinted:
            pen = QPen(theme.color("drop_ok" if self.hint[1] else "drop_refused"), 3.5)
        painter.setPen(pen)
        painter.setBrush(fill)
        radius = 2.0 if chip.is_head else 4.0
        painter.drawRoundedRect(chip.rect, radius, radius)
        if hinted:                      # a drop target under the cursor: green = fine, red = refused
            veil = theme.color("drop_ok_veil" if self.hint[1] else "drop_refused_veil")
            veil.setAlpha(110)
            painter.fillRect(chip.rect.adjusted(2, 2, -2, -2), veil)
            if chip.is_head or chip.rect.width() < 70:
                return
            painter.setPen(theme.color("drop_label"))
            font.setBold(True)
            painter.setFont(font)
            refusal = "✕ shapes differ" if "shape" in self.hint_reason else "✕ refused"
            rect, align = chip.rect, Qt.AlignmentFlag.AlignCenter
            if chip.slot in BOX_SLOTS:          # the head chips cover the middle: use the label row
                rect = _label_row(chip)
                align = Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter
            painter.drawText(rect, align, "share here" if self.hint[1] else refusal)
            return
        if chip.is_head and chip.rect.width() < 12:
            return
        font.setBold(style.direct)
        font.setPointSizeF(7.5 if chip.is_head or len(chip.label) <= 1 else 8.5)
        painter.setFont(font)
        painter.setPen(theme.text_on(fill))
        label = chip.label + info.notes.get(chip.slot, "")
        if style.direct and style.uses > 1 and not chip.is_head and chip.rect.width() > 60:
            label = f"{label}  ×{style.uses}"
        align = Qt.AlignmentFlag.AlignCenter
        rect = chip.rect
        if chip.slot in BOX_SLOTS:
            rect = _label_row(chip)
            align = Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter
        painter.drawText(rect, align, painter.fontMetrics().elidedText(label, Qt.TextElideMode.ElideRight,
                                                                       int(rect.width()) - 2))


def _label_row(chip: Chip) -> QRectF:
    """Where a box chip's label goes: the strip above its head (expert) chips, left of attention's q/k/v/o."""
    r = chip.rect
    return QRectF(r.x() + 6, r.y() + 3, r.width() - (88 if chip.slot == ATTENTION else 12), LABEL_STRIP - 6)
