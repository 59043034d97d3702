"""Train tab: train the design beside its unshared twin on data that needs no download, watch
the losses live, then compare what each model's layers compute (linear CKA, layer by layer).

"Pin design as baseline" keeps the current design (as set_spec gave it, before any scale-down);
while pinned, every run also trains it, scaled down the same way, as a third series ("baseline",
the Timing tab's baseline color) on the same batches: its curves, its readout row and its own
CKA heatmap. The pin outlives design edits; Unpin drops it from the next run.

`explorer.train.engine.train` runs in a TrainWorker in a QThread (torch is imported there,
never on the GUI thread); each step and evaluation arrive by signal into plain lists and a
QTimer redraws at <= 20 Hz. Stop is seen by the engine before the next step. When the run
ends the worker computes the CKA matrices on validation batches from the trained models and
sends them with the result; the readout is `explorer train`'s (cli/formatters.py) plus the
validation loss at equal steps. Errors are one line in the status, never a dialog.
"""

from __future__ import annotations

import math
import threading
from itertools import accumulate

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, QThread, QTimer, Signal
from PySide6.QtGui import QPalette, QFontDatabase
from PySide6.QtWidgets import (QCheckBox, QComboBox, QFileDialog, QGridLayout, QHBoxLayout, QLabel, QLineEdit,
                               QPlainTextEdit, QPushButton, QSpinBox, QSplitter, QVBoxLayout, QWidget)

from explorer.cli.formatters import train_readout_lines
from explorer.errors import ExplorerError, SpecError
from explorer.gui import theme
from explorer.gui.axes import EmptyNote, LegendRow, PlainAxis
from explorer.gui.device_choice import DeviceChoice, join_for_run
from explorer.gui.workers import _TimingWorker, reserve_gui_core, start_in_thread
from explorer.train.curves import generalization_gap
from explorer.train.session import Trained

X_AXES = {"step": "step", "tokens": "tokens seen (per series)", "seconds": "training time (s, per series)"}
SERIES = ("design", "twin", "baseline")          # theme roles of the same names color them
MAX_TICK_LABELS = 16


class TrainWorker(_TimingWorker):
    """Runs train_and_compare (train, then the CKA of the trained models). Never touches a widget."""

    step = Signal(str, int, float, float)           # series, step, training loss, training seconds so far
    evaluated = Signal(str, int, float, object)     # series, step, validation loss, accuracy or None
    progress = Signal(str)
    finished = Signal(object)                       # Trained
    failure = "training failed"

    def __init__(self, spec, options: dict, notes: tuple[str, ...], baseline=None) -> None:
        super().__init__()
        self.spec, self.options, self.notes, self.baseline = spec, options, notes, baseline
        self._abandon = threading.Event()            # the window is closing: skip the CKA

    def abandon(self) -> None:
        self._abandon.set()
        self.stop()

    def work(self) -> None:
        from explorer.train.session import train_and_compare

        self.finished.emit(train_and_compare(self.spec, self.options, self.notes, self.baseline,
                                             on_step=self.step.emit, on_eval=self.evaluated.emit,
                                             progress=self.progress.emit, should_stop=self._stop.is_set,
                                             skip_cka=self._abandon.is_set))


class RemoteTrainWorker(TrainWorker):
    """Runs the same train_and_compare on a cluster device (cluster/remote_run.py): steps,
    evaluations and progress stream back through the actor; Stop is seen before the next step."""

    failure = "the cluster training run failed"

    def __init__(self, spec, options: dict, notes: tuple[str, ...], baseline, node: str, address: str) -> None:
        super().__init__(spec, options, notes, baseline)
        self.node, self.address = node, address

    def work(self) -> None:
        from explorer.cluster import remote_run
        from explorer.design import yaml_io

        ray = join_for_run(self.address, self.node, self.progress.emit)
        trained = remote_run.train_remote(
            ray, yaml_io.dumps(self.spec), self.options, self.notes,
            yaml_io.dumps(self.baseline) if self.baseline is not None else None, node=self.node,
            on_step=self.step.emit, on_eval=self.evaluated.emit,
            on_progress=lambda line: self.progress.emit(f"{line} (on {self.node})"),
            should_stop=self._stop.is_set)
        self.finished.emit(trained)


