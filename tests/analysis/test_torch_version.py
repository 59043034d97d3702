"""The training-activation figure is exact only for the torch releases its saving rules were measured
against (explorer.analysis.torch_version: CPU 2.13-2.14, CUDA 2.13); with another torch installed it is
labelled an estimate, in `report`, `report --json`, `plan` and the window's Metrics tab. The installed
version is read from the package metadata, never by importing torch."""

from __future__ import annotations

import json
import subprocess
import sys
from importlib import metadata

import pytest

from explorer.analysis import analyze, torch_version
from explorer.cli.entry import main
from explorer.design import yaml_io
from explorer.presets import PRESETS_DIR

GPT2 = PRESETS_DIR / "gpt2-tied.yaml"


@pytest.fixture
def torch_installed(monkeypatch):
    """Pretend torch VERSION is installed (None: none is)."""
    def pretend(version):
        monkeypatch.setattr(torch_version, "installed_torch", lambda: version)
    return pretend


def test_the_installed_version_comes_from_metadata_without_importing_torch():
    code = ("import sys; from explorer.analysis import torch_version, analyze; from explorer.design import yaml_io; "
            f"analyze(yaml_io.load({str(GPT2)!r}), 1, 8); print(torch_version.installed_torch()); "
            "print('torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    version, imported = out.stdout.split()
    try:
        expected = metadata.version("torch")
    except metadata.PackageNotFoundError:
        expected = "None"
    assert version == expected and imported == "False"


def test_the_ranges():
    assert torch_version.exact_range("cpu") == ">=2.13,<2.15"
    assert torch_version.exact_range("cuda") == ">=2.13,<2.14"


@pytest.mark.parametrize("version,cpu,cuda", [
    ("2.13.0+cpu", True, True), ("2.13.1", True, True), ("2.14.1+cu130", True, False), ("2.15.0", False, False),
    ("2.5.1", False, False), ("2.12.0", False, False), ("3.0.0", False, False), (None, False, False)])
def test_the_figure_is_exact_only_inside_the_range(torch_installed, version, cpu, cuda):
    torch_installed(version)
    spec = yaml_io.load(GPT2)
    for device, exact in (("cpu", cpu), ("cuda", cuda)):
        m = analyze(spec, 1, 8, device=device).memory
        assert m.activations_training_exact == exact, (version, device)
        assert (m.activations_training_note == "") == exact
        if not exact:
            assert not m.activations_training_at_least and m.activations_training_note.startswith("an estimate")
            assert (version or "no torch") in m.activations_training_note


def _cli(capsys, *argv) -> str:
    assert main([str(a) for a in argv]) == 0
    return capsys.readouterr().out


def test_report_text_and_json_label_an_estimate(torch_installed, capsys):
    torch_installed("2.16.0")
    text = _cli(capsys, "report", GPT2)
    line = next(x for x in text.splitlines() if "saved for backward" in x)
    assert line.lstrip().startswith("activations (est.)") and "torch 2.16.0" in line and ">=2.13,<2.15" in line
    data = json.loads(_cli(capsys, "report", GPT2, "--json"))["memory"]["training"]
    assert data["activations_exact"] is False and "torch 2.16.0" in data["activations_note"]
    plan = _cli(capsys, "plan", GPT2, "--seq", "64")
    assert "torch 2.16.0" in plan.splitlines()[-1] and "<2.14" in plan.splitlines()[-1]
    torch_installed("2.13.0+cpu")
    text = _cli(capsys, "report", GPT2)
    line = next(x for x in text.splitlines() if "saved for backward" in x)
    assert line.lstrip().startswith("activations ") and "(est.)" not in line and "estimate" not in line
    assert json.loads(_cli(capsys, "report", GPT2, "--json"))["memory"]["training"]["activations_exact"] is True


def test_a_left_out_cudnn_buffer_is_still_a_lower_bound(torch_installed, capsys):
    torch_installed("2.13.0")
    lstm = yaml_io.load(PRESETS_DIR / "lstm-shared-cell.yaml")
    m = analyze(lstm, 1, 8, device="cuda").memory
    assert not m.activations_training_exact and m.activations_training_at_least
    assert "cuDNN" in m.activations_training_note
    torch_installed("2.14.1")                     # and another torch besides: an estimate, both reasons given
    m = analyze(lstm, 1, 8, device="cuda").memory
    assert not m.activations_training_at_least and "cuDNN" in m.activations_training_note \
        and "2.14.1" in m.activations_training_note
