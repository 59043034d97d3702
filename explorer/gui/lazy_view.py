"""A tab that follows the design but recomputes only while it is shown."""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QWidget


class LazyView(QWidget):
    """set_spec() on a hidden tab only keeps the design; showing the tab refreshes it, so an
    edit costs nothing for tabs nobody is looking at. Subclasses implement refresh()."""

    message = Signal(str)            # one line for the status bar

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._spec = None

    def set_spec(self, spec) -> None:
        self._spec = spec
        if self.isVisible():
            self.refresh()

    def showEvent(self, event) -> None:  # noqa: N802 - Qt override
        super().showEvent(event)
        self.refresh()

    def refresh(self) -> None:
        raise NotImplementedError
