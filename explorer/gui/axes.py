"""Plot axes that read like the rest of the app: counts with SI prefixes (20 M, 150 M),
plain numbers in a unit named by the axis label (ms), integer-only ticks (iterations,
layers), and a note instead of a made-up 0-1 range while a plot has no data."""

from __future__ import annotations

import math

import pyqtgraph as pg
from PySide6.QtCore import QRectF
from PySide6.QtGui import QFontMetrics
from PySide6.QtWidgets import QGraphicsSimpleTextItem

from explorer.gui import theme

SI_PREFIXES = ((1e15, "P"), (1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k"))


def _decimals(step: float | None) -> int:
    """Decimals that write every multiple of `step` exactly (0.25 -> 2, 5 -> 0); 2 if unknown."""
    if not step or not math.isfinite(step) or step < 0:
        return 2
    for decimals in range(7):
        scaled = step * 10 ** decimals
        if abs(scaled - round(scaled)) < 1e-6 * max(1.0, scaled):
            return decimals
    return 6


def si(value: float, step: float | None = None) -> str:
    """`value` with an SI prefix ("20 M", "1.5 G", "950"); `step` (the tick spacing) sets the
    decimals, so neighbouring ticks never read the same. Not finite: an empty string."""
    if not math.isfinite(value):
        return ""
    scale, prefix = next(((s, p) for s, p in SI_PREFIXES if abs(value) >= s), (1.0, ""))
    text = f"{value / scale:.{_decimals(None if step is None else step / scale)}f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    if text in ("-0", ""):
        text = "0"
    return f"{text} {prefix}" if prefix else text


def plain(value: float, step: float | None = None) -> str:
    """A number without exponent ("0.25", "12", "1,500"); decimals from the tick spacing."""
    if not math.isfinite(value):
        return ""
    text = f"{value:,.{_decimals(step)}f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text == "-0" else text


def _power_of_ten(exponent: float) -> float:
    """10 ** exponent without overflow (inf above the float range, where callers show nothing)."""
    try:
        return 10.0 ** exponent
    except OverflowError:
        return math.inf


class SIAxis(pg.AxisItem):
    """Counts with SI prefixes; in log mode (values are log10) "1 M", "10 M", "100 M".

    `log_follows_plot=False` keeps the axis linear when its PlotItem switches to log mode (an
    axis linked to a second, linear ViewBox must not read that box's values as exponents)."""

    def __init__(self, orientation: str, log_follows_plot: bool = True, **kwargs) -> None:
        super().__init__(orientation, **kwargs)
        self.enableAutoSIPrefix(False)
        self._log_follows_plot = log_follows_plot

    def setLogMode(self, *args, **kwargs) -> None:  # noqa: N802 - pyqtgraph override
        if self._log_follows_plot:
            super().setLogMode(*args, **kwargs)

    def format(self, value: float, step: float | None) -> str:
        return si(value, step)

    def tickStrings(self, values, scale, spacing):  # noqa: N802 - pyqtgraph override
        if self.logMode:
            return [self._log_string(v) for v in values]
        return [self.format(v * scale, spacing * scale) for v in values]

    def logTickStrings(self, values, scale, spacing):  # noqa: N802 - pyqtgraph override
        return [self._log_string(v) for v in values]

    def _log_string(self, exponent: float) -> str:
        value = _power_of_ten(exponent)
        if not math.isfinite(value):
            return ""
        return self.format(float(f"{value:.2g}"), None)


class PlainAxis(SIAxis):
    """Plain numbers (no 1e+04), for an axis whose label names the unit: "ms per pass"."""

    def format(self, value: float, step: float | None) -> str:
        return plain(value, step)


class IntegerAxis(pg.AxisItem):
    """Whole-number ticks only (iterations, layer indices): no 2.5 at any zoom."""

    def __init__(self, orientation: str, **kwargs) -> None:
        super().__init__(orientation, **kwargs)
        self.enableAutoSIPrefix(False)

    def tickValues(self, minVal, maxVal, size):  # noqa: N802 - pyqtgraph override
        levels = [(spacing, [round(v) for v in values if abs(v - round(v)) < 1e-6])
                  for spacing, values in super().tickValues(minVal, maxVal, size) if spacing >= 1]
        if not levels:                  # zoomed in below one step: every whole number in sight
            low, high = math.ceil(min(minVal, maxVal)), math.floor(max(minVal, maxVal))
            levels = [(1.0, list(range(low, high + 1)))]
        return levels

    def tickStrings(self, values, scale, spacing):  # noqa: N802 - pyqtgraph override
        return [f"{round(v * scale):,}" if math.isfinite(v) else "" for v in values]


class LabelAxis(pg.AxisItem):
    """Named spans along a horizontal axis (the timing plot's segments): each label centred over
    its span and elided to the span's width, so labels never run into each other."""

    def __init__(self, orientation: str = "top", **kwargs) -> None:
        super().__init__(orientation, **kwargs)
        self.spans: list[tuple[float, float, str]] = []        # (start, end, label) in data units
        self.setStyle(tickLength=0, tickTextOffset=3)
        self.setHeight(QFontMetrics(self.font()).height() + 6)   # room for whole letters (pyqtgraph's is 0.8 x)

    def set_spans(self, spans: list[tuple[float, float, str]]) -> None:
        if spans != self.spans:
            self.spans = list(spans)
            self.picture = None
            self.update()

    def tickValues(self, minVal, maxVal, size):  # noqa: N802 - pyqtgraph override
        low, high = min(minVal, maxVal), max(minVal, maxVal)
        return [(1.0, [(a + b) / 2 for a, b, _label in self.spans if low <= (a + b) / 2 <= high])]

    def tickStrings(self, values, scale, spacing):  # noqa: N802 - pyqtgraph override
        low, high = self.range
        pixels_per_unit = self.width() / (high - low) if high > low else 0.0
        metrics = QFontMetrics(self.style["tickFont"] or self.font())
        by_middle = {(a + b) / 2: (b - a, label) for a, b, label in self.spans}
        strings = []
        for v in values:
            width, label = by_middle.get(v, (0.0, ""))
            room = max(0, int(width * pixels_per_unit) - 6)
            strings.append(metrics.elidedText(label, pg.QtCore.Qt.TextElideMode.ElideRight, room) if room else "")
        return strings


class EmptyNote:
    """While a plot has no data: a centred note instead of tick labels on a meaningless range."""

    def __init__(self, plot_item: pg.PlotItem, text: str = "no data yet") -> None:
        self.plot_item = plot_item
        self.item = QGraphicsSimpleTextItem(text, plot_item.vb)
        self.item.setBrush(theme.brush("plot_label"))
        plot_item.vb.sigResized.connect(self._place)
        self.empty = False
        self.set_empty(True)

    def set_text(self, text: str) -> None:
        self.item.setText(text)
        self._place()

    def set_empty(self, empty: bool) -> None:
        if empty == self.empty:
            return
        self.empty = empty
        self.item.setVisible(empty)
        for name in ("left", "bottom", "right"):
            axis = self.plot_item.getAxis(name)
            axis.setStyle(showValues=not empty)
        self._place()

    def _place(self, *_args) -> None:
        box: QRectF = self.plot_item.vb.boundingRect()
        text = self.item.boundingRect()
        self.item.setPos(box.center().x() - text.width() / 2, box.center().y() - text.height() / 2)


class LegendRow(pg.LegendItem):
    """The plot's legend as one row in a strip above the plot area (the title row), so it never
    covers a curve or a label; curves plotted with `name=` join it as for `addLegend()`."""

    def __init__(self, plot_item: pg.PlotItem) -> None:
        super().__init__(colCount=32, frame=False, labelTextColor=theme.color("plot_label"))
        self.plot_item = plot_item
        self.setParentItem(plot_item)
        self.anchor(itemPos=(0.5, 0), parentPos=(0.5, 0), offset=(0, 0))
        plot_item.legend = self
        self.updateSize()

    def updateSize(self) -> None:  # noqa: N802 - pyqtgraph override
        super().updateSize()
        plot_item = getattr(self, "plot_item", None)
        if plot_item is not None:           # the strip above the plot grows to the legend's height
            plot_item.layout.setRowFixedHeight(0, max(self.height(), 16) + 2)
