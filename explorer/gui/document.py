"""The open document: file path, New/Open/Save/Save As, recent files, unsaved-changes
prompts, the window title, and autosave with crash recovery.

Dialogs are attributes (`ask_save`, `ask_open_path`, `ask_save_path`, `ask_recover`) so
tests replace them with plain functions.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QObject, QSettings, QStandardPaths, QTimer, Signal
from PySide6.QtWidgets import QFileDialog, QMessageBox, QWidget

from explorer import fmt
from explorer.bundled import is_bundled
from explorer.errors import ExplorerError
from explorer.gui import commands
from explorer.gui.design_model import DesignModel
from explorer.design.edits import builtin_design
from explorer.design import yaml_io
from explorer.design.model import StackSpec

log = logging.getLogger(__name__)
MAX_RECENT = 10
AUTOSAVE_DELAY_MS = 1500


def app_settings() -> QSettings:
    return QSettings(QSettings.Format.IniFormat, QSettings.Scope.UserScope, "sharing-explorer", "explorer")


def autosave_path() -> Path:
    folder = Path(QStandardPaths.writableLocation(QStandardPaths.StandardLocation.AppDataLocation)
                  or Path.home() / ".sharing-explorer")
    return folder / "autosave.yaml"


class Document(QObject):
    recent_changed = Signal()
    replaced = Signal(str)        # another design replaced the document: the name the old one had ("my.yaml")

    def __init__(self, model: DesignModel, window: QWidget) -> None:
        super().__init__(window)
        self.model = model
        self.window = window
        self.path: Path | None = None
        self.based_on: str | None = None        # the bundled preset an untitled design started from
        self.ask_save: Callable[[], str] = self._ask_save_dialog            # 'save' | 'discard' | 'cancel'
        self.ask_open_path: Callable[[], str | None] = self._open_dialog
        self.ask_save_path: Callable[[], str | None] = self._save_dialog
        self.ask_recover: Callable[[Path], bool] = self._recover_dialog
        self.show_error: Callable[[str, str], QMessageBox] = self._error_box         # (title, one line)
        self.error_box: QMessageBox | None = None
        self.autosave_file = autosave_path()
        self._autosave_timer = QTimer(self)
        self._autosave_timer.setSingleShot(True)
        self._autosave_timer.setInterval(AUTOSAVE_DELAY_MS)
        self._autosave_timer.timeout.connect(self.autosave)
        model.undo_stack.cleanChanged.connect(self.update_title)
        # indexChanged, not model.changed: during a push the stack is not yet dirty
        model.undo_stack.indexChanged.connect(self.on_undo_stack_index_changed)
        self.update_title()

    # ------------------------------------------------------------------ state

    @property
    def dirty(self) -> bool:
        return not self.model.undo_stack.isClean()

    def set_file(self, path: str | Path | None, template: bool = False) -> None:
        """The file Save writes to. A bundled preset (or any file opened as a template) is a
        template: the design stays untitled, "based on" it, and Save asks where to save."""
        if path is not None and (template or is_bundled(path)):
            self.path, self.based_on = None, Path(path).stem
        else:
            self.path, self.based_on = (Path(path) if path is not None else None), None
        self.update_title()

    @property
    def display_name(self) -> str:
        if self.path:
            return self.path.name
        if self.based_on:
            return f"untitled (based on {self.based_on})"
        return self.model.spec.name

    def update_title(self, *_args) -> None:
        name = self.display_name
        try:
            self.window.setWindowTitle(f"{name}[*] — Sharing Explorer")
            self.window.setWindowModified(self.dirty)
        except RuntimeError:        # the window is being destroyed
            pass

    def on_undo_stack_index_changed(self, _index: int = 0) -> None:
        try:
            self.update_title()
            if self.dirty:
                self._autosave_timer.start()
        except RuntimeError:        # the undo stack is being destroyed with the window
            pass

    def maybe_save(self) -> bool:
        """True when it is fine to drop the current design (saved, discarded, or clean)."""
        if not self.dirty:
            return True
        answer = self.ask_save()
        if answer == "save":
            return self.save()
        return answer == "discard"

    # ------------------------------------------------------------------ actions

    def new(self, spec: StackSpec | None = None) -> bool:
        if not self.maybe_save():
            return False
        previous = self.display_name
        self.model.reset(spec or builtin_design())
        self.set_file(None)
        self.replaced.emit(previous)
        return True

    def open(self, path: str | Path | None = None, as_template: bool = False) -> bool:
        """Open a design file; a bundled preset (or `as_template`) opens as an untitled
        design based on it. Errors go to the status bar."""
        if not self.maybe_save():
            return False
        path = path or self.ask_open_path()
        if not path:
            return False
        try:
            spec = yaml_io.load(path)
        except ExplorerError as err:
            self.model.message.emit(str(err))
            self.show_error("Cannot open the design", str(err))
            return False
        previous = self.display_name
        self.model.reset(spec)
        self.set_file(path, template=as_template)
        self.replaced.emit(previous)
        if self.path is not None:
            self.add_recent(str(self.path.resolve()))
        what = f"preset {self.based_on}, as an untitled design" if self.based_on else Path(path).name
        self.model.message.emit(f"Opened {what}: {fmt.plural(len(spec.layers), 'layer')}, "
                                f"{fmt.plural(len(spec.groups), 'group')}")
        return True

    def save(self) -> bool:
        if self.path is None or is_bundled(self.path):
            return self.save_as()
        return self._write(self.path)

    def save_as(self, path: str | Path | None = None) -> bool:
        path = path or self.ask_save_path()
        if not path:
            return False
        path = Path(path)
        if path.suffix not in (".yaml", ".yml"):
            path = path.with_suffix(".yaml")
        if is_bundled(path):                 # the dialog refuses these; a path given another way is refused here
            from explorer.gui.save_dialog import bundled_refusal

            self.model.message.emit(bundled_refusal(path))
            return False
        spec = self.model.spec
        if spec.name == self.model.opened_name and spec.name != path.stem:   # not renamed by the user
            self.model.propose(commands.SetField, spec.replace(name=path.stem), f"Name the design {path.stem}",
                               target=("design", "name"))
            self.model.opened_name = path.stem
        return self._write(path)

    def _write(self, path: Path) -> bool:
        try:
            yaml_io.save(self.model.spec, path)
        except ExplorerError as err:
            self.model.message.emit(str(err))
            return False
        self.model.undo_stack.setClean()
        self.set_file(path)
        self.add_recent(str(path.resolve()))
        self.discard_autosave()
        self.model.message.emit(f"Saved {path}")
        return True

    # ------------------------------------------------------------------ recent files

    def recent(self) -> list[str]:
        value = app_settings().value("recent", [])
        if isinstance(value, str):
            value = [value]
        return [str(v) for v in (value or [])]

    def add_recent(self, path: str) -> None:
        files = [path] + [p for p in self.recent() if p != path]
        app_settings().setValue("recent", files[:MAX_RECENT])
        self.recent_changed.emit()

    # ------------------------------------------------------------------ autosave

    def autosave(self) -> None:
        if not self.dirty:
            return
        try:
            self.autosave_file.parent.mkdir(parents=True, exist_ok=True)
            yaml_io.save(self.model.spec, self.autosave_file)
        except (OSError, ExplorerError) as err:
            log.warning("autosave failed: %s", err)

    def discard_autosave(self) -> None:
        self._autosave_timer.stop()
        try:
            self.autosave_file.unlink()
        except FileNotFoundError:
            pass
        except OSError as err:
            log.warning("cannot remove autosave: %s", err)

    def offer_recovery(self) -> bool:
        """After a crash the autosave is still there: offer to reopen it."""
        if not self.autosave_file.is_file():
            return False
        if not self.ask_recover(self.autosave_file):
            self.discard_autosave()
            return False
        try:
            spec = yaml_io.load(self.autosave_file)
        except ExplorerError as err:
            self.model.message.emit(f"cannot recover: {err}")
            return False
        previous = self.display_name
        self.model.reset(spec)
        self.set_file(None)
        self.model.undo_stack.resetClean()   # recovered work is unsaved
        self.replaced.emit(previous)
        self.model.message.emit("Recovered the design autosaved before the last session ended")
        return True

    # ------------------------------------------------------------------ default dialogs

    def _ask_save_dialog(self) -> str:
        box = QMessageBox(QMessageBox.Icon.Warning, "Unsaved changes",
                          f"Save the changes to {self.display_name}?",
                          QMessageBox.StandardButton.Save | QMessageBox.StandardButton.Discard
                          | QMessageBox.StandardButton.Cancel, self.window)
        answer = box.exec()
        return {QMessageBox.StandardButton.Save: "save",
                QMessageBox.StandardButton.Discard: "discard"}.get(QMessageBox.StandardButton(answer), "cancel")

    def _error_box(self, title: str, line: str) -> QMessageBox:
        """The error in a window-modal box opened without a nested event loop (`open`, not
        `exec`): nothing waits on it, a test included. One box, showing the latest error."""
        if self.error_box is None:
            self.error_box = QMessageBox(QMessageBox.Icon.Warning, title, "", QMessageBox.StandardButton.Ok,
                                         self.window)
        self.error_box.setWindowTitle(title)
        self.error_box.setText(line)
        self.error_box.open()
        return self.error_box

    def _open_dialog(self) -> str | None:
        path, _ = QFileDialog.getOpenFileName(self.window, "Open design", "", "Designs (*.yaml *.yml)")
        return path or None

    def _save_dialog(self) -> str | None:
        from explorer.gui.save_dialog import ask_save_path

        return ask_save_path(self.window, f"{self.model.spec.name}.yaml")     # refuses a bundled preset itself

    def _recover_dialog(self, path: Path) -> bool:
        answer = QMessageBox.question(self.window, "Recover design",
                                      f"The last session ended with unsaved changes ({path}). Recover them?")
        return answer == QMessageBox.StandardButton.Yes
