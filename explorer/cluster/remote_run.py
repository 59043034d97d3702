"""One timing run (bench.timing.run_bench) or one training run (train.session.train_and_compare)
on a Ray cluster, streamed back as it runs: the app's Timing and Train tabs on a cluster device.

The design travels as YAML text with the version of the project that wrote it (as a sweep
point does, cluster/points.py); the actor reads and validates it again and refuses, in one
line, a design written by another version. The actor is threaded: `run` works in one thread
while the driver drains `poll` (samples or steps, evaluations, progress lines) and may call
`stop`, which sets the flag the run's should_stop reads, so the run ends within one iteration
or step. If it does not end within STOP_GRACE_S the actor is killed. Every remote call has a
timeout; a lost cluster is a ClusterError in one line.

Ray is imported only when a run asks for it (the actor class is made on first use).
"""

from __future__ import annotations

import time
from typing import Callable

from explorer import __version__
from explorer.cluster.ray_backend import ClusterError, _first_line
from explorer.jobs.body import JobBody, bench_payload, train_payload  # noqa: F401  (train_payload: callers' name)

CALL_TIMEOUT_S = 30.0        # one poll / stop / ready call
START_TIMEOUT_S = 120.0      # the actor placed and its process up
RUN_TIMEOUT_S = 3600.0       # the whole run
STOP_GRACE_S = 20.0          # after stop(): then the actor is killed
POLL_S = 0.1


class Runner(JobBody):
    """The job body (jobs/body.py) as a Ray actor's class (made an actor by `actor_class`): events
    are buffered for the driver's `poll`."""


def actor_class(ray):
    """Runner as a threaded Ray actor (made once): poll and stop run beside run."""
    cached = actor_class.__dict__.get("cls")
    if cached is None:
        cached = actor_class.cls = ray.remote(max_concurrency=4, max_restarts=0)(Runner)
    return cached


def payload(design_yaml: str, config: dict, version: str = __version__) -> dict:
    """A timing run's payload (config: BenchConfig fields)."""
    return bench_payload(design_yaml, config, version=version)


def _gpus(device: str) -> int:
    """GPUs a run on `device` asks Ray for: one for CUDA (seen there as cuda:0)."""
    return 1 if str(device).startswith("cuda") else 0


def run_remote(ray, design_yaml: str, config: dict, node: str | None = None,
               on_sample: Callable | None = None, on_progress: Callable[[str], None] | None = None,
               on_built: Callable | None = None, should_stop: Callable[[], bool] = lambda: False,
               version: str = __version__, run_timeout_s: float = RUN_TIMEOUT_S,
               start_timeout_s: float = START_TIMEOUT_S, stop_grace_s: float = STOP_GRACE_S):
    """Time the design on the cluster (on `node`, an address from ray_backend.devices, when given;
    config: BenchConfig fields, a CUDA device takes one of the node's GPUs). Callbacks run in this
    (the calling) thread: on_sample(Sample), on_built(BenchResult). Returns (BenchResult, where it
    ran); raises ClusterError in one line for a refusal, a failed run or a lost cluster."""
    handlers = {"sample": on_sample, "progress": on_progress, "built": on_built}
    outcome = drive(ray, payload(design_yaml, config, version), node, _gpus(config.get("device", "cpu")), handlers,
                    should_stop, run_timeout_s, start_timeout_s, stop_grace_s)
    return outcome["result"], outcome.get("where", "")


def train_remote(ray, design_yaml: str, options: dict, notes: tuple[str, ...] = (), baseline_yaml: str | None = None,
                 node: str | None = None,
                 on_step: Callable[[str, int, float, float], None] | None = None,
                 on_eval: Callable[[str, int, float, float | None], None] | None = None,
                 on_progress: Callable[[str], None] | None = None, should_stop: Callable[[], bool] = lambda: False,
                 version: str = __version__, run_timeout_s: float = RUN_TIMEOUT_S,
                 start_timeout_s: float = START_TIMEOUT_S, stop_grace_s: float = STOP_GRACE_S):
    """Train the design on the cluster as train_and_compare does here; steps and evaluations
    stream back to the callbacks (in this thread). Returns the Trained, its `where` set."""
    handlers = {"step": on_step and (lambda step: on_step(*step)), "eval": on_eval and (lambda ev: on_eval(*ev)),
                "progress": on_progress}
    outcome = drive(ray, train_payload(design_yaml, options, notes, baseline_yaml, version=version), node,
                    _gpus(options.get("device", "cpu")), handlers, should_stop, run_timeout_s, start_timeout_s,
                    stop_grace_s)
    trained = outcome["result"]
    trained.where = outcome.get("where", "")
    return trained


def drive(ray, payload: dict, node: str | None, gpus: int, handlers: dict[str, Callable | None],
          should_stop: Callable[[], bool], run_timeout_s: float = RUN_TIMEOUT_S,
          start_timeout_s: float = START_TIMEOUT_S, stop_grace_s: float = STOP_GRACE_S) -> dict:
    """Run `payload` in a fresh actor (on `node` when given, with `gpus` GPUs), hand each event it
    reports to handlers[kind] until it ends, then kill the actor. Returns the actor's
    {"result", "where"}; raises ClusterError in one line."""
    options: dict = {"num_cpus": 1, "num_gpus": gpus}
    if node:
        options["resources"] = {f"node:{node}": 0.001}
    try:
        actor = actor_class(ray).options(**options).remote()
    except Exception as err:
        raise ClusterError(f"cannot start the cluster run's actor: {_first_line(err)}") from None
    what = "training" if payload.get("kind") == "train" else "timing"
    try:
        try:
            ray.get(actor.ready.remote(), timeout=start_timeout_s)
        except Exception as err:
            raise ClusterError(f"the cluster did not start the {what} run within {start_timeout_s:.0f} s"
                               + ("" if type(err).__name__ == "GetTimeoutError" else f": {_first_line(err)}")) \
                from None
        ref = actor.run.remote(payload)
        started = time.monotonic()
        stop_sent: float | None = None

        def drain() -> None:
            for kind, value in ray.get(actor.poll.remote(), timeout=CALL_TIMEOUT_S):
                handler = handlers.get(kind)
                if handler is not None:
                    handler(value)

        try:
            while True:
                done, _ = ray.wait([ref], timeout=POLL_S)
                drain()
                if done:
                    outcome = ray.get(ref, timeout=CALL_TIMEOUT_S)
                    drain()
                    break
                if stop_sent is None and should_stop():
                    ray.get(actor.stop.remote(), timeout=CALL_TIMEOUT_S)
                    stop_sent = time.monotonic()
                if stop_sent is not None and time.monotonic() - stop_sent > stop_grace_s:
                    raise ClusterError(f"the remote run did not stop within {stop_grace_s:.0f} s; its actor was "
                                       "killed")
                if time.monotonic() - started > run_timeout_s:
                    raise ClusterError(f"the remote run timed out after {run_timeout_s:.0f} s; its actor was killed")
        except ClusterError:
            raise
        except Exception as err:          # RayActorError, GetTimeoutError, a lost connection ...
            raise ClusterError(f"the cluster run was lost ({type(err).__name__}: {_first_line(err)})") from None
    finally:
        try:
            ray.kill(actor, no_restart=True)
        except Exception:                 # already gone, or the connection with it
            pass
    if "error" in outcome:
        raise ClusterError(outcome["error"])
    return outcome
