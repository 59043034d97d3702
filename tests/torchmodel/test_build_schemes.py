"""Every scheme, built: torch's counts and FLOPs equal the analysis, and the CPU model runs.

Tiny sizes; torch runs on one thread so that the suite stays fast on a busy 2-core machine.
"""

from __future__ import annotations

import os
import sys

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(__file__)), "design"))

from design_strategies import conv_stack, designs, moe_stack, rnn_stack, schemed_designs

from explorer.analysis import analyze
from explorer.torchmodel import build_model, verify
from explorer.errors import BuildError
from explorer.design.model import LayerSpec, ModelSettings, StackSpec, dims
from explorer.design.strategies import SCHEMES, apply_scheme

B, S = 2, 6


VARIANTS = {
    "bert": {"positional": "learned", "causal": False, "norm": "layernorm", "norm_position": "post",
             "activation": "gelu", "bias": True, "type_vocab_size": 2},
    "llama": {"positional": "rotary", "causal": True, "norm": "rmsnorm", "norm_position": "pre",
              "activation": "swiglu", "bias": False},
    "sinus": {"positional": "sinusoidal", "causal": True, "activation": "geglu", "embedding_size": 8,
              "attention_bias": False},
}


def full_stack(variant: str, n_blocks: int = 4) -> StackSpec:
    """embedding, blocks, pooler, LM head, a sequence head and a token head."""
    s = ModelSettings(d_model=16, n_heads=4, d_ff=24, vocab_size=19, max_positions=16, **VARIANTS[variant])
    layers = (LayerSpec("emb", "embedding", embedding_norm=variant == "bert"),)
    layers += tuple(LayerSpec(f"b{i}", "block") for i in range(n_blocks))
    layers += (LayerSpec("pool", "pooler"), LayerSpec("out", "lm_head", transform=variant != "llama"),
               LayerSpec("cls", "head", n_outputs=3), LayerSpec("tok", "head", n_outputs=2, task="token"))
    return StackSpec(s, layers, name=variant)


SCHEME_CASES = {
    "albert": {}, "albert-ffn": {}, "albert-attention": {}, "universal": {},
    "sequence": {"blocks": 2}, "cycle": {"blocks": 2}, "cycle-reverse": {"blocks": 3}, "immediate-repeat": {},
    "interleaved": {}, "skip": {"skip": 2}, "head-sharing": {"heads": "1:3"}, "gqa": {"n_kv_heads": 2},
    "mqa": {}, "cross-layer-kv": {"every": 2}, "tie-embeddings": {}, "factorized-embedding": {"size": 8},
    "shared-low-rank": {"rank": 4}, "relaxed-recursion": {"rank": 2, "blocks": 2},
    "shared-rnn-cell": {}, "shared-conv-bank": {}, "grouped-conv": {"groups": 4},
    "multi-task": {"tasks": [2, 5]}, "unshare": {}, "expert-bank": {"banks": 2}, "shared-expert": {},
}


BY_VARIANT = {
    "bert": ["albert", "albert-attention", "sequence", "cycle-reverse", "interleaved", "head-sharing", "mqa",
             "tie-embeddings", "shared-low-rank", "multi-task", "universal"],
    "llama": ["albert", "albert-ffn", "cycle", "immediate-repeat", "skip", "head-sharing", "gqa", "cross-layer-kv",
              "factorized-embedding", "relaxed-recursion", "unshare", "universal"],
    "sinus": ["tie-embeddings", "head-sharing", "cross-layer-kv"],
    "rnn-bias": ["shared-rnn-cell"],
    "rnn-nobias": ["shared-rnn-cell"],
    "conv": ["shared-conv-bank", "grouped-conv"],
    "moe": ["expert-bank", "shared-expert", "albert", "albert-ffn", "cycle", "head-sharing", "gqa", "tie-embeddings",
            "cross-layer-kv"],
}


def cases():
    for variant, names in BY_VARIANT.items():
        for name in names:
            yield pytest.param(name, variant, id=f"{name}-{variant}")


def test_every_scheme_is_built_somewhere():
    assert {name for names in BY_VARIANT.values() for name in names} == set(SCHEMES) == set(SCHEME_CASES)


def design(name: str, variant: str) -> StackSpec:
    if variant.startswith("rnn"):
        base = rnn_stack(3, bias=variant == "rnn-bias")
    elif variant == "conv":
        base = conv_stack(3)
    elif variant == "moe":
        base = moe_stack(4)
    else:
        base = full_stack(variant)
    return apply_scheme(base, name, **SCHEME_CASES[name])


