"""Fixtures shared across test folders."""

from __future__ import annotations

import os

import pytest


@pytest.fixture
def inline_jobs(monkeypatch):
    """The window's jobs run in this process (as EXPLORER_INLINE_JOBS=1 does), so a test can patch
    the code a job runs; without it they run in a worker process, out of a patch's reach."""
    from explorer.jobs.local import pool

    monkeypatch.setattr(pool(), "inline", True)
    return monkeypatch


@pytest.fixture
def forward_runs_out_of_memory(monkeypatch, inline_jobs):
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


@pytest.fixture
def umask_022():
    """New files are made under umask 022 (what most users have), restored after the test."""
    old = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(old)
