"""Sweep, compare and planner views driven with qtbot; figures equal the pure analysis."""

from __future__ import annotations

import math

import pytest
from PySide6.QtCore import Qt

from explorer.analysis import analyze
from explorer.analysis.planner import plan_grid
from explorer.gui.compare_view import CompareView
from explorer.gui.planner_view import PlannerView
from explorer.gui.plot_export import export_plot
from explorer.gui.sweep_view import SweepView
from explorer.presets import PRESETS_DIR
from explorer.design import yaml_io
from explorer.design.strategies import apply_scheme

TUTORIAL = yaml_io.load(PRESETS_DIR / "tutorial-unshared.yaml")


@pytest.fixture
def sweep_view(qtbot):
    view = SweepView()
    qtbot.addWidget(view)
    view.resize(900, 600)
    view.show()
    view.set_spec(TUTORIAL)
    return view


def test_seq_sweep_marks_the_crossover_at_2d(sweep_view):
    sweep_view.tabs.setCurrentIndex(0)
    sweep_view.refresh()
    assert sweep_view.seq.seq_result.crossover == 1024
    assert sweep_view.seq.cross_line.isVisible()
    assert sweep_view.seq.cross_line.value() == pytest.approx(math.log2(1024))
    assert "n = 1024" in sweep_view.seq.seq_sentence.text()
    xs, ys = sweep_view.seq.attn_curve.getData()
    assert len(xs) == len(range(7, 15))          # 128 .. 16384


def test_depth_sweep_draws_one_curve_per_scheme(sweep_view):
    sweep_view.tabs.setCurrentIndex(1)
    sweep_view.depth.depth_edit.setText("4,8,12")
    sweep_view.refresh()
    curves = [item for item in sweep_view.depth.depth_plot.listDataItems()]
    assert len(curves) == 6
    albert = [p for p in sweep_view.depth.depth_points if p.scheme == "albert"]
    assert len({p.unique for p in albert}) == 1


def test_frontier_click_applies_a_scheme(qtbot, sweep_view):
    sweep_view.tabs.setCurrentIndex(2)
    sweep_view.refresh()
    names = [p.scheme for p in sweep_view.schemes.scheme_points]
    assert "albert" in names and "current" in names
    with qtbot.waitSignal(sweep_view.apply_requested) as blocker:
        sweep_view.apply_scheme_named("albert")
    assert blocker.args[0] == apply_scheme(TUTORIAL, "albert")
    row = names.index("albert")
    assert sweep_view.schemes.frontier.scheme_table.item(row, 1).text() == f"{analyze(blocker.args[0]).params.unique:,}"


def test_compare_view_ratios_and_highlights(qtbot):
    view = CompareView()
    qtbot.addWidget(view)
    view.show()
    view.set_spec(TUTORIAL)
    view.pin_current()
    shared = apply_scheme(TUTORIAL, "albert")
    view.set_spec(shared)
    rows = {name: (a, b) for name, a, b in view.rows()}
    assert rows["params.unique"] == (analyze(shared).params.unique, analyze(TUTORIAL).params.unique)
    assert rows["flops.forward"][0] == rows["flops.forward"][1]
    texts = {view.table.item(r, 0).text(): r for r in range(view.table.rowCount())}
    r = texts["params.unique"]
    assert view.table.item(r, 3).text() == "12.000"
    assert view.table.item(r, 1).background().color().alpha() > 0       # highlighted: differs
    assert view.table.item(texts["flops.forward"], 1).background().style() == Qt.BrushStyle.NoBrush   # same
    view.record_time(shared, 2.0)
    view.record_time(TUTORIAL, 2.2)
    assert view.rows()[-1] == ("measured median ms", 2.0, 2.2)


def test_planner_view_matches_plan_grid(qtbot):
    view = PlannerView()
    qtbot.addWidget(view)
    view.show()
    spec = yaml_io.load(PRESETS_DIR / "gqa.yaml")
    view.gpu_spin.setValue(24)
    view.set_spec(spec)
    expected = plan_grid(spec, 8, 1, 2048, "bf16")
    assert view.table.rowCount() == len(expected)
    assert view.table.item(0, 0).text() == expected[0].setup.label
    assert "setups fit a 24 GiB GPU" in view.summary.text()


def test_plots_save_as_png_and_svg(sweep_view, tmp_path):
    sweep_view.refresh()
    png = export_plot(sweep_view.seq.seq_plot, tmp_path / "seq.png")
    svg = export_plot(sweep_view.seq.seq_plot, tmp_path / "seq.svg")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "<svg" in svg.read_text()


