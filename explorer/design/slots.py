"""Tensor inventory of each layer and the slots (shareable parts) that cover it.

A layer owns named tensors (``attention.q.weight``, ``ffn.up.bias`` ...). A slot names a
set of pieces of them: whole tensors, or, for ``heads[i:j]``, row or column ranges of the
attention projections. Build and analysis both read these tables, so they cannot disagree.
"""

from __future__ import annotations

import re
from math import prod
from dataclasses import dataclass
from functools import lru_cache

from explorer.design.model import LayerDims, LayerSpec, ModelSettings, dims


@dataclass(frozen=True, slots=True)
class TensorSpec:
    """One parameter tensor of a layer. `component` is where its FLOPs and bytes are reported."""

    name: str
    shape: tuple[int, ...]
    component: str               # attention | ffn | embedding | head | other

    @property
    def numel(self) -> int:
        return prod(self.shape)


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


HEADS_RE = re.compile(r"^heads\[(\d+):(\d+)\]$")

_PROJECTIONS = ("q", "k", "v", "o")


def _linear(prefix: str, out_f: int, in_f: int, bias: bool, component: str, low_rank: int = 0) -> list[TensorSpec]:
    if low_rank:
        # W = A @ B with A (out, r) per layer and B (r, in) the shareable factor
        out = [TensorSpec(f"{prefix}.A", (out_f, low_rank), component),
               TensorSpec(f"{prefix}.B", (low_rank, in_f), component)]
    else:
        out = [TensorSpec(f"{prefix}.weight", (out_f, in_f), component)]
    if bias:
        out.append(TensorSpec(f"{prefix}.bias", (out_f,), component))
    return out


def _norm(prefix: str, kind: str, width: int, component: str) -> list[TensorSpec]:
    out = [TensorSpec(f"{prefix}.weight", (width,), component)]
    if kind == "layernorm":
        out.append(TensorSpec(f"{prefix}.bias", (width,), component))
    return out


def block_linears(d: LayerDims, with_attention: bool = True,
                  with_ffn: bool = True) -> list[tuple[str, int, int, bool, str]]:
    """(path, out, in, bias, component) of every linear map of a block, in forward order."""
    out: list[tuple[str, int, int, bool, str]] = []
    if with_attention:
        out.append(("attention.q", d.q_width, d.d_model, d.attention_bias, "attention"))
        if d.kv_from is None:
            out.append(("attention.k", d.kv_width, d.d_model, d.attention_bias, "attention"))
            out.append(("attention.v", d.kv_width, d.d_model, d.attention_bias, "attention"))
        out.append(("attention.o", d.d_model, d.q_width, d.o_bias, "attention"))
    if with_ffn:
        out.append(("ffn.up", d.d_ff, d.d_model, d.ffn_bias, "ffn"))
        if d.gated:
            out.append(("ffn.gate", d.d_ff, d.d_model, d.ffn_bias, "ffn"))
        out.append(("ffn.down", d.d_model, d.d_ff, d.ffn_bias, "ffn"))
    return out


def layer_tensors(layer: LayerSpec, settings: ModelSettings) -> tuple[TensorSpec, ...]:
    """Every parameter tensor the layer owns when nothing is shared."""
    return tensors_of(dims(layer, settings))


