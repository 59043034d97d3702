"""The window's panels as dock widgets (palette, groups, inspector, the bottom tabs) around the
stack: placed by default for the window's size, or where and as large as the user left them
(QMainWindow.saveState and the window's geometry, in the app's settings), and View > Reset layout.

The bottom tabs' pages scroll rather than shrink (ScrollingTabs): a page taller than the dock
shows a scroll bar, its plots keep their readable height (plot_size.py), and no page's minimum
decides the dock's height, so switching tabs never moves the stack or the Groups panel.
"""

from __future__ import annotations

from PySide6.QtCore import QByteArray, QEvent, QObject, Qt
from PySide6.QtWidgets import QDockWidget, QFrame, QMainWindow, QScrollArea, QTabWidget, QWidget

from explorer.gui.document import app_settings
from explorer.gui.focus_order import no_tab_traps
from explorer.gui.plot_size import keep_plots_readable

LAYOUT_VERSION = 1                   # bump when the docks change: an older saved state is then ignored
GEOMETRY_KEY, STATE_KEY = "window/geometry", "window/state"
LEFT, RIGHT, BOTTOM = (Qt.DockWidgetArea.LeftDockWidgetArea, Qt.DockWidgetArea.RightDockWidgetArea,
                       Qt.DockWidgetArea.BottomDockWidgetArea)
MIN_STACK_HEIGHT = 180               # px: two cards and a half, whatever the docks take
MIN_GROUPS_HEIGHT = 100              # px: the tree's header and three groups


def clear_saved_layout() -> None:
    """Forget the saved geometry and dock state (the next window opens with the defaults)."""
    settings = app_settings()
    settings.remove(GEOMETRY_KEY)
    settings.remove(STATE_KEY)
    settings.sync()


class ScrollingTabs(QTabWidget):
    """A QTabWidget whose pages sit in scroll areas. widget(), indexOf(), currentWidget() and
    setCurrentWidget() deal in the pages, as a plain QTabWidget's do."""

    def _wrap(self, page: QWidget) -> QScrollArea:
        keep_plots_readable(page)
        no_tab_traps(page)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        scroll.setFocusPolicy(Qt.FocusPolicy.NoFocus)        # Tab goes to the page's own widgets
        scroll.setWidget(page)
        return scroll

    def addTab(self, page: QWidget, title: str) -> int:  # noqa: N802 - Qt's name
        return super().addTab(self._wrap(page), title)

    def insertTab(self, index: int, page: QWidget, title: str) -> int:  # noqa: N802 - Qt's name
        return super().insertTab(index, self._wrap(page), title)

    def removeTab(self, index: int) -> None:  # noqa: N802 - Qt's name
        scroll = super().widget(index)
        super().removeTab(index)
        if isinstance(scroll, QScrollArea):
            page = scroll.takeWidget()               # the caller owns the page, as with a QTabWidget
            if page is not None:
                page.setParent(None)
            scroll.deleteLater()

    def widget(self, index: int) -> QWidget | None:
        scroll = super().widget(index)
        return scroll.widget() if isinstance(scroll, QScrollArea) else scroll

    def currentWidget(self) -> QWidget | None:  # noqa: N802 - Qt's name
        return self.widget(self.currentIndex())

    def indexOf(self, page: QWidget) -> int:  # noqa: N802 - Qt's name
        return next((i for i in range(self.count()) if self.widget(i) is page), -1)

    def setCurrentWidget(self, page: QWidget) -> None:  # noqa: N802 - Qt's name
        index = self.indexOf(page)
        if index >= 0:
            self.setCurrentIndex(index)

    def scroll_area(self, index: int) -> QScrollArea | None:
        scroll = super().widget(index)
        return scroll if isinstance(scroll, QScrollArea) else None


def default_sizes(width: int, height: int) -> dict[str, int]:
    """Pixel sizes of the docks by default for a `width` x `height` window: the bottom tabs take
    under 40% of the height, the right column (groups over inspector) about a quarter of the width."""
    bottom = int(min(max(0.36 * height, 250), 420))
    right_column = max(height - 60 - bottom, 2 * MIN_GROUPS_HEIGHT)
    return {"palette": int(min(max(0.17 * width, 220), 270)),
            "right": int(min(max(0.24 * width, 300), 420)),
            "bottom": bottom,
            "groups": int(max(0.45 * right_column, MIN_GROUPS_HEIGHT + 70))}


