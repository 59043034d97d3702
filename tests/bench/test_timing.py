"""The timing engine: interleaved samples, warm-up apart, cancel, refusal of designs too large."""

from __future__ import annotations

import gc
import json
import sys

import pytest

from explorer.errors import BenchError
from explorer.design.model import LayerSpec, ModelSettings, StackSpec
from explorer.design.strategies import apply_scheme

torch = pytest.importorskip("torch")

from explorer.bench import timing  # noqa: E402
from explorer.bench.config import BenchConfig  # noqa: E402
from explorer.bench.devices import bf16_peak  # noqa: E402
from explorer.bench.timing import run_bench  # noqa: E402

TINY = StackSpec(settings=ModelSettings(d_model=32, n_heads=4, d_ff=64, vocab_size=50, max_positions=16),
                 layers=(LayerSpec("emb", "embedding"),) + tuple(LayerSpec(f"b{i}", "block") for i in range(4)),
                 name="tiny")


def test_samples_interleave_design_and_twin_and_skip_warmup():
    spec = apply_scheme(TINY, "albert")
    seen = []
    result = run_bench(spec, BenchConfig(batch=2, seq=8, iters=5, warmup=2, twin=True), on_sample=seen.append)
    assert [s.series for s in seen] == ["design", "twin"] * 7
    assert [s.warmup for s in seen[::2]] == [True, True, False, False, False, False, False]
    assert len(result.design.samples_ms) == 5 and len(result.design.warmup_ms) == 2
    assert len(result.twin.samples_ms) == 5
    assert result.verified
    assert result.twin.params_built > result.design.params_built
    assert all(ms > 0 for ms in result.design.samples_ms)
    data = result.to_json()
    json.dumps(data)
    assert data["ratio"] == pytest.approx(result.design.median_ms / result.twin.median_ms)
    assert data["timing"]["samples_ms"] == result.design.samples_ms


def test_train_mode_runs_backward():
    result = run_bench(TINY, BenchConfig(batch=2, seq=8, iters=2, warmup=0, mode="train"))
    assert len(result.design.samples_ms) == 2
    assert result.flops_per_iter % 3 == 0


def test_stop_cancels_within_one_iteration():
    seen = []
    result = run_bench(TINY, BenchConfig(batch=1, seq=8, iters=50, warmup=0), on_sample=seen.append,
                       should_stop=lambda: len(seen) >= 3)           # Stop pressed as the third sample lands
    assert result.cancelled
    assert len(seen) == 3 and len(result.design.samples_ms) == 3


def test_stop_while_building_cancels_at_the_next_layer():
    calls = []

    def stop():
        calls.append(1)
        return len(calls) > 2                 # asked before layers 1 and 2 of the design, then Stop

    messages = []
    result = run_bench(TINY, BenchConfig(batch=1, seq=8, twin=True), should_stop=stop, on_progress=messages.append)
    assert result.cancelled and len(calls) == 3
    assert result.design.params_built == 0 and result.twin is None and not result.design.samples_ms
    assert messages == [f"building tiny on {result.device_name}: layer 1 of 5"]


def test_too_large_is_refused_up_front_with_the_size():
    huge = StackSpec(settings=ModelSettings(d_model=16384, n_heads=128, vocab_size=256000, max_positions=8192),
                     layers=tuple(LayerSpec(f"b{i}", "block") for i in range(200)), name="huge")
    with pytest.raises(BenchError) as err:
        run_bench(huge, BenchConfig(batch=1, seq=16))
    assert "GiB" in str(err.value) and "free" in str(err.value)


def test_bad_device_and_mode():
    with pytest.raises(BenchError, match="not available"):
        run_bench(TINY, BenchConfig(device="cuda:7" if not torch.cuda.is_available() else "xla"))
    with pytest.raises(BenchError, match="mode"):
        run_bench(TINY, BenchConfig(mode="sideways"))


def test_peak_table():
    assert bf16_peak("NVIDIA H100 80GB HBM3") == pytest.approx(989.4)
    assert bf16_peak("NVIDIA H100 PCIe") == pytest.approx(756.0)
    assert bf16_peak("CPU (2 cores)") is None


