"""Run panel: build the real model on a device and stream forward-pass times into a live plot.

The design and its unshared twin are timed interleaved (A, B, A, B) by a BenchWorker in a
QThread; samples arrive by signal into bounded buffers and a QTimer redraws at <= 20 Hz.
With Live on, every design change re-times it (debounced, the previous run cancelled), and
each design version stays on the plot as its own labelled segment.

With a Ray address set (Cluster > Ray address…), the device list also offers the cluster's
devices (gui/device_choice.py: "ray: cpu @ NODE", "ray: cuda NAME MEMORY xN @ NODE"): a run on
one is timed there by cluster/remote_run.py, its samples streamed back to the same plot and readout.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
import statistics
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path

import pyqtgraph as pg
from PySide6.QtCore import Qt, QThread, QTimer, Signal
from PySide6.QtWidgets import (QCheckBox, QComboBox, QFormLayout, QGridLayout, QHBoxLayout, QLabel, QPushButton,
                               QSpinBox, QVBoxLayout, QWidget)

from explorer.readouts import bench_readout_lines
from explorer.gui import theme
from explorer.gui.axes import EmptyNote, IntegerAxis, LabelAxis, LegendRow, PlainAxis
from explorer.gui.run_source import SourcedLabel
from explorer.gui.plot_export import export_csv, export_plot, save_plot_dialog
from explorer.gui.device_choice import DeviceChoice, join_for_run
from explorer.gui.workers import BenchWorker, JobWorker, prune_ended, quit_and_wait, start_in_thread

MAX_POINTS = 5000          # per series on the plot: older passes scroll out
MAX_SEGMENTS = 50          # design versions kept on the plot (and in its CSV): older ones scroll out
CSV_HEADER = ("segment", "label", "series", "warmup", "iteration", "ms")


class RemoteBenchWorker(JobWorker):
    """Times one design on the cluster (cluster/remote_run.py), with BenchWorker's signals:
    samples, progress and the built report streamed back; Stop is honoured within one iteration."""

    sample = Signal(object)         # bench.config.Sample
    progress = Signal(str)
    built = Signal(object)          # BenchResult once the models exist
    finished = Signal(object)       # BenchResult
    failure = "the cluster timing run failed"

    def __init__(self, spec, config, node: str, address: str) -> None:
        super().__init__()
        self.spec, self.config, self.node, self.address = spec, config, node, address

    def work(self) -> None:
        from explorer.cluster import remote_run
        from explorer.design import yaml_io

        ray = join_for_run(self.address, self.node, self.progress.emit)
        result, _where = remote_run.run_remote(
            ray, yaml_io.dumps(self.spec), dataclasses.asdict(self.config), node=self.node,
            on_sample=self.sample.emit, on_progress=lambda line: self.progress.emit(f"{line} (on {self.node})"),
            on_built=lambda r: self.built.emit(self._here(r)), should_stop=self._stop.is_set)
        self.finished.emit(self._here(result))

    def _here(self, result):
        """The readout's device line names the node it ran on."""
        result.device_name = f"{result.device_name} @ {self.node} (Ray)"
        return result


@dataclass
class Segment:
    """One timed design version on the plot."""

    label: str
    start_x: int
    number: int = 1                                      # 1 for the panel's first run, counting on
    design: list[float] = field(default_factory=list)
    twin: list[float] = field(default_factory=list)
    warmup_design: list[tuple[int, float]] = field(default_factory=list)
    source: str = ""                  # the design file it timed, once another was opened


