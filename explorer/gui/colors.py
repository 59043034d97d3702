"""Group colors: a group's own color, or a readable one picked from a fixed palette."""

from __future__ import annotations

from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QApplication

from explorer.spec.model import SharingGroup

# Okabe-Ito and Tableau hues: distinguishable for most color vision, good on light and dark
GROUP_PALETTE = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442",
                 "#8172B3", "#64B5CD", "#C44E52", "#55A868", "#937860")


def group_color(group: SharingGroup, index: int) -> QColor:
    if group.color:
        color = QColor(group.color)
        if color.isValid():
            return color
    return QColor(GROUP_PALETTE[index % len(GROUP_PALETTE)])


def is_dark() -> bool:
    app = QApplication.instance()
    if app is None:
        return False
    return app.palette().color(QPalette.ColorRole.Window).lightness() < 128


def own_fill() -> QColor:
    """Fill of an unshared slot: a quiet neutral that reads on either theme."""
    return QColor("#4a4f57") if is_dark() else QColor("#e3e6ea")


def card_fill() -> QColor:
    return QColor("#2e3238") if is_dark() else QColor("#fbfbfc")


def text_on(fill: QColor) -> QColor:
    """Black or white, whichever reads better on `fill`."""
    luminance = 0.299 * fill.redF() + 0.587 * fill.greenF() + 0.114 * fill.blueF()
    return QColor("#111111") if luminance > 0.6 else QColor("#ffffff")
