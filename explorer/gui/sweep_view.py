"""Sweeps in the app: sequence length (attention vs FFN, crossover marked and said in words),
depth (unique parameters per scheme) and the scheme frontier (click a point to apply it).

The frontier's "train each scheme" mode trains none, the unshared twin and every scheme (scaled
down first) with one TrainConfig in a worker thread (explorer/train/sweep.py, as `explorer sweep
--schemes --train-steps N`), and plots validation loss against unique parameters as rows arrive."""

from __future__ import annotations

import math

import pyqtgraph as pg
from PySide6.QtCore import QRectF, Qt, QThread, Signal
from PySide6.QtWidgets import (QCheckBox, QComboBox, QHBoxLayout, QHeaderView, QLabel, QLineEdit, QPushButton,
                               QSpinBox, QSplitter, QTableWidget, QTableWidgetItem, QTabWidget, QVBoxLayout, QWidget)

from explorer.analysis import sweeps
from explorer.errors import ExplorerError
from explorer.gui import theme
from explorer.gui.axes import EmptyNote, IntegerAxis, PlainAxis, SIAxis
from explorer.gui.lazy_view import LazyView
from explorer.gui.plot_export import save_plot_dialog
from explorer.gui.workers import _TimingWorker

SCHEME_COLUMNS = ["scheme", "unique params", "forward FLOPs", "training memory", "note"]
TRAINED_COLUMNS = ["scheme", "unique params (trained)", "final val loss", "best val loss", "tokens/s", "note"]


class SchemeTrainWorker(_TimingWorker):
    """Trains every scheme on the (scaled) design, one after another; stop() ends the run in
    progress and skips the rest. torch is imported here, in the worker's thread."""

    run_done = Signal(object)       # train.sweep.SchemeRun, in order
    progress = Signal(str)
    finished = Signal(object)       # train.sweep.SchemeSweep (cancelled=True after Stop)
    failure = "training the schemes failed"

    def __init__(self, spec, config) -> None:
        super().__init__()
        self.spec, self.config = spec, config

    def work(self) -> None:
        from explorer.train.sweep import train_schemes

        self.finished.emit(train_schemes(self.spec, self.config, on_run=self.run_done.emit,
                                         progress=self.progress.emit, should_stop=self._stop.is_set))


def _cuda_count() -> int:
    """CUDA devices, without importing torch in the GUI thread when it is not loaded yet."""
    import sys

    torch = sys.modules.get("torch")
    return torch.cuda.device_count() if torch is not None and torch.cuda.is_available() else 0


def _log2_ticks(values: list[int]) -> list[tuple[float, str]]:
    return [(math.log2(v), f"{v:,}") for v in values]


