"""GUI tests run headless, with settings, recent files and autosave in a temporary home."""

import os
import tempfile

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
_HOME = tempfile.mkdtemp(prefix="explorer-gui-tests-")
os.environ["XDG_CONFIG_HOME"] = os.path.join(_HOME, "config")
os.environ["XDG_DATA_HOME"] = os.path.join(_HOME, "data")
# Qt's test mode keeps settings under ~/.qttest whatever XDG says: a home of its own keeps one test
# session's settings (recent files, the cluster address) from the next one's
os.environ["HOME"] = _HOME

from pathlib import Path

import pytest
from PySide6.QtCore import QStandardPaths

from explorer.presets import PRESETS_DIR

QStandardPaths.setTestModeEnabled(True)


GUI_DIR = Path(__file__).resolve().parent
X11_CHILD = "EXPLORER_X11_CHILD"            # set in test_under_x11.py's child run


@pytest.hookimpl(trylast=True)                # after -m / -k have deselected
def pytest_collection_modifyitems(config, items):
    """Each GUI test runs once. When this run includes test_under_x11.py, which runs tests/gui again
    on a real X server (Xvfb, xcb) in a child pytest, and Xvfb is there, the offscreen copies of the
    tests that child runs are skipped here: the real display is the one that finds crashes."""
    import shutil

    if os.environ.get(X11_CHILD) or os.environ.get("QT_QPA_PLATFORM") != "offscreen" \
            or shutil.which("xvfb-run") is None:
        return
    if not any(item.name == "test_gui_suite_under_xvfb" for item in items):
        return
    on_x11 = pytest.mark.skip(reason="runs on a real X server in test_under_x11.py's child (Xvfb, xcb)")
    for item in items:
        if item.path.parent == GUI_DIR and item.path.name != "test_under_x11.py" \
                and item.get_closest_marker("cluster") is None:
            item.add_marker(on_x11)


def preset(name: str) -> Path | None:
    path = PRESETS_DIR / name
    return path if path.is_file() else None


@pytest.fixture(autouse=True)
def gc_on_gui_thread(qapp):
    """As the app does (gui/app.py): no automatic collection while a test runs, so a timing
    worker never finalizes a leftover widget off the GUI thread; collect here instead."""
    import gc

    from pyqtgraph.util.garbage_collector import GarbageCollector

    collector = GarbageCollector(interval=0.5)
    yield
    collector.timer.stop()
    gc.collect()
    gc.enable()


@pytest.fixture(autouse=True)
def no_ray_address(qapp):
    """Every test starts with no Ray address saved: one a test saved ("local", say) would make
    each later Timing tab join or start a Ray in the background of unrelated tests."""
    from explorer.gui import cluster_settings

    cluster_settings.set_ray_address("")
    yield
    cluster_settings.set_ray_address("")


@pytest.fixture(autouse=True)
def default_window_layout(qapp):
    """Every test's first window opens with the default dock layout: a window an earlier test
    closed saved its own (gui/window_layout.py), which a later window would restore."""
    from explorer.gui import window_layout

    window_layout.clear_saved_layout()
    yield


@pytest.fixture
def make_window(qtbot, tmp_path):
    """A real main window on a design (1440x900 unless `size` says); dialogs answer without blocking."""
    from explorer.gui.main_window import MainWindow

    windows = []

    def make(spec=None, path=None, size=(1440, 900)):
        from explorer.design.edits import builtin_design

        window = MainWindow(spec or builtin_design(), path)
        window.document.ask_save = lambda: "discard"
        window.document.ask_recover = lambda _p: False
        window.document.autosave_file = tmp_path / "autosave" / "autosave.yaml"
        window.resize(*size)
        qtbot.addWidget(window)
        window.show()
        qtbot.waitExposed(window)
        windows.append(window)
        return window

    return make


@pytest.fixture
def local_address():
    """The app's Ray address set to "local" (a Ray of 2 workers started on first use), and shut
    down after the test."""
    from explorer.gui import cluster_settings

    before_cpus = os.environ.get("EXPLORER_RAY_CPUS")
    os.environ["EXPLORER_RAY_CPUS"] = "2"
    cluster_settings.set_ray_address("local")
    cluster_settings.connect("local")             # what the cluster dialog's Test or OK does
    yield "local"
    cluster_settings.set_ray_address("")
    cluster_settings.shutdown()
    if before_cpus is None:
        os.environ.pop("EXPLORER_RAY_CPUS", None)
    else:
        os.environ["EXPLORER_RAY_CPUS"] = before_cpus
