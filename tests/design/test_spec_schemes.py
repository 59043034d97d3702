"""One-click schemes: the groups they produce, purity, stacking, and `layers=` selections."""

from __future__ import annotations

import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(__file__))

from design_strategies import (
    stack_for_scheme,
    transformer_stack,
)

from explorer.errors import SpecError
from explorer.design.model import Member, SharingGroup, StackSpec
from explorer.design.strategies import SCHEMES, apply_scheme
from explorer.design.validate import validate


def members(spec: StackSpec) -> list[list[str]]:
    return [[str(m) for m in g.members] for g in spec.groups]


def blocks(slot: str, *ids: int) -> list[str]:
    return [f"b{i}:{slot}" for i in ids]


# scheme -> (options, expected groups as 'layer:slot' lists) on transformer_stack(4) / rnn / conv stacks
EXPECTED_GROUPS = {
    "albert": ({}, [blocks("block", 0, 1, 2, 3)]),
    "albert-ffn": ({}, [blocks("ffn", 0, 1, 2, 3)]),
    "albert-attention": ({}, [blocks("attention", 0, 1, 2, 3)]),
    "universal": ({}, [blocks("block", 0, 1, 2, 3)]),
    "sequence": ({"blocks": 2}, [blocks("block", 0, 1), blocks("block", 2, 3)]),
    "cycle": ({"blocks": 2}, [blocks("block", 0, 2), blocks("block", 1, 3)]),
    "cycle-reverse": ({"blocks": 2}, [blocks("block", 0, 3), blocks("block", 1, 2)]),   # 0, 1, 1, 0
    "immediate-repeat": ({}, [blocks("block", 0, 1), blocks("block", 2, 3)]),
    "interleaved": ({}, [blocks("block", 1, 3)]),
    "skip": ({"skip": 2}, [blocks("block", 0, 2), blocks("block", 1, 3)]),
    "head-sharing": ({"heads": "0:2"}, [blocks("heads[0:2]", 0, 1, 2, 3)]),
    "gqa": ({"n_kv_heads": 2}, []),
    "mqa": ({}, []),
    "cross-layer-kv": ({"every": 2}, []),
    "tie-embeddings": ({}, [["emb:embedding", "out:head"]]),
    "factorized-embedding": ({"size": 8}, []),
    "shared-low-rank": ({"rank": 4}, [blocks("factors", 0, 1, 2, 3)]),
    "relaxed-recursion": ({"rank": 2}, [blocks("block", 0, 1, 2, 3)]),
    "shared-rnn-cell": ({}, [["lstm1:block", "lstm2:block"], ["gru1:block", "gru2:block"]]),
    "shared-conv-bank": ({}, [["conv0:block", "conv1:block", "conv2:block"]]),
    "grouped-conv": ({"groups": 4}, []),
    "multi-task": ({"tasks": [2, 5]}, []),
    "unshare": ({}, []),
    "expert-bank": ({}, [blocks("experts", 0, 1, 2, 3)]),
    "shared-expert": ({}, [blocks("shared_expert", 0, 1, 2, 3)]),
}


def test_every_registered_scheme_is_covered():
    assert set(EXPECTED_GROUPS) == set(SCHEMES)
    for name, scheme in SCHEMES.items():
        assert scheme.name == name and scheme.doc and isinstance(scheme.pure, bool)


@pytest.mark.parametrize("name", sorted(SCHEMES))
def test_scheme_produces_expected_groups_that_validate(name):
    options, expected = EXPECTED_GROUPS[name]
    spec = stack_for_scheme(name)
    out = apply_scheme(spec, name, **options)
    plan = validate(out)
    assert members(out) == expected
    for g in out.groups:                               # ordinary, editable groups
        assert isinstance(g, SharingGroup) and isinstance(g.members, tuple) and g.name
        assert all(isinstance(m, Member) for m in g.members)
    assert len({g.name for g in out.groups}) == len(out.groups)
    assert len(plan.groups) == len(expected)


@pytest.mark.parametrize("name", sorted(SCHEMES))
def test_pure_schemes_only_touch_groups(name):
    options, _ = EXPECTED_GROUPS[name]
    spec = stack_for_scheme(name)
    out = apply_scheme(spec, name, **options)
    if SCHEMES[name].pure:
        assert out.layers == spec.layers and out.settings == spec.settings
    elif name != "unshare":
        # the non-pure ones change the architecture itself
        assert out.layers != spec.layers or out.settings != spec.settings


