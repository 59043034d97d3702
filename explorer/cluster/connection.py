"""This process's connection to a Ray cluster (at most one address at a time): join it, start a
local one on a thread that outlives the call, leave it. Qt-free: the window's cluster dialog and
tabs call it from their worker threads. Ray is imported only when an address is joined."""

from __future__ import annotations

import os
import threading

TEST_TIMEOUT_S = 15.0
LOCAL_START_TIMEOUT_S = 120.0
_lock = threading.Lock()
_connected: list[str] = []           # the address Ray was initialised for by this process (at most one)
_release = threading.Event()         # ends the thread that started a local Ray (after its shutdown)


def connected_address() -> str | None:
    """The address this process joined (or started, for "local"), or None."""
    with _lock:
        return _connected[0] if _connected else None


def local_cpus() -> int | None:
    """Workers of a Ray started here ("local"): EXPLORER_RAY_CPUS when set, else Ray's default."""
    text = os.environ.get("EXPLORER_RAY_CPUS", "").strip()
    return int(text) if text.isdigit() and int(text) > 0 else None


def connect(address: str, timeout_s: float = TEST_TIMEOUT_S):
    """Join the cluster at `address` (a worker thread only: it can take seconds). Ray already
    joined for another address is shut down first. Returns ray; ClusterError in one line."""
    from explorer.cluster import ray_backend

    global _release
    with _lock:
        ray = ray_backend.ray_module()
        if ray.is_initialized() and _connected and _connected[0] != address:
            ray.shutdown()
            _release.set()
        _connected.clear()
        if address == "local" and not ray.is_initialized():
            _release = threading.Event()
            _start_local(ray_backend, _release)
        else:
            ray = ray_backend.connect(address, None, timeout_s)
        _connected.append(address)
        return ray


def joined(address: str) -> bool:
    """Whether this app has joined (or started, for "local") a Ray at `address` and is still on it."""
    import sys

    ray = sys.modules.get("ray")
    with _lock:
        return bool(_connected) and _connected[0] == address and ray is not None and ray.is_initialized()


def shutdown() -> None:
    """Leave the cluster (a local Ray stops), if this app joined one."""
    import sys

    with _lock:
        ray = sys.modules.get("ray")
        if ray is not None and ray.is_initialized():
            ray.shutdown()
        _release.set()
        _connected.clear()


def _start_local(ray_backend, release: threading.Event) -> None:
    """Start a local Ray on a thread that lives until `release`: Ray's processes die with the
    thread that started them (PR_SET_PDEATHSIG), so not a worker's thread, which ends."""
    outcome: list = []
    started = threading.Event()

    def keep() -> None:
        try:
            ray_backend.connect("local", local_cpus())
            outcome.append(None)
        except Exception as err:                    # ClusterError: one line
            outcome.append(err)
        started.set()
        if outcome[0] is None:
            release.wait()

    threading.Thread(target=keep, name="ray-local", daemon=True).start()
    if not started.wait(LOCAL_START_TIMEOUT_S):
        raise ray_backend.ClusterError(f"a local Ray did not start within {LOCAL_START_TIMEOUT_S:.0f} s")
    if outcome[0] is not None:
        raise outcome[0]


def describe(devices: list[dict]) -> str:
    """'1 node, 2 CPUs, 0 GPUs: 10.0.0.2 (2 CPUs)' from ray_backend.devices()."""
    cpus, gpus = sum(d["cpus"] for d in devices), sum(d["gpus"] for d in devices)
    nodes = "; ".join(f"{d['node']} ({d['cpus']} CPUs" + (f", {d['gpus']} GPUs {d['gpu_type']}".rstrip()
                                                          if d["gpus"] else "") + ")" for d in devices)
    return f"{len(devices)} node{'s' * (len(devices) != 1)}, {cpus} CPUs, {gpus} GPUs: {nodes}"
