"""Sweeps in the app: sequence length (attention vs FFN, crossover marked and said in words),
depth (unique parameters per scheme) and the scheme frontier (click a point to apply it).

The frontier's "train each scheme" mode trains none, the unshared twin and every scheme (scaled
down first) with one TrainConfig in a worker thread (explorer/train/sweep.py, as `explorer sweep
--schemes --train-steps N`), and plots validation loss against unique parameters as rows arrive.
Its "time each scheme" mode times the same points' forward pass (`explorer sweep --schemes --device
DEV`) and plots the median time against unique parameters. Both run "on the cluster" when a Ray
address is set (Cluster > Ray address…): one Ray task per point (explorer/cluster/ray_backend.py),
each row shown as it finishes, with where it ran."""

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
TRAINED_COLUMNS = ["scheme", "unique params (trained)", "final val loss", "best val loss", "tokens/s", "where",
                   "note"]
TIMED_COLUMNS = ["scheme", "unique params", "median ms", "forward FLOPs", "where", "note"]


class SchemeTrainWorker(_TimingWorker):
    """Trains every scheme on the (scaled) design, one after another; stop() ends the run in
    progress and skips the rest. torch is imported here, in the worker's thread."""

    run_done = Signal(object)       # train.sweep.SchemeRun, in order
    progress = Signal(str)
    finished = Signal(object)       # train.sweep.SchemeSweep (cancelled=True after Stop)
    failure = "training the schemes failed"

    def __init__(self, spec, config, only: list[str] | None = None) -> None:
        super().__init__()
        self.spec, self.config, self.only = spec, config, only

    def work(self) -> None:
        from explorer.train.sweep import train_schemes

        self.finished.emit(train_schemes(self.spec, self.config, only=self.only, on_run=self.run_done.emit,
                                         progress=self.progress.emit, should_stop=self._stop.is_set))