def test_architecture_changes_of_non_pure_schemes():
    spec = transformer_stack(4)
    out = apply_scheme(spec, "universal")
    assert all(x.halting and x.timestep_signal for x in out.layers if x.kind == "block")
    out = apply_scheme(spec, "gqa", n_kv_heads=2)
    assert out.settings.n_kv_heads == 2
    assert apply_scheme(spec, "mqa").settings.n_kv_heads == 1
    out = apply_scheme(spec, "cross-layer-kv", every=2)
    assert [x.kv_from for x in out.layers] == [None, None, "b0", None, "b2", None]
    out = apply_scheme(spec, "cross-layer-kv", every=3)
    assert [x.kv_from for x in out.layers] == [None, None, "b0", "b0", None, None]
    assert apply_scheme(spec, "factorized-embedding", size=8).settings.embedding_size == 8
    out = apply_scheme(spec, "shared-low-rank", rank=4)
    assert [x.low_rank for x in out.layers] == [0, 4, 4, 4, 4, 0]
    out = apply_scheme(spec, "relaxed-recursion", rank=2, blocks=2)
    assert [x.lora_rank for x in out.layers] == [0, 2, 2, 2, 2, 0]
    assert members(out) == [blocks("block", 0, 2), blocks("block", 1, 3)]
    out = apply_scheme(spec, "multi-task", tasks=[2, 5])
    assert [(x.id, x.kind, x.n_outputs) for x in out.layers[-2:]] == [("task0", "head", 2), ("task1", "head", 5)]
    conv = stack_for_scheme("grouped-conv")
    assert [x.groups for x in apply_scheme(conv, "grouped-conv", groups=4).layers if x.kind == "conv"] == [4, 4, 4]


def test_factorized_embedding_adds_transform_to_a_tied_head():
    tied = apply_scheme(transformer_stack(2), "tie-embeddings")
    out = apply_scheme(tied, "factorized-embedding", size=8)
    validate(out)
    assert out.layer("out").transform
    assert members(out) == [["emb:embedding", "out:head"]]


def test_applying_on_top_drops_overlapping_members():
    spec = apply_scheme(transformer_stack(4), "albert")
    out = apply_scheme(spec, "albert-ffn")            # every block member contains its ffn
    validate(out)
    assert members(out) == [blocks("ffn", 0, 1, 2, 3)]

    spec = apply_scheme(transformer_stack(4), "cycle", blocks=2)   # [b0, b2], [b1, b3]
    out = apply_scheme(spec, "albert", layers=["b0", "b1"])
    validate(out)
    # b0 and b1 leave their cycle groups; groups left with one member disappear
    assert members(out) == [blocks("block", 0, 1)]

    spec = apply_scheme(transformer_stack(4), "head-sharing", heads="0:2")
    out = apply_scheme(spec, "albert-attention", layers=["b0", "b1"])
    validate(out)
    assert members(out) == [blocks("heads[0:2]", 2, 3), blocks("attention", 0, 1)]

    # disjoint slots stay: heads 2:4 on top of heads 0:2
    out = apply_scheme(spec, "head-sharing", heads="2:4")
    validate(out)
    assert members(out) == [blocks("heads[0:2]", 0, 1, 2, 3), blocks("heads[2:4]", 0, 1, 2, 3)]


def test_same_scheme_twice_gives_unique_names_or_replaces():
    spec = transformer_stack(6)
    once = apply_scheme(spec, "albert", layers=["b0", "b1"])
    twice = apply_scheme(once, "albert", layers=["b2", "b3"])
    validate(twice)
    assert [g.name for g in twice.groups] == ["albert-block", "albert-block-2"]
    again = apply_scheme(twice, "albert", layers=["b0", "b1"])   # replaces the first group
    validate(again)
    assert members(again) == [blocks("block", 2, 3), blocks("block", 0, 1)]


def test_cross_layer_kv_drops_groups_on_removed_projections():
    spec = apply_scheme(transformer_stack(4), "head-sharing", heads="0:1")
    out = apply_scheme(spec, "cross-layer-kv", every=2)
    validate(out)
    assert members(out) == [blocks("heads[0:1]", 0, 2)]


def test_shared_low_rank_drops_head_slices():
    spec = apply_scheme(transformer_stack(4), "head-sharing", heads="0:1")
    out = apply_scheme(spec, "shared-low-rank", rank=4)
    validate(out)
    assert members(out) == [blocks("factors", 0, 1, 2, 3)]


@pytest.mark.parametrize("name, options, expected", [
    ("albert", {"layers": ["b1", "b2", "b4"]}, [blocks("block", 1, 2, 4)]),
    ("albert-ffn", {"layers": ["b0", "b5"]}, [blocks("ffn", 0, 5)]),
    ("sequence", {"blocks": 2, "layers": ["b0", "b1", "b2", "b3"]}, [blocks("block", 0, 1), blocks("block", 2, 3)]),
    ("cycle", {"blocks": 2, "layers": ["b2", "b3", "b4", "b5"]}, [blocks("block", 2, 4), blocks("block", 3, 5)]),
    ("skip", {"skip": 3, "layers": ["b0", "b1", "b2", "b3"]}, [blocks("block", 0, 3)]),
    ("head-sharing", {"heads": "1:2", "layers": ["b3", "b5"]}, [blocks("heads[1:2]", 3, 5)]),
    ("universal", {"layers": ["b4", "b5"]}, [blocks("block", 4, 5)]),
])
def test_layers_option_applies_to_the_selection_only(name, options, expected):
    spec = transformer_stack(6)
    out = apply_scheme(spec, name, **options)
    validate(out)
    assert members(out) == expected
    chosen = set(options["layers"])
    for before, after in zip(spec.layers, out.layers):
        if before.id not in chosen:
            assert before == after


