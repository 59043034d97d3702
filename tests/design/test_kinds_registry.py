"""A layer kind is one module (explorer/kinds/<kind>.py, its torch half beside it) plus one
registry line: the code that used to switch on the kind string reads the registry instead."""

import re
from pathlib import Path

import pytest

from explorer.design.model import KIND_FIELDS, KINDS, LayerSpec, ModelSettings, dims
from explorer.kinds import REGISTRY, torch_halves

ROOT = Path(__file__).resolve().parents[2] / "explorer"
READERS = ["design/slots.py", "analysis/flops.py", "analysis/memory.py", "torchmodel/runtime.py",
           "gui/card_layout.py", "gui/palette_panel.py"]
SWITCH = re.compile(r"""kind\s*(==|!=|in|not in)\s*[\("']""")


@pytest.mark.parametrize("path", READERS)
def test_no_kind_switch_outside_the_kind_modules(path):
    """These files once held one branch per kind; now they ask the kind's module."""
    text = (ROOT / path).read_text(encoding="utf-8")
    assert not SWITCH.findall(text), f"{path} switches on a kind string again"


def test_the_registry_is_the_list_of_kinds_and_their_fields():
    assert KINDS == tuple(REGISTRY)
    assert KIND_FIELDS == {name: k.fields for name, k in REGISTRY.items()}


def test_every_kind_has_a_torch_half_a_card_and_its_counts():
    pytest.importorskip("torch")
    import importlib

    from explorer.torchmodel.runtime import RUNNERS

    for name in torch_halves():
        importlib.import_module(name)
    settings = ModelSettings(d_model=64, n_heads=4, d_ff=128, vocab_size=100)
    for name, kind in REGISTRY.items():
        assert name in RUNNERS, f"kind {name} has no torch half registered"
        d = dims(LayerSpec("x", name), settings)
        assert kind.card(d) and kind.summary(d) and kind.tip
        assert all(t.numel > 0 for t in kind.tensors(d))
        by_component, elementwise = kind.flops(d, 2, 8)
        assert all(v >= 0 for v in by_component.values()) and elementwise >= 0
