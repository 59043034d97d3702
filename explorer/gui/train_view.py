"""Train tab: train the design beside its unshared twin on data that needs no download, watch
the losses live, then compare what each model's layers compute (linear CKA, layer by layer).

"Pin design as baseline" keeps the current design (as set_spec gave it, before any scale-down);
while pinned, every run also trains it, scaled down the same way, as a third series ("baseline",
the Timing tab's baseline color) on the same batches: its curves, its readout row and its own
CKA heatmap. The pin outlives design edits; Unpin drops it from the next run.

`explorer.train.engine.train` runs in a TrainWorker (train_workers.py) in a QThread (torch is
imported there, never on the GUI thread); each step and evaluation arrive by signal into a
RunRecord (train_record.py) and a QTimer redraws the LossPlot at <= 20 Hz. Stop is seen by the
engine before the next step. When the run ends the worker computes the CKA matrices on
validation batches from the trained models and sends them with the result for the heatmaps
(heatmap.py); the readout is `explorer train`'s plus the validation loss at equal steps. Errors
are one line in the status, never a dialog.
"""

from __future__ import annotations


from PySide6.QtCore import Qt, QThread, QTimer, Signal
from PySide6.QtGui import QFontDatabase, QPalette
from PySide6.QtWidgets import (QComboBox, QHBoxLayout, QLabel, QPlainTextEdit, QPushButton, QSplitter, QVBoxLayout,
                               QWidget)

from explorer.errors import ExplorerError
from explorer.gui import theme
from explorer.gui.device_choice import DeviceChoice
from explorer.gui.heatmap import Heatmap
from explorer.gui.loss_plot import X_AXES, LossPlot
from explorer.gui.run_source import SourcedText
from explorer.gui.train_options import TrainOptions
from explorer.gui.train_record import RunRecord, readout_lines
from explorer.gui.train_workers import RemoteTrainWorker, TrainWorker
from explorer.gui.workers import prune_ended, quit_and_wait, start_in_thread
from explorer.train.adapt import NO_SHARING_LEFT
from explorer.train.session import Trained


class TrainView(QWidget):
    """Training options, Start/Stop, live loss curves, the readout and the CKA heatmaps."""

    message = Signal(str)            # one line for the status bar
    run_finished = Signal(object)    # Trained

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._spec = None
        self._baseline = None                        # the pinned design, unscaled (see pin())
        self._warnings: list[str] = []               # "note: no sharing left ..." of the run going on
        self._worker: TrainWorker | None = None
        self._threads: list[QThread] = []
        self.last: Trained | None = None
        self.record = RunRecord()
        self.shown_from = ""                         # the design file the run on show came from, once another opened
        self._build_ui()
        self._redraw_timer = QTimer(self, interval=50, singleShot=True, timeout=self._redraw)
        self.devices = DeviceChoice(self.form.device_combo, self)
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
        self.form = TrainOptions()
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

        row = QHBoxLayout()
        row.addWidget(QLabel("device"))
        row.addWidget(self.form.device_combo)
        row.addWidget(self.form.dtype_combo)
        row.addSpacing(12)
        row.addWidget(self.form.twin_check)
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

        self.plot = LossPlot()
        self.heatmaps = {"design": Heatmap("design: layer CKA"), "twin": Heatmap("twin: layer CKA"),
                         "baseline": Heatmap("baseline: layer CKA")}
        self.heatmaps["baseline"].setVisible(False)

        self.readout = SourcedText(readOnly=True, toolTip="The same readout `explorer train` prints")
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
        layout.addWidget(self.form)
        layout.addLayout(row)
        layout.addWidget(body, 1)

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

    def label_runs_from(self, source: str) -> None:
        """Another design was opened: the curves, heatmaps and readout on show say they came from
        `source` ("my.yaml") until the next Start ("" clears the label)."""
        if source and (self.shown_from or not (self.record.train or self.is_running())):
            return                                   # already labelled, or nothing on show
        self.shown_from = source
        self.plot.set_source(source)
        for heatmap in self.heatmaps.values():
            heatmap.set_source(source)
        self.readout.set_source(source)

    # ------------------------------------------------------------------ run
    def options(self) -> tuple[object, dict, tuple[str, ...]]:
        """(the spec to train, TrainConfig fields, notes) from the controls (TrainOptions.options)."""
        return self.form.options(self._spec, self.devices.run_device())

    def is_running(self) -> bool:
        return self._worker is not None

    def start(self) -> bool:
        """Check the options and start a run; a bad option is one line and changes nothing."""
        if self.is_running():
            return False
        try:
            spec, options, notes = self.options()
            baseline, baseline_notes = self.form.baseline_options(self._baseline, spec)
        except ExplorerError as err:
            self._say_error(str(err))
            return False
        self.record.reset(float(options["batch"] * options["seq"] * (2 if any(x.target for x in spec.layers) else 1)))
        self.last = None
        self.label_runs_from("")                     # this run is of the design now open
        for heatmap in self.heatmaps.values():
            heatmap.clear()
        self.heatmaps["twin"].setVisible(options["twin"])
        self.heatmaps["baseline"].setVisible(baseline is not None)
        self.plot.show_in_legend(("design",) + (("twin",) if options["twin"] else ())
                                 + (("baseline",) if baseline is not None else ()))
        self.readout.clear()
        # said before the run, in the status bar and atop the readout while it runs
        self._warnings = [f"note: {n}" for n in notes if n.startswith(NO_SHARING_LEFT)]
        if self._warnings:
            self.readout.setPlainText("\n".join(self._warnings))
            self.message.emit(self._warnings[0][len("note: "):])
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
        prune_ended(self._threads)
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
        running = quit_and_wait(self._threads + self.devices.threads(), timeout_ms)
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
        self.record.add_step(name, step, loss, seconds)
        if not self._redraw_timer.isActive():
            self._redraw_timer.start()

    def on_worker_evaluated(self, name: str, step: int, loss: float, accuracy) -> None:
        self.record.add_evaluation(name, step, loss, accuracy)
        if self.is_running():
            self.readout.setPlainText("\n".join(self._warnings + self.record.live_lines(self.form.steps_spin.value())))
        if not self._redraw_timer.isActive():
            self._redraw_timer.start()

    def on_worker_progress(self, text: str) -> None:
        parts = [text]
        for name, (_steps, losses, _t) in self.record.train.items():
            if losses:
                parts.append(f"{name} loss {losses[-1]:.3f}")
        self.status_label.setText(" · ".join(parts))     # a divergence shows here; the status bar at the end

    def on_worker_finished(self, out: Trained) -> None:
        result = out.result
        self.last = out
        self.record.take_result(result)
        self._redraw()
        for name, heatmap in self.heatmaps.items():
            ids, matrix = out.cka.get(name, ([], []))
            heatmap.set_matrix(ids, matrix)
        self.readout.setPlainText("\n".join(readout_lines(out)))
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

    def _redraw(self) -> None:
        self.plot.redraw(self.record, self.x_mode())
