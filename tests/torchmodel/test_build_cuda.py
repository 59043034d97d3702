"""The built model on a CUDA device (skipped without one; run with `pytest -m gpu`).

Every scheme's design, built on the CPU in fp32 and moved to the GPU, computes what it
computes on the CPU; shared tensors stay single objects there; bf16 builds run finite;
a training step reaches every shared tensor.
"""

from __future__ import annotations

import pytest
import torch

from explorer.analysis import analyze
from explorer.torchmodel import build_model

pytestmark = [pytest.mark.gpu,
              pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")]

from test_build_schemes import B, S, cases, design  # noqa: E402


@pytest.fixture(autouse=True, scope="module")
def exact_matmuls():
    """No TF32: the CUDA results are compared with fp32 CPU results."""
    before = torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = False
    yield
    torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = before


@pytest.mark.parametrize("name, variant", list(cases()))
def test_scheme_on_cuda_equals_cpu_and_keeps_sharing(name, variant):
    spec = design(name, variant)
    model = build_model(spec, "cpu", seed=4)
    x = model.example_input(B, S)
    with torch.inference_mode():
        expected = model(x)
    unique = len(list(model.parameters()))
    model.to("cuda")
    assert len(list(model.parameters())) == unique                 # still one tensor per shared piece
    assert sum(p.numel() for p in model.parameters()) == analyze(spec, B, S).params.unique
    with torch.inference_mode():
        got = model(x.cuda())
    for key in expected:
        torch.testing.assert_close(got[key].cpu(), expected[key], rtol=1e-4, atol=1e-4, msg=key)


@pytest.mark.parametrize("name, variant", list(cases()))
def test_scheme_built_on_cuda_in_bf16_runs_and_trains(name, variant):
    spec = design(name, variant)
    model = build_model(spec, "cuda", "bf16", seed=5)
    assert all(p.device.type == "cuda" and p.dtype == torch.bfloat16 for p in model.parameters())
    assert sum(p.numel() for p in model.parameters()) == analyze(spec, B, S).params.unique
    x = model.example_input(B, S)
    assert x.device.type == "cuda"
    out = model(x)
    loss = sum(v.float().square().mean() for v in out.values())
    assert torch.isfinite(loss)
    loss.backward()
    for p in model.parameters():
        assert p.grad is not None and torch.isfinite(p.grad.float()).all()
