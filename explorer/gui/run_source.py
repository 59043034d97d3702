"""Which design a run on show came from, once another design has been opened.

The Train and Timing tabs keep their last runs when a file is opened (the user may want to
compare), so what they show is labelled "from my.yaml" until the next run starts. The readouts
are these widgets: whatever text a view sets on them keeps the label in front of it.
"""

from __future__ import annotations

from PySide6.QtWidgets import QLabel, QPlainTextEdit


def from_line(source: str) -> str:
    return f"from {source} (another design is open now)"


class SourcedLabel(QLabel):
    """A QLabel whose text starts with where it came from, when `source` is set."""

    source = ""

    def setText(self, text: str) -> None:  # noqa: N802 - Qt's name
        self._text = text
        super().setText(f"{from_line(self.source)}\n{text}" if self.source and text else text)

    def set_source(self, source: str) -> None:
        self.source = source
        self.setText(getattr(self, "_text", ""))


class SourcedText(QPlainTextEdit):
    """A read-only QPlainTextEdit whose text starts with where it came from, when `source` is set."""

    source = ""

    def setPlainText(self, text: str) -> None:  # noqa: N802 - Qt's name
        self._text = text
        super().setPlainText(f"{from_line(self.source)}\n{text}" if self.source and text else text)

    def clear(self) -> None:
        self._text = ""
        super().clear()

    def set_source(self, source: str) -> None:
        self.source = source
        self.setPlainText(getattr(self, "_text", ""))