def test_layer_options_with_selection():
    spec = transformer_stack(6)
    out = apply_scheme(spec, "cross-layer-kv", every=2, layers=["b2", "b3"])
    assert [x.kv_from for x in out.layers] == [None, None, None, None, "b2", None, None, None]
    out = apply_scheme(spec, "gqa", n_kv_heads=2, layers=["b1"])
    validate(out)
    assert out.settings.n_kv_heads is None
    assert [x.n_kv_heads for x in out.layers] == [None, None, 2, None, None, None, None, None]
    out = apply_scheme(spec, "relaxed-recursion", rank=2, layers=["b0", "b1"])
    assert [x.lora_rank for x in out.layers] == [0, 2, 2, 0, 0, 0, 0, 0]


def test_unshare_by_name_and_by_layer():
    spec = apply_scheme(apply_scheme(transformer_stack(4), "cycle", blocks=2), "tie-embeddings")
    assert len(spec.groups) == 3
    assert members(apply_scheme(spec, "unshare", group="cycle-0")) == [blocks("block", 1, 3),
                                                                     ["emb:embedding", "out:head"]]
    assert members(apply_scheme(spec, "unshare", layers=["b2", "emb"])) == [blocks("block", 1, 3)]
    assert apply_scheme(spec, "unshare").groups == ()
    with pytest.raises(SpecError, match="no group named 'nope'"):
        apply_scheme(spec, "unshare", group="nope")


@pytest.mark.parametrize("name, options, fragment", [
    ("albert", {"layers": ["b0", "zz"]}, "unknown layer 'zz'"),
    ("albert", {"layers": "b0"}, "list of layer ids"),
    ("albert", {"slot": "norm"}, "block, ffn or attention"),
    ("albert", {"wat": 1}, "no option 'wat'"),
    ("sequence", {"blocks": 0}, "positive integer"),
    ("head-sharing", {"heads": "a:b"}, "head range"),
    ("head-sharing", {"heads": "2:1"}, "head range"),
    ("head-sharing", {"heads": "0:0"}, "head range"),
    ("head-sharing", {"heads": 0}, "head range"),
    ("head-sharing", {"heads": True}, "head range"),
    ("interleaved", {"layers": ["b0", "b1", "b2"]}, "at least 4"),
    ("tie-embeddings", {}, "embedding layer and an lm_head"),
    ("shared-rnn-cell", {}, "LSTM or GRU"),
    ("shared-conv-bank", {}, "conv layers"),
    ("grouped-conv", {}, "conv layers"),
    ("multi-task", {"tasks": []}, "list of output sizes"),
    ("multi-task", {"tasks": 10**6}, "layers"),
    ("multi-task", {"tasks": [2] * 5000}, "layers"),
    ("nonsense", {}, "unknown scheme 'nonsense'"),
])
def test_scheme_errors_are_one_line_spec_errors(name, options, fragment):
    spec = transformer_stack(4, embedding=(name != "tie-embeddings"))
    with pytest.raises(SpecError) as info:
        apply_scheme(spec, name, **options)
    text = str(info.value)
    assert fragment in text and "\n" not in text


def test_scheme_on_mismatched_blocks_fails_validation_naming_shapes():
    import dataclasses
    spec = transformer_stack(3)
    layers = list(spec.layers)
    layers[2] = dataclasses.replace(layers[2], d_ff=48)
    out = apply_scheme(dataclasses.replace(spec, layers=tuple(layers)), "albert")
    with pytest.raises(SpecError) as info:
        validate(out)
    text = str(info.value)
    assert "b1:block" in text and "b0:block" in text and "48x16" in text and "32x16" in text


def test_conv_bank_groups_by_effective_shape():
    import dataclasses
    spec = stack_for_scheme("shared-conv-bank")          # settings.bias is True
    layers = list(spec.layers)
    layers[1] = dataclasses.replace(layers[1], bias=True)    # explicit, same shapes as the inherited ones
    layers = layers[:3] + [dataclasses.replace(layers[0], id="conv3", bias=False),
                           dataclasses.replace(layers[0], id="conv4", bias=False),
                           dataclasses.replace(layers[0], id="conv5", kernel_size=5)] + layers[3:]
    out = apply_scheme(dataclasses.replace(spec, layers=tuple(layers)), "shared-conv-bank")
    validate(out)
    assert members(out) == [["conv0:block", "conv1:block", "conv2:block"], ["conv3:block", "conv4:block"]]


def test_apply_scheme_checks_the_layers_it_makes():
    """The app and the CLI call apply_scheme directly: a bad value copied into a new layer is a
    SpecError naming the key, not a TypeError later in validation."""
    import pytest

    from explorer.errors import SpecError
    from explorer.design.model import LayerSpec, ModelSettings, StackSpec
    from explorer.design.strategies import apply_scheme

    spec = StackSpec(settings=ModelSettings(d_model=32, n_heads=4), layers=(LayerSpec("b0", "block"),))
    with pytest.raises(SpecError) as err:
        apply_scheme(spec, "multi-task", task=[1])
    assert err.value.path == "task" and "sequence, token" in str(err.value)
