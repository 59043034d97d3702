"""A layer kind is one module (explorer/kinds/<kind>.py, its torch half beside it) plus one
registry line: the code that used to switch on the kind string reads the registry instead."""

import ast
from pathlib import Path

import pytest

from explorer.design.model import KIND_FIELDS, KINDS, LayerSpec, ModelSettings, dims
from explorer.kinds import REGISTRY, torch_halves
from explorer.kinds.saving import Flow

ROOT = Path(__file__).resolve().parents[2] / "explorer"
ALLOWED: dict[tuple[str, int], str] = {}
"""(module, line) -> why a kind name there is data about names, not a switch on the kind (none today)."""


def kind_switches(source: str) -> list[tuple[int, str]]:
    """(line, text) of each place in `source` that decides by a kind's name: a comparison of something
    called *kind* with a kind-name literal (or a tuple/list/set of them), a `kinds=` argument or a
    *KIND* constant made of kind names, a loop over kind names, and `kind("block")` / `REGISTRY["block"]`."""
    tree = ast.parse(source)
    names = set(KINDS)

    def literals(node) -> bool:
        if isinstance(node, ast.Constant):
            return node.value in names
        if isinstance(node, (ast.Tuple, ast.List, ast.Set)):
            return any(isinstance(e, ast.Constant) and e.value in names for e in node.elts)
        return False

    def about_kind(node) -> bool:
        return "kind" in ast.unparse(node).lower()

    out = []
    for node in ast.walk(tree):
        hit = False
        if isinstance(node, ast.Compare):
            operands = [node.left, *node.comparators]
            hit = any(literals(a) and any(about_kind(b) for b in operands if b is not a) for a in operands)
        elif isinstance(node, ast.keyword):
            hit = node.arg is not None and "kinds" in node.arg.lower() and literals(node.value)
        elif isinstance(node, ast.Assign):
            hit = literals(node.value) and not isinstance(node.value, ast.Constant) and any(
                "kind" in ast.unparse(t).lower() for t in node.targets)
        elif isinstance(node, (ast.For, ast.comprehension)):
            hit = isinstance(node.iter, (ast.Tuple, ast.List, ast.Set)) and literals(node.iter)
        elif isinstance(node, ast.Call):
            hit = (isinstance(node.func, ast.Name) and node.func.id in ("kind", "kind_of")
                   and bool(node.args) and literals(node.args[0]))
        elif isinstance(node, ast.Subscript):
            hit = "REGISTRY" in ast.unparse(node.value) and literals(node.slice)
        if hit:
            out.append((node.lineno, ast.get_source_segment(source, node) or ""))
    return out


def _modules():
    return sorted(p for p in ROOT.rglob("*.py") if p.relative_to(ROOT).parts[0] != "kinds")


def test_no_code_outside_the_kinds_asks_a_kind_by_name():
    """The design, analysis, torch side, training, CLI and window ask a kind's capabilities
    (explorer/kinds/base.py), never its name: a new kind-name comparison anywhere fails here."""
    modules = _modules()
    assert len(modules) > 100 and any(p.parts[-2] == "gui" for p in modules) \
        and any(p.parts[-2] == "cli" for p in modules)
    found = []
    for path in modules:
        rel = path.relative_to(ROOT).as_posix()
        for line, text in kind_switches(path.read_text(encoding="utf-8")):
            if (rel, line) not in ALLOWED:
                found.append(f"{rel}:{line}: {text}")
    assert not found, "code outside explorer/kinds asks a kind by name:\n" + "\n".join(found)


@pytest.mark.parametrize("code", [
    'if layer.kind == "block":\n    pass',
    'x = [l for l in layers if l.kind != "embedding"]',
    'ok = layer.kind in ("lstm", "gru", "conv")',
    'ok = "lm_head" == runner.kind',
    'targets = _targets(spec, layers, "block", kinds=("conv",))',
    '_BLOCK_KINDS = ("block", "moe_block")',
    'for cell in ("lstm", "gru"):\n    pass',
    'flag = kind("cross_block").reads_memory',
    'k = REGISTRY["moe_block"]',
])
def test_the_scan_catches_each_way_of_asking_by_name(code):
    assert kind_switches(code)


@pytest.mark.parametrize("code", [
    'if slot.name == "block":\n    pass',                 # a slot, not a kind
    'if job.kind == "train":\n    pass',                  # a job's kind, no layer kind's name
    'layer = LayerSpec("lm_head", "lm_head")',              # building a layer of a kind is data
    'if kind(layer.kind).lm_head:\n    pass',
])
def test_the_scan_leaves_slots_jobs_and_capabilities_alone(code):
    assert not kind_switches(code)


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
        by_component, elementwise = kind.flops(d, Flow(batch=2, seq=8))
        assert all(v >= 0 for v in by_component.values()) and elementwise >= 0
