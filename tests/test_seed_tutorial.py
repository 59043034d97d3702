"""Seed 000's own code, run here: our tutorial presets must report what it really builds.

The seed's text prints 50,468,352 / 4,205,824; its code gives 37,828,608 / 3,152,384.
Our numbers come from torch, so this test rebuilds the seed's classes verbatim.
"""

from __future__ import annotations

import pytest

from explorer.analysis import analyze
from explorer.presets import PRESETS_DIR
from explorer.design import yaml_io

torch = pytest.importorskip("torch")
nn = torch.nn


class TransformerBlock(nn.Module):          # seed 000, as written
    def __init__(self, d_model: int, num_heads: int, d_ff: int):
        super().__init__()
        self.attention = nn.MultiheadAttention(d_model, num_heads, batch_first=True)
        self.ffn = nn.Sequential(nn.Linear(d_model, d_ff), nn.GELU(), nn.Linear(d_ff, d_model))
        self.norm1 = nn.LayerNorm(d_model)
        self.norm2 = nn.LayerNorm(d_model)

    def forward(self, x):
        attn_output, _ = self.attention(x, x, x)
        x = self.norm1(x + attn_output)
        return self.norm2(x + self.ffn(x))


class UnsharedTransformer(nn.Module):
    def __init__(self, num_layers, d_model, num_heads, d_ff):
        super().__init__()
        self.layers = nn.ModuleList([TransformerBlock(d_model, num_heads, d_ff) for _ in range(num_layers)])

    def forward(self, x):
        for layer in self.layers:
            x = layer(x)
        return x


class SharedTransformer(nn.Module):
    def __init__(self, num_layers, d_model, num_heads, d_ff):
        super().__init__()
        self.num_layers = num_layers
        self.shared_block = TransformerBlock(d_model, num_heads, d_ff)

    def forward(self, x):
        for _ in range(self.num_layers):
            x = self.shared_block(x)
        return x


@pytest.mark.parametrize("preset, cls", [("tutorial-unshared", UnsharedTransformer),
                                         ("tutorial-all-shared", SharedTransformer)])
def test_tutorial_matches_seed_code(preset, cls):
    from torch.utils.flop_counter import FlopCounterMode

    seed_model = cls(12, 512, 8, 2048).to("meta")      # training mode: the path FlopCounterMode sees
    report = analyze(yaml_io.load(PRESETS_DIR / f"{preset}.yaml"), batch=2, seq=64)
    assert report.params.unique == sum(p.numel() for p in seed_model.parameters())
    x = torch.empty(2, 64, 512, device="meta")
    with FlopCounterMode(display=False) as counter:
        seed_model(x)
    assert report.flops.forward == counter.get_total_flops()


def test_tutorial_counts_are_what_the_code_gives_not_the_text():
    unshared = analyze(yaml_io.load(PRESETS_DIR / "tutorial-unshared.yaml")).params
    shared = analyze(yaml_io.load(PRESETS_DIR / "tutorial-all-shared.yaml")).params
    assert (unshared.unique, shared.unique) == (
        sum(p.numel() for p in UnsharedTransformer(12, 512, 8, 2048).to("meta").parameters()),
        sum(p.numel() for p in SharedTransformer(12, 512, 8, 2048).to("meta").parameters()),
    )
    assert shared.unshared == unshared.unique
    assert (unshared.unique, shared.unique) != (50_468_352, 4_205_824)


def test_attention_equals_ffn_at_n_equals_2d():
    """Seed 003: for d=512, d_ff=2048 attention and FFN FLOPs cross at n = 1024 = 2d."""
    spec = yaml_io.load(PRESETS_DIR / "tutorial-unshared.yaml")
    at = analyze(spec, 1, 1024).flops.by_component
    assert at["attention"] == at["ffn"]
    below, above = analyze(spec, 1, 512).flops.by_component, analyze(spec, 1, 2048).flops.by_component
    assert below["attention"] < below["ffn"] and above["attention"] > above["ffn"]
