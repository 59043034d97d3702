"""Semantic checks of a design: dimensions, stack structure, layer references, groups.

`problems(spec)` lists every problem as a SpecError (key path + reason); `validate(spec)`
raises the first and returns the compiled SharingPlan when there is none.
"""

from __future__ import annotations

import re
from functools import lru_cache

from explorer.errors import SpecError
from explorer.design.model import (
    ACTIVATIONS,
    HEAD_TASKS,
    KIND_FIELDS,
    KINDS,
    LAYER_OPTIONS,
    LAYER_OVERRIDES,
    MAX_DIM,
    MAX_LAYERS,
    MAX_POSITIONS,
    MAX_VOCAB,
    NORM_POSITIONS,
    NORMS,
    POSITIONALS,
    LayerSpec,
    SETTINGS_DEFAULTS,
    SETTINGS_FIELDS,
    ModelSettings,
    StackSpec,
    dims,
)
from explorer.design.sharing import SharingPlan, compile_plan
from explorer.design.streams import decoder_start
from explorer.kinds import kind

ID_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_\-]{0,63}$")

_CHOICES = {
    "activation": ACTIVATIONS,
    "norm": NORMS,
    "norm_position": NORM_POSITIONS,
    "positional": POSITIONALS,
    "task": HEAD_TASKS,
}
_LIMITS = {
    "d_model": (1, MAX_DIM),
    "n_heads": (1, 65536),
    "n_kv_heads": (1, 65536),
    "head_dim": (1, MAX_DIM),
    "d_ff": (1, MAX_DIM * 8),
    "vocab_size": (1, MAX_VOCAB),
    "embedding_size": (1, MAX_DIM),
    "max_positions": (1, MAX_POSITIONS),
    "type_vocab_size": (0, MAX_VOCAB),
    "lora_rank": (0, MAX_DIM),
    "low_rank": (0, MAX_DIM),
    "kernel_size": (1, 4096),
    "groups": (1, MAX_DIM),
    "n_outputs": (1, MAX_VOCAB),
    "n_experts": (1, 65536),
    "top_k": (1, 65536),
    "shared_d_ff": (0, MAX_DIM * 8),
    "relative_buckets": (4, 65536),        # T5's bucketing halves them twice in an encoder
    "relative_max_distance": (1, MAX_POSITIONS),
}


def check_value(key: str, value, path: str) -> None:
    """Type and range check of one settings or layer value (None = inherit is fine)."""
    if value is None:
        return
    if key in _CHOICES:
        if value not in _CHOICES[key]:
            raise SpecError(f"'{value}' is not one of {', '.join(_CHOICES[key])}", path)
    elif key in _LIMITS:
        lo, hi = _LIMITS[key]
        if isinstance(value, bool) or not isinstance(value, int):
            raise SpecError(f"expected an integer, got {_show(value)}", path)
        if value < lo:
            raise SpecError(f"must be at least {lo}, got {value}", path)
        if value > hi:
            raise SpecError(f"{value} is absurdly large (limit {hi:,})", path)
    elif key in ("bias", "attention_bias", "ffn_bias", "o_bias", "causal", "halting", "timestep_signal",
                 "embedding_norm", "transform", "shared_gate", "target", "position_bias"):
        if not isinstance(value, bool):
            raise SpecError(f"expected true or false, got {_show(value)}", path)
    elif key == "norm_eps":
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not (0 < value < 1):
            raise SpecError(f"expected a small positive number, got {_show(value)}", path)
    elif key == "kv_from":
        if not isinstance(value, str) or not ID_RE.match(value):
            raise SpecError(f"expected a layer id, got {_show(value)}", path)


def _show(value) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def problems(spec: StackSpec) -> list[SpecError]:
    """Every problem of the design except group conflicts (see compile_plan)."""
    out: list[SpecError] = []
    s = spec.settings
    for key in SETTINGS_FIELDS:
        if getattr(s, key) is None and SETTINGS_DEFAULTS[key] is not None:
            out.append(SpecError("needs a value", f"model.{key}"))
            continue
        try:
            check_value(key, getattr(s, key), f"model.{key}")
        except SpecError as err:
            out.append(err)
    relative = s.positional == "relative" or any(x.positional == "relative" for x in spec.layers)
    if not out and relative and s.relative_max_distance <= s.relative_buckets // 2:
        out.append(SpecError(f"must be more than half of relative_buckets ({s.relative_buckets}): T5's bucketing "
                             f"spreads the buckets past the exact ones up to this distance",
                             "model.relative_max_distance"))
    if out:
        return out
    if len(spec.layers) > MAX_LAYERS:
        return [SpecError(f"{len(spec.layers)} layers is more than the limit of {MAX_LAYERS}", "stack")]
    ids: dict[str, int] = {}
    has_trunk = False
    stream = _Stream()
    for i, layer in enumerate(spec.layers):
        where = f"stack[{i}]"
        if layer.kind not in KINDS:
            out.append(SpecError(f"unknown layer kind '{layer.kind}' (kinds: {', '.join(KINDS)})", f"{where}.kind"))
            continue
        if not isinstance(layer.id, str) or not ID_RE.match(layer.id):
            out.append(SpecError(f"layer id {_show(layer.id)} must be letters, digits, '_' or '-'", f"{where}.id"))
        elif layer.id in ids:
            out.append(SpecError(f"layer id '{layer.id}' is used by stack[{ids[layer.id]}] too", f"{where}.id"))
        else:
            ids[layer.id] = i
        seen = {(e.path, e.message) for e in out}
        out += [e for e in _layer_problems(spec, layer, i, ids)          # a model problem once, not per layer
                if not (e.path.startswith("model.") and (e.path, e.message) in seen)]
        if kind(layer.kind).reads_tokens and has_trunk and not layer.target:
            out.append(SpecError("an embedding must be the first layer of the stack (or, with target: true, "
                                 "start the decoder)", f"{where}.kind"))
        out += stream.problems(spec, layer, i)
        has_trunk = True
    out += stream.end_problems(spec)
    return out


