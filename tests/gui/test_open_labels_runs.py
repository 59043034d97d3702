"""Opening another design labels what the Train and Timing tabs still show from the previous one
("from my.yaml": curves, heatmaps, readouts, timing segments); the next run is unlabelled."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest

from explorer.design import yaml_io
from explorer.design.strategies import apply_scheme

pytest.importorskip("torch")

from test_train_view import TINY  # noqa: E402  (the Train tab tests' tiny causal ALBERT)


def test_opening_another_design_labels_the_previous_runs(qtbot, make_window, tmp_path):
    mine, other = tmp_path / "my.yaml", tmp_path / "other.yaml"
    yaml_io.save(TINY, mine)
    yaml_io.save(apply_scheme(TINY, "unshare"), other)
    window = make_window(yaml_io.load(mine), mine)
    train = window.train_view
    form = train.form
    form.steps_spin.setValue(4)
    form.batch_spin.setValue(2)
    form.seq_spin.setValue(8)
    form.eval_spin.setValue(4)
    form.data_combo.setCurrentText("task:copy")
    window.bottom_tabs.setCurrentWidget(train)
    with qtbot.waitSignal(train.run_finished, timeout=120_000):
        QTest.mouseClick(train.start_button, Qt.MouseButton.LeftButton)
    panel = window.ensure_run_panel()
    panel.batch_spin.setValue(1)
    panel.seq_spin.setValue(8)
    panel.warmup_spin.setValue(0)
    panel.iters_spin.setValue(2)
    with qtbot.waitSignal(panel.run_finished, timeout=120_000):
        QTest.mouseClick(panel.start_button, Qt.MouseButton.LeftButton)
    assert "from" not in train.readout.toPlainText().splitlines()[0] and "from" not in panel.segments[0].label
    losses = list(train.plot.train_curves["design"].getData()[1])

    window.document.ask_open_path = lambda: str(other)
    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow)
    QTest.keyClick(window.windowHandle(), Qt.Key.Key_O, Qt.KeyboardModifier.ControlModifier)   # File > Open…
    assert window.document.path == other

    # the Train tab: the curves stay, titled with the file they came from, as do heatmaps and readout
    assert list(train.plot.train_curves["design"].getData()[1]) == losses
    assert train.plot.source_note.isVisible() and train.plot.source_note.text() == "from my.yaml"
    for name in ("design", "twin"):
        assert "from my.yaml" in train.heatmaps[name].plot.getPlotItem().titleLabel.text
    assert "from my.yaml" in train.readout.toPlainText().splitlines()[0]
    # the Timing tab: the segment and the readout name the file
    assert panel.segments[0].label.endswith("from my.yaml")
    assert panel.segment_axis.spans[0][2].endswith("from my.yaml")
    assert panel.readout.text().startswith("from my.yaml")
    # a new run is of the design now open: no label
    with qtbot.waitSignal(panel.run_finished, timeout=120_000):
        QTest.mouseClick(panel.start_button, Qt.MouseButton.LeftButton)
    assert "from" not in panel.segments[1].label and not panel.readout.text().startswith("from")
    assert panel.segments[0].label.endswith("from my.yaml")
