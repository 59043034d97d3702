"""Structural sharing entries (GQA/MQA, cross-layer K/V, factorized embedding, low-rank factors,
LoRA): each saving equals torch's count of the design with that feature undone, minus torch's
count of the design, both built on the meta device."""

import dataclasses

import pytest

torch = pytest.importorskip("torch")

from explorer.analysis.structure import structural_entries
from explorer.torchmodel.stack import build_model
from explorer.presets import PRESETS_DIR
from explorer.design import yaml_io
from explorer.design.model import dims


def torch_count(spec) -> int:
    return sum(p.numel() for p in build_model(spec, device="meta").parameters())


def with_layers(spec, **changes):
    return dataclasses.replace(spec, layers=tuple(dataclasses.replace(layer, **changes) for layer in spec.layers))


def undo(spec, name: str):
    """(the design with the feature undone, the design it is compared with)."""
    if name in ("GQA", "MQA"):
        plain = dataclasses.replace(spec, settings=dataclasses.replace(spec.settings, n_kv_heads=None))
        return with_layers(plain, n_kv_heads=None), spec
    if name == "cross-layer K/V":
        return with_layers(spec, kv_from=None), spec
    if name == "factorized embedding":
        plain = dataclasses.replace(spec, settings=dataclasses.replace(spec.settings, embedding_size=None))
        return with_layers(plain, embedding_size=None), spec
    if name == "LoRA-relaxed recursion":
        return with_layers(spec, lora_rank=0), spec
    if name == "low-rank factors":       # the shared factors are a group of their own: compared unshared
        unfactored = dataclasses.replace(spec, groups=tuple(g for g in spec.groups
                                                            if not any(m.slot.name == "factors" for m in g.members)))
        return with_layers(unfactored, low_rank=0), unfactored
    raise AssertionError(name)


@pytest.mark.parametrize("preset,expected", [
    ("gqa", "GQA"), ("mqa", "MQA"), ("cross-layer-kv", "cross-layer K/V"),
    ("factorized-embedding", "factorized embedding"),
    ("relaxed-recursion", "LoRA-relaxed recursion"), ("shared-low-rank", "low-rank factors"),
])
def test_each_saving_equals_torch(preset, expected):
    spec = yaml_io.load(PRESETS_DIR / f"{preset}.yaml")
    entries = {e.name: e for e in structural_entries(spec)}
    assert expected in entries
    for name, entry in entries.items():
        undone, reference = undo(spec, name)
        assert entry.saved == torch_count(undone) - torch_count(reference), name
    if expected == "LoRA-relaxed recursion":
        assert entries[expected].saved < 0              # LoRA adds parameters to the shared block


def test_unshared_design_has_no_entries():
    spec = yaml_io.load(PRESETS_DIR / "bert-base.yaml")
    assert structural_entries(spec) == []
    assert all(dims(layer, spec.settings).n_kv_heads == dims(layer, spec.settings).n_heads for layer in spec.layers
               if layer.kind == "block")
