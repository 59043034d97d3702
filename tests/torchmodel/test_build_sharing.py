"""Sharing in the built model: the same Parameter objects, the unshared twin, tying, and training.

A shared design must compute exactly what its unshared twin computes when the twin's copies
hold the shared values, and a shared tensor's gradient must be the sum of the copies' gradients.
"""

from __future__ import annotations

import dataclasses
import os
import sys

import pytest
import torch
import torch.nn.functional as F
from hypothesis import HealthCheck, assume, given, settings

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(__file__)), "design"))

from design_strategies import (
    conv_stack,
    designs,
    rnn_stack,
    schemed_designs,
    transformer_stack,
)

from explorer.analysis import count_params
from explorer.torchmodel import build_model, build_twin, verify
from explorer.design.model import (
    LayerSpec,
    Member,
    ModelSettings,
    SharingGroup,
    StackSpec,
)
from explorer.design.strategies import apply_scheme
from explorer.design.validate import validate


def runner_params(model) -> list[dict[int, torch.nn.Parameter]]:
    """Per executed layer, its Parameters by object id."""
    return [{id(p): p for p in r.parameters()} for r in model.runners]


def shared_between(model, i: int, j: int) -> int:
    a, b = runner_params(model)[i], runner_params(model)[j]
    return sum(p.numel() for key, p in a.items() if key in b)


def expected_shared(spec: StackSpec, i: int, j: int) -> int:
    a, b = spec.layers[i].id, spec.layers[j].id
    plan = validate(spec)
    return sum(g.numel for g in plan.groups
               if any(m.layer == a for m in g.members) and any(m.layer == b for m in g.members))


def small(n=4, **settings):
    return transformer_stack(n, **settings)


def _every_kind(*groups: tuple[str, ...]) -> StackSpec:
    """One layer of (almost) every kind, with groups on less common slots."""
    s = ModelSettings(d_model=16, n_heads=4, d_ff=32, vocab_size=23, max_positions=16, type_vocab_size=2)
    layers = (LayerSpec("e", "embedding", embedding_norm=True), LayerSpec("b0", "block", lora_rank=2, halting=True),
              LayerSpec("b1", "block", lora_rank=2, halting=True), LayerSpec("a", "attention"),
              LayerSpec("f", "ffn"), LayerSpec("n", "norm"), LayerSpec("p", "pooler"),
              LayerSpec("o", "lm_head", transform=True), LayerSpec("o2", "lm_head", transform=True),
              LayerSpec("h1", "head", n_outputs=3), LayerSpec("h2", "head", n_outputs=3, task="token"))
    return StackSpec(s, layers, tuple(SharingGroup(f"g{i}", tuple(Member(*m.split(":", 1)) for m in members))
                                      for i, members in enumerate(groups)))


SHARED_DESIGNS = {
    "slots": lambda: _every_kind(("b0:lora", "b1:lora"), ("b0:halting", "b1:halting"), ("b0:norm1", "b1:norm2"),
                                 ("b0:attention.q", "a:attention.o", "b1:attention.k"), ("o:transform", "o2:transform"),
                                 ("h1:head", "h2:head"), ("e:norm", "n:norm"), ("b0:ffn", "f:ffn")),
    "slices": lambda: _every_kind(("e:embedding", "o:head", "o2:head"), ("b0:heads[0:2]", "a:heads[2:4]"),
                                  ("b1:heads[1:3]", "a:heads[0:2]"), ("b0:heads[3:4]", "b1:heads[0:1]")),
    "albert": lambda: apply_scheme(small(), "albert"),
    "albert-ffn": lambda: apply_scheme(small(activation="swiglu"), "albert-ffn"),
    "albert-attention": lambda: apply_scheme(small(positional="rotary", causal=True),
                                             "albert-attention"),
    "cycle": lambda: apply_scheme(small(norm_position="post"), "cycle", blocks=2),
    "head-sharing": lambda: apply_scheme(small(), "head-sharing", heads="1:3"),
    "head-sharing-gqa": lambda: apply_scheme(small(n_kv_heads=2), "head-sharing", heads="2:4"),
    "tie": lambda: apply_scheme(small(2), "tie-embeddings"),
    "tie-factorized": lambda: apply_scheme(apply_scheme(small(2), "tie-embeddings"), "factorized-embedding", size=8),
    "universal": lambda: apply_scheme(small(3), "universal"),
    "low-rank": lambda: apply_scheme(small(), "shared-low-rank", rank=4),
    "recursion": lambda: apply_scheme(small(), "relaxed-recursion", rank=2, blocks=2),
    "rnn": lambda: apply_scheme(rnn_stack(3), "shared-rnn-cell"),
    "conv": lambda: apply_scheme(conv_stack(3), "shared-conv-bank"),
}


