"""The Train tab on a Ray cluster: with the address "local", the tab's device list offers the
cluster's CPU beside this machine's; a run there streams its steps into the same curves while
it runs, ends with the readout (saying where it trained) and the CKA heatmaps, and Stop ends it
before the next step. The device and dtype chosen reach the engine."""

from __future__ import annotations

import pytest

pytest.importorskip("ray")
# a Ray in the background of the window: run once, offscreen (the Xvfb rerun leaves them out)
pytestmark = pytest.mark.cluster
pytest.importorskip("torch")

from PySide6.QtCore import Qt  # noqa: E402

from explorer.design.model import LayerSpec, ModelSettings, StackSpec  # noqa: E402
from explorer.design.strategies import apply_scheme  # noqa: E402
from explorer.gui.train_view import TrainView  # noqa: E402
from explorer.gui.train_workers import RemoteTrainWorker  # noqa: E402

TINY = apply_scheme(StackSpec(ModelSettings(d_model=32, n_heads=4, d_ff=64, vocab_size=64, max_positions=64,
                                            causal=True),
                              (LayerSpec("emb", "embedding"), *(LayerSpec(f"b{i}", "block") for i in range(3)),
                               LayerSpec("out", "lm_head")), name="tiny"), "albert")


def _view(qtbot) -> TrainView:
    view = TrainView()
    qtbot.addWidget(view)
    view.show()                                   # the tab lists its devices when first shown
    qtbot.waitExposed(view)
    view.set_spec(TINY)
    view.form.data_combo.setCurrentText("task:copy")
    view.form.batch_spin.setValue(2)
    view.form.seq_spin.setValue(8)
    view.form.eval_spin.setValue(3)
    return view


def _ray_index(view) -> int:
    for i in range(view.form.device_combo.count()):
        if str(view.form.device_combo.itemData(i)).startswith("ray:"):
            return i
    return -1


def test_training_on_a_cluster_device_streams_to_the_curves(qtbot, local_address):
    view = _view(qtbot)
    try:
        qtbot.waitUntil(lambda: _ray_index(view) >= 0, timeout=120_000)
        assert view.form.device_combo.findData("cpu") >= 0                       # this machine's stays
        view.form.device_combo.setCurrentIndex(_ray_index(view))
        assert view.form.device_combo.currentText().startswith("ray: cpu @ ")
        view.form.steps_spin.setValue(6)
        assert view.options()[1]["device"] == "cpu" and view.options()[1]["dtype"] == "fp32"
        with qtbot.waitSignal(view.run_finished, timeout=180_000) as blocker:
            qtbot.mouseClick(view.start_button, Qt.MouseButton.LeftButton)
            assert isinstance(view._worker, RemoteTrainWorker) and view._worker.node
        out = blocker.args[0]
        assert out.where and out.result.error is None and not out.result.cancelled
        design = out.result.series["design"]
        assert len(design.train_loss) == 6 and "twin" in out.result.series
        xs, ys = view.plot.train_curves["design"].getData()
        assert list(ys) == design.train_loss
        assert set(out.cka) == {"design", "twin"} and view.heatmaps["design"].isVisible()
        text = view.readout.toPlainText()
        assert f"trained on the cluster: {out.where}" in text and "design" in text
        assert view.start_button.isEnabled() and not view.stop_button.isEnabled()
    finally:
        view.shutdown()


def test_stop_ends_a_training_on_the_cluster(qtbot, local_address):
    view = _view(qtbot)
    try:
        qtbot.waitUntil(lambda: _ray_index(view) >= 0, timeout=120_000)
        view.form.device_combo.setCurrentIndex(_ray_index(view))
        view.form.steps_spin.setValue(100_000)
        with qtbot.waitSignal(view.run_finished, timeout=120_000) as blocker:
            qtbot.mouseClick(view.start_button, Qt.MouseButton.LeftButton)
            qtbot.waitUntil(lambda: len(view.record.train.get("design", ([],))[0]) >= 2, timeout=120_000)
            assert view.is_running()                                         # the steps streamed in live
            qtbot.mouseClick(view.stop_button, Qt.MouseButton.LeftButton)
        result = blocker.args[0].result
        assert result.cancelled and len(result.series["design"].train_loss) < 100_000
        assert view.status_label.text().startswith("stopped after") and view.start_button.isEnabled()
    finally:
        view.shutdown()


def test_the_device_and_dtype_chosen_reach_the_engine(qtbot, inline_jobs):
    monkeypatch = inline_jobs
    """In this process: the dtype combo's bf16 is what the engine trains in."""
    import explorer.train.engine as engine

    seen = []
    real = engine.build_model

    def spy(spec, device, dtype, seed):
        seen.append((str(device), dtype))
        return real(spec, device, dtype, seed)

    monkeypatch.setattr(engine, "build_model", spy)
    view = _view(qtbot)
    try:
        view.form.steps_spin.setValue(2)
        view.form.twin_check.setChecked(False)
        view.form.dtype_combo.setCurrentText("bf16")
        with qtbot.waitSignal(view.run_finished, timeout=120_000) as blocker:
            qtbot.mouseClick(view.start_button, Qt.MouseButton.LeftButton)
        assert blocker.args[0].result.error is None and blocker.args[0].where == ""
        assert seen == [("cpu", "bf16")]
        assert "trained on the cluster" not in view.readout.toPlainText()
    finally:
        view.shutdown()
