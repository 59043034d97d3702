"""A hard kill of the app loses nothing: the autosave written after an edit is offered back."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from explorer.presets import PRESETS_DIR
from explorer.design import yaml_io
from explorer.design.strategies import apply_scheme

APP = r"""
import os, sys, time
os.environ["QT_QPA_PLATFORM"] = "offscreen"
from explorer.gui import app as gui_app
qapp = gui_app.application()
window = gui_app.make_window(sys.argv[1])
window.document._autosave_timer.setInterval(50)
window.show()
window.palette_panel.apply("albert")
print(window.document.autosave_file, flush=True)
deadline = time.time() + 30
while not window.document.autosave_file.exists() and time.time() < deadline:
    qapp.processEvents()
    time.sleep(0.01)
print("saved" if window.document.autosave_file.exists() else "not saved", flush=True)
while True:                     # a user still working, until the process is killed
    qapp.processEvents()
    time.sleep(0.01)
"""


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL")
def test_hard_kill_then_recover(tmp_path, make_window):
    preset = PRESETS_DIR / "tutorial-unshared.yaml"
    env = dict(os.environ, XDG_DATA_HOME=str(tmp_path / "data"), XDG_CONFIG_HOME=str(tmp_path / "config"))
    proc = subprocess.Popen([sys.executable, "-c", APP, str(preset)], stdout=subprocess.PIPE, text=True, env=env)
    try:
        autosave = Path(proc.stdout.readline().strip())
        assert proc.stdout.readline().strip() == "saved"
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    edited = apply_scheme(yaml_io.load(preset), "albert")
    assert yaml_io.load(autosave) == edited                   # whole, and the latest edit
    window = make_window(yaml_io.load(preset))
    window.document.autosave_file = autosave
    window.document.ask_recover = lambda _path: True
    assert window.document.offer_recovery()
    assert window.model.spec == edited and window.isWindowModified()