@pytest.mark.parametrize("name", sorted(SHARED_DESIGNS))
def test_members_hold_the_same_parameter_objects(name):
    spec = SHARED_DESIGNS[name]()
    model = build_model(spec, "meta")
    assert len(model.runners) == len(spec.layers)
    n = len(spec.layers)
    for i in range(n):
        for j in range(i + 1, n):
            assert shared_between(model, i, j) == expected_shared(spec, i, j), (spec.layers[i].id, spec.layers[j].id)
    p = count_params(spec)
    params = list(model.parameters())
    assert sum(q.numel() for q in params) == p.unique
    assert len(params) == p.unique_tensors
    assert len({id(q) for q in params}) == len(params)


@pytest.mark.parametrize("name", ["slots", "slices"])
def test_less_common_slots_match_torch(name):
    spec = SHARED_DESIGNS[name]()
    check = verify(spec, 2, 5)
    assert check.ok, check.mismatches()


@pytest.mark.parametrize("name", sorted(SHARED_DESIGNS))
def test_unshared_twin_shares_nothing(name):
    spec = SHARED_DESIGNS[name]()
    twin = build_twin(spec, "meta")
    per_layer = runner_params(twin)
    seen: dict[int, int] = {}
    for i, params in enumerate(per_layer):
        for key in params:
            assert key not in seen, f"layers {seen.get(key)} and {i} share a tensor in the twin"
            seen[key] = i
    assert sum(p.numel() for p in twin.parameters()) == count_params(spec).unshared


def test_whole_block_members_run_one_block_object():
    spec = apply_scheme(small(), "albert")
    model = build_model(spec, "meta")
    blocks = [r for r, layer in zip(model.runners, spec.layers) if layer.kind == "block"]
    first = set(runner_params(model)[1])
    for i in range(2, 5):
        assert set(runner_params(model)[i]) == first
    assert all(r.core is blocks[0].core for r in blocks)


def test_tying_shares_the_embedding_and_decoder_weight():
    spec = apply_scheme(small(2), "tie-embeddings")
    model = build_model(spec, "cpu")
    emb, head = runner_params(model)[0], runner_params(model)[-1]
    table = [p for p in emb.values() if tuple(p.shape) == (23, 16)]
    decoder = [p for p in head.values() if tuple(p.shape) == (23, 16)]
    assert len(table) == 1 and len(decoder) == 1
    assert table[0] is decoder[0]
    with torch.no_grad():
        table[0].add_(1.0)                              # one object: the head sees the change
    assert torch.equal(decoder[0], table[0])


def test_head_slices_are_shared_and_the_rest_is_own():
    spec = apply_scheme(small(2, embedding=False, lm_head=False), "head-sharing", heads="1:3")
    model = build_model(spec, "cpu")
    a, b = runner_params(model)
    common = [p for key, p in a.items() if key in b]
    # q, k, v weight rows and biases, o columns of heads 1 and 2 (head width 4)
    assert sorted(tuple(p.shape) for p in common) == sorted([(8, 16)] * 3 + [(8,)] * 3 + [(16, 8)])
    x = torch.randn(2, 5, 16)
    with torch.no_grad():
        before = model(x)["hidden"].clone()
        for p in common:
            p.mul_(3.0)
        after = model(x)["hidden"]
    assert not torch.allclose(before, after)


