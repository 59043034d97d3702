"""The Timing tab on a Ray cluster: with the address "local", the device list offers the
cluster's CPU; a run there streams samples into the same plot and ends with the readout; an
unreachable address is one line and the local devices stay."""

from __future__ import annotations

import pytest

pytest.importorskip("ray")
# a Ray in the background of the window: run once, offscreen (the Xvfb rerun leaves them out)
pytestmark = pytest.mark.cluster
pytest.importorskip("torch")

from explorer.design.model import LayerSpec, ModelSettings, StackSpec  # noqa: E402
from explorer.design.strategies import apply_scheme  # noqa: E402
from explorer.gui import cluster_settings  # noqa: E402
from explorer.gui.run_panel import RunPanel  # noqa: E402

TINY = apply_scheme(StackSpec(settings=ModelSettings(d_model=32, n_heads=4, d_ff=64, vocab_size=50, max_positions=128),
                              layers=(LayerSpec("emb", "embedding"),)
                              + tuple(LayerSpec(f"b{i}", "block") for i in range(4)), name="tiny"), "albert")


def _panel(qtbot) -> RunPanel:
    p = RunPanel()
    qtbot.addWidget(p)
    p.batch_spin.setValue(2)
    p.seq_spin.setValue(8)
    p.warmup_spin.setValue(1)
    return p


def _ray_index(panel) -> int:
    for i in range(panel.device_combo.count()):
        if str(panel.device_combo.itemData(i)).startswith("ray:"):
            return i
    return -1


def test_a_run_on_a_ray_device_streams_to_the_plot(qtbot, local_address):
    panel = _panel(qtbot)
    try:
        qtbot.waitUntil(lambda: _ray_index(panel) >= 0, timeout=120_000)
        qtbot.waitUntil(lambda: panel.device_combo.findData("cpu") >= 0, timeout=60_000)  # local ones stay
        index = _ray_index(panel)
        assert panel.device_combo.itemText(index).startswith("ray: cpu @ ")
        panel.device_combo.setCurrentIndex(index)
        assert panel.config().device == "cpu"
        panel.iters_spin.setValue(6)
        panel.set_spec(TINY)
        events = []
        with qtbot.waitSignal(panel.run_finished, timeout=180_000) as blocker:
            panel.start()
            panel._worker.sample.connect(lambda _s: events.append("sample"))
            panel._worker.finished.connect(lambda _r: events.append("finished"))
        result = blocker.args[0]
        assert not result.cancelled and result.verified
        assert events and events[0] == "sample"                       # samples came before the end
        xs, ys = panel.design_curve.getData()
        assert list(ys) == result.design.samples_ms and len(ys) == 6
        assert len(panel.twin_curve.getData()[1]) == 6
        assert "verified" in panel.readout.text() and panel.status_label.text() == "done"
        node = panel.device_combo.itemText(index).split(" @ ")[1]
        assert f"@ {node} (Ray)" in panel.readout.text()                   # where it ran
    finally:
        panel.shutdown()


def test_stop_ends_a_run_on_the_cluster(qtbot, local_address):
    panel = _panel(qtbot)
    try:
        qtbot.waitUntil(lambda: _ray_index(panel) >= 0, timeout=120_000)
        panel.device_combo.setCurrentIndex(_ray_index(panel))
        panel.iters_spin.setValue(100000)
        panel.set_spec(TINY)
        with qtbot.waitSignal(panel.run_finished, timeout=120_000) as blocker:
            panel.start()
            qtbot.waitUntil(lambda: len(panel.segments[-1].design) >= 2, timeout=120_000)
            panel.stop()
        assert blocker.args[0].cancelled and panel.status_label.text() == "stopped"
        assert panel.start_button.isEnabled()
    finally:
        panel.shutdown()


def test_an_unreachable_cluster_is_one_line_and_the_local_devices_stay(qtbot, monkeypatch):
    """The connection fails (as cluster_settings.connect reports it: Ray's own init at an unreachable
    address aborts its process later, so it is not tried in this one; tests/cluster does, in a child)."""
    from explorer.cluster.ray_backend import ClusterError

    def unreachable(address, timeout_s=None):
        raise ClusterError(f"cannot reach the Ray cluster at {address!r}: no answer within 3 s")

    monkeypatch.setattr(cluster_settings, "connect", unreachable)
    panel = _panel(qtbot)
    try:
        lines = []
        panel.message.connect(lines.append)
        qtbot.waitUntil(lambda: panel.device_combo.findData("cpu") >= 0, timeout=60_000)
        panel.probe_cluster("127.0.0.1:1")
        qtbot.waitUntil(lambda: bool(lines), timeout=30_000)
        assert "\n" not in lines[0] and "cannot reach the Ray cluster at '127.0.0.1:1'" in lines[0]
        assert _ray_index(panel) < 0 and panel.device_combo.findData("cpu") >= 0
    finally:
        panel.shutdown()