def expected_shapes(spec: StackSpec, batch: int, seq: int) -> dict[str, tuple[int, ...]]:
    out = {"hidden": (batch, seq, spec.settings.d_model)}
    for layer in spec.layers:
        d = dims(layer, spec.settings)
        if layer.kind == "pooler":
            out[layer.id] = (batch, d.d_model)
        elif layer.kind == "lm_head":
            out[layer.id] = (batch, seq, d.vocab_size)
        elif layer.kind == "head":
            out[layer.id] = (batch, seq, d.n_outputs) if d.task == "token" else (batch, d.n_outputs)
    return out


def run_cpu(spec: StackSpec, batch: int, seq: int) -> dict[str, torch.Tensor]:
    model = build_model(spec, "cpu")
    x = model.example_input(batch, seq)
    with torch.no_grad():
        out = model(x)
    assert {k: tuple(v.shape) for k, v in out.items()} == expected_shapes(spec, batch, seq)
    for key, value in out.items():
        assert torch.isfinite(value).all(), key
    return out


@pytest.mark.parametrize("name, variant", list(cases()))
def test_scheme_builds_counts_and_runs(name, variant):
    spec = design(name, variant)
    check = verify(spec, B, S)
    assert check.ok, check.mismatches()
    report = analyze(spec, B, S)
    assert check.params_torch == report.params.unique
    assert check.flops_torch == report.flops.forward
    if SCHEMES[name].pure and name != "unshare" and spec.groups:
        assert report.params.unique < report.params.unshared
    run_cpu(spec, B, S)


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_unshared_designs_match_torch(variant):
    spec = full_stack(variant, 2)
    check = verify(spec, 1, 16)
    assert check.ok, check.mismatches()
    run_cpu(spec, 1, 16)


def test_every_layer_kind_in_one_stack():
    """Every registered kind, built and checked against torch: a new kind is tested here by being
    registered (those reading an encoder's output come after a decoder's target embedding)."""
    from explorer.kinds import REGISTRY

    s = ModelSettings(d_model=8, n_heads=2, d_ff=16, vocab_size=11, max_positions=8, positional="none")
    encoder = [k for k, v in REGISTRY.items() if not v.reads_memory and k != "embedding"]
    decoder = [k for k, v in REGISTRY.items() if v.reads_memory]
    kinds = ["embedding", *encoder, *(["embedding", *decoder] if decoder else [])]
    layers = tuple(LayerSpec(f"l{i}", kind, target=kind == "embedding" and i > 0) for i, kind in enumerate(kinds))
    spec = StackSpec(s, layers)
    check = verify(spec, 2, 5)
    assert check.ok, check.mismatches()
    check = verify(spec, 2, 5, 3)
    assert check.ok, check.mismatches()
    model = build_model(spec, "cpu")
    with torch.no_grad():
        out = model(*model.example_inputs(2, 5, 3))
    assert all(torch.isfinite(v).all() for v in out.values())


def test_mixed_rotary_head_widths_run():
    # a valid design: per-layer head_dim overrides under rotary positions
    s = ModelSettings(d_model=16, n_heads=4, d_ff=24, positional="rotary", causal=True)
    spec = StackSpec(s, (LayerSpec("a", "block", head_dim=4), LayerSpec("b", "block", head_dim=8),
                         LayerSpec("c", "attention", n_heads=2, head_dim=6)))
    check = verify(spec, 2, 5)
    assert check.ok, check.mismatches()
    run_cpu(spec, 2, 5)


def test_bf16_build_and_errors():
    spec = full_stack("llama", 2)
    model = build_model(spec, "cpu", "bf16")
    assert {p.dtype for p in model.parameters()} == {torch.bfloat16}
    with torch.no_grad():
        out = model(model.example_input(1, 4))
    assert out["out"].dtype == torch.bfloat16
    with pytest.raises(BuildError):
        build_model(spec, "cpu", "fp64")
    with pytest.raises(BuildError):
        build_model(spec, "nonsense-device")


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(schemed_designs(base=designs(rich=True), max_schemes=3), st.integers(1, 2), st.integers(1, 8))
def test_random_designs_match_torch(spec, batch, seq):
    check = verify(spec, batch, seq)
    assert check.ok, check.mismatches()
    run_cpu(spec, batch, seq)