# ----------------------------------------------------------------- equivalence with the twin


def _copy_into_twin(model, twin) -> dict[int, list[torch.nn.Parameter]]:
    """Give the twin's copies the shared values; map each shared Parameter to its copies."""
    copies: dict[int, list[torch.nn.Parameter]] = {}
    for r, t in zip(model.runners, twin.runners):
        twin_params = dict(t.named_parameters())
        for name, p in r.named_parameters():
            q = twin_params[name]
            with torch.no_grad():
                q.copy_(p)
            copies.setdefault(id(p), []).append(q)
    assert sum(len(v) for v in copies.values()) == len(list(twin.parameters()))
    return copies


def _loss(out: dict[str, torch.Tensor], takes_ids: bool, ids: torch.Tensor) -> torch.Tensor:
    loss = out["hidden"].square().mean()
    for key, value in out.items():
        if key == "hidden":
            continue
        if takes_ids and value.dim() == 3 and value.shape[-1] == 23:
            loss = loss + F.cross_entropy(value.reshape(-1, value.shape[-1]), ids.reshape(-1))
        else:
            loss = loss + value.square().mean()
    return loss


EQUIVALENT = ["slots", "albert", "albert-ffn", "albert-attention", "cycle", "tie", "tie-factorized", "universal",
              "low-rank", "recursion", "rnn", "conv"]


@pytest.mark.parametrize("name", EQUIVALENT)
def test_shared_model_equals_twin_with_copied_weights_and_gradients_accumulate(name):
    spec = SHARED_DESIGNS[name]()
    model = build_model(spec, "cpu", seed=1)
    twin = build_twin(spec, "cpu", seed=2)
    with torch.no_grad():                                # make LoRA ups and gains non-trivial
        for p in model.parameters():
            p.add_(0.05 * torch.randn(p.shape, generator=torch.Generator().manual_seed(p.numel())))
    copies = _copy_into_twin(model, twin)
    x = model.example_input(2, 5)
    out, twin_out = model(x), twin(x)
    assert out.keys() == twin_out.keys()
    for key in out:
        torch.testing.assert_close(out[key], twin_out[key], rtol=1e-5, atol=1e-6)
    _loss(out, model.takes_ids, x).backward()
    _loss(twin_out, twin.takes_ids, x).backward()
    shared = 0
    for p in model.parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all()
        total = torch.stack([q.grad for q in copies[id(p)]]).sum(0)
        torch.testing.assert_close(p.grad, total, rtol=1e-4, atol=1e-6)
        shared += len(copies[id(p)]) > 1
    assert shared > 0


@pytest.mark.parametrize("override", [
    {"causal": True}, {"activation": "relu"}, {"norm_position": "post"}, {"n_heads": 2, "head_dim": 8},
])
def test_block_members_keep_their_own_settings(override):
    # same shapes, different behaviour: sharing the weights must not make b1 run b0's settings
    s = ModelSettings(d_model=16, n_heads=4, d_ff=32)
    spec = StackSpec(s, (LayerSpec("b0", "block"), dataclasses.replace(LayerSpec("b1", "block"), **override)),
                     (SharingGroup("g", (Member("b0"), Member("b1"))),))
    model = build_model(spec, "cpu", seed=3)
    twin = build_twin(spec, "cpu")
    with torch.no_grad():
        for p in model.parameters():
            p.mul_(20.0)                                 # large enough that attention is not uniform
    _copy_into_twin(model, twin)
    x = model.example_input(2, 6)
    with torch.no_grad():
        torch.testing.assert_close(model(x)["hidden"], twin(x)["hidden"], rtol=1e-5, atol=1e-5)
    assert count_params(spec).unique == sum(p.numel() for p in model.parameters())


