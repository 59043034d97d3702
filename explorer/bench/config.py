"""What a timing run is asked to do, and one sample of it. Plain data: no torch import,
so the GUI thread can build a config without loading torch."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class BenchConfig:
    device: str = "cpu"
    dtype: str = "fp32"
    batch: int = 1
    seq: int = 128
    iters: int = 20
    warmup: int = 3
    mode: str = "forward"          # forward | train (forward + backward)
    compile: bool = False
    twin: bool = False
    seed: int = 0
    threads: int | None = None     # CPU intra-op threads for the run (None: torch's default)


@dataclass(frozen=True)
class Sample:
    series: str                    # "design" | "twin"
    index: int                     # iteration, warm-up included
    ms: float
    warmup: bool