@lru_cache(maxsize=65536)
def tensors_of(d: LayerDims) -> tuple[TensorSpec, ...]:
    """The tensors of any layer with these effective settings (identical layers share the entry)."""
    k = d.kind
    t: list[TensorSpec] = []
    if k == "embedding":
        t.append(TensorSpec("embedding.weight", (d.vocab_size, d.embedding_size), "embedding"))
        if d.positional == "learned":
            t.append(TensorSpec("position.weight", (d.max_positions, d.embedding_size), "embedding"))
        if d.type_vocab_size:
            t.append(TensorSpec("token_type.weight", (d.type_vocab_size, d.embedding_size), "embedding"))
        if d.embedding_norm:
            t += _norm("norm", d.norm, d.embedding_size, "embedding")
        if d.embedding_size != d.d_model:
            t += _linear("projection", d.d_model, d.embedding_size, d.bias, "embedding")
    elif k in ("block", "attention", "ffn"):
        with_attn = k in ("block", "attention")
        with_ffn = k in ("block", "ffn")
        for path, out_f, in_f, bias, comp in block_linears(d, with_attn, with_ffn):
            t += _linear(path, out_f, in_f, bias, comp, d.low_rank)
        if k == "block":
            t += _norm("norm1", d.norm, d.d_model, "other")
            t += _norm("norm2", d.norm, d.d_model, "other")
            if d.halting:
                t += _linear("halting", 1, d.d_model, True, "other")
            if d.lora_rank:
                r = d.lora_rank
                for path, out_f, in_f, _bias, comp in block_linears(d, with_attn, with_ffn):
                    t.append(TensorSpec(f"lora.{path}.down", (r, in_f), comp))
                    t.append(TensorSpec(f"lora.{path}.up", (out_f, r), comp))
    elif k == "norm":
        t += _norm("norm", d.norm, d.d_model, "other")
    elif k == "linear":
        t += _linear("linear", d.d_model, d.d_model, d.bias, "other")
    elif k in ("lstm", "gru"):
        gates = 4 if k == "lstm" else 3
        h = d.d_model
        t.append(TensorSpec("cell.weight_ih", (gates * h, h), "other"))
        t.append(TensorSpec("cell.weight_hh", (gates * h, h), "other"))
        if d.bias:
            t.append(TensorSpec("cell.bias_ih", (gates * h,), "other"))
            t.append(TensorSpec("cell.bias_hh", (gates * h,), "other"))
    elif k == "conv":
        groups = max(d.groups, 1)
        t.append(TensorSpec("conv.weight", (d.d_model, d.d_model // groups, d.kernel_size), "other"))
        if d.bias:
            t.append(TensorSpec("conv.bias", (d.d_model,), "other"))
    elif k == "pooler":
        t += _linear("pooler", d.d_model, d.d_model, d.bias, "head")
    elif k == "lm_head":
        width = d.d_model
        if d.transform:
            t += _linear("transform", d.embedding_size, d.d_model, True, "head")
            t += _norm("transform_norm", d.norm, d.embedding_size, "head")
            width = d.embedding_size
        t.append(TensorSpec("decoder.weight", (d.vocab_size, width), "head"))
        if d.bias:
            t.append(TensorSpec("decoder.bias", (d.vocab_size,), "head"))
    elif k == "head":
        t += _linear("classifier", d.n_outputs, d.d_model, d.bias, "head")
    return tuple(t)


# slot -> tensor-name prefixes it covers, per kind ("*" = every tensor except LoRA)
_SLOT_PREFIXES: dict[str, dict[str, tuple[str, ...]]] = {
    "embedding": {"block": ("*",), "embedding": ("embedding",), "position": ("position",),
                  "token_type": ("token_type",), "norm": ("norm",), "projection": ("projection",)},
    "block": {"block": ("*",), "attention": ("attention",), "attention.q": ("attention.q",),
              "attention.k": ("attention.k",), "attention.v": ("attention.v",), "attention.o": ("attention.o",),
              "ffn": ("ffn",), "norm": ("norm1", "norm2"), "norm1": ("norm1",), "norm2": ("norm2",),
              "halting": ("halting",), "lora": ("lora",), "factors": ("@B",)},
    "attention": {"block": ("*",), "attention": ("attention",), "attention.q": ("attention.q",),
                  "attention.k": ("attention.k",), "attention.v": ("attention.v",),
                  "attention.o": ("attention.o",)},
    "ffn": {"block": ("*",), "ffn": ("ffn",)},
    "norm": {"block": ("*",), "norm": ("norm",)},
    "linear": {"block": ("*",)},
    "lstm": {"block": ("*",)},
    "gru": {"block": ("*",)},
    "conv": {"block": ("*",)},
    "pooler": {"block": ("*",)},
    "lm_head": {"block": ("*",), "head": ("decoder.weight",), "transform": ("transform", "transform_norm")},
    "head": {"block": ("*",), "head": ("classifier.weight",)},
}


def slot_names(kind: str) -> tuple[str, ...]:
    """Named slots a layer kind offers (heads[i:j] comes on top for kinds with attention)."""
    return tuple(_SLOT_PREFIXES.get(kind, {}))


def has_heads(kind: str) -> bool:
    return kind in ("block", "attention")


def _matches(name: str, prefix: str) -> bool:
    if prefix == "*":
        return not name.startswith("lora.")
    if prefix == "@B":
        return name.endswith(".B")
    return name == prefix or name.startswith(prefix + ".")


class SlotError(ValueError):
    """A slot name is unknown for the layer, or its head range is impossible."""


def slot_pieces(layer: LayerSpec, settings: ModelSettings, slot: str) -> tuple[tuple[str, Piece], ...]:
    """(relative name, piece) for every piece `slot` covers in `layer`.

    Relative names let members on different slots compare: the q and k projections of a
    layer both read ``weight``/``bias`` relative to their slot. Raises SlotError.
    """
    return pieces_of(dims(layer, settings), slot)


@lru_cache(maxsize=65536)
def pieces_of(d: LayerDims, slot: str) -> tuple[tuple[str, Piece], ...]:
    """slot_pieces for any layer with these effective settings (cached per distinct layer shape)."""
    tensors = tensors_of(d)
    m = HEADS_RE.match(slot)
    if m:
        return _head_pieces(d, int(m.group(1)), int(m.group(2)))
    prefixes = _SLOT_PREFIXES.get(d.kind, {}).get(slot)
    if prefixes is None:
        known = ", ".join(slot_names(d.kind) + (("heads[i:j]",) if has_heads(d.kind) else ()))
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


def slot_signature(layer: LayerSpec, settings: ModelSettings, slot: str) -> tuple[tuple[str, tuple[int, ...]], ...]:
    """What must agree for two members to share: relative names and shapes."""
    return signature_of(dims(layer, settings), slot)


@lru_cache(maxsize=65536)
def signature_of(d: LayerDims, slot: str) -> tuple[tuple[str, tuple[int, ...]], ...]:
    return tuple((rel, piece.shape) for rel, piece in pieces_of(d, slot))


def pieces_overlap(a: Piece, b: Piece) -> bool:
    if a.tensor != b.tensor:
        return False
    if a.axis is None or b.axis is None:
        return True
    if a.axis != b.axis:
        return True
    return a.lo < b.hi and b.lo < a.hi
