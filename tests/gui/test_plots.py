"""Plots read right: SI and unit axes, whole-number iterations, no inf/nan ticks or numpy
warnings after a measured sweep, separate timing segments, a legend and labels that cover
nothing and are never clipped, the Timing tab's PNG/SVG/CSV export, and graph edges that
keep clear of the "own" boxes."""

from __future__ import annotations

import csv
import dataclasses
import math
import warnings

import numpy as np
import pytest
from PySide6.QtCore import QLineF, QRectF, Qt
from PySide6.QtGui import QImage, QPainter
from PySide6.QtWidgets import QFileDialog, QGraphicsLineItem, QGraphicsRectItem

from explorer.gui import graph_view, theme
from explorer.gui.axes import IntegerAxis, PlainAxis, SIAxis, si
from explorer.design.edits import builtin_design
from explorer.presets import PRESETS_DIR
from explorer.design import yaml_io
from explorer.design.strategies import apply_scheme

HEAD_SHARING = yaml_io.load(PRESETS_DIR / "head-sharing.yaml")


def tiny_design(n_blocks: int = 2):
    """builtin_design with small sizes, so torch builds and times it in moments on a CPU."""
    spec = builtin_design(n_blocks)
    return dataclasses.replace(spec, name="tiny", settings=dataclasses.replace(
        spec.settings, d_model=64, n_heads=4, d_ff=128, vocab_size=500, max_positions=512))


def drawn_tick_strings(axis) -> list[str]:
    """The tick strings the axis draws at its current range and size (pyqtgraph's own path)."""
    image = QImage(10, 10, QImage.Format.Format_ARGB32)
    painter = QPainter(image)
    try:
        specs = axis.generateDrawSpecs(painter)
    finally:
        painter.end()
    return [text for _rect, _flags, text in specs[2]] if specs else []


def show_tab(window, title: str):
    tabs = window.bottom_tabs
    index = next(i for i in range(tabs.count()) if tabs.tabText(i).startswith(title))
    tabs.setCurrentIndex(index)
    return tabs.widget(index)


# ---------------------------------------------------------------------------- axes alone

@pytest.mark.parametrize(("values", "spacing", "expected"), [
    ([2e7], 1e7, ["20 M"]),
    ([0, 5e7, 1e8, 1.5e8], 5e7, ["0", "50 M", "100 M", "150 M"]),
    ([1e6, 1.2e6, 1.4e6], 2e5, ["1 M", "1.2 M", "1.4 M"]),
    ([500, 1000, 1500], 500, ["500", "1 k", "1.5 k"]),
    ([6e10, 3.01e12], 1e10, ["60 G", "3.01 T"]),
    ([2e12, 4e12], 2e12, ["2 T", "4 T"]),
])
def test_si_axis_tick_strings(qtbot, values, spacing, expected):
    assert SIAxis("left").tickStrings(values, 1.0, spacing) == expected


def test_si_axis_in_log_mode_and_non_finite_values(qtbot):
    axis = SIAxis("left")
    axis.setLogMode(False, True)
    assert axis.tickStrings([6, 7, 8, math.log10(2e7)], 1.0, 1.0) == ["1 M", "10 M", "100 M", "20 M"]
    assert axis.tickStrings([500.0], 1.0, 1.0) == [""]           # 10**500: nothing, no inf, no warning
    assert si(math.inf) == "" and si(math.nan) == ""
    pinned = SIAxis("right", log_follows_plot=False)
    pinned.setLogMode(False, True)
    assert not pinned.logMode


def test_plain_axis_has_no_exponents(qtbot):
    axis = PlainAxis("left")
    assert axis.tickStrings([10000, 20000], 1.0, 10000) == ["10,000", "20,000"]
    assert axis.tickStrings([0.25, 0.5], 1.0, 0.25) == ["0.25", "0.5"]


def test_integer_axis_ticks_are_whole_numbers_at_any_zoom(qtbot):
    axis = IntegerAxis("bottom")
    for low, high, size in ((0, 5, 1000), (0, 1, 400), (2.2, 4.8, 600), (0, 33, 300), (0, 5000, 800)):
        levels = axis.tickValues(low, high, size)
        values = [v for _spacing, vs in levels for v in vs]
        assert values and all(float(v).is_integer() for v in values), (low, high, values)
        strings = axis.tickStrings(values, 1.0, 1.0)
        assert all(s.replace(",", "").isdigit() for s in strings)


