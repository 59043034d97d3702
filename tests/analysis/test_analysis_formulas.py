"""Exact parameter and FLOP counts against formulas derived by hand on small cases (pure, no torch)."""

from __future__ import annotations

import dataclasses

import pytest

from explorer.analysis import analyze, count_flops, count_params, estimate_memory
from explorer.errors import SpecError
from explorer.design.model import (
    LayerSpec,
    Member,
    ModelSettings,
    SharingGroup,
    StackSpec,
)
from explorer.design.strategies import apply_scheme

B, S = 2, 8
N = B * S                       # tokens
D, H, HD, FF, V = 16, 4, 4, 32, 23


def lin(out_f: int, in_f: int, bias: bool = True) -> int:
    return out_f * in_f + (out_f if bias else 0)


def one(kind: str, **overrides) -> StackSpec:
    settings = {"d_model": D, "n_heads": H, "d_ff": FF, "vocab_size": V, "max_positions": 16}
    layer = {k: overrides.pop(k) for k in list(overrides) if k in LayerSpec.__dataclass_fields__}
    settings.update(overrides)
    return StackSpec(ModelSettings(**settings), (LayerSpec("x", kind, **layer),))


def params(spec: StackSpec) -> int:
    return count_params(spec).unique


def flops(spec: StackSpec) -> dict[str, int]:
    f = count_flops(spec, B, S)
    return {k: v for k, v in f.by_component.items() if v}


# ----------------------------------------------------------------- parameters

ATTN = 4 * lin(D, D)                       # q, k, v, o with bias: 4 * 272
FFN = lin(FF, D) + lin(D, FF)              # 544 + 528
LN2 = 2 * 2 * D                            # two layernorms, gain + shift


