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
