"""Jobs in a worker process: events stream back, Stop ends a job within an iteration, a job that
does not stop is ended, a dead worker is one line and the next job gets a fresh worker, jobs on one
device queue, and the driving process never imports torch."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time

import pytest

from explorer.design import yaml_io
from explorer.errors import JobError
from explorer.jobs.body import bench_payload
from explorer.jobs.local import LocalWorker, WorkerPool
from explorer.presets import resolve

DESIGN = yaml_io.dumps(yaml_io.load(resolve("tutorial-all-shared")))
SMALL = dict(device="cpu", batch=1, seq=8, warmup=1, threads=1)


@pytest.fixture
def worker():
    w = LocalWorker("test", threads=1)
    yield w
    w.close()


def test_a_timing_job_streams_its_samples_and_returns_the_result(worker):
    samples, built = [], []
    out = worker.run(bench_payload(DESIGN, dict(SMALL, iters=3, twin=True), "tutorial"),
                     {"sample": samples.append, "built": built.append})
    result = out["result"]
    assert len(result.design.samples_ms) == 3 and len(result.twin.samples_ms) == 3
    assert [s.series for s in samples if not s.warmup].count("design") == 3
    assert built and built[0].design.params_built == result.params_analysis
    assert out["where"].endswith(f":{worker.pid}") and worker.pid != os.getpid()
    assert not out["stopped"]


def test_stop_ends_a_job_within_an_iteration_and_the_worker_stays(worker):
    samples: list = []
    started = threading.Event()

    def on_sample(s):
        samples.append(s)
        started.set()

    out = worker.run(bench_payload(DESIGN, dict(SMALL, iters=100000)), {"sample": on_sample},
                     should_stop=started.is_set)
    assert out["stopped"] and out["result"].cancelled
    pid = worker.pid
    again = worker.run(bench_payload(DESIGN, dict(SMALL, iters=2)))
    assert worker.pid == pid and len(again["result"].design.samples_ms) == 2


@pytest.mark.parametrize("how", [signal.SIGKILL, signal.SIGSEGV])
def test_a_dead_worker_is_one_line_and_the_next_job_runs(worker, how):
    def kill(_sample):
        os.kill(worker.pid, how)

    with pytest.raises(JobError) as err:
        worker.run(bench_payload(DESIGN, dict(SMALL, iters=100000), "tutorial"), {"sample": kill})
    assert str(err.value) == f"the worker died (signal {int(how)}) while timing tutorial"
    out = worker.run(bench_payload(DESIGN, dict(SMALL, iters=2)))
    assert len(out["result"].design.samples_ms) == 2


def test_a_job_that_does_not_stop_has_its_worker_ended(worker):
    # a worker frozen mid-pass (SIGSTOP) never sees the stop: it is ended after the grace
    frozen = threading.Event()

    def freeze(_sample):
        if not frozen.is_set():
            os.kill(worker.pid, signal.SIGSTOP)
            frozen.set()

    started = time.monotonic()
    with pytest.raises(JobError, match="timing tutorial did not stop within 1 s; its worker was ended"):
        worker.run(bench_payload(DESIGN, dict(SMALL, iters=100000), "tutorial"), {"sample": freeze},
                   should_stop=frozen.is_set, stop_grace_s=1.0)
    assert not worker.alive() and time.monotonic() - started < 30


def test_refusals_are_one_line(worker):
    with pytest.raises(JobError, match="refused: the design was sent by Sharing Explorer 0.0.0"):
        worker.run(bench_payload(DESIGN, SMALL, version="0.0.0"))
    with pytest.raises(JobError, match="threads must be from 1"):
        worker.run(bench_payload(DESIGN, dict(SMALL, threads=10**6)))


def test_jobs_on_one_device_queue_and_say_so():
    pool = WorkerPool(threads=1)
    try:
        first_running = threading.Event()
        said: list[str] = []
        finished: list[str] = []

        def first():
            pool.run(bench_payload(DESIGN, dict(SMALL, iters=200), "first"),
                     {"sample": lambda _s: first_running.set()})
            finished.append("first")

        thread = threading.Thread(target=first)
        thread.start()
        assert first_running.wait(60)
        pool.run(bench_payload(DESIGN, dict(SMALL, iters=1), "second"), on_queued=said.append)
        finished.append("second")
        thread.join(60)
        assert said == ["queued: timing first is running on cpu"]
        assert finished == ["first", "second"]
    finally:
        pool.close()


def test_the_driving_process_never_imports_torch():
    code = ("import sys; from explorer.design import yaml_io; from explorer.presets import resolve; "
            "from explorer.jobs.body import bench_payload; from explorer.jobs.local import LocalWorker; "
            "w = LocalWorker(threads=1); "
            "out = w.run(bench_payload(yaml_io.dumps(yaml_io.load(resolve('tutorial-all-shared'))), "
            "dict(device='cpu', seq=8, iters=2, warmup=1, twin=True))); w.close(); "
            "assert out['result'].design.samples_ms; assert 'torch' not in sys.modules, 'torch imported'")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
