"""Timing runs of a built design and its unshared twin, interleaved A, B, A, B.

Plain torch, no Qt: samples go to a callback, a `should_stop` callable is checked between
iterations, so the GUI worker (gui/workers.py) and the CLI share this engine. What a run
measured is in results.py, the devices in devices.py, the process's memory in process_memory.py.
"""

from __future__ import annotations

import copy
import dataclasses
import gc
import threading
import os
import time
from collections.abc import Callable

import torch

from explorer.analysis import analyze
from explorer.bench.config import BenchConfig, Sample
from explorer.bench.devices import available_devices, device_name, free_bytes, sync
from explorer.bench.process_memory import peak_rss_bytes, reset_peak_rss, rss_bytes
from explorer.bench.results import BenchResult, SeriesResult
from explorer.torchmodel import build_model
from explorer.torchmodel.saved import lm_heads, loss_targets, saved_activation_bytes, training_loss
from explorer.errors import BenchError, ExplorerError
from explorer.design.model import StackSpec, unshared_twin

# Tests patch build_model, unshared_twin, check_fits and _step in this module.
__all__ = ["check_fits", "run_bench"]


def _gib(n: float) -> str:
    return f"{n / (1 << 30):.2f} GiB"


def kernels_of(device) -> str:
    """Whose kernels the analysis's training-activation figure follows on `device`: cuda or cpu."""
    return "cuda" if torch.device(device).type == "cuda" else "cpu"


def check_fits(spec: StackSpec, config: BenchConfig) -> int:
    """Bytes the run needs (weights, twin, activations; x3 weights for training); refuse if too many."""
    report = analyze(spec, config.batch, config.seq, config.dtype, device=kernels_of(config.device))
    m = report.memory
    need = m.weights + m.activations_inference
    if config.mode == "train":
        need = m.weights * 2 + m.activations_training
    if config.twin:
        need += report.twin_memory.weights * (2 if config.mode == "train" else 1)
    device = torch.device(config.device)
    free = free_bytes(device)
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

    In train mode, what autograd saves for backward in one training forward of each model is
    measured (torchmodel/saved.py) beside the analysis's figure before timing starts.
    `on_built` gets a copy of the result once the models exist (counts, weight memory and, in
    train mode, the saved bytes filled in; no samples yet). Raises BenchError for out-of-memory,
    device errors and designs too large for the device; either way every tensor of the run is
    released (on CUDA, handed back to the device) before this returns.
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
    report = analyze(spec, config.batch, config.seq, config.dtype, device=kernels_of(config.device))
    check_fits(spec, config)
    threads_before = torch.get_num_threads()
    if config.threads is not None and device.type == "cpu" and config.threads != threads_before:
        torch.set_num_threads(config.threads)     # process-wide: only from a thread that owns the process
    flops = report.flops.forward * (3 if config.mode == "train" else 1)
    result = BenchResult(config, device_name(device), torch.get_num_threads(), flops, report.params.unique,
                         SeriesResult(), weights_analysis=report.memory.weights,
                         twin_params_analysis=report.twin_params.unique,
                         twin_weights_analysis=report.twin_memory.weights)
    saved_analysis = {"design": report.memory.activations_training, "twin": report.twin_memory.activations_training}
    error = None
    resident_before = rss_bytes()
    reset_peak_rss()
    try:
        _timed_run(spec, config, device, result, on_sample, should_stop, on_progress or (lambda _msg: None),
                   on_built, saved_analysis)
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
    peak = peak_rss_bytes() if device.type != "cuda" else None     # host memory says little about a GPU run
    if peak is not None and resident_before:
        result.resident_peak_delta_bytes = max(0, peak - resident_before)
    return result


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
               should_stop, progress, on_built, saved_analysis: dict[str, int]) -> None:
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
    x = models["design"].example_inputs(config.batch, config.seq, device=device, seed=config.seed)
    if config.mode == "train":
        for name, model in models.items():        # the timed step's forward, on the inputs it is timed on
            if should_stop():
                result.cancelled = True
                return
            what = "the unshared twin" if name == "twin" else spec.name
            progress(f"measuring what autograd saves for backward in {what}")
            series[name].saved_bytes_analysis = saved_analysis[name]
            series[name].saved_bytes_measured = saved_activation_bytes(model, x)
    if on_built is not None:
        on_built(copy.deepcopy(result))
    steps = {name: _step(model, x, config) for name, model in models.items()}
    cuda = device.type == "cuda"
    total = config.warmup + config.iters
    for i in range(total):
        for name, step in steps.items():              # A, B, A, B: noise hits both alike
            if should_stop():
                result.cancelled = True
                return
            sync(device)
            if cuda:
                torch.cuda.reset_peak_memory_stats(device)
                base = torch.cuda.memory_allocated(device)
            t0 = time.perf_counter()
            step()
            sync(device)
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


def _step(model, x: tuple, config: BenchConfig):
    fn = torch.compile(model) if config.compile else model
    if config.mode == "forward":
        def forward():
            with torch.inference_mode():
                fn(*x)
        return forward

    # the loss targets, made once on the model's device outside the timed region (the same ids as
    # the step whose saved bytes were measured): a timed step draws nothing and copies nothing in
    targets = None
    if lm_heads(model):
        with torch.no_grad():                         # one untimed forward, for the logits' shapes
            targets = loss_targets(model, model(*x), config.seed)

    def train_step():
        for p in model.parameters():
            p.grad = None
        out = fn(*x)
        # the step whose saved bytes were measured: a cross-entropy on the LM heads' logits; a design
        # without LM heads backpropagates the sum of its outputs' means (every output gets a gradient)
        loss = training_loss(model, out, config.seed, targets)
        if loss is None:
            loss = sum(v.float().mean() for v in out.values())
        loss.backward()
    return train_step
