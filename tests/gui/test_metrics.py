"""Schemes applied through the palette; the metrics shown equal analyze() of the design."""

import time

from PySide6.QtCore import Qt

from explorer.analysis import analyze
from explorer import fmt
from explorer.design.edits import builtin_design
from explorer.gui.metrics_panel import COMPONENTS
from explorer.design.model import LayerSpec, ModelSettings, StackSpec
from explorer.design.strategies import apply_scheme


def shown_int(label) -> int:
    return int(label.text().replace(",", ""))


def assert_metrics_match(window) -> None:
    model, values = window.model, window.metrics.values
    report = analyze(model.spec, model.batch, model.seq, model.dtype, device=model.device)
    p, f, m = report.params, report.flops, report.memory
    assert shown_int(values["unique"]) == p.unique
    assert shown_int(values["unshared"]) == p.unshared
    assert values["active"].text() == "= unique" if p.active == p.unique else shown_int(values["active"]) == p.active
    assert values["saving"].text().startswith(f"{p.saving_factor:.2f}×")
    assert values["forward"].text() == fmt.count(f.forward, "FLOP")
    for c in COMPONENTS:
        assert values[c].text().startswith(fmt.count(f.by_component[c]))
    assert values["inference"].text() == fmt.nbytes(m.inference)
    assert values["training"].text() == ("" if m.activations_training_exact else "≥ ") + fmt.nbytes(m.training)
    heights = window.metrics.unique_bars.opts["height"]
    assert list(heights) == [lp.unique for lp in p.per_layer]
    assert sum(heights) == p.unique


def test_schemes_update_metrics(make_window, qtbot):
    window = make_window(builtin_design())
    start = window.model.spec
    assert_metrics_match(window)
    unshared = analyze(start).params.unique

    window.palette_panel.buttons["albert"].click()
    assert window.model.spec == apply_scheme(start, "albert")
    assert [g.name for g in window.model.spec.groups] == ["albert-block"]
    assert_metrics_match(window)
    assert shown_int(window.metrics.values["unique"]) < unshared

    window.palette_panel.buttons["tie-embeddings"].click()
    assert_metrics_match(window)
    window.palette_panel.buttons["mqa"].click()
    assert window.model.spec.settings.n_kv_heads == 1
    assert_metrics_match(window)
    window.palette_panel.buttons["cycle"].click()          # replaces the ALBERT groups
    assert {g.name for g in window.model.spec.groups} >= {"cycle-0", "cycle-1", "tied-embeddings"}
    assert_metrics_match(window)
    # the groups panel lists each group with what it saves
    tree = window.groups_panel.tree
    items = [tree.topLevelItem(i) for i in range(tree.topLevelItemCount())]
    groups = [i.text(0) for i in items if i.data(0, Qt.ItemDataRole.UserRole)]
    assert groups == [g.name for g in window.model.spec.groups]
    assert [i.text(0) for i in items if not i.data(0, Qt.ItemDataRole.UserRole)] == ["MQA"]   # structure, listed after
    assert window.model.undo_stack.count() == 4


def test_scheme_on_selected_layers_and_options(make_window):
    window = make_window(builtin_design())
    ids = ("block0", "block1", "block2")
    window.model.select_layers(ids)
    window.palette_panel.scope_selected.setChecked(True)
    assert window.palette_panel.apply("albert-ffn")
    (group,) = window.model.spec.groups
    assert {m.layer for m in group.members} == set(ids) and {str(m.slot) for m in group.members} == {"ffn"}
    window.palette_panel.scope_all.setChecked(True)
    window.palette_panel.ask_options = lambda name, defaults: "blocks=3"
    assert window.palette_panel.apply_with_options("sequence")
    assert_metrics_match(window)
    assert sum(1 for g in window.model.spec.groups if g.name.startswith("sequence")) == 3


def test_failed_scheme_says_why_on_one_line(make_window):
    window = make_window(builtin_design())
    before = window.model.spec
    assert not window.palette_panel.apply("shared-rnn-cell")
    message = window.statusBar().currentMessage()
    assert "LSTM" in message and "\n" not in message
    assert window.model.spec == before and window.model.undo_stack.count() == 0


