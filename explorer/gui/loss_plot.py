"""The Train tab's loss curves: per series a training line and dashed validation points against
steps, tokens seen or training seconds, and a legend of the series a run trains."""

from __future__ import annotations

import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QGraphicsSimpleTextItem

from explorer.gui import theme
from explorer.gui.axes import EmptyNote, LegendRow, PlainAxis
from explorer.gui.train_record import SERIES, RunRecord

X_AXES = {"step": "step", "tokens": "tokens seen (per series)", "seconds": "training time (s, per series)"}


class LossPlot(pg.PlotWidget):
    """One training and one validation curve per series (colors: the theme roles of SERIES)."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent, background=None, axisItems={"left": PlainAxis("left"), "bottom": PlainAxis("bottom")})
        self.setLabel("left", "loss (nats per token)")
        self.setLabel("bottom", X_AXES["step"])
        self.showGrid(x=True, y=True, alpha=0.25)
        self.legend = LegendRow(self.getPlotItem())
        self.empty_note = EmptyNote(self.getPlotItem(), "no steps yet: pick the data and Start")
        self.train_curves, self.val_curves = {}, {}
        for name in SERIES:
            self.train_curves[name] = self.plot([], [], pen=theme.pen(name, 1.5), name=f"{name} train")
            self.val_curves[name] = self.plot([], [], pen=theme.pen(name, 1.5, Qt.PenStyle.DashLine),
                                              symbol="o", symbolSize=7, symbolBrush=theme.brush(name),
                                              symbolPen=pg.mkPen(theme.color("text"), width=1),
                                              name=f"{name} validation")
        self.show_in_legend(("design", "twin"))
        # "from my.yaml" once another design is open: in the plot's top-right corner (the title
        # row above is the legend's)
        self.source_note = QGraphicsSimpleTextItem("", self.getPlotItem().vb)
        self.source_note.setBrush(theme.brush("plot_label"))
        self.source_note.setVisible(False)
        self.getPlotItem().vb.sigResized.connect(self._place_source_note)

    def set_source(self, source: str) -> None:
        """Label the curves with the design file they came from ("": the design now open)."""
        self.source_note.setText(f"from {source}" if source else "")
        self.source_note.setVisible(bool(source))
        self._place_source_note()

    def _place_source_note(self, *_args) -> None:
        box, text = self.getPlotItem().vb.boundingRect(), self.source_note.boundingRect()
        self.source_note.setPos(box.right() - text.width() - 6, box.top() + 4)

    def show_in_legend(self, names) -> None:
        """The legend lists the training and validation curves of `names` (the series of this run):
        one row for two series; for three, a row of training curves over a row of validation ones."""
        names = [name for name in SERIES if name in names]
        old = self.legend                            # a fresh legend: pyqtgraph's grid keeps its old columns
        old.setParentItem(None)
        if old.scene() is not None:
            old.scene().removeItem(old)
        self.legend = LegendRow(self.getPlotItem())
        if len(names) > 2:
            self.legend.setColumnCount(len(names))
            entries = [(self.train_curves[n], f"{n} train") for n in names]
            entries += [(self.val_curves[n], f"{n} validation") for n in names]
        else:
            entries = [e for n in names for e in ((self.train_curves[n], f"{n} train"),
                                                  (self.val_curves[n], f"{n} validation"))]
        for item, label in entries:
            self.legend.addItem(item, label)

    def redraw(self, record: RunRecord, mode: str) -> None:
        """Every series of `record` against `mode` (a key of X_AXES)."""
        self.setLabel("bottom", X_AXES[mode])
        any_points = False
        for name in SERIES:
            steps, losses, _t = record.train.get(name, ([], [], []))
            self.train_curves[name].setData(record.xs(name, steps, mode), losses)
            val = record.val.get(name, [])
            self.val_curves[name].setData(record.xs(name, [s for s, _v in val], mode), [v for _s, v in val])
            any_points = any_points or bool(steps)
        self.empty_note.set_empty(not any_points)
