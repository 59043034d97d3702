"""The device list of the Timing and Train tabs: this machine's devices (probed in a worker
thread: torch is never imported on the GUI thread) and, with a Ray address set (Cluster > Ray
address…), the cluster's, joined in a worker thread too ("ray: cpu @ NODE", "ray: cuda H100
x2 @ NODE"). A run on a cluster device goes to cluster/remote_run.py; `remote()` says which.
"""

from __future__ import annotations

from PySide6.QtCore import QObject, QThread, QTimer, Signal
from PySide6.QtWidgets import QComboBox, QWidget

from explorer.gui.workers import start_in_thread

RAY_PREFIX = "ray:"
CLUSTER_CONNECT_TIMEOUT_S = 15.0


def cluster_device_entries(devices: list[dict]) -> list[tuple[str, str]]:
    """(data, label) of each cluster device from ray_backend.devices() (with_gpu_memory adds the
    GPUs' name and memory): data "ray:DEVICE@NODE", label "ray: cuda NVIDIA H100 80GB HBM3 79 GiB
    x8 @ 10.0.0.2". A node's GPUs are one entry: Ray gives a run one of them, seen there as cuda:0."""
    out = []
    for d in devices:
        node = d.get("node", "?")
        if d.get("cpus", 0):
            out.append((f"{RAY_PREFIX}cpu@{node}", f"ray: cpu @ {node}"))
        if d.get("gpus", 0):
            name = d.get("gpu_name") or d.get("gpu_type") or ""
            memory = f" {d['gpu_memory'] / 2**30:.0f} GiB" if d.get("gpu_memory") else ""
            count = f" x{d['gpus']}" if d["gpus"] > 1 else ""
            out.append((f"{RAY_PREFIX}cuda:0@{node}", f"ray: cuda {name}{memory}{count} @ {node}".replace("  ", " ")))
    return out


def parse_cluster_device(data: str) -> tuple[str, str] | None:
    """("cuda:0", NODE) from "ray:cuda:0@NODE"; None for a device of this machine."""
    if not data.startswith(RAY_PREFIX) or "@" not in data:
        return None
    device, node = data[len(RAY_PREFIX):].rsplit("@", 1)
    return device, node


def join_for_run(address: str, node: str, say) -> object:
    """In a run's worker thread: the app's connection to the cluster at `address` (reused when
    joined), saying what it does through `say`. Returns the ray module."""
    from explorer.gui.cluster_settings import connect

    say(f"connecting to the cluster at {address}")
    ray = connect(address, CLUSTER_CONNECT_TIMEOUT_S)
    say(f"starting the run on {node}")
    return ray


class DeviceChoice(QObject):
    """Keeps `combo` filled with this machine's devices, then the cluster's."""

    message = Signal(str)            # one line (a cluster that cannot be reached)

    def __init__(self, combo: QComboBox, parent: QWidget) -> None:
        super().__init__(parent)
        self.combo = combo
        self._owner = parent
        self._local: list[tuple[str, str]] = [("cpu", "cpu")]
        self._cluster: list[tuple[str, str]] = []
        self.cluster_address = ""                           # the address the cluster devices came from
        self._probe_timer: QTimer | None = None
        self._cluster_probe = None
        self._cluster_thread: QThread | None = None
        self._probe_address = ""
        if combo.count() == 0:
            combo.addItem("cpu", "cpu")
        combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)    # a node's name is read whole

    def probe(self) -> None:
        """List this machine's devices, and the cluster's when an address is set (both in threads)."""
        from explorer.jobs.local import pool

        worker = pool().worker("cpu")
        pool().warm("cpu")
        if worker.devices_found.is_set():
            self._on_local(worker.devices or [("cpu", "cpu")])
        else:                         # the worker lists them once it has imported torch: look, no thread
            timer = QTimer(self)
            timer.setInterval(100)

            def look() -> None:
                if worker.devices_found.is_set():
                    timer.stop()
                    self._on_local(worker.devices or [("cpu", "cpu")])
            timer.timeout.connect(look)
            timer.start()
            self._probe_timer = timer
        self.probe_cluster(start_local=False)

    def probe_cluster(self, address: str | None = None, start_local: bool = True) -> None:
        """With a Ray address (the app's setting unless given), join the cluster in a worker
        thread (cluster_settings.connect: an existing connection is reused) and add its devices.
        A tab that opens does not start a "local" Ray by itself (`start_local` False): Ray's
        processes start when the cluster dialog or a sweep asks for them, and the device lists
        follow then (devices_found)."""
        from explorer.gui.cluster_settings import ConnectWorker, joined, ray_address

        address = ray_address() if address is None else address.strip()
        if not address:
            self.set_cluster_devices([], "")
            return
        if address == "local" and not start_local and not joined(address):
            return
        if self._cluster_probe is not None:
            return
        probe = ConnectWorker(address, CLUSTER_CONNECT_TIMEOUT_S)
        self._probe_address = address
        probe.done.connect(self._on_cluster_done)       # a method of this object: run on the GUI thread
        probe.failed.connect(self._on_cluster_failed)
        self._cluster_probe = probe
        self._cluster_thread = start_in_thread(probe, self._owner)

    def _on_cluster_done(self, devices: list) -> None:
        self.set_cluster_devices(devices, self._probe_address)

    def _on_cluster_failed(self, line: str) -> None:
        self._cluster_probe = None
        self.set_cluster_devices([], "")
        self.message.emit(" ".join(f"cluster devices unavailable: {line}".split()))

    def set_cluster_devices(self, devices: list, address: str | None = None) -> None:
        """The cluster's devices (ray_backend.devices()) joined at `address`, offered after this machine's."""
        from explorer.gui.cluster_settings import ray_address

        self._cluster_probe = None
        self.cluster_address = ray_address() if address is None else address
        self._cluster = cluster_device_entries(devices) if self.cluster_address else []
        self._fill()

    def _on_local(self, devices: list) -> None:
        self._local = [tuple(d) for d in devices]
        self._fill()

    def _fill(self) -> None:
        current = self.device()
        self.combo.clear()
        for device, label in self._local + self._cluster:
            self.combo.addItem(label, device)
        index = self.combo.findData(current)
        if index >= 0:
            self.combo.setCurrentIndex(index)

    def device(self) -> str:
        """The chosen device ("cpu", "cuda:0", "mps", or a cluster's "ray:cpu@NODE")."""
        return self.combo.currentData() or self.combo.currentText()

    def remote(self) -> tuple[str, str] | None:
        """(device there, node) when the chosen device is on the cluster, else None."""
        return parse_cluster_device(self.device())

    def run_device(self) -> str:
        """The device a run's config names: the chosen one, or its name on the cluster's node."""
        remote = self.remote()
        return remote[0] if remote else self.device()

    def threads(self) -> list[QThread]:
        return [t for t in (self._cluster_thread,) if t is not None]
