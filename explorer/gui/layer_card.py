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

from explorer.gui.card_layout import BADGE_WIDTH, CARD_HEIGHT, HEADER_WIDTH, CardInfo, Chip, ChipStyle
from explorer.gui.colors import card_fill, is_dark, own_fill, text_on

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
        self.hint: tuple[str, bool] | None = None      # (slot, valid) under a drag
        self.hint_reason = ""
        self.setCacheMode(QGraphicsItem.CacheMode.DeviceCoordinateCache)

    def boundingRect(self) -> QRectF:
        return QRectF(-2, -2, self.width + 4, CARD_HEIGHT + 4)

    def chip_at(self, pos: QPointF) -> Chip | None:
        if self.info is None:
            return None
        for chip in sorted(self.info.chips, key=lambda c: not (c.is_head or c.slot.startswith("attention."))):
            if chip.rect.contains(pos):
                return chip
        return None

    def paint(self, painter: QPainter, _option, _widget=None) -> None:
        info = self.info
        if info is None:
            return
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        dark = is_dark()
        text = QColor("#e8e8e8") if dark else QColor("#1d1f22")
        faint = QColor("#9aa0a6") if dark else QColor("#5f6368")
        block = info.block_style
        border = block.fill if block.group else (QColor("#5a5f66") if dark else QColor("#c5c9ce"))
        if self.selected:
            painter.setPen(QPen(QColor("#1a73e8"), 3.0))
        elif "block" in info.highlighted:
            painter.setPen(QPen(QColor("#f5f5f5") if dark else QColor("#111111"), 2.4))
        else:
            painter.setPen(QPen(border, 1.6))
        painter.setBrush(card_fill())
        painter.drawRoundedRect(QRectF(0, 0, self.width, CARD_HEIGHT), 6, 6)
        if block.group:                                # stripe: the whole block is shared
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(block.fill)
            painter.drawRoundedRect(QRectF(1, 1, 7, CARD_HEIGHT - 2), 3, 3)
        font = QFont(painter.font())
        font.setPointSizeF(9.5)
        font.setBold(True)
        painter.setFont(font)
        painter.setPen(text)
        painter.drawText(QRectF(14, 6, HEADER_WIDTH - 18, 18), Qt.AlignmentFlag.AlignLeft,
                         f"{info.index:>2}  {info.layer.id}")
        font.setBold(False)
        font.setPointSizeF(8.5)
        painter.setFont(font)
        painter.setPen(faint)
        painter.drawText(QRectF(14, 24, HEADER_WIDTH - 18, 16), Qt.AlignmentFlag.AlignLeft, info.layer.kind)
        painter.drawText(QRectF(14, 39, HEADER_WIDTH - 18, 16), Qt.AlignmentFlag.AlignLeft, info.summary)
        painter.drawPixmap(QPointF(HEADER_WIDTH - 2, 0), self._chips_pixmap(painter, font))
        if info.block_uses > 1:                        # the marker: one block, run N times
            badge = QRectF(self.width - BADGE_WIDTH + 6, CARD_HEIGHT - 26, BADGE_WIDTH - 12, 20)
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(block.fill)
            painter.drawRoundedRect(badge, 9, 9)
            font.setBold(True)
            font.setPointSizeF(9)
            painter.setFont(font)
            painter.setPen(text_on(block.fill))
            painter.drawText(badge, Qt.AlignmentFlag.AlignCenter, f"×{info.block_uses}")

    def _chips_pixmap(self, painter: QPainter, font: QFont) -> QPixmap:
        """The chips area, rendered once per distinct look (ALBERT: 48 cards, one render)."""
        dpr = painter.device().devicePixelRatioF() if painter.device() else 1.0
        key = (self.info.look(), self.hint, self.hint_reason, is_dark(), dpr, self.width)
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

    def _paint_chip(self, painter: QPainter, chip: Chip, font: QFont) -> None:
        info = self.info
        style = info.styles.get(chip.slot) or ChipStyle(own_fill())
        fill = QColor(style.fill)
        if style.group and not style.direct and chip.slot not in ("attention",):
            fill = fill.lighter(112)
        pen = QPen(fill.darker(135), 1.0)
        if chip.slot in info.highlighted:
            pen = QPen(QColor("#f5f5f5") if is_dark() else QColor("#111111"), 2.4)
        hinted = self.hint is not None and self.hint[0] == chip.slot
        if hinted:
            pen = QPen(QColor("#0b8043") if self.hint[1] else QColor("#d93025"), 3.5)
        painter.setPen(pen)
        painter.setBrush(fill)
        radius = 2.0 if chip.is_head else 4.0
        painter.drawRoundedRect(chip.rect, radius, radius)
        if hinted:                      # a drop target under the cursor: green = fine, red = refused
            veil = QColor("#34a853" if self.hint[1] else "#ea4335")
            veil.setAlpha(110)
            painter.fillRect(chip.rect.adjusted(2, 2, -2, -2), veil)
            if chip.is_head or chip.rect.width() < 70:
                return
            painter.setPen(QColor("white"))
            font.setBold(True)
            painter.setFont(font)
            refusal = "✕ shapes differ" if "shape" in self.hint_reason else "✕ refused"
            rect, align = chip.rect, Qt.AlignmentFlag.AlignCenter
            if chip.slot == "attention":        # the head chips cover the middle: use the label row
                rect = QRectF(rect.x() + 6, rect.y() + 3, rect.width() - 80, 16)
                align = Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter
            painter.drawText(rect, align, "share here" if self.hint[1] else refusal)
            return
        if chip.is_head and chip.rect.width() < 12:
            return
        font.setBold(style.direct)
        font.setPointSizeF(7.5 if chip.is_head or len(chip.label) <= 1 else 8.5)
        painter.setFont(font)
        painter.setPen(text_on(fill))
        label = chip.label + info.notes.get(chip.slot, "")
        if style.direct and style.uses > 1 and not chip.is_head and chip.rect.width() > 60:
            label = f"{label}  ×{style.uses}"
        align = Qt.AlignmentFlag.AlignCenter
        rect = chip.rect
        if chip.slot == "attention":
            rect = QRectF(rect.x() + 6, rect.y() + 3, rect.width() - 80, 16)
            align = Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter
        painter.drawText(rect, align, painter.fontMetrics().elidedText(label, Qt.TextElideMode.ElideRight,
                                                                       int(rect.width()) - 2))
