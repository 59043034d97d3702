"""Joining a cluster never leaves Ray half-initialised in this process: an address is checked
from outside (a TCP connection, then a child process that joins and is killed when it takes too
long) before this process calls ray.init. A stuck init thread holds Ray's global state for ever
and a later local Ray in the same process races it (a hung CI run)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time

import pytest

ray = pytest.importorskip("ray")

from explorer.cluster.ray_backend import ClusterError, _host_port, connect  # noqa: E402


@pytest.mark.parametrize("address, expected", [
    ("10.0.0.2:6379", ("10.0.0.2", 6379)), ("ray://head:10001", ("head", 10001)), ("[::1]:6379", ("::1", 6379)),
    ("auto", None), ("head", None)])
def test_host_and_port_of_an_address(address, expected):
    assert _host_port(address) == expected


def _no_ray_here():
    return not ray.is_initialized() and not any(t.name == "ray-connect" for t in threading.enumerate())


@pytest.mark.skipif(ray.is_initialized(), reason="another test left Ray running in this process")
def test_a_closed_port_is_refused_at_once():
    with socket.socket() as s:                 # a port nobody listens on: bound, never listening
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
        started = time.monotonic()
        with pytest.raises(ClusterError) as info:
            connect(f"127.0.0.1:{port}", timeout_s=20)
    assert time.monotonic() - started < 5
    assert str(info.value).startswith(f"cannot reach the Ray cluster at '127.0.0.1:{port}': ")
    assert "\n" not in str(info.value) and _no_ray_here()


@pytest.mark.skipif(ray.is_initialized(), reason="another test left Ray running in this process")
def test_an_open_port_that_is_not_ray_gives_up_after_the_timeout():
    with socket.socket() as server:            # accepts connections, never speaks Ray's protocol
        server.bind(("127.0.0.1", 0))
        server.listen(8)
        port = server.getsockname()[1]
        started = time.monotonic()
        with pytest.raises(ClusterError) as info:
            connect(f"127.0.0.1:{port}", timeout_s=6)
        took = time.monotonic() - started
    assert str(info.value) == f"cannot reach the Ray cluster at '127.0.0.1:{port}': no answer within 6 s"
    assert 5 < took < 30 and _no_ray_here()


def _processes_naming(text: str) -> list[int]:
    """Process ids whose command line holds `text` (Linux /proc)."""
    from pathlib import Path

    found = []
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and text in (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode():
                found.append(int(entry.name))
        except OSError:
            continue
    return found


@pytest.mark.skipif(not os.path.isdir("/proc"), reason="lists processes through /proc")
def test_the_checking_child_ends_itself_when_the_app_dies_first():
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(8)
        address = f"127.0.0.1:{server.getsockname()[1]}"
        app = subprocess.Popen([sys.executable, "-c", "from explorer.cluster.ray_backend import connect\n"
                                f"connect({address!r}, timeout_s=4)\n"])
        deadline = time.monotonic() + 30
        while not _processes_naming(address) or _processes_naming(address) == [app.pid]:
            assert time.monotonic() < deadline and app.poll() is None
            time.sleep(0.1)
        app.kill()                             # the app is gone while its child waits on the cluster
        app.wait()
        while _processes_naming(address) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not _processes_naming(address)


def test_gpu_nodes_are_asked_for_their_gpus_name_and_memory():
    """A Ray that says it has a GPU (declared, on this machine: none may be real) is asked by a
    small task what the GPU is; where torch finds none, what Ray's resources say stays."""
    code = ("import json, ray, torch\n"
            "from explorer.cluster.ray_backend import devices, with_gpu_memory\n"
            "ray.init(num_cpus=1, num_gpus=1, include_dashboard=False, log_to_driver=False)\n"
            "print(json.dumps({'cuda': torch.cuda.is_available(), 'devices': with_gpu_memory(ray, devices(ray))}))\n"
            "ray.shutdown()\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    import json

    out = json.loads(proc.stdout.strip().splitlines()[-1])
    (node,) = out["devices"]
    assert node["gpus"] == 1
    if out["cuda"]:
        assert node["gpu_memory"] > 2**30 and node["gpu_name"]
    else:
        assert "gpu_memory" not in node
