"""The run panel: a real CPU run streams samples into the plot, Stop cancels, failures stay one line."""

from __future__ import annotations

import time

import pytest

from explorer.design.model import LayerSpec, ModelSettings, StackSpec
from explorer.design.strategies import apply_scheme

pytest.importorskip("torch")

from explorer.gui.run_panel import RunPanel  # noqa: E402

TINY = apply_scheme(StackSpec(settings=ModelSettings(d_model=32, n_heads=4, d_ff=64, vocab_size=50, max_positions=128),
                              layers=(LayerSpec("emb", "embedding"),)
                              + tuple(LayerSpec(f"b{i}", "block") for i in range(4)), name="tiny"), "albert")


@pytest.fixture
def panel(qtbot):
    p = RunPanel()
    qtbot.addWidget(p)
    p.batch_spin.setValue(2)
    p.seq_spin.setValue(8)
    p.warmup_spin.setValue(1)
    yield p
    p.shutdown()


def test_run_streams_samples_and_verifies(qtbot, panel):
    panel.iters_spin.setValue(6)
    panel.set_spec(TINY)
    with qtbot.waitSignal(panel.run_finished, timeout=120_000) as blocker:
        panel.start()
    result = blocker.args[0]
    assert not result.cancelled and result.verified
    xs, ys = panel.design_curve.getData()
    assert len(ys) == 6 and len(panel.twin_curve.getData()[1]) == 6
    assert list(ys) == result.design.samples_ms
    assert len(panel.warmup_scatter.data) == 1
    assert "verified" in panel.readout.text() and "twin" in panel.readout.text()


def test_a_train_run_shows_the_bytes_saved_for_backward_beside_the_analysis(qtbot, panel):
    from explorer.fmt import nbytes
    from explorer.torchmodel import build_model
    from explorer.torchmodel.saved import saved_activation_bytes

    spec = apply_scheme(TINY.replace(layers=TINY.layers + (LayerSpec("head", "lm_head"),)), "albert")
    panel.mode_combo.setCurrentText("train")
    panel.iters_spin.setValue(100_000)
    panel.set_spec(spec)
    panel.start()
    # measured once the models exist, before timing: the readout shows it while the run goes on
    qtbot.waitUntil(lambda: "saved for backward" in panel.readout.text(), timeout=60_000)
    qtbot.waitUntil(lambda: len(panel.segments[-1].design) >= 2, timeout=60_000)
    qtbot.wait(200)
    assert "saved for backward" in panel.readout.text() and "median" in panel.readout.text()
    with qtbot.waitSignal(panel.run_finished, timeout=30_000) as blocker:
        panel.stop()
    result = blocker.args[0]
    model = build_model(spec, "cpu", "fp32", 0)
    measured = saved_activation_bytes(model, model.example_inputs(2, 8, device="cpu", seed=0))
    assert result.design.saved_bytes_measured == measured
    d, t = result.design, result.twin
    line = next(line for line in panel.readout.text().splitlines() if "saved for backward" in line)
    assert line.startswith(f"activations saved for backward: measured {nbytes(measured)}, "
                           f"analysis {nbytes(d.saved_bytes_analysis)} ")
    assert f"; twin measured {nbytes(t.saved_bytes_measured)}, analysis {nbytes(t.saved_bytes_analysis)} " in line
    assert "· train" in panel.readout.text()
    panel.mode_combo.setCurrentText("forward")
    panel.iters_spin.setValue(2)
    with qtbot.waitSignal(panel.run_finished, timeout=120_000):
        panel.start()
    assert "saved for backward" not in panel.readout.text()


def test_event_loop_stays_responsive_during_a_run(qtbot, panel):
    """Timer ticks keep coming while the worker builds and times (about 2 s of work)."""
    from PySide6.QtCore import QTimer

    panel.iters_spin.setValue(100_000)
    panel.seq_spin.setValue(64)
    panel.set_spec(TINY)
    panel.start()
    qtbot.waitUntil(lambda: bool(panel.segments[-1].design), timeout=60_000)   # built, timing
    ticks = []
    timer = QTimer(interval=10, timeout=lambda: ticks.append(time.perf_counter()))
    timer.start()
    qtbot.wait(2000)
    timer.stop()
    with qtbot.waitSignal(panel.run_finished, timeout=30_000):
        panel.stop()
    gaps = [b - a for a, b in zip(ticks, ticks[1:])]
    assert len(ticks) >= 20, f"only {len(ticks)} timer ticks in 2 s of timing"
    assert max(gaps) < 1.0


def test_stop_cancels_quickly(qtbot, panel):
    panel.iters_spin.setValue(100000)
    panel.set_spec(TINY)
    panel.start()
    qtbot.waitUntil(lambda: len(panel.segments[-1].design) >= 2, timeout=60_000)
    with qtbot.waitSignal(panel.run_finished, timeout=30_000) as blocker:
        panel.stop()
    assert blocker.args[0].cancelled
    assert panel.start_button.isEnabled() and not panel.stop_button.isEnabled()


