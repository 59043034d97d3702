"""Help menu: the user guide (the docs shipped with the package), the window's keyboard shortcuts
(read from its actions, so the list is never out of date) and About (versions).

The dialogs open with `open()`, not `exec()`: they never block the event loop (or a test)."""

from __future__ import annotations

import platform
from importlib import metadata
from pathlib import Path

from PySide6 import __version__ as pyside_version
from PySide6.QtCore import Qt, QUrl, qVersion
from PySide6.QtGui import QAction, QDesktopServices, QKeySequence, QShortcut
from shiboken6 import isValid
from PySide6.QtWidgets import (QDialog, QDialogButtonBox, QHeaderView, QLabel, QMenu, QMessageBox, QTableWidget,
                               QTableWidgetItem, QVBoxLayout, QWidget)

import explorer
from explorer import bundled

USER_GUIDE = "user-guide.md"


def user_guide() -> Path | None:
    """The user guide shipped with the package (or the source checkout's docs/), None if missing."""
    root = bundled.folder("docs")
    path = root / USER_GUIDE if root is not None else None
    return path if path is not None and path.is_file() else None


def package_version(name: str) -> str:
    """An installed distribution's version, read from its metadata: nothing is imported (torch
    stays out of the window's process)."""
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "not installed"


def about_text() -> str:
    return (f"<b>Sharing Explorer {explorer.__version__}</b><br>"
            "Design cross-layer parameter sharing for Transformer-family models and measure it on the "
            "real PyTorch model.<br><br>"
            f"torch {package_version('torch')}<br>"
            f"Qt {qVersion()} (PySide6 {pyside_version})<br>"
            f"Python {platform.python_version()}")


def _menu_path(action: QAction) -> str:
    """'File › Save As…': where the action sits in the menu bar, its mnemonics removed."""
    names = [action.text()]
    for widget in action.associatedObjects():
        if isinstance(widget, QMenu):
            menu = widget
            while isinstance(menu, QMenu):
                names.insert(0, menu.title())
                parents = [w for w in menu.menuAction().associatedObjects() if isinstance(w, QMenu)]
                menu = parents[0] if parents else None
            break
    return " › ".join(n.replace("&&", "\0").replace("&", "").replace("\0", "&") for n in names if n)


def shortcuts(window: QWidget) -> list[tuple[str, str]]:
    """(keys, command) for every action and shortcut of the window that has keys, in menu order."""
    rows: list[tuple[str, str]] = []
    seen: set[tuple[str, str]] = set()

    def add(keys: list[QKeySequence], what: str) -> None:
        text = ", ".join(k.toString(QKeySequence.SequenceFormat.NativeText) for k in keys if not k.isEmpty())
        if text and what and (text, what) not in seen:
            seen.add((text, what))
            rows.append((text, what))

    def walk(menu: QMenu) -> None:
        for action in menu.actions():
            if action.menu() is not None:
                walk(action.menu())
            elif not action.isSeparator():
                add(action.shortcuts(), _menu_path(action))

    for top in window.menuBar().actions():
        if top.menu() is not None:
            walk(top.menu())
    for action in window.findChildren(QAction):
        if isValid(action):                     # not one a cleared menu has deleted
            add(action.shortcuts(), _menu_path(action))
    for shortcut in window.findChildren(QShortcut):
        if isValid(shortcut):
            add([shortcut.key()], shortcut.whatsThis() or shortcut.objectName())
    return rows


class HelpMenu:
    """The window's Help menu and its dialogs. `open_url` is QDesktopServices.openUrl (tests record it)."""

    def __init__(self, window) -> None:
        self.window = window
        self.shortcuts_dialog: QDialog | None = None
        self.about_box: QMessageBox | None = None
        menu = window.menuBar().addMenu("&Help")
        self.guide_action = window._action(menu, "&User guide", self.open_user_guide,
                                           QKeySequence.StandardKey.HelpContents,
                                           "Open the user guide shipped with the app")
        self.shortcuts_action = window._action(menu, "&Keyboard shortcuts…", self.show_shortcuts, "Ctrl+/",
                                               "Every key of the window's commands")
        menu.addSeparator()
        self.about_action = window._action(menu, "&About Sharing Explorer", self.show_about, None,
                                           "Version, and the torch and Qt it runs with")

    def open_user_guide(self) -> bool:
        path = user_guide()
        if path is None:
            self.window.show_message("the user guide is not installed with this copy (docs/user-guide.md)")
            return False
        url = QUrl.fromLocalFile(str(path))
        if not QDesktopServices.openUrl(url):
            self.window.show_message(f"no program opens {path}: read it there")
            return False
        self.window.show_message(f"Opened the user guide: {path}")
        return True

    def show_shortcuts(self) -> QDialog:
        if self.shortcuts_dialog is None:
            dialog = QDialog(self.window)
            dialog.setWindowTitle("Keyboard shortcuts")
            dialog.resize(560, 560)
            layout = QVBoxLayout(dialog)
            table = QTableWidget(0, 2)
            table.setHorizontalHeaderLabels(["Keys", "Command"])
            table.verticalHeader().hide()
            table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
            table.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
            table.horizontalHeader().setStretchLastSection(True)
            layout.addWidget(table)
            note = QLabel("Undo and redo work from every field too; a field holding typed text not yet "
                          "applied undoes its own typing first.")
            note.setWordWrap(True)
            layout.addWidget(note)
            buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
            buttons.rejected.connect(dialog.reject)
            layout.addWidget(buttons)
            self.shortcuts_dialog = dialog
        table = self.shortcuts_dialog.findChild(QTableWidget)
        rows = shortcuts(self.window)                   # read now: actions added since are listed
        table.setRowCount(len(rows))
        for row, (keys, what) in enumerate(rows):
            for col, text in enumerate((keys, what)):
                table.setItem(row, col, QTableWidgetItem(text))
        self.shortcuts_dialog.open()
        return self.shortcuts_dialog

    def show_about(self) -> QMessageBox:
        if self.about_box is None:
            box = QMessageBox(QMessageBox.Icon.Information, "About Sharing Explorer", "",
                              QMessageBox.StandardButton.Ok, self.window)
            box.setTextFormat(Qt.TextFormat.RichText)
            if not self.window.windowIcon().isNull():
                box.setIconPixmap(self.window.windowIcon().pixmap(64, 64))
            self.about_box = box
        self.about_box.setText(about_text())
        self.about_box.open()
        return self.about_box
