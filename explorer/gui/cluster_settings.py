"""The Ray address of the app's cluster sweeps (Cluster > Ray address…), kept in the app's
settings, and a small dialog that tests it in a worker thread and lists the cluster's nodes.

Empty: sweeps run in this process; "local": a Ray started on this machine (EXPLORER_RAY_CPUS
workers when set, else one per CPU); "HOST:6379" or "ray://HOST:10001": a cluster
(docs/cluster.md). Ray is imported only in worker threads, never on the GUI thread; the connection
itself is explorer/cluster/connection.py."""

from __future__ import annotations

from PySide6.QtCore import QThread, Qt, Signal
from PySide6.QtWidgets import (QDialog, QDialogButtonBox, QHBoxLayout, QLabel, QLineEdit, QPushButton, QVBoxLayout,
                               QWidget)

from explorer.cluster.connection import (connect, connected_address, describe, joined,  # noqa: F401  (the tabs' API)
                                         local_cpus, shutdown)
from explorer.gui.workers import JobWorker, start_in_thread

SETTINGS_KEY = "cluster/ray_address"
TEST_TIMEOUT_S = 15.0


def ray_address() -> str:
    from explorer.gui.document import app_settings

    return str(app_settings().value(SETTINGS_KEY, "") or "").strip()


def set_ray_address(address: str) -> None:
    from explorer.gui.document import app_settings

    settings = app_settings()
    settings.setValue(SETTINGS_KEY, address.strip())
    settings.sync()


class ConnectWorker(JobWorker):
    """Connects to the address and lists the cluster's devices, off the GUI thread."""

    done = Signal(list)              # ray_backend.devices(ray)
    failure = "testing the connection failed"

    def __init__(self, address: str, timeout_s: float) -> None:
        super().__init__()
        self.address, self.timeout_s = address, timeout_s

    def work(self) -> None:
        from explorer.cluster import ray_backend

        ray = connect(self.address, self.timeout_s)
        self.done.emit(ray_backend.with_gpu_memory(ray, ray_backend.devices(ray)))


class ClusterSettingsDialog(QDialog):
    """The Ray address, a Test connection button and one line of what it found (or why not)."""

    message = Signal(str)            # one line for the status bar
    address_changed = Signal(str)    # saved on OK
    devices_found = Signal(list)     # a successful test: ray_backend.devices()
    test_finished = Signal(bool)

    def __init__(self, parent: QWidget | None = None, busy=lambda: False) -> None:
        super().__init__(parent)
        self.setWindowTitle("Ray cluster")
        self.busy = busy             # True while a sweep runs on the cluster (then no switching)
        self.timeout_s = TEST_TIMEOUT_S
        self._thread: QThread | None = None
        self._worker: ConnectWorker | None = None
        self.address_edit = QLineEdit(ray_address(), placeholderText="empty: in this process")
        self.address_edit.setToolTip("Where the Sweeps tab's timed and trained schemes run \"on the cluster\": "
                                     "empty = in this process; local = a Ray started on this machine; "
                                     "HOST:6379 or ray://HOST:10001 = a cluster (see docs/cluster.md)")
        self.test_button = QPushButton("Test connection")
        self.test_button.clicked.connect(self.test_connection)
        self.result_label = QLabel("", wordWrap=True)
        self.result_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        row = QHBoxLayout()
        row.addWidget(QLabel("Ray address"))
        row.addWidget(self.address_edit, 1)
        row.addWidget(self.test_button)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(row)
        layout.addWidget(QLabel("empty: in this process · local: Ray on this machine · HOST:6379 or "
                                "ray://HOST:10001: a cluster"))
        layout.addWidget(self.result_label)
        layout.addWidget(buttons)
        self.resize(560, 160)

    def address(self) -> str:
        return self.address_edit.text().strip()

    def open_settings(self) -> None:
        self.address_edit.setText(ray_address())
        self.show()
        self.raise_()

    def accept(self) -> None:
        set_ray_address(self.address())
        self.address_changed.emit(self.address())
        self.message.emit(f"Ray address: {self.address() or '(none: sweeps run in this process)'}")
        super().accept()

    def test_connection(self) -> None:
        address = self.address()
        if self._worker is not None:
            return
        if not address:
            self.result_label.setText("No address: sweeps run in this process.")
            self.test_finished.emit(True)
            return
        if self.busy() and connected_address() != address:
            self._report(False, "a sweep is running on the cluster: test another address when it ends")
            return
        self.result_label.setText(f"connecting to {address}…")
        self.test_button.setEnabled(False)
        worker = ConnectWorker(address, self.timeout_s)
        worker.done.connect(self._on_done)
        # methods of the dialog, so they run on the GUI thread (a lambda would run in the worker's)
        worker.failed.connect(self._on_failed)
        self._worker = worker
        self._thread = start_in_thread(worker, self)

    def _on_failed(self, line: str) -> None:
        self._report(False, line)

    def _on_done(self, devices: list) -> None:
        self.devices_found.emit(devices)
        self._report(True, f"connected to {self.address()}: {describe(devices)}")

    def _report(self, ok: bool, line: str) -> None:
        line = " ".join(line.split())
        self._worker = None
        self.test_button.setEnabled(True)
        self.result_label.setText(line)
        self.message.emit(line)
        self.test_finished.emit(ok)

    def shutdown(self, timeout_ms: int = 2000) -> list[QThread]:
        """A test still connecting: its thread if it has not ended after `timeout_ms`."""
        if self._thread is not None and self._thread.isRunning():
            self._thread.quit()
            if not self._thread.wait(timeout_ms):
                return [self._thread]
        return []
