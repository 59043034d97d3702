"""Jobs off the GUI thread: a QObject in a QThread that hands a job to a worker process
(explorer/jobs/local.py) and turns its events into signals. Torch runs in the worker process,
never in the window's; the thread here only waits on a pipe. A worker never touches widgets.
"""

from __future__ import annotations

import logging
import threading

from PySide6.QtCore import QObject, QThread, Signal, Slot

log = logging.getLogger(__name__)


def _one_line(err: BaseException) -> str:
    text = str(err).strip()
    return f"{type(err).__name__}: {text.splitlines()[0] if text else ''}"


class JobWorker(QObject):
    """The base of the window's workers: `work()` runs in its QThread (start_in_thread), handing a
    job to the worker process (run_job) or a call to a cluster. stop() (from any thread) is seen at
    the work's next check; an ExplorerError reaches `failed` as its own line, anything else as
    `{failure}: Type: text`."""

    failed = Signal(str)            # one line, ready for the status bar
    failure = "work failed"

    def __init__(self) -> None:
        super().__init__()
        self._stop = threading.Event()

    def stop(self) -> None:
        self._stop.set()

    def work(self) -> None:
        raise NotImplementedError

    @Slot()
    def run(self) -> None:
        try:
            from explorer.errors import ExplorerError

            try:
                self.work()
            except ExplorerError as err:
                self.failed.emit(str(err))
        except Exception as err:  # noqa: BLE001 - a worker must never die silently
            log.exception(self.failure)
            self.failed.emit(f"{self.failure}: {_one_line(err)}")


def run_job(payload: dict, handlers: dict, should_stop) -> dict:
    """Run `payload` on its device's worker process (queued behind a job already there); events
    go to handlers[kind] in this thread. Raises JobError in one line."""
    from explorer.jobs.local import pool

    progress = handlers.get("progress")
    return pool().run(payload, handlers, should_stop, on_queued=progress)


def design_yaml(spec) -> str:
    from explorer.design import yaml_io

    return yaml_io.dumps(spec)


class BenchWorker(JobWorker):
    """Builds and times one design (and its twin) in a worker process. Stop() is honoured between
    iterations."""

    sample = Signal(object)         # bench.config.Sample
    progress = Signal(str)
    built = Signal(object)          # a copy of the BenchResult once the models exist (counts, weight memory)
    finished = Signal(object)       # bench.results.BenchResult (cancelled=True after Stop)
    failure = "timing run failed"

    def __init__(self, spec, config) -> None:
        super().__init__()
        self.spec = spec
        self.config = config

    def work(self) -> None:
        import dataclasses

        from explorer.jobs.body import bench_payload

        payload = bench_payload(design_yaml(self.spec), dataclasses.asdict(self.config), self.spec.name)
        outcome = run_job(payload, {"sample": self.sample.emit, "progress": self.progress.emit,
                                    "built": self.built.emit}, self._stop.is_set)
        if outcome["result"] is not None:
            self.finished.emit(outcome["result"])


class SeqTimingWorker(JobWorker):
    """Times the design at each sequence length (median of a few passes per point), in a worker process."""

    point = Signal(int, float)      # seq, median ms
    finished = Signal()
    failure = "timing failed"

    def __init__(self, spec, seqs: list[int], device: str, iters: int = 5) -> None:
        super().__init__()
        self.spec, self.seqs, self.device, self.iters = spec, seqs, device, iters

    def work(self) -> None:
        from explorer.jobs.body import seq_payload

        payload = seq_payload(design_yaml(self.spec), {"device": self.device, "iters": self.iters, "warmup": 1},
                              self.seqs, self.spec.name)
        run_job(payload, {"point": lambda p: self.point.emit(*p)}, self._stop.is_set)
        self.finished.emit()


class ExportWorker(JobWorker):
    """Writes the design's standalone model.py in a worker process: `done(path)` or `failed(line)`."""

    done = Signal(object)
    failure = "export failed"

    def __init__(self, spec, path: str) -> None:
        super().__init__()
        self.spec, self.path = spec, path

    def work(self) -> None:
        from explorer.jobs.body import export_payload

        self.done.emit(run_job(export_payload(design_yaml(self.spec), self.path, self.spec.name), {},
                               self._stop.is_set)["result"])


def preload_torch() -> None:
    """Start the CPU worker process now, which imports torch (and the builder) in the background,
    so the first timing run or export does not wait for it. The window's process loads nothing."""
    from explorer.jobs.local import pool

    try:
        pool().warm("cpu")
    except Exception:  # noqa: BLE001 - a worker that cannot start says why when a job needs it
        log.warning("the background worker did not start", exc_info=True)


def prune_ended(threads: list[QThread]) -> None:
    """Drop the threads of earlier runs that have ended from `threads` (and free them)."""
    for done in [t for t in threads if not t.isRunning()]:
        threads.remove(done)
        done.deleteLater()


def quit_and_wait(threads, timeout_ms: int) -> list[QThread]:
    """Ask each running thread to quit and wait up to `timeout_ms` for it (the window closing);
    returns those a pass still holds."""
    running = []
    for thread in threads:
        if thread is not None and thread.isRunning():
            thread.quit()
            if not thread.wait(timeout_ms):
                running.append(thread)
    return running


def start_in_thread(worker: QObject, parent: QObject | None = None) -> QThread:
    """Move `worker` to a new QThread, start worker.run there, and clean both up when it ends."""
    thread = QThread(parent)
    worker.moveToThread(thread)
    thread.started.connect(worker.run)
    for name in ("finished", "failed", "done"):
        signal = getattr(worker, name, None)
        if signal is not None:
            signal.connect(thread.quit)
    thread.finished.connect(worker.deleteLater)
    thread.start()
    return thread
