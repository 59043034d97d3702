"""Jobs in a local worker process: torch never runs in the window's process.

One spawned worker per device runs one job at a time (a second job for that device waits, and
says so); its events come back over a multiprocessing pipe as they happen. Stop sets the job's
flag (it ends within one iteration or step); a job still running STOP_GRACE_S later has its worker
ended. A worker that dies (a segfault, SIGKILL, the kernel's out-of-memory kill) costs one line,
"the worker died (signal 9) while timing bert-base", and the next job starts a fresh worker.
`warm()` starts a worker and has it import torch in the background, so the first job does not
wait for torch's import.
"""

from __future__ import annotations

import multiprocessing
import os
import queue
import threading
import time
from typing import Callable

from explorer.errors import JobError
from explorer.jobs.body import JobBody, describe, device_of

STOP_GRACE_S = 5.0          # after stop: then the worker is ended
POLL_S = 0.05               # how often the driver looks at should_stop while no event comes
CLOSE_S = 1.0               # a worker asked to quit is ended after this


def _serve(conn, threads: int | None) -> None:
    """The worker process: run the jobs the pipe sends, one at a time, sending their events back."""
    if threads:
        os.environ.setdefault("OMP_NUM_THREADS", str(threads))
    send_lock = threading.Lock()

    def send(message) -> None:
        with send_lock:
            conn.send(message)

    body = JobBody(push=lambda kind, value: send(("event", kind, value)))
    running: threading.Thread | None = None
    while True:
        try:
            message = conn.recv()
        except (EOFError, OSError):          # the window has gone
            return
        if message[0] == "warm":
            threading.Thread(target=lambda: send(("devices", _warm(threads))), daemon=True).start()
        elif message[0] == "run":
            body.reset()

            def job(payload=message[1]) -> None:
                send(("done", body.run(payload)))
            running = threading.Thread(target=job, name="job", daemon=True)
            running.start()
        elif message[0] == "stop":
            body.stop()
        elif message[0] == "quit":
            body.stop()
            if running is not None:
                running.join(CLOSE_S)
            return


def _warm(threads: int | None) -> list[tuple[str, str]]:
    """Import torch, the builder and the timing and training code before the first job needs them;
    returns this machine's devices as (device, label)."""
    try:
        import torch

        if threads:
            torch.set_num_threads(threads)
        import explorer.bench.timing  # noqa: F401
        import explorer.train.session  # noqa: F401
        from explorer.bench.devices import device_labels
        from explorer.kinds import load_torch_halves

        load_torch_halves()
        return device_labels()
    except Exception:  # noqa: BLE001 - a broken torch shows up, with its reason, in the job that needs it
        return [("cpu", "cpu")]


def _dispatch(handlers: dict[str, Callable | None], kind: str, value) -> None:
    """Hand one event to its handler, if the caller gave one for that kind."""
    handler = handlers.get(kind)
    if handler is not None:
        handler(value)


def _finished(outcome: dict, stopped: bool) -> dict:
    """The job's outcome as callers get it: its error raised in one line, else `stopped` added."""
    if "error" in outcome:
        raise JobError(outcome["error"])
    outcome["stopped"] = stopped
    return outcome


def default_threads() -> int:
    """Torch's CPU threads in a worker: every core but one, which stays with the window."""
    return max(1, (os.cpu_count() or 1) - 1)


def _death(process) -> str:
    process.join(1.0)
    code = process.exitcode
    if code is None:
        return "stopped answering"
    return f"died (signal {-code})" if code < 0 else f"died (exit code {code})"


