"""Save As's file dialog: it refuses a bundled preset itself, before any "replace it?" question.

Qt's own dialog asks "replace it?" for any existing file, a shipped preset included, and
only after a yes could the app say that presets are never overwritten. This one checks the
chosen path when Save is pressed: a bundled file gets the reason and the dialog stays open
for another name; an existing file of the user's gets the replace question; anything else
is accepted. (Qt's dialog, not the platform's: a native one never calls `accept`.)
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import QFileDialog, QMessageBox, QWidget

from explorer.bundled import is_bundled

SUFFIXES = (".yaml", ".yml")


def design_path(text: str | Path) -> Path:
    """The file a design is saved to: the name as given, with .yaml unless it ends in .yaml or .yml."""
    path = Path(text)
    return path if path.suffix in SUFFIXES else path.with_suffix(".yaml")


def bundled_refusal(path: Path) -> str:
    return (f"{path.name} is a bundled preset, which is never overwritten: choose another name or folder "
            "(the design stays based on it)")


class SaveDesignDialog(QFileDialog):
    """Choose where to save a design; a bundled preset is refused here, the dialog staying open."""

    def __init__(self, parent: QWidget | None, suggested: str) -> None:
        super().__init__(parent, "Save design as", suggested, "Designs (*.yaml *.yml)")
        self.setAcceptMode(QFileDialog.AcceptMode.AcceptSave)
        self.setFileMode(QFileDialog.FileMode.AnyFile)
        self.setOption(QFileDialog.Option.DontUseNativeDialog, True)
        self.setOption(QFileDialog.Option.DontConfirmOverwrite, True)     # asked in accept, after the preset check
        self.setDefaultSuffix("yaml")
        self.chosen: Path | None = None

    def accept(self) -> None:
        files = self.selectedFiles()
        if not files or Path(files[0]).is_dir():
            super().accept()                  # Qt's: open the folder typed, or nothing chosen yet
            return
        path = design_path(files[0])
        if is_bundled(path):
            QMessageBox.warning(self, "Cannot save over a preset", bundled_refusal(path))
            return                            # stays open: choose another name
        if path.exists():
            answer = QMessageBox.question(self, "Replace the file?", f"{path.name} exists already. Replace it?")
            if answer != QMessageBox.StandardButton.Yes:
                return
        self.chosen = path
        super().accept()


def ask_save_path(parent: QWidget | None, suggested: str) -> str | None:
    """The path the user chose (never a bundled preset), or None when cancelled."""
    dialog = SaveDesignDialog(parent, suggested)
    if dialog.exec() != QFileDialog.DialogCode.Accepted or dialog.chosen is None:
        return None
    return str(dialog.chosen)
