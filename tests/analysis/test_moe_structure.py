"""Mixtral's MoE blocks have attention too: its GQA is structural sharing, and a depth sweep
grows its MoE trunk (issue 22, review). Pure: no torch."""

import json
from pathlib import Path

from explorer.analysis import count_params
from explorer.analysis.structure import structural_entries
from explorer.analysis.sweeps import sweep_depth, with_depth
from explorer.design.hf_import import import_hf_config

MIXTRAL = Path(__file__).resolve().parents[1] / "fuzz" / "hf_configs" / "mixtral.json"


def mixtral():
    return import_hf_config(json.loads(MIXTRAL.read_text()), False)


def test_mixtral_gqa_is_listed_with_its_saving():
    spec = mixtral()                                # d 256, 8 heads of 32, 2 K/V heads, 4 MoE blocks, no biases
    entries = {e.name: e for e in structural_entries(spec)}
    gqa = entries["GQA"]
    d, kv_width = 256, 2 * 32
    assert gqa.layers == 4 and gqa.detail.startswith("2 K/V heads for 8 queries")
    assert gqa.saved == 4 * 2 * d * (d - kv_width)  # K and V of every layer: d x d unshared, d x 64 with GQA


def test_depth_sweep_grows_mixtral_moe_trunk():
    spec = mixtral()
    six = with_depth(spec, 6)
    trunk = [layer for layer in six.layers if layer.kind == spec.layers[1].kind]
    assert len(trunk) == 6 and len(six.layers) == len(spec.layers) + 2
    points = {(p.layers, p.scheme): p for p in sweep_depth(spec, [2, 6], ["unshared", "albert"])}
    assert not any(p.error for p in points.values())
    one_block = count_params(with_depth(spec, 2)).unique - count_params(with_depth(spec, 1)).unique
    assert points[(6, "unshared")].unique - points[(2, "unshared")].unique == 4 * one_block
    assert points[(6, "albert")].unique == points[(2, "albert")].unique
