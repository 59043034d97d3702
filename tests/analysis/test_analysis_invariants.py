"""Invariants of the analysis over random designs and schemes, and its speed (pure, no torch)."""

from __future__ import annotations

import dataclasses
import os
import sys
import time

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(__file__)), "design"))

from design_strategies import SCHEME_OPTIONS, designs, schemed_designs, try_scheme

from explorer.analysis import analyze, count_flops, count_params, estimate_memory
from explorer.analysis.params import DTYPE_BYTES
from explorer.design.model import LayerSpec, ModelSettings, StackSpec, unshared_twin
from explorer.design.strategies import SCHEMES, apply_scheme

PURE = sorted(name for name, s in SCHEMES.items() if s.pure)
SLOW_OK = [HealthCheck.too_slow, HealthCheck.filter_too_much]


@settings(max_examples=120, deadline=None, suppress_health_check=SLOW_OK)
@given(schemed_designs())
def test_unique_never_exceeds_unshared(spec):
    p = count_params(spec)
    assert 0 <= p.unique <= p.unshared
    assert sum(p.by_component.values()) == p.unique
    assert sum(lp.unique for lp in p.per_layer) == p.unique
    assert p.unshared == count_params(unshared_twin(spec)).unique
    assert p.unique_tensors <= count_params(unshared_twin(spec)).unique_tensors + 2 * sum(
        len(g.members) * 7 for g in spec.groups)           # head slices may split tensors into chunks
    if all(x.kv_from is None and x.n_kv_heads is None for x in spec.layers) and spec.settings.n_kv_heads is None:
        # only groups share: the saving is exactly what the groups report
        assert p.saved == sum(g.saved for g in p.per_group)
        assert sum(lp.own for lp in p.per_layer) == p.unshared


@settings(max_examples=40, deadline=None, suppress_health_check=SLOW_OK)
@given(schemed_designs(max_schemes=2), st.data(), st.integers(1, 3), st.integers(1, 16))
def test_pure_schemes_keep_flops_and_activations(spec, data, batch, seq):
    before = count_flops(spec, batch, seq)
    p0 = count_params(spec)
    memory0 = {dtype: estimate_memory(spec, p0, batch, seq, dtype) for dtype in ("fp32", "bf16")}
    for name in PURE:
        out = try_scheme(spec, name, data.draw(SCHEME_OPTIONS[name]))
        if out is None:
            continue
        assert out.layers == spec.layers and out.settings == spec.settings
        assert count_flops(out, batch, seq) == before        # every component, layer and element-wise op
        p1 = count_params(out)
        assert p1.unshared == p0.unshared
        for dtype, m0 in memory0.items():
            m1 = estimate_memory(out, p1, batch, seq, dtype)
            assert m1.activations_training == m0.activations_training
            assert m1.activations_inference == m0.activations_inference
            assert m1.kv_cache == m0.kv_cache
            assert m1.weights == p1.unique * DTYPE_BYTES[dtype]
            assert m1.optimizer * p0.unique == m0.optimizer * p1.unique     # both scale with unique params
            assert (m1.weights <= m0.weights) == (p1.unique <= p0.unique)


@settings(max_examples=60, deadline=None, suppress_health_check=SLOW_OK)
@given(schemed_designs(), st.integers(1, 4), st.integers(1, 16))
def test_report_is_consistent(spec, batch, seq):
    r = analyze(spec, batch, seq)
    assert r.params == count_params(spec)
    assert r.flops == count_flops(spec, batch, seq)
    twin = unshared_twin(spec)
    assert r.twin_flops == count_flops(twin, batch, seq)
    assert r.flops.forward <= r.twin_flops.forward                # GQA / K/V reuse only remove work
    assert r.twin_memory.weights == count_params(twin).unique * 4
    j = r.to_json()
    assert j["params"]["unique"] == r.params.unique and j["flops"]["forward"] == r.flops.forward
    assert sum(f for _id, f in r.flops.per_layer) == r.flops.forward


@settings(max_examples=60, deadline=None, suppress_health_check=SLOW_OK)
@given(designs(families=("transformer",), overrides=False, min_trunk=2), st.integers(1, 3), st.integers(1, 16))
def test_flops_are_linear_in_batch(spec, batch, seq):
    one = count_flops(spec, 1, seq)
    many = count_flops(spec, batch, seq)
    assert many.forward == batch * one.forward


def _big_design(n_layers: int = 96) -> StackSpec:
    s = ModelSettings(d_model=1024, n_heads=16, n_kv_heads=4, d_ff=4096, vocab_size=50257, max_positions=2048,
                      positional="rotary", causal=True)
    layers = (LayerSpec("emb", "embedding"),) + tuple(LayerSpec(f"l{i}", "block") for i in range(n_layers)) + (
        LayerSpec("out", "lm_head"),)
    spec = StackSpec(s, layers)
    spec = apply_scheme(spec, "cycle", blocks=8)
    spec = apply_scheme(spec, "head-sharing", heads="0:4", layers=[f"l{i}" for i in range(0, n_layers, 2)])
    spec = apply_scheme(spec, "tie-embeddings")
    return spec


def test_analysis_of_96_layers_with_groups_is_fast():
    spec = _big_design()
    # a fresh (uncached) design: change a setting every cache keys on
    spec = dataclasses.replace(spec, settings=dataclasses.replace(spec.settings, norm_eps=1.234e-6))
    start = time.perf_counter()
    report = analyze(spec, 8, 2048, "bf16")
    elapsed = time.perf_counter() - start
    assert elapsed < 1.0, f"{elapsed:.3f}s"
    assert report.params.unique < report.params.unshared
    # the head slices take the even layers out of the cycle: 4 odd cycle groups, heads, tying
    assert len(report.params.per_group) == 4 + 1 + 1
