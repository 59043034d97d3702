"""Mixture of experts and encoder-decoder designs, built: routing computes what a dense reference
computes, FLOPs are those of the k experts that run (on real tensors, where FlopCounterMode
sees one matmul per expert that received tokens), shared expert banks are one tensor, and an
encoder-decoder's decoder runs over its own length and reads the encoder's output."""

from __future__ import annotations

import dataclasses
import os
import sys

import pytest
import torch
import torch.nn.functional as F
from torch.utils.flop_counter import FlopCounterMode

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(__file__)), "design"))

from design_strategies import moe_stack

from explorer.analysis import analyze
from explorer.analysis.flops import layer_flops
from explorer.design.model import LayerSpec, Member, ModelSettings, SharingGroup, StackSpec, dims
from explorer.design.strategies import apply_scheme
from explorer.errors import SpecError
from explorer.design.validate import validate
from explorer.kinds.moe import moe_flops
from explorer.kinds.moe_torch import MoE
from explorer.torchmodel import build_model, verify

torch.set_num_threads(1)


def _moe_modules(model) -> list[tuple[str, MoE]]:
    return [(name, m) for name, m in model.named_modules() if isinstance(m, MoE)]


def test_routing_equals_a_dense_reference():
    """Every token's output is the weighted sum of its top-k experts, exactly as if every expert had
    run on every token and the others had weight zero."""
    spec = moe_stack(2, n_experts=4, top_k=2, shared_d_ff=0)
    model = build_model(spec, "cpu", seed=3)
    (_name, moe), *_ = _moe_modules(model)
    x = torch.randn(3, 5, spec.settings.d_model)
    with torch.no_grad():
        got = moe(x)
        t = x.reshape(-1, x.shape[-1])
        probs = F.softmax(F.linear(t, moe.router.weight), dim=-1)
        top, idx = probs.topk(2, dim=-1)
        dense = torch.zeros(t.shape[0], moe.up.shape[0])
        dense.scatter_(1, idx, top)
        want = torch.zeros_like(t)
        for e in range(moe.up.shape[0]):
            h = F.silu(t @ moe.gate[e].T) * (t @ moe.up[e].T)
            want += dense[:, e:e + 1] * (h @ moe.down[e].T)
    torch.testing.assert_close(got, want.view_as(x), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("shared", [0, 8])
def test_flops_on_real_tensors_are_those_of_k_experts(shared):
    """On CPU FlopCounterMode sees the per-expert matmuls of the tokens routed there: their sum is the
    analysis' count of the mixture (router, k experts a token, shared expert), whatever the routing."""
    spec = moe_stack(2, n_experts=4, top_k=2, shared_d_ff=shared)
    model = build_model(spec, "cpu", seed=1)
    batch, seq = 3, 7
    tokens = {}
    for name, moe in _moe_modules(model):
        moe.register_forward_hook(lambda m, a, out, name=name: tokens.__setitem__(
            name, torch.bincount(m.route(a[0].reshape(-1, a[0].shape[-1]))[1].reshape(-1), minlength=4)))
    with torch.no_grad(), FlopCounterMode(display=False, depth=None) as counter:
        model(model.example_input(batch, seq))
    counts = counter.get_flop_counts()
    for name, _moe in _moe_modules(model):
        assert int(tokens[name].sum()) == batch * seq * 2              # every token went to exactly k experts
        measured = sum(counts[f"SharedStack.{name}"].values())
        layer = spec.layer(f"b{int(name.split('.')[1]) - 1}")
        assert measured == moe_flops(dims(layer, spec.settings), batch * seq)[0]


def test_meta_and_real_dispatch_count_the_same():
    spec = moe_stack(3, n_experts=4, top_k=2)
    flops = {}
    for device in ("meta", "cpu"):
        model = build_model(spec, device)
        with torch.no_grad(), FlopCounterMode(display=False, depth=None) as counter:
            model(model.example_input(2, 6))
        counts = counter.get_flop_counts()
        flops[device] = [sum(counts[f"SharedStack.{name}"].values()) for name, _m in _moe_modules(model)]
    assert flops["meta"] == flops["cpu"] and all(flops["cpu"])


def test_expert_bank_is_one_tensor_and_learns_from_every_layer():
    spec = apply_scheme(moe_stack(3), "expert-bank")
    model = build_model(spec, "cpu")
    banks = {id(m.up) for _n, m in _moe_modules(model)}
    assert len(banks) == 1
    routers = {id(m.router.weight) for _n, m in _moe_modules(model)}
    assert len(routers) == 3                                              # routers stay per layer
    out = model(model.example_input(2, 5))
    out["out"].float().pow(2).mean().backward()
    (_n, first), *_ = _moe_modules(model)
    assert first.up.grad is not None and first.up.grad.abs().sum() > 0


def test_expert_slices_share_rows_of_the_bank():
    spec = moe_stack(2, n_experts=4)
    spec = spec.replace(groups=(SharingGroup("e", (Member("b0", "experts[0:2]"), Member("b1", "experts[2:4]"))),))
    check = verify(spec, 2, 5)
    assert check.ok, check.mismatches()
    report = analyze(spec, 2, 5)
    per_expert = 3 * 16 * 32
    assert report.params.unshared - report.params.unique == 2 * per_expert
    model = build_model(spec, "cpu")
    a, b = (m for _n, m in _moe_modules(model))
    assert a.up_chunks[0] is b.up_chunks[1]                               # b1's experts 2..3 are b0's 0..1
    with torch.no_grad():
        out = model(model.example_input(1, 4))
    assert torch.isfinite(out["hidden"]).all()


def test_active_parameters():
    own = analyze(moe_stack(2, n_experts=4, top_k=1, shared_d_ff=0))
    per_expert = 3 * 16 * 32
    assert own.params.unique - own.params.active == 2 * 3 * per_expert      # 3 of 4 experts unread per layer
    bank = analyze(apply_scheme(moe_stack(2, n_experts=4, top_k=1, shared_d_ff=0), "expert-bank"))
    assert bank.params.unique - bank.params.active == 2 * per_expert        # 2 layers read 2 of the 4
    assert bank.flops.forward == own.flops.forward                          # sharing never changes FLOPs


def test_moe_problems_are_one_line_errors():
    spec = moe_stack(2)
    for change, key in (({"top_k": 5}, "top_k"), ({"shared_d_ff": 0, "shared_gate": True}, "shared_gate")):
        bad = spec.replace(layers=tuple(dataclasses.replace(x, **change) if x.id == "b1" else x for x in spec.layers))
        with pytest.raises(SpecError) as info:
            validate(bad)
        assert info.value.path == f"stack[2].{key}" and "\n" not in str(info.value)


# ---------------------------------------------------------------- encoder-decoder

def t5_like(n_enc: int = 2, n_dec: int = 2, gated: bool = False) -> StackSpec:
    s = ModelSettings(d_model=32, n_heads=4, head_dim=8, d_ff=48, vocab_size=41, bias=False, norm="rmsnorm",
                      activation="geglu" if gated else "relu", positional="relative", relative_buckets=8,
                      relative_max_distance=16)
    layers = [LayerSpec("enc_embed", "embedding")]
    layers += [LayerSpec(f"enc{i}", "block", position_bias=i == 0) for i in range(n_enc)]
    layers += [LayerSpec("enc_norm", "norm"), LayerSpec("dec_embed", "embedding", target=True)]
    layers += [LayerSpec(f"dec{i}", "cross_block", causal=True, position_bias=i == 0) for i in range(n_dec)]
    layers += [LayerSpec("dec_norm", "norm"), LayerSpec("lm_head", "lm_head")]
    return apply_scheme(StackSpec(s, tuple(layers), name="t5-like"), "tie-embeddings")


@pytest.mark.parametrize("source,target", [(9, 4), (5, 11), (6, 6)])
def test_encoder_decoder_counts_and_shapes(source, target):
    spec = t5_like()
    check = verify(spec, 2, source, target)
    assert check.ok, check.mismatches()
    model = build_model(spec, "cpu")
    src, tgt = model.example_inputs(2, source, target)
    with torch.no_grad():
        out = model(src, tgt)
    assert out["lm_head"].shape == (2, target, 41) and out["hidden"].shape == (2, target, 32)


def test_cross_attention_flops_follow_both_lengths():
    spec = t5_like()
    d = dims(spec.layer("dec0"), spec.settings)
    (_f, _ew) = layer_flops(d, 1, 4, 9)
    shorter = dict(layer_flops(d, 1, 4, 3)[0])["attention"]
    longer = dict(layer_flops(d, 1, 4, 9)[0])["attention"]
    # K/V over 6 more source tokens (2 x 2 x 6 x d x kv width) and 4 x 6 more scores and context entries
    assert longer - shorter == 2 * 2 * 6 * 32 * 32 + 2 * 2 * 4 * 4 * 6 * 8
    enc = analyze(spec, 1, 10, target_seq=3).flops.per_layer
    assert dict(enc)["enc0"] == dict(analyze(spec, 1, 10, target_seq=7).flops.per_layer)["enc0"]


def test_decoder_reads_the_encoder():
    """Changing the source changes the decoder's output; the decoder is causal over the target."""
    spec = t5_like()
    model = build_model(spec, "cpu", seed=2)
    src, tgt = model.example_inputs(1, 6, 5)
    other = (src + 1) % 41
    with torch.no_grad():
        a, b = model(src, tgt)["hidden"], model(other, tgt)["hidden"]
        changed_last = tgt.clone()
        changed_last[0, -1] = (changed_last[0, -1] + 1) % 41
        c = model(src, changed_last)["hidden"]
    assert not torch.allclose(a, b)
    torch.testing.assert_close(a[:, :-1], c[:, :-1])                      # earlier positions cannot see the last


def test_relative_bias_is_computed_once_per_stack():
    spec = t5_like(3, 3)
    model = build_model(spec, "meta")
    tables = [n for n, _p in model.named_parameters() if "position_bias" in n]
    assert len(tables) == 2                                               # encoder's first and decoder's first


@pytest.mark.parametrize("change,key", [
    ({"layer": "enc0", "position_bias": False}, "position_bias"),
    ({"layer": "dec_embed", "target": False}, "kind"),
])
def test_stream_rules_are_one_line_errors(change, key):
    spec = t5_like()
    change = dict(change)
    lid = change.pop("layer")
    bad = spec.replace(layers=tuple(dataclasses.replace(x, **change) if x.id == lid else x for x in spec.layers),
                       groups=())
    with pytest.raises(SpecError) as info:
        validate(bad)
    assert info.value.path.endswith(key) and "\n" not in str(info.value)


def test_cross_block_needs_a_decoder():
    s = ModelSettings(d_model=16, n_heads=2)
    with pytest.raises(SpecError, match="target"):
        validate(StackSpec(s, (LayerSpec("a", "block"), LayerSpec("b", "cross_block"))))
