"""Timing runs of a built design and its unshared twin, interleaved A, B, A, B.

Plain torch, no Qt: samples go to a callback, a `should_stop` callable is checked between
iterations, so the GUI worker (gui/workers.py) and the CLI share this engine.
"""

from __future__ import annotations

import copy
import dataclasses
import gc
import threading
import os
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import torch

from explorer.analysis import analyze
from explorer.bench.config import BenchConfig, Sample
from explorer.torchmodel import build_model
from explorer.errors import BenchError, ExplorerError
from explorer.design.model import StackSpec, unshared_twin

# Dense (no sparsity) bf16 tensor-core peak, TFLOP/s, from the vendors' data sheets.
BF16_PEAK_TFLOPS = {
    "H200": 989.4,
    "H100 SXM": 989.4,
    "H100 80GB HBM3": 989.4,
    "H100 PCIe": 756.0,
    "H100 NVL": 835.0,
    "A100": 312.0,
    "L40S": 362.0,
    "L4": 121.0,
    "A10": 125.0,
    "RTX 4090": 165.2,
}


@dataclass
class SeriesResult:
    samples_ms: list[float] = field(default_factory=list)     # measured (warm-up excluded)
    warmup_ms: list[float] = field(default_factory=list)
    params_built: int = 0
    unique_tensors: int = 0
    weights_bytes: int = 0            # measured on the built model: CUDA allocated, or its storages' bytes
    activation_peak_bytes: int = 0    # CUDA: the most a pass allocated above what it started with

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
            return {"median_ms": s.median_ms, "p10_ms": s.percentile(0.1), "p90_ms": s.percentile(0.9),
                    "samples_ms": s.samples_ms, "warmup_ms": s.warmup_ms,
                    "tokens_per_s": self.tokens_per_s(s), "tflops": self.tflops(s),
                    "weights_bytes": s.weights_bytes, "activation_peak_bytes": s.activation_peak_bytes,
                    "peak_memory_bytes": s.peak_memory_bytes}

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


def bf16_peak(device_name: str) -> float | None:
    for key in sorted(BF16_PEAK_TFLOPS, key=len, reverse=True):
        if key.lower() in device_name.lower():
            return BF16_PEAK_TFLOPS[key]
    return None


def available_devices() -> list[str]:
    out = ["cpu"]
    if torch.cuda.is_available():
        out += [f"cuda:{i}" for i in range(torch.cuda.device_count())]
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        out.append("mps")
    return out


def device_labels() -> list[tuple[str, str]]:
    """(device, label) for each available device, e.g. ("cuda:0", "cuda:0  NVIDIA H100 80GB HBM3")."""
    out = []
    for dev in available_devices():
        label = dev
        if dev.startswith("cuda:"):
            label = f"{dev}  {torch.cuda.get_device_name(int(dev.split(':')[1]))}"
        out.append((dev, label))
    return out


def device_name(device: torch.device) -> str:
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    if device.type == "cpu":
        threads = torch.get_num_threads()
        return f"CPU ({os.cpu_count()} cores, {threads} torch thread{'' if threads == 1 else 's'})"
    return device.type


def _free_bytes(device: torch.device) -> int | None:
    if device.type == "cuda":
        free, _total = torch.cuda.mem_get_info(device)
        return free
    if device.type == "cpu":
        try:
            with open("/proc/meminfo") as fh:
                for line in fh:
                    if line.startswith("MemAvailable:"):
                        return int(line.split()[1]) * 1024
        except OSError:
            return None
    return None


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    elif device.type == "mps":
        torch.mps.synchronize()


def _gib(n: float) -> str:
    return f"{n / (1 << 30):.2f} GiB"


def check_fits(spec: StackSpec, config: BenchConfig) -> int:
    """Bytes the run needs (weights, twin, activations; x3 weights for training); refuse if too many."""
    report = analyze(spec, config.batch, config.seq, config.dtype)
    m = report.memory
    need = m.weights + m.activations_inference
    if config.mode == "train":
        need = m.weights * 2 + m.activations_training
    if config.twin:
        need += report.twin_memory.weights * (2 if config.mode == "train" else 1)
    device = torch.device(config.device)
    free = _free_bytes(device)
    if free is not None and need > 0.9 * free:
        raise BenchError(f"{spec.name} needs about {_gib(need)} on {config.device} for batch {config.batch} x seq "
                         f"{config.seq} ({config.dtype}, {config.mode}{', with twin' if config.twin else ''}) "
                         f"but only {_gib(free)} is free")
    return need


