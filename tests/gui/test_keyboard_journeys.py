"""Without the mouse: Ctrl+1 gives the stack the keyboard, arrows move its current card,
Shift+arrows extend the selection, Space selects, the menu key (or Shift+F10) opens the card's
menu and Enter on "Share block with > layer" shares; Tab walks the panels in order, palette ->
stack -> groups -> inspector -> bottom tabs, and no widget keeps it. Key events only."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt, QTimer
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QMenu

from explorer.design.edits import builtin_design
from explorer.design.model import Member

CTRL, SHIFT = Qt.KeyboardModifier.ControlModifier, Qt.KeyboardModifier.ShiftModifier
PANELS = ("palette", "stack", "groups", "inspector", "bottom")


@pytest.fixture
def window(make_window, qtbot):
    window = make_window(builtin_design(4), size=(1280, 720))
    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow)
    return window


def press(qtbot, key, modifiers=Qt.KeyboardModifier.NoModifier) -> None:
    """A key on whatever has the focus (as a person's keyboard sends it)."""
    QTest.keyClick(QApplication.focusWidget(), key, modifiers)
    qtbot.wait(5)


def panel_of(window, widget) -> str | None:
    for name, panel in zip(PANELS, (window.palette_panel, window.tabs, window.groups_panel, window.inspector,
                                    window.bottom_tabs)):
        if widget is panel or panel.isAncestorOf(widget):
            return name
    return None


def drive_menu(qtbot, steps: list) -> list[str]:
    """While a context menu's exec() runs: for each step (key, text or None), press `key` on the
    popup until its active action reads `text` (or once, for None). Returns the menus' titles seen."""
    seen: list[str] = []

    def step(i: int = 0) -> None:
        popup = QApplication.activePopupWidget()
        if not isinstance(popup, QMenu):
            QTimer.singleShot(20, lambda: step(i))
            return
        seen.append(popup.title() or popup.actions()[0].text())
        key, text = steps[i]
        for _ in range(30):
            QTest.keyClick(popup, key)
            if text is None or (popup.activeAction() is not None and popup.activeAction().text() == text):
                break
        if i + 1 < len(steps):
            QTimer.singleShot(20, lambda: step(i + 1))

    QTimer.singleShot(50, step)
    return seen


def test_share_two_layers_with_the_keyboard_only(window, qtbot):
    press(qtbot, Qt.Key.Key_1, CTRL)                          # View > Stack
    view = window.stack_view
    assert QApplication.focusWidget() is view
    assert view.current == "embedding"                       # nothing selected: the bottom card
    press(qtbot, Qt.Key.Key_Up)
    assert view.current == "block0" and window.model.selected_layers == ("block0",)
    press(qtbot, Qt.Key.Key_Up, SHIFT)
    press(qtbot, Qt.Key.Key_Up, SHIFT)
    assert window.model.selected_layers == ("block0", "block1", "block2")
    press(qtbot, Qt.Key.Key_Down)                           # a plain arrow selects one card again
    assert view.current == "block1" and window.model.selected_layers == ("block1",)
    press(qtbot, Qt.Key.Key_Up, CTRL)                       # Ctrl moves the card only ...
    press(qtbot, Qt.Key.Key_Up, CTRL)
    assert view.current == "block3" and window.model.selected_layers == ("block1",)
    press(qtbot, Qt.Key.Key_Space)                          # ... and Space adds it
    assert window.model.selected_layers == ("block1", "block3")
    press(qtbot, Qt.Key.Key_Space, CTRL)                    # Ctrl+Space takes it out again
    assert window.model.selected_layers == ("block1",)
    press(qtbot, Qt.Key.Key_Down, CTRL)
    press(qtbot, Qt.Key.Key_Down, CTRL)
    press(qtbot, Qt.Key.Key_Space)
    assert view.current == "block1"
    seen = drive_menu(qtbot, [(Qt.Key.Key_Down, "Share block with"), (Qt.Key.Key_Right, None),
                              (Qt.Key.Key_Down, "block2"), (Qt.Key.Key_Return, None)])
    press(qtbot, Qt.Key.Key_Menu)                            # returns when Enter has chosen
    qtbot.waitUntil(lambda: bool(window.model.spec.groups))
    assert seen[0] == "block1:block"
    (group,) = window.model.spec.groups
    assert set(group.members) == {Member("block1", "block"), Member("block2", "block")}
    assert QApplication.focusWidget() is view                # back where the keyboard was


def test_shift_f10_opens_the_current_cards_menu(window, qtbot):
    press(qtbot, Qt.Key.Key_1, CTRL)
    press(qtbot, Qt.Key.Key_Up)
    press(qtbot, Qt.Key.Key_Up)
    seen = drive_menu(qtbot, [(Qt.Key.Key_Escape, None)])
    press(qtbot, Qt.Key.Key_F10, SHIFT)
    qtbot.waitUntil(lambda: bool(seen))
    assert seen == ["block1:block"]


def walk(window, qtbot, key_modifiers, presses: int) -> list[str | None]:
    """The panel of the focused widget after each Tab (or Shift+Tab)."""
    panels = []
    for _ in range(presses):
        QTest.keyClick(QApplication.focusWidget(), Qt.Key.Key_Tab, key_modifiers)
        panels.append(panel_of(window, QApplication.focusWidget()))
    return panels


def runs(panels: list) -> list:
    """Consecutive repeats collapsed: the order in which the panels were visited."""
    return [p for i, p in enumerate(panels) if i == 0 or p != panels[i - 1]]


@pytest.mark.parametrize("bottom_tab", ["Metrics", "Training memory", "Sweeps", "Train"])
def test_tab_walks_the_panels_in_order_and_nothing_keeps_it(window, qtbot, bottom_tab):
    tabs = window.bottom_tabs
    tabs.setCurrentIndex(next(i for i in range(tabs.count()) if tabs.tabText(i) == bottom_tab))
    qtbot.wait(20)
    press(qtbot, Qt.Key.Key_1, CTRL)
    assert QApplication.focusWidget() is window.stack_view
    panels = walk(window, qtbot, Qt.KeyboardModifier.NoModifier, 400)
    order = runs(["stack"] + panels)
    # twice round the ring: each panel in turn, then the stack again (a trap would stop the walk)
    assert order[:11] == ["stack", "groups", "inspector", "bottom", "palette"] * 2 + ["stack"], order[:12]
    press(qtbot, Qt.Key.Key_1, CTRL)
    backwards = runs(["stack"] + walk(window, qtbot, SHIFT, 60))
    assert backwards[:3] == ["stack", "palette", "bottom"], backwards[:4]