class DockLayout(QObject):
    """The docks of `window` and their layout: defaults, save, restore, reset. `panels` maps a
    dock's name to its title and widget, in Tab order; "central" is the window's central widget."""

    def __init__(self, window: QMainWindow, panels: dict[str, tuple[str, QWidget]]) -> None:
        super().__init__(window)
        self.window = window
        self.docks: dict[str, QDockWidget] = {}
        for name, (title, widget) in panels.items():
            if name == "central":                 # the window's middle, in its place in the focus chain
                window.setCentralWidget(widget)
                continue
            dock = QDockWidget(title, window)
            dock.setObjectName(f"dock-{name}")               # saveState names docks by objectName
            dock.setFeatures(QDockWidget.DockWidgetFeature.DockWidgetMovable
                             | QDockWidget.DockWidgetFeature.DockWidgetFloatable
                             | QDockWidget.DockWidgetFeature.DockWidgetClosable)
            dock.setWidget(widget)
            self.docks[name] = dock
        # the bottom tabs span the window's width (the Train tab's options need it at 1280 px)
        window.setCorner(Qt.Corner.BottomLeftCorner, BOTTOM)
        window.setCorner(Qt.Corner.BottomRightCorner, BOTTOM)
        window.setDockNestingEnabled(True)
        groups = self.docks["groups"].widget()
        getattr(groups, "tree", groups).setMinimumHeight(MIN_GROUPS_HEIGHT)
        self.restored = False            # whether restore() found a saved layout
        self._sized = False              # whether the default sizes were applied once shown
        self.place()
        window.installEventFilter(self)

    # ------------------------------------------------------------------ defaults

    def place(self) -> None:
        """Every dock docked and shown in its default area: palette left, groups over inspector
        right, the bottom tabs below."""
        window = self.window
        for dock in self.docks.values():
            dock.setFloating(False)
            window.removeDockWidget(dock)
        window.addDockWidget(LEFT, self.docks["palette"])
        window.addDockWidget(RIGHT, self.docks["groups"])
        window.splitDockWidget(self.docks["groups"], self.docks["inspector"], Qt.Orientation.Vertical)
        window.addDockWidget(BOTTOM, self.docks["bottom"])
        for dock in self.docks.values():
            dock.show()

    def apply_default_sizes(self) -> None:
        sizes = default_sizes(self.window.width(), self.window.height())
        d = self.docks
        self.window.resizeDocks([d["palette"], d["groups"]], [sizes["palette"], sizes["right"]],
                                Qt.Orientation.Horizontal)
        self.window.resizeDocks([d["bottom"]], [sizes["bottom"]], Qt.Orientation.Vertical)
        self.window.layout().activate()              # the right column as the bottom dock leaves it
        self._split_right_column(sizes["groups"])
        self.window.layout().activate()

    def _split_right_column(self, groups: int) -> None:
        """Groups `groups` px tall over the inspector, in the right column as the bottom dock left it
        (both docks named, so the split is exact whatever it was before)."""
        d = self.docks
        column = d["groups"].height() + d["inspector"].height()
        self.window.resizeDocks([d["groups"], d["inspector"]], [groups, max(column - groups, 1)],
                                Qt.Orientation.Vertical)

    def reset(self) -> None:
        """View > Reset layout: the default places and sizes for the window's present size."""
        self.place()
        self._sized = True
        self.window.layout().activate()              # sizes set before the re-added docks are laid out land off
        self.apply_default_sizes()

    def eventFilter(self, watched, event) -> bool:  # noqa: N802 - Qt's name
        """The default sizes follow the window's size when it is first shown (not its size
        when the docks were made), unless a saved layout was restored."""
        if watched is self.window and event.type() == QEvent.Type.Show and not self._sized:
            self._sized = True
            if not self.restored:
                self.window.layout().activate()          # the docks at the window's size first
                self.apply_default_sizes()
        return False

    # ------------------------------------------------------------------ settings

    def save(self) -> None:
        settings = app_settings()
        settings.setValue(GEOMETRY_KEY, self.window.saveGeometry())
        settings.setValue(STATE_KEY, self.window.saveState(LAYOUT_VERSION))
        settings.sync()

    def restore(self) -> bool:
        """The saved geometry and dock layout, if any (and of this LAYOUT_VERSION)."""
        settings = app_settings()
        geometry, state = settings.value(GEOMETRY_KEY), settings.value(STATE_KEY)
        restored = False
        if isinstance(geometry, QByteArray) and not geometry.isEmpty():
            restored = self.window.restoreGeometry(geometry)
        if isinstance(state, QByteArray) and not state.isEmpty():
            restored = self.window.restoreState(state, LAYOUT_VERSION) and restored
        self.restored = restored
        return restored
