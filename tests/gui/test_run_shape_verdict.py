"""One verdict for one run shape (issue 22, item 13): BERT (512 positions) at seq 2048 is refused
by the planner and the Metrics tab alike, by the rule the report uses; parameters, which do not
depend on seq, stay in Metrics with the seq problem beside the seq field."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtTest import QTest

from explorer.analysis import analyze
from explorer.design import yaml_io
from explorer.gui import theme
from explorer.presets import PRESETS_DIR

REASON = "seq: sequence length 2048 is longer than max_positions 512 of layer 'embeddings'"


def type_into(spin, text: str) -> None:
    spin.setFocus()
    QTest.keyClick(spin, Qt.Key.Key_A, Qt.KeyboardModifier.ControlModifier)
    QTest.keyClicks(spin, text)
    QTest.keyClick(spin, Qt.Key.Key_Return)


def click_tab(qtbot, tabs, widget) -> None:
    bar = tabs.tabBar()
    QTest.mouseClick(bar, Qt.MouseButton.LeftButton, pos=bar.tabRect(tabs.indexOf(widget)).center())
    qtbot.waitUntil(lambda: tabs.currentWidget() is widget)


def test_bert_at_seq_2048_gets_one_verdict_everywhere(qtbot, make_window):
    spec = yaml_io.load(PRESETS_DIR / "bert-base.yaml")
    at_512 = analyze(spec, 1, 512)                  # parameters do not depend on seq
    window = make_window(spec)
    metrics, planner = window.metrics, window.insight.planner

    type_into(metrics.seq, "2048")
    qtbot.waitUntil(lambda: window.model.seq == 2048)
    assert window.model.report is None               # FLOPs and memory cannot be had at 2048
    v = metrics.values
    assert v["unique"].text() == f"{at_512.params.unique:,}" and v["unshared"].text() == f"{at_512.params.unshared:,}"
    assert metrics.shape_note.isVisible() and metrics.shape_note.text() == REASON
    assert metrics.seq.styleSheet() == theme.style("invalid_field") and metrics.batch.styleSheet() == ""
    assert v["forward"].text() == "not at this seq" and v["training"].text() == "not at this seq"
    assert REASON in v["training"].toolTip()
    p = at_512.params
    assert window.inspector.summary.text() == f"{p.unique:,} unique of {p.unshared:,} parameters"
    assert window.status_label.text().endswith(f"{at_512.params.unique:,} params · seq does not fit")
    window.grab().save("/tmp/i22/metrics_seq_2048.png")

    click_tab(qtbot, window.bottom_tabs, planner)
    assert planner.seq_spin.value() == 2048
    assert planner.table.rowCount() == 0              # no setup planned at a seq the design cannot take
    assert planner.summary.text() == f"No setup planned: {REASON}"
    assert planner.seq_spin.styleSheet() == theme.style("invalid_field")
    window.grab().save("/tmp/i22/planner_seq_2048.png")
    type_into(planner.seq_spin, "512")
    qtbot.waitUntil(lambda: planner.table.rowCount() > 0)
    assert f"of {planner.table.rowCount()} setups fit" in planner.summary.text()
    assert planner.seq_spin.styleSheet() == ""

    click_tab(qtbot, window.bottom_tabs, window.bottom_tabs.widget(0))
    type_into(metrics.seq, "512")
    qtbot.waitUntil(lambda: window.model.report is not None)
    assert not metrics.shape_note.isVisible() and metrics.seq.styleSheet() == ""
    assert v["training"].text() not in ("not at this seq", "—") and v["training"].toolTip() == metrics.tips["training"]
