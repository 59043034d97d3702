"""What a timing run measured: the samples of each series and the counts beside them.

Plain data, no torch: the GUI thread and the CLI read a result without loading torch.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field

from explorer.bench.config import BenchConfig
from explorer.bench.devices import bf16_peak


@dataclass
class SeriesResult:
    samples_ms: list[float] = field(default_factory=list)     # measured (warm-up excluded)
    warmup_ms: list[float] = field(default_factory=list)
    params_built: int = 0
    unique_tensors: int = 0
    weights_bytes: int = 0            # measured on the built model: CUDA allocated, or its storages' bytes
    activation_peak_bytes: int = 0    # CUDA: the most a pass allocated above what it started with
    # train mode: what autograd saves for backward in one training forward (the loss on the LM heads
    # included, parameters left out), measured on the built model (torchmodel/saved.py), and the
    # analysis's figure for it (memory.activations_training); None in forward mode
    saved_bytes_measured: int | None = None
    saved_bytes_analysis: int | None = None

    @property
    def peak_memory_bytes(self) -> int:
        """Weights plus the largest pass's extra memory (CUDA); the weights alone elsewhere."""
        return self.weights_bytes + self.activation_peak_bytes

    @property
    def median_ms(self) -> float:
        return statistics.median(self.samples_ms) if self.samples_ms else float("nan")

    def percentile(self, q: float) -> float:
        if not self.samples_ms:
            return float("nan")
        xs = sorted(self.samples_ms)
        k = (len(xs) - 1) * q
        lo, hi = int(k), min(int(k) + 1, len(xs) - 1)
        return xs[lo] + (xs[hi] - xs[lo]) * (k - lo)


@dataclass
class BenchResult:
    config: BenchConfig
    device_name: str
    threads: int
    flops_per_iter: int
    params_analysis: int
    design: SeriesResult
    twin: SeriesResult | None = None
    cancelled: bool = False
    weights_analysis: int = 0          # bytes of the design's weights by the analysis
    resident_peak_delta_bytes: int | None = None   # the process's peak resident growth over the run (Linux)
    twin_params_analysis: int = 0
    twin_weights_analysis: int = 0

    def tokens_per_s(self, series: SeriesResult) -> float:
        return self.config.batch * self.config.seq / (series.median_ms / 1e3)

    def tflops(self, series: SeriesResult) -> float:
        return self.flops_per_iter / (series.median_ms / 1e3) / 1e12

    def peak_fraction(self, series: SeriesResult) -> float | None:
        peak = bf16_peak(self.device_name)
        return None if peak is None else self.tflops(series) / peak

    @property
    def verified(self) -> bool:
        """torch's count of the built design (and of the twin, when timed) equals the analysis."""
        twin_ok = self.twin is None or self.twin.params_built == self.twin_params_analysis
        return self.design.params_built == self.params_analysis and twin_ok

    def to_json(self) -> dict:
        def series(s: SeriesResult) -> dict:
            row = {"median_ms": s.median_ms, "p10_ms": s.percentile(0.1), "p90_ms": s.percentile(0.9),
                   "samples_ms": s.samples_ms, "warmup_ms": s.warmup_ms,
                   "tokens_per_s": self.tokens_per_s(s), "tflops": self.tflops(s),
                   "weights_bytes": s.weights_bytes, "activation_peak_bytes": s.activation_peak_bytes,
                   "peak_memory_bytes": s.peak_memory_bytes}
            if self.config.mode == "train":
                row["saved_bytes_measured"] = s.saved_bytes_measured
                row["saved_bytes_analysis"] = s.saved_bytes_analysis
            return row

        c = self.config
        out = {
            "device": c.device, "device_name": self.device_name, "threads": self.threads, "dtype": c.dtype,
            "batch": c.batch, "seq": c.seq, "mode": c.mode, "compile": c.compile, "iters": c.iters,
            "warmup": c.warmup, "flops_per_iter": self.flops_per_iter, "cancelled": self.cancelled,
            "timing": series(self.design),
            "params": {"built": self.design.params_built, "analysis": self.params_analysis,
                       "verified": self.verified, "unique_tensors": self.design.unique_tensors},
            "memory": {"weights_analysis_bytes": self.weights_analysis,
                       "resident_peak_delta_bytes": self.resident_peak_delta_bytes},
        }
        frac = self.peak_fraction(self.design)
        if frac is not None:
            out["timing"]["bf16_peak_fraction"] = frac
        if self.twin is not None:
            out["twin"] = {"timing": series(self.twin), "params": {"built": self.twin.params_built,
                                                                   "analysis": self.twin_params_analysis}}
            out["ratio"] = self.design.median_ms / self.twin.median_ms if self.twin.samples_ms else None
        return out
