"""The Sweeps tab's "Schemes (frontier)" page: every scheme applied to the design on the frontier
(click a point to apply it), analysed, trained or timed.

"train each scheme" trains none, the unshared twin and every scheme (scaled down first) with one
TrainConfig in a worker thread (explorer/train/sweep.py, as `explorer sweep --schemes
--train-steps N`) and plots validation loss against unique parameters as rows arrive. "time each
scheme" times the same points' forward pass (`explorer sweep --schemes --device DEV`) and plots
the median time. Both run "on the cluster" when a Ray address is set (Cluster > Ray address…):
one Ray task per point (explorer/cluster/ray_backend.py), each row shown as it finishes, with
where it ran."""

from __future__ import annotations

from PySide6.QtCore import QThread, Signal
from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

from explorer.analysis import sweeps
from explorer.errors import ExplorerError
from explorer.gui.sweep_controls import SchemeRunControls
from explorer.gui.sweep_frontier import FrontierView, frontier_data
from explorer.gui.sweep_workers import PointSweepWorker, SchemeTrainWorker


class SchemesTab(QWidget):
    """The frontier of `spec`'s schemes; `apply_requested(spec)` when one is chosen."""

    message = Signal(str)
    apply_requested = Signal(object)
    training_finished = Signal()
    points_finished = Signal()      # a timed or cluster sweep ended (done, stopped or failed)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.spec = None
        self.scheme_points: list[sweeps.SchemePoint] = []
        self.trained_runs: list = []                # train.sweep.SchemeRun, as they arrive
        self.trained_base = None                    # the full-size design they were trained for
        self._train_thread = None
        self._train_worker = None
        self.timed_rows: list[dict] = []            # one per scheme: a row of explorer/cluster/points.py
        self.timed_base = None                      # the design they were timed for
        self.trained_where: dict[str, str] = {}     # scheme -> where it trained (cluster runs)
        self._points_thread = None
        self._points_worker = None
        self._points_kind = ""                      # "measure" | "train" while a point sweep runs
        self.connect_timeout_s = 15.0
        self.controls = SchemeRunControls()
        self.controls.train_check.toggled.connect(self._show_frontier)
        self.controls.time_check.toggled.connect(self._show_frontier)
        self.controls.train_button.clicked.connect(self.on_train_clicked)
        self.controls.time_button.clicked.connect(self.on_time_clicked)
        self.controls.cluster_check.toggled.connect(self._on_cluster_toggled)
        self.frontier = FrontierView()
        self.frontier.chosen.connect(self.apply_scheme_named)
        hint = QLabel("Each point is one scheme applied to the current design; click a point (or double-click a "
                      "row) to apply it.", wordWrap=True)
        layout = QVBoxLayout(self)
        layout.addWidget(self.controls)
        layout.addWidget(self.frontier, 1)
        layout.addWidget(hint)

    def points_running(self) -> bool:
        """Whether a timed or cluster sweep is running."""
        return self._points_worker is not None

    def refresh(self) -> None:
        self.scheme_points = sweeps.sweep_schemes(self.spec)
        self._show_frontier()

    def _show_frontier(self, *_args) -> None:
        """The analysis frontier (forward FLOPs), or with "train each scheme" the trained one, or with
        "time each scheme" the timed one."""
        mode = self.controls.mode()
        self.frontier.show_frontier(mode, *frontier_data(mode, self.scheme_points, self.trained_runs,
                                                         self.trained_where, self.timed_rows))

    # ------------------------------------------------------------------ train each scheme
    def on_train_clicked(self) -> None:
        """Train every scheme on the scaled-down design in a worker (again: stop it)."""
        controls = self.controls
        if self._train_worker is not None:
            self._train_worker.stop()
            controls.train_status.setText("stopping after this step")
            return
        if self._points_worker is not None:
            if self._points_kind == "train":
                self._stop_points()
            else:
                self.message.emit("the schemes are being timed: stop that first")
            return
        if self.spec is None:
            return
        from explorer.gui.workers import start_in_thread
        from explorer.train.adapt import scale_down

        try:
            scaled, _notes = scale_down(self.spec, controls.train_width.value() or None,
                                        controls.train_depth.value() or None)
            config = controls.train_config()
            config.check()
            only = controls.only()
        except ExplorerError as err:
            self.message.emit(str(err))
            return
        if controls.on_cluster():
            options = {f: getattr(config, f) for f in config.__dataclass_fields__}
            controls.train_check.setChecked(True)
            self.trained_base = self.spec
            self._start_points("train", scaled, options, only)
            return
        controls.train_check.setChecked(True)
        self.trained_runs = []
        self.trained_where = {}
        self.trained_base = self.spec
        self._show_frontier()
        worker = SchemeTrainWorker(scaled, config, only)
        worker.run_done.connect(self.on_trained_run)
        worker.progress.connect(controls.train_status.setText)
        worker.failed.connect(self.message)
        worker.failed.connect(self._training_done)
        worker.finished.connect(self._training_done)
        self._train_worker = worker
        self._train_thread = start_in_thread(worker, self)
        controls.train_button.setText("Stop")
        controls.train_status.setText("starting")

    def on_trained_run(self, run) -> None:
        self.trained_runs.append(run)
        if self.controls.train_check.isChecked():
            self._show_frontier()

    def _training_done(self, result=None) -> None:
        self._train_worker = None
        self.controls.train_button.setText("Train")
        done = sum(r.ok for r in self.trained_runs)
        state = "failed" if isinstance(result, str) else "stopped" if getattr(result, "cancelled", False) else "done"
        self.controls.train_status.setText(f"{state}: {done} schemes trained {self.controls.train_steps.value()} steps")
        self._show_frontier()
        self.training_finished.emit()

    # ------------------------------------------------------------------ time each scheme, and the cluster
    def _on_cluster_toggled(self, on: bool) -> None:
        if self._points_worker is None and self._train_worker is None:
            self.controls.time_status.setText(f"Train and Time run on {self.controls.ray_address}" if on else "")

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
        if self.spec is None:
            return
        try:
            only = self.controls.only()
        except ExplorerError as err:
            self.message.emit(str(err))
            return
        self.controls.time_check.setChecked(True)
        self.timed_base = self.spec
        self._start_points("measure", self.spec, self.controls.time_options(), only)

    def _start_points(self, kind: str, spec, options: dict, only: list[str] | None) -> None:
        """Sweep points of `kind` in a PointSweepWorker: on the cluster, or in this process."""
        from explorer.cluster.sweep import scheme_points
        from explorer.gui.workers import start_in_thread

        try:
            points, skipped = scheme_points(spec, kind, options, only)
        except ExplorerError as err:
            self.message.emit(str(err))
            return
        address = self.controls.ray_address if self.controls.on_cluster() else ""
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
        (self.controls.train_button if kind == "train" else self.controls.time_button).setText("Stop")
        self._points_status().setText(f"connecting to {address}" if address else "starting")

    def _points_status(self) -> QLabel:
        return self.controls.train_status if self._points_kind == "train" else self.controls.time_status

    def _on_points_connected(self, devices: list) -> None:
        from explorer.gui.cluster_settings import describe

        self.controls.set_cluster_devices(devices)
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
        self.controls.train_button.setText("Train")
        self.controls.time_button.setText("Time")
        rows = [self._point_rows.get(label, {}) for label in self._point_order]
        ok = sum(1 for r in rows if not r.get("error") and r.get("unique_params") is not None)
        state = ("failed" if isinstance(result, str) else "stopped" if self._points_stopping else "done")
        what = "timed" if kind == "measure" else f"trained {self.controls.train_steps.value()} steps"
        line = f"{state}: {ok} schemes {what}" + (f": {' '.join(result.split())}" if isinstance(result, str) else "")
        self._points_status().setText(line)
        self.points_finished.emit()
        if kind == "train":
            self.training_finished.emit()

    def runs(self) -> list[tuple[object, QThread | None]]:
        """(worker, thread) of the training and the point sweep: sweep_workers.stop_and_wait stops them."""
        return [(self._train_worker, self._train_thread), (self._points_worker, self._points_thread)]

    # ------------------------------------------------------------------ apply
    def apply_scheme_named(self, scheme: str) -> None:
        """Apply `scheme` to the design (undoable, through `apply_requested`). In "train each
        scheme" mode: to the full-size design the schemes were trained for ("none" brings that
        design back, "unshared" its unshared twin)."""
        base = {"trained": self.trained_base, "timed": self.timed_base}.get(self.controls.mode())
        if base is not None:
            from explorer.design.model import unshared_twin
            from explorer.design.strategies import apply_scheme

            try:
                design = (base if scheme == "none" else unshared_twin(base) if scheme == "unshared"
                          else apply_scheme(base, scheme))
            except ExplorerError as err:
                self.message.emit(str(err))
                return
            if design != self.spec:
                self.apply_requested.emit(design)
            return
        for p in self.scheme_points:
            if p.scheme == scheme and p.design is not None and scheme != "current":
                self.apply_requested.emit(p.design)
                return
