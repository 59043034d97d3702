"""Undo/redo round trips, files (save, reopen, recent, unsaved prompts, autosave and
recovery), bad input on one line, and the screenshot entry point."""

import sys

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QImage

from explorer.gui import app as gui_app
from explorer.design.edits import builtin_design
from explorer.presets import bundled_presets
from explorer.design import yaml_io


def test_undo_to_start_and_redo_forward(make_window, qtbot):
    window = make_window(builtin_design())
    model, view, tree = window.model, window.stack_view, window.groups_panel.tree
    history = [model.spec]

    def step(ok):
        assert ok
        history.append(model.spec)

    step(window.palette_panel.apply("cycle"))
    step(view.accept_drop(window.palette_panel.kinds.mimeData([window.palette_panel.kinds.item(1)]),
                          view.target_at(view.gap_point(2), window.palette_panel.kinds.mimeData(
                              [window.palette_panel.kinds.item(1)]))))
    payload = view.drag_payload("block3", None)
    step(view.accept_drop(payload, view.target_at(view.gap_point(9), payload)))
    model.select_layers(("block5", "block6"))
    step(tree.accept_drop(view.drag_payload("block5", "ffn"), None))
    step(window.groups_panel.rename(model.spec.groups[-1].name, "my-ffn"))
    step(window.groups_panel.recolor("my-ffn", QColor("#123456")))
    model.select_layers(("block9",))
    step(window.inspector.set_field("n_heads", value=8))
    assert window.inspector.set_field("n_heads", value=4)        # merges with the step before
    history[-1] = model.spec
    step(window.delete_selected())
    model.select_layers(("block1",))
    step(window.duplicate_selected())
    assert group(model, "my-ffn").color == "#123456"
    stack = model.undo_stack
    assert stack.count() == len(history) - 1
    assert window.undo_action.text().startswith("&Undo Duplicate block1")
    for expected in reversed(history[:-1]):
        stack.undo()
        assert model.spec == expected
    assert not stack.canUndo() and model.spec == history[0]
    for expected in history[1:]:
        stack.redo()
        assert model.spec == expected


def group(model, name):
    return next(g for g in model.spec.groups if g.name == name)


