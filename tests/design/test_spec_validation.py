"""validate()/problems(): every mistake is one SpecError, one line, naming key path, layer and slot."""

from __future__ import annotations

import dataclasses
import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(__file__))

from design_strategies import transformer_stack

from explorer.errors import SpecError
from explorer.design.model import (
    LayerSpec,
    Member,
    ModelSettings,
    SharingGroup,
    StackSpec,
    unshared_twin,
)
from explorer.design.validate import problems, validate

BASE = transformer_stack(3, embedding=False, lm_head=False)     # b0, b1, b2; d 16, 4 heads, d_ff 32


def group(*members: str, name: str = "g") -> SharingGroup:
    return SharingGroup(name, tuple(Member(*m.split(":", 1)) for m in members))


def with_groups(*groups: SharingGroup, spec: StackSpec = BASE) -> StackSpec:
    return dataclasses.replace(spec, groups=groups)


def with_settings(**changes) -> StackSpec:
    return dataclasses.replace(BASE, settings=dataclasses.replace(BASE.settings, **changes))


def with_layer(i: int, **changes) -> StackSpec:
    layers = list(BASE.layers)
    layers[i] = dataclasses.replace(layers[i], **changes)
    return dataclasses.replace(BASE, layers=tuple(layers))


def error_of(spec: StackSpec) -> SpecError:
    with pytest.raises(SpecError) as info:
        validate(spec)
    err = info.value
    text = str(err)
    assert "\n" not in text and text.strip() == text and text
    assert type(err) is SpecError
    return err


def test_valid_base():
    plan = validate(BASE)
    assert plan.groups == ()
    assert problems(BASE) == []


def test_slot_in_two_groups():
    err = error_of(with_groups(group("b0:ffn", "b1:ffn"), group("b0:ffn", "b2:ffn", name="h")))
    assert err.path == "groups[1].members[0]"
    assert "b0:ffn" in str(err) and "'g'" in str(err) and "'h'" in str(err) and "two groups" in str(err)


def test_slot_inside_another_groups_slot():
    err = error_of(with_groups(group("b0:block", "b1:block"), group("b0:ffn", "b2:ffn", name="h")))
    assert err.path == "groups[1].members[0]"
    assert "b0:ffn" in str(err) and "'g'" in str(err) and "overlaps" in str(err)


def test_overlapping_head_ranges():
    err = error_of(with_groups(group("b0:heads[0:2]", "b1:heads[0:2]"), group("b0:heads[1:3]", "b2:heads[1:3]",
                                                                             name="h")))
    assert "b0:heads[1:3]" in str(err) and "overlaps" in str(err)
    # adjacent ranges do not overlap
    validate(with_groups(group("b0:heads[0:2]", "b1:heads[0:2]"), group("b0:heads[2:4]", "b2:heads[2:4]", name="h")))


def test_members_with_different_shapes_name_both_members_and_shapes():
    spec = with_groups(group("b0:ffn", "b1:ffn"), spec=with_layer(1, d_ff=64))
    err = error_of(spec)
    text = str(err)
    assert err.path == "groups[0].members[1]"
    assert "'g'" in text and "b1:ffn" in text and "b0:ffn" in text
    assert "64x16" in text and "32x16" in text


def test_members_with_different_tensors_name_the_missing_one():
    # same shapes everywhere, but b1 has no biases: the message must say what b1 lacks
    err = error_of(with_groups(group("b0:attention", "b1:attention"), spec=with_layer(1, bias=False)))
    text = str(err)
    assert "b0:attention" in text and "b1:attention" in text
    assert "q.bias 16" in text and "has no q.bias" in text


def test_k_and_v_projections_of_one_layer_may_share():
    plan = validate(with_groups(group("b0:attention.q", "b0:attention.o")))
    assert plan.groups[0].numel == 16 * 16 + 16


