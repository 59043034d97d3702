"""The Train tab's CKA heatmap: one model's layer-by-layer similarity (linear CKA) as an image,
layer ids on both axes and a 0..1 color bar."""

from __future__ import annotations

import math

import numpy as np
import pyqtgraph as pg
from PySide6.QtWidgets import QVBoxLayout, QWidget

from explorer.gui import theme
from explorer.gui.axes import EmptyNote

MAX_TICK_LABELS = 16


def mean_off_diagonal(matrix: list[list[float]]) -> float | None:
    """The mean of the finite cells off the diagonal (None when there are none)."""
    values = [v for i, row in enumerate(matrix) for j, v in enumerate(row) if i != j and math.isfinite(v)]
    return sum(values) / len(values) if values else None


class LayerAxis(pg.AxisItem):
    """Layers at the centres of a heatmap's cells (every k-th when there are many): on the left
    their position and id, below their position alone (ids side by side would overlap)."""

    def __init__(self, orientation: str, **kwargs) -> None:
        super().__init__(orientation, **kwargs)
        self.ids: list[str] = []

    def set_ids(self, ids: list[str]) -> None:
        self.ids = list(ids)
        every = max(1, math.ceil(len(self.ids) / MAX_TICK_LABELS))
        label = (lambda i, layer_id: f"{i} {layer_id}") if self.orientation == "left" else (lambda i, _id: str(i))
        self.setTicks([[(i + 0.5, label(i, layer_id)) for i, layer_id in enumerate(self.ids) if i % every == 0]])


class Heatmap(QWidget):
    """One model's layer-by-layer CKA as an image, layer ids on both axes, a 0..1 color bar."""

    def __init__(self, title: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.title = title
        self.source = ""                  # the design file it came from, once another is open
        self.bottom_axis, self.left_axis = LayerAxis("bottom"), LayerAxis("left")
        self.plot = pg.PlotWidget(background=None, axisItems={"bottom": self.bottom_axis, "left": self.left_axis})
        self.plot.setTitle(title, color=theme.color("plot_label"), size="9pt")
        self.plot.setMenuEnabled(False)
        self.plot.setMouseEnabled(False, False)
        self.plot.getPlotItem().hideButtons()
        self.plot.getPlotItem().setAspectLocked(True)
        self.image = pg.ImageItem(axisOrder="row-major")
        self.plot.addItem(self.image)
        cmap = pg.colormap.get("viridis")
        self.bar = pg.ColorBarItem(values=(0, 1), colorMap=cmap, interactive=False, width=12)
        self.bar.setImageItem(self.image, insert_in=self.plot.getPlotItem())
        self.note = EmptyNote(self.plot.getPlotItem(), "layer similarity appears after a run")
        self.ids: list[str] = []
        self.matrix = np.zeros((0, 0))
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.plot)
        self.setToolTip("Linear CKA (Kornblith et al. 2019) between every pair of layers' outputs on validation "
                        "batches: 1 = the same representation up to rotation and scale; the title's mean is "
                        "that of the cells off the diagonal")

    def set_matrix(self, ids: list[str], matrix: list[list[float]]) -> None:
        self.ids = list(ids)
        self.matrix = np.array(matrix, dtype=float).reshape(len(ids), len(ids))
        n = len(ids)
        if n:
            self.image.setImage(np.nan_to_num(self.matrix, nan=0.0), levels=(0, 1), autoLevels=False)
            self.image.setRect(0, 0, n, n)
            self.plot.getPlotItem().getViewBox().setRange(xRange=(0, n), yRange=(0, n), padding=0)
        else:
            self.image.clear()
        self.bottom_axis.set_ids(ids)
        self.left_axis.set_ids(ids)
        self.note.set_empty(n == 0)
        self._title()

    def _title(self) -> None:
        mean = mean_off_diagonal(self.matrix.tolist()) if len(self.ids) else None
        title = (f"from {self.source} · " if self.source else "") + self.title
        title += "" if mean is None else f" · mean {mean:.2f}"
        self.plot.setTitle(title, color=theme.color("plot_label"), size="9pt")

    def set_source(self, source: str) -> None:
        """Label the heatmap with the design file it came from ("" : the design now open)."""
        self.source = source
        self._title()

    def clear(self) -> None:
        self.set_matrix([], [])