class _Stream:
    """Order rules of encoder-decoder stacks: one target embedding after the encoder, cross-attention
    only after it, and a relative position bias computed before the layers of its stream reuse it,
    by a layer with as many heads."""

    def __init__(self) -> None:
        self.decoder = False
        self.target_at: int | None = None
        self.reads_encoder = False
        self.bias: tuple[str, int] | None = None       # (layer id, heads) of the stream's bias holder

    def problems(self, spec: StackSpec, layer: LayerSpec, i: int) -> list[SpecError]:
        out = []
        where = f"stack[{i}]"
        if layer.target:
            if self.decoder:
                out.append(SpecError("a stack has one decoder: a second target embedding", f"{where}.target"))
            elif i == 0:
                out.append(SpecError("a target embedding starts the decoder, so an encoder must come before it",
                                     f"{where}.target"))
            else:
                self.target_at = i
            self.decoder, self.bias = True, None
        k = kind(layer.kind)
        if k.reads_memory:
            self.reads_encoder = True
            if not self.decoder:
                out.append(SpecError(f"a {layer.kind} layer reads the encoder's output: put it after an embedding "
                                     f"with target: true", f"{where}.kind"))
        if not k.has_heads:
            return out
        d = dims(layer, spec.settings)
        holds = "position_bias" in KIND_FIELDS[layer.kind]
        if holds and layer.position_bias:
            self.bias = (layer.id, d.n_heads)
        elif d.positional == "relative":
            if self.bias is None:
                fix = ("set position_bias: true on the first" if holds else
                       "set position_bias: true on a block before it, or choose another positional")
                out.append(SpecError(f"positional: relative reuses the position bias of an earlier layer of its "
                                     f"stream, and none holds one; {fix}",
                                     f"{where}.position_bias" if holds else f"{where}.positional"))
            elif self.bias[1] != d.n_heads:
                out.append(SpecError(f"positional: relative reuses the position bias of '{self.bias[0]}', which has "
                                     f"{self.bias[1]} heads, but this layer has {d.n_heads}",
                                     f"{where}.n_heads"))
        return out

    def end_problems(self, spec: StackSpec) -> list[SpecError]:
        """An encoder whose output nothing reads would be computed and thrown away."""
        if self.target_at is not None and not self.reads_encoder:
            return [SpecError("no layer of the decoder reads the encoder's output: add a cross_block after this "
                              "target embedding (or drop the encoder)", f"stack[{self.target_at}].target")]
        return []


def _key_path(layer: LayerSpec, s: ModelSettings, where: str, key: str) -> str:
    """Where a layer's problem with `key` is fixed: the layer's own key when it overrides it, the model's
    when it inherits it (d_model 510 with n_heads 8 set under model: is model.n_heads); a head width
    neither sets comes from d_model / n_heads."""
    if key not in LAYER_OVERRIDES or getattr(layer, key) is not None:
        return f"{where}.{key}"
    if getattr(s, key) is not None:
        return f"model.{key}"
    if key == "head_dim":
        return f"{where}.n_heads" if layer.n_heads is not None else "model.n_heads"
    return f"{where}.{key}"


def _layer_problems(spec: StackSpec, layer: LayerSpec, i: int, earlier: dict[str, int]) -> list[SpecError]:
    where = f"stack[{i}]"
    # the cache key carries the value types: 32.0 == 32 and True == 1, so equal specs may differ in validity
    types = layer.value_types()
    out = [SpecError(message, _key_path(layer, spec.settings, where, key))
           for key, message in _own_problems(layer, spec.settings, types)]
    if not out and kind(layer.kind).has_heads and layer.kv_from is not None:
        out += _kv_problems(spec, layer, dims(layer, spec.settings), i, earlier)
    return out


