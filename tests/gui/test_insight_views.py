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
    assert sweep_view.seq_result.crossover == 1024
    assert sweep_view.cross_line.isVisible()
    assert sweep_view.cross_line.value() == pytest.approx(math.log2(1024))
    assert "n = 1024" in sweep_view.seq_sentence.text()
    xs, ys = sweep_view.attn_curve.getData()
    assert len(xs) == len(range(7, 15))          # 128 .. 16384


def test_depth_sweep_draws_one_curve_per_scheme(sweep_view):
    sweep_view.tabs.setCurrentIndex(1)
    sweep_view.depth_edit.setText("4,8,12")
    sweep_view.refresh()
    curves = [item for item in sweep_view.depth_plot.listDataItems()]
    assert len(curves) == 6
    albert = [p for p in sweep_view.depth_points if p.scheme == "albert"]
    assert len({p.unique for p in albert}) == 1


def test_frontier_click_applies_a_scheme(qtbot, sweep_view):
    sweep_view.tabs.setCurrentIndex(2)
    sweep_view.refresh()
    names = [p.scheme for p in sweep_view.scheme_points]
    assert "albert" in names and "current" in names
    with qtbot.waitSignal(sweep_view.apply_requested) as blocker:
        sweep_view.apply_scheme_named("albert")
    assert blocker.args[0] == apply_scheme(TUTORIAL, "albert")
    row = names.index("albert")
    assert sweep_view.scheme_table.item(row, 1).text() == f"{analyze(blocker.args[0]).params.unique:,}"


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
    png = export_plot(sweep_view.seq_plot, tmp_path / "seq.png")
    svg = export_plot(sweep_view.seq_plot, tmp_path / "seq.svg")
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
    view.seq_edit.setText("8,16,32")
    with qtbot.waitSignal(view.timing_finished, timeout=120_000):
        view.on_measure_clicked()
    assert sorted(view.measured) == [8, 16, 32] and all(ms > 0 for ms in view.measured.values())
    xs, ys = view.time_curve.getData()
    assert list(xs) == [3.0, 4.0, 5.0]
    assert view.measure_button.text() == "Measure time"
    view.shutdown()


def _small_training(view, steps: int) -> None:
    view.train_steps.setValue(steps)
    view.train_width.setValue(32)
    view.train_depth.setValue(2)
    view.train_batch.setValue(2)
    view.train_seq.setValue(16)


def test_trained_frontier_runs_in_a_worker_and_a_click_applies_undoably(qtbot, make_window):
    pytest.importorskip("torch")
    from explorer.train.sweep import scheme_candidates

    window = make_window(TUTORIAL)
    view = window.insight.sweeps
    window.bottom_tabs.setCurrentWidget(view)
    view.tabs.setCurrentIndex(2)
    _small_training(view, 2)
    with qtbot.waitSignal(view.training_finished, timeout=300_000):
        view.train_button.click()
        assert view.train_button.text() == "Stop"         # the GUI thread is free while it trains
    assert view.train_check.isChecked() and view.train_button.text() == "Train"
    runs = {r.scheme: r for r in view.trained_runs}
    assert list(runs) == [c.scheme for c in scheme_candidates(TUTORIAL)]
    assert runs["none"].final_val == runs["unshared"].final_val              # no sharing: same model, same batches
    assert runs["albert"].params < runs["none"].params and runs["expert-bank"].error
    # one point per trained scheme: unique parameters against validation loss, labelled
    points = {p.data(): p for p in view.frontier_scatter.points()}
    assert set(points) == {name for name, r in runs.items() if r.ok}
    assert (points["albert"].pos().x(), points["albert"].pos().y()) == pytest.approx(
        (runs["albert"].params, runs["albert"].final_val))
    assert "none" in {label.textItem.toPlainText() for label in view._frontier_labels}
    assert view.scheme_table.rowCount() == len(runs)
    assert view.scheme_table.horizontalHeaderItem(2).text() == "final val loss"
    assert view.train_status.text().startswith("done")
    # a click on a point applies that scheme to the full-size design, as one undoable edit
    view.frontier_scatter.sigClicked.emit(view.frontier_scatter, [points["albert"]], None)
    assert window.model.spec == apply_scheme(TUTORIAL, "albert")
    assert len(view.trained_runs) == len(runs)                             # the trained frontier stays
    window.model.undo_stack.undo()
    assert window.model.spec == TUTORIAL
    view.train_check.setChecked(False)                                      # back to the analysis frontier
    assert view.scheme_table.horizontalHeaderItem(2).text() == "forward FLOPs"


def test_trained_frontier_stops_when_asked(qtbot, sweep_view):
    pytest.importorskip("torch")
    sweep_view.tabs.setCurrentIndex(2)
    _small_training(sweep_view, 100_000)
    with qtbot.waitSignal(sweep_view.training_finished, timeout=120_000):
        sweep_view.train_button.click()
        sweep_view.train_button.click()                                     # Stop
    assert sweep_view.train_status.text().startswith("stopped")
    assert len(sweep_view.trained_runs) <= 1 and not any(r.ok for r in sweep_view.trained_runs)
