"""The training-activation estimate against what torch really keeps for backward.

torch's saved-tensor hooks see every tensor autograd stores; their distinct storages,
less the parameters', are the activation memory of a training step.
"""

from __future__ import annotations

import pytest
import torch

from explorer.analysis import analyze
from explorer.torchmodel import build_model
from explorer.design.model import LayerSpec, ModelSettings, StackSpec, unshared_twin
from explorer.design.strategies import apply_scheme

B, S = 2, 32


def saved_activation_bytes(spec: StackSpec) -> int:
    model = build_model(spec, "cpu")
    params = {p.untyped_storage().data_ptr() for p in model.parameters()}
    kept: dict[int, int] = {}

    def pack(t: torch.Tensor) -> torch.Tensor:
        storage = t.untyped_storage()
        if storage.data_ptr() not in params:
            kept[storage.data_ptr()] = storage.nbytes()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        model(model.example_input(B, S))
    return sum(kept.values())


def stack(n_blocks: int = 4, **settings) -> StackSpec:
    s = ModelSettings(**{"d_model": 64, "n_heads": 4, "d_ff": 128, "positional": "none", "causal": True,
                         "norm": "layernorm", **settings})
    return StackSpec(s, tuple(LayerSpec(f"b{i}", "block") for i in range(n_blocks)), name="t")


@pytest.mark.parametrize("settings", [
    {"activation": "gelu", "norm_position": "post"},
    {"activation": "gelu", "norm_position": "pre", "bias": False},
    {"activation": "swiglu", "norm_position": "pre"},
    {"activation": "geglu", "norm_position": "pre", "n_kv_heads": 2},
], ids=["gelu-post", "gelu-pre", "swiglu", "geglu-gqa"])
def test_activation_estimate_matches_what_autograd_keeps(settings):
    spec = stack(**settings)
    estimate = analyze(spec, B, S).memory.activations_training
    assert estimate == pytest.approx(saved_activation_bytes(spec), rel=0.02)


@pytest.mark.parametrize("positional", ["none", "rotary"])
def test_layers_reusing_kv_keep_nothing_of_their_own_for_it(positional):
    spec = apply_scheme(stack(positional=positional, norm="rmsnorm", norm_position="pre", activation="swiglu"),
                        "cross-layer-kv", every=2)
    twin = unshared_twin(spec)
    measured = saved_activation_bytes(twin) - saved_activation_bytes(spec)
    estimated = analyze(twin, B, S).memory.activations_training - analyze(spec, B, S).memory.activations_training
    assert measured > 0 and estimated == measured