class LocalWorker:
    """One worker process (started when first needed), running one job at a time."""

    def __init__(self, name: str = "worker", threads: int | None = None) -> None:
        self.name = name
        self.threads = default_threads() if threads is None else threads
        self.process = None
        self.conn = None
        self.messages: queue.Queue = queue.Queue()
        self.devices: list[tuple[str, str]] | None = None      # what the worker found, once warm
        self.devices_found = threading.Event()

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process is not None else None

    def alive(self) -> bool:
        return self.process is not None and self.process.is_alive()

    def start(self) -> None:
        """Start a fresh process, which imports torch in the background and then lists its devices."""
        ctx = multiprocessing.get_context("spawn")
        parent, child = ctx.Pipe()
        self.process = ctx.Process(target=_serve, args=(child, self.threads), name=f"explorer-{self.name}",
                                   daemon=True)
        self.process.start()
        child.close()
        self.conn = parent
        self.messages = queue.Queue()
        if self.devices is None:
            self.devices_found.clear()
        threading.Thread(target=self._read, args=(parent, self.messages), name=f"explorer-{self.name}-pipe",
                         daemon=True).start()
        self.conn.send(("warm",))

    def _read(self, conn, messages: queue.Queue) -> None:
        """Everything the worker sends, into `messages` (its device list aside); ("died",) at the end."""
        while True:
            try:
                message = conn.recv()
            except (EOFError, OSError, ValueError):
                messages.put(("died",))
                self.devices_found.set()
                return
            if message[0] == "devices":
                self.devices = message[1]
                self.devices_found.set()
            else:
                messages.put(message)

    def close(self) -> None:
        """Ask the worker to quit; end it if it does not within CLOSE_S. Never waits on a pass."""
        if self.process is None:
            return
        try:
            self.conn.send(("quit",))
        except (OSError, ValueError):
            pass
        self.process.join(CLOSE_S)
        self.kill()

    def kill(self) -> None:
        if self.process is not None and self.process.is_alive():
            self.process.kill()
            self.process.join(CLOSE_S)
        if self.conn is not None:
            self.conn.close()
        self.process = self.conn = None

    def run(self, payload: dict, handlers: dict[str, Callable | None] | None = None,
            should_stop: Callable[[], bool] = lambda: False, stop_grace_s: float = STOP_GRACE_S) -> dict:
        """Run `payload`, handing each event to handlers[kind] in this thread. Returns the job's
        {"result", "where", "stopped"}; raises JobError in one line for a refusal, a failure, a
        worker that died or one that did not stop in time."""
        handlers = handlers or {}
        if not self.alive():
            self.start()
        what = describe(payload)
        try:
            self.conn.send(("run", payload))
        except (OSError, ValueError):
            self.kill()
            raise JobError(f"the worker could not be reached to start {what}") from None
        stop_sent: float | None = None
        outcome = None
        try:
            while outcome is None:
                try:
                    message = self.messages.get(timeout=POLL_S)
                except queue.Empty:
                    message = None
                if stop_sent is None and should_stop():         # looked at between events too: a
                    self.conn.send(("stop",))                   # stream of samples must not hide it
                    stop_sent = time.monotonic()
                elif stop_sent is not None and time.monotonic() - stop_sent > stop_grace_s:
                    self.kill()
                    raise JobError(f"{what} did not stop within {stop_grace_s:.0f} s; its worker was ended")
                if message is None:
                    if not self.process.is_alive():
                        message = ("died",)
                    else:
                        continue
                if message[0] == "event":
                    _dispatch(handlers, message[1], message[2])
                elif message[0] == "done":
                    outcome = message[1]
                else:
                    died = _death(self.process)
                    self.kill()
                    raise JobError(f"the worker {died} while {what}")
        except BaseException:
            if outcome is None and self.alive():
                self.kill()          # its state is unknown: the next job gets a fresh worker
            raise
        return _finished(outcome, stop_sent is not None)


def device_key(device: str) -> str:
    """Jobs queue per physical device: "cuda" is "cuda:0"."""
    return "cuda:0" if device == "cuda" else device


def run_inline(payload: dict, handlers: dict[str, Callable | None] | None = None,
               should_stop: Callable[[], bool] = lambda: False) -> dict:
    """Run the job in this process and thread (EXPLORER_INLINE_JOBS=1: for a debugger or a test that
    patches the job's code; the window then imports torch). Same outcome and errors as a worker's."""
    handlers = handlers or {}
    body = JobBody(push=lambda kind, value: _dispatch(handlers, kind, value), should_stop=should_stop)
    return _finished(body.run(payload), body.stopping())


class WorkerPool:
    """A worker per device; one job per device at a time, the next one queued. With `inline`
    (EXPLORER_INLINE_JOBS=1), jobs run in the calling thread instead."""

    def __init__(self, threads: int | None = None, inline: bool | None = None) -> None:
        self.threads = threads
        self.inline = os.environ.get("EXPLORER_INLINE_JOBS") == "1" if inline is None else inline
        self._workers: dict[str, LocalWorker] = {}
        self._locks: dict[str, threading.Lock] = {}
        self._running: dict[str, str] = {}
        self._guard = threading.Lock()

    def worker(self, device: str = "cpu") -> LocalWorker:
        key = device_key(device)
        with self._guard:
            if key not in self._workers:
                self._workers[key] = LocalWorker(key, self.threads)
                self._locks[key] = threading.Lock()
            return self._workers[key]

    def warm(self, device: str = "cpu") -> None:
        """Start the device's worker now (it imports torch while the window is used)."""
        if self.inline:
            return
        worker = self.worker(device)
        lock = self._locks[device_key(device)]
        if lock.acquire(blocking=False):
            try:
                if not worker.alive():
                    worker.start()
            finally:
                lock.release()

    def run(self, payload: dict, handlers: dict[str, Callable | None] | None = None,
            should_stop: Callable[[], bool] = lambda: False, on_queued: Callable[[str], None] | None = None,
            stop_grace_s: float = STOP_GRACE_S) -> dict:
        """Run `payload` on its device's worker, after the job running there (on_queued says so
        once). A job stopped while queued returns {"stopped": True} without running."""
        device = device_of(payload)
        key = device_key(device)
        worker = self.worker(device)
        lock = self._locks[key]
        if not lock.acquire(blocking=False):
            if on_queued is not None:
                on_queued(f"queued: {self._running.get(key, 'another job')} is running on {device}")
            while not lock.acquire(timeout=POLL_S):
                if should_stop():
                    return {"result": None, "where": "", "stopped": True}
        try:
            self._running[key] = describe(payload)
            if self.inline:
                return run_inline(payload, handlers, should_stop)
            return worker.run(payload, handlers, should_stop, stop_grace_s)
        finally:
            self._running.pop(key, None)
            lock.release()

    def close(self) -> None:
        """End every worker (the window closing): a job in progress is stopped, not waited for."""
        with self._guard:
            workers = list(self._workers.values())
        for worker in workers:
            worker.close()


_POOL: WorkerPool | None = None


def pool() -> WorkerPool:
    """This process's pool (made on first use)."""
    global _POOL
    if _POOL is None:
        _POOL = WorkerPool()
    return _POOL
