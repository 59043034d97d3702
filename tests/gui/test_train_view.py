"""The Train tab: a real CPU run through the tab streams both series' losses, ends in the
`explorer train` readout and two CKA heatmaps; Stop cancels; bad options are one line."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest

from explorer.design.model import LayerSpec, ModelSettings, StackSpec
from explorer.design.strategies import apply_scheme
from explorer.gui import theme

pytest.importorskip("torch")

from explorer.gui.train_view import TrainView  # noqa: E402

TINY = apply_scheme(StackSpec(settings=ModelSettings(d_model=32, n_heads=4, d_ff=64, vocab_size=50, max_positions=128,
                                                     causal=True),
                              layers=(LayerSpec("emb", "embedding"),)
                              + tuple(LayerSpec(f"b{i}", "block") for i in range(2))
                              + (LayerSpec("head", "lm_head"),), name="tiny"), "albert")


def set_small(view: TrainView, steps: int = 10) -> None:
    view.form.steps_spin.setValue(steps)
    view.form.batch_spin.setValue(2)
    view.form.seq_spin.setValue(16)
    view.form.eval_spin.setValue(5)
    view.form.data_combo.setCurrentText("task:copy")


@pytest.fixture
def view(qtbot):
    v = TrainView()
    qtbot.addWidget(v)
    v.resize(1300, 520)
    v.show()
    set_small(v)
    v.set_spec(TINY)
    yield v
    v.shutdown()


def test_a_run_through_the_tab_plots_reads_out_and_compares_layers(qtbot, view):
    with qtbot.waitSignal(view.run_finished, timeout=120_000) as blocker:
        QTest.mouseClick(view.start_button, Qt.MouseButton.LeftButton)
        assert view.stop_button.isEnabled() and not view.start_button.isEnabled()
    out = blocker.args[0]
    result = out.result
    assert result.error is None and not result.cancelled and set(result.series) == {"design", "twin"}
    for name in ("design", "twin"):
        xs, ys = view.plot.train_curves[name].getData()
        assert len(xs) == 10 and list(xs) == list(range(1, 11))            # one point per step per series
        assert list(ys) == result.series[name].train_loss
        vx, vy = view.plot.val_curves[name].getData()
        assert list(vx) == [5, 10] and list(vy) == [v for _s, v in result.series[name].val_loss]
    text = view.readout.toPlainText()
    for name in ("design", "twin"):
        row = next(line for line in text.splitlines() if line.startswith(name))
        assert f"{result.series[name].final_val:.3f}" in row
    equal = f"validation loss at equal steps (step 10): design {result.series['design'].final_val:.3f}, " \
            f"twin {result.series['twin'].final_val:.3f}"
    assert equal in text and "validation loss at equal training time" in text
    assert "objective: next-token prediction" in text
    for name in ("design", "twin"):
        heatmap = view.heatmaps[name]
        assert heatmap.ids == ["emb", "b0", "b1"]
        assert heatmap.image.image.shape == (3, 3) and heatmap.matrix.shape == (3, 3)
        assert all(heatmap.matrix[i, i] == 1.0 for i in range(3))
    assert view.start_button.isEnabled() and not view.stop_button.isEnabled()
    assert view.status_label.text() == "done: 10 steps"
    # the x-axis choice redraws the same points against tokens seen and training time
    view.x_combo.setCurrentIndex(view.x_combo.findData("tokens"))
    xs, _ys = view.plot.train_curves["design"].getData()
    assert list(xs) == [k * 2 * 16 for k in range(1, 11)]
    view.x_combo.setCurrentIndex(view.x_combo.findData("seconds"))
    xs, _ys = view.plot.train_curves["twin"].getData()
    assert xs[-1] == pytest.approx(result.series["twin"].seconds) and all(b > a for a, b in zip(xs, xs[1:]))


def test_scale_down_and_no_twin(qtbot, view):
    view.form.twin_check.setChecked(False)
    view.form.scale_spins["width"].setValue(16)
    view.form.scale_spins["depth"].setValue(1)
    with qtbot.waitSignal(view.run_finished, timeout=120_000) as blocker:
        view.start_button.click()
    result = blocker.args[0].result
    assert set(result.series) == {"design"}
    assert "note: width d_model 32 -> 16" in view.readout.toPlainText()
    assert view.heatmaps["design"].ids == ["emb", "b0"] and view.heatmaps["twin"].isHidden()
    assert len(view.plot.train_curves["twin"].getData()[0] or ()) == 0


def test_stop_during_a_run_cancels(qtbot, view):
    view.form.steps_spin.setValue(100_000)
    view.start_button.click()
    qtbot.waitUntil(lambda: len(view.record.train.get("twin", ([],))[0]) >= 3, timeout=60_000)
    with qtbot.waitSignal(view.run_finished, timeout=60_000) as blocker:
        view.stop_button.click()
    result = blocker.args[0].result
    assert result.cancelled and 3 <= len(result.series["design"].train_loss) < 100_000
    assert "stopped before the last step" in view.readout.toPlainText()
    assert view.status_label.text().startswith("stopped after")
    assert view.start_button.isEnabled()


def test_a_bad_option_is_one_line_and_changes_nothing(qtbot, view):
    with qtbot.waitSignal(view.run_finished, timeout=120_000):
        view.start_button.click()
    before = (view.readout.toPlainText(), list(view.plot.train_curves["design"].getData()[1]))
    messages = []
    view.message.connect(messages.append)
    for widget, bad in ((view.form.lr_edit, "fast"), (view.form.lr_edit, "-1")):
        widget.setText(bad)
        view.start_button.click()
        assert not view.is_running()
    view.form.lr_edit.setText("1e-3")
    view.form.data_combo.setCurrentText("/no/such/corpus")
    view.start_button.click()
    view.form.data_combo.setCurrentText("task:juggle")
    view.start_button.click()
    view.form.data_combo.setCurrentText("task:copy")
    view.form.scale_spins["heads"].setValue(3)             # 32 is not a multiple of 3 heads: the design check says so
    view.start_button.click()
    qtbot.waitUntil(lambda: len(messages) == 5 and not view.is_running(), timeout=60_000)
    assert messages[0].startswith("lr: expected a number") and "between 0 and 10" in messages[1]
    assert messages[2].startswith("/no/such/corpus: data: no such file") and "unknown task" in messages[3]
    assert all("\n" not in m for m in messages) and view.status_label.text() == messages[-1]
    assert (view.readout.toPlainText(), list(view.plot.train_curves["design"].getData()[1])) == before
    assert view.start_button.isEnabled()


def test_divergence_is_one_line(qtbot, view, inline_jobs):
    monkeypatch = inline_jobs
    from explorer.train import engine

    real_loss, calls = engine._loss, []

    def loss_turning_nan(model, batch, head):          # lr-driven divergence is chaotic; this one is not
        loss, logits = real_loss(model, batch, head)
        if model.training:
            calls.append(1)
            if len(calls) >= 7:                         # design at step 4, twin at step 4
                loss = loss * float("nan")
        return loss, logits

    monkeypatch.setattr(engine, "_loss", loss_turning_nan)
    messages = []
    view.message.connect(messages.append)
    with qtbot.waitSignal(view.run_finished, timeout=120_000) as blocker:
        view.start_button.click()
    result = blocker.args[0].result
    assert result.error is None
    assert result.series["design"].diverged.startswith("design: the loss became nan at step 4")
    assert any("the loss became" in m for m in messages) and all("\n" not in m for m in messages)
    assert view.status_label.text() == result.series["design"].diverged
    assert "the loss became" in view.readout.toPlainText()
    for name in ("design", "twin"):                     # the non-finite step is left out of the curve
        assert len(view.plot.train_curves[name].getData()[0]) == 3
    assert "validation loss at equal steps: -" in view.readout.toPlainText()
    assert view.start_button.isEnabled()


def test_closing_the_window_while_training(qtbot, make_window):
    window = make_window(TINY)
    view = window.train_view
    set_small(view, 100_000)
    window.bottom_tabs.setCurrentWidget(view)
    view.start_button.click()
    qtbot.waitUntil(lambda: len(view.record.train.get("design", ([],))[0]) >= 2, timeout=60_000)
    window.close()
    qtbot.waitUntil(lambda: not window.isVisible(), timeout=30_000)
    assert not view.is_running() or not any(t.isRunning() for t in view._threads)


def test_screenshot_after_a_run(qtbot, make_window):
    window = make_window(TINY)
    view = window.train_view
    set_small(view, 40)
    window.bottom_tabs.setCurrentWidget(view)
    with qtbot.waitSignal(view.run_finished, timeout=120_000):
        view.start_button.click()
    qtbot.wait(100)
    window.grab().save("/tmp/train_tab.png")


def baseline_params(spec, view: TrainView) -> int:
    """Unique parameters of `spec` made trainable for the view's data (what the engine trains)."""
    from explorer.analysis import count_params
    from explorer.train.adapt import trainable
    from explorer.train.data import data_source

    source = data_source(view.form.data_combo.currentText())
    return count_params(trainable(spec, source.vocab, 2 * view.form.seq_spin.value() + 1).spec).unique