def test_cli_bench_json_twin(capsys, tmp_path):
    from explorer.cli import main
    from explorer.design import yaml_io

    path = tmp_path / "tiny.yaml"
    yaml_io.save(apply_scheme(TINY, "albert"), path)
    assert main(["bench", str(path), "--json", "--twin", "--iters", "3", "--warmup", "1", "--seq", "8"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert len(data["timing"]["samples_ms"]) == 3 and data["timing"]["median_ms"] > 0
    assert data["params"]["built"] == data["params"]["analysis"]
    assert data["twin"]["timing"]["median_ms"] > 0 and data["ratio"] > 0


def _live_models() -> int:
    from explorer.torchmodel.runtime import SharedStack

    gc.collect()
    return sum(type(o) is SharedStack for o in gc.get_objects())


def test_built_report_comes_before_the_first_sample_with_counts_and_weights():
    spec = apply_scheme(TINY, "albert")
    events = []
    result = run_bench(spec, BenchConfig(batch=2, seq=8, iters=2, warmup=0, twin=True),
                       on_built=lambda info: events.append(("built", info)),
                       on_sample=lambda s: events.append(("sample", s)))
    assert [kind for kind, _ in events] == ["built"] + ["sample"] * 4
    info = events[0][1]
    assert info is not result and not info.design.samples_ms           # a copy, taken before timing
    assert info.design.params_built == result.params_analysis and info.verified
    assert info.twin.params_built == result.twin_params_analysis > info.design.params_built
    # the weights' bytes measured on the built models (their distinct storages) equal the analysis
    assert result.weights_analysis == 4 * result.params_analysis
    assert result.design.weights_bytes == result.weights_analysis
    assert result.twin.weights_bytes == result.twin_weights_analysis == 4 * result.twin_params_analysis
    assert result.to_json()["memory"]["weights_analysis_bytes"] == result.weights_analysis
    if sys.platform.startswith("linux"):                # the kernel's resident high-water mark, reset per run
        assert isinstance(result.resident_peak_delta_bytes, int) and result.resident_peak_delta_bytes >= 0


def test_the_twin_count_is_checked_too(monkeypatch):
    real = timing.unshared_twin
    monkeypatch.setattr(timing, "unshared_twin", lambda spec: real(spec).replace(layers=real(spec).layers[:-1]))
    result = run_bench(apply_scheme(TINY, "albert"), BenchConfig(batch=1, seq=8, iters=1, warmup=0, twin=True))
    assert result.design.params_built == result.params_analysis
    assert not result.verified                              # the twin built is not the twin analysed


def test_every_model_is_released_after_a_run_a_stop_and_a_failure(request):
    before = _live_models()
    run_bench(TINY, BenchConfig(batch=1, seq=8, iters=2, warmup=0, twin=True))
    assert _live_models() == before
    run_bench(TINY, BenchConfig(batch=1, seq=8, iters=50, warmup=0, twin=True), should_stop=lambda: True)
    assert _live_models() == before
    request.getfixturevalue("forward_runs_out_of_memory")
    with pytest.raises(BenchError, match="out of memory on cpu running tiny at batch 1 x seq 8"):
        run_bench(TINY, BenchConfig(batch=1, seq=8, iters=2, warmup=0, twin=True))
    assert _live_models() == before


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_run_measures_memory_and_hands_it_back():
    torch.cuda.empty_cache()
    allocated, reserved = torch.cuda.memory_allocated(), torch.cuda.memory_reserved()
    spec = apply_scheme(TINY, "albert")
    result = run_bench(spec, BenchConfig(device="cuda", dtype="bf16", iters=3, twin=True))
    assert result.verified
    # the design's weights are one block; the twin's four: measured allocations say so too
    assert result.design.weights_bytes >= result.weights_analysis
    assert result.twin.weights_bytes >= result.twin_weights_analysis > result.weights_analysis
    assert result.design.activation_peak_bytes > 0 and result.twin.activation_peak_bytes > 0
    assert torch.cuda.memory_allocated() == allocated
    assert torch.cuda.memory_reserved() == reserved          # cached blocks returned to the device


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_out_of_memory_is_one_line_and_the_device_recovers(monkeypatch):
    torch.cuda.empty_cache()
    allocated = torch.cuda.memory_allocated()
    free, _total = torch.cuda.mem_get_info()
    monkeypatch.setattr(timing, "check_fits", lambda *_a: 0)      # let the device itself refuse
    wide = StackSpec(settings=ModelSettings(d_model=8192, n_heads=64, d_ff=8192), name="wide",
                     layers=(LayerSpec("b0", "block"),))
    batch = int(free // (8192 * 4 * 4096 * 2)) + 1                 # the pass's hidden states alone exceed free memory
    with pytest.raises(BenchError, match=f"out of memory on cuda at batch {batch} x seq 4096|out of memory on cuda "
                                         f"running wide") as err:
        run_bench(wide, BenchConfig(device="cuda", dtype="fp32", batch=batch, seq=4096, iters=1, warmup=0))
    assert "\n" not in str(err.value)
    assert torch.cuda.memory_allocated() == allocated
    assert run_bench(apply_scheme(TINY, "albert"), BenchConfig(device="cuda", iters=1, warmup=0)).verified


def test_cpu_thread_count_is_applied_and_restored():
    before = torch.get_num_threads()
    result = run_bench(TINY, BenchConfig(batch=1, seq=8, iters=1, warmup=0, threads=1))
    assert result.threads == 1 and "1 torch thread)" in result.device_name
    assert torch.get_num_threads() == before
    with pytest.raises(BenchError, match="threads"):
        run_bench(TINY, BenchConfig(threads=0))


# ---------------------------------------------------------------- train mode: saved for backward, measured
LM = apply_scheme(TINY.replace(layers=TINY.layers + (LayerSpec("head", "lm_head"),), name="tiny-lm"), "albert")


def test_train_mode_measures_what_autograd_saves_beside_the_analysis(capsys, tmp_path):
    from explorer.analysis import analyze
    from explorer.torchmodel import build_model
    from explorer.torchmodel.saved import saved_activation_bytes

    config = BenchConfig(batch=2, seq=8, iters=2, warmup=1, mode="train", twin=True)
    built = []
    result = run_bench(LM, config, on_built=built.append)
    report = analyze(LM, config.batch, config.seq, config.dtype)
    for series, spec, memory in ((result.design, LM, report.memory),
                                 (result.twin, timing.unshared_twin(LM), report.twin_memory)):
        model = build_model(spec, "cpu", config.dtype, config.seed)
        x = model.example_inputs(config.batch, config.seq, device="cpu", seed=config.seed)
        assert series.saved_bytes_measured == saved_activation_bytes(model, x) > 0
        assert series.saved_bytes_analysis == memory.activations_training
    # measured before timing: the built report (what the Timing tab shows first) carries it
    assert built[0].design.saved_bytes_measured == result.design.saved_bytes_measured
    data = result.to_json()
    json.dumps(data)
    for key, series in (("timing", result.design), ("twin", result.twin)):
        row = data[key] if key == "timing" else data[key]["timing"]
        assert row["saved_bytes_measured"] == series.saved_bytes_measured
        assert row["saved_bytes_analysis"] == series.saved_bytes_analysis

    from explorer.cli import main
    from explorer.design import yaml_io

    path = tmp_path / "lm.yaml"
    yaml_io.save(LM, path)
    assert main(["bench", str(path), "--json", "--mode", "train", "--batch", "2", "--seq", "8", "--iters", "1",
                 "--warmup", "0"]) == 0
    cli = json.loads(capsys.readouterr().out)
    assert cli["mode"] == "train"
    assert cli["timing"]["saved_bytes_measured"] == result.design.saved_bytes_measured
    assert cli["timing"]["saved_bytes_analysis"] == result.design.saved_bytes_analysis


def test_forward_mode_measures_no_saved_bytes():
    result = run_bench(LM, BenchConfig(batch=2, seq=8, iters=1, warmup=0, twin=True))
    assert result.design.saved_bytes_measured is None and result.twin.saved_bytes_measured is None
    data = result.to_json()
    assert "saved_bytes_measured" not in data["timing"] and "saved_bytes_measured" not in data["twin"]["timing"]


def test_the_timed_train_step_is_a_cross_entropy_on_the_lm_heads(monkeypatch):
    real = timing.training_loss
    losses = []

    def spy(model, out, seed=0, targets=None):
        loss = real(model, out, seed, targets)
        losses.append(loss)
        return loss

    monkeypatch.setattr(timing, "training_loss", spy)
    run_bench(LM, BenchConfig(batch=2, seq=8, iters=2, warmup=1, mode="train", twin=True))
    assert len(losses) == 6 and all(loss is not None and loss.ndim == 0 for loss in losses)
    losses.clear()
    result = run_bench(TINY, BenchConfig(batch=2, seq=8, iters=2, warmup=0, mode="train"))   # no LM head
    assert losses == [None, None] and len(result.design.samples_ms) == 2      # the sum of means instead
    assert result.design.saved_bytes_measured > 0


def test_stop_while_measuring_saved_bytes_cancels_and_releases_the_models():
    before = _live_models()
    stop = []

    def progress(message: str) -> None:
        if message.startswith("measuring"):
            stop.append(message)                        # Stop pressed while the design is measured

    result = run_bench(LM, BenchConfig(batch=1, seq=8, iters=50, warmup=0, mode="train", twin=True),
                       should_stop=lambda: bool(stop), on_progress=progress)
    assert result.cancelled and stop == ["measuring what autograd saves for backward in tiny-lm"]
    assert result.design.saved_bytes_measured > 0 and result.twin.saved_bytes_measured is None
    assert not result.design.samples_ms
    assert _live_models() == before


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_train_run_measures_saved_bytes_and_the_step_peak_and_hands_memory_back():
    from explorer.torchmodel import build_model
    from explorer.torchmodel.saved import saved_activation_bytes

    torch.cuda.empty_cache()
    allocated = torch.cuda.memory_allocated()
    config = BenchConfig(device="cuda", dtype="bf16", batch=2, seq=16, iters=2, warmup=1, mode="train", twin=True)
    result = run_bench(LM, config)
    assert result.verified
    model = build_model(LM, "cuda", config.dtype, config.seed)
    x = model.example_inputs(config.batch, config.seq, device="cuda", seed=config.seed)
    assert result.design.saved_bytes_measured == saved_activation_bytes(model, x) > 0
    del model, x
    # a step allocates at least what its forward saves (plus the gradients)
    assert result.design.activation_peak_bytes >= result.design.saved_bytes_measured
    assert result.twin.activation_peak_bytes >= result.twin.saved_bytes_measured > 0
    data = result.to_json()
    assert data["timing"]["activation_peak_bytes"] == result.design.activation_peak_bytes
    gc.collect()
    torch.cuda.empty_cache()
    assert torch.cuda.memory_allocated() == allocated


def test_the_timed_train_step_makes_no_targets(monkeypatch):
    """The loss targets are made once, on the model's device, before the timed loop: no step draws
    them (a CPU draw and a host-to-device copy inside the timed region)."""
    import torch.nn.functional as F

    from explorer.torchmodel import saved

    events = []
    real_randint, real_cross_entropy = torch.randint, F.cross_entropy

    def randint(*args, **kwargs):
        events.append(("randint", None))
        return real_randint(*args, **kwargs)

    def cross_entropy(logits, target, *args, **kwargs):
        events.append(("loss", target))                 # kept alive: identities stay distinct
        return real_cross_entropy(logits, target, *args, **kwargs)

    monkeypatch.setattr(torch, "randint", randint)
    monkeypatch.setattr(saved.F, "cross_entropy", cross_entropy)
    config = BenchConfig(batch=2, seq=8, iters=3, warmup=1, mode="train")
    run_bench(LM, config, on_sample=lambda s: events.append(("sample", s.index)))
    first_sample = events.index(("sample", 0))
    assert ("randint", None) not in events[first_sample:]           # nothing drawn once timing runs
    timed = [target for what, target in events if what == "loss"][-(config.warmup + config.iters):]
    assert all(target is timed[0] for target in timed)               # one target tensor, every step
    assert timed[0].device.type == "cpu" and timed[0].shape == (2 * 8,)
