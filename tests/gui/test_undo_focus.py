"""Ctrl+Z / Ctrl+Shift+Z / Ctrl+Y undo and redo the design wherever the focus is in the window
(a spin box, a text field, the stack, a table); a text field keeps its own text undo only while
it holds typed text not yet applied. After an undo or redo the status bar says what and the counts."""

import pytest
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest

from explorer import fmt
from explorer.design import edits
from explorer.design.edits import builtin_design
from explorer.gui import commands

CTRL, SHIFT = Qt.KeyboardModifier.ControlModifier, Qt.KeyboardModifier.ShiftModifier


@pytest.fixture
def window(make_window, qtbot):
    window = make_window(builtin_design(3))
    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow)
    return window


def focus(qtbot, widget):
    widget.setFocus(Qt.FocusReason.TabFocusReason)
    qtbot.waitUntil(widget.hasFocus)


def delete_first_layer(window):
    first = window.model.spec.layers[0].id
    assert window.model.edit(commands.SpecCommand, f"Delete {first}", lambda s: edits.delete_layers(s, [first]))


def test_ctrl_z_in_a_spin_box_undoes_the_design_and_says_so(window, qtbot):
    model = window.model
    before = model.spec
    delete_first_layer(window)                               # an edit made elsewhere
    spin = window.metrics.batch
    focus(qtbot, spin)
    QTest.keyClick(spin, Qt.Key.Key_A, CTRL)                 # select the number, type a new one
    QTest.keyClicks(spin, "4")
    assert model.batch == 4
    steps = model.undo_stack.index()
    QTest.keyClick(spin, Qt.Key.Key_Z, CTRL)
    assert model.batch == 1 and spin.value() == 1 and model.undo_stack.index() == steps - 1
    params = model.report.params
    assert window.statusBar().currentMessage() == (f"Undid: Run shape (batch 1 → 4): {fmt.count(params.unique)} "
                                                   f"unique, {params.saving_factor:.2f}x fewer than unshared")
    QTest.keyClick(spin, Qt.Key.Key_Z, CTRL)                 # the focus stays: the delete is undone next
    assert model.spec == before
    assert window.statusBar().currentMessage().startswith(f"Undid: Delete {before.layers[0].id}: ")
    QTest.keyClick(spin, Qt.Key.Key_Z, CTRL | SHIFT)
    QTest.keyClick(spin, Qt.Key.Key_Z, CTRL | SHIFT)
    assert model.batch == 4 and spin.value() == 4 and len(model.spec.layers) == len(before.layers) - 1
    assert window.statusBar().currentMessage().startswith("Redid: Run shape (batch 1 → 4): ")
    QTest.keyClick(spin, Qt.Key.Key_Z, CTRL)
    QTest.keyClick(spin, Qt.Key.Key_Y, CTRL)                 # Ctrl+Y redoes too
    assert model.batch == 4 and model.undo_stack.index() == steps


def test_ctrl_z_in_a_line_edit_undoes_the_design_unless_it_holds_typed_text(window, qtbot):
    model = window.model
    before = model.spec
    delete_first_layer(window)
    edit = window.inspector.name_edit
    window.model.select_layers(())
    focus(qtbot, edit)
    QTest.keyClick(edit, Qt.Key.Key_Z, CTRL)
    assert model.spec == before
    assert window.statusBar().currentMessage().startswith(f"Undid: Delete {before.layers[0].id}: ")
    QTest.keyClick(edit, Qt.Key.Key_Z, CTRL | SHIFT)
    assert len(model.spec.layers) == len(before.layers) - 1
    # typed text not yet applied (the name applies on Enter): Ctrl+Z undoes the typing, not the design
    name = edit.text()
    QTest.keyClick(edit, Qt.Key.Key_End)
    QTest.keyClicks(edit, "xy")
    assert edit.text() == name + "xy"
    steps = model.undo_stack.index()
    QTest.keyClick(edit, Qt.Key.Key_Z, CTRL)
    assert edit.text() == name and model.undo_stack.index() == steps
    assert len(model.spec.layers) == len(before.layers) - 1


def test_ctrl_z_on_the_stack_and_in_a_table(window, qtbot):
    model = window.model
    before = model.spec
    delete_first_layer(window)
    focus(qtbot, window.stack_view)
    QTest.keyClick(window.stack_view, Qt.Key.Key_Z, CTRL)
    assert model.spec == before
    QTest.keyClick(window.stack_view, Qt.Key.Key_Z, CTRL | SHIFT)
    assert model.spec != before
    window.bottom_tabs.setCurrentWidget(window.insight.planner)
    table = window.insight.planner.table
    focus(qtbot, table)
    QTest.keyClick(table, Qt.Key.Key_Z, CTRL)
    assert model.spec == before
    assert window.statusBar().currentMessage().startswith("Undid: Delete")
