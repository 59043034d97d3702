"""The Sweeps tab's workers (jobs in the worker process, or Ray tasks; they never touch a widget),
the CUDA devices they may use, and stopping them when the window closes."""

from __future__ import annotations

from PySide6.QtCore import QThread, Signal

from explorer.gui.workers import JobWorker, design_yaml, quit_and_wait, run_job


class SchemeTrainWorker(JobWorker):
    """Trains every scheme on the (scaled) design, one after another, in the worker process; stop()
    ends the run in progress and skips the rest."""

    run_done = Signal(object)       # train.sweep.SchemeRun, in order
    progress = Signal(str)
    finished = Signal(object)       # train.sweep.SchemeSweep (cancelled=True after Stop)
    failure = "training the schemes failed"

    def __init__(self, spec, config, only: list[str] | None = None) -> None:
        super().__init__()
        self.spec, self.config, self.only = spec, config, only

    def work(self) -> None:
        from explorer.jobs.body import train_sweep_payload

        options = {f: getattr(self.config, f) for f in self.config.__dataclass_fields__}
        payload = train_sweep_payload(design_yaml(self.spec), options, self.only, self.spec.name)
        outcome = run_job(payload, {"run": self.run_done.emit, "progress": self.progress.emit}, self._stop.is_set)
        if outcome["result"] is not None:
            self.finished.emit(outcome["result"])


class PointSweepWorker(JobWorker):
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

        if not self.address:            # in the worker process, one point after another
            from explorer.jobs.body import points_payload

            device = self.points[0].options.get("device", "cpu") if self.points else "cpu"
            outcome = run_job(points_payload([p.payload() for p in self.points], device=device),
                              {"row": self.row_done.emit}, self._stop.is_set)
            if outcome["result"] is not None:
                self.finished.emit(outcome["result"])
            return
        from explorer.gui.cluster_settings import connect, local_cpus

        ray = connect(self.address, self.connect_timeout_s)
        self.connected.emit(ray_backend.devices(ray))
        self.finished.emit(ray_backend.run_points(self.points, self.address, on_row=self.row_done.emit,
                                                  should_stop=self._stop.is_set, num_cpus=local_cpus()))


def cuda_count() -> int:
    """CUDA devices, without importing torch in the GUI thread when it is not loaded yet."""
    import sys

    torch = sys.modules.get("torch")
    return torch.cuda.device_count() if torch is not None and torch.cuda.is_available() else 0


def stop_and_wait(runs: list[tuple[object, QThread | None]], timeout_ms: int) -> list[QThread]:
    """Stop each (worker, thread) of `runs` and wait up to `timeout_ms` for its thread; returns the
    threads a pass still holds."""
    for worker, _thread in runs:
        if worker is not None:
            worker.stop()
    return quit_and_wait([thread for _worker, thread in runs], timeout_ms)
