"""Sweep points as Ray tasks: one task per point, asking for the resources it needs, results
streamed back as they finish. Ray is an optional extra (`pip install -e ".[ray]"`), imported
only here and only when a sweep asks for it (`--ray local` or `--ray ADDRESS`).

Nothing home-made: Ray schedules the tasks on the cluster's CPUs and GPUs (`num_gpus=1` for a
CUDA point), retries a task whose worker died once (`max_retries=1`), and `ray.cancel` stops
tasks; every wait has a timeout, so nothing waits forever. A point that still fails is one
line in its row; the rest of the sweep completes.
"""

from __future__ import annotations

import threading
import time
from typing import Callable

from explorer.cluster.points import Point, run_point
from explorer.errors import ExplorerError

CONNECT_TIMEOUT_S = 30
POINT_TIMEOUT_S = 3600


class ClusterError(ExplorerError):
    """Ray is missing, or the cluster cannot be reached."""


def ray_module():
    """The ray module; ClusterError in one line when Ray is not installed."""
    try:
        import ray
    except ImportError:
        raise ClusterError('Ray is not installed (pip install -e ".[ray]"); without --ray the sweep runs here') \
            from None
    return ray


def connect(address: str = "local", num_cpus: int | None = None, timeout_s: float = CONNECT_TIMEOUT_S):
    """Join a Ray cluster: "local" starts one on this machine (`num_cpus` workers), anything else is
    an address Ray's init takes ("auto", "HOST:6379", or "ray://HOST:10001" for Ray Client).
    Returns the ray module. Raises ClusterError in one line, after at most about `timeout_s`.

    Ray's own init keeps retrying an unreachable address for ever, and a thread stuck in it
    cannot be stopped: it holds Ray's global state, and a later init or shutdown in this process
    races it (seen as a hung or aborted process). So an address is first checked from outside:
    a TCP connection to its port, then a child process that joins the cluster and is killed if
    it takes too long. This process initialises Ray only for an address that answered."""
    ray = ray_module()
    if ray.is_initialized():
        return ray
    if address in ("local", ""):                           # started here, from the calling (main) thread
        try:
            ray.init(num_cpus=num_cpus, include_dashboard=False, log_to_driver=False)
        except Exception as err:
            raise ClusterError(f"cannot start a local Ray: {_first_line(err)}") from None
        return ray
    _probe(address, timeout_s)
    outcome: list = []

    def init() -> None:
        try:
            ray.init(address=address, log_to_driver=False)
            outcome.append(None)
        except Exception as err:                          # ConnectionError, TimeoutError, RuntimeError ...
            outcome.append(err)

    thread = threading.Thread(target=init, name="ray-connect", daemon=True)
    thread.start()
    thread.join(timeout_s)
    if not outcome:
        raise ClusterError(f"cannot reach the Ray cluster at {address!r}: no answer within {timeout_s:.0f} s")
    if outcome[0] is not None:
        raise ClusterError(f"cannot reach the Ray cluster at {address!r}: {_first_line(outcome[0])}")
    return ray


# The child ends itself after its time (argv[2] seconds) even if this process dies first.
_PROBE = ("import os, sys, threading\n"
          "deadline = threading.Timer(float(sys.argv[2]), os._exit, (3,))\n"
          "deadline.daemon = True\n"
          "deadline.start()\n"
          "import ray\n"
          "ray.init(address=sys.argv[1], log_to_driver=False, logging_level='ERROR')\n"
          "print(len(ray.nodes()), flush=True)\n"
          "ray.shutdown()\n")


def _host_port(address: str) -> tuple[str, int] | None:
    """("HOST", PORT) of "HOST:PORT" or "ray://HOST:PORT"; None for "auto" and the like."""
    text = address.split("://", 1)[1] if "://" in address else address
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit():
        return None
    return host.strip("[]") or "127.0.0.1", int(port)


def _probe(address: str, timeout_s: float) -> None:
    """Raise ClusterError unless a Ray cluster answers at `address` within about `timeout_s`,
    without initialising Ray in this process (see connect)."""
    import socket
    import subprocess
    import sys

    def unreachable(why: str) -> ClusterError:
        return ClusterError(f"cannot reach the Ray cluster at {address!r}: {why}")

    started = time.monotonic()
    target = _host_port(address)
    if target is not None:
        try:
            socket.create_connection(target, timeout=min(5.0, timeout_s)).close()
        except OSError as err:
            raise unreachable(err.strerror or type(err).__name__) from None
    left = max(1.0, timeout_s - (time.monotonic() - started))
    try:
        proc = subprocess.run([sys.executable, "-c", _PROBE, address, f"{left:.1f}"], capture_output=True, text=True,
                              timeout=left + 5)
    except subprocess.TimeoutExpired:                     # the child is killed; nothing is left behind here
        proc = None
    if proc is None or proc.returncode == 3:
        raise unreachable(f"no answer within {timeout_s:.0f} s")
    if proc.returncode != 0:
        lines = [line.strip() for line in proc.stderr.splitlines() if line.strip()]
        errors = [line for line in lines if "Error" in line.split(":", 1)[0]]
        raise unreachable((errors or lines or [f"exit status {proc.returncode}"])[-1][:200])


def _first_line(err: BaseException) -> str:
    text = str(err).strip()
    return text.splitlines()[0][:200] if text else type(err).__name__