@lru_cache(maxsize=65536)
def _own_problems(layer: LayerSpec, s: ModelSettings, _types: tuple = ()) -> tuple[tuple[str, str], ...]:
    """(key, reason) of every problem of one layer that depends on it and the settings alone
    (`_types`: the types of the layer's values, part of the cache key only)."""
    out: list[tuple[str, str]] = []
    allowed = KIND_FIELDS[layer.kind]
    defaults = _DEFAULT_LAYERS[layer.kind]
    for key in LAYER_OVERRIDES + LAYER_OPTIONS:
        value = getattr(layer, key)
        if value == getattr(defaults, key):
            continue
        if key not in allowed:
            out.append((key, f"a {layer.kind} layer has no setting '{key}'"))
            continue
        if value is None and key in LAYER_OPTIONS and key != "kv_from":
            out.append((key, "needs a value"))
            continue
        try:
            check_value(key, value, key)
        except SpecError as err:
            out.append((key, err.message))
    if out:
        return tuple(out)
    d = dims(layer, s)
    out += kind(layer.kind).problems(d)
    if kind(layer.kind).has_heads:
        explicit_hd = layer.head_dim is not None or s.head_dim is not None
        if not explicit_hd and s.d_model % d.n_heads:
            out.append(("n_heads", f"d_model {s.d_model} is not divisible by n_heads {d.n_heads} (set head_dim "
                                   f"to choose another head width)"))
        if d.n_kv_heads > d.n_heads or d.n_heads % d.n_kv_heads:
            out.append(("n_kv_heads", f"n_kv_heads {d.n_kv_heads} must divide n_heads {d.n_heads}"))
        if d.head_dim <= 0:
            out.append(("head_dim", f"head width is {d.head_dim} (d_model {s.d_model} / n_heads {d.n_heads})"))
        if d.positional == "rotary" and d.head_dim % 2:
            out.append(("head_dim", f"rotary positions need an even head_dim, got {d.head_dim}"))
        if d.q_width > MAX_DIM * 8:
            out.append(("head_dim", f"n_heads x head_dim = {d.q_width:,} is absurdly large"))
    if kind(layer.kind).low_rank_able and layer.low_rank and layer.low_rank > min(s.d_model, d.d_ff):
        out.append(("low_rank", f"low_rank {layer.low_rank} is larger than the matrices it factorizes "
                                f"(d_model {s.d_model})"))
    if kind(layer.kind).convolution and s.d_model % layer.groups:
        out.append(("groups", f"groups {layer.groups} must divide d_model {s.d_model}"))
    return tuple(out)


_DEFAULT_LAYERS = {kind: LayerSpec("x", kind) for kind in KINDS}


def _kv_problems(spec: StackSpec, layer: LayerSpec, d, here: int, earlier: dict[str, int]) -> list[SpecError]:
    path = f"stack[{here}].kv_from"
    if layer.kv_from == layer.id:
        return [SpecError(f"kv_from '{layer.kv_from}' is this layer itself; K/V can only come from an earlier layer",
                          path)]
    if layer.kv_from not in earlier:
        known = layer.kv_from in {x.id for x in spec.layers}
        reason = "comes later in the stack" if known else "is not a layer of this stack"
        return [SpecError(f"kv_from '{layer.kv_from}' {reason}; K/V can only come from an earlier layer", path)]
    source = spec.layers[earlier[layer.kv_from]]
    if not kind(source.kind).has_heads:
        return [SpecError(f"kv_from '{layer.kv_from}' is a {source.kind} layer, which computes no K/V", path)]
    if source.kv_from is not None:
        return [SpecError(f"kv_from '{layer.kv_from}' reuses K/V itself; point at '{source.kv_from}'", path)]
    start = decoder_start(spec)
    if start is not None and earlier[layer.kv_from] < start <= here:
        return [SpecError(f"kv_from '{layer.kv_from}' is in the encoder and this layer in the decoder; K/V are "
                          f"reused within a stream (cross-attention reads the encoder)", path)]
    sd = dims(source, spec.settings)
    if d.causal and not sd.causal:
        return [SpecError(f"kv_from '{layer.kv_from}' is bidirectional, so its keys have seen later tokens; a "
                          f"causal layer can reuse only a causal layer's K/V", path)]
    if (sd.n_kv_heads, sd.head_dim) != (d.n_kv_heads, d.head_dim):
        return [SpecError(f"K/V of '{layer.kv_from}' are {sd.n_kv_heads} heads x {sd.head_dim} but this layer "
                          f"needs {d.n_kv_heads} x {d.head_dim}", path)]
    return []


def validate(spec: StackSpec) -> SharingPlan:
    """Raise the first problem of `spec` as a SpecError; return its SharingPlan if none."""
    found = problems(spec)
    if found:
        raise found[0]
    return compile_plan(spec)