def equal_steps_line(result) -> str | None:
    """Each series' validation loss at the last step where every series was evaluated."""
    if len(result.series) < 2:
        return None
    common = set.intersection(*({s for s, _v in series.val_loss} for series in result.series.values()))
    if not common:
        return "validation loss at equal steps: - (no step where every series was evaluated)"
    step = max(common)
    return (f"validation loss at equal steps (step {step}): "
            + ", ".join(f"{name} {dict(s.val_loss)[step]:.3f}" for name, s in result.series.items()))


def mean_off_diagonal(matrix: list[list[float]]) -> float | None:
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
        mean = mean_off_diagonal(matrix) if n else None
        self.plot.setTitle(self.title + ("" if mean is None else f" · mean {mean:.2f}"),
                           color=theme.color("plot_label"), size="9pt")

    def clear(self) -> None:
        self.set_matrix([], [])


class TrainView(QWidget):
    """Training options, Start/Stop, live loss curves, the readout and the CKA heatmaps."""

    message = Signal(str)            # one line for the status bar
    run_finished = Signal(object)    # Trained

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._spec = None
        self._baseline = None                        # the pinned design, unscaled (see pin())
        self._worker: TrainWorker | None = None
        self._threads: list[QThread] = []
        self.last: Trained | None = None
        self.train: dict[str, tuple[list[int], list[float], list[float]]] = {}    # steps, loss, seconds
        self.val: dict[str, list[tuple[int, float]]] = {}
        self.accuracy: dict[str, float] = {}             # the latest task accuracy per series
        self.tokens_per_step: dict[str, float] = {}
        self._build_ui()
        self._redraw_timer = QTimer(self, interval=50, singleShot=True, timeout=self._redraw)
        self.devices = DeviceChoice(self.device_combo, self)
        self.devices.message.connect(self.message)
        self._probed = False

    def showEvent(self, event) -> None:      # noqa: N802 - Qt's name
        """Devices are listed when the tab is first shown (the probe imports torch, in a thread)."""
        if not self._probed:
            self._probed = True
            self.devices.probe()
        super().showEvent(event)

    def probe_cluster(self, address: str | None = None) -> None:
        """List the cluster's devices (at the app's Ray address unless given) after this machine's."""
        self.devices.probe_cluster(address)

    def set_cluster_devices(self, devices: list, address: str | None = None) -> None:
        self.devices.set_cluster_devices(devices, address)

    # ------------------------------------------------------------------ UI
    def _build_ui(self) -> None:
        self.steps_spin = QSpinBox(minimum=1, maximum=10_000_000, value=200, toolTip="Optimizer steps")
        self.batch_spin = QSpinBox(minimum=1, maximum=4096, value=8, toolTip="Sequences per step")
        self.seq_spin = QSpinBox(minimum=2, maximum=1 << 16, value=64, toolTip="Tokens per sequence")
        self.lr_edit = QLineEdit("1e-3", toolTip="AdamW learning rate (0 < lr < 10), e.g. 3e-4")
        self.lr_edit.setMaximumWidth(80)
        self.seed_spin = QSpinBox(minimum=0, maximum=2**31 - 1, value=0, toolTip="Seed of the weights and batches")
        self.eval_spin = QSpinBox(minimum=1, maximum=10_000_000, value=50,
                                  toolTip="Validation loss every N steps (and at the last)")
        self.data_combo = QComboBox(editable=True, toolTip="stdlib (the Python standard library's sources), a "
                                    "text file or folder, or a synthetic task")
        self.data_combo.addItems(["stdlib", "task:copy", "task:reverse", "task:sort", "task:add"])
        self.data_combo.setMinimumContentsLength(14)
        self.file_button = QPushButton("File…", toolTip="Train on the bytes of a text file")
        self.folder_button = QPushButton("Folder…", toolTip="Train on every file of a folder (one in ten is "
                                         "validation)")
        self.file_button.clicked.connect(lambda: self.pick_data(folder=False))
        self.folder_button.clicked.connect(lambda: self.pick_data(folder=True))
        self.device_combo = QComboBox(toolTip="Where the models are built and trained (CUDA/MPS appear when "
                                      "present; with a Ray address set, the cluster's devices too)")
        self.dtype_combo = QComboBox(toolTip="Weights and activations: fp32, or bf16/fp16 (the loss is taken "
                                     "in fp32)")
        self.dtype_combo.addItems(["fp32", "bf16", "fp16"])
        self.twin_check = QCheckBox("with twin", checked=True,
                                    toolTip="Train the unshared twin beside the design on the same batches")
        self.scale_spins = {}
        for name, tip in (("width", "d_model to train at"), ("depth", "keep the first N trunk layers"),
                          ("heads", "attention heads"), ("vocab", "vocabulary before the data's is set")):
            self.scale_spins[name] = QSpinBox(minimum=0, maximum=1 << 20, value=0, specialValueText="keep",
                                              toolTip=f"Scale down: {tip} (keep = as designed); the sharing "
                                                      f"pattern is kept")
        self.x_combo = QComboBox(toolTip="What the curves' x-axis counts")
        for key, label in X_AXES.items():
            self.x_combo.addItem(label.split(" (")[0], key)
        self.x_combo.currentIndexChanged.connect(self._redraw)
        self.pin_button = QPushButton("Pin design as baseline", enabled=False,
                                      toolTip="Keep the current design; every later run also trains it (scaled "
                                              "down the same way) as a third series on the same batches, "
                                              "through any edits of the design")
        self.unpin_button = QPushButton("Unpin", enabled=False, toolTip="Train without the pinned baseline from "
                                        "the next run on")
        self.pin_button.clicked.connect(self.pin)
        self.unpin_button.clicked.connect(self.unpin)
        self.pin_label = QLabel("", toolTip="The pinned baseline design (trained beside the design at each Start)")
        tint = self.pin_label.palette()
        tint.setColor(QPalette.ColorRole.WindowText, theme.color("baseline"))
        self.pin_label.setPalette(tint)
        self.start_button = QPushButton("Start", toolTip="Train the current design (and its twin)")
        self.stop_button = QPushButton("Stop", enabled=False, toolTip="Stop before the next step")
        self.start_button.clicked.connect(self.start)
        self.stop_button.clicked.connect(self.stop)

        grid = QGridLayout()
        grid.setHorizontalSpacing(6)
        grid.setVerticalSpacing(1)
        data = QHBoxLayout()
        data.addWidget(self.data_combo, 1)
        data.addWidget(self.file_button)
        data.addWidget(self.folder_button)
        cells = [("steps", self.steps_spin), ("batch", self.batch_spin), ("seq", self.seq_spin),
                 ("lr", self.lr_edit), ("seed", self.seed_spin), ("eval every", self.eval_spin)]
        cells += [(name, spin) for name, spin in self.scale_spins.items()]
        for col, (label, widget) in enumerate(cells):
            grid.addWidget(QLabel(label), 0, col)
            grid.addWidget(widget, 1, col)
        grid.addWidget(QLabel("data"), 0, len(cells))
        grid.addLayout(data, 1, len(cells))
        grid.setColumnStretch(len(cells), 1)
        row = QHBoxLayout()
        row.addWidget(QLabel("device"))
        row.addWidget(self.device_combo)
        row.addWidget(self.dtype_combo)
        row.addSpacing(12)
        row.addWidget(self.twin_check)
        row.addSpacing(12)
        row.addWidget(QLabel("x-axis"))
        row.addWidget(self.x_combo)
        row.addSpacing(12)
        row.addWidget(self.pin_button)
        row.addWidget(self.unpin_button)
        row.addWidget(self.pin_label)
        self.status_label = QLabel("idle", toolTip="What the training worker is doing")
        row.addWidget(self.status_label, 1)
        row.addWidget(self.start_button)
        row.addWidget(self.stop_button)

        self.plot = pg.PlotWidget(background=None, axisItems={"left": PlainAxis("left"),
                                                               "bottom": PlainAxis("bottom")})
        self.plot.setLabel("left", "loss (nats per token)")
        self.plot.setLabel("bottom", X_AXES["step"])
        self.plot.showGrid(x=True, y=True, alpha=0.25)
        self.legend = LegendRow(self.plot.getPlotItem())
        self.empty_note = EmptyNote(self.plot.getPlotItem(), "no steps yet: pick the data and Start")
        self.train_curves, self.val_curves = {}, {}
        for name in SERIES:                          # colors: theme roles "design", "twin" and "baseline"
            self.train_curves[name] = self.plot.plot([], [], pen=theme.pen(name, 1.5), name=f"{name} train")
            self.val_curves[name] = self.plot.plot([], [], pen=theme.pen(name, 1.5, Qt.PenStyle.DashLine),
                                                   symbol="o", symbolSize=7, symbolBrush=theme.brush(name),
                                                   symbolPen=pg.mkPen(theme.color("text"), width=1),
                                                   name=f"{name} validation")
        self._show_in_legend(("design", "twin"))
        self.heatmaps = {"design": Heatmap("design: layer CKA"), "twin": Heatmap("twin: layer CKA"),
                         "baseline": Heatmap("baseline: layer CKA")}
        self.heatmaps["baseline"].setVisible(False)

        self.readout = QPlainTextEdit(readOnly=True, toolTip="The same readout `explorer train` prints")
        self.readout.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        self.readout.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        self.readout.setPlaceholderText("validation loss, gap and tokens/s show here at each evaluation; "
                                        "the full readout (parameters, equal steps and time) when a run ends")

        plots = QSplitter(Qt.Orientation.Horizontal)
        plots.addWidget(self.plot)
        for k, heatmap in enumerate(self.heatmaps.values(), 1):
            plots.addWidget(heatmap)
            plots.setStretchFactor(k, 2)
        plots.setStretchFactor(0, 3)
        plots.setSizes([700, 300, 300, 300])
        self.plots_splitter = plots
        body = QSplitter(Qt.Orientation.Vertical)
        body.addWidget(plots)
        body.addWidget(self.readout)
        body.setStretchFactor(0, 3)
        body.setStretchFactor(1, 1)
        body.setSizes([250, 170])
        self.body_splitter = body
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.setSpacing(2)
        layout.addLayout(grid)
        layout.addLayout(row)
        layout.addWidget(body, 1)

    def _show_in_legend(self, names) -> None:
        """The legend lists the training and validation curves of `names` (the series of this run):
        one row for two series; for three, a row of training curves over a row of validation ones."""
        names = [name for name in SERIES if name in names]
        old = self.legend                            # a fresh legend: pyqtgraph's grid keeps its old columns
        old.setParentItem(None)
        if old.scene() is not None:
            old.scene().removeItem(old)
        self.legend = LegendRow(self.plot.getPlotItem())
        if len(names) > 2:
            self.legend.setColumnCount(len(names))
            entries = [(self.train_curves[n], f"{n} train") for n in names]
            entries += [(self.val_curves[n], f"{n} validation") for n in names]
        else:
            entries = [e for n in names for e in ((self.train_curves[n], f"{n} train"),
                                                  (self.val_curves[n], f"{n} validation"))]
        for item, label in entries:
            self.legend.addItem(item, label)

    def pick_data(self, folder: bool = False) -> None:
        path = (QFileDialog.getExistingDirectory(self, "Train on a folder") if folder
                else QFileDialog.getOpenFileName(self, "Train on a text file")[0])
        if path:
            self.data_combo.setCurrentText(path)

    # ------------------------------------------------------------------ design in
    def set_spec(self, spec) -> None:
        """The design a later Start trains (a run in progress keeps the one it started with)."""
        self._spec = spec
        self.pin_button.setEnabled(spec is not None)

    @property
    def baseline(self):
        """The pinned design (unscaled), or None."""
        return self._baseline

    def pin(self) -> bool:
        """Pin the current design as the baseline later runs train beside it (replacing any pin)."""
        if self._spec is None:
            self._say_error("no valid design to pin (fix the design first)")
            return False
        self._baseline = self._spec
        name = self._spec.name or "design"
        self.pin_label.setText(f"baseline: {name} ({len(self._spec.layers)} layers)")
        self.pin_label.setToolTip(f"Pinned baseline {name!r}: every Start also trains it, scaled down as the "
                                  f"design is, on the same batches (green curves and readout row)")
        self.pin_button.setText("Re-pin design")
        self.unpin_button.setEnabled(True)
        self.message.emit(f"pinned {name} as the training baseline")
        return True

    def unpin(self) -> None:
        """Drop the baseline from later runs (the run on show keeps its curves and readout)."""
        self._baseline = None
        self.pin_label.setText("")
        self.pin_label.setToolTip("The pinned baseline design (trained beside the design at each Start)")
        self.pin_button.setText("Pin design as baseline")
        self.unpin_button.setEnabled(False)

    # ------------------------------------------------------------------ run
    def options(self) -> tuple[object, dict, tuple[str, ...]]:
        """(the spec to train, TrainConfig fields, notes) from the controls. Raises SpecError on a
        bad option (checked here without torch; the engine checks again)."""
        from explorer.design.validate import validate
        from explorer.train.adapt import scale_down
        from explorer.train.data import TASKS

        if self._spec is None:
            raise SpecError("no valid design to train (fix the design first)")
        text = self.lr_edit.text().strip()
        try:
            lr = float(text)
        except ValueError:
            raise SpecError(f"expected a number such as 3e-4, got {text!r}", "lr") from None
        if not 0 < lr < 10:
            raise SpecError(f"expected a learning rate between 0 and 10, got {text}", "lr")
        data = self.data_combo.currentText().strip() or "stdlib"
        if data.startswith("task:") and data[5:] not in TASKS:
            raise SpecError(f"unknown task {data[5:]!r} (tasks: {', '.join(TASKS)})", "data")
        if data != "stdlib" and not data.startswith("task:"):
            import os

            if not os.path.exists(data):
                raise SpecError("no such file or folder (data: stdlib, task:NAME or a path)", "data", data)
        spec, notes = scale_down(self._spec, **self._scale())
        validate(spec)                               # a scaled design that cannot build says so here
        options = dict(steps=self.steps_spin.value(), batch=self.batch_spin.value(), seq=self.seq_spin.value(),
                       lr=lr, seed=self.seed_spin.value(), data=data, eval_every=self.eval_spin.value(),
                       twin=self.twin_check.isChecked(), device=self.devices.run_device(),
                       dtype=self.dtype_combo.currentText())
        return spec, options, notes

    def _scale(self) -> dict:
        return {name: (spin.value() or None) for name, spin in self.scale_spins.items()}

    def baseline_options(self, spec) -> tuple[object | None, tuple[str, ...]]:
        """(the pinned baseline scaled down as the design is, its notes), or (None, ()) when nothing
        is pinned. Raises SpecError ("baseline: ...") when it cannot train beside `spec`."""
        from explorer.design.validate import validate
        from explorer.train.adapt import scale_down, trainable

        if self._baseline is None:
            return None, ()
        name = self._baseline.name or "design"
        try:
            baseline, notes = scale_down(self._baseline, **self._scale())
            validate(baseline)
        except SpecError as err:
            raise SpecError(f"the pinned {name} cannot train at this scale-down: {err}", "baseline") from None
        ours, theirs = trainable(spec, 256, 2).objective, trainable(baseline, 256, 2).objective
        if ours != theirs:                           # the series share batches, so one objective
            raise SpecError(f"the pinned {name} trains on {theirs} batches, this design on {ours} "
                            f"(unpin it or pin this design)", "baseline")
        return baseline, tuple(f"baseline: {n}" for n in notes)

    def is_running(self) -> bool:
        return self._worker is not None

    def start(self) -> bool:
        """Check the options and start a run; a bad option is one line and changes nothing."""
        if self.is_running():
            return False
        try:
            spec, options, notes = self.options()
            baseline, baseline_notes = self.baseline_options(spec)
        except ExplorerError as err:
            self._say_error(str(err))
            return False
        reserve_gui_core()
        self.train.clear()
        self.val.clear()
        self.accuracy.clear()
        self.tokens_per_step = {name: float(options["batch"] * options["seq"]
                                            * (2 if any(x.target for x in spec.layers) else 1))
                                for name in SERIES}
        self.last = None
        for heatmap in self.heatmaps.values():
            heatmap.clear()
        self.heatmaps["twin"].setVisible(options["twin"])
        self.heatmaps["baseline"].setVisible(baseline is not None)
        self._show_in_legend(("design",) + (("twin",) if options["twin"] else ())
                             + (("baseline",) if baseline is not None else ()))
        self.readout.clear()
        self._redraw()
        remote = self.devices.remote()
        if remote is not None:
            worker = RemoteTrainWorker(spec, options, notes + baseline_notes, baseline, remote[1],
                                       self.devices.cluster_address)
        else:
            worker = TrainWorker(spec, options, notes + baseline_notes, baseline)
        worker.step.connect(self.on_worker_step)
        worker.evaluated.connect(self.on_worker_evaluated)
        worker.progress.connect(self.on_worker_progress)
        worker.finished.connect(self.on_worker_finished)
        worker.failed.connect(self.on_worker_failed)
        self._worker = worker
        for done in [t for t in self._threads if not t.isRunning()]:
            self._threads.remove(done)
            done.deleteLater()
        self._threads.append(start_in_thread(worker, self))
        self.start_button.setEnabled(False)
        self.stop_button.setEnabled(True)
        self.status_label.setText("starting (loading the data)")
        return True

    def stop(self) -> None:
        if self._worker is not None:
            self._worker.stop()
            self.status_label.setText("stopping before the next step")

    def shutdown(self, timeout_ms: int = 2000) -> list[QThread]:
        """Cancel any run (no CKA after it) and wait up to `timeout_ms` for the threads (window
        closing). Returns those still running: a step in progress ends before its thread can."""
        if self._worker is not None:
            self._worker.abandon()
        running = []
        for thread in self._threads + self.devices.threads():
            if thread.isRunning():
                thread.quit()
                if not thread.wait(timeout_ms):
                    running.append(thread)
        if not running:
            self._worker = None
        return running

    def _after_run(self) -> None:
        self._worker = None
        self.start_button.setEnabled(True)
        self.stop_button.setEnabled(False)

    def _say_error(self, line: str) -> None:
        line = " ".join(line.split())
        self.status_label.setText(line)
        self.status_label.setToolTip(line)
        self.message.emit(line)

    # ------------------------------------------------------------------ worker in
    def on_worker_step(self, name: str, step: int, loss: float, seconds: float) -> None:
        steps, losses, times = self.train.setdefault(name, ([], [], []))
        steps.append(step)
        losses.append(loss)
        times.append(seconds)
        if not self._redraw_timer.isActive():
            self._redraw_timer.start()

    def on_worker_evaluated(self, name: str, step: int, loss: float, accuracy) -> None:
        self.val.setdefault(name, []).append((step, loss))
        if accuracy is not None:
            self.accuracy[name] = accuracy
        if self.is_running():
            self.readout.setPlainText("\n".join(self.live_readout_lines()))
        if not self._redraw_timer.isActive():
            self._redraw_timer.start()

    def live_readout_lines(self) -> list[str]:
        """While a run goes on, at each evaluation: per series the latest and best validation loss,
        the gap to the training loss since the evaluation before, tokens/s so far (and accuracy for
        tasks). The run's full readout replaces it at the end."""
        evaluated = [name for name in SERIES if self.val.get(name)]
        if not evaluated:
            return []
        step = min(self.val[name][-1][0] for name in evaluated)
        lines = [f"so far (live, step {step} of {self.steps_spin.value()}; the full readout follows at the end)",
                 f"{'':10}{'last val':>10}{'best val':>10}{'gap':>8}{'tokens/s':>11}"
                 + (f"{'accuracy':>10}" if self.accuracy else "")]
        for name in evaluated:
            val = self.val[name]
            last = val[-1][1]
            steps, losses, seconds = self.train.get(name, ([], [], []))
            gap = generalization_gap(val, zip(steps, losses))
            gap = "-" if gap is None else f"{gap:+.3f}"
            rate = (f"{steps[-1] * self.tokens_per_step.get(name, 0.0) / seconds[-1]:,.0f}"
                    if steps and seconds and seconds[-1] > 0 else "-")
            row = f"{name:10}{last:>10.3f}{min(v for _s, v in val):>10.3f}{gap:>8}{rate:>11}"
            if self.accuracy:
                row += f"{self.accuracy[name]:>10.1%}" if name in self.accuracy else f"{'-':>10}"
            lines.append(row)
        return lines

    def on_worker_progress(self, text: str) -> None:
        parts = [text]
        for name, (_steps, losses, _t) in self.train.items():
            if losses:
                parts.append(f"{name} loss {losses[-1]:.3f}")
        self.status_label.setText(" · ".join(parts))     # a divergence shows here; the status bar at the end

    def on_worker_finished(self, out: Trained) -> None:
        result = out.result
        self.last = out
        for name, series in result.series.items():        # the engine's exact record replaces the live one
            ok = [(i, v) for i, v in enumerate(series.train_loss, 1) if math.isfinite(v)]
            seconds = list(accumulate(series.step_seconds))
            self.train[name] = ([i for i, _v in ok], [v for _i, v in ok], [seconds[i - 1] for i, _v in ok])
            self.val[name] = list(series.val_loss)
            if series.train_loss:
                self.tokens_per_step[name] = series.tokens / len(series.train_loss)
        self._redraw()
        for name, heatmap in self.heatmaps.items():
            ids, matrix = out.cka.get(name, ([], []))
            heatmap.set_matrix(ids, matrix)
        lines = []
        if result.error:
            lines.append(f"error: {result.error}")
        if out.where:
            lines.append(f"trained on the cluster: {out.where}")
        lines += train_readout_lines(result)
        equal = equal_steps_line(result)
        if equal:
            at = next((k for k, line in enumerate(lines) if line.startswith("validation loss at equal training")),
                      len(lines))
            lines.insert(at, equal)
        if out.cka_error:
            lines.append(out.cka_error)
        self.readout.setPlainText("\n".join(lines))
        diverged = [s.diverged for s in result.series.values() if s.diverged]
        problem = result.error or out.cka_error or (diverged[0] if diverged else None)
        if problem:
            self._say_error(problem)
        else:
            done = sum(1 for _ in result.series["design"].train_loss) if "design" in result.series else 0
            self.status_label.setText(f"stopped after {done} steps" if result.cancelled else f"done: {done} steps")
            self.status_label.setToolTip("")
        self._after_run()
        self.run_finished.emit(out)

    def on_worker_failed(self, line: str) -> None:
        self._say_error(line)
        self._after_run()

    # ------------------------------------------------------------------ plot
    def x_mode(self) -> str:
        return self.x_combo.currentData() or "step"

    def _xs(self, name: str, steps: list[int]) -> list[float]:
        mode = self.x_mode()
        if mode == "tokens":
            return [s * self.tokens_per_step.get(name, 1.0) for s in steps]
        if mode == "seconds":
            at = dict(zip(*self.train.get(name, ([], [], []))[::2]))      # step -> training seconds
            return [at.get(s, math.nan) for s in steps]
        return [float(s) for s in steps]

    def _redraw(self) -> None:
        mode = self.x_mode()
        self.plot.setLabel("bottom", X_AXES[mode])
        any_points = False
        for name in SERIES:
            steps, losses, _t = self.train.get(name, ([], [], []))
            self.train_curves[name].setData(self._xs(name, steps), losses)
            val = self.val.get(name, [])
            self.val_curves[name].setData(self._xs(name, [s for s, _v in val]), [v for _s, v in val])
            any_points = any_points or bool(steps)
        self.empty_note.set_empty(not any_points)
