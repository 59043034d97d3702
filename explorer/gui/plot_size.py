"""Plots that stay readable: a minimum height, and never shorter than their vertical axis label
(rotated, it runs along the plot's height, so a shorter plot cuts its first and last letters:
"s (nats per token)")."""

from __future__ import annotations

import math

import pyqtgraph as pg
from PySide6.QtWidgets import QWidget

MIN_PLOT_HEIGHT = 150          # px: the whole plot, before its first layout says more
MIN_VIEW_HEIGHT = 100          # px: the data area, a handful of ticks and the data between them
LABEL_PAD = 8                  # px clear of the label's ends


def label_length(axis: pg.AxisItem) -> float:
    """Pixels the axis label's text runs along the axis (0 when it has none or is hidden)."""
    if not axis.isVisible() or not axis.labelText or not axis.label.isVisible():
        return 0.0
    return axis.label.boundingRect().width()


def needed_height(plot: pg.PlotWidget) -> int | None:
    """The plot's height at which its data area is MIN_VIEW_HEIGHT tall and its vertical axis
    labels fit whole, or None before it is laid out."""
    item = plot.getPlotItem()
    axes = [item.getAxis(name) for name in ("left", "right")]
    span = max(axis.geometry().height() for axis in axes)
    overhead = plot.height() - span             # title, legend, top and bottom axes, margins
    if span <= 0 or not 0 <= overhead < plot.height():
        return None
    return math.ceil(max(MIN_VIEW_HEIGHT, *(label_length(axis) + LABEL_PAD for axis in axes)) + overhead)


def keep_readable(plot: pg.PlotWidget, min_height: int = MIN_PLOT_HEIGHT) -> None:
    """At least `min_height` tall, and tall enough for a readable data area and its axis labels
    (checked at each layout: the minimum only grows, so it settles after one pass)."""
    if getattr(plot, "_explorer_readable", False):
        return
    plot._explorer_readable = True
    plot.setMinimumHeight(max(plot.minimumHeight(), min_height))

    def fit(*_args) -> None:
        needed = needed_height(plot)
        if needed is not None and needed > plot.minimumHeight():
            plot.setMinimumHeight(needed)

    plot.getPlotItem().vb.sigResized.connect(fit)


def keep_plots_readable(page: QWidget, min_height: int = MIN_PLOT_HEIGHT) -> None:
    """keep_readable for every plot on `page` (and `page` itself if it is one)."""
    plots = page.findChildren(pg.PlotWidget)
    if isinstance(page, pg.PlotWidget):
        plots.append(page)
    for plot in plots:
        keep_readable(plot, min_height)