def test_keyboard_shortcuts(make_window, qtbot):
    window = make_window(builtin_design())
    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow, timeout=3000)
    window.stack_view.setFocus()
    model = window.model
    model.select_layers(("block4",))
    qtbot.keyClick(window.stack_view, Qt.Key.Key_D, Qt.KeyboardModifier.ControlModifier)
    assert [layer.id for layer in model.spec.layers][5:8] == ["block4", "block12", "block5"]
    assert model.selected_layers == ("block12",)
    qtbot.keyClick(window.stack_view, Qt.Key.Key_Delete)
    assert "block12" not in [layer.id for layer in model.spec.layers]
    qtbot.keyClick(window.stack_view, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert "block12" in [layer.id for layer in model.spec.layers]
    qtbot.keyClick(window.stack_view, Qt.Key.Key_Z,
                   Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier)
    assert "block12" not in [layer.id for layer in model.spec.layers]


def test_save_reopen_and_title(make_window, tmp_path):
    window = make_window(builtin_design())
    doc, model = window.document, window.model
    window.palette_panel.apply("albert-ffn")
    window.groups_panel.recolor("albert-ffn", QColor("#ff8800"))
    assert window.isWindowModified() and "[*]" in window.windowTitle()
    path = tmp_path / "design.yaml"
    assert doc.save_as(str(path))
    assert not window.isWindowModified() and window.windowTitle().startswith("design.yaml")
    assert yaml_io.load(path) == model.spec
    assert str(path.resolve()) == doc.recent()[0]
    assert any(a.text() == str(path.resolve()) for a in window.recent_menu.actions())
    other = make_window(builtin_design())
    assert other.document.open(str(path))
    assert other.model.spec == model.spec and not other.model.undo_stack.canUndo()
    assert other.windowTitle().startswith("design.yaml")


def test_unsaved_changes_prompt(make_window, tmp_path):
    window = make_window(builtin_design())
    doc, model = window.document, window.model
    window.palette_panel.apply("albert")
    edited = model.spec
    doc.ask_save = lambda: "cancel"
    assert not doc.new() and model.spec == edited
    assert not doc.open(str(tmp_path / "nothing.yaml")) and model.spec == edited
    saved_to = tmp_path / "kept.yaml"
    doc.ask_save = lambda: "save"
    doc.ask_save_path = lambda: str(saved_to)
    assert doc.new()
    # Save As named the design after its file (the user had not renamed it)
    assert yaml_io.load(saved_to) == edited.replace(name="kept") and model.spec.groups == ()
    window.palette_panel.apply("albert")
    doc.ask_save = lambda: "discard"
    assert doc.new() and model.spec.groups == ()


def test_open_errors_are_one_line(make_window, tmp_path):
    window = make_window(builtin_design())
    bad = tmp_path / "bad.yaml"
    bad.write_text("format_version: 1\nstack: [{id: a, kind: blok}]\n")
    before = window.model.spec
    assert not window.document.open(str(bad))
    message = window.statusBar().currentMessage()
    assert "bad.yaml" in message and "blok" in message and "\n" not in message
    assert window.model.spec == before


def test_autosave_and_recovery(make_window, qtbot):
    window = make_window(builtin_design())
    window.document._autosave_timer.setInterval(20)
    window.palette_panel.apply("cycle")
    saved = window.document.autosave_file
    qtbot.waitUntil(saved.is_file, timeout=3000)           # written by the autosave timer after the edit
    assert yaml_io.load(saved) == window.model.spec
    other = make_window(builtin_design())
    other.document.autosave_file = saved
    other.document.ask_recover = lambda path: True
    assert other.document.offer_recovery()
    assert other.model.spec == window.model.spec and other.isWindowModified()
    other.document.discard_autosave()
    assert not saved.exists()


def test_presets_menu_lists_bundled_presets(make_window):
    window = make_window(builtin_design())
    listed = {a.data() for a in window.presets_menu.actions() if a.data()}
    assert listed == {str(path) for path, _d in bundled_presets()}
    if listed:
        action = next(a for a in window.presets_menu.actions() if a.data())
        action.trigger()
        assert window.model.spec == yaml_io.load(action.data())
        assert window.document.path is None            # a preset opens as an untitled template


def test_bad_preset_path_opens_default_with_message(qtbot):
    window = gui_app.make_window("/no/such/preset.yaml")
    qtbot.addWidget(window)
    window.document.ask_save = lambda: "discard"
    message = window.statusBar().currentMessage()
    assert "/no/such/preset.yaml" in message and "instead" in message and "\n" not in message
    assert window.model.spec.layers


def test_excepthook_shows_one_line(make_window, monkeypatch):
    window = make_window(builtin_design())
    monkeypatch.setattr(sys, "excepthook", sys.excepthook)
    gui_app.install_excepthook(window)
    try:
        raise ValueError("boom\nsecond line")
    except ValueError:
        sys.excepthook(*sys.exc_info())
    assert window.statusBar().currentMessage() == "internal error ValueError: boom (see log)"


def test_run_writes_screenshot(tmp_path, qapp, monkeypatch):
    monkeypatch.setattr(sys, "excepthook", sys.excepthook)
    presets = [p for p, _d in bundled_presets()]
    out = tmp_path / "shot.png"
    assert gui_app.run(str(presets[0]) if presets else None, str(out)) == 0
    image = QImage(str(out))
    assert (image.width(), image.height()) == (1440, 900)
    assert len({image.pixel(x, y) for x in range(0, 1440, 37) for y in range(0, 900, 29)}) > 20
