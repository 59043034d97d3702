"""The main journeys as a user makes them, with real mouse clicks and key presses on the
window (shortcuts included), and a watchdog on the event loop reporting the longest stall.
Drags are in test_real_drags.py (they need a drag loop: Xvfb)."""

import pytest
from PySide6.QtCore import QPointF, Qt
from PySide6.QtWidgets import QLineEdit

from explorer.design import yaml_io
from explorer.design.model import Member
from real_events import StallWatch, click, key, scene_to_window, to_window

CTRL, SHIFT = Qt.KeyboardModifier.ControlModifier, Qt.KeyboardModifier.ShiftModifier


@pytest.fixture
def active_window(make_window, qtbot):
    def make(*args, **kwargs):
        window = make_window(*args, **kwargs)
        window.activateWindow()
        qtbot.waitUntil(window.isActiveWindow)
        return window
    return make



def card_point(window, layer_id: str):
    view = window.stack_view
    card = view.cards[window.model.spec.layer_index(layer_id)]
    return scene_to_window(window, view, card.mapToScene(QPointF(30, 12)))


def scheme_button(window, name: str):
    button = window.palette_panel.buttons[name]
    scroll = button.parentWidget()
    while scroll is not None and not hasattr(scroll, "ensureWidgetVisible"):
        scroll = scroll.parentWidget()
    if scroll is not None:
        scroll.ensureWidgetVisible(button)
    return button


def test_bert_to_albert_undo_redo_by_mouse_and_keys(active_window, qtbot, capsys):
    from explorer.presets import PRESETS_DIR

    window = active_window(yaml_io.load(PRESETS_DIR / "bert-base.yaml"))
    model = window.model
    unshared = model.report.params.unique
    with StallWatch() as watch:
        button = scheme_button(window, "albert")
        click(qtbot, window, to_window(window, button, button.rect().center()))
        assert [g.name for g in model.spec.groups] == ["albert-block"]
        assert model.report.params.unique < unshared / 3        # the embedding stays unshared
        assert "ALBERT" in window.statusBar().currentMessage()
        key(qtbot, window, Qt.Key.Key_Z, CTRL)                                   # undo
        assert model.spec.groups == () and model.report.params.unique == unshared
        key(qtbot, window, Qt.Key.Key_Z, CTRL | SHIFT)                           # redo
        assert [g.name for g in model.spec.groups] == ["albert-block"]
    with capsys.disabled():
        print(f"\n[stall] BERT->ALBERT, undo, redo: worst event-loop stall {watch.worst_ms:.0f} ms")


def test_select_by_clicks_share_the_selection_and_rename_by_keyboard(active_window, qtbot):
    from explorer.design.edits import builtin_design

    window = active_window(builtin_design(6))
    model = window.model
    click(qtbot, window, card_point(window, "block1"))
    click(qtbot, window, card_point(window, "block3"), modifiers=CTRL)
    assert model.selected_layers == ("block1", "block3")
    window.palette_panel.scope_selected.setChecked(True)
    button = scheme_button(window, "albert-ffn")
    click(qtbot, window, to_window(window, button, button.rect().center()))
    (group,) = model.spec.groups
    assert set(group.members) == {Member("block1", "ffn"), Member("block3", "ffn")}
    # F2 on the selected group renames it in place
    tree = window.groups_panel.tree
    click(qtbot, window, to_window(window, tree.viewport(), tree.item_point(group.name)))
    key(qtbot, window, Qt.Key.Key_F2)
    editor = tree.findChild(QLineEdit)
    assert editor is not None and editor.isVisible()
    editor.selectAll()
    qtbot.keyClicks(editor, "odd-ffn")
    key(qtbot, window, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: [g.name for g in model.spec.groups] == ["odd-ffn"])


def test_delete_duplicate_and_undo_all_by_keys(active_window, qtbot):
    from explorer.design.edits import builtin_design

    window = active_window(builtin_design(6))
    model = window.model
    start = model.spec
    click(qtbot, window, card_point(window, "block2"))
    window.stack_view.setFocus()
    key(qtbot, window, Qt.Key.Key_D, CTRL)
    assert len(model.spec.layers) == len(start.layers) + 1
    key(qtbot, window, Qt.Key.Key_Delete)
    key(qtbot, window, Qt.Key.Key_Delete)
    assert len(model.spec.layers) == len(start.layers) - 1
    for _ in range(3):
        key(qtbot, window, Qt.Key.Key_Z, CTRL)
    assert model.spec == start


def test_save_as_and_reopen_by_shortcuts(active_window, qtbot, tmp_path):
    from explorer.design.edits import builtin_design

    window = active_window(builtin_design(4))
    doc = window.document
    button = scheme_button(window, "cycle")
    click(qtbot, window, to_window(window, button, button.rect().center()))
    designed = window.model.spec
    doc.ask_save_path = lambda: str(tmp_path / "cycle-4")
    key(qtbot, window, Qt.Key.Key_S, CTRL | SHIFT)
    saved = tmp_path / "cycle-4.yaml"
    assert doc.path == saved and not doc.dirty
    key(qtbot, window, Qt.Key.Key_N, CTRL)                        # a new design
    assert window.model.spec != designed
    doc.ask_open_path = lambda: str(saved)
    key(qtbot, window, Qt.Key.Key_O, CTRL)
    assert doc.path == saved
    assert window.model.spec.groups == yaml_io.load(saved).groups and window.model.spec.layers == designed.layers
