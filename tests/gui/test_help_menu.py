"""Help menu: the user guide shipped with the package, the keyboard shortcuts read from the
window's own actions, About with versions (torch's read from its metadata, never imported);
and a broken design file opened from the window shows its one-line error in a box as well."""

import subprocess
import sys
from importlib import metadata
from pathlib import Path

import pytest
from PySide6.QtCore import Qt, qVersion
from PySide6.QtGui import QAction, QDesktopServices, QKeySequence
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QMessageBox, QTableWidget

import explorer
from explorer.design.edits import builtin_design
from real_events import key

CTRL = Qt.KeyboardModifier.ControlModifier
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def window(make_window, qtbot):
    window = make_window(builtin_design(2))
    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow)
    window.stack_view.setFocus()
    return window


def from_help_menu(qtbot, window, mnemonic):
    """Alt+H opens the Help menu; the item's underlined letter picks it (keys only)."""
    key(qtbot, window, Qt.Key.Key_H, Qt.KeyboardModifier.AltModifier)
    qtbot.waitUntil(lambda: QApplication.activePopupWidget() is not None)
    QTest.keyClick(QApplication.activePopupWidget(), mnemonic)
    qtbot.wait(20)


def test_f1_opens_the_shipped_user_guide(window, qtbot, monkeypatch):
    opened = []
    monkeypatch.setattr(QDesktopServices, "openUrl", staticmethod(lambda url: opened.append(url) or True))
    key(qtbot, window, Qt.Key.Key_F1)
    (url,) = opened
    assert url.isLocalFile()
    path = Path(url.toLocalFile())
    assert path.name == "user-guide.md" and path.is_file()
    assert path.read_text(encoding="utf-8").startswith("# Sharing Explorer user guide")
    assert str(path) in window.statusBar().currentMessage()
    from_help_menu(qtbot, window, Qt.Key.Key_U)                 # the menu item too
    assert len(opened) == 2 and opened[1] == url


def table_rows(dialog):
    table = dialog.findChild(QTableWidget)
    return [(table.item(r, 0).text(), table.item(r, 1).text()) for r in range(table.rowCount())]


def test_shortcuts_dialog_lists_the_windows_actions(window, qtbot):
    key(qtbot, window, Qt.Key.Key_Slash, CTRL)
    dialog = window.help_menu.shortcuts_dialog
    assert dialog is not None and dialog.isVisible()
    rows = table_rows(dialog)
    native = QKeySequence.SequenceFormat.NativeText
    assert (QKeySequence("Ctrl+Z").toString(native), "Edit › Undo") in rows
    assert (QKeySequence("Ctrl+Shift+Z").toString(native) + ", " + QKeySequence("Ctrl+Y").toString(native),
            "Edit › Redo") in rows
    assert (QKeySequence.keyBindings(QKeySequence.StandardKey.Save)[0].toString(native), "File › Save") in rows
    listed = {keys for keys, _ in rows}
    for action in window.findChildren(QAction):              # every action with keys is there
        if action.shortcuts():
            assert ", ".join(k.toString(native) for k in action.shortcuts()) in listed, action.text()
    QTest.keyClick(dialog, Qt.Key.Key_Escape)
    assert not dialog.isVisible()
    window.activateWindow()                                   # no window manager on Xvfb to do it
    qtbot.waitUntil(window.isActiveWindow)
    # read from the window each time it opens: a new action shows up
    extra = QAction("Frobnicate", window)
    extra.setShortcut(QKeySequence("Ctrl+Alt+F"))
    window.menuBar().actions()[1].menu().addAction(extra)
    key(qtbot, window, Qt.Key.Key_Slash, CTRL)
    assert dialog.isVisible()
    assert (QKeySequence("Ctrl+Alt+F").toString(native), "Edit › Frobnicate") in table_rows(dialog)


def test_about_names_the_versions(window, qtbot):
    from_help_menu(qtbot, window, Qt.Key.Key_A)
    box = window.help_menu.about_box
    qtbot.waitUntil(lambda: box is not None and box.isVisible())
    text = box.text()
    assert f"Sharing Explorer {explorer.__version__}" in text
    assert f"torch {metadata.version('torch')}" in text
    assert f"Qt {qVersion()}" in text
    box.close()


def test_about_reads_torchs_version_without_importing_it():
    done = subprocess.run([sys.executable, "-c", "import sys; from explorer.gui.help_menu import about_text; "
                           "text = about_text(); print('torch' in sys.modules); print(text)"],
                          cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    imported, text = done.stdout.split("\n", 1)
    assert imported == "False"
    assert f"torch {metadata.version('torch')}" in text


def test_a_broken_design_file_shows_its_error_in_a_box_and_the_status_bar(window, qtbot, tmp_path):
    bad = tmp_path / "broken.yaml"
    bad.write_text("format_version: 1\nstack: [{id: a, kind: blok}\n")       # unclosed bracket
    before = window.model.spec
    window.document.ask_open_path = lambda: str(bad)
    key(qtbot, window, Qt.Key.Key_O, CTRL)                                   # File > Open…
    line = window.statusBar().currentMessage()
    assert "broken.yaml" in line and "\n" not in line
    box = window.findChild(QMessageBox)
    qtbot.waitUntil(lambda: box is not None and box.isVisible())
    assert box.text() == line
    assert window.model.spec == before
    box.close()
