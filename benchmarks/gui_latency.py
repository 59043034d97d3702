"""The window's pauses, measured (issues 23 and 28): a 5 ms timer on the GUI thread through
start-up, a Timing run with the twin, a Train run and a timed sweep of two schemes, then edits on a
96-layer design; the time to first paint, the window's resident memory idle, and whether its
process imported torch.

    python benchmarks/gui_latency.py                       # offscreen
    xvfb-run -a python benchmarks/gui_latency.py --xcb     # a real X server

Prints a table: per phase the longest gap between timer ticks (the longest the event loop was
blocked), its 99th percentile, and the ticks seen. Timings depend on the machine's load: run it
on a quiet machine and quote it with the machine.
"""

from __future__ import annotations

import time

STARTED = time.perf_counter()            # before Qt or the app is imported

import argparse  # noqa: E402
import os  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402


def rss_mib() -> float:
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


class Gaps:
    """A 5 ms timer on the GUI thread; `phase(name)` starts a new phase of the record."""

    def __init__(self, QTimer) -> None:
        self.phases: dict[str, list[float]] = {}
        self.current: list[float] | None = None
        self.last = time.perf_counter()
        self.timer = QTimer()
        self.timer.setInterval(5)
        self.timer.timeout.connect(self.tick)
        self.timer.start()

    def tick(self) -> None:
        now = time.perf_counter()
        if self.current is not None:
            self.current.append((now - self.last) * 1000.0)
        self.last = now

    def phase(self, name: str) -> None:
        self.current = self.phases.setdefault(name, [])
        self.last = time.perf_counter()


def wait(app, until, timeout_s: float) -> bool:
    end = time.perf_counter() + timeout_s
    while time.perf_counter() < end:
        app.processEvents()
        if until():
            return True
        time.sleep(0.001)
    return False


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--xcb", action="store_true", help="run on the X server in $DISPLAY (default offscreen)")
    args = parser.parse_args()
    os.environ["QT_QPA_PLATFORM"] = "xcb" if args.xcb else "offscreen"

    from PySide6.QtCore import QEvent, QObject, QStandardPaths, QTimer
    from PySide6.QtWidgets import QApplication

    QStandardPaths.setTestModeEnabled(True)
    app = QApplication([])
    painted: list[float] = []

    class FirstPaint(QObject):
        def eventFilter(self, obj, event):  # noqa: N802 - Qt override
            if event.type() == QEvent.Type.Paint and not painted:
                painted.append(time.perf_counter())
            return False

    first_paint = FirstPaint()
    app.installEventFilter(first_paint)
    from explorer.design import yaml_io
    from explorer.gui.app import make_window
    from explorer.jobs.local import pool
    from explorer.presets import resolve

    window = make_window(resolve("tutorial-all-shared"))
    window.document.ask_save = lambda: "discard"
    window.show()
    wait(app, lambda: bool(painted), 30)
    gaps = Gaps(QTimer)
    pool().warm("cpu")                                   # as the app does once the window shows
    gaps.phase("start-up (worker importing torch)")
    wait(app, lambda: pool().worker("cpu").devices_found.is_set(), 120)
    wait(app, lambda: False, 1.0)
    idle_mib = rss_mib()

    gaps.phase("making the Timing tab")
    panel = window.ensure_run_panel()
    window.bottom_tabs.setCurrentWidget(panel)
    wait(app, lambda: False, 0.5)
    gaps.phase("Timing run with the twin")
    panel.seq_spin.setValue(64)
    panel.iters_spin.setValue(20)
    done: list = []
    panel.run_finished.connect(done.append)
    panel.start()
    wait(app, lambda: bool(done), 300)

    gaps.phase("Train run with the twin (30 steps)")
    view = window.train_view
    view.form.steps_spin.setValue(30)
    view.form.eval_spin.setValue(10)
    for name, value in (("width", 64), ("depth", 4), ("heads", 4)):
        view.form.scale_spins[name].setValue(value)
    trained: list = []
    view.run_finished.connect(trained.append)
    view.start()
    wait(app, lambda: bool(trained), 600)

    gaps.phase("making the Sweeps tab's schemes page")
    sweeps = window.insight.sweeps
    window.bottom_tabs.setCurrentWidget(sweeps)
    sweeps.tabs.setCurrentIndex(2)
    wait(app, lambda: False, 0.5)
    gaps.phase("timed sweep of two schemes")
    sweeps.schemes.controls.time_iters.setValue(5)
    sweeps.schemes.controls.time_seq.setValue(32)
    sweeps.schemes.controls.only_edit.setText("albert,cycle")
    swept: list = []
    sweeps.points_finished.connect(lambda *a: swept.append(a))
    sweeps.schemes.controls.time_button.click()
    wait(app, lambda: bool(swept), 600)

    # edits on 96 layers: each command pushed, then the events it posted handled (the repaint)
    from explorer.design.strategies import apply_scheme

    big = yaml_io.load(resolve("tutorial-unshared"))
    base_layers = big.layers
    blocks = [x for x in base_layers if x.kind == "block"]
    import dataclasses

    layers = tuple(x for x in base_layers if x.kind != "block") [:1] + tuple(
        dataclasses.replace(blocks[0], id=f"block{i}") for i in range(96)) + \
        tuple(x for x in base_layers if x.kind != "block")[1:]
    big = big.replace(layers=layers, name="96 layers")
    window.document.new(big)
    window.bottom_tabs.setCurrentIndex(0)                # Metrics
    wait(app, lambda: False, 0.5)
    gaps.phase("idle, 96-layer design shown")
    wait(app, lambda: False, 0.5)
    edit_ms = []
    model = window.model
    from explorer.gui import commands

    for _ in range(5):
        for step in ("albert", "undo"):
            t0 = time.perf_counter()
            if step == "albert":
                model.edit(commands.SpecCommand, "ALBERT", lambda s: apply_scheme(s, "albert"))
            else:
                model.undo_stack.undo()
            app.processEvents()
            app.processEvents()
            edit_ms.append((step, (time.perf_counter() - t0) * 1000.0))
    torch_in_window = "torch" in sys.modules
    window.close()

    print(f"first paint: {(painted[0] - STARTED) * 1000:.0f} ms after the process started "
          f"(imports, window built, shown)")
    print(f"window's resident memory, idle after start-up: {idle_mib:.0f} MiB; torch imported in the "
          f"window's process: {'yes' if torch_in_window else 'no'}")
    print()
    print("| phase | longest gap ms | 99th percentile ms | ticks |")
    print("|---|---:|---:|---:|")
    for name, values in gaps.phases.items():
        if not values:
            continue
        p99 = statistics.quantiles(values, n=100)[98] if len(values) >= 100 else max(values)
        print(f"| {name} | {max(values):.1f} | {p99:.1f} | {len(values)} |")
    albert = [ms for step, ms in edit_ms if step == "albert"]
    undo = [ms for step, ms in edit_ms if step == "undo"]
    print()
    print(f"96-layer edit until its events are handled: ALBERT median {statistics.median(albert):.1f} ms "
          f"(min {min(albert):.1f}, max {max(albert):.1f}); undo median {statistics.median(undo):.1f} ms "
          f"(min {min(undo):.1f}, max {max(undo):.1f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
