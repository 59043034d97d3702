"""The Sweeps tab's "Depth" page: unique parameters against the number of blocks, one curve per
sharing scheme."""

from __future__ import annotations

import pyqtgraph as pg
from PySide6.QtCore import Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QLineEdit, QVBoxLayout, QWidget

from explorer.analysis import sweeps
from explorer.gui import theme
from explorer.gui.axes import EmptyNote, IntegerAxis, SIAxis
from explorer.gui.plot_export import save_plot_button


class DepthSweepTab(QWidget):
    """sweeps.sweep_depth of `spec` at the depths typed in."""

    edited = Signal()               # the depths changed: refresh

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.spec = None
        self.depth_edit = QLineEdit("2:48:2", toolTip="Numbers of blocks: a list (6,12,24) or a range 2:48:2")
        self.depth_edit.editingFinished.connect(self.edited)
        self.depth_plot = pg.PlotWidget(background=None, axisItems={"left": SIAxis("left"),
                                                                    "bottom": IntegerAxis("bottom")})
        self.depth_note = EmptyNote(self.depth_plot.getPlotItem())
        self.depth_plot.setLabel("bottom", "transformer blocks")
        self.depth_plot.setLabel("left", "unique parameters")
        self.depth_plot.addLegend(offset=(10, 5))
        self.depth_hint = QLabel("Forward FLOPs are the same for every scheme at a given depth: sharing changes "
                                 "what is stored, not what is computed.", wordWrap=True)
        save = save_plot_button(self, self.depth_plot, "depth-sweep")
        top = QHBoxLayout()
        top.addWidget(QLabel("blocks ="))
        top.addWidget(self.depth_edit, 1)
        top.addWidget(save)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.depth_plot, 1)
        layout.addWidget(self.depth_hint)

    def refresh(self) -> None:
        depths = sweeps.parse_int_list(self.depth_edit.text(), "depths")
        points = sweeps.sweep_depth(self.spec, depths)
        self.depth_plot.clear()
        self.depth_plot.addLegend(offset=(10, 5))
        for k, scheme in enumerate(sweeps.DEPTH_SCHEMES):
            pts = [p for p in points if p.scheme == scheme and not p.error]
            self.depth_plot.plot([p.layers for p in pts], [p.unique for p in pts], name=scheme,
                                 pen=pg.mkPen(theme.series_color(k), width=2), symbol="o", symbolSize=4)
        self.depth_note.set_empty(not any(not p.error for p in points))
        self.depth_points = points
