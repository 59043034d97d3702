"""A kill during save leaves the old file whole: saves go to a temp file, then an atomic rename."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from explorer.presets import PRESETS_DIR
from explorer.design import yaml_io

WRITER = r"""
import sys, dataclasses
from explorer.design import yaml_io
from explorer.design.model import LayerSpec
spec = yaml_io.load(sys.argv[1])
big = dataclasses.replace(spec, layers=spec.layers + tuple(LayerSpec(f"x{i}", "norm") for i in range(3000)),
                          name="new")
print("ready", flush=True)
while True:
    yaml_io.save(big, sys.argv[2])
"""


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL")
def test_kill_during_save_never_leaves_a_half_written_file(tmp_path):
    source = PRESETS_DIR / "tutorial-unshared.yaml"
    target = tmp_path / "design.yaml"
    old = yaml_io.load(source)
    yaml_io.save(old, target)
    kills = 0
    for delay in (0.05, 0.11, 0.17, 0.23, 0.31, 0.37):
        proc = subprocess.Popen([sys.executable, "-c", WRITER, str(source), str(target)], stdout=subprocess.PIPE,
                                text=True)
        assert proc.stdout.readline().strip() == "ready"
        time.sleep(delay)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
        kills += 1
        loaded = yaml_io.load(target)                 # never a parse error: old or new, whole
        assert loaded.name in ("tutorial-unshared", "new")
        if loaded.name == "new":
            assert len(loaded.layers) == len(old.layers) + 3000
    assert kills == 6
    leftovers = [p for p in tmp_path.iterdir() if p.name != "design.yaml"]
    # a killed writer may leave its temp file behind, but never in place of the design
    assert all(p.name.startswith(".design.yaml.") and p.suffix == ".tmp" for p in leftovers)


def test_unwritable_target_is_one_line_and_keeps_the_old_file(tmp_path):
    target = tmp_path / "ro" / "design.yaml"
    target.parent.mkdir()
    spec = yaml_io.load(PRESETS_DIR / "tutorial-unshared.yaml")
    yaml_io.save(spec, target)
    os.chmod(target.parent, 0o500)
    try:
        if os.access(target.parent, os.W_OK):
            pytest.skip("running as a user who can write anywhere (root)")
        with pytest.raises(yaml_io.SpecError) as err:
            yaml_io.save(spec.replace(name="changed"), target)
        assert "cannot write" in str(err.value) and "\n" not in str(err.value)
    finally:
        os.chmod(target.parent, 0o700)
    assert yaml_io.load(target).name == spec.name


def test_missing_folder_is_one_line(tmp_path):
    spec = yaml_io.load(PRESETS_DIR / "tutorial-unshared.yaml")
    with pytest.raises(yaml_io.SpecError) as err:
        yaml_io.save(spec, tmp_path / "no" / "such" / "design.yaml")
    assert "cannot write" in str(err.value)


def test_full_disk_or_read_only_keeps_the_old_file_and_no_temp(tmp_path, monkeypatch):
    import errno

    target = tmp_path / "design.yaml"
    spec = yaml_io.load(PRESETS_DIR / "tutorial-unshared.yaml")
    yaml_io.save(spec, target)
    before = target.read_bytes()

    def no_space(*_args, **_kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(yaml_io.os, "replace", no_space)
    with pytest.raises(yaml_io.SpecError) as err:
        yaml_io.save(spec.replace(name="changed"), target)
    assert "No space left on device" in str(err.value) and str(target) in str(err.value)
    assert target.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["design.yaml"]