@pytest.mark.parametrize("spec, path, fragments", [
    (with_groups(group("b0:ffn", "zz:ffn")), "groups[0].members[1]", ["unknown layer 'zz'"]),
    (with_groups(group("b0:ffn", "b1:fnn")), "groups[0].members[1]", ["b1:fnn", "no slot 'fnn'", "ffn"]),
    (with_groups(group("b0:ffn")), "groups[0].members", ["at least two members"]),
    (with_groups(group("b0:ffn", "b0:ffn")), "groups[0].members[1]", ["b0:ffn", "twice"]),
    (with_groups(group("b0:ffn", "b1:ffn", name="")), "groups[0].name", ["non-empty name"]),
    (with_groups(group("b0:ffn", "b1:ffn"), group("b0:norm", "b1:norm")), "groups[1].name", ["'g'", "twice"]),
    (with_groups(group("b0:heads[0:5]", "b1:heads[0:5]")), "groups[0].members[0]", ["[0:5]", "outside 0..4"]),
    (with_groups(group("b0:heads[2:2]", "b1:heads[2:2]")), "groups[0].members[0]", ["[2:2]"]),
])
def test_group_problems(spec, path, fragments):
    err = error_of(spec)
    assert err.path == path
    for fragment in fragments:
        assert fragment in str(err)


def test_head_range_misaligned_with_gqa_groups():
    spec = dataclasses.replace(with_settings(n_kv_heads=2), groups=(group("b0:heads[0:1]", "b1:heads[0:1]"),))
    err = error_of(spec)
    assert err.path == "groups[0].members[0]"
    assert "b0:heads[0:1]" in str(err) and "K/V groups of 2 heads" in str(err)
    # aligned ranges are fine
    validate(dataclasses.replace(spec, groups=(group("b0:heads[2:4]", "b1:heads[2:4]"),)))


@pytest.mark.parametrize("spec, path, fragments", [
    (with_settings(n_heads=3), "model.n_heads", ["d_model 16", "n_heads 3"]),
    (with_layer(1, n_heads=3), "stack[1].n_heads", ["d_model 16", "n_heads 3"]),
    (with_settings(n_kv_heads=3), "model.n_kv_heads", ["n_kv_heads 3", "n_heads 4"]),
    (with_settings(n_kv_heads=8), "model.n_kv_heads", ["n_kv_heads 8", "n_heads 4"]),
    (with_layer(2, n_kv_heads=3), "stack[2].n_kv_heads", ["n_kv_heads 3"]),
    (with_settings(d_model=0), "model.d_model", ["at least 1", "0"]),
    (with_settings(d_ff=-4), "model.d_ff", ["at least 1", "-4"]),
    (with_settings(n_heads=0), "model.n_heads", ["at least 1"]),
    (with_settings(vocab_size=-1), "model.vocab_size", ["at least 1"]),
    (with_layer(0, d_ff=0), "stack[0].d_ff", ["at least 1"]),
    (with_layer(0, head_dim=-2), "stack[0].head_dim", ["at least 1"]),
    (with_settings(d_model=10**9), "model.d_model", ["absurdly large"]),
    (with_settings(vocab_size=10**12), "model.vocab_size", ["absurdly large"]),
    (with_layer(0, d_ff=10**100), "stack[0].d_ff", ["absurdly large"]),
    (with_settings(d_model=True), "model.d_model", ["expected an integer"]),
    (with_settings(d_model=16.0), "model.d_model", ["expected an integer"]),
    (with_settings(d_model="16"), "model.d_model", ["expected an integer"]),
    (with_settings(d_model=None), "model.d_model", ["needs a value"]),
    (with_settings(n_heads=None), "model.n_heads", ["needs a value"]),
    (with_settings(norm_eps=float("nan")), "model.norm_eps", ["small positive number"]),
    (with_settings(norm_eps=0), "model.norm_eps", ["small positive number"]),
    (with_settings(activation="swish"), "model.activation", ["'swish'", "gelu"]),
    (with_settings(bias="yes"), "model.bias", ["true or false"]),
    (with_layer(1, kv_from="b2"), "stack[1].kv_from", ["'b2'", "later"]),
    (with_layer(1, kv_from="zz"), "stack[1].kv_from", ["'zz'", "not a layer"]),
    (with_layer(1, kv_from="b1"), "stack[1].kv_from", ["'b1'", "itself"]),
    (with_layer(1, kv_from="b 0"), "stack[1].kv_from", ["layer id"]),
    (with_layer(0, lora_rank=None), "stack[0].lora_rank", ["needs a value"]),
    (with_layer(0, low_rank=100), "stack[0].low_rank", ["low_rank 100"]),
    (with_layer(0, id="bad id"), "stack[0].id", ["'bad id'"]),
    (with_layer(0, kind="blok"), "stack[0].kind", ["'blok'"]),
    (with_layer(0, kernel_size=5), "stack[0].kernel_size", ["block layer has no setting 'kernel_size'"]),
    (with_settings(positional="rotary", head_dim=3), "model.head_dim", ["even head_dim", "3"]),
    (dataclasses.replace(BASE, layers=BASE.layers + (BASE.layers[0],)), "stack[3].id", ["'b0'", "stack[0]"]),
    (dataclasses.replace(BASE, layers=BASE.layers + (LayerSpec("e", "embedding"),)), "stack[3].kind",
     ["embedding must be the first"]),
    (StackSpec(ModelSettings(d_model=16), (LayerSpec("c", "conv", groups=3),)), "stack[0].groups",
     ["groups 3", "d_model 16"]),
    (StackSpec(ModelSettings(d_model=16), (LayerSpec("f", "ffn", n_heads=2),)), "stack[0].n_heads",
     ["ffn layer has no setting 'n_heads'"]),
    (StackSpec(ModelSettings(d_model=16), (LayerSpec("f", "ffn"), LayerSpec("a", "attention", kv_from="f"))),
     "stack[1].kv_from", ["ffn layer", "no K/V"]),
])
def test_design_problems(spec, path, fragments):
    err = error_of(spec)
    assert err.path == path, str(err)
    assert str(err).startswith(path + ": ")
    for fragment in fragments:
        assert fragment in str(err), str(err)


