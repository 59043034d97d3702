"""Bundled presets are templates: opened by path, by name, from the Presets menu or as the
default design, they give an untitled design "based on" the preset; Save asks where, and no
path (Save, Save As, the CLI) ever writes a shipped file."""

import hashlib
from pathlib import Path

import pytest
from PySide6.QtCore import Qt

from explorer.bundled import presets_dir
from explorer.cli import main as cli
from explorer.errors import SpecError
from explorer.design import yaml_io

PRESETS = presets_dir()


def digest_of_presets() -> str:
    return hashlib.sha256(b"".join(p.read_bytes() for p in sorted(PRESETS.glob("*.yaml")))).hexdigest()


@pytest.fixture
def shipped_untouched():
    before = digest_of_presets()
    yield
    assert digest_of_presets() == before, "a bundled preset was written"


@pytest.fixture
def app_window(qtbot, tmp_path):
    """The window as `explorer [PRESET]` makes it, with dialogs answered by the test."""
    from explorer.gui.app import make_window

    def make(preset):
        window = make_window(preset)
        window.document.ask_save = lambda: "discard"
        window.document.autosave_file = tmp_path / "autosave.yaml"
        qtbot.addWidget(window)
        window.show()
        qtbot.waitExposed(window)
        window.activateWindow()
        qtbot.waitUntil(window.isActiveWindow)      # shortcuts reach only the active window
        return window

    return make


def edit_something(window, d_ff: int = 1024) -> None:
    window.model.select_layers((window.model.spec.layers[1].id,))
    assert window.inspector.set_field("d_ff", value=d_ff)


@pytest.mark.parametrize("how", ["path", "name", "default"])
def test_bundled_preset_opens_untitled_and_ctrl_s_asks_where(app_window, qtbot, tmp_path, shipped_untouched, how):
    preset = {"path": str(PRESETS / "bert-base.yaml"), "name": "bert-base", "default": None}[how]
    window = app_window(preset)
    doc = window.document
    assert doc.path is None and doc.based_on == "bert-base"
    assert "untitled (based on bert-base)" in window.windowTitle()
    edit_something(window)
    asked = []
    doc.ask_save_path = lambda: asked.append(1) or str(tmp_path / "mine.yaml")
    qtbot.keyClick(window, Qt.Key.Key_S, Qt.KeyboardModifier.ControlModifier)     # the real shortcut
    assert asked == [1]
    assert doc.path == tmp_path / "mine.yaml" and doc.based_on is None
    assert yaml_io.load(tmp_path / "mine.yaml").layers[1].d_ff == 1024
    assert window.windowTitle().startswith("mine.yaml")
    # a second Ctrl+S writes the user's file without asking
    edit_something(window, 2048)
    qtbot.keyClick(window, Qt.Key.Key_S, Qt.KeyboardModifier.ControlModifier)
    assert asked == [1] and yaml_io.load(tmp_path / "mine.yaml").layers[1].d_ff == 2048


def test_presets_menu_and_open_give_templates(make_window, shipped_untouched, tmp_path):
    window = make_window()
    action = next(a for a in window.presets_menu.actions() if a.data() == str(PRESETS / "albert-base.yaml"))
    action.trigger()
    assert window.document.path is None and window.document.based_on == "albert-base"
    assert window.document.open(PRESETS / "gqa.yaml")           # File > Open on a shipped file
    assert window.document.path is None and window.document.based_on == "gqa"
    mine = tmp_path / "gqa-copy.yaml"
    mine.write_bytes((PRESETS / "gqa.yaml").read_bytes())
    assert window.document.open(mine)                           # a user's file is the document
    assert window.document.path == mine and window.document.based_on is None


def test_save_as_onto_a_bundled_preset_is_refused(make_window, shipped_untouched):
    window = make_window()
    edit_something(window)
    assert not window.document.save_as(PRESETS / "bert-base.yaml")
    assert "bundled preset" in window.statusBar().currentMessage()
    assert window.document.dirty


def test_no_writer_overwrites_a_bundled_preset(tmp_path, shipped_untouched, capsys):
    spec = yaml_io.load(PRESETS / "bert-base.yaml")
    with pytest.raises(SpecError) as err:
        yaml_io.save(spec, PRESETS / "bert-base.yaml")
    assert "bundled preset" in str(err.value) and "bert-base.yaml" in str(err.value)
    code = cli(["apply", str(PRESETS / "bert-base.yaml"), "albert", "-o", str(PRESETS / "bert-base.yaml")])
    lines = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(lines) == 1 and "bundled preset" in lines[0]
    # a preset's symlink or relative spelling is the same file
    link = tmp_path / "link.yaml"
    link.symlink_to(PRESETS / "albert-base.yaml")
    with pytest.raises(SpecError):
        yaml_io.save(spec, link)
    assert Path(PRESETS / "albert-base.yaml").is_file()
