"""Render the screenshots of docs/ (offscreen): python docs/make_screenshots.py [OUT_DIR] [--no-timing | --only-timing]

Each shot is the real window at 1440x900 on a bundled preset; the timing and training shots
("timing": left out by --no-timing, alone with --only-timing) run the design and its unshared
twin on the CPU first, so their plots hold real measurements.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtWidgets import QApplication  # noqa: E402

from explorer.gui import app as gui_app  # noqa: E402
from explorer.design import edits  # noqa: E402
from explorer.gui import commands  # noqa: E402
from explorer.presets import PRESETS_DIR  # noqa: E402
from explorer.design.strategies import apply_scheme  # noqa: E402

_ARGS = [a for a in sys.argv[1:] if not a.startswith("--")]
OUT = Path(_ARGS[0] if _ARGS else Path(__file__).parent / "screenshots")


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


def shoot_after(window, name: str, prepare) -> None:
    """Lay the window out as render_screenshot does, then `prepare()` it and grab it again."""
    path = OUT / f"{name}.png"
    gui_app.render_screenshot(window, str(path))
    prepare()
    app = QApplication.instance()
    for _ in range(3):
        app.processEvents()
    window.grab().save(str(path), "PNG")
    print(path)


def hover_drag(window, source: str, target: str, slot: str) -> None:
    """Show what the stack shows while `source`'s `slot` chip is dragged over `target`'s card."""
    view = window.stack_view
    window.model.select_layers((source,))
    payload = view.drag_payload(source, slot)
    point = view.chip_point(target, slot)
    view.ensureVisible(view.cards[window.model.spec.layer_index(target)].sceneBoundingRect())
    hit = view.target_at(point, payload)
    view._show_hint(hit)
    window.show_message(view.describe_drop(payload, hit))


def main() -> None:
    gui_app.application()
    OUT.mkdir(parents=True, exist_ok=True)
    app = QApplication.instance()
    if "--only-timing" not in sys.argv:
        still_shots()
    if "--no-timing" not in sys.argv:
        timing_shot(app)
        train_shot(app)


def still_shots() -> None:
    shoot(window_on("albert-base"), "main-window")      # as `explorer albert-base --screenshot` draws it

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

    w = window_on("immediate-repeat")
    show_tab(w, "Training memory")
    planner = w.insight.planner
    planner.gpu_spin.setValue(24)
    planner.micro_spin.setValue(8)
    shoot(w, "planner")

    w = window_on("gpt2-tied")
    shoot(w, "gpt2-tied")

    w = window_on("bert-base")
    shoot_after(w, "drag-share", lambda: hover_drag(w, "layer2", "layer4", "ffn"))
    w = window_on("bert-base")
    w.model.edit(commands.SetField, "d_ff of layer5", lambda s: edits.set_layer_field(s, "layer5", "d_ff", 1024))
    shoot_after(w, "drag-refused", lambda: hover_drag(w, "layer2", "layer5", "ffn"))
    w = window_on("albert-groups")
    shoot_after(w, "graph-view", lambda: w.tabs.setCurrentIndex(1))


def timing_shot(app) -> None:
    w = window_on("tutorial-all-shared")
    show_tab(w, "Timing (real model)")
    panel = w.ensure_run_panel()
    panel.batch_spin.setValue(4)
    panel.seq_spin.setValue(128)
    panel.iters_spin.setValue(20)
    done = []
    panel.run_finished.connect(done.append)
    panel.message.connect(lambda m: done.append(m))

    def wait_for_run() -> None:
        while not done:
            app.processEvents()
        done.clear()

    panel.start()
    wait_for_run()
    panel.pin_button.setChecked(True)              # the all-shared run becomes the baseline line
    panel.live_check.setChecked(True)              # the next edit re-times as its own segment
    w.model.edit(commands.SpecCommand, "Apply Unshare", lambda s: apply_scheme(s, "unshare"))
    wait_for_run()
    shoot(w, "timing-live-twin")
    panel.shutdown()


def train_shot(app) -> None:
    """ALBERT base scaled down to d128 x 4 layers, trained on the stdlib's sources beside its twin."""
    w = window_on("albert-base")
    view = w.train_view
    show_tab(w, "Train")
    view.form.steps_spin.setValue(150)
    view.form.batch_spin.setValue(8)
    view.form.seq_spin.setValue(64)
    view.form.eval_spin.setValue(25)
    for name, value in (("width", 128), ("depth", 4), ("heads", 4)):
        view.form.scale_spins[name].setValue(value)
    done = []
    view.run_finished.connect(done.append)
    view.message.connect(done.append)
    view.start()
    while not done:
        app.processEvents()
    shoot(w, "train-twin")
    view.shutdown()

if __name__ == "__main__":
    main()
