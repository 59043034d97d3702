"""Training activations on a CUDA device: what autograd saves there against the analysis.
The analysis follows torch's CPU kernels; CUDA's attention kernels keep a log-sum-exp (padded
by the memory-efficient one) and an RNG state, so this checks the documented 2% bound on a GPU.
Skips without a device."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

pytestmark = [pytest.mark.gpu, pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")]

from explorer.analysis import analyze
from explorer.design import yaml_io
from explorer.presets import PRESETS_DIR
from explorer.torchmodel import build_model
from explorer.torchmodel.saved import saved_activation_bytes


@pytest.mark.parametrize("name", ["bert-base", "gpt2-tied", "gqa", "moe", "t5-small"])
@pytest.mark.parametrize("dtype", ["fp32", "bf16"])
def test_cuda_saves_what_the_analysis_says(name, dtype):
    spec = yaml_io.load(PRESETS_DIR / f"{name}.yaml")
    target = 64 if any(x.target for x in spec.layers) else None
    model = build_model(spec, "cuda", dtype)
    measured = saved_activation_bytes(model, model.example_inputs(4, 128, target))
    figure = analyze(spec, 4, 128, dtype, target_seq=target).memory.activations_training
    assert measured == pytest.approx(figure, rel=0.02)