def test_pinned_baseline_trains_as_a_third_series_through_design_edits(qtbot, make_window):
    window = make_window(TINY)
    view = window.train_view
    set_small(view, 6)
    window.bottom_tabs.setCurrentWidget(view)
    assert view.pin_button.isEnabled() and not view.unpin_button.isEnabled() and view.baseline is None
    view.pin_button.click()
    assert view.baseline == TINY and view.unpin_button.isEnabled() and "tiny" in view.pin_label.text()
    assert window.palette_panel.apply("unshare")               # the design changes; the pin stays
    assert window.palette_panel.apply("albert-attention")      # now it shares the attention only
    qtbot.waitUntil(lambda: view._spec == window.model.spec, timeout=10_000)
    assert window.model.spec != TINY and view.baseline == TINY
    with qtbot.waitSignal(view.run_finished, timeout=120_000) as blocker:
        view.start_button.click()
    result = blocker.args[0].result
    assert result.error is None and list(result.series) == ["design", "twin", "baseline"]
    for name in ("design", "twin", "baseline"):                 # one point per step per series
        xs, ys = view.plot.train_curves[name].getData()
        assert list(xs) == list(range(1, 7)) and list(ys) == result.series[name].train_loss
        vx, _vy = view.plot.val_curves[name].getData()
        assert list(vx) == [5, 6]
    assert view.plot.train_curves["baseline"].opts["pen"].color() == theme.color("baseline")     # the Timing tab's
    assert result.series["baseline"].params == baseline_params(TINY, view)
    assert result.series["design"].params == baseline_params(window.model.spec, view)
    assert result.series["baseline"].params < result.series["design"].params   # all shared < attention shared
    rows = [line for line in view.readout.toPlainText().splitlines() if line.startswith("baseline")]
    assert rows and f"{result.series['baseline'].final_val:.3f}" in rows[0]
    equal = next(line for line in view.readout.toPlainText().splitlines() if line.startswith("validation loss at "
                                                                                             "equal steps"))
    assert f"baseline {result.series['baseline'].final_val:.3f}" in equal
    assert view.heatmaps["baseline"].isVisible() and view.heatmaps["baseline"].ids == ["emb", "b0", "b1"]
    assert "baseline train" in [label.text for _s, label in view.plot.legend.items]
    qtbot.wait(100)
    window.grab().save("/tmp/train_pin.png")
    # unpin: the next run trains the design and its twin only
    view.unpin_button.click()
    assert view.baseline is None and not view.unpin_button.isEnabled() and view.pin_label.text() == ""
    with qtbot.waitSignal(view.run_finished, timeout=120_000) as blocker:
        view.start_button.click()
    assert list(blocker.args[0].result.series) == ["design", "twin"]
    assert len(view.plot.train_curves["baseline"].getData()[0] or ()) == 0 and view.heatmaps["baseline"].isHidden()
    assert not any(line.startswith("baseline") for line in view.readout.toPlainText().splitlines())
    assert not any(label.text.startswith("baseline") for _s, label in view.plot.legend.items)