def test_kv_from_chain_and_mismatch():
    spec = with_layer(1, kv_from="b0")
    validate(spec)
    layers = list(spec.layers)
    layers[2] = dataclasses.replace(layers[2], kv_from="b1")
    err = error_of(dataclasses.replace(spec, layers=tuple(layers)))
    assert err.path == "stack[2].kv_from" and "point at 'b0'" in str(err)
    layers[2] = dataclasses.replace(layers[2], kv_from="b0", n_kv_heads=2)
    err = error_of(dataclasses.replace(spec, layers=tuple(layers)))
    assert err.path == "stack[2].kv_from" and "2 x 4" in str(err)


def test_problems_lists_every_layer_problem():
    layers = list(BASE.layers)
    layers[0] = dataclasses.replace(layers[0], n_heads=3)
    layers[2] = dataclasses.replace(layers[2], d_ff=-1)
    found = problems(dataclasses.replace(BASE, layers=tuple(layers)))
    assert [e.path for e in found] == ["stack[0].n_heads", "stack[2].d_ff"]
    assert all(isinstance(e, SpecError) for e in found)


def test_too_many_layers():
    spec = StackSpec(ModelSettings(d_model=8, n_heads=2), tuple(LayerSpec(f"n{i}", "norm") for i in range(4097)))
    err = error_of(spec)
    assert err.path == "stack" and "4097" in str(err)


def test_unshared_twin_undoes_every_kind_of_sharing():
    spec = dataclasses.replace(with_layer(1, kv_from="b0", n_kv_heads=2),
                               settings=dataclasses.replace(BASE.settings, n_kv_heads=2),
                               groups=(group("b0:ffn", "b2:ffn"),))
    validate(spec)
    twin = unshared_twin(spec)
    validate(twin)
    assert twin.groups == ()
    assert twin.settings.n_kv_heads is None
    assert all(x.kv_from is None and x.n_kv_heads is None for x in twin.layers)
    assert unshared_twin(BASE) is BASE


@pytest.mark.parametrize("bad, good", [({"d_ff": 32.0}, {"d_ff": 32}), ({"bias": 1}, {"bias": True}),
                                       ({"n_heads": 4.0}, {"n_heads": 4}), ({"causal": 0}, {"causal": False})])
def test_validation_does_not_confuse_equal_values_of_other_types(bad, good):
    # 32.0 == 32 and 1 == True, so frozen specs that differ only so compare (and hash) equal
    bad_spec, good_spec = with_layer(0, **bad), with_layer(0, **good)
    assert bad_spec == good_spec
    for _ in range(2):                                  # either order, cached or not
        error_of(bad_spec)
        validate(good_spec)
