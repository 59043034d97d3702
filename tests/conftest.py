"""Fixtures shared across test folders."""

from __future__ import annotations

import pytest


@pytest.fixture
def forward_runs_out_of_memory(monkeypatch):
    """Timing runs build their models as usual, but every forward pass raises torch's
    out-of-memory error (what a too-large batch does on a GPU)."""
    torch = pytest.importorskip("torch")
    import explorer.bench.timing as timing

    real_build = timing.build_model

    def build_then_oom(spec, *args, **kwargs):
        model = real_build(spec, *args, **kwargs)

        def oom(_x):
            raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 20.00 GiB")
        model.forward = oom
        return model

    monkeypatch.setattr(timing, "build_model", build_then_oom)
    return monkeypatch