def run_bench(spec: StackSpec, config: BenchConfig, on_sample: Callable[[Sample], None] | None = None,
              should_stop: Callable[[], bool] = lambda: False,
              on_progress: Callable[[str], None] | None = None,
              on_built: Callable[[BenchResult], None] | None = None) -> BenchResult:
    """Build `spec` (and its twin), then time `iters` iterations of each, interleaved.

    `on_built` gets a copy of the result once the models exist (counts and weight memory
    filled in, no samples yet). Raises BenchError for out-of-memory, device errors and
    designs too large for the device; either way every tensor of the run is released
    (on CUDA, handed back to the device) before this returns.
    """
    if config.mode not in ("forward", "train"):
        raise BenchError(f"mode must be forward or train, not {config.mode!r}")
    if config.dtype not in ("fp32", "bf16", "fp16"):
        raise BenchError(f"dtype {config.dtype!r} cannot be timed (fp32, bf16, fp16)")
    if config.iters < 1 or config.warmup < 0:
        raise BenchError("iterations must be at least 1 and warm-up at least 0")
    try:
        device = torch.device(config.device)
    except (RuntimeError, TypeError, ValueError):
        raise BenchError(f"unknown device {config.device!r} (devices here: {', '.join(available_devices())})") from None
    if config.device not in available_devices() and not (device.type == "cuda" and torch.cuda.is_available()):
        raise BenchError(f"device {config.device!r} is not available here (devices: {', '.join(available_devices())})")
    cores = os.cpu_count() or 1
    if config.threads is not None and not 1 <= config.threads <= cores:
        # more threads than cores only adds contention; tens of thousands crash OpenMP outright
        raise BenchError(f"threads must be from 1 to {cores} (this machine's cores), got {config.threads}")
    if config.compile and config.warmup < 1:
        config = dataclasses.replace(config, warmup=1)   # the first compiled pass is compilation, not the model
    report = analyze(spec, config.batch, config.seq, config.dtype)
    check_fits(spec, config)
    threads_before = torch.get_num_threads()
    if config.threads is not None and device.type == "cpu" and config.threads != threads_before:
        torch.set_num_threads(config.threads)     # process-wide: only from a thread that owns the process
    flops = report.flops.forward * (3 if config.mode == "train" else 1)
    result = BenchResult(config, device_name(device), torch.get_num_threads(), flops, report.params.unique,
                         SeriesResult(), weights_analysis=report.memory.weights,
                         twin_params_analysis=report.twin_params.unique,
                         twin_weights_analysis=report.twin_memory.weights)
    error = None
    resident_before = _rss_bytes()
    _reset_peak_rss()
    try:
        _timed_run(spec, config, device, result, on_sample, should_stop, on_progress or (lambda _msg: None),
                   on_built)
    except torch.OutOfMemoryError:
        error = (f"out of memory on {config.device} running {spec.name} at batch {config.batch} x seq "
                 f"{config.seq} ({config.dtype}, {config.mode}{', with twin' if config.twin else ''}); weights "
                 f"alone are {_gib(report.memory.weights)}")
    except (ExplorerError, KeyboardInterrupt):
        raise
    except (RuntimeError, ValueError, TypeError, IndexError) as err:     # torch's errors: one line, never a traceback
        first = str(err).strip().splitlines()[0][:300] if str(err).strip() else type(err).__name__
        if "out of memory" in first.lower() or "can't allocate" in first.lower():
            error = f"out of memory on {config.device} at batch {config.batch} x seq {config.seq}: {first}"
        else:
            error = f"{config.device} error while timing {spec.name}: {first}"
    finally:
        if torch.get_num_threads() != threads_before:
            torch.set_num_threads(threads_before)
        # the run's frame is gone; a handled error's traceback too (an except clause clears it
        # before finally runs), so its tensors are free here; only a re-raised error still holds them
        _release(device)
    if error is not None:
        raise BenchError(error)
    peak = _peak_rss_bytes() if device.type != "cuda" else None     # host memory says little about a GPU run
    if peak is not None and resident_before:
        result.resident_peak_delta_bytes = max(0, peak - resident_before)
    return result


def _rss_bytes() -> int:
    """The process's resident memory now (Linux), else 0."""
    try:
        with open("/proc/self/statm") as fh:
            return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return 0


def _reset_peak_rss() -> None:
    """Start the kernel's resident high-water mark afresh (Linux 4.0+); elsewhere a no-op."""
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
    except OSError:
        pass