# ---------------------------------------------------------------------------- sweeps

def test_measured_sweep_right_axis_reads_ms_without_inf_or_warnings(make_window, qtbot):
    pytest.importorskip("torch")
    window = make_window(tiny_design())
    show_tab(window, "Sweeps")
    view = window.insight.sweeps
    view.tabs.setCurrentIndex(0)
    view.seq.seq_edit.setText("8,16,32")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        view.refresh()
        with qtbot.waitSignal(view.timing_finished, timeout=120_000):
            view.seq.on_measure_clicked()
        qtbot.wait(100)
        window.grab()
        # a slow pass (over 308 ms) was read as 10**ms by a log-mode right axis: inf and overflow
        view.seq.on_timing_point(64, 750.0)
        qtbot.wait(50)
        window.grab()
        item = view.seq.seq_plot.getPlotItem()
        strings = {name: drawn_tick_strings(item.getAxis(name)) for name in ("left", "right", "bottom")}
    assert sorted(view.seq.measured) == [8, 16, 32, 64]
    assert not [w for w in caught if issubclass(w.category, RuntimeWarning)], [str(w.message) for w in caught]
    assert all(strings.values()), strings
    for text in sum(strings.values(), []):
        assert "inf" not in text.lower() and "nan" not in text.lower() and "e+" not in text, strings
    right = [float(s.replace(",", "")) for s in strings["right"]]
    assert max(right) <= 800 and min(right) >= 0, right                # ms, on a linear scale
    assert any(s.endswith(" M") or s.endswith(" k") for s in strings["left"]), strings["left"]
    assert item.getAxis("right").labelText == "measured ms"


def test_frontier_labels_lie_inside_the_view(make_window, qtbot):
    window = make_window(HEAD_SHARING)
    show_tab(window, "Sweeps")
    view = window.insight.sweeps
    view.tabs.setCurrentIndex(2)
    for width in (1440, 900):
        window.resize(width, 900)
        qtbot.wait(50)
        view.refresh()
        qtbot.wait(50)
        box = view.schemes.frontier.frontier_plot.getPlotItem().vb.sceneBoundingRect()
        labels = view.schemes.frontier._frontier_labels
        assert "current" in [label.toPlainText() for label in labels]
        for label in labels:
            rect = label.mapRectToScene(label.boundingRect())
            assert box.adjusted(-1, -1, 1, 1).contains(rect), (label.toPlainText(), rect, box)
        rects = [label.mapRectToScene(label.boundingRect()) for label in labels]
        assert not any(a.intersects(b) for i, a in enumerate(rects) for b in rects[i + 1:])
    strings = drawn_tick_strings(view.schemes.frontier.frontier_plot.getPlotItem().getAxis("left"))
    assert strings and all(s.endswith(" G") or s == "0" for s in strings), strings


def test_empty_plots_show_a_note_not_a_zero_to_one_range(qtbot):
    pytest.importorskip("torch")
    from explorer.gui.run_panel import RunPanel

    panel = RunPanel()
    qtbot.addWidget(panel)
    panel.resize(900, 400)
    panel.show()
    qtbot.waitExposed(panel)
    assert panel.empty_note.item.isVisible()
    assert drawn_tick_strings(panel.plot.getPlotItem().getAxis("left")) == []
    assert drawn_tick_strings(panel.plot.getPlotItem().getAxis("bottom")) == []
    panel.shutdown()


# ---------------------------------------------------------------------------- timing