def devices(ray) -> list[dict]:
    """The cluster's nodes and what they offer (CPUs, GPUs and their names when Ray knows them)."""
    out = []
    for node in ray.nodes():
        if not node.get("Alive"):
            continue
        res = node.get("Resources", {})
        gpu_names = [k.split("accelerator_type:", 1)[1] for k in res if k.startswith("accelerator_type:")]
        out.append({"node": node.get("NodeManagerAddress", "?"), "cpus": int(res.get("CPU", 0)),
                    "gpus": int(res.get("GPU", 0)), "gpu_type": ", ".join(gpu_names),
                    "memory": int(res.get("memory", 0))})
    return out


GPU_QUERY_TIMEOUT_S = 10.0


def _gpu_properties() -> tuple[str, int] | None:
    """(name, total memory in bytes) of the GPU Ray gave this task, None without one."""
    import torch

    if not torch.cuda.is_available():
        return None
    props = torch.cuda.get_device_properties(0)
    return props.name, int(props.total_memory)


def with_gpu_memory(ray, devices: list[dict], timeout_s: float = GPU_QUERY_TIMEOUT_S) -> list[dict]:
    """`devices` with "gpu_name" and "gpu_memory" (bytes) on nodes with GPUs, asked of each such node
    by a small task holding a sliver of one GPU. A node that does not answer in `timeout_s` (all its
    GPUs taken, say) keeps what Ray's resources say."""
    asked = {}
    task = _remote(ray, _gpu_properties)
    for d in devices:
        if d["gpus"]:
            asked[d["node"]] = task.options(num_cpus=0, num_gpus=0.01,
                                            resources={f"node:{d['node']}": 0.001}).remote()
    if not asked:
        return devices
    ready, pending = ray.wait(list(asked.values()), num_returns=len(asked), timeout=timeout_s)
    for ref in pending:
        ray.cancel(ref, force=True)
    found = {}
    for node, ref in asked.items():
        if ref in ready:
            try:
                found[node] = ray.get(ref, timeout=timeout_s)
            except Exception:                 # the node's worker failed: Ray's resources are what we know
                continue
    out = []
    for d in devices:
        props = found.get(d["node"])
        out.append({**d, "gpu_name": props[0], "gpu_memory": props[1]} if props else d)
    return out


def _remote(ray, fn):
    """`fn` as a Ray task that a dead worker costs one retry (made once per function)."""
    tasks = _remote.__dict__.setdefault("tasks", {})
    if fn not in tasks:
        tasks[fn] = ray.remote(max_retries=1, retry_exceptions=False)(fn)
    return tasks[fn]


def run_points(points: list[Point], address: str = "local", on_row: Callable[[dict], None] | None = None,
               should_stop: Callable[[], bool] | None = None, timeout_s: float = POINT_TIMEOUT_S,
               num_cpus: int | None = None, cpus_per_point: float = 1.0, task_fn=run_point) -> list[dict]:
    """Run every point as a Ray task; `on_row(row)` as each finishes (in finishing order). Returns
    the rows in the points' order. A point on a CUDA device asks for one GPU. `task_fn`: what runs
    a point on the worker (run_point; tests pass one that kills its worker)."""
    ray = connect(address, num_cpus)
    task = _remote(ray, task_fn)
    refs = {}
    for i, p in enumerate(points):
        gpu = 1 if p.options.get("device", "cpu").startswith("cuda") else 0
        refs[task.options(num_cpus=cpus_per_point, num_gpus=gpu).remote(p.payload())] = i
    rows: list[dict | None] = [None] * len(points)
    started = time.monotonic()
    pending = list(refs)
    while pending:
        if should_stop is not None and should_stop():
            for ref in pending:
                ray.cancel(ref, force=True)
            for ref in pending:
                rows[refs[ref]] = _failed(points[refs[ref]], "stopped before it finished")
            break
        done, pending = ray.wait(pending, num_returns=1, timeout=1.0)
        for ref in done:
            i = refs[ref]
            try:
                row = ray.get(ref, timeout=60)
            except Exception as err:                      # the worker died twice, or the task was cancelled
                row = _failed(points[i], f"failed after one retry ({type(err).__name__}: "
                                         f"{str(err).strip().splitlines()[0][:160] if str(err).strip() else ''})")
            rows[i] = row
            if on_row is not None:
                on_row(row)
        if pending and time.monotonic() - started > timeout_s:
            for ref in pending:
                ray.cancel(ref, force=True)
                rows[refs[ref]] = _failed(points[refs[ref]], f"timed out after {timeout_s:.0f} s")
                if on_row is not None:
                    on_row(rows[refs[ref]])
            break
    return [r if r is not None else _failed(p, "no result") for r, p in zip(rows, points)]


def _failed(point: Point, why: str) -> dict:
    return {"label": point.label, "where": "", "version": "", "error": why}


def run_local(points: list[Point], on_row: Callable[[dict], None] | None = None,
              should_stop: Callable[[], bool] | None = None) -> list[dict]:
    """The same points in this process, one after another (the default without --ray)."""
    rows = []
    for p in points:
        if should_stop is not None and should_stop():
            rows.append(_failed(p, "stopped before it started"))
            continue
        row = run_point(p.payload())
        row["where"] = f"local ({row['where']})"
        rows.append(row)
        if on_row is not None:
            on_row(row)
    return rows
