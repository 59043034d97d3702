"""The Train tab says when scaling down leaves no sharing (the design would be trained against
itself) and offers 'keep sharing', which maps the groups onto the kept layers (issue 22, item 12)."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest

from explorer.design.model import LayerSpec, Member, ModelSettings, SharingGroup, StackSpec

pytest.importorskip("torch")

from explorer.gui.train_view import TrainView  # noqa: E402
from explorer.train.adapt import NO_SHARING_LEFT  # noqa: E402

TOP_SHARED = StackSpec(
    ModelSettings(d_model=32, n_heads=4, d_ff=64, vocab_size=50, max_positions=64, causal=True),
    (LayerSpec("emb", "embedding"), *(LayerSpec(f"b{i}", "block") for i in range(8)), LayerSpec("head", "lm_head")),
    (SharingGroup("top", tuple(Member(f"b{i}") for i in range(5, 8))),), name="top-shared")


def type_into(spin, text: str) -> None:
    spin.setFocus()
    QTest.keyClick(spin, Qt.Key.Key_A, Qt.KeyboardModifier.ControlModifier)
    QTest.keyClicks(spin, text)
    QTest.keyClick(spin, Qt.Key.Key_Tab)


def test_the_tab_says_no_sharing_is_left_and_keep_sharing_keeps_it(qtbot, tmp_path):
    view = TrainView()
    qtbot.addWidget(view)
    view.resize(1300, 520)
    view.show()
    view.set_spec(TOP_SHARED)
    form = view.form
    for spin, text in ((form.steps_spin, "4"), (form.batch_spin, "2"), (form.seq_spin, "8"),
                       (form.eval_spin, "4"), (form.scale_spins["depth"], "4")):
        type_into(spin, text)
    form.data_combo.setCurrentText("task:copy")
    said = []
    view.message.connect(said.append)
    with qtbot.waitSignal(view.run_finished, timeout=120_000):
        QTest.mouseClick(view.start_button, Qt.MouseButton.LeftButton)
        assert view.readout.toPlainText().startswith(f"note: {NO_SHARING_LEFT}")     # shown as the run starts
    assert said and said[0].startswith(NO_SHARING_LEFT) and "'keep sharing'" in said[0]
    assert f"note: {NO_SHARING_LEFT}" in view.readout.toPlainText()                 # and in the readout at the end
    view.grab().save(str(tmp_path / "no_sharing.png"))
    view.grab().save("/tmp/i22/train_no_sharing.png")
    QTest.mouseClick(form.keep_sharing_check, Qt.MouseButton.LeftButton,
                     pos=form.keep_sharing_check.rect().center())
    assert form.keep_sharing_check.isChecked()
    said.clear()
    with qtbot.waitSignal(view.run_finished, timeout=120_000) as blocker:
        QTest.mouseClick(view.start_button, Qt.MouseButton.LeftButton)
    result = blocker.args[0].result
    text = view.readout.toPlainText()
    assert NO_SHARING_LEFT not in text and not any(NO_SHARING_LEFT in line for line in said)
    assert "taken across the stack to keep its sharing: b0, b2, b5, b6" in text
    assert result.series["design"].params < result.series["twin"].params      # the design shares again
    view.grab().save("/tmp/i22/train_keep_sharing.png")
    view.shutdown()
