"""The Sweeps tab's "Sequence length" page: attention vs FFN FLOPs against n (log scales), the
crossover marked and said in words, and the built model's forward time measured at each n in a
worker (right axis)."""

from __future__ import annotations

import math

import pyqtgraph as pg
from PySide6.QtCore import Qt, QThread, Signal
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QLineEdit, QPushButton, QVBoxLayout, QWidget

from explorer.analysis import sweeps
from explorer.errors import ExplorerError
from explorer.gui import theme
from explorer.gui.axes import EmptyNote, PlainAxis, SIAxis
from explorer.gui.plot_export import save_plot_button
from explorer.gui.sweep_workers import cuda_count


def _log2_ticks(values: list[int]) -> list[tuple[float, str]]:
    return [(math.log2(v), f"{v:,}") for v in values]


class SeqSweepTab(QWidget):
    """FLOPs of attention and FFN per sequence length of `spec`; Measure time adds the measured ms."""

    message = Signal(str)
    edited = Signal()               # the lengths changed: refresh
    timing_finished = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.spec = None
        self.seq_edit = QLineEdit("128:16384:x2", toolTip="Sequence lengths: a list (128,512) or a range start:stop:xF")
        self.seq_edit.editingFinished.connect(self.edited)
        # the right axis reads the linear ms of `time_view`: it must not follow the plot's log
        # mode, which would read 500 ms as 10**500 (inf, with overflow warnings)
        self.seq_plot = pg.PlotWidget(background=None, axisItems={
            "left": SIAxis("left"), "right": PlainAxis("right", log_follows_plot=False)})
        self.seq_plot.setLabel("bottom", "sequence length n (log scale)")
        self.seq_plot.setLabel("left", "FLOPs, batch 1 (log)")
        self.seq_plot.setLogMode(x=False, y=True)
        self.seq_plot.addLegend(offset=(10, 5))
        self.seq_note = EmptyNote(self.seq_plot.getPlotItem())
        self.attn_curve = self.seq_plot.plot([], [], pen=theme.pen("attention", 2), symbol="o", symbolSize=5,
                                             name="attention")
        self.ffn_curve = self.seq_plot.plot([], [], pen=theme.pen("ffn", 2), symbol="s", symbolSize=5,
                                            name="FFN")
        self.cross_line = pg.InfiniteLine(angle=90, pen=theme.pen("neutral", 1, Qt.PenStyle.DashLine))
        self.seq_plot.addItem(self.cross_line)
        self.seq_sentence = QLabel(wordWrap=True, toolTip="Where attention FLOPs overtake the FFN's")
        self.measure_device = QComboBox(toolTip="Where to time the built model at each n (batch 1)")
        self.measure_device.addItems(["cpu"] + [f"cuda:{i}" for i in range(cuda_count())])
        self.measure_button = QPushButton("Measure time", toolTip="Build the model and time a forward pass at each n "
                                          "(at most 8 points, in the background)")
        self.measure_button.clicked.connect(self.on_measure_clicked)
        self.time_view = pg.ViewBox()
        self.seq_plot.getPlotItem().showAxis("right")
        self.seq_plot.getPlotItem().scene().addItem(self.time_view)
        self.seq_plot.getPlotItem().getAxis("right").linkToView(self.time_view)
        self.seq_plot.getPlotItem().getAxis("right").setLabel("measured ms")
        self.time_view.setXLink(self.seq_plot.getPlotItem())
        self.seq_plot.getPlotItem().vb.sigResized.connect(
            lambda: self.time_view.setGeometry(self.seq_plot.getPlotItem().vb.sceneBoundingRect()))
        self.time_curve = pg.PlotDataItem([], [], pen=theme.pen("time", 2, Qt.PenStyle.DotLine),
                                          symbol="t", symbolSize=7, symbolBrush=theme.brush("time"))
        self.time_view.addItem(self.time_curve)
        self.seq_plot.getPlotItem().getAxis("right").setVisible(False)      # until something is measured
        self.measured: dict[int, float] = {}
        self._timing_thread = None
        self._timing_worker = None
        save = save_plot_button(self, self.seq_plot, "seq-sweep")
        top = QHBoxLayout()
        top.addWidget(QLabel("n ="))
        top.addWidget(self.seq_edit, 1)
        top.addWidget(self.measure_device)
        top.addWidget(self.measure_button)
        top.addWidget(save)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.seq_plot, 1)
        layout.addWidget(self.seq_sentence)

    def refresh(self) -> None:
        seqs = sweeps.parse_int_list(self.seq_edit.text(), "sequence lengths")
        result = sweeps.sweep_seq(self.spec, seqs)
        xs = [math.log2(p.seq) for p in result.points]
        self.attn_curve.setData(xs, [max(p.attention, 1) for p in result.points])
        self.ffn_curve.setData(xs, [max(p.ffn, 1) for p in result.points])
        self.seq_plot.getAxis("bottom").setTicks([_log2_ticks(seqs)])
        c = result.crossover
        self.cross_line.setVisible(c is not None and c > 0)
        if c is not None and c > 0:
            self.cross_line.setValue(math.log2(float(c)))
        self.seq_sentence.setText(result.sentence())
        self.seq_note.set_empty(not result.points)
        self.seq_result = result

    # ------------------------------------------------------------------ measured time
    def on_measure_clicked(self) -> None:
        if self._timing_worker is not None:
            self._timing_worker.stop()
            return
        from explorer.gui.workers import SeqTimingWorker, start_in_thread

        try:
            seqs = sweeps.parse_int_list(self.seq_edit.text(), "sequence lengths")[:8]
        except ExplorerError as err:
            self.message.emit(str(err))
            return
        self.measured = {}
        self.time_curve.setData([], [])
        self.seq_plot.getPlotItem().getAxis("right").setVisible(True)
        self.seq_plot.getPlotItem().getAxis("right").setStyle(showValues=not self.seq_note.empty)
        legend = self.seq_plot.getPlotItem().legend
        if not any(item is self.time_curve for item, _label in legend.items):
            legend.addItem(self.time_curve, "measured time (right axis)")
        worker = SeqTimingWorker(self.spec, seqs, self.measure_device.currentText())
        worker.point.connect(self.on_timing_point)
        worker.failed.connect(self.message)
        worker.failed.connect(self._timing_done)
        worker.finished.connect(self._timing_done)
        self._timing_worker = worker
        self._timing_thread = start_in_thread(worker, self)
        self.measure_button.setText("Stop")

    def on_timing_point(self, seq: int, ms: float) -> None:
        self.measured[seq] = ms
        xs = sorted(self.measured)
        self.time_curve.setData([math.log2(x) for x in xs], [self.measured[x] for x in xs])

    def _timing_done(self, *_args) -> None:
        self._timing_worker = None
        self.measure_button.setText("Measure time")
        self.timing_finished.emit()

    def runs(self) -> list[tuple[object, QThread | None]]:
        """(worker, thread) of the timing: sweep_workers.stop_and_wait stops it."""
        return [(self._timing_worker, self._timing_thread)]
