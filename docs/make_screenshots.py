"""Render the screenshots of docs/ (offscreen): python docs/make_screenshots.py [OUT_DIR]

Each shot is the real window at 1440x900 on a bundled preset; the timing shot runs the
design and its unshared twin on the CPU first, so its plot holds real measurements.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtWidgets import QApplication  # noqa: E402

from explorer.gui import app as gui_app  # noqa: E402
from explorer.presets import PRESETS_DIR  # noqa: E402

OUT = Path(sys.argv[1] if len(sys.argv) > 1 else Path(__file__).parent / "screenshots")


def window_on(preset: str):
    window = gui_app.make_window(str(PRESETS_DIR / f"{preset}.yaml"))
    window.document.ask_save = lambda: "discard"
    return window


def show_tab(window, title: str) -> None:
    tabs = window.bottom_tabs
    for i in range(tabs.count()):
        if tabs.tabText(i) == title:
            tabs.setCurrentIndex(i)


def shoot(window, name: str) -> None:
    path = OUT / f"{name}.png"
    gui_app.render_screenshot(window, str(path))
    print(path)


def main() -> None:
    gui_app.application()
    OUT.mkdir(parents=True, exist_ok=True)
    app = QApplication.instance()

    w = window_on("tutorial-unshared")
    show_tab(w, "Sweeps")
    w.insight.sweeps.tabs.setCurrentIndex(0)
    shoot(w, "sweep-crossover")
    w.insight.sweeps.tabs.setCurrentIndex(2)
    shoot(w, "sweep-frontier")

    w = window_on("albert-base")
    show_tab(w, "Compare")
    w.insight.compare._load(str(PRESETS_DIR / "bert-base.yaml"))
    shoot(w, "compare")
    show_tab(w, "Training memory")
    shoot(w, "planner")

    w = window_on("tutorial-all-shared")
    show_tab(w, "Timing (real model)")
    panel = w.ensure_run_panel()
    panel.batch_spin.setValue(4)
    panel.seq_spin.setValue(128)
    panel.iters_spin.setValue(25)
    done = []
    panel.run_finished.connect(done.append)
    panel.message.connect(lambda m: done.append(m))
    panel.start()
    while not done:
        app.processEvents()
    shoot(w, "timing-live-twin")
    panel.shutdown()


if __name__ == "__main__":
    main()