class SweepView(LazyView):
    """Three sweeps of the current design; `apply_requested(spec)` when a frontier point is clicked."""

    apply_requested = Signal(object)
    timing_finished = Signal()
    training_finished = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.scheme_points: list[sweeps.SchemePoint] = []
        self.trained_runs: list = []                # train.sweep.SchemeRun, as they arrive
        self.trained_base = None                    # the full-size design they were trained for
        self._frontier_xy: list[tuple[str, float, float]] = []     # (scheme, x, y) on the plot
        self._train_thread = None
        self._train_worker = None
        self.tabs = QTabWidget()
        self.tabs.addTab(self._seq_tab(), "Sequence length")
        self.tabs.addTab(self._depth_tab(), "Depth")
        self.tabs.addTab(self._schemes_tab(), "Schemes (frontier)")
        self.tabs.currentChanged.connect(lambda _i: self.refresh())
        layout = QVBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.addWidget(self.tabs)

    # ------------------------------------------------------------------ tabs
    def _seq_tab(self) -> QWidget:
        w = QWidget()
        self.seq_edit = QLineEdit("128:16384:x2", toolTip="Sequence lengths: a list (128,512) or a range start:stop:xF")
        self.seq_edit.editingFinished.connect(self.refresh)
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
        self.measure_device.addItems(["cpu"] + [f"cuda:{i}" for i in range(_cuda_count())])
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
        save = QPushButton("Save plot…", toolTip="Save this plot as PNG or SVG")
        save.clicked.connect(lambda: save_plot_dialog(self, self.seq_plot, "seq-sweep"))
        top = QHBoxLayout()
        top.addWidget(QLabel("n ="))
        top.addWidget(self.seq_edit, 1)
        top.addWidget(self.measure_device)
        top.addWidget(self.measure_button)
        top.addWidget(save)
        layout = QVBoxLayout(w)
        layout.addLayout(top)
        layout.addWidget(self.seq_plot, 1)
        layout.addWidget(self.seq_sentence)
        return w

    def _depth_tab(self) -> QWidget:
        w = QWidget()
        self.depth_edit = QLineEdit("2:48:2", toolTip="Numbers of blocks: a list (6,12,24) or a range 2:48:2")
        self.depth_edit.editingFinished.connect(self.refresh)
        self.depth_plot = pg.PlotWidget(background=None, axisItems={"left": SIAxis("left"),
                                                                    "bottom": IntegerAxis("bottom")})
        self.depth_note = EmptyNote(self.depth_plot.getPlotItem())
        self.depth_plot.setLabel("bottom", "transformer blocks")
        self.depth_plot.setLabel("left", "unique parameters")
        self.depth_plot.addLegend(offset=(10, 5))
        self.depth_hint = QLabel("Forward FLOPs are the same for every scheme at a given depth: sharing changes "
                                 "what is stored, not what is computed.", wordWrap=True)
        save = QPushButton("Save plot…", toolTip="Save this plot as PNG or SVG")
        save.clicked.connect(lambda: save_plot_dialog(self, self.depth_plot, "depth-sweep"))
        top = QHBoxLayout()
        top.addWidget(QLabel("blocks ="))
        top.addWidget(self.depth_edit, 1)
        top.addWidget(save)
        layout = QVBoxLayout(w)
        layout.addLayout(top)
        layout.addWidget(self.depth_plot, 1)
        layout.addWidget(self.depth_hint)
        return w

    def _schemes_tab(self) -> QWidget:
        w = QWidget()
        self.frontier_plot = pg.PlotWidget(background=None, axisItems={"left": SIAxis("left"),
                                                                       "bottom": SIAxis("bottom")})
        self.frontier_note = EmptyNote(self.frontier_plot.getPlotItem())
        self.frontier_plot.setLabel("bottom", "unique parameters")
        self.frontier_plot.setLabel("left", "forward FLOPs")
        self.frontier_scatter = pg.ScatterPlotItem(
            size=11, hoverable=True, hoverSize=15,
            tip=lambda x, y, data: f"{data}\n{x:,.0f} parameters\n" + (
                f"validation loss {y:.4f}" if self.train_check.isChecked() else f"{y:,.0f} FLOPs")
            + " (click to apply)")
        self.frontier_scatter.sigClicked.connect(self._on_point_clicked)
        self.frontier_plot.getPlotItem().vb.sigResized.connect(self._label_frontier)
        self.frontier_plot.addItem(self.frontier_scatter)
        self._frontier_labels: list[pg.TextItem] = []
        self.scheme_table = QTableWidget(0, len(SCHEME_COLUMNS))
        self.scheme_table.setHorizontalHeaderLabels(SCHEME_COLUMNS)
        self.scheme_table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.scheme_table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.scheme_table.cellDoubleClicked.connect(lambda row, _c: self._apply_row(row))
        self.scheme_table.setToolTip("Double-click a row to apply that scheme to the design (undoable)")
        split = QSplitter(Qt.Orientation.Horizontal)
        split.addWidget(self.frontier_plot)
        split.addWidget(self.scheme_table)
        split.setSizes([500, 500])
        hint = QLabel("Each point is one scheme applied to the current design; click a point (or double-click a "
                      "row) to apply it.", wordWrap=True)
        self.train_check = QCheckBox("train each scheme", toolTip=(
            "Train none, the unshared twin and every scheme with the same data, seed and batches, and plot "
            "validation loss against unique parameters (as `explorer sweep --schemes --train-steps N`)"))
        self.train_check.toggled.connect(self._show_frontier)
        self.train_steps = QSpinBox(minimum=1, maximum=1_000_000, value=100, toolTip="Training steps per scheme")
        self.train_width = QSpinBox(minimum=0, maximum=1 << 16, value=64, specialValueText="as designed",
                                    toolTip="Scale down first: d_model (FFN and embedding widths alike); the "
                                            "sharing pattern is kept")
        self.train_depth = QSpinBox(minimum=0, maximum=1 << 12, value=4, specialValueText="as designed",
                                    toolTip="Scale down first: keep the first N trunk layers")
        self.train_batch = QSpinBox(minimum=1, maximum=4096, value=8, toolTip="Batch size of each step")
        self.train_seq = QSpinBox(minimum=2, maximum=1 << 16, value=64, toolTip="Sequence length of each step")
        self.train_button = QPushButton("Train", toolTip="Train every scheme in the background (Stop ends it)")
        self.train_button.clicked.connect(self.on_train_clicked)
        self.train_status = QLabel("", toolTip="What the training worker is doing")
        controls = QHBoxLayout()
        controls.addWidget(self.train_check)
        for label, widget in (("steps", self.train_steps), ("width", self.train_width), ("depth", self.train_depth),
                              ("batch", self.train_batch), ("seq", self.train_seq)):
            controls.addWidget(QLabel(label))
            controls.addWidget(widget)
        controls.addWidget(self.train_button)
        controls.addWidget(self.train_status, 1)
        layout = QVBoxLayout(w)
        layout.addLayout(controls)
        layout.addWidget(split, 1)
        layout.addWidget(hint)
        return w

    # ------------------------------------------------------------------ data
    def refresh(self) -> None:
        if self._spec is None:
            return
        try:
            [self.refresh_seq, self.refresh_depth, self.refresh_schemes][self.tabs.currentIndex()]()
        except ExplorerError as err:
            self.message.emit(str(err))

    def refresh_seq(self) -> None:
        seqs = sweeps.parse_int_list(self.seq_edit.text(), "sequence lengths")
        result = sweeps.sweep_seq(self._spec, seqs)
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
        from explorer.gui.workers import SeqTimingWorker, reserve_gui_core, start_in_thread

        try:
            seqs = sweeps.parse_int_list(self.seq_edit.text(), "sequence lengths")[:8]
        except ExplorerError as err:
            self.message.emit(str(err))
            return
        reserve_gui_core()
        self.measured = {}
        self.time_curve.setData([], [])
        self.seq_plot.getPlotItem().getAxis("right").setVisible(True)
        self.seq_plot.getPlotItem().getAxis("right").setStyle(showValues=not self.seq_note.empty)
        legend = self.seq_plot.getPlotItem().legend
        if not any(item is self.time_curve for item, _label in legend.items):
            legend.addItem(self.time_curve, "measured time (right axis)")
        worker = SeqTimingWorker(self._spec, seqs, self.measure_device.currentText())
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

    def shutdown(self, timeout_ms: int = 2000) -> list[QThread]:
        """Stop a timing sweep; returns its thread if a pass still holds it after `timeout_ms`."""
        running = []
        for worker, thread in ((self._timing_worker, self._timing_thread), (self._train_worker, self._train_thread)):
            if worker is not None:
                worker.stop()
            if thread is not None and thread.isRunning():
                thread.quit()
                if not thread.wait(timeout_ms):
                    running.append(thread)
        return running

    def refresh_depth(self) -> None:
        depths = sweeps.parse_int_list(self.depth_edit.text(), "depths")
        points = sweeps.sweep_depth(self._spec, depths)
        self.depth_plot.clear()
        self.depth_plot.addLegend(offset=(10, 5))
        for k, scheme in enumerate(sweeps.DEPTH_SCHEMES):
            pts = [p for p in points if p.scheme == scheme and not p.error]
            self.depth_plot.plot([p.layers for p in pts], [p.unique for p in pts], name=scheme,
                                 pen=pg.mkPen(theme.series_color(k), width=2), symbol="o", symbolSize=4)
        self.depth_note.set_empty(not any(not p.error for p in points))
        self.depth_points = points

    def refresh_schemes(self) -> None:
        self.scheme_points = sweeps.sweep_schemes(self._spec)
        self._show_frontier()

    def _show_frontier(self, *_args) -> None:
        """The analysis frontier (forward FLOPs), or with "train each scheme" the trained one."""
        trained = self.train_check.isChecked()
        if trained:
            ok = [r for r in self.trained_runs if r.ok]
            self._frontier_xy = [(r.scheme, r.params, r.final_val) for r in ok]
            self.frontier_plot.setLabel("left", "validation loss (final)")
            self.frontier_plot.setLabel("bottom", "unique parameters (trained, scaled down)")
            self.frontier_note.set_text("no trained schemes yet: press Train" if not self.trained_runs
                                        else "no scheme trained to the end")
        else:
            ok = [p for p in self.scheme_points if not p.error]
            self._frontier_xy = [(p.scheme, p.unique, p.forward) for p in ok]
            self.frontier_plot.setLabel("left", "forward FLOPs")
            self.frontier_plot.setLabel("bottom", "unique parameters")
            self.frontier_note.set_text("no data yet")
        star = "none" if trained else "current"
        spots = [{"pos": (x, y), "data": name, "brush": pg.mkBrush(theme.series_color(i)),
                  "symbol": "star" if name == star else "o"} for i, (name, x, y) in enumerate(self._frontier_xy)]
        self.frontier_scatter.setData(spots)
        xs = [x for _n, x, _y in self._frontier_xy] or [1]
        ys = [y for _n, _x, y in self._frontier_xy] or [1]
        dx, dy = (max(xs) - min(xs)) or max(xs) or 1, (max(ys) - min(ys)) or max(ys) or 1
        # a margin around the points, so the view never crops a label's first or last letters
        x0, x1 = min(xs) - 0.08 * dx, max(xs) + 0.08 * dx
        y0, y1 = min(ys) - 0.12 * dy, max(ys) + 0.12 * dy
        self.frontier_plot.setXRange(x0, x1, padding=0)
        self.frontier_plot.setYRange(y0, y1, padding=0)
        self._label_frontier()
        self.frontier_note.set_empty(not self._frontier_xy)
        table = self.scheme_table
        columns = TRAINED_COLUMNS if trained else SCHEME_COLUMNS
        table.setColumnCount(len(columns))
        table.setHorizontalHeaderLabels(columns)
        if trained:
            rows = [[r.scheme, f"{r.params:,}" if r.params is not None else "-",
                     f"{r.final_val:.4f}" if r.final_val is not None else "-",
                     f"{r.best_val:.4f}" if r.best_val is not None else "-",
                     f"{r.tokens_per_s:,.0f}" if r.tokens_per_s is not None else "-", r.error]
                    for r in self.trained_runs]
        else:
            rows = [[p.title, f"{p.unique:,}" if not p.error else "-", f"{p.forward:,}" if not p.error else "-",
                     f"{p.training_bytes / (1 << 20):,.1f} MiB" if not p.error else "-", p.error]
                    for p in self.scheme_points]
        table.setRowCount(len(rows))
        for row, values in enumerate(rows):
            for col, value in enumerate(values):
                item = QTableWidgetItem(value)
                if 0 < col < len(values) - 1:
                    item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                table.setItem(row, col, item)

    def _label_frontier(self, *_args) -> None:
        """Name the frontier's points, each label inside the view (placed again when it resizes)."""
        for label in self._frontier_labels:
            self.frontier_plot.removeItem(label)
        self._frontier_labels = []
        view = self.frontier_plot.getPlotItem().vb
        (x0, x1), (y0, y1) = view.viewRange()
        width, height = (view.width(), view.height()) if view.width() > 50 else (600.0, 300.0)
        placed: list[QRectF] = []
        for name, x, y in sorted(self._frontier_xy, key=lambda p: p[0] not in ("current", "none")):
            # in pixels: the label goes right of and above its point, or left / below where the
            # view's edge is too close; a label that would overlap an earlier one shows on hover only
            px, py = (x - x0) / (x1 - x0) * width, (y1 - y) / (y1 - y0) * height
            label = pg.TextItem(name, color=theme.color("plot_label"))
            size = label.textItem.boundingRect().size()
            right, up = px + size.width() <= width, py - size.height() >= 0
            rect = QRectF(px if right else px - size.width(), py - size.height() if up else py,
                          size.width(), size.height())
            if any(rect.intersects(other) for other in placed):
                continue
            placed.append(rect)
            label.setAnchor((0.0 if right else 1.0, 1.0 if up else 0.0))
            label.setPos(x, y)
            self.frontier_plot.addItem(label, ignoreBounds=True)
            self._frontier_labels.append(label)

    # ------------------------------------------------------------------ train each scheme
    def train_config(self):
        from explorer.train.engine import TrainConfig

        steps = self.train_steps.value()
        return TrainConfig(steps=steps, batch=self.train_batch.value(), seq=self.train_seq.value(),
                           eval_every=max(1, steps // 4), eval_batches=2)

    def on_train_clicked(self) -> None:
        """Train every scheme on the scaled-down design in a worker (again: stop it)."""
        if self._train_worker is not None:
            self._train_worker.stop()
            self.train_status.setText("stopping after this step")
            return
        if self._spec is None:
            return
        from explorer.gui.workers import reserve_gui_core, start_in_thread
        from explorer.train.adapt import scale_down

        try:
            scaled, _notes = scale_down(self._spec, self.train_width.value() or None,
                                        self.train_depth.value() or None)
            config = self.train_config()
            config.check()
        except ExplorerError as err:
            self.message.emit(str(err))
            return
        reserve_gui_core()
        self.train_check.setChecked(True)
        self.trained_runs = []
        self.trained_base = self._spec
        self._show_frontier()
        worker = SchemeTrainWorker(scaled, config)
        worker.run_done.connect(self.on_trained_run)
        worker.progress.connect(self.train_status.setText)
        worker.failed.connect(self.message)
        worker.failed.connect(self._training_done)
        worker.finished.connect(self._training_done)
        self._train_worker = worker
        self._train_thread = start_in_thread(worker, self)
        self.train_button.setText("Stop")
        self.train_status.setText("starting")

    def on_trained_run(self, run) -> None:
        self.trained_runs.append(run)
        if self.train_check.isChecked():
            self._show_frontier()

    def _training_done(self, result=None) -> None:
        self._train_worker = None
        self.train_button.setText("Train")
        done = sum(r.ok for r in self.trained_runs)
        state = "failed" if isinstance(result, str) else "stopped" if getattr(result, "cancelled", False) else "done"
        self.train_status.setText(f"{state}: {done} schemes trained {self.train_steps.value()} steps")
        self._show_frontier()
        self.training_finished.emit()

    # ------------------------------------------------------------------ apply
    def _on_point_clicked(self, _item, points, *_args) -> None:
        if points is not None and len(points):
            self.apply_scheme_named(points[0].data())

    def _apply_row(self, row: int) -> None:
        if self.train_check.isChecked():
            if 0 <= row < len(self.trained_runs):
                self.apply_scheme_named(self.trained_runs[row].scheme)
        elif 0 <= row < len(self.scheme_points):
            self.apply_scheme_named(self.scheme_points[row].scheme)

    def apply_scheme_named(self, scheme: str) -> None:
        """Apply `scheme` to the design (undoable, through `apply_requested`). In "train each
        scheme" mode: to the full-size design the schemes were trained for ("none" brings that
        design back, "unshared" its unshared twin)."""
        if self.train_check.isChecked() and self.trained_base is not None:
            from explorer.design.model import unshared_twin
            from explorer.design.strategies import apply_scheme

            base = self.trained_base
            try:
                design = (base if scheme == "none" else unshared_twin(base) if scheme == "unshared"
                          else apply_scheme(base, scheme))
            except ExplorerError as err:
                self.message.emit(str(err))
                return
            if design != self._spec:
                self.apply_requested.emit(design)
            return
        for p in self.scheme_points:
            if p.scheme == scheme and p.design is not None and scheme != "current":
                self.apply_requested.emit(p.design)
                return
