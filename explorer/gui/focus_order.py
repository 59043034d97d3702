"""No widget that keeps Tab to itself.

The order itself, palette -> stack (and graph) -> groups -> inspector -> bottom tabs, is the order
the panels join the window (window_layout.DockLayout): Qt's focus chain follows it, and widgets a
panel makes later (the inspector's fields for each selection, the Timing tab's panel) join the
chain inside their panel's part of it.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QAbstractItemView, QPlainTextEdit, QScrollArea, QTextEdit, QWidget


def no_tab_traps(root: QWidget) -> None:
    """Tab leaves every table, list and tree, and every read-only text, under `root`; a scroll
    area is no Tab stop of its own (the widgets in it are)."""
    views = root.findChildren(QAbstractItemView)
    if isinstance(root, QAbstractItemView):
        views.append(root)
    for view in views:
        view.setTabKeyNavigation(False)
    for text in root.findChildren(QPlainTextEdit) + root.findChildren(QTextEdit):
        if text.isReadOnly():
            text.setTabChangesFocus(True)
    for scroll in root.findChildren(QScrollArea):
        if type(scroll) is QScrollArea:
            scroll.setFocusPolicy(Qt.FocusPolicy.NoFocus)
