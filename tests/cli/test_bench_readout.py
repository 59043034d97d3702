"""The timing readout: one formatter (explorer/readouts.py) for `explorer bench` and the Timing tab."""

from __future__ import annotations

import subprocess
import sys

import pytest

from explorer.bench.config import BenchConfig
from explorer.bench.results import BenchResult, SeriesResult
from explorer.cli import main
from explorer.readouts import bench_readout_lines


def result(device: str = "cpu", device_name: str = "CPU (2 cores, 2 torch threads)", twin: bool = True,
           mode: str = "forward", **series) -> BenchResult:
    design = SeriesResult(samples_ms=[10.0, 12.0, 11.0], params_built=1000, unique_tensors=4, weights_bytes=4000,
                          **series)
    other = SeriesResult(samples_ms=[20.0, 22.0, 24.0], params_built=3000, unique_tensors=12, weights_bytes=12000,
                         **series) if twin else None
    return BenchResult(BenchConfig(device=device, batch=2, seq=8, twin=twin, mode=mode), device_name, 2, 10**9, 1000,
                       design, other, weights_analysis=4000, resident_peak_delta_bytes=5 << 20,
                       twin_params_analysis=3000, twin_weights_analysis=12000)


def test_the_readout_in_words():
    assert bench_readout_lines(result(), baseline=("v1", 5.0)) == [
        "design 11.00 ms median (p10 10.20, p90 11.80, 3 passes) · 1,455 tokens/s · 0.091 TFLOP/s",
        "unshared twin 22.00 ms median (p10 20.40, p90 23.60, 3 passes) · 727 tokens/s · 0.045 TFLOP/s"
        " · design/twin 0.500",
        "vs pinned baseline v1 (5.00 ms): 2.200",
        "built 1,000 parameters in 4 tensors (verified against the analysis 1,000); twin 3,000 in 12 tensors",
        "weights (torch storages): design 3.91 KiB (analysis 3.91 KiB), twin 11.72 KiB (analysis 11.72 KiB); "
        "process resident peak +5.00 MiB over the run (models, inputs and passes, both series)",
        "CPU (2 cores, 2 torch threads) · fp32 · batch 2 x seq 8 · forward",
    ]


def test_a_gpu_readout_has_the_pass_memory_and_the_bf16_peak():
    lines = bench_readout_lines(result("cuda", "NVIDIA H100 80GB HBM3", twin=False, activation_peak_bytes=2048))
    assert lines[0].endswith(" · 0.0% of bf16 peak")
    assert "weights (CUDA allocated): design 3.91 KiB (analysis 3.91 KiB); a pass adds up to 2.00 KiB" in lines[2]
    assert "both series" not in lines[2] and "twin" not in lines[1]


def test_a_train_readout_has_the_bytes_saved_for_backward_beside_the_analysis():
    lines = bench_readout_lines(result(mode="train", saved_bytes_measured=12_900_000, saved_bytes_analysis=12_000_000))
    assert lines[-2] == ("activations saved for backward: measured 12.30 MiB, analysis 11.44 MiB (1.075); "
                         "twin measured 12.30 MiB, analysis 11.44 MiB (1.075)")
    assert lines[-1] == "CPU (2 cores, 2 torch threads) · fp32 · batch 2 x seq 8 · train"
    # the other lines are those of a forward run
    forward = bench_readout_lines(result())
    assert lines[:-2] == forward[:-1] and not any("saved for backward" in line for line in forward)


def test_a_cuda_train_readout_has_the_step_peak_on_the_saved_line():
    lines = bench_readout_lines(result("cuda", "NVIDIA H100 80GB HBM3", twin=False, mode="train",
                                       activation_peak_bytes=3 << 20, saved_bytes_measured=1 << 20,
                                       saved_bytes_analysis=1 << 20))
    assert lines[3] == ("activations saved for backward: measured 1.00 MiB, analysis 1.00 MiB (1.000); "
                        "a training step adds up to 3.00 MiB allocated")
    assert "a pass adds up to" not in lines[2]


def test_a_train_run_stopped_before_the_measurement_has_no_saved_line():
    lines = bench_readout_lines(result(mode="train"))
    assert not any("saved for backward" in line for line in lines)


def test_explorer_bench_train_prints_the_measured_saved_bytes(capsys, tmp_path):
    pytest.importorskip("torch")
    from explorer.design import yaml_io
    from explorer.design.model import LayerSpec, ModelSettings, StackSpec
    from explorer.fmt import nbytes
    from explorer.torchmodel import build_model
    from explorer.torchmodel.saved import saved_activation_bytes

    spec = StackSpec(settings=ModelSettings(d_model=32, n_heads=4, d_ff=64, vocab_size=50, max_positions=16),
                     layers=(LayerSpec("emb", "embedding"), LayerSpec("b0", "block"), LayerSpec("head", "lm_head")),
                     name="tiny-lm")
    path = tmp_path / "tiny.yaml"
    yaml_io.save(spec, path)
    assert main(["bench", str(path), "--mode", "train", "--batch", "2", "--seq", "8", "--iters", "1",
                 "--warmup", "0"]) == 0
    out = capsys.readouterr().out
    model = build_model(spec, "cpu", "fp32", 0)
    measured = saved_activation_bytes(model, model.example_inputs(2, 8, device="cpu", seed=0))
    assert f"activations saved for backward: measured {nbytes(measured)}, analysis " in out
    assert main(["bench", str(path), "--batch", "2", "--seq", "8", "--iters", "1", "--warmup", "0"]) == 0
    assert "saved for backward" not in capsys.readouterr().out


def test_before_the_first_sample_and_after_a_stop_in_warm_up():
    built = result()
    built.design.samples_ms.clear()
    assert bench_readout_lines(built)[0] == "built; timing…"
    built.cancelled = True
    assert bench_readout_lines(built)[0] == "no measured iterations (stopped during warm-up)"


def test_explorer_bench_prints_the_run_panels_readout(capsys, monkeypatch):
    pytest.importorskip("torch")
    from explorer.bench import timing

    fixed = result()
    monkeypatch.setattr(timing, "run_bench", lambda *_a, **_k: fixed)
    assert main(["bench", "tutorial-all-shared", "--twin"]) == 0
    readout = "\n".join(bench_readout_lines(fixed))
    assert capsys.readouterr().out == f"tutorial-all-shared\n{readout}\n"
    pytest.importorskip("PySide6")
    pytest.importorskip("pyqtgraph")
    from explorer.gui.run_panel import RunPanel

    assert RunPanel.describe(fixed) == readout


def test_the_formatters_and_results_load_without_torch_or_qt():
    code = ("import sys; import explorer.cli, explorer.readouts, explorer.bench.results, "
            "explorer.bench.devices, explorer.bench.process_memory; "
            "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('torch', 'PySide6', 'pyqtgraph')); "
            "assert not bad, bad")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr
