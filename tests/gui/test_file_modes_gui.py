"""The window's Save and Save As (Ctrl+S, Ctrl+Shift+S) write a new design file with the umask's mode
(0644 under 022) and keep an existing file's mode (0640 stays 0640)."""

from __future__ import annotations

import os
import stat

from PySide6.QtCore import Qt
from PySide6.QtTest import QTest

from explorer.design import yaml_io
from explorer.design.edits import builtin_design


def file_mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_save_and_save_as_keep_modes(make_window, qtbot, tmp_path, umask_022):
    existing = tmp_path / "mine.yaml"
    yaml_io.save(builtin_design(2), existing)
    os.chmod(existing, 0o640)
    window = make_window(yaml_io.load(existing), str(existing))
    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow)
    QTest.keyClick(window, Qt.Key.Key_S, Qt.KeyboardModifier.ControlModifier)          # Save
    qtbot.waitUntil(lambda: "Saved" in window.statusBar().currentMessage())
    assert file_mode(existing) == 0o640
    new = tmp_path / "copy.yaml"
    window.document.ask_save_path = lambda: str(new)
    QTest.keyClick(window, Qt.Key.Key_S, Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier)
    qtbot.waitUntil(new.exists)
    assert file_mode(new) == 0o644 and yaml_io.load(new).layers == yaml_io.load(existing).layers