class RunPanel(QWidget):
    """Device/dtype/batch/seq/mode controls, Start/Stop, the live timing plot and its readout."""

    message = Signal(str)            # one line for the status bar
    run_finished = Signal(object)    # BenchResult

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._spec = None
        self._version = 0
        self._thread: QThread | None = None
        self._threads: list[QThread] = []
        self._restart_after = False
        self._worker: BenchWorker | None = None
        # bounded history (STYLE rule 8): the last MAX_SEGMENTS runs; each series is one plot item
        # fed by setData from its own deque of points, appended to as samples arrive
        self.segments: deque[Segment] = deque(maxlen=MAX_SEGMENTS)
        self._segment_numbers = itertools.count(1)
        self._points = {name: (deque(maxlen=MAX_POINTS), deque(maxlen=MAX_POINTS))
                        for name in ("design", "twin", "median", "warmup")}
        self.last_result = None
        self.baseline: tuple[str, float] | None = None      # pinned run: (label, median ms)
        self._built = None                                  # BenchResult copy of the run in progress
        self._x = 0
        self._build_ui()
        self._redraw_timer = QTimer(self, interval=50, singleShot=True, timeout=self._redraw)
        self._live_timer = QTimer(self, interval=600, singleShot=True, timeout=self._live_restart)
        self._probe_devices()

    # ------------------------------------------------------------------ UI
    def _build_ui(self) -> None:
        self.device_combo = QComboBox(toolTip="Where the model is built and timed (CUDA/MPS appear when present; "
                                                "with a Ray address set, the cluster's devices too)")
        self.device_combo.addItem("cpu")
        self.dtype_combo = QComboBox(toolTip="Weight and activation dtype of the built model")
        self.dtype_combo.addItems(["fp32", "bf16", "fp16"])
        self.batch_spin = QSpinBox(minimum=1, maximum=4096, value=2, toolTip="Batch size of each timed pass")
        self.seq_spin = QSpinBox(minimum=1, maximum=1 << 20, value=128, toolTip="Sequence length of each pass")
        self.mode_combo = QComboBox(toolTip="forward (inference_mode) or a training step (forward, cross-entropy "
                                            "on the LM heads' logits, backward; what autograd saves for backward "
                                            "is measured beside the analysis)")
        self.mode_combo.addItems(["forward", "train"])
        self.iters_spin = QSpinBox(minimum=1, maximum=100000, value=30, toolTip="Measured iterations per series")
        self.warmup_spin = QSpinBox(minimum=0, maximum=1000, value=3,
                                    toolTip="Warm-up iterations, drawn apart and left out of the statistics")
        self.compile_check = QCheckBox("torch.compile", toolTip="Compile the model before timing (slow first pass)")
        self.twin_check = QCheckBox("unshared twin", checked=True,
                                    toolTip="Time the same architecture without sharing, interleaved A, B, A, B")
        self.live_check = QCheckBox("Live", toolTip="Re-time on every edit of the design (debounced)")
        self.start_button = QPushButton("Start", toolTip="Build the model on the device and start timing")
        self.stop_button = QPushButton("Stop", enabled=False, toolTip="Cancel the run after the current iteration")
        self.pin_button = QPushButton("Pin as baseline", enabled=False, checkable=True,
                                      toolTip="Keep the last run's median as a reference line; later runs "
                                              "report their ratio to it")
        self.start_button.clicked.connect(self.start)
        self.stop_button.clicked.connect(self.stop)
        self.pin_button.toggled.connect(self.on_pin_toggled)
        self.live_check.toggled.connect(self.on_live_toggled)

        form = QGridLayout()
        for col, (label, widget) in enumerate([("device", self.device_combo), ("dtype", self.dtype_combo),
                                               ("batch", self.batch_spin), ("seq", self.seq_spin),
                                               ("mode", self.mode_combo), ("iters", self.iters_spin),
                                               ("warm-up", self.warmup_spin)]):
            form.addWidget(QLabel(label), 0, col)
            form.addWidget(widget, 1, col)
        buttons = QHBoxLayout()
        for w in (self.compile_check, self.twin_check, self.live_check):
            buttons.addWidget(w)
        buttons.addStretch(1)
        self.save_button = QPushButton("Save…", toolTip="Save the plot as PNG or SVG, or its samples as CSV "
                                                       "(one row per timed pass)")
        self.save_button.clicked.connect(lambda: save_plot_dialog(self, self.plot, "timing", samples=self.sample_rows))
        buttons.addWidget(self.save_button)
        buttons.addWidget(self.pin_button)
        buttons.addWidget(self.start_button)
        buttons.addWidget(self.stop_button)

        self.segment_axis = LabelAxis("top")
        self.plot = pg.PlotWidget(background=None, axisItems={"left": PlainAxis("left"),
                                                               "bottom": IntegerAxis("bottom"),
                                                               "top": self.segment_axis})
        self.plot.setLabel("left", "ms per pass")
        self.plot.setLabel("bottom", "iteration")
        self.plot.showAxis("top")
        self.segment_axis.setToolTip("Each run (with Live on, each design version) is its own segment")
        self.plot.showGrid(x=True, y=True, alpha=0.25)
        self.legend = LegendRow(self.plot.getPlotItem())
        self.empty_note = EmptyNote(self.plot.getPlotItem(),
                                    "no passes yet: Start a run, or tick Live to time every edit")
        self.design_curve = self.plot.plot([], [], pen=theme.pen("design", 2), name="design")
        self.twin_curve = self.plot.plot([], [], pen=theme.pen("twin", 2), name="unshared twin")
        self.median_curve = self.plot.plot([], [], pen=theme.pen("median", 1, Qt.PenStyle.DashLine),
                                           name="design, running median")
        for curve in (self.design_curve, self.twin_curve, self.median_curve):
            curve.setData([], [], connect="finite")         # a NaN ends a segment: never joined to the next
        self.warmup_scatter = pg.ScatterPlotItem(size=6, brush=theme.brush("warmup"), pen=None)
        self.plot.addItem(self.warmup_scatter)
        self.legend.addItem(self.warmup_scatter, "warm-up")
        # a dotted line where each later segment starts: at most MAX_SEGMENTS, the oldest reused
        self._boundaries: deque[pg.InfiniteLine] = deque()
        self.baseline_line = pg.InfiniteLine(angle=0, movable=False,
                                             pen=theme.pen("baseline", 1.5, Qt.PenStyle.DashDotLine),
                                             label="baseline", labelOpts={"position": 0.02,
                                                                          "color": theme.color("baseline"),
                                                                          "anchors": [(0, 1), (0, 1)]})
        self.baseline_line.setVisible(False)
        self.plot.addItem(self.baseline_line, ignoreBounds=True)

        self.status_label = QLabel("idle", toolTip="What the worker is doing")
        self.readout = SourcedLabel(textInteractionFlags=Qt.TextInteractionFlag.TextSelectableByMouse,
                              toolTip="Statistics exclude warm-up iterations")
        self.readout.setWordWrap(True)
        info = QFormLayout()
        info.addRow("status", self.status_label)
        info.addRow("measured", self.readout)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addLayout(form)
        layout.addLayout(buttons)
        layout.addWidget(self.plot, 1)
        layout.addLayout(info)

    def _probe_devices(self) -> None:
        self.devices = DeviceChoice(self.device_combo, self)
        self.devices.message.connect(self.message)
        self.devices.probe()

    def probe_cluster(self, address: str | None = None) -> None:
        """List the cluster's devices (at the app's Ray address unless given) after this machine's."""
        self.devices.probe_cluster(address)

    def set_cluster_devices(self, devices: list, address: str | None = None) -> None:
        self.devices.set_cluster_devices(devices, address)

    def device(self) -> str:
        """The chosen device ("cpu", "cuda:0", "mps", or a cluster's "ray:cpu@NODE")."""
        return self.devices.device()

    # ------------------------------------------------------------------ design in
    def set_spec(self, spec, label: str | None = None) -> None:
        """The design to time; with Live on, schedules a re-run."""
        self._spec = spec
        self._version += 1
        self._pending_label = label or f"v{self._version}"
        if self.live_check.isChecked():
            self._live_timer.start()

    def on_live_toggled(self, on: bool) -> None:
        if on and self._spec is not None:
            self._live_timer.start()

    def _live_restart(self) -> None:
        if self.is_running():
            self._restart_after = True          # start again once the cancelled run has ended
            self.stop()
            return
        self.start()

    def _after_run(self) -> None:
        self._worker = None
        self.start_button.setEnabled(True)
        self.stop_button.setEnabled(False)
        if self._restart_after:
            self._restart_after = False
            QTimer.singleShot(0, self.start)

    def label_runs_from(self, source: str) -> None:
        """Another design was opened: the segments timed so far, and the readout, say which file
        they came from ("my.yaml"); the next run's segment is the design now open."""
        for seg in self.segments:
            if not seg.source:
                seg.source = source
                seg.label = f"{seg.label} · from {source}"
        if self.segments and not self.readout.source:
            self.readout.set_source(source)
        self._redraw()

    # ------------------------------------------------------------------ run
    def config(self):
        from explorer.bench.config import BenchConfig

        return BenchConfig(device=self.devices.run_device(), dtype=self.dtype_combo.currentText(),
                           batch=self.batch_spin.value(), seq=self.seq_spin.value(), iters=self.iters_spin.value(),
                           warmup=self.warmup_spin.value(), mode=self.mode_combo.currentText(),
                           compile=self.compile_check.isChecked(), twin=self.twin_check.isChecked())

    def is_running(self) -> bool:
        """A worker is building or timing (its thread may linger a moment after it reports)."""
        return self._worker is not None

    def start(self) -> None:
        if self._spec is None or self.is_running():
            return
        self.readout.set_source("")                   # this run is of the design now open
        self._begin_segment(getattr(self, "_pending_label", "v1"))
        remote = self.devices.remote()
        if remote is not None:
            worker = RemoteBenchWorker(self._spec, self.config(), remote[1], self.devices.cluster_address)
        else:
            worker = BenchWorker(self._spec, self.config())
        worker.sample.connect(self.on_worker_sample)
        worker.progress.connect(self.status_label.setText)
        worker.built.connect(self.on_worker_built)
        worker.finished.connect(self.on_worker_finished)
        worker.failed.connect(self.on_worker_failed)
        self._worker = worker
        self._built = None
        prune_ended(self._threads)
        self._thread = start_in_thread(worker, self)
        self._threads.append(self._thread)
        self.start_button.setEnabled(False)
        self.stop_button.setEnabled(True)
        self.status_label.setText("starting")

    def stop(self) -> None:
        if self._worker is not None:
            self._worker.stop()
            self.status_label.setText("stopping after this iteration")

    def shutdown(self, timeout_ms: int = 2000) -> list[QThread]:
        """Cancel any run and wait up to `timeout_ms` for the threads (window closing). Returns
        those still running: a pass in progress ends before its thread can (see MainWindow)."""
        self._live_timer.stop()
        self.stop()
        self._restart_after = False
        running = quit_and_wait(self._threads + self.devices.threads(), timeout_ms)
        if not running:
            self._worker = None
        return running

    def _begin_segment(self, label: str) -> Segment:
        """A new run's segment on the plot, after a gap and a dotted line (the oldest scroll out)."""
        segment = Segment(label, self._x, next(self._segment_numbers))
        if self.segments:
            for name in ("design", "twin", "median"):    # a NaN: the lines never join two runs
                xs, ys = self._points[name]
                if xs:
                    xs.append(segment.start_x - 0.5)
                    ys.append(math.nan)
            if len(self._boundaries) >= MAX_SEGMENTS - 1:
                boundary = self._boundaries.popleft()      # the same item, moved: no item per run
                boundary.setPos(segment.start_x - 0.5)
            else:
                boundary = pg.InfiniteLine(segment.start_x - 0.5, angle=90, movable=False,
                                           pen=theme.pen("neutral", 1, Qt.PenStyle.DotLine))
                self.plot.addItem(boundary, ignoreBounds=True)
            self._boundaries.append(boundary)
        self.segments.append(segment)
        return segment

    # ------------------------------------------------------------------ samples in
    def on_worker_sample(self, sample) -> None:
        seg = self.segments[-1]
        x0 = seg.start_x + len(seg.warmup_design)
        if sample.warmup:
            if sample.series == "design":
                seg.warmup_design.append((self._x, sample.ms))
                self._append("warmup", self._x, sample.ms)
                self._x += 1
        elif sample.series == "design":
            x = x0 + len(seg.design)
            seg.design.append(sample.ms)
            self._append("design", x, sample.ms)
            self._append("median", x, statistics.median(seg.design[-10:]))   # of the last 10 passes
            self._x += 1
        else:
            self._append("twin", x0 + len(seg.twin), sample.ms)
            seg.twin.append(sample.ms)
        if not self._redraw_timer.isActive():            # at most 20 redraws a second
            self._redraw_timer.start()

    def _append(self, series: str, x: float, y: float) -> None:
        xs, ys = self._points[series]
        xs.append(x)
        ys.append(y)

    def _redraw(self) -> None:
        """setData on each series' one item from its bounded buffer; nothing is recreated."""
        for curve, name in ((self.design_curve, "design"), (self.twin_curve, "twin"),
                            (self.median_curve, "median")):
            xs, ys = self._points[name]
            curve.setData(list(xs), list(ys), connect="finite")
        wx, wy = self._points["warmup"]
        self.warmup_scatter.setData(list(wx), list(wy))
        spans = []
        for seg in self.segments:
            x0 = seg.start_x + len(seg.warmup_design)
            spans.append((seg.start_x - 0.5, x0 + max(len(seg.design), len(seg.twin)) - 0.5, seg.label))
        self.segment_axis.set_spans(spans)
        self.empty_note.set_empty(not any(ys for name, (_xs, ys) in self._points.items()
                                          if name != "median"))
        if self._built is not None and self.segments:
            seg = self.segments[-1]
            live = dataclasses.replace(self._built, design=dataclasses.replace(self._built.design,
                                                                                samples_ms=list(seg.design)))
            if live.twin is not None:
                live.twin = dataclasses.replace(live.twin, samples_ms=list(seg.twin))
            self.readout.setText(self.describe(live, self.baseline))

    def sample_rows(self) -> tuple[tuple[str, ...], list[tuple]]:
        """The samples on the plot as CSV rows, one per timed pass: (segment, label, series, warmup,
        iteration, ms); `iteration` is the plot's x (the twin's pass i sits beside the design's)."""
        rows = []
        for seg in self.segments:
            number = seg.number
            x0 = seg.start_x + len(seg.warmup_design)
            rows += [(number, seg.label, "design", 1, x, ms) for x, ms in seg.warmup_design]
            rows += [(number, seg.label, "design", 0, x0 + i, ms) for i, ms in enumerate(seg.design)]
            rows += [(number, seg.label, "twin", 0, x0 + i, ms) for i, ms in enumerate(seg.twin)]
        return CSV_HEADER, rows

    def export(self, path: str | Path) -> Path:
        """The plot as .png or .svg, or its samples as .csv (by the suffix)."""
        if Path(path).suffix.lower() == ".csv":
            return export_csv(path, *self.sample_rows())
        return export_plot(self.plot, path)

    def on_worker_built(self, info) -> None:
        """The models exist: show torch's counts and the weights' memory before the first sample."""
        self._built = info
        self.readout.setText(self.describe(info, self.baseline))

    def on_worker_finished(self, result) -> None:
        self._built = None
        self._redraw()
        self.last_result = result
        self.readout.setText(self.describe(result, self.baseline))
        self.status_label.setText("stopped" if result.cancelled else "done")
        self.pin_button.setEnabled(bool(result.design.samples_ms) or self.pin_button.isChecked())
        self._after_run()
        self.run_finished.emit(result)

    def on_pin_toggled(self, on: bool) -> None:
        """Pin the last run's median as the baseline (a line on the plot), or unpin it."""
        result = self.last_result
        if on and result is not None and result.design.samples_ms:
            label = self.segments[-1].label if self.segments else "run"
            self.baseline = (label, result.design.median_ms)
            self.baseline_line.setVisible(True)       # first: a hidden label ignores new text
            self.baseline_line.setPos(self.baseline[1])
            self.baseline_line.label.setFormat(f"baseline {label}: {self.baseline[1]:.2f} ms")
            self.pin_button.setText("Unpin baseline")
        else:
            self.baseline = None
            self.baseline_line.setVisible(False)
            self.pin_button.setText("Pin as baseline")
            self.pin_button.setEnabled(result is not None and bool(result.design.samples_ms))
        if result is not None and not self.is_running():
            self.readout.setText(self.describe(result, self.baseline))

    def on_worker_failed(self, message: str) -> None:
        self._built = None
        self.status_label.setText("failed")
        self.readout.setText(message)
        self._after_run()
        self.message.emit(message)

    @staticmethod
    def describe(result, baseline: tuple[str, float] | None = None) -> str:
        """The readout: timing (live or final), counts checked against the analysis, memory, device;
        the same lines `explorer bench` prints (explorer/readouts.py)."""
        return "\n".join(bench_readout_lines(result, baseline))