def test_seq_sweep_measures_time_on_the_cpu(qtbot):
    pytest.importorskip("torch")
    from explorer.design.model import LayerSpec, ModelSettings, StackSpec

    tiny = StackSpec(settings=ModelSettings(d_model=32, n_heads=4, d_ff=64, positional="none"),
                     layers=tuple(LayerSpec(f"b{i}", "block") for i in range(2)), name="tiny")
    view = SweepView()
    qtbot.addWidget(view)
    view.show()
    view.set_spec(tiny)
    view.seq.seq_edit.setText("8,16,32")
    with qtbot.waitSignal(view.timing_finished, timeout=120_000):
        view.seq.on_measure_clicked()
    assert sorted(view.seq.measured) == [8, 16, 32] and all(ms > 0 for ms in view.seq.measured.values())
    xs, ys = view.seq.time_curve.getData()
    assert list(xs) == [3.0, 4.0, 5.0]
    assert view.seq.measure_button.text() == "Measure time"
    view.shutdown()


def _small_training(view, steps: int) -> None:
    view.schemes.controls.train_steps.setValue(steps)
    view.schemes.controls.train_width.setValue(32)
    view.schemes.controls.train_depth.setValue(2)
    view.schemes.controls.train_batch.setValue(2)
    view.schemes.controls.train_seq.setValue(16)


def test_trained_frontier_runs_in_a_worker_and_a_click_applies_undoably(qtbot, make_window):
    pytest.importorskip("torch")
    from explorer.train.sweep import scheme_candidates

    window = make_window(TUTORIAL)
    view = window.insight.sweeps
    window.bottom_tabs.setCurrentWidget(view)
    view.tabs.setCurrentIndex(2)
    _small_training(view, 2)
    with qtbot.waitSignal(view.training_finished, timeout=300_000):
        view.schemes.controls.train_button.click()
        assert view.schemes.controls.train_button.text() == "Stop"         # the GUI thread is free while it trains
    assert view.schemes.controls.train_check.isChecked() and view.schemes.controls.train_button.text() == "Train"
    runs = {r.scheme: r for r in view.schemes.trained_runs}
    assert list(runs) == [c.scheme for c in scheme_candidates(TUTORIAL)]
    assert runs["none"].final_val == runs["unshared"].final_val              # no sharing: same model, same batches
    assert runs["albert"].params < runs["none"].params and runs["expert-bank"].error
    # one point per trained scheme: unique parameters against validation loss, labelled
    points = {p.data(): p for p in view.schemes.frontier.frontier_scatter.points()}
    assert set(points) == {name for name, r in runs.items() if r.ok}
    assert (points["albert"].pos().x(), points["albert"].pos().y()) == pytest.approx(
        (runs["albert"].params, runs["albert"].final_val))
    assert "none" in {label.textItem.toPlainText() for label in view.schemes.frontier._frontier_labels}
    assert view.schemes.frontier.scheme_table.rowCount() == len(runs)
    assert view.schemes.frontier.scheme_table.horizontalHeaderItem(2).text() == "final val loss"
    assert view.schemes.controls.train_status.text().startswith("done")
    # a click on a point applies that scheme to the full-size design, as one undoable edit
    scatter = view.schemes.frontier.frontier_scatter
    scatter.sigClicked.emit(scatter, [points["albert"]], None)
    assert window.model.spec == apply_scheme(TUTORIAL, "albert")
    assert len(view.schemes.trained_runs) == len(runs)                             # the trained frontier stays
    window.model.undo_stack.undo()
    assert window.model.spec == TUTORIAL
    view.schemes.controls.train_check.setChecked(False)                      # back to the analysis frontier
    assert view.schemes.frontier.scheme_table.horizontalHeaderItem(2).text() == "forward FLOPs"


def test_trained_frontier_stops_when_asked(qtbot, sweep_view):
    pytest.importorskip("torch")
    sweep_view.tabs.setCurrentIndex(2)
    _small_training(sweep_view, 100_000)
    with qtbot.waitSignal(sweep_view.training_finished, timeout=120_000):
        sweep_view.schemes.controls.train_button.click()
        sweep_view.schemes.controls.train_button.click()                                     # Stop
    assert sweep_view.schemes.controls.train_status.text().startswith("stopped")
    assert len(sweep_view.schemes.trained_runs) <= 1 and not any(r.ok for r in sweep_view.schemes.trained_runs)