class PointSweepWorker(_TimingWorker):
    """Runs sweep points (explorer/cluster/points.py) on the Ray cluster at `address`, one task
    each, or in this process when `address` is empty; `row_done(row)` as each finishes, then
    `finished(rows)` in the points' order (Stop: the rest say they were stopped)."""

    connected = Signal(list)        # ray_backend.devices(), once the cluster is joined
    row_done = Signal(object)       # one row dict, in finishing order
    finished = Signal(object)       # every row, in the points' order
    failure = "the sweep failed"

    def __init__(self, points: list, address: str = "", connect_timeout_s: float = 15.0) -> None:
        super().__init__()
        self.points, self.address, self.connect_timeout_s = points, address, connect_timeout_s

    def work(self) -> None:
        from explorer.cluster import ray_backend

        if not self.address:
            self.finished.emit(ray_backend.run_local(self.points, on_row=self.row_done.emit,
                                                     should_stop=self._stop.is_set))
            return
        from explorer.gui.cluster_settings import connect, local_cpus

        ray = connect(self.address, self.connect_timeout_s)
        self.connected.emit(ray_backend.devices(ray))
        self.finished.emit(ray_backend.run_points(self.points, self.address, on_row=self.row_done.emit,
                                                  should_stop=self._stop.is_set, num_cpus=local_cpus()))


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
    points_finished = Signal()      # a timed or cluster sweep ended (done, stopped or failed)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.scheme_points: list[sweeps.SchemePoint] = []
        self.trained_runs: list = []                # train.sweep.SchemeRun, as they arrive
        self.trained_base = None                    # the full-size design they were trained for
        self._frontier_xy: list[tuple[str, float, float]] = []     # (scheme, x, y) on the plot
        self._train_thread = None
        self._train_worker = None
        self.timed_rows: list[dict] = []            # one per scheme: a row of explorer/cluster/points.py
        self.timed_base = None                      # the design they were timed for
        self.trained_where: dict[str, str] = {}     # scheme -> where it trained (cluster runs)
        self._points_thread = None
        self._points_worker = None
        self._points_kind = ""                      # "measure" | "train" while a point sweep runs
        self.ray_address = ""
        self.connect_timeout_s = 15.0
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
                f"validation loss {y:.4f}" if self.mode() == "trained" else f"median {y:.3f} ms"
                if self.mode() == "timed" else f"{y:,.0f} FLOPs")
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
        self.train_check.toggled.connect(lambda on: on and self.time_check.setChecked(False))
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
        self.time_check = QCheckBox("time each scheme", toolTip=(
            "Build none, the unshared twin and every scheme and time a forward pass of each, and plot the median "
            "time against unique parameters (as `explorer sweep --schemes --device DEV`)"))
        self.time_check.toggled.connect(lambda on: on and self.train_check.setChecked(False))
        self.time_check.toggled.connect(self._show_frontier)
        self.time_device = QComboBox(toolTip="Where each scheme is timed (on the cluster: Ray gives a CUDA point "
                                             "one GPU of a node that has one)")
        self.time_device.addItems(["cpu"] + (["cuda"] if _cuda_count() else []))
        self.time_iters = QSpinBox(minimum=1, maximum=10_000, value=10, toolTip="Timed forward passes per scheme "
                                                                                "(after one warm-up pass)")
        self.time_seq = QSpinBox(minimum=1, maximum=1 << 20, value=128, toolTip="Sequence length (batch 1)")
        self.only_edit = QLineEdit(placeholderText="all schemes", toolTip=(
            "Only these schemes, e.g. albert,cycle (none and the unshared twin always run); for Train and Time"))
        self.time_button = QPushButton("Time", toolTip="Time every scheme in the background (Stop ends it)")
        self.time_button.clicked.connect(self.on_time_clicked)
        self.time_status = QLabel("", toolTip="What the timed or cluster sweep is doing")
        self.cluster_check = QCheckBox("on the cluster", toolTip=(
            "Train and Time run each scheme as a Ray task at the address set in Cluster > Ray address…"))
        self.cluster_check.toggled.connect(self._on_cluster_toggled)
        timing = QHBoxLayout()
        timing.addWidget(self.time_check)
        for label, widget in (("device", self.time_device), ("iters", self.time_iters), ("seq", self.time_seq),
                              ("only", self.only_edit)):
            timing.addWidget(QLabel(label))
            timing.addWidget(widget)
        timing.addWidget(self.time_button)
        timing.addWidget(self.cluster_check)
        timing.addWidget(self.time_status, 1)
        from explorer.gui.cluster_settings import ray_address

        self.set_ray_address(ray_address())
        layout = QVBoxLayout(w)
        layout.addLayout(controls)
        layout.addLayout(timing)
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
        for worker, thread in ((self._timing_worker, self._timing_thread), (self._train_worker, self._train_thread),
                               (self._points_worker, self._points_thread)):
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

    def mode(self) -> str:
        """"trained", "timed" or "analysis": what the frontier shows."""
        return "trained" if self.train_check.isChecked() else "timed" if self.time_check.isChecked() else "analysis"

    def _show_frontier(self, *_args) -> None:
        """The analysis frontier (forward FLOPs), or with "train each scheme" the trained one, or with
        "time each scheme" the timed one."""
        mode = self.mode()
        trained = mode == "trained"
        timed_ok = [r for r in self.timed_rows if not r.get("error") and r.get("median_ms") is not None]
        if mode == "timed":
            self._frontier_xy = [(r["label"], r["unique_params"], r["median_ms"]) for r in timed_ok]
            self.frontier_plot.setLabel("left", "median forward ms (measured)")
            self.frontier_plot.setLabel("bottom", "unique parameters")
            self.frontier_note.set_text("no timed schemes yet: press Time" if not self.timed_rows
                                        else "no scheme timed yet")
        elif trained:
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
        star = "current" if mode == "analysis" else "none"
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
        columns = {"trained": TRAINED_COLUMNS, "timed": TIMED_COLUMNS}.get(mode, SCHEME_COLUMNS)
        table.setColumnCount(len(columns))
        table.setHorizontalHeaderLabels(columns)
        if trained:
            rows = [[r.scheme, f"{r.params:,}" if r.params is not None else "-",
                     f"{r.final_val:.4f}" if r.final_val is not None else "-",
                     f"{r.best_val:.4f}" if r.best_val is not None else "-",
                     f"{r.tokens_per_s:,.0f}" if r.tokens_per_s is not None else "-",
                     self.trained_where.get(r.scheme, ""), r.error]
                    for r in self.trained_runs]
        elif mode == "timed":
            rows = [[r["label"], f"{r['unique_params']:,}" if r.get("unique_params") is not None else "-",
                     f"{r['median_ms']:.3f}" if r.get("median_ms") is not None else "-",
                     f"{r['forward_flops']:,}" if r.get("forward_flops") is not None else "-",
                     r.get("where", ""), r.get("error") or ("waiting" if r.get("pending") else "")]
                    for r in self.timed_rows]
        else:
            rows = [[p.title, f"{p.unique:,}" if not p.error else "-", f"{p.forward:,}" if not p.error else "-",
                     f"{p.training_bytes / (1 << 20):,.1f} MiB" if not p.error else "-", p.error]
                    for p in self.scheme_points]
        table.setRowCount(len(rows))
        for row, values in enumerate(rows):
            for col, value in enumerate(values):
                item = QTableWidgetItem(value)
                if 0 < col < len(values) - 1 and columns[col] != "where":
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
        if self._points_worker is not None:
            if self._points_kind == "train":
                self._stop_points()
            else:
                self.message.emit("the schemes are being timed: stop that first")
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
            only = self.only()
        except ExplorerError as err:
            self.message.emit(str(err))
            return
        if self.on_cluster():
            options = {f: getattr(config, f) for f in config.__dataclass_fields__}
            self.train_check.setChecked(True)
            self.trained_base = self._spec
            self._start_points("train", scaled, options, only)
            return
        reserve_gui_core()
        self.train_check.setChecked(True)
        self.trained_runs = []
        self.trained_where = {}
        self.trained_base = self._spec
        self._show_frontier()
        worker = SchemeTrainWorker(scaled, config, only)
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

    # ------------------------------------------------------------------ time each scheme, and the cluster
    def set_ray_address(self, address: str) -> None:
        """The address of Cluster > Ray address… ("" : none, the "on the cluster" box is disabled)."""
        self.ray_address = (address or "").strip()
        self.cluster_check.setEnabled(bool(self.ray_address))
        if not self.ray_address:
            self.cluster_check.setChecked(False)
        self.cluster_check.setText(f"on the cluster ({self.ray_address})" if self.ray_address else "on the cluster")
        self.cluster_check.setToolTip(
            f"Train and Time run each scheme as a Ray task at {self.ray_address}" if self.ray_address
            else "Set a Ray address in Cluster > Ray address… to run Train and Time on a cluster")

    def set_cluster_devices(self, devices: list) -> None:
        """What the cluster offers (ray_backend.devices): a cluster with GPUs offers "cuda" points."""
        if any(d.get("gpus") for d in devices) and self.time_device.findText("cuda") < 0:
            self.time_device.addItem("cuda")

    def _on_cluster_toggled(self, on: bool) -> None:
        if self._points_worker is None and self._train_worker is None:
            self.time_status.setText(f"Train and Time run on {self.ray_address}" if on else "")

    def on_cluster(self) -> bool:
        return bool(self.ray_address) and self.cluster_check.isEnabled() and self.cluster_check.isChecked()

    def only(self) -> list[str] | None:
        """The schemes of the only field (None: all); SpecError names an unknown one."""
        from explorer.train.sweep import parse_only

        text = self.only_edit.text().strip()
        return parse_only(text) if text else None

    def time_options(self) -> dict:
        return {"device": self.time_device.currentText(), "dtype": "fp32", "batch": 1, "seq": self.time_seq.value(),
                "iters": self.time_iters.value(), "warmup": 1}

    def on_time_clicked(self) -> None:
        """Time every scheme in a worker, here or on the cluster (again: stop it)."""
        if self._points_worker is not None:
            if self._points_kind == "measure":
                self._stop_points()
            else:
                self.message.emit("the schemes are training on the cluster: stop that first")
            return
        if self._train_worker is not None:
            self.message.emit("the schemes are training: stop that first")
            return
        if self._spec is None:
            return
        try:
            only = self.only()
        except ExplorerError as err:
            self.message.emit(str(err))
            return
        self.time_check.setChecked(True)
        self.timed_base = self._spec
        self._start_points("measure", self._spec, self.time_options(), only)

    def _start_points(self, kind: str, spec, options: dict, only: list[str] | None) -> None:
        """Sweep points of `kind` in a PointSweepWorker: on the cluster, or in this process."""
        from explorer.cluster.sweep import scheme_points
        from explorer.gui.workers import reserve_gui_core, start_in_thread

        try:
            points, skipped = scheme_points(spec, kind, options, only)
        except ExplorerError as err:
            self.message.emit(str(err))
            return
        address = self.ray_address if self.on_cluster() else ""
        if not address:
            reserve_gui_core()
        self._points_kind = kind
        self._point_order = [p.label for p in points] + [r["label"] for r in skipped]
        self._point_rows = {r["label"]: dict(r) for r in skipped}
        self._points_total = len(points)
        self._points_stopping = False
        self._points_received = 0
        self._fill_point_rows()
        worker = PointSweepWorker(points, address, self.connect_timeout_s)
        worker.connected.connect(self._on_points_connected)
        worker.row_done.connect(self.on_point_row)
        worker.failed.connect(self.message)
        worker.failed.connect(self._points_done)
        worker.finished.connect(self._points_done)
        self._points_worker = worker
        self._points_thread = start_in_thread(worker, self)
        (self.train_button if kind == "train" else self.time_button).setText("Stop")
        self._points_status().setText(f"connecting to {address}" if address else "starting")

    def _points_status(self) -> QLabel:
        return self.train_status if self._points_kind == "train" else self.time_status

    def _on_points_connected(self, devices: list) -> None:
        from explorer.gui.cluster_settings import describe

        self.set_cluster_devices(devices)
        self._points_status().setText(f"running on {describe(devices)}")

    def on_point_row(self, row: dict) -> None:
        """One finished point (in finishing order): into its place in the table and the plot."""
        self._point_rows[row["label"]] = dict(row)
        self._points_received += 1
        self._fill_point_rows()
        self._points_status().setText(f"{row['label']} {'failed' if row.get('error') else 'done'} "
                                      f"({row.get('where') or '-'}) [{self._points_received}/{self._points_total}]")

    def _fill_point_rows(self) -> None:
        rows = [self._point_rows.get(label) or {"label": label, "where": "", "error": "", "pending": True}
                for label in self._point_order]
        if self._points_kind == "measure":
            self.timed_rows = rows
        else:
            from explorer.train.sweep import SchemeRun

            self.trained_runs = [SchemeRun(r["label"], r["label"], params=r.get("unique_params"),
                                           final_val=r.get("final_val_loss"), best_val=r.get("best_val_loss"),
                                           tokens_per_s=r.get("tokens_per_s"),
                                           error=r.get("error") or ("waiting" if r.get("pending") else ""))
                                 for r in rows]
            self.trained_where = {r["label"]: r.get("where", "") for r in rows}
        self._show_frontier()

    def _stop_points(self) -> None:
        self._points_stopping = True
        self._points_worker.stop()
        self._points_status().setText("stopping")

    def _points_done(self, result=None) -> None:
        kind = self._points_kind
        if isinstance(result, list):
            for row in result:
                self._point_rows[row["label"]] = dict(row)
        self._fill_point_rows()
        self._points_worker = None
        self.train_button.setText("Train")
        self.time_button.setText("Time")
        rows = [self._point_rows.get(label, {}) for label in self._point_order]
        ok = sum(1 for r in rows if not r.get("error") and r.get("unique_params") is not None)
        state = ("failed" if isinstance(result, str) else "stopped" if self._points_stopping else "done")
        what = "timed" if kind == "measure" else f"trained {self.train_steps.value()} steps"
        line = f"{state}: {ok} schemes {what}" + (f": {' '.join(result.split())}" if isinstance(result, str) else "")
        self._points_status().setText(line)
        self.points_finished.emit()
        if kind == "train":
            self.training_finished.emit()

    # ------------------------------------------------------------------ apply
    def _on_point_clicked(self, _item, points, *_args) -> None:
        if points is not None and len(points):
            self.apply_scheme_named(points[0].data())

    def _apply_row(self, row: int) -> None:
        if self.mode() == "timed":
            if 0 <= row < len(self.timed_rows):
                self.apply_scheme_named(self.timed_rows[row]["label"])
        elif self.train_check.isChecked():
            if 0 <= row < len(self.trained_runs):
                self.apply_scheme_named(self.trained_runs[row].scheme)
        elif 0 <= row < len(self.scheme_points):
            self.apply_scheme_named(self.scheme_points[row].scheme)

    def apply_scheme_named(self, scheme: str) -> None:
        """Apply `scheme` to the design (undoable, through `apply_requested`). In "train each
        scheme" mode: to the full-size design the schemes were trained for ("none" brings that
        design back, "unshared" its unshared twin)."""
        base = {"trained": self.trained_base, "timed": self.timed_base}.get(self.mode())
        if base is not None:
            from explorer.design.model import unshared_twin
            from explorer.design.strategies import apply_scheme

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
