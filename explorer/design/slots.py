"""Tensor inventory of each layer and the slots (shareable parts) that cover it.

A layer owns named tensors (``attention.q.weight``, ``ffn.up.bias`` ...). A slot names a
set of pieces of them: whole tensors, or, for ``heads[i:j]``, row or column ranges of the
attention projections. Build and analysis both read these tables, so they cannot disagree.
"""

from __future__ import annotations

from math import prod
from dataclasses import dataclass
from functools import lru_cache

from explorer.design.model import LayerDims, LayerSpec, ModelSettings, Slot, dims
from explorer.kinds import kind
from explorer.kinds.base import OUTSIDE_BLOCK, TensorSpec

_OUTSIDE = tuple(f"{prefix}." for prefix in OUTSIDE_BLOCK)

__all__ = ["Piece", "SlotError", "TensorSpec", "has_heads", "layer_tensors", "pieces_of",
           "pieces_overlap", "slot_names", "slot_pieces", "slot_signature", "tensors_of"]


@dataclass(frozen=True, slots=True)
class Piece:
    """A tensor, or the range [lo, hi) of it along `axis` (head slices)."""

    tensor: str
    shape: tuple[int, ...]        # shape of the piece itself
    axis: int | None = None
    lo: int = 0
    hi: int = 0

    @property
    def numel(self) -> int:
        return prod(self.shape)


_PROJECTIONS = ("q", "k", "v", "o")


def layer_tensors(layer: LayerSpec, settings: ModelSettings) -> tuple[TensorSpec, ...]:
    """Every parameter tensor the layer owns when nothing is shared."""
    return tensors_of(dims(layer, settings))


@lru_cache(maxsize=65536)
def tensors_of(d: LayerDims) -> tuple[TensorSpec, ...]:
    """The tensors of any layer with these effective settings (identical layers share the entry)."""
    return tuple(kind(d.kind).tensors(d))


def slot_names(kind_name: str) -> tuple[str, ...]:
    """Named slots a layer kind offers (heads[i:j] comes on top for kinds with attention)."""
    return tuple(kind(kind_name).slots)


def has_heads(kind_name: str) -> bool:
    return kind(kind_name).has_heads


def _matches(name: str, prefix: str) -> bool:
    if prefix == "*":
        return not name.startswith(_OUTSIDE)
    if prefix == "@B":
        return name.endswith(".B")
    return name == prefix or name.startswith(prefix + ".")


class SlotError(ValueError):
    """A slot name is unknown for the layer, or its head range is impossible."""


def slot_pieces(layer: LayerSpec, settings: ModelSettings, slot: Slot) -> tuple[tuple[str, Piece], ...]:
    """(relative name, piece) for every piece `slot` covers in `layer`.

    Relative names let members on different slots compare: the q and k projections of a
    layer both read ``weight``/``bias`` relative to their slot. Raises SlotError.
    """
    return pieces_of(dims(layer, settings), slot)


@lru_cache(maxsize=65536)
def pieces_of(d: LayerDims, slot: Slot) -> tuple[tuple[str, Piece], ...]:
    """slot_pieces for any layer with these effective settings (cached per distinct layer shape)."""
    tensors = tensors_of(d)
    lo, hi = slot.lo or 0, slot.hi or 0             # a range's bounds (both set for heads[i:j], experts[i:j])
    if slot.is_heads:
        return _head_pieces(d, lo, hi)
    if slot.is_experts:
        return _expert_pieces(d, lo, hi)
    prefixes = None if slot.is_range else kind(d.kind).slots.get(slot.name)
    if prefixes is None:
        known = ", ".join(slot_names(d.kind) + (("heads[i:j]",) if has_heads(d.kind) else ())
                          + (("experts[i:j]",) if kind(d.kind).has_experts else ()))
        raise SlotError(f"{d.kind} layer has no slot '{slot}' (slots: {known})")
    strip = prefixes[0] if len(prefixes) == 1 and prefixes[0] not in ("*", "@B") else None
    out = []
    for t in tensors:
        if any(_matches(t.name, p) for p in prefixes):
            rel = t.name
            if strip is not None:
                rel = t.name[len(strip) + 1:] if t.name != strip else "weight"
            out.append((rel, Piece(t.name, t.shape)))
    if not out:
        raise SlotError(f"slot '{slot}' of {d.kind} layer holds no tensors here")
    return tuple(out)


def _head_pieces(d: LayerDims, lo: int, hi: int) -> tuple[tuple[str, Piece], ...]:
    if not has_heads(d.kind):
        raise SlotError(f"{d.kind} layer has no attention heads")
    if d.low_rank:
        raise SlotError("head slices need dense projections (this layer uses low_rank)")
    if not (0 <= lo < hi <= d.n_heads):
        raise SlotError(f"head range [{lo}:{hi}] is outside 0..{d.n_heads}")
    group = d.n_heads // d.n_kv_heads if d.n_kv_heads else 0
    if d.n_kv_heads != d.n_heads and d.kv_from is None and (lo % group or hi % group):
        raise SlotError(f"head range [{lo}:{hi}] must align with K/V groups of {group} heads "
                        f"(n_kv_heads={d.n_kv_heads})")
    hd = d.head_dim
    names = {t.name for t in tensors_of(d)}
    out: list[tuple[str, Piece]] = []
    for p in _PROJECTIONS:
        if p in ("k", "v"):
            if d.kv_from is not None:
                continue
            a, b = (lo // group, hi // group) if group else (lo, hi)
        else:
            a, b = lo, hi
        w = f"attention.{p}.weight"
        if p == "o":
            out.append((w, Piece(w, (d.d_model, (b - a) * hd), 1, a * hd, b * hd)))
        else:
            out.append((w, Piece(w, ((b - a) * hd, d.d_model), 0, a * hd, b * hd)))
            bias = f"attention.{p}.bias"
            if bias in names:
                out.append((bias, Piece(bias, ((b - a) * hd,), 0, a * hd, b * hd)))
    return tuple(out)


def _expert_pieces(d: LayerDims, lo: int, hi: int) -> tuple[tuple[str, Piece], ...]:
    """Experts lo..hi-1 of a mixture of experts: rows [lo, hi) of its stacked expert tensors."""
    if not kind(d.kind).has_experts:
        raise SlotError(f"{d.kind} layer has no experts")
    if not (0 <= lo < hi <= d.n_experts):
        raise SlotError(f"expert range [{lo}:{hi}] is outside 0..{d.n_experts}")
    out = []
    for t in tensors_of(d):
        if t.name.startswith("moe.experts."):
            out.append((t.name, Piece(t.name, (hi - lo,) + t.shape[1:], 0, lo, hi)))
    return tuple(out)


def slot_signature(layer: LayerSpec, settings: ModelSettings, slot: Slot) -> tuple[tuple[str, tuple[int, ...]], ...]:
    """What must agree for two members to share: relative names and shapes."""
    return signature_of(dims(layer, settings), slot)


@lru_cache(maxsize=65536)
def signature_of(d: LayerDims, slot: Slot) -> tuple[tuple[str, tuple[int, ...]], ...]:
    return tuple((rel, piece.shape) for rel, piece in pieces_of(d, slot))


def pieces_overlap(a: Piece, b: Piece) -> bool:
    if a.tensor != b.tensor:
        return False
    if a.axis is None or b.axis is None:
        return True
    if a.axis != b.axis:
        return True
    return a.lo < b.hi and b.lo < a.hi