def test_training_step_on_a_shared_design_updates_the_single_tensor():
    spec = apply_scheme(apply_scheme(small(4, positional="rotary", causal=True), "albert"), "tie-embeddings")
    model = build_model(spec, "cpu")
    params = list(model.parameters())
    assert sum(p.numel() for p in params) == count_params(spec).unique
    opt = torch.optim.SGD(params, lr=0.1)
    ids = model.example_input(2, 8)
    before = {id(p): p.detach().clone() for p in params}
    losses = []
    for _ in range(3):
        opt.zero_grad()
        out = model(ids)
        loss = F.cross_entropy(out["out"][:, :-1].reshape(-1, 23), ids[:, 1:].reshape(-1))
        loss.backward()
        assert all(p.grad is not None for p in params)
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < losses[0]
    block = [r for r in model.runners if r.kind == "block"]
    shared_weights = [p for p in block[0].parameters() if p.dim() == 2]
    assert shared_weights and all(not torch.equal(p, before[id(p)]) for p in shared_weights)
    assert all(p is q for r in block[1:] for p, q in zip(r.parameters(), block[0].parameters()))


def _twin_is_same_architecture(spec: StackSpec) -> bool:
    """No GQA, K/V reuse or head slices: the twin has the very same modules, so weights copy over."""
    return (spec.settings.n_kv_heads is None
            and all(x.kv_from is None and x.n_kv_heads is None for x in spec.layers)
            and not any(m.slot.is_heads for g in spec.groups for m in g.members))


@settings(max_examples=20, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.data_too_large])
@given(schemed_designs(base=designs(rich=True), max_schemes=3))
def test_random_shared_designs_compute_what_their_twin_computes(spec):
    assume(spec.groups and _twin_is_same_architecture(spec))
    model = build_model(spec, "cpu", seed=5)
    twin = build_twin(spec, "cpu", seed=6)
    copies = _copy_into_twin(model, twin)
    x = model.example_input(2, 4)
    out, twin_out = model(x), twin(x)
    for key in out:
        torch.testing.assert_close(out[key], twin_out[key], rtol=1e-4, atol=1e-5)
    sum(v.square().mean() for v in out.values()).backward()
    sum(v.square().mean() for v in twin_out.values()).backward()
    for p in model.parameters():
        if p.grad is None:                     # e.g. a pooler whose output nothing reads: same in the twin
            assert all(q.grad is None for q in copies[id(p)])
            continue
        total = torch.stack([q.grad for q in copies[id(p)]]).sum(0)
        torch.testing.assert_close(p.grad, total, rtol=1e-3, atol=1e-6)


def test_head_shared_weights_are_assembled_once_for_inference_and_follow_every_change():
    spec = apply_scheme(small(2, embedding=False, lm_head=False), "head-sharing", heads="1:3")
    model = build_model(spec, "cpu", seed=3)
    q = model.runners[0].core.attention.q
    x = torch.randn(2, 5, 16)
    trained = model(x)["hidden"]                         # autograd on: concatenated per call, nothing kept
    assert "_assembled_cache" not in q.__dict__
    with torch.inference_mode():
        first = model(x)["hidden"]
        kept = q.__dict__["_assembled_cache"]["weight"][1]
        second = model(x)["hidden"]
        assert q.__dict__["_assembled_cache"]["weight"][1] is kept      # reused, not rebuilt
    torch.testing.assert_close(first, trained.detach())
    torch.testing.assert_close(second, first)
    assert not kept.is_inference()                       # usable again outside inference mode
    # training reaches the shared chunk; an in-place update of it (autograd off) is seen next pass
    shared = next(p for p in q.weight_chunks if any(p is r for r in model.runners[1].core.attention.q.weight_chunks))
    loss = model(x)["hidden"].square().mean()
    loss.backward()
    assert shared.grad is not None and shared.grad.abs().sum() > 0
    with torch.no_grad():
        shared.add_(torch.randn(shared.shape, generator=torch.Generator().manual_seed(0)))
    with torch.inference_mode():
        stepped = model(x)["hidden"]
    assert not torch.allclose(stepped, first)
    torch.testing.assert_close(stepped, model(x)["hidden"].detach())
    # a new storage (a dtype move) is noticed as well
    model.to(torch.float64)
    with torch.inference_mode():
        assert model(x.double())["hidden"].dtype == torch.float64
