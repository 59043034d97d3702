"""The inspector validates as you type: invalid values are marked, explained and not
applied; valid ones become one merged undo step. Large stacks stay light."""

import time

from explorer.design.edits import builtin_design
from explorer.design.model import LayerSpec, ModelSettings, StackSpec


def test_typing_invalid_value_is_marked_and_not_applied(make_window, qtbot):
    window = make_window(builtin_design())
    model, inspector = window.model, window.inspector
    model.select_layers(("block3",))
    assert inspector.title.text().startswith("Layer block3")
    before, steps = model.spec, model.undo_stack.count()
    heads = inspector.editors["n_heads"].widget
    qtbot.keyClicks(heads, "5")
    assert "not divisible by n_heads 5" in inspector.error.text() and inspector.error.isVisible()
    assert "d93025" in heads.styleSheet()
    assert model.spec == before and model.undo_stack.count() == steps
    assert "\n" not in window.statusBar().currentMessage()
    heads.clear()
    qtbot.keyClicks(heads, "x")
    assert "not a number" in inspector.error.text() and model.spec == before


def test_typing_valid_value_applies_as_one_step(make_window, qtbot):
    window = make_window(builtin_design())
    model, inspector = window.model, window.inspector
    model.select_layers(("block3",))
    steps = model.undo_stack.count()
    qtbot.keyClicks(inspector.editors["d_ff"].widget, "1536")
    assert model.spec.layer("block3").d_ff == 1536
    assert model.undo_stack.count() == steps + 1          # 1, 15, 153, 1536 merged
    assert inspector.error.isHidden() and inspector.editors["d_ff"].widget.styleSheet() == ""
    assert window.metrics.values["unique"].text() == f"{model.report.params.unique:,}"
    model.undo_stack.undo()
    assert model.spec.layer("block3").d_ff is None
    assert inspector.editors["d_ff"].widget.text() == ""


def test_global_settings_spin_box_merges(make_window):
    window = make_window(builtin_design())
    model, inspector = window.model, window.inspector
    model.select_layers(())
    assert inspector.title.text() == "Model settings"
    spin = inspector.editors["d_model"].widget
    steps = model.undo_stack.count()
    for value in (780, 792, 804, 816):
        spin.setValue(value)
    assert model.spec.settings.d_model == 816 and model.undo_stack.count() == steps + 1
    spin.setValue(817)                                     # 817 heads of 12: refused
    assert model.spec.settings.d_model == 816 and "not divisible" in inspector.error.text()
    combo = inspector.editors["activation"].widget
    combo.setCurrentIndex(combo.findData("swiglu"))
    assert model.spec.settings.activation == "swiglu" and model.undo_stack.count() == steps + 2


def test_deep_stack_is_light(make_window, qtbot):
    """A 128-layer stack is 128 painted items, not widgets; prints refresh and scroll times."""
    layers = ((LayerSpec("embedding", "embedding"),) + tuple(LayerSpec(f"block{i}", "block") for i in range(128))
              + (LayerSpec("lm_head", "lm_head"),))
    window = make_window(StackSpec(ModelSettings(d_model=512, n_heads=8), layers, name="deep"))
    view = window.stack_view
    assert len(view.cards) == 130 and len(view.findChildren(type(window.inspector))) == 0
    t0 = time.perf_counter()
    window.palette_panel.apply("cycle")
    qtbot.wait(0)
    edit_ms = (time.perf_counter() - t0) * 1e3
    bar = view.verticalScrollBar()
    t0 = time.perf_counter()
    for value in range(bar.minimum(), bar.maximum(), max(1, (bar.maximum() - bar.minimum()) // 20)):
        bar.setValue(value)
        view.viewport().grab()
    scroll_ms = (time.perf_counter() - t0) * 1e3 / 20
    print(f"\n130-layer stack: cycle edit {edit_ms:.1f} ms, scroll step repaint {scroll_ms:.1f} ms")
    assert view.cards[5].info.block_uses == 64