def test_failure_is_one_line_and_the_panel_stays_usable(qtbot, panel):
    huge = StackSpec(settings=ModelSettings(d_model=16384, n_heads=128), name="huge",
                     layers=tuple(LayerSpec(f"b{i}", "block") for i in range(300)))
    messages = []
    panel.message.connect(messages.append)
    panel.set_spec(huge)
    with qtbot.waitSignal(panel.message, timeout=60_000):
        panel.start()
    assert "GiB" in messages[0] and "\n" not in messages[0]
    assert panel.start_button.isEnabled()
    panel.iters_spin.setValue(2)
    panel.set_spec(TINY)
    with qtbot.waitSignal(panel.run_finished, timeout=120_000):
        panel.start()
    assert len(panel.segments) == 2


def test_live_mode_reruns_each_design_version_as_a_segment(qtbot, panel):
    panel.iters_spin.setValue(2)
    panel.live_check.setChecked(True)
    panel.set_spec(TINY, "albert")
    qtbot.waitUntil(lambda: panel.last_result is not None, timeout=120_000)
    panel.set_spec(apply_scheme(TINY, "unshare"), "unshared")
    qtbot.waitUntil(lambda: len(panel.segments) == 2 and panel.last_result.design.params_built > 20000,
                    timeout=120_000)
    assert [s.label for s in panel.segments] == ["albert", "unshared"]
    assert panel.segments[1].start_x >= len(panel.segments[0].design)


def test_shutdown_mid_run_joins_the_thread(qtbot):
    p = RunPanel()
    qtbot.addWidget(p)
    p.iters_spin.setValue(100000)
    p.seq_spin.setValue(8)
    p.set_spec(TINY)
    p.start()
    qtbot.waitUntil(lambda: bool(p.segments[-1].design), timeout=60_000)
    p.shutdown()
    assert not p.is_running()


def test_readout_is_live_counts_come_first_and_a_pinned_baseline_is_compared(qtbot, panel):
    panel.iters_spin.setValue(100_000)
    panel.set_spec(TINY, "albert")
    panel.start()
    # torch's counts (checked against the analysis) show before timing statistics do
    qtbot.waitUntil(lambda: "verified" in panel.readout.text(), timeout=60_000)
    qtbot.waitUntil(lambda: len(panel.segments[-1].design) >= 3, timeout=60_000)
    qtbot.wait(200)                                        # one redraw after the third sample
    text = panel.readout.text()
    assert panel.is_running() and "median" in text and "passes" in text and "unshared twin" in text
    with qtbot.waitSignal(panel.run_finished, timeout=30_000) as blocker:
        panel.stop()
    first = blocker.args[0]
    assert panel.pin_button.isEnabled()
    panel.pin_button.setChecked(True)
    assert panel.baseline == ("albert", first.design.median_ms)
    assert panel.baseline_line.isVisible() and panel.baseline_line.value() == first.design.median_ms
    assert "baseline albert" in panel.baseline_line.label.toPlainText()
    panel.iters_spin.setValue(3)
    panel.set_spec(apply_scheme(TINY, "unshare"), "unshared")
    with qtbot.waitSignal(panel.run_finished, timeout=120_000) as blocker:
        panel.start()
    ratio = blocker.args[0].design.median_ms / first.design.median_ms
    assert f"vs pinned baseline albert ({first.design.median_ms:.2f} ms): {ratio:.3f}" in panel.readout.text()
    panel.pin_button.setChecked(False)
    assert panel.baseline is None and not panel.baseline_line.isVisible()
    assert "pinned" not in panel.readout.text()


def test_devices_are_listed_with_their_names_and_runs_use_the_device_id(panel):
    panel.devices._on_local([("cpu", "cpu"), ("cuda:0", "cuda:0  NVIDIA H100 80GB HBM3")])
    assert [panel.device_combo.itemText(i) for i in range(2)] == ["cpu", "cuda:0  NVIDIA H100 80GB HBM3"]
    assert panel.config().device == "cpu"
    panel.device_combo.setCurrentIndex(1)
    assert panel.config().device == "cuda:0"
    panel.devices._on_local([("cpu", "cpu"), ("cuda:0", "cuda:0  NVIDIA H100 80GB HBM3")])    # a re-probe keeps it
    assert panel.device() == "cuda:0"


@pytest.mark.gpu
def test_a_cuda_run_from_the_panel_verifies_and_hands_memory_back(qtbot, panel):
    torch = pytest.importorskip("torch")
    if not torch.cuda.is_available():
        pytest.skip("needs a CUDA device")
    torch.cuda.empty_cache()
    allocated = torch.cuda.memory_allocated()
    qtbot.waitUntil(lambda: panel.device_combo.findData("cuda:0") >= 0, timeout=60_000)   # the probe lists it
    panel.device_combo.setCurrentIndex(panel.device_combo.findData("cuda:0"))
    assert torch.cuda.get_device_name(0) in panel.device_combo.currentText()
    panel.dtype_combo.setCurrentText("bf16")
    panel.iters_spin.setValue(5)
    panel.set_spec(TINY)
    with qtbot.waitSignal(panel.run_finished, timeout=120_000) as blocker:
        panel.start()
    result = blocker.args[0]
    assert result.verified and result.device_name == torch.cuda.get_device_name(0)
    assert len(panel.design_curve.getData()[1]) == 5
    assert "weights (CUDA allocated)" in panel.readout.text() and "a pass adds up to" in panel.readout.text()
    assert torch.cuda.memory_allocated() == allocated
