"""The Train tab's workers: train_and_compare (explorer/train/session.py) in a worker process, or
on a cluster device; they never touch a widget."""

from __future__ import annotations

from PySide6.QtCore import Signal

from explorer.gui.device_choice import join_for_run
from explorer.gui.workers import JobWorker, design_yaml, run_job


class TrainWorker(JobWorker):
    """Runs train_and_compare (train, then the CKA of the trained models). Never touches a widget."""

    step = Signal(str, int, float, float)           # series, step, training loss, training seconds so far
    evaluated = Signal(str, int, float, object)     # series, step, validation loss, accuracy or None
    progress = Signal(str)
    finished = Signal(object)                       # Trained
    failure = "training failed"

    def __init__(self, spec, options: dict, notes: tuple[str, ...], baseline=None) -> None:
        super().__init__()
        self.spec, self.options, self.notes, self.baseline = spec, options, notes, baseline
    def abandon(self) -> None:
        """The window is closing: stop (the worker process skips the CKA of a stopped run)."""
        self.stop()

    def work(self) -> None:
        from explorer.jobs.body import train_payload

        payload = train_payload(design_yaml(self.spec), self.options, self.notes,
                                design_yaml(self.baseline) if self.baseline is not None else None, self.spec.name)
        outcome = run_job(payload, {"step": lambda step: self.step.emit(*step),
                                    "eval": lambda ev: self.evaluated.emit(*ev), "progress": self.progress.emit},
                          self._stop.is_set)
        if outcome["result"] is not None:
            self.finished.emit(outcome["result"])


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
