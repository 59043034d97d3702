"""Training activations follow the device's kernels: the attention kernel the analysis expects is
the one torch picks (`torch._fused_sdp_choice` on the very arguments of each call), on the CPU
here and on a CUDA device when there is one; and on CUDA what autograd saves equals the analysis
with device="cuda" (within 2%; at least the figure where it leaves cuDNN's RNN reserve out), for
every layer kind and every bundled preset, fp32 and bf16. The CUDA tests skip without a device."""

from __future__ import annotations

import os
import sys

import pytest

torch = pytest.importorskip("torch")

sys.path.insert(0, os.path.dirname(__file__))

from test_activation_memory import KIND_CASES, PRESETS, kind_stack, small  # noqa: E402

from explorer.analysis import analyze  # noqa: E402
from explorer.design import yaml_io  # noqa: E402
from explorer.kinds.saving import Flow, attention_backend  # noqa: E402
from explorer.torchmodel import build_model, modules  # noqa: E402
from explorer.torchmodel.saved import saved_activation_bytes  # noqa: E402

CUDA = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
DEVICES = ["cpu", pytest.param("cuda", marks=[pytest.mark.gpu, CUDA])]
KERNELS = {0: "math", 1: "flash", 2: "efficient", 3: "cudnn"}
CHOICE_PRESETS = ["bert-base", "gpt2-tied", "gqa", "mqa", "cross-layer-kv", "moe", "t5-small", "t5-shared-layers",
                  "head-sharing"]


def kernel_choices(spec, device: str, dtype: str, batch: int = 2, seq: int = 24) -> list[tuple[str, str]]:
    """(kernel torch picks, kernel the analysis expects) for every attention call of one training
    forward. The analysis reads the call's shapes and whether its mask is T5's contiguous
    (decoder) or permuted (encoder) bias."""
    model = build_model(spec, device, dtype)
    model.train()
    seen = []
    real = torch.nn.functional.scaled_dot_product_attention

    def spy(q, k, v, attn_mask=None, is_causal=False, enable_gqa=False, **kw):
        torch_pick = KERNELS[torch._fused_sdp_choice(q, k, v, attn_mask, 0.0, is_causal, enable_gqa=enable_gqa)]
        mask = None if attn_mask is None else ("causal_bias" if attn_mask.is_contiguous() else "bias")
        f = Flow(batch=q.shape[0], seq=q.shape[2], low_precision=q.dtype != torch.float32, cuda=q.is_cuda)
        seen.append((torch_pick, attention_backend(f, q.shape[1], k.shape[1], q.shape[3], k.shape[2], mask)))
        return real(q, k, v, attn_mask=attn_mask, is_causal=is_causal, enable_gqa=enable_gqa, **kw)

    target = seq - 5 if any(x.target for x in spec.layers) else None
    modules.F.scaled_dot_product_attention = spy
    try:
        model(*model.example_inputs(batch, seq, target))
    finally:
        modules.F.scaled_dot_product_attention = real
    return seen


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", ["fp32", "bf16"])
@pytest.mark.parametrize("name", CHOICE_PRESETS)
def test_the_analysis_expects_the_kernel_torch_picks(name, dtype, device):
    spec = small(yaml_io.load([p for p in PRESETS if p.stem == name][0]))
    seen = kernel_choices(spec, device, dtype)
    assert seen and all(picked == expected for picked, expected in seen), seen


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("head_dim", [8, 12, 16, 20])
def test_the_kernel_follows_the_head_width(head_dim, device):
    """Head widths around the kernels' alignment rules (4 for fp32, 8 for 16-bit), with and without GQA."""
    import dataclasses

    spec = small(yaml_io.load([p for p in PRESETS if p.stem == "gqa"][0]))
    spec = spec.replace(settings=dataclasses.replace(spec.settings, head_dim=head_dim))
    for dtype in ("fp32", "bf16"):
        seen = kernel_choices(spec, device, dtype)
        assert seen and all(picked == expected for picked, expected in seen), (dtype, seen)


# ---------------------------------------------------------------- bytes, on a GPU

def assert_close(measured: int, memory) -> None:
    """Within 2% of the figure; where the figure says it leaves a kernel's private buffer out
    (cuDNN's RNN reserve), at least the figure (under a torch outside the rules' range: within 2%
    all the same, which is what widening the range would take)."""
    figure = memory.activations_training
    if not memory.activations_training_at_least:
        assert measured == pytest.approx(figure, rel=0.02), (measured, figure)
    else:
        assert measured >= 0.98 * figure, (measured, figure)


@pytest.mark.gpu
@CUDA
@pytest.mark.parametrize("dtype", ["fp32", "bf16"])
@pytest.mark.parametrize("path", PRESETS, ids=lambda p: p.stem)
def test_cuda_saves_what_the_analysis_says_for_every_preset(path, dtype):
    spec = small(yaml_io.load(path))
    for batch, seq in ((2, 32), (3, 17)):
        target = seq - 3 if any(x.target for x in spec.layers) else None
        model = build_model(spec, "cuda", dtype)
        got = saved_activation_bytes(model, model.example_inputs(batch, seq, target))
        memory = analyze(spec, batch, seq, dtype, target_seq=target, device="cuda").memory
        assert_close(got, memory)


@pytest.mark.gpu
@CUDA
@pytest.mark.parametrize("dtype", ["fp32", "bf16"])
@pytest.mark.parametrize("kind,variant,embedding", KIND_CASES,
                         ids=[f"{k}-{v}-{'emb' if e else 'raw'}" for k, v, e in KIND_CASES])
def test_cuda_saves_what_the_analysis_says_for_every_kind(kind, variant, embedding, dtype):
    spec = kind_stack(kind, variant, embedding)
    target = 29 if any(x.target for x in spec.layers) else None
    model = build_model(spec, "cuda", dtype)
    got = saved_activation_bytes(model, model.example_inputs(2, 32, target))
    assert_close(got, analyze(spec, 2, 32, dtype, target_seq=target, device="cuda").memory)
