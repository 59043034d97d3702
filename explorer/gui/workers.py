"""Torch off the GUI thread: a QObject that runs bench/timing.py in a QThread.

torch itself is imported inside the worker thread, so not even its import blocks the
window. The worker never touches widgets; it only emits signals.
"""

from __future__ import annotations

import logging
import os
import sys
import threading

from PySide6.QtCore import QObject, QThread, Signal, Slot

log = logging.getLogger(__name__)


def _one_line(err: BaseException) -> str:
    text = str(err).strip()
    return f"{type(err).__name__}: {text.splitlines()[0] if text else ''}"


class _TimingWorker(QObject):
    """Runs `work()` in its QThread. stop() (from any thread) is seen at the work's next check;
    an ExplorerError reaches `failed` as its own line, anything else as `{failure}: Type: text`."""

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


class BenchWorker(_TimingWorker):
    """Builds and times one design (and its twin). Stop() is honoured between iterations."""

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
        from explorer.bench.timing import run_bench

        self.finished.emit(run_bench(self.spec, self.config, on_sample=self.sample.emit,
                                     should_stop=self._stop.is_set, on_progress=self.progress.emit,
                                     on_built=self.built.emit))


class SeqTimingWorker(_TimingWorker):
    """Times the design at each sequence length (median of a few passes per point)."""

    point = Signal(int, float)      # seq, median ms
    finished = Signal()
    failure = "timing failed"

    def __init__(self, spec, seqs: list[int], device: str, iters: int = 5) -> None:
        super().__init__()
        self.spec, self.seqs, self.device, self.iters = spec, seqs, device, iters

    def work(self) -> None:
        from explorer.bench.config import BenchConfig
        from explorer.bench.timing import run_bench

        for n in self.seqs:
            if self._stop.is_set():
                break
            result = run_bench(self.spec, BenchConfig(device=self.device, seq=n, iters=self.iters, warmup=1),
                               should_stop=self._stop.is_set)
            if result.design.samples_ms:
                self.point.emit(n, result.design.median_ms)
        self.finished.emit()


class CallWorker(_TimingWorker):
    """Runs one function off the GUI thread (an export that loads torch, say): `done(result)`,
    or `failed(line)` for an ExplorerError or anything unexpected."""

    done = Signal(object)

    def __init__(self, fn, failure: str = "background work failed") -> None:
        super().__init__()
        self.fn = fn
        self.failure = failure

    def work(self) -> None:
        self.done.emit(self.fn())


def preload_torch() -> threading.Thread | None:
    """Import torch (and the builder) in a background thread, so the first timing run or export
    does not wait for it on the GUI thread. Started before the window is built: loading
    libtorch holds the GIL in stretches of a few hundred ms, which then overlap start-up
    instead of freezing a window the user is already using."""
    if "explorer.torchmodel.export" in sys.modules:      # loaded already (with torch and the kinds' halves)
        return None

    def load() -> None:
        try:
            import explorer.torchmodel.export  # noqa: F401  (imports torch, the builder and the exporter)
            from explorer.kinds import load_torch_halves

            load_torch_halves()
        except Exception:  # noqa: BLE001 - a broken torch shows up, with its reason, where it is used
            log.warning("background import of torch failed", exc_info=True)

    thread = threading.Thread(target=load, name="preload-torch", daemon=True)
    thread.start()
    return thread


class DeviceProbe(QObject):
    """Lists devices with their names (imports torch) in the background."""

    done = Signal(list)             # [(device, label)]

    @Slot()
    def run(self) -> None:
        try:
            from explorer.bench.devices import device_labels

            self.done.emit(device_labels())
        except Exception:  # noqa: BLE001
            log.exception("device probe failed")
            self.done.emit([("cpu", "cpu")])


def reserve_gui_core() -> int:
    """Leave one CPU core to the window: torch's CPU threads spin between ops and would
    otherwise starve the event loop on small machines. Call from the GUI thread before any run
    (torch's thread count must not change while a worker computes). Returns the thread count."""
    threads = max(1, (os.cpu_count() or 1) - 1)
    torch = sys.modules.get("torch")
    if torch is None:
        os.environ.setdefault("OMP_NUM_THREADS", str(threads))     # read when the worker imports torch
        return int(os.environ["OMP_NUM_THREADS"])
    if torch.get_num_threads() > threads:
        torch.set_num_threads(threads)
    return torch.get_num_threads()


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