def test_a_pinned_baseline_that_cannot_train_is_one_line_and_no_run(qtbot, view):
    import dataclasses

    messages = []
    view.message.connect(messages.append)
    view.pin_button.click()
    wide = TINY.replace(settings=dataclasses.replace(TINY.settings, d_model=36, n_heads=3, d_ff=72))
    view.set_spec(wide)
    view.form.scale_spins["heads"].setValue(3)             # fine for 36 wide, not for the pinned 32
    assert not view.start()
    assert not view.is_running() and messages[-1].startswith("baseline: the pinned tiny cannot train")
    assert "\n" not in messages[-1] and view.status_label.text() == messages[-1]
    view.form.scale_spins["heads"].setValue(0)
    reading = TINY.replace(settings=dataclasses.replace(TINY.settings, causal=False))
    view.set_spec(reading)                            # a masked-token design cannot share next-token batches
    assert not view.start() and "next-token" in messages[-1] and "masked" in messages[-1]
    view.unpin_button.click()
    with qtbot.waitSignal(view.run_finished, timeout=120_000) as blocker:
        assert view.start()
    assert "baseline" not in blocker.args[0].result.series


def test_the_readout_follows_each_evaluation_while_the_run_goes_on(qtbot, view):
    set_small(view, steps=400)
    view.form.eval_spin.setValue(4)
    with qtbot.waitSignal(view.run_finished, timeout=240_000) as blocker:
        QTest.mouseClick(view.start_button, Qt.MouseButton.LeftButton)
        qtbot.waitUntil(lambda: len(view.record.val.get("twin", [])) >= 2, timeout=120_000)
        live = view.readout.toPlainText()                  # the readout and what the tab holds, at one moment
        val = {name: list(view.record.val[name]) for name in ("design", "twin")}
        accuracy = dict(view.record.accuracy)
        QTest.mouseClick(view.stop_button, Qt.MouseButton.LeftButton)
    lines = live.splitlines()
    step = min(v[-1][0] for v in val.values())
    assert lines[0].startswith(f"so far (live, step {step} of 400")
    for name in ("design", "twin"):
        row = next(line for line in lines if line.startswith(name)).split()
        assert row[1] == f"{val[name][-1][1]:.3f}" and row[2] == f"{min(v for _s, v in val[name]):.3f}"
        assert row[3][0] in "+-" and abs(float(row[3])) < 20                              # the gap
        assert row[4].replace(",", "").isdigit() and int(row[4].replace(",", "")) > 0      # tokens/s so far
        assert row[5] == f"{accuracy[name]:.1%}"                                          # a task: accuracy
    final = view.readout.toPlainText()
    assert not final.startswith("so far") and "stopped before the last step" in final
    assert blocker.args[0].result.cancelled


def test_heatmap_axes_keep_their_labels_apart(qtbot):
    """Below the cells only positions (ids side by side overlapped); on the left position and id."""
    from explorer.gui.heatmap import Heatmap

    heatmap = Heatmap("design: layer CKA")
    qtbot.addWidget(heatmap)
    ids = ["embeddings", "layer0", "layer1", "layer2", "layer3"]
    heatmap.set_matrix(ids, [[1.0] * 5 for _ in ids])
    below = [label for _x, label in heatmap.bottom_axis._tickLevels[0]]
    left = [label for _x, label in heatmap.left_axis._tickLevels[0]]
    assert below == ["0", "1", "2", "3", "4"]
    assert left == [f"{i} {layer_id}" for i, layer_id in enumerate(ids)]
