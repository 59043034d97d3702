"""Real input for GUI tests: mouse and keyboard events on the window's handle, and drags
that run Qt's own drag loop (a real QDrag started by the view), not calls to handlers.

While `QDrag.exec` runs its nested event loop, the test's own code cannot run, so every
move and the release are fed from single-shot timers, each scheduling the next before it
acts (a timer never fires while its own callback is still on the stack).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from PySide6.QtCore import QPoint, QPointF, Qt, QTimer
from PySide6.QtGui import QGuiApplication
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QWidget

STEP_MS = 15


def has_drag_loop() -> bool:
    """The offscreen platform's drag is a stub (QOffscreenDrag::drag returns IgnoreAction at
    once), so real drags run on xcb (Xvfb) and other platforms with a drag loop."""
    return QGuiApplication.platformName() != "offscreen"


def to_window(window: QWidget, widget: QWidget, point: QPoint | QPointF) -> QPoint:
    """A point in `widget` (a view's viewport, say) in the top-level window's coordinates."""
    return widget.mapTo(window, QPoint(round(point.x()), round(point.y())))


def scene_to_window(window: QWidget, view, scene_point: QPointF) -> QPoint:
    """A QGraphicsView's scene point, scrolled into sight, in window coordinates."""
    view.ensureVisible(scene_point.x() - 1, scene_point.y() - 1, 2, 2, 4, 4)
    QApplication.processEvents()
    return to_window(window, view.viewport(), view.mapFromScene(scene_point))


def line(a: QPoint, b: QPoint, steps: int = 8) -> list[QPoint]:
    return [a + (b - a) * (i / steps) for i in range(1, steps + 1)]


@dataclass
class DragRecord:
    """What happened during one drag: the status messages shown, and whether it ended."""

    messages: list[str] = field(default_factory=list)
    done: bool = False
    seen_by_hover: list = field(default_factory=list)   # values of `probe` sampled while hovering


def real_drag(qtbot, window, start: QPoint, waypoints: list[QPoint], *, end: QPoint | None = None,
              modifiers=Qt.KeyboardModifier.NoModifier, probe=None, timeout_ms: int = 10000) -> DragRecord:
    """Press at `start` (window coordinates), move past the drag distance so the view starts
    its QDrag, pass through each waypoint (several moves between them), hold still at the
    last one, and release there (or at `end`) with `modifiers` held (QTest's moves carry no
    modifiers; the release does, and the drop reads them). Returns what the status bar said.

    `probe`, when given, is called at each waypoint (while the drag loop runs) and its
    values are kept, so a test can check the hover feedback of the target under the cursor.
    """
    handle = window.windowHandle()
    record = DragRecord()
    window.statusBar().messageChanged.connect(lambda text: text and record.messages.append(text))
    distance = QApplication.startDragDistance() + 4
    moves: list[tuple[QPoint, bool]] = [(start + QPoint(d, 0), False) for d in (2, distance // 2, distance)]
    here = start + QPoint(distance, 0)
    for point in waypoints:
        moves += [(p, False) for p in line(here, point, 6)]
        moves += [(point + QPoint(1, 0), False), (point, True)]      # hold still: the view settles on it
        here = point
    release_at = end or here
    steps = [lambda p=p, sample=sample: _move(handle, p, probe if sample else None, record)
             for p, sample in moves]
    steps.append(lambda: QTest.mouseRelease(handle, Qt.MouseButton.LeftButton, modifiers, release_at))
    steps.append(lambda: setattr(record, "done", True))

    def run(index: int = 0) -> None:
        if index < len(steps):
            QTimer.singleShot(STEP_MS, lambda: run(index + 1))      # scheduled first: the drag loop may block
            steps[index]()

    QTest.mouseMove(handle, start)
    QTest.mousePress(handle, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, start)
    QTimer.singleShot(STEP_MS, run)
    qtbot.waitUntil(lambda: record.done, timeout=timeout_ms)
    qtbot.wait(20)
    return record


def _move(handle, point: QPoint, probe, record: DragRecord, settle_ms: int = 300) -> None:
    QTest.mouseMove(handle, point)
    if probe is not None:
        QApplication.processEvents()
        value, waited = probe(), 0
        while value is None and waited < settle_ms:   # a loaded machine delivers the drag move later
            QTest.qWait(10)
            waited += 10
            value = probe()
        record.seen_by_hover.append(value)


def click(qtbot, window, point: QPoint, button=Qt.MouseButton.LeftButton,
          modifiers=Qt.KeyboardModifier.NoModifier, double: bool = False) -> None:
    """A real click (or double-click) at a window point."""
    handle = window.windowHandle()
    QTest.mouseMove(handle, point)
    if double:
        QTest.mouseDClick(handle, button, modifiers, point)
    else:
        QTest.mouseClick(handle, button, modifiers, point)
    qtbot.wait(10)


class StallWatch:
    """A 10 ms timer on the GUI thread: the longest gap between its ticks is the longest the
    event loop was blocked (a freeze a user would feel). Use as a context manager."""

    def __init__(self, interval_ms: int = 10) -> None:
        from time import perf_counter

        self._clock = perf_counter
        self._timer = QTimer()
        self._timer.setInterval(interval_ms)
        self._timer.timeout.connect(self._tick)
        self._last = 0.0
        self.worst_ms = 0.0

    def _tick(self) -> None:
        now = self._clock()
        self.worst_ms = max(self.worst_ms, (now - self._last) * 1000.0)
        self._last = now

    def __enter__(self) -> "StallWatch":
        self._last = self._clock()
        self._timer.start()
        return self

    def __exit__(self, *_exc) -> None:
        self._timer.stop()
        self._tick()


def key(qtbot, window, key_code, modifiers=Qt.KeyboardModifier.NoModifier) -> None:
    """A real key press on the focused widget of the window (shortcuts included)."""
    QTest.keyClick(window.windowHandle(), key_code, modifiers)
    qtbot.wait(10)