@pytest.mark.parametrize("spec, expected", [
    (one("block"), ATTN + FFN + LN2),                                                    # 2224
    (one("block", bias=False), 4 * D * D + 2 * D * FF + LN2),                            # norms keep their shift
    (one("block", activation="swiglu"), ATTN + 2 * lin(FF, D) + lin(D, FF) + LN2),
    (one("block", activation="geglu", bias=False), 4 * D * D + 3 * D * FF + LN2),
    (one("block", norm="rmsnorm"), ATTN + FFN + 2 * D),
    (one("block", n_kv_heads=2), 2 * lin(D, D) + 2 * lin(2 * HD, D) + FFN + LN2),       # GQA: k, v 8 x 16
    (one("block", n_kv_heads=1), 2 * lin(D, D) + 2 * lin(HD, D) + FFN + LN2),           # MQA
    (one("block", head_dim=8), 3 * lin(32, D) + lin(D, 32) + FFN + LN2),                # q width 4 x 8
    (one("block", n_heads=2, head_dim=4), 3 * lin(8, D) + lin(D, 8) + FFN + LN2),
    (one("block", attention_bias=False), 4 * D * D + FFN + LN2),
    (one("block", ffn_bias=False), ATTN + 2 * D * FF + LN2),
    (one("block", d_ff=48), ATTN + lin(48, D) + lin(D, 48) + LN2),
    (one("block", halting=True), ATTN + FFN + LN2 + lin(1, D)),
    (one("block", low_rank=4), 4 * (D * 4 + 4 * D + D)                                  # q,k,v,o: A, B, bias
     + (FF * 4 + 4 * D + FF) + (D * 4 + 4 * FF + D) + LN2),
    (one("block", lora_rank=2), ATTN + FFN + LN2 + 4 * 2 * (D + D) + 2 * (D + FF) + 2 * (FF + D)),
    (one("attention"), ATTN),
    (one("attention", n_kv_heads=2, bias=False), 2 * D * D + 2 * 2 * HD * D),
    (one("ffn"), FFN),
    (one("ffn", activation="swiglu", bias=False), 3 * D * FF),
    (one("norm"), 2 * D),
    (one("norm", norm="rmsnorm"), D),
    (one("linear"), lin(D, D)),
    (one("linear", bias=False), D * D),
    (one("lstm"), 2 * 4 * D * D + 2 * 4 * D),                                           # W_ih, W_hh, b_ih, b_hh
    (one("lstm", bias=False), 2 * 4 * D * D),
    (one("gru"), 2 * 3 * D * D + 2 * 3 * D),
    (one("conv"), D * D * 3 + D),
    (one("conv", kernel_size=5, groups=4, bias=False), D * (D // 4) * 5),
    (one("pooler"), lin(D, D)),
    (one("head", n_outputs=3), lin(3, D)),
    (one("head", n_outputs=3, bias=False), 3 * D),
    (one("embedding"), V * D + 16 * D),                                                  # tokens + learned positions
    (one("embedding", positional="rotary"), V * D),
    (one("embedding", positional="sinusoidal"), V * D),
    (one("embedding", positional="none", type_vocab_size=2), V * D + 2 * D),
    (one("embedding", embedding_norm=True), V * D + 16 * D + 2 * D),
    (one("embedding", embedding_norm=True, norm="rmsnorm"), V * D + 16 * D + D),
    (one("embedding", embedding_size=8), V * 8 + 16 * 8 + lin(D, 8)),                  # factorized: V x E, E -> d
    (one("embedding", embedding_size=8, bias=False, type_vocab_size=3), V * 8 + 16 * 8 + 3 * 8 + D * 8),
    (one("lm_head"), lin(V, D)),
    (one("lm_head", bias=False), V * D),
    (one("lm_head", transform=True), lin(D, D) + 2 * D + lin(V, D)),
    (one("lm_head", transform=True, embedding_size=8), lin(8, D) + 2 * 8 + lin(V, 8)),
])
def test_params_by_hand(spec, expected):
    p = count_params(spec)
    assert p.unique == expected
    if spec.layers[0].n_kv_heads is None:            # the twin undoes GQA (see below)
        assert p.unshared == expected
    assert sum(p.by_component.values()) == expected
    assert p.per_layer[0].own == p.per_layer[0].unique == expected


def test_unshared_twin_counts_gqa_as_full_heads():
    p = count_params(one("block", n_kv_heads=1))
    assert p.unshared == ATTN + FFN + LN2
    assert p.saved == 2 * (lin(D, D) - lin(HD, D))


def test_cross_layer_kv_removes_k_and_v():
    s = ModelSettings(d_model=D, n_heads=H, d_ff=FF)
    spec = StackSpec(s, (LayerSpec("a", "block"), LayerSpec("b", "block", kv_from="a")))
    p = count_params(spec)
    assert p.unique == 2 * (ATTN + FFN + LN2) - 2 * lin(D, D)
    assert p.unshared == 2 * (ATTN + FFN + LN2)


def test_tensor_counts():
    assert count_params(one("block")).unique_tensors == 8 + 4 + 4           # 4 + 2 linears (w, b), 2 norms (w, b)
    assert count_params(one("block", bias=False, norm="rmsnorm")).unique_tensors == 4 + 2 + 2
    assert count_params(one("lstm")).unique_tensors == 4


def test_groups_count_once_and_report_savings():
    s = ModelSettings(d_model=D, n_heads=H, d_ff=FF)
    blocks = tuple(LayerSpec(f"b{i}", "block") for i in range(3))
    ffn_group = SharingGroup("f", (Member("b0", "ffn"), Member("b1", "ffn"), Member("b2", "ffn")))
    p = count_params(StackSpec(s, blocks, (ffn_group,)))
    assert p.unique == 3 * (ATTN + LN2) + FFN
    assert p.unshared == 3 * (ATTN + FFN + LN2)
    assert p.saved == 2 * FFN
    assert [(g.name, g.members, g.numel, g.saved) for g in p.per_group] == [("f", 3, FFN, 2 * FFN)]
    assert [lp.unique for lp in p.per_layer] == [ATTN + LN2 + FFN, ATTN + LN2, ATTN + LN2]
    heads = SharingGroup("h", (Member("b0", "heads[1:3]"), Member("b2", "heads[1:3]")))
    p = count_params(StackSpec(s, blocks, (heads,)))
    sliced = 3 * lin(2 * HD, D) + D * 2 * HD                 # q, k, v rows and o columns of two heads
    assert p.unique == 3 * (ATTN + FFN + LN2) - sliced
    # q, k, v, o weights and q, k, v biases of b0 and b2 each split in three pieces (head 0, heads 1-2,
    # head 3); the middle one is shared, so b0 adds 2 tensors per sliced tensor and b2 one
    assert p.unique_tensors == 3 * 16 + 7 * 2 + 7 * 1


def test_tied_embedding():
    s = ModelSettings(d_model=D, n_heads=H, vocab_size=V, max_positions=16)
    spec = StackSpec(s, (LayerSpec("e", "embedding"), LayerSpec("h", "lm_head")))
    tied = apply_scheme(spec, "tie-embeddings")
    p = count_params(tied)
    assert p.unique == V * D + 16 * D + V                      # decoder weight is the token table; bias stays
    assert p.unshared == V * D + 16 * D + lin(V, D)


# ----------------------------------------------------------------- FLOPs

PROJ = 2 * N * 4 * D * D                   # q, k, v, o projections
SCORES = 2 * 2 * B * H * S * S * HD        # Q K^T and A V in full
MLP = 2 * N * 2 * D * FF


@pytest.mark.parametrize("spec, expected", [
    (one("block"), {"attention": PROJ + SCORES, "ffn": MLP}),
    (one("block", causal=True), {"attention": PROJ + SCORES, "ffn": MLP}),        # S x S in full
    (one("block", bias=False, norm="rmsnorm", norm_position="post"), {"attention": PROJ + SCORES, "ffn": MLP}),
    (one("block", n_kv_heads=1), {"attention": 2 * N * (2 * D * D + 2 * HD * D) + SCORES, "ffn": MLP}),
    (one("block", n_kv_heads=2, causal=True), {"attention": 2 * N * (2 * D * D + 2 * 2 * HD * D) + SCORES,
                                               "ffn": MLP}),
    (one("block", head_dim=8), {"attention": 2 * N * 4 * D * 32 + 2 * 2 * B * H * S * S * 8, "ffn": MLP}),
    (one("block", activation="swiglu"), {"attention": PROJ + SCORES, "ffn": 2 * N * 3 * D * FF}),
    (one("block", halting=True), {"attention": PROJ + SCORES, "ffn": MLP, "other": 2 * N * D}),
    (one("block", low_rank=4), {"attention": 4 * 2 * N * 4 * (D + D) + SCORES, "ffn": 2 * 2 * N * 4 * (D + FF)}),
    (one("block", lora_rank=2), {"attention": PROJ + 4 * 2 * N * 2 * 2 * D + SCORES,
                                 "ffn": MLP + 2 * 2 * N * 2 * (D + FF)}),
    (one("attention"), {"attention": PROJ + SCORES}),
    (one("ffn"), {"ffn": MLP}),
    (one("norm"), {}),
    (one("linear"), {"other": 2 * N * D * D}),
    (one("lstm"), {"other": 2 * N * 2 * D * 4 * D}),
    (one("gru", bias=False), {"other": 2 * N * 2 * D * 3 * D}),
    (one("conv"), {"other": 2 * N * D * D * 3}),
    (one("conv", groups=4, kernel_size=5), {"other": 2 * N * D * 4 * 5}),
    (one("pooler"), {"head": 2 * B * D * D}),                                    # first token only
    (one("head", n_outputs=3), {"head": 2 * B * D * 3}),
    (one("head", n_outputs=3, task="token"), {"head": 2 * N * D * 3}),
    (one("embedding"), {}),                                                       # look-ups are free
    (one("embedding", embedding_size=8), {"embedding": 2 * N * 8 * D}),
    (one("lm_head"), {"head": 2 * N * D * V}),
    (one("lm_head", transform=True, embedding_size=8), {"head": 2 * N * D * 8 + 2 * N * 8 * V}),
])
def test_flops_by_hand(spec, expected):
    assert flops(spec) == expected
    f = count_flops(spec, B, S)
    assert f.forward == sum(expected.values())
    assert f.per_layer == (("x", f.forward),)
    assert f.train_step == 3 * f.forward
    assert f.elementwise >= 0


def test_flops_scale_with_batch_and_quadratically_in_seq_for_scores():
    spec = one("attention", bias=False)
    f1 = count_flops(spec, 1, 16).forward
    f2 = count_flops(spec, 2, 16).forward
    f3 = count_flops(spec, 1, 32).forward
    assert f2 == 2 * f1
    assert f3 - 2 * f1 == 2 * 2 * H * HD * (32 * 32 - 2 * 16 * 16)     # projections linear, scores quadratic


# ----------------------------------------------------------------- the seed tutorial's example


def seed_stack(shared: bool) -> StackSpec:
    s = ModelSettings(d_model=512, n_heads=8, d_ff=2048, bias=True, norm_position="post")
    spec = StackSpec(s, tuple(LayerSpec(f"layer{i}", "block") for i in range(12)))
    return apply_scheme(spec, "albert") if shared else spec


def test_seed_000_parameter_counts():
    per_block = 4 * (512 * 512 + 512) + (512 * 2048 + 2048) + (2048 * 512 + 512) + 2 * 2 * 512
    assert per_block == 3_152_384
    unshared = count_params(seed_stack(False))
    shared = count_params(seed_stack(True))
    assert unshared.unique == unshared.unshared == 37_828_608
    assert shared.unique == 3_152_384
    assert shared.unshared == 37_828_608
    assert shared.saved == 11 * 3_152_384
    assert shared.saving_factor == 12
    # the seed's text prints other figures; they are not this design's
    assert unshared.unique != 50_468_352 and shared.unique != 4_205_824


@pytest.mark.parametrize("seq, relation", [(128, -1), (512, -1), (1000, -1), (1024, 0), (1030, 1), (2048, 1),
                                           (8192, 1)])
def test_seed_000_attention_equals_ffn_at_seq_1024(seq, relation):
    # per token: projections 8 d^2 + scores 4 S d versus FFN 16 d^2: equal at S = 2 d = 1024
    for shared in (False, True):
        f = count_flops(seed_stack(shared), 1, seq).by_component
        attn, ffn = f["attention"], f["ffn"]
        assert attn == 12 * (2 * seq * 4 * 512 * 512 + 4 * seq * seq * 512)
        assert ffn == 12 * 2 * seq * 2 * 512 * 2048
        assert (attn > ffn) - (attn < ffn) == relation


def test_seed_000_crossover_from_the_sweep():
    from explorer.analysis.sweeps import attention_ffn_crossover
    for shared in (False, True):
        assert attention_ffn_crossover(seed_stack(shared)) == 1024


# ----------------------------------------------------------------- memory and the report


def test_memory_by_hand():
    spec = one("block", causal=True)
    p = count_params(spec)
    m = estimate_memory(spec, p, B, S, "fp32")
    assert m.weights == 4 * p.unique and m.gradients == m.weights
    assert m.optimizer == 8 * p.unique                          # Adam m and v in fp32
    assert m.kv_cache == 4 * 2 * N * D
    m16 = estimate_memory(spec, p, B, S, "bf16")
    assert m16.weights == 2 * p.unique and m16.optimizer == 12 * p.unique     # + fp32 master copy
    assert m16.kv_cache == 2 * 2 * N * D
    assert m.inference == m.weights + m.activations_inference + m.kv_cache
    assert m.training == m.weights + m.gradients + m.optimizer + m.activations_training
    # K/V of an MQA layer: one head
    mqa = one("block", causal=True, n_kv_heads=1)
    assert estimate_memory(mqa, count_params(mqa), B, S).kv_cache == 4 * 2 * N * HD
    assert estimate_memory(one("block"), p, B, S).kv_cache == 0          # not a decoder


def test_sharing_shrinks_weights_not_activations():
    shared, unshared = seed_stack(True), seed_stack(False)
    a = analyze(shared, 2, 128, "fp16")
    b = analyze(unshared, 2, 128, "fp16")
    assert a.memory.weights * 12 == b.memory.weights
    assert a.memory.activations_training == b.memory.activations_training
    assert a.memory.activations_inference == b.memory.activations_inference
    assert a.flops.forward == b.flops.forward == a.twin_flops.forward
    assert a.twin_memory.weights == b.memory.weights
    j = a.to_json()
    assert j["params"]["unique"] == 3_152_384 and j["params"]["unshared"] == 37_828_608
    assert j["flops"]["forward"] == a.flops.forward
    assert j["params"]["bytes"]["fp16"] == 2 * 3_152_384


@pytest.mark.parametrize("batch, seq, dtype, path", [
    (0, 8, "fp32", "batch"),
    (1, 0, "fp32", "seq"),
    (True, 8, "fp32", "batch"),
    (1, 2.5, "fp32", "seq"),
    (1, 8, "fp64", "dtype"),
    (1, 17, "fp32", "seq"),                      # longer than the learned position table
])
def test_bad_run_shapes(batch, seq, dtype, path):
    spec = one("embedding")
    with pytest.raises(SpecError) as info:
        analyze(spec, batch, seq, dtype)
    assert info.value.path == path and "\n" not in str(info.value)


def test_analyze_rejects_invalid_designs():
    with pytest.raises(SpecError):
        analyze(one("block", n_heads=3))
    with pytest.raises(SpecError):
        count_params(dataclasses.replace(one("block"), groups=(SharingGroup("g", (Member("x"), Member("y"))),)))
