"""Scaling depth down never leaves a silent self-comparison (issue 22, item 12): when the groups were
on the dropped layers it is said, in the CLI and the Train tab, and `keep_sharing` maps the sharing
pattern onto the kept depth."""

from __future__ import annotations

import pytest

from explorer.design import yaml_io
from explorer.design.model import LayerSpec, Member, ModelSettings, SharingGroup, StackSpec
from explorer.design.strategies import apply_scheme
from explorer.design.validate import validate
from explorer.train.adapt import NO_SHARING_LEFT, scale_down, sharing_lost


def tiny(n: int = 12) -> StackSpec:
    s = ModelSettings(d_model=32, n_heads=4, d_ff=64, vocab_size=50, max_positions=64, causal=True)
    layers = [LayerSpec("emb", "embedding"), *(LayerSpec(f"b{i}", "block") for i in range(n)),
              LayerSpec("out", "lm_head")]
    return StackSpec(s, tuple(layers), name="tiny")


def top_shared(n: int = 12) -> StackSpec:
    """The only group: the top four blocks share one block."""
    return tiny(n).replace(groups=(SharingGroup("top", tuple(Member(f"b{i}") for i in range(n - 4, n))),),
                           name="top-shared")


def groups(spec: StackSpec) -> list[list[str]]:
    return [[m.layer for m in g.members] for g in spec.groups]


def test_groups_on_the_dropped_layers_leave_no_sharing_and_it_is_said():
    spec = top_shared()
    small, _notes = scale_down(spec, depth=4)
    assert small.groups == () and sharing_lost(spec, small)
    kept, notes = scale_down(spec, depth=4, keep_sharing=True)
    validate(kept)
    assert [x.id for x in kept.layers] == ["emb", "b0", "b3", "b8", "b9", "out"]
    assert groups(kept) == [["b8", "b9"]] and not sharing_lost(spec, kept)
    assert "b0, b3, b8, b9" in notes[0]


@pytest.mark.parametrize("scheme,options,expect", [
    ("albert", {}, [["b0", "b3", "b6", "b9"]]),                   # still all-shared
    ("cycle", {"blocks": 2}, [["b0", "b6"], ["b3", "b9"]]),      # still a cycle: A B A B
])
def test_keep_sharing_keeps_the_pattern(scheme, options, expect):
    spec = apply_scheme(tiny(), scheme, **options)
    kept, _notes = scale_down(spec, depth=4, keep_sharing=True)
    validate(kept)
    assert sorted(groups(kept)) == sorted(expect)
    assert len([x for x in kept.layers if x.id.startswith("b")]) == 4


def test_scaling_what_has_no_sharing_says_nothing():
    assert not sharing_lost(tiny(), scale_down(tiny(), depth=2)[0])


def test_the_cli_says_it_and_offers_keep_sharing(tmp_path, capsys):
    pytest.importorskip("torch")
    from explorer.cli import main

    path = tmp_path / "top.yaml"
    yaml_io.save(top_shared(), path)
    common = ["train", str(path), "--depth", "4", "--width", "16", "--heads", "2", "--steps", "2", "--batch", "2",
              "--seq", "8", "--eval-every", "2", "--eval-batches", "1", "--data", "task:copy"]
    assert main(common) == 0
    captured = capsys.readouterr()
    assert f"warning: {path}: {NO_SHARING_LEFT}" in captured.err and "--keep-sharing" in captured.err
    assert f"note: {NO_SHARING_LEFT}" in captured.out
    assert main(common + ["--keep-sharing"]) == 0
    captured = capsys.readouterr()
    assert NO_SHARING_LEFT not in captured.err + captured.out
    assert "taken across the stack to keep its sharing: b0, b3, b8, b9" in captured.out
