"""The window's process never imports torch (issue 23): a Timing run with its twin, a Train run, the
Sweeps tab's timed schemes and a model export, started with the tabs' own buttons, run in the
worker process. Checked in a child
process of its own, since this test process imports torch for other tests."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

SCRIPT = textwrap.dedent("""
    import sys
    from pathlib import Path

    from PySide6.QtCore import QStandardPaths, Qt
    from PySide6.QtTest import QSignalSpy, QTest
    from PySide6.QtWidgets import QApplication

    QStandardPaths.setTestModeEnabled(True)
    app = QApplication([])
    from explorer.design import yaml_io
    from explorer.gui.main_window import MainWindow
    from explorer.presets import resolve

    def wait_for(spy, seconds):
        for _ in range(seconds * 20):
            if spy.count():
                return True
            QTest.qWait(50)
        return False

    window = MainWindow(yaml_io.load(resolve("tutorial-all-shared")))
    window.document.ask_save = lambda: "discard"
    window.show()
    panel = window.ensure_run_panel()
    panel.seq_spin.setValue(8)
    panel.iters_spin.setValue(3)
    panel.warmup_spin.setValue(1)
    done = QSignalSpy(panel.run_finished)
    QTest.mouseClick(panel.start_button, Qt.MouseButton.LeftButton)
    assert wait_for(done, 120), "no timing result"
    result = done.at(0)[0]
    assert result.design.samples_ms and result.twin.samples_ms and result.verified

    view = window.train_view
    view.form.steps_spin.setValue(2)
    view.form.eval_spin.setValue(2)
    for name, value in (("width", 16), ("depth", 2), ("heads", 2)):
        view.form.scale_spins[name].setValue(value)
    trained = QSignalSpy(view.run_finished)
    QTest.mouseClick(view.start_button, Qt.MouseButton.LeftButton)
    assert wait_for(trained, 240), "no training result"
    assert len(trained.at(0)[0].result.series["design"].train_loss) == 2

    sweeps = window.insight.sweeps                       # the Sweeps tab's timed schemes
    window.bottom_tabs.setCurrentWidget(sweeps)
    sweeps.tabs.setCurrentIndex(2)
    sweeps.schemes.controls.time_iters.setValue(2)
    sweeps.schemes.controls.time_seq.setValue(8)
    sweeps.schemes.controls.only_edit.setText("albert,cycle")
    timed = QSignalSpy(sweeps.points_finished)
    QTest.mouseClick(sweeps.schemes.controls.time_button, Qt.MouseButton.LeftButton)
    assert wait_for(timed, 240), "no sweep result"
    rows = {r["label"]: r for r in sweeps.schemes.timed_rows}
    assert rows["albert"]["median_ms"] > 0 and rows["albert"]["where"].startswith("local")

    exported = QSignalSpy(window.insight.export_done)
    assert window.insight.export_model(sys.argv[1])
    assert wait_for(exported, 120) and exported.at(0)[0] is True and Path(sys.argv[1]).is_file()
    assert "torch" not in sys.modules, "the window's process imported torch"
    window.close()
    print("ok: no torch in the window's process")
""")


@pytest.mark.slow
def test_timing_training_and_export_leave_torch_out_of_the_window(tmp_path):
    env = dict(os.environ, QT_QPA_PLATFORM=os.environ.get("QT_QPA_PLATFORM", "offscreen"))
    env.pop("EXPLORER_INLINE_JOBS", None)
    done = subprocess.run([sys.executable, "-c", SCRIPT, str(tmp_path / "model.py")], capture_output=True,
                          text=True, timeout=600, env=env, cwd=tmp_path)
    assert done.returncode == 0 and "ok: no torch" in done.stdout, (done.stdout + done.stderr)[-4000:]
