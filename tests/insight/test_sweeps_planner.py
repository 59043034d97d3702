"""Sweeps and the memory planner against hand-derived formulas (pure: no torch)."""

from __future__ import annotations

from fractions import Fraction

import pytest

from explorer.analysis import count_params
from explorer.analysis.planner import GIB, Setup, per_gpu, plan_grid
from explorer.analysis.sweeps import attention_ffn_crossover, parse_int_list, sweep_depth, sweep_schemes, sweep_seq
from explorer.errors import SpecError
from explorer.design.model import LayerSpec, ModelSettings, StackSpec


def encoder(d=512, heads=8, d_ff=None, layers=4, **settings) -> StackSpec:
    return StackSpec(settings=ModelSettings(d_model=d, n_heads=heads, d_ff=d_ff, positional="none", **settings),
                     layers=tuple(LayerSpec(f"b{i}", "block") for i in range(layers)))


@pytest.mark.parametrize("d", [64, 256, 512, 768])
def test_crossover_is_2d_when_d_ff_is_4d(d):
    """Per token: attention 8d^2 + 4nd, FFN 16d^2, equal at n = 2d (seed 003)."""
    assert attention_ffn_crossover(encoder(d, 8)) == 2 * d
    sweep = sweep_seq(encoder(d, 8), [d, 2 * d, 4 * d])
    a, b, c = sweep.points
    assert a.attention < a.ffn and b.attention == b.ffn and c.attention > c.ffn
    assert f"n = {2 * d}" in sweep.sentence()


def test_crossover_with_gqa_and_swiglu_by_hand():
    d, h, kv, ff = 256, 8, 2, 704
    spec = encoder(d, h, ff, n_kv_heads=kv, activation="swiglu")
    hd = d // h
    proj = 2 * d * d * 2 + 2 * 2 * d * kv * hd       # q and o, k and v
    ffn = 3 * 2 * d * ff
    assert attention_ffn_crossover(spec) == Fraction(ffn - proj, 4 * d)


def test_no_crossover_without_attention():
    spec = StackSpec(settings=ModelSettings(d_model=64, positional="none"), layers=(LayerSpec("f", "ffn"),))
    assert attention_ffn_crossover(spec) is None
    assert "never" in sweep_seq(spec, [16]).sentence()


def test_depth_sweep_params_scale_by_scheme():
    base = encoder(64, 4, layers=2)
    block = count_params(encoder(64, 4, layers=1)).unique
    points = {(p.layers, p.scheme): p for p in sweep_depth(base, [4, 8])}
    assert points[(8, "unshared")].unique == 8 * block
    assert points[(8, "albert")].unique == block
    assert points[(8, "cycle-2")].unique == 2 * block
    assert points[(8, "interleaved")].unique == 5 * block      # 4 own + 1 shared
    assert points[(8, "immediate-repeat")].unique == 4 * block
    assert len({p.forward for p in points.values() if p.layers == 8}) == 1      # FLOPs do not move


def test_scheme_sweep_covers_every_scheme_and_marks_failures():
    points = sweep_schemes(encoder(64, 4, layers=6))
    by = {p.scheme: p for p in points}
    assert by["albert"].unique < by["current"].unique
    assert by["tie-embeddings"].error and by["tie-embeddings"].design is None
    assert all(p.forward == by["current"].forward for p in points if p.pure and not p.error)


def test_parse_lists():
    assert parse_int_list("128:1024:x2", "seq") == [128, 256, 512, 1024]
    assert parse_int_list("2:8:2", "layers") == [2, 4, 6, 8]
    assert parse_int_list("3, 5", "layers") == [3, 5]
    for bad in ("x", "1:10:x1", "0,1", ""):
        with pytest.raises(SpecError):
            parse_int_list(bad, "seq")


def test_planner_by_hand():
    spec = encoder(64, 4, layers=2)
    p = count_params(spec).unique
    plain = per_gpu(spec, Setup(gpus=8, tp=2, zero=0, checkpointing=False, micro_batch=1, seq=16, dtype="bf16"))
    assert plain.weights == p * 2 // 2 and plain.gradients == p * 2 // 2
    assert plain.optimizer == p * 12 // 2                      # Adam m, v + fp32 master, over tp
    z3 = per_gpu(spec, Setup(8, 2, 3, False, 1, 16, "bf16"))
    assert (z3.weights, z3.gradients, z3.optimizer) == (p * 2 // 2 // 4, p * 2 // 2 // 4, p * 12 // 2 // 4)
    z1 = per_gpu(spec, Setup(8, 2, 1, False, 1, 16, "fp32"))
    assert z1.optimizer == p * 8 // 2 // 4 and z1.weights == p * 4 // 2
    ckpt = per_gpu(spec, Setup(8, 2, 0, True, 1, 16, "bf16"))
    assert ckpt.activations < plain.activations


def test_sharing_shrinks_every_shard_but_not_activations():
    from explorer.design.strategies import apply_scheme

    spec = encoder(128, 4, layers=8)
    shared = apply_scheme(spec, "albert")
    s = Setup(4, 1, 3, False, 2, 64, "bf16")
    a, b = per_gpu(spec, s), per_gpu(shared, s)
    assert b.weights * 8 == pytest.approx(a.weights, rel=1e-3)
    assert b.activations == a.activations


def test_plan_grid_sorted_and_fits():
    rows = plan_grid(encoder(64, 4), gpus=4, micro_batch=1, seq=16)
    assert [r.total for r in rows] == sorted(r.total for r in rows)
    assert {r.setup.tp for r in rows} == {1, 2, 4}
    assert rows[0].fits(1) and not rows[-1].fits(rows[-1].total / GIB / 2)
    with pytest.raises(SpecError):
        per_gpu(encoder(), Setup(6, 4, 0, False, 1, 16))


def test_plan_grid_has_no_zero_rows_that_copy_plain_dp():
    """With one data-parallel replica ZeRO shards nothing: such rows would repeat DP x1."""
    rows = plan_grid(encoder(64, 4), gpus=8, micro_batch=1, seq=16)
    assert not [r for r in rows if r.setup.dp == 1 and r.setup.zero]
    figures = [(r.setup.tp, r.setup.checkpointing, r.weights, r.gradients, r.optimizer) for r in rows]
    assert len(figures) == len(set(figures))
    assert {r.setup.zero for r in rows if r.setup.dp > 1} == {0, 1, 2, 3}
