"""Shared helpers of the benchmark scripts: interleaved timing of several callables."""

from __future__ import annotations

import statistics
import time

import torch


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def time_interleaved(fns: dict, device: torch.device, iters: int, warmup: int,
                     alternate: bool = False) -> dict[str, list[float]]:
    """Run each callable once per round, round after round (A, B, A, B), return ms per call.
    `alternate`: every other round in reverse order (A, B, B, A, A, B ...), so that no callable
    always runs right after the same other one (a step can leave the allocator and caches in a
    state that helps or hurts the next)."""
    samples = {name: [] for name in fns}
    for i in range(warmup + iters):
        order = list(fns.items())
        if alternate and i % 2:
            order.reverse()
        for name, fn in order:
            sync(device)
            t0 = time.perf_counter()
            fn()
            sync(device)
            if i >= warmup:
                samples[name].append((time.perf_counter() - t0) * 1e3)
    return samples


def median(xs: list[float]) -> float:
    return statistics.median(xs)


def machine(device: torch.device) -> str:
    if device.type == "cuda":
        return f"{torch.cuda.get_device_name(device)}, torch {torch.__version__}, CUDA {torch.version.cuda}"
    import os
    import platform
    return (f"CPU {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
            f"{torch.get_num_threads()} threads, torch {torch.__version__}")
