"""Faults in timing runs: an exception in the worker, out-of-memory, a build cancelled, the window
closed mid-run. Each is reported on one line and leaves the app usable with the design intact."""

from __future__ import annotations

import pytest

from explorer.design.model import LayerSpec, ModelSettings, StackSpec
from explorer.design.strategies import apply_scheme

torch = pytest.importorskip("torch")

import explorer.bench.timing as timing  # noqa: E402
from explorer.gui.run_panel import RunPanel  # noqa: E402

TINY = apply_scheme(StackSpec(settings=ModelSettings(d_model=32, n_heads=4, d_ff=64, vocab_size=50, max_positions=64),
                              layers=(LayerSpec("emb", "embedding"),)
                              + tuple(LayerSpec(f"b{i}", "block") for i in range(3)), name="tiny"), "albert")


@pytest.fixture
def panel(qtbot):
    p = RunPanel()
    qtbot.addWidget(p)
    p.iters_spin.setValue(3)
    p.seq_spin.setValue(8)
    yield p
    p.shutdown()


def run_and_wait_message(qtbot, panel):
    messages = []
    panel.message.connect(messages.append)
    with qtbot.waitSignal(panel.message, timeout=60_000):
        panel.start()
    qtbot.waitUntil(lambda: not panel.is_running(), timeout=10_000)
    return messages[0]


def run_ok(qtbot, panel):
    with qtbot.waitSignal(panel.run_finished, timeout=60_000) as blocker:
        panel.start()
    return blocker.args[0]


def test_unexpected_exception_in_the_worker(qtbot, panel, inline_jobs):
    monkeypatch = inline_jobs

    def boom(*_a, **_k):
        raise ZeroDivisionError("something deep in torch")

    monkeypatch.setattr(timing, "run_bench", boom)
    panel.set_spec(TINY)
    message = run_and_wait_message(qtbot, panel)
    assert message == "timing tiny failed: ZeroDivisionError: something deep in torch"
    monkeypatch.undo()
    assert run_ok(qtbot, panel).verified                   # the panel still works


def test_out_of_memory_during_the_run(qtbot, panel, forward_runs_out_of_memory):
    panel.set_spec(TINY)
    message = run_and_wait_message(qtbot, panel)
    assert message.startswith("out of memory on cpu running tiny at batch 2 x seq 8") and "\n" not in message
    forward_runs_out_of_memory.undo()
    assert run_ok(qtbot, panel).verified


def test_stop_during_the_build_cancels_before_timing(qtbot, panel, inline_jobs):
    monkeypatch = inline_jobs
    real_build = timing.build_model
    panel_ref = {}

    def slow_build(spec, *args, **kwargs):
        panel_ref["p"].stop()                               # the user presses Stop while it builds
        return real_build(spec, *args, **kwargs)

    panel_ref["p"] = panel
    monkeypatch.setattr(timing, "build_model", slow_build)
    panel.set_spec(TINY)
    result = run_ok(qtbot, panel)
    assert result.cancelled and not result.design.samples_ms and not panel.segments[-1].design


def window_timing_endlessly(qtbot, tmp_path):
    """A shown main window on TINY whose timing run has started (100,000 iterations)."""
    from explorer.gui.main_window import MainWindow

    window = MainWindow(TINY)
    window.document.ask_save = lambda: "discard"
    window.document.autosave_file = tmp_path / "autosave.yaml"
    qtbot.addWidget(window)
    window.show()
    panel = window.ensure_run_panel()
    panel.iters_spin.setValue(100_000)
    panel.seq_spin.setValue(8)
    panel.start()
    return window, panel


def test_window_closed_mid_run_exits_cleanly(qtbot, tmp_path):
    window, panel = window_timing_endlessly(qtbot, tmp_path)
    qtbot.waitUntil(lambda: bool(panel.segments[-1].design), timeout=60_000)
    assert window.close()
    assert not panel.is_running()
    assert all(not t.isRunning() for t in panel._threads)


def test_window_closed_during_a_long_pass_closes_at_once(qtbot, tmp_path):
    """A pass cannot be interrupted, but it runs in the worker process: closing the window ends
    the worker (here frozen mid-pass with SIGSTOP, as a pass that never ends) instead of waiting."""
    import os
    import signal

    from explorer.jobs.local import pool

    window, panel = window_timing_endlessly(qtbot, tmp_path)
    qtbot.waitUntil(lambda: bool(panel.segments[-1].design), timeout=60_000)
    worker = pool().worker("cpu")
    process = worker.process
    os.kill(worker.pid, signal.SIGSTOP)
    assert window.close()
    assert not window.isVisible() and not process.is_alive()
    qtbot.waitUntil(lambda: all(not t.isRunning() for t in panel._threads), timeout=10_000)
