"""The Metrics tab labels the training memory as the analysis does: exact, "≥" (a lower bound: cuDNN's
RNN reserve left out) or "≈" (an estimate: the installed torch is outside the saving rules' range)."""

from __future__ import annotations

import pytest

from explorer.analysis import torch_version
from explorer.design import yaml_io
from explorer.presets import PRESETS_DIR


@pytest.mark.parametrize("version,mark", [("2.13.0+cpu", ""), ("2.16.0", "≈ "), ("2.5.1", "≈ ")])
def test_training_memory_mark(make_window, monkeypatch, version, mark):
    monkeypatch.setattr(torch_version, "installed_torch", lambda: version)
    window = make_window(yaml_io.load(PRESETS_DIR / "gpt2-tied.yaml"))
    label = window.metrics.values["training"]
    report = window.model.report
    assert label.text().startswith(mark) and label.text()[len(mark):len(mark) + 1].isdigit()
    assert report.memory.activations_training_exact == (mark == "")
    if mark:
        assert version in label.toolTip()
    else:
        assert "This figure" not in label.toolTip()
