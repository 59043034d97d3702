"""The registry of layer kinds: one module each under explorer/kinds/ (pure: no torch, no Qt).
Adding a kind is its module plus one line here; the design, analysis and window read kinds
only through `kind(name)` (see explorer/kinds/base.py for what a kind declares)."""

from __future__ import annotations

from explorer.kinds import attention, block, conv, cross_block, embedding, ffn, heads, linear, moe, norm, recurrent
from explorer.kinds.base import LayerKind

REGISTRY: dict[str, LayerKind] = {k.name: k for k in (
    embedding.KIND,
    block.KIND,
    attention.KIND,
    ffn.KIND,
    moe.KIND,
    cross_block.KIND,
    norm.KIND,
    linear.KIND,
    recurrent.LSTM,
    recurrent.GRU,
    conv.KIND,
    heads.POOLER,
    heads.LM_HEAD,
    heads.HEAD,
)}
"""Every kind, in the order the palette lists them (bottom to top of a typical stack)."""


def kind(name: str) -> LayerKind:
    """The kind called `name` (KeyError for an unknown one: validation names it first)."""
    return REGISTRY[name]


def kinds_with(flag: str) -> tuple[str, ...]:
    """The names of the kinds whose LayerKind sets capability `flag` (has_heads, lm_head, ...), in registry order."""
    return tuple(name for name, k in REGISTRY.items() if getattr(k, flag))


def torch_halves() -> list[str]:
    """The module of each kind's torch half (explorer/kinds/<module>_torch.py), in registry order."""
    return list(dict.fromkeys(f"{type(k).__module__}_torch" for k in REGISTRY.values()))


def load_torch_halves() -> None:
    """Import every kind's torch half, which registers its runner (imports torch: call from the
    torch side only)."""
    import importlib

    for name in torch_halves():
        importlib.import_module(name)
