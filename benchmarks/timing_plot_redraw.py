"""The Timing plot's redraw after N runs (each: 2 warm-up, 20 design and 20 twin passes), offscreen.

    python benchmarks/timing_plot_redraw.py 1000

Prints the median of 7 redraws: the panel's _redraw (setData on each series) alone, and with the
plot repainted; and how many items the plot holds (bounded: one boundary line per kept run).
"""

from __future__ import annotations

import os
import sys
import time

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtWidgets import QApplication  # noqa: E402

from explorer.bench.config import Sample  # noqa: E402
from explorer.gui.run_panel import RunPanel  # noqa: E402


def main(n_runs: int) -> None:
    app = QApplication.instance() or QApplication([])
    panel = RunPanel()
    panel.resize(900, 500)
    panel.show()
    app.processEvents()
    for run in range(n_runs):
        panel._begin_segment(f"v{run}")
        for i in range(22):
            warm = i < 2
            panel.on_worker_sample(Sample("design", i, 1.0 + (i % 5) * 0.1, warm))
            if not warm:
                panel.on_worker_sample(Sample("twin", i, 2.0 + (i % 3) * 0.1, warm))
    redraw_ms, painted_ms = [], []
    for _ in range(7):
        panel.on_worker_sample(Sample("design", 99, 1.5, False))
        panel._redraw_timer.stop()
        t0 = time.perf_counter()
        panel._redraw()
        t1 = time.perf_counter()
        panel.plot.repaint()
        app.processEvents()
        redraw_ms.append((t1 - t0) * 1e3)
        painted_ms.append((time.perf_counter() - t0) * 1e3)
    items = len(panel.plot.getPlotItem().items)
    print(f"{n_runs} runs: redraw {sorted(redraw_ms)[3]:.1f} ms, with the repaint {sorted(painted_ms)[3]:.1f} ms; "
          f"{items} plot items")
    panel.shutdown()


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 1000)
