"""Start the app: QApplication, the main window on a preset, one-line errors, screenshots."""

from __future__ import annotations

import logging
import sys
import traceback
from pathlib import Path

from PySide6.QtCore import QCoreApplication, Qt, qInstallMessageHandler
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QApplication

from explorer.errors import ExplorerError
from explorer.gui import theme
from explorer.design.edits import builtin_design
from explorer.presets import bundled_presets, default_preset, resolve
from explorer.design import yaml_io
from explorer.design.model import StackSpec
from explorer.kinds import kind

log = logging.getLogger("explorer.gui")
SCREENSHOT_SIZE = (1440, 900)


def collect_garbage_on_gui_thread(app: QApplication) -> None:
    """Python's automatic collection runs in whichever thread allocates, so a timing worker
    could finalize garbage widgets off the GUI thread (a deadlock or crash). Collect on a
    timer on the GUI thread instead (pyqtgraph's GarbageCollector: disables automatic gc)."""
    if getattr(app, "_explorer_gc", None) is None:
        from pyqtgraph.util.garbage_collector import GarbageCollector

        app._explorer_gc = GarbageCollector(interval=1.0)


def quiet_offscreen_dock_warnings() -> None:
    """The offscreen platform (screenshots, tests) warns at each dock widget it lays out that it
    "does not support propagateSizeHints()": nothing is wrong, so that one line is dropped."""
    previous = None

    def handler(mode, context, message) -> None:
        if "does not support propagateSizeHints" in message:
            return
        if previous is not None:
            previous(mode, context, message)
        else:
            print(message, file=sys.stderr)

    previous = qInstallMessageHandler(handler)


def application() -> QApplication:
    """The QApplication (made once): high-DPI aware, following the system palette."""
    app = QApplication.instance()
    if app is None:
        QGuiApplication.setHighDpiScaleFactorRoundingPolicy(Qt.HighDpiScaleFactorRoundingPolicy.PassThrough)
        QCoreApplication.setOrganizationName("sharing-explorer")
        QCoreApplication.setApplicationName("Sharing Explorer")
        QGuiApplication.setDesktopFileName("sharing-explorer")   # Wayland: the .desktop entry and its icon
        app = QApplication(sys.argv[:1])  # native style and the system palette (light or dark)
        if QGuiApplication.platformName() == "offscreen":
            quiet_offscreen_dock_warnings()
    if app.windowIcon().isNull():
        app.setWindowIcon(theme.app_icon())
    collect_garbage_on_gui_thread(app)
    return app


def default_design() -> tuple[StackSpec, Path | None, str]:
    """The default bundled preset, else the first readable one, else the built-in design."""
    candidates = [p for p in (default_preset(),) if p] + [p for p, _d in bundled_presets()]
    for path in candidates:
        try:
            return yaml_io.load(path), path, ""
        except ExplorerError as err:
            log.warning("preset %s unreadable: %s", path, err)
    return builtin_design(), None, ""


def initial_design(preset_path: str | None) -> tuple[StackSpec, Path | None, str]:
    """(spec, path it came from, message): a bad path falls back to the default design."""
    if preset_path:
        preset_path = resolve(preset_path)          # a file, or a bundled preset by name
        try:
            return yaml_io.load(preset_path), Path(preset_path), ""
        except ExplorerError as err:
            spec, path, _ = default_design()
            return spec, path, f"{err} — opened {spec.name} instead"
    return default_design()


def install_excepthook(window) -> None:
    """Unexpected errors: full traceback to the log, one line to the status bar."""

    def hook(exc_type, exc, tb) -> None:
        if issubclass(exc_type, KeyboardInterrupt):
            sys.__excepthook__(exc_type, exc, tb)
            return
        if isinstance(exc, ExplorerError):
            line = str(exc)
        else:
            log.error("unexpected error\n%s", "".join(traceback.format_exception(exc_type, exc, tb)))
            line = f"internal error {exc_type.__name__}: {str(exc).splitlines()[0] if str(exc) else ''} (see log)"
        try:
            window.show_message(line)
        except RuntimeError:            # window already gone
            print(line, file=sys.stderr)

    sys.excepthook = hook


def make_window(preset_path: str | None = None):
    from explorer.gui.main_window import MainWindow

    spec, path, message = initial_design(preset_path)
    # a file the user named is the document; a bundled preset (named, or the default)
    # opens as an untitled design based on it, so Save never writes a shipped file
    window = MainWindow(spec, path)
    window.document.update_title()
    window.startup_message = message             # run() also shows it in a box, once the window is up
    if message:
        window.show_message(message)
    return window


def render_screenshot(window, out: str) -> bool:
    """Lay the window out at 1440x900 with every panel filled and grab it to a PNG."""
    window.resize(*SCREENSHOT_SIZE)
    window.setAttribute(Qt.WidgetAttribute.WA_DontShowOnScreen, True)
    window.show()
    window.dock_layout.reset()          # the default layout, whatever this user saved
    app = QApplication.instance()
    for _ in range(3):
        app.processEvents()
    spec = window.model.spec
    if not window.model.selected_layers and spec.layers:
        blocks = [layer.id for layer in spec.layers if kind(layer.kind).plain_block] or [spec.layers[0].id]
        window.model.select_layers((blocks[0],))
    if window.model.selected_group is None and spec.groups:
        window.model.select_group(spec.groups[0].name)
    window.stack_view.verticalScrollBar().setValue(window.stack_view.verticalScrollBar().maximum())
    for _ in range(3):
        app.processEvents()
    image = window.grab()
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    return image.save(str(out), "PNG")


def first_size(window) -> tuple[int, int]:
    """1440x900, or the screen's free area where that is smaller (a 1280x720 laptop)."""
    screen = window.screen() or QGuiApplication.primaryScreen()
    if screen is None:
        return SCREENSHOT_SIZE
    free = screen.availableGeometry()                 # the frame's title bar and borders come on top
    return min(SCREENSHOT_SIZE[0], free.width() - 16), min(SCREENSHOT_SIZE[1], free.height() - 48)


def run(preset_path: str | None, screenshot: str | None) -> int:
    """Open the main window on `preset_path` (or the default design); with `screenshot`,
    render the window to that PNG and return without entering the event loop."""
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    app = application()
    if not screenshot:
        from explorer.gui.workers import preload_torch

        preload_torch()
    window = make_window(preset_path)
    install_excepthook(window)
    if screenshot:
        ok = render_screenshot(window, screenshot)
        window.hide()               # not close(): a crash autosave stays for the next real session
        if not ok:
            print(f"error: cannot write screenshot {screenshot}", file=sys.stderr)
            return 2
        return 0
    if not window.dock_layout.restored:          # else the size and place the user left it at
        window.resize(*first_size(window))
    window.show()
    if window.startup_message:                   # the file named on the command line is broken
        window.document.show_error("Cannot open the design", window.startup_message)
    window.document.offer_recovery()
    return app.exec()