def _peak_rss_bytes() -> int | None:
    """The process's resident high-water mark since the last reset (Linux), else None."""
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


def _release(device: torch.device) -> None:
    """Hand the run's memory back. Collect cycles only on the main thread: a collection on a
    worker thread also finalizes whatever else is garbage, Qt widgets included, and a QObject
    destroyed off the GUI thread deadlocks or crashes the app (seen under xcb: ~QObject waiting
    for the GIL inside gc). The app collects on its GUI thread instead (gui/app.py)."""
    if threading.current_thread() is threading.main_thread():
        gc.collect()
    if device.type == "cuda":
        torch.cuda.empty_cache()
    elif device.type == "mps":
        torch.mps.empty_cache()


class _Cancelled(Exception):
    """Stop was asked for while a model was being built."""


def _built(device: torch.device, build: Callable[[], torch.nn.Module]) -> tuple[torch.nn.Module, int]:
    """The model `build()` makes and the bytes its weights take: on CUDA what the allocator handed
    out while building; elsewhere the sizes of its parameters' distinct storages (the process's
    resident size is no measure there: freed heap memory is reused without growing it)."""
    if device.type == "cuda":
        before = torch.cuda.memory_allocated(device)
        model = build()
        return model, max(0, torch.cuda.memory_allocated(device) - before)
    model = build()
    storages = {p.untyped_storage().data_ptr(): p.untyped_storage().nbytes() for p in model.parameters()}
    return model, sum(storages.values())


def _timed_run(spec: StackSpec, config: BenchConfig, device: torch.device, result: BenchResult, on_sample,
               should_stop, progress, on_built) -> None:
    """Build and time, filling `result`. Every tensor lives in this frame, so it dies with it."""
    models = {}
    series = {"design": result.design}

    def layer_progress(what: str):
        shown = 0.0

        def on_layer(i: int, n: int) -> None:
            nonlocal shown
            if should_stop():
                raise _Cancelled
            now = time.monotonic()
            if i == 0 or now - shown > 0.2:           # a few lines a second, however many layers
                progress(f"building {what} on {device_name(device)}: layer {i + 1} of {n}")
                shown = now
        return on_layer

    try:
        models["design"], result.design.weights_bytes = _built(
            device, lambda: build_model(spec, device, config.dtype, config.seed, layer_progress(spec.name)))
        if config.twin:
            result.twin = series["twin"] = SeriesResult()
            models["twin"], result.twin.weights_bytes = _built(
                device, lambda: build_model(unshared_twin(spec), device, config.dtype, config.seed,
                                            layer_progress("the unshared twin")))
    except _Cancelled:
        result.cancelled = True
        return
    for name, model in models.items():
        params = list(model.parameters())
        series[name].params_built = sum(p.numel() for p in params)
        series[name].unique_tensors = len(params)
        model.train(config.mode == "train")
    if on_built is not None:
        on_built(copy.deepcopy(result))
    x = models["design"].example_input(config.batch, config.seq, device, seed=config.seed)
    steps = {name: _step(model, x, config) for name, model in models.items()}
    cuda = device.type == "cuda"
    total = config.warmup + config.iters
    for i in range(total):
        for name, step in steps.items():              # A, B, A, B: noise hits both alike
            if should_stop():
                result.cancelled = True
                return
            _sync(device)
            if cuda:
                torch.cuda.reset_peak_memory_stats(device)
                base = torch.cuda.memory_allocated(device)
            t0 = time.perf_counter()
            step()
            _sync(device)
            ms = (time.perf_counter() - t0) * 1e3
            if cuda:
                s = series[name]
                s.activation_peak_bytes = max(s.activation_peak_bytes,
                                              torch.cuda.max_memory_allocated(device) - base)
            warm = i < config.warmup
            (series[name].warmup_ms if warm else series[name].samples_ms).append(ms)
            if on_sample is not None:
                on_sample(Sample(name, i, ms, warm))
        progress(f"warm-up {i + 1}/{config.warmup}" if i < config.warmup
                 else f"iteration {i - config.warmup + 1}/{config.iters}")


def _step(model, x, config: BenchConfig):
    fn = torch.compile(model) if config.compile else model
    if config.mode == "forward":
        def forward():
            with torch.inference_mode():
                fn(x)
        return forward

    def train_step():
        for p in model.parameters():
            p.grad = None
        out = fn(x)
        loss = sum(v.float().mean() for v in out.values())
        loss.backward()
    return train_step
