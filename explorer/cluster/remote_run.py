"""One timing run (bench.timing.run_bench) on a Ray cluster, streamed back as it runs.

The design travels as YAML text with the version of the project that wrote it (as a sweep
point does, cluster/points.py); the actor reads and validates it again and refuses, in one
line, a design written by another version. The actor is threaded: `run` times the design in
one thread while the driver drains `poll` (samples, the on_built report, progress lines) and
may call `stop`, which sets the flag run_bench's should_stop reads, so the run ends within one
iteration. If it does not end within STOP_GRACE_S the actor is killed. Every remote call has a
timeout; a lost cluster is a ClusterError in one line.

Ray is imported only when a run asks for it (the actor class is made on first use).
"""

from __future__ import annotations

import dataclasses
import threading
import time
from typing import Callable

from explorer import __version__
from explorer.cluster.ray_backend import ClusterError, _first_line

CALL_TIMEOUT_S = 30.0        # one poll / stop / ready call
START_TIMEOUT_S = 120.0      # the actor placed and its process up
RUN_TIMEOUT_S = 3600.0       # the whole run
STOP_GRACE_S = 20.0          # after stop(): then the actor is killed
POLL_S = 0.1


class BenchRunner:
    """The actor's body (made a Ray actor by `actor_class`): runs run_bench for a design given as
    YAML text and keeps what it reports for the driver's `poll`."""

    def __init__(self) -> None:
        self._events: list[tuple[str, object]] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()

    def ready(self) -> str:
        from explorer.cluster.points import here

        return here()

    def _push(self, kind: str, value) -> None:
        with self._lock:
            self._events.append((kind, value))

    def poll(self) -> list[tuple[str, object]]:
        """What the run reported since the last poll: ("sample", {series, index, ms, warmup}),
        ("built", result dict), ("progress", line)."""
        with self._lock:
            out, self._events = self._events, []
        return out

    def stop(self) -> bool:
        self._stop.set()
        return True

    def run(self, payload: dict) -> dict:
        """{"version", "design_yaml", "config"} -> {"result": BenchResult.to_json() + "fields"} or
        {"error": one line}. Never raises."""
        from explorer.cluster.points import here

        if payload.get("version") != __version__:
            return {"error": f"refused: the design was sent by Sharing Explorer {payload.get('version')} and "
                             f"this worker runs {__version__}"}
        try:
            from explorer.bench.config import BenchConfig
            from explorer.bench.timing import run_bench
            from explorer.design import yaml_io
            from explorer.errors import ExplorerError

            spec = yaml_io.parse_text(payload["design_yaml"])          # validated again here
            config = BenchConfig(**payload.get("config", {}))
            try:
                result = run_bench(spec, config,
                                   on_sample=lambda s: self._push("sample", dataclasses.asdict(s)),
                                   should_stop=self._stop.is_set,
                                   on_progress=lambda line: self._push("progress", line),
                                   on_built=lambda r: self._push("built", result_to_dict(r)))
            except ExplorerError as err:
                return {"error": _first_line(err)}
        except Exception as err:          # a bug or a torch failure: one line, not a traceback
            return {"error": f"{type(err).__name__}: {_first_line(err)}"}
        return {"result": result_to_dict(result), "where": here()}


def result_to_dict(result) -> dict:
    """BenchResult.to_json(), plus every field ("fields") so the driver can rebuild the object."""
    out = result.to_json()
    out["fields"] = dataclasses.asdict(result)
    return out


def result_from_dict(data: dict):
    """The BenchResult a result_to_dict dict came from (the panel's readout takes the object)."""
    from explorer.bench.config import BenchConfig
    from explorer.bench.results import BenchResult, SeriesResult

    fields = dict(data["fields"])
    fields["config"] = BenchConfig(**fields["config"])
    fields["design"] = SeriesResult(**fields["design"])
    if fields.get("twin") is not None:
        fields["twin"] = SeriesResult(**fields["twin"])
    return BenchResult(**fields)


def actor_class(ray):
    """BenchRunner as a threaded Ray actor (made once): poll and stop run beside run."""
    cached = actor_class.__dict__.get("cls")
    if cached is None:
        cached = actor_class.cls = ray.remote(max_concurrency=4, max_restarts=0)(BenchRunner)
    return cached


def payload(design_yaml: str, config: dict, version: str = __version__) -> dict:
    return {"design_yaml": design_yaml, "config": dict(config), "version": version}


def run_remote(ray, design_yaml: str, config: dict, node: str | None = None, gpus: int = 0,
               on_sample: Callable[[dict], None] | None = None, on_progress: Callable[[str], None] | None = None,
               on_built: Callable[[dict], None] | None = None, should_stop: Callable[[], bool] = lambda: False,
               version: str = __version__, run_timeout_s: float = RUN_TIMEOUT_S,
               start_timeout_s: float = START_TIMEOUT_S, stop_grace_s: float = STOP_GRACE_S) -> dict:
    """Time the design on the cluster (on `node`, an address from ray_backend.devices, when given;
    `gpus`=1 for a CUDA device there). Callbacks run in this (the calling) thread. Returns the
    result dict (result_to_dict) with "where"; raises ClusterError in one line for a refusal,
    a failed run or a lost cluster."""
    options: dict = {"num_cpus": 1, "num_gpus": gpus}
    if node:
        options["resources"] = {f"node:{node}": 0.001}
    try:
        actor = actor_class(ray).options(**options).remote()
    except Exception as err:
        raise ClusterError(f"cannot start the timing actor: {_first_line(err)}") from None
    try:
        try:
            ray.get(actor.ready.remote(), timeout=start_timeout_s)
        except Exception as err:
            raise ClusterError(f"the cluster did not start the timing run within {start_timeout_s:.0f} s"
                               + ("" if type(err).__name__ == "GetTimeoutError" else f": {_first_line(err)}")) \
                from None
        ref = actor.run.remote(payload(design_yaml, config, version))
        started = time.monotonic()
        stop_sent: float | None = None

        def drain() -> None:
            for kind, value in ray.get(actor.poll.remote(), timeout=CALL_TIMEOUT_S):
                if kind == "sample" and on_sample is not None:
                    on_sample(value)
                elif kind == "progress" and on_progress is not None:
                    on_progress(value)
                elif kind == "built" and on_built is not None:
                    on_built(value)

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
    result = outcome["result"]
    result["where"] = outcome.get("where", "")
    return result