def test_timing_segments_legend_ticks_and_export(make_window, qtbot, tmp_path, monkeypatch):
    pytest.importorskip("torch")
    window = make_window(tiny_design())
    show_tab(window, "Timing")
    panel = window.ensure_run_panel()
    panel.batch_spin.setValue(1)
    panel.seq_spin.setValue(8)
    panel.iters_spin.setValue(4)
    panel.warmup_spin.setValue(1)
    panel.set_spec(tiny_design(), "first")
    with qtbot.waitSignal(panel.run_finished, timeout=120_000):
        panel.start()
    panel.set_spec(apply_scheme(tiny_design(), "albert"), "albert")
    with qtbot.waitSignal(panel.run_finished, timeout=120_000):
        panel.start()
    qtbot.wait(100)
    item = panel.plot.getPlotItem()
    assert not panel.empty_note.item.isVisible()

    # separate runs are not joined: a NaN between them, drawn with connect="finite"
    first, second = panel.segments
    for curve in (panel.design_curve, panel.twin_curve, panel.median_curve):
        xs, ys = curve.getData()
        assert curve.opts["connect"] == "finite"
        gaps = [i for i, y in enumerate(ys) if math.isnan(y)]
        assert len(gaps) == 1 and xs[gaps[0] - 1] < second.start_x < xs[gaps[0] + 1]
    xs, ys = panel.design_curve.getData()
    finite = [y for y in ys if not math.isnan(y)]
    assert finite == first.design + second.design

    # segment labels in the strip above the plot, the legend above that: neither covers data
    assert drawn_tick_strings(panel.segment_axis) == ["first", "albert"]
    plot_area = item.vb.sceneBoundingRect()
    assert not panel.legend.sceneBoundingRect().intersects(plot_area)
    assert [label.text for _sample, label in panel.legend.items][:3] == ["design", "unshared twin",
                                                                          "design, running median"]
    # iteration ticks are whole numbers, also zoomed in between two iterations
    for low, high in ((0, xs[-1]), (2.2, 4.8)):
        item.setXRange(low, high, padding=0)
        strings = drawn_tick_strings(item.getAxis("bottom"))
        assert strings and all(s.isdigit() for s in strings), strings
    item.enableAutoRange()

    # PNG, SVG and CSV (one row per sample the panel holds)
    png = panel.export(tmp_path / "timing.png")
    svg = panel.export(tmp_path / "timing.svg")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "<svg" in svg.read_text()
    path = tmp_path / "timing.csv"
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *_a, **_k: (str(path), "CSV samples (*.csv)"))
    qtbot.mouseClick(panel.save_button, Qt.MouseButton.LeftButton)
    with path.open(newline="") as f:
        rows = list(csv.DictReader(f))
    expected = []
    for number, seg in enumerate(panel.segments, 1):
        x0 = seg.start_x + len(seg.warmup_design)
        expected += [(str(number), seg.label, "design", "1", str(x), ms) for x, ms in seg.warmup_design]
        expected += [(str(number), seg.label, "design", "0", str(x0 + i), ms) for i, ms in enumerate(seg.design)]
        expected += [(str(number), seg.label, "twin", "0", str(x0 + i), ms) for i, ms in enumerate(seg.twin)]
    assert len(rows) == len(expected) == sum(len(s.design) + len(s.twin) + len(s.warmup_design)
                                             for s in panel.segments)
    got = [(r["segment"], r["label"], r["series"], r["warmup"], r["iteration"], float(r["ms"])) for r in rows]
    assert got == expected


# ---------------------------------------------------------------------------- metrics and graph

def test_metrics_axes_read_si_counts_and_whole_layers(make_window, qtbot):
    window = make_window(tiny_design(4))
    qtbot.wait(50)
    item = window.metrics.plot.getPlotItem()
    left = drawn_tick_strings(item.getAxis("left"))
    bottom = drawn_tick_strings(item.getAxis("bottom"))
    assert left and all(s == "0" or s.endswith(" k") for s in left), left
    assert bottom and all(s.isdigit() for s in bottom), bottom


def test_graph_group_edges_keep_clear_of_own_boxes(make_window, qtbot):
    window = make_window(HEAD_SHARING)
    window.tabs.setCurrentIndex(1)
    qtbot.wait(50)
    scene = window.graph_view.scene()
    own_fill = theme.color("own_fill").lighter(104)
    own_boxes = [i.sceneBoundingRect() for i in scene.items()
                 if isinstance(i, QGraphicsRectItem) and i.brush().color() == own_fill]
    edge = theme.color("graph_edge")
    group_edges = [i for i in scene.items() if isinstance(i, QGraphicsLineItem) and i.pen().color() != edge]
    assert own_boxes and group_edges
    for line_item in group_edges:
        line: QLineF = line_item.line()
        points = [line.pointAt(t) for t in np.linspace(0, 1, 60)]
        for box in own_boxes:
            inner: QRectF = box.adjusted(1, 1, -1, -1)
            assert not any(inner.contains(p) for p in points), (line, box)
    assert graph_view.OWN_X + graph_view.OWN_W < graph_view.LAYER_X