def test_run_shape_changes_memory(make_window):
    window = make_window(builtin_design())
    window.metrics.batch.setValue(8)
    window.metrics.seq.setValue(256)
    window.metrics.dtype.setCurrentText("bf16")
    assert (window.model.batch, window.model.seq, window.model.dtype) == (8, 256, "bf16")
    assert_metrics_match(window)


def test_recompute_and_refresh_time_48_layers(make_window, qtbot):
    """Prints the time of one edit's recompute + refresh of every panel (no assertion on time)."""
    settings = ModelSettings(d_model=768, n_heads=12, d_ff=3072)
    layers = ((LayerSpec("embedding", "embedding"),) + tuple(LayerSpec(f"block{i}", "block") for i in range(48))
              + (LayerSpec("lm_head", "lm_head"),))
    window = make_window(StackSpec(settings, layers, name="deep"))
    window.palette_panel.apply("cycle")
    window.palette_panel.apply("tie-embeddings")
    window.model.select_layers(())                # the inspector edits the global settings

    def timed(edit) -> tuple[float, float]:
        t0 = time.perf_counter()
        edit()
        t1 = time.perf_counter()
        qtbot.wait(0)                             # let Qt paint what changed
        return (t1 - t0) * 1e3, (time.perf_counter() - t1) * 1e3

    fresh = sorted(timed(lambda i=i: window.inspector.set_field("d_ff", value=3072 + 64 * i)) for i in range(1, 17))
    stack = window.model.undo_stack
    cached = sorted(timed(stack.redo if i % 2 else stack.undo) for i in range(16))
    print(f"\n48-layer stack, new edit: validate + analyze + refresh median {fresh[8][0]:.1f} ms "
          f"(max {fresh[-1][0]:.1f}), paint after it {sorted(p for _r, p in fresh)[8]:.1f} ms; "
          f"undo/redo (cached analysis) + refresh median {cached[8][0]:.1f} ms")
    assert window.model.spec.settings.d_ff == 3072 + 64 * 16
    assert_metrics_match(window)


def test_mixture_of_experts_shows_active_parameters(make_window):
    from explorer.design import yaml_io
    from explorer.presets import PRESETS_DIR

    window = make_window(yaml_io.load(PRESETS_DIR / "moe.yaml"))
    assert_metrics_match(window)
    p = window.model.report.params
    assert p.active < p.unique and shown_int(window.metrics.values["active"]) == p.active
    assert window.palette_panel.apply("expert-bank")
    assert_metrics_match(window)
    assert window.model.report.params.unique < p.unique


def test_palette_offers_every_scheme(make_window):
    from PySide6.QtWidgets import QPushButton

    from explorer.design.strategies import SCHEMES

    window = make_window(builtin_design())
    titles = {b.text() for b in window.palette_panel.findChildren(QPushButton)}
    assert {s.title for s in SCHEMES.values()} <= titles


def test_the_training_memory_follows_the_kernels_chosen(make_window, qtbot, tmp_path):
    """The kernels choice, by keyboard on the combo: CUDA's figure, saved with the design, undoable;
    an LSTM's CUDA figure reads as a lower bound."""
    from PySide6.QtTest import QTest

    from explorer.design import yaml_io
    from explorer.presets import PRESETS_DIR

    window = make_window(yaml_io.load(PRESETS_DIR / "gpt2-tied.yaml"))
    combo = window.metrics.device
    combo.setFocus()
    cpu = window.model.report.memory.activations_training
    QTest.keyClick(combo, Qt.Key.Key_Down)
    assert window.model.device == "cuda" and combo.currentData() == "cuda"
    assert window.model.report.memory.activations_training != cpu
    assert_metrics_match(window)
    assert window.document.save_as(tmp_path / "on-cuda.yaml")
    assert yaml_io.load(tmp_path / "on-cuda.yaml").run.device == "cuda"
    window.model.undo_stack.undo()                          # Save As named the design after its file
    window.model.undo_stack.undo()
    assert window.model.device == "cpu" and combo.currentData() == "cpu"
    lstm = make_window(yaml_io.load(PRESETS_DIR / "lstm-shared-cell.yaml"))
    lstm.metrics.device.setFocus()
    QTest.keyClick(lstm.metrics.device, Qt.Key.Key_Down)
    assert lstm.metrics.values["training"].text().startswith("≥ ")
    assert_metrics_match(lstm)
