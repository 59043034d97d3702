"""Fuzz tests: a headless Qt home (as tests/gui/conftest.py), the `make_window` fixture, and a
summary of cases tried, failures and the worst time per file, printed at the end of the run
(and written as JSON to $FUZZ_STATS_FILE when set)."""

import json
import os
import sys
import tempfile

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
_HOME = tempfile.mkdtemp(prefix="explorer-fuzz-tests-")
os.environ.setdefault("XDG_CONFIG_HOME", os.path.join(_HOME, "config"))
os.environ.setdefault("XDG_DATA_HOME", os.path.join(_HOME, "data"))
sys.path.insert(0, os.path.dirname(__file__))

import pytest
from fuzz_stats import STATS


@pytest.fixture
def make_window(qtbot, tmp_path):
    """A real main window on a design; dialogs answer without blocking (copied from tests/gui)."""
    from PySide6.QtCore import QStandardPaths

    QStandardPaths.setTestModeEnabled(True)
    from explorer.gui.main_window import MainWindow

    def make(spec=None, path=None):
        from explorer.design.edits import builtin_design

        window = MainWindow(spec or builtin_design(), path)
        window.document.ask_save = lambda: "discard"
        window.document.ask_recover = lambda _p: False
        window.document.ask_open_path = lambda: None
        window.document.ask_save_path = lambda: None
        window.document.autosave_file = tmp_path / "autosave" / "autosave.yaml"
        window.resize(1440, 900)
        qtbot.addWidget(window)
        window.show()
        qtbot.waitExposed(window)
        return window

    return make


def pytest_terminal_summary(terminalreporter):
    if not STATS:
        return
    terminalreporter.section("fuzz summary")
    for family, s in sorted(STATS.items()):
        terminalreporter.write_line(
            f"{family:12} cases {s['cases']:6}  loaded {s['ok']:6}  SpecError {s['errors']:6}  "
            f"failures {s['failures']:3}  total {s['total_s']:6.1f} s  >1s {s['over_1s']:3}  "
            f"worst {s['worst_s'] * 1000:8.1f} ms ({s['worst_case']})")
    out = os.environ.get("FUZZ_STATS_FILE")
    if out:
        with open(out, "w", encoding="utf-8") as fh:
            json.dump(STATS, fh, indent=2)
