"""Sweeps in the app: sequence length (attention vs FFN, crossover marked and said in words:
sweep_seq.py), depth (unique parameters per scheme: sweep_depth.py) and the scheme frontier
(click a point to apply it; trained, timed or on a Ray cluster: sweep_schemes.py)."""

from __future__ import annotations

from PySide6.QtCore import QThread, Signal
from PySide6.QtWidgets import QTabWidget, QVBoxLayout, QWidget

from explorer.errors import ExplorerError
from explorer.gui.lazy_view import LazyView
from explorer.gui.sweep_depth import DepthSweepTab
from explorer.gui.sweep_schemes import SchemesTab
from explorer.gui.sweep_seq import SeqSweepTab
from explorer.gui.sweep_workers import stop_and_wait


class SweepView(LazyView):
    """Three sweeps of the current design; `apply_requested(spec)` when a frontier point is clicked."""

    apply_requested = Signal(object)
    timing_finished = Signal()
    training_finished = Signal()
    points_finished = Signal()      # a timed or cluster sweep ended (done, stopped or failed)


    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.seq = SeqSweepTab()
        self.depth = DepthSweepTab()
        self.schemes = SchemesTab()
        for tab in (self.seq, self.depth):
            tab.edited.connect(self.refresh)
        for tab in (self.seq, self.schemes):
            tab.message.connect(self.message)
        self.seq.timing_finished.connect(self.timing_finished)
        self.schemes.apply_requested.connect(self.apply_requested)
        self.schemes.training_finished.connect(self.training_finished)
        self.schemes.points_finished.connect(self.points_finished)
        self.tabs = QTabWidget()
        self.tabs.addTab(self.seq, "Sequence length")
        self.tabs.addTab(self.depth, "Depth")
        self.tabs.addTab(self.schemes, "Schemes (frontier)")
        self.tabs.currentChanged.connect(lambda _i: self.refresh())
        layout = QVBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.addWidget(self.tabs)

    def set_spec(self, spec) -> None:
        for tab in (self.seq, self.depth, self.schemes):
            tab.spec = spec
        super().set_spec(spec)

    def refresh(self) -> None:
        if self._spec is None:
            return
        try:
            self.tabs.currentWidget().refresh()
        except ExplorerError as err:
            self.message.emit(str(err))

    def set_ray_address(self, address: str) -> None:
        """Cluster > Ray address… changed: the frontier's "on the cluster" box follows it."""
        self.schemes.controls.set_ray_address(address)

    def set_cluster_devices(self, devices: list) -> None:
        """The cluster's devices (ray_backend.devices): the frontier's timing may offer "cuda"."""
        self.schemes.controls.set_cluster_devices(devices)

    def cluster_busy(self) -> bool:
        """Whether a timed or trained sweep is running on the cluster (the address cannot change then)."""
        return self.schemes.points_running()

    def apply_scheme_named(self, scheme: str) -> None:
        """Apply `scheme` to the design through `apply_requested` (SchemesTab.apply_scheme_named)."""
        self.schemes.apply_scheme_named(scheme)

    def shutdown(self, timeout_ms: int = 2000) -> list[QThread]:
        """Stop every sweep's worker; returns the threads a pass still holds after `timeout_ms` each."""
        return stop_and_wait(self.seq.runs() + self.schemes.runs(), timeout_ms)
