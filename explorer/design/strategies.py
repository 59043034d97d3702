"""One-click sharing schemes: pure functions that return ordinary, editable groups.

Each scheme maps the target layers (default: every layer that has the slot) onto unique
blocks with an integer schedule computed here, once, and turns every block used by two
or more layers into a SharingGroup. Existing group members that would overlap the new
ones are dropped first, so a scheme can be applied on top of any design.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Callable

from explorer.errors import SpecError
from explorer.design.model import (LAYER_OPTIONS, LAYER_OVERRIDES, MAX_LAYERS, LayerSpec, Member, Slot, StackSpec, dims)
from explorer.design.grouping import add_groups, groups_from_order, without_members
from explorer.design.schedules import (positive, albert_order, cycle_order, cycle_reverse_order, interleaved_order,
                                       repeat_order, sequence_order, skip_order)
from explorer.design.slots import SlotError, slot_pieces
from explorer.design.streams import decoder_start
from explorer.design.validate import check_value
from explorer.kinds import kind, kinds_with

# ----------------------------------------------------------------- helpers


def _targets(spec: StackSpec, layers, slot: Slot | str, kinds=None) -> list[LayerSpec]:
    """The layers a scheme acts on: `layers` (ids) or every layer offering `slot` (a scheme's text form)."""
    slot = Slot.parse(slot)
    if layers is not None:
        if isinstance(layers, str) or not isinstance(layers, (list, tuple)):
            raise SpecError("expected a list of layer ids", "layers")
        by_id = {layer.id: layer for layer in spec.layers}
        out = []
        for i, lid in enumerate(layers):
            if lid not in by_id:
                raise SpecError(f"unknown layer {lid!r}", f"layers[{i}]")
            out.append(by_id[lid])
        return out
    out = []
    for layer in spec.layers:
        if kinds is not None and layer.kind not in kinds:
            continue
        if kinds is None and not (kind(layer.kind).transformer_block or kind(layer.kind).sublayer):
            continue
        try:
            slot_pieces(layer, spec.settings, slot)
        except SlotError:
            continue
        out.append(layer)
    return out


def _trunk_kinds(spec: StackSpec) -> tuple[str, ...]:
    """The kind the layer-sharing schemes act on by default: plain Transformer blocks, or where a
    stack has none, its first other Transformer-block kind (mixture of experts, decoder blocks)."""
    present = [layer.kind for layer in spec.layers if kind(layer.kind).transformer_block]
    plain = kinds_with("plain_block")
    return plain if any(k in present for k in plain) or not present else (present[0],)


def _set_layers(spec: StackSpec, ids: set[str], **changes) -> StackSpec:
    layers = tuple(dataclasses.replace(layer, **changes) if layer.id in ids else layer for layer in spec.layers)
    return dataclasses.replace(spec, layers=layers)


def _need(targets: list, what: str, at_least: int = 2) -> None:
    if len(targets) < at_least:
        raise SpecError(f"needs at least {at_least} {what} (found {len(targets)})", "layers")


# ----------------------------------------------------------------- schemes


def albert(spec: StackSpec, slot: str = "block", groups: int = 1, layers=None) -> StackSpec:
    """ALBERT: every layer shares `slot` (block, ffn or attention); with G groups, floor(i*G/N)."""
    if slot not in ("block", "ffn", "attention"):
        raise SpecError(f"ALBERT shares block, ffn or attention, not {slot!r}", "slot")
    targets = _targets(spec, layers, slot, kinds=_trunk_kinds(spec) if layers is None else None)
    _need(targets, "transformer blocks")
    return groups_from_order(spec, targets, albert_order(len(targets), groups), slot, f"albert-{slot}")


def albert_ffn(spec: StackSpec, layers=None) -> StackSpec:
    """ALBERT FFN-only: the FFN is shared across all layers, attention stays per layer."""
    return albert(spec, "ffn", 1, layers)


def albert_attention(spec: StackSpec, layers=None) -> StackSpec:
    """ALBERT attention-only: attention is shared across all layers, FFNs stay per layer."""
    return albert(spec, "attention", 1, layers)


def universal(spec: StackSpec, halting: bool = True, timestep_signal: bool = True, layers=None) -> StackSpec:
    """Universal Transformer: one block applied at every step, a timestep signal, ACT halting."""
    targets = _targets(spec, layers, "block", kinds=kinds_with("takes_timestep"))
    _need(targets, "transformer blocks")
    ids = {t.id for t in targets}
    spec = _set_layers(spec, ids, halting=bool(halting), timestep_signal=bool(timestep_signal))
    targets = [spec.layer(i) for i in (t.id for t in targets)]
    return groups_from_order(spec, targets, (0,) * len(targets), "block", "universal")


def _ordered(fn, base: str):
    def scheme(spec: StackSpec, blocks: int = 2, slot: str = "block", layers=None) -> StackSpec:
        targets = _targets(spec, layers, slot, kinds=_trunk_kinds(spec) if layers is None else None)
        _need(targets, "layers")
        return groups_from_order(spec, targets, fn(len(targets), blocks), slot, base)
    scheme.__doc__ = fn.__doc__
    return scheme


sequence = _ordered(sequence_order, "sequence")
cycle = _ordered(cycle_order, "cycle")
cycle_reverse = _ordered(cycle_reverse_order, "cycle-rev")


def immediate_repeat(spec: StackSpec, repeat: int = 2, slot: str = "block", layers=None) -> StackSpec:
    """Immediate repeat: each unique block runs `repeat` times in a row (MobileLLM)."""
    targets = _targets(spec, layers, slot, kinds=_trunk_kinds(spec) if layers is None else None)
    _need(targets, "layers")
    return groups_from_order(spec, targets, repeat_order(len(targets), repeat), slot, "repeat")


def interleaved(spec: StackSpec, slot: str = "block", layers=None) -> StackSpec:
    """Interleaved: every other layer shares one block, the others keep their own."""
    targets = _targets(spec, layers, slot, kinds=_trunk_kinds(spec) if layers is None else None)
    _need(targets, "layers", 4)
    return groups_from_order(spec, targets, interleaved_order(len(targets)), slot, "interleaved")


def skip(spec: StackSpec, skip: int = 2, slot: str = "block", layers=None) -> StackSpec:  # noqa: A002
    """Skip-layer: layer i shares with layer i + k."""
    targets = _targets(spec, layers, slot, kinds=_trunk_kinds(spec) if layers is None else None)
    _need(targets, "layers")
    return groups_from_order(spec, targets, skip_order(len(targets), skip), slot, f"skip{skip}")


def head_sharing(spec: StackSpec, heads: str = "0:1", layers=None) -> StackSpec:
    """Share a slice of attention heads (their Q/K/V rows and O columns) across layers."""
    lo, hi = _head_range(heads)
    slot = Slot("heads", lo, hi)
    targets = _targets(spec, layers, slot, kinds=kinds_with("has_heads"))
    _need(targets, "attention layers")
    return groups_from_order(spec, targets, (0,) * len(targets), slot, f"heads{lo}-{hi}")


def _head_range(heads) -> tuple[int, int]:
    if isinstance(heads, int) and not isinstance(heads, bool) and heads > 0:
        return 0, heads
    if isinstance(heads, str):
        a, sep, b = heads.partition(":")
        if sep and a.strip().isdigit() and b.strip().isdigit() and int(a) < int(b):
            return int(a), int(b)
    raise SpecError(f"expected a head range like '0:2', got {heads!r}", "heads")


def default_kv_heads(n_heads: int) -> int:
    """GQA's default: the divisor of n_heads nearest n_heads / 4 (LLaMA-2-70B and Mistral use
    groups of 4 to 8 queries per K/V head), more than one K/V head where n_heads allows."""
    divisors = [d for d in range(1, n_heads + 1) if n_heads % d == 0]
    proper = [d for d in divisors if 1 < d < n_heads] or divisors
    return min(proper, key=lambda d: (abs(d - n_heads / 4), -d))


def grouped_query(spec: StackSpec, n_kv_heads: int | None = None, layers=None) -> StackSpec:
    """MQA / GQA: query heads share n_kv_heads K/V heads inside each layer (default: about n_heads/4; 1 = MQA)."""
    if n_kv_heads is None:
        n_kv_heads = default_kv_heads(spec.settings.n_heads)
    positive(n_kv_heads, "n_kv_heads")
    if layers is None:
        return dataclasses.replace(spec, settings=dataclasses.replace(spec.settings, n_kv_heads=n_kv_heads))
    targets = _targets(spec, layers, "attention")
    return _set_layers(spec, {t.id for t in targets}, n_kv_heads=n_kv_heads)


def multi_query(spec: StackSpec, layers=None) -> StackSpec:
    """MQA: every query head of a layer shares one K/V head."""
    return grouped_query(spec, 1, layers)


def cross_layer_kv(spec: StackSpec, every: int = 2, layers=None) -> StackSpec:
    """Cross-layer attention: in each run of `every` layers, the first computes K/V, the rest reuse it."""
    positive(every, "every")
    targets = _targets(spec, layers, "attention", kinds=kinds_with("has_heads"))
    _need(targets, "attention layers")
    ids = [t.id for t in targets]
    source: dict[str, str] = {}
    for run in _kv_runs(spec, targets):
        source.update({lid: run[i - i % every] for i, lid in enumerate(run) if i % every})
    for group in spec.groups:
        whole = [m.layer for m in group.members if m.slot.name in ("block", "attention")]
        readers = [lid for lid in whole if lid in source]
        if readers and len(readers) < len(whole):
            keeps = next(lid for lid in whole if lid not in source)
            raise SpecError(f"cross-layer K/V would take the K/V projections of {readers[0]} away, but group "
                            f"'{group.name}' shares its whole attention with {keeps}, which keeps them: share "
                            f"attention.q, attention.o and ffn instead, or unshare first", "layers")
    layers_out = tuple(
        dataclasses.replace(layer, kv_from=source.get(layer.id)) if layer.id in set(ids) else layer
        for layer in spec.layers
    )
    spec = dataclasses.replace(spec, layers=layers_out)
    # groups on K/V projections of layers that no longer have them are dropped
    return dataclasses.replace(spec, groups=without_members(spec, lambda m: m.layer in source and (
        m.slot.name in ("attention.k", "attention.v") or m.slot.is_heads)))


def _kv_runs(spec: StackSpec, targets: list[LayerSpec]) -> list[list[str]]:
    """The targets in runs that may reuse each other's K/V: consecutive, in one stream (encoder or
    decoder), equally causal, with K/V of one shape."""
    start = decoder_start(spec)
    start = len(spec.layers) if start is None else start
    position = {x.id: i for i, x in enumerate(spec.layers)}
    runs: list[list[str]] = []
    last = None
    for layer in targets:
        d = dims(layer, spec.settings)
        key = (position[layer.id] >= start, d.causal, d.n_kv_heads, d.head_dim)
        if key != last:
            runs.append([])
            last = key
        runs[-1].append(layer.id)
    return runs


def expert_bank(spec: StackSpec, banks: int = 1, layers=None) -> StackSpec:
    """Shared expert bank: the routed experts of consecutive MoE layers are one bank (routers stay per layer)."""
    targets = _targets(spec, layers, "experts", kinds=kinds_with("has_experts"))
    _need(targets, "mixture-of-experts layers")
    return groups_from_order(spec, targets, sequence_order(len(targets), banks), "experts", "expert-bank")


def shared_expert_across(spec: StackSpec, layers=None) -> StackSpec:
    """The always-on shared expert is one across all MoE layers (routed experts stay per layer)."""
    targets = _targets(spec, layers, "shared_expert", kinds=kinds_with("has_experts"))
    _need(targets, "mixture-of-experts layers with a shared expert (shared_d_ff)")
    return groups_from_order(spec, targets, (0,) * len(targets), "shared_expert", "shared-expert")


def tie_embeddings(spec: StackSpec, head: bool = True, layers=None) -> StackSpec:
    """Input-output tying: the LM head's decoder is the token embedding matrix (in an encoder-decoder,
    one table for the encoder's input, the decoder's input and, unless head=false, the output)."""
    emb = [layer for layer in spec.layers if kind(layer.kind).reads_tokens]
    heads = [layer for layer in spec.layers if kind(layer.kind).lm_head] if head else []
    if not emb or len(emb) + len(heads) < 2:
        raise SpecError("tying needs an embedding layer and an lm_head layer (or an encoder's and a "
                        "decoder's embedding)", "layers")
    members = tuple(Member(e.id, "embedding") for e in emb) + tuple(Member(h.id, "head") for h in heads)
    return add_groups(spec, [("tied-embeddings", members)])


def factorized_embedding(spec: StackSpec, size: int = 128, layers=None) -> StackSpec:
    """Factorized embedding (ALBERT): a V x E table plus an E -> d projection."""
    positive(size, "size")
    spec = dataclasses.replace(spec, settings=dataclasses.replace(spec.settings, embedding_size=size))
    tied = {m.layer for g in spec.groups for m in g.members if m.slot == Slot("head")}
    return _set_layers(spec, {layer.id for layer in spec.layers if kind(layer.kind).lm_head and layer.id in tied},
                       transform=True)


def shared_low_rank(spec: StackSpec, rank: int = 64, layers=None) -> StackSpec:
    """Shared low-rank factors: every block linear is W_l = A_l B, with B shared across layers."""
    positive(rank, "rank")
    targets = _targets(spec, layers, "block", kinds=kinds_with("low_rank_able"))
    _need(targets, "transformer blocks")
    ids = {t.id for t in targets}
    # head slices need dense projections: drop those members before factorizing
    kept = without_members(spec, lambda m: m.layer in ids and m.slot.is_heads)
    spec = _set_layers(dataclasses.replace(spec, groups=kept), ids, low_rank=rank)
    targets = [spec.layer(t.id) for t in targets]
    return groups_from_order(spec, targets, (0,) * len(targets), "factors", "low-rank")


def relaxed_recursion(spec: StackSpec, rank: int = 8, blocks: int = 1, layers=None) -> StackSpec:
    """Relaxed recursion: blocks shared in a cycle of M, plus a per-layer LoRA of rank r."""
    positive(rank, "rank")
    targets = _targets(spec, layers, "block", kinds=kinds_with("lora_able"))
    _need(targets, "transformer blocks")
    spec = _set_layers(spec, {t.id for t in targets}, lora_rank=rank)
    targets = [spec.layer(t.id) for t in targets]
    return groups_from_order(spec, targets, cycle_order(len(targets), blocks), "block", "recursion")


def shared_rnn_cell(spec: StackSpec, layers=None) -> StackSpec:
    """Stacked LSTM/GRU: every layer above the first shares one cell (per kind)."""
    new = []
    for cell in kinds_with("recurrent_cell"):
        targets = [t for t in _targets(spec, layers, "block", kinds=(cell,)) if t.kind == cell]
        if len(targets) >= 3:
            new.append((f"shared-{cell}", tuple(Member(t.id, "block") for t in targets[1:])))
    if not new:
        raise SpecError("needs at least 3 stacked LSTM or GRU layers", "layers")
    return add_groups(spec, new)


def shared_conv_bank(spec: StackSpec, layers=None) -> StackSpec:
    """A shared filter bank: conv layers of the same shape use one set of filters."""
    targets = _targets(spec, layers, "block", kinds=kinds_with("convolution"))
    by_shape: dict[tuple, list[Member]] = {}
    for t in targets:
        if kind(t.kind).convolution:
            # effective bias: a layer that inherits bias=True has the same shapes as one that sets it
            by_shape.setdefault((t.kernel_size, t.groups, dims(t, spec.settings).bias), []).append(
                Member(t.id, "block"))
    new = [(f"conv-bank-{k}", tuple(m)) for k, m in enumerate(by_shape.values()) if len(m) >= 2]
    if not new:
        raise SpecError("needs at least 2 conv layers of the same shape", "layers")
    return add_groups(spec, new)


def grouped_conv(spec: StackSpec, groups: int = 4, layers=None) -> StackSpec:
    """Grouped convolution: each filter sees d/groups channels (groups x fewer weights)."""
    positive(groups, "groups")
    targets = _targets(spec, layers, "block", kinds=kinds_with("convolution"))
    if not targets:
        raise SpecError("needs conv layers", "layers")
    if spec.settings.d_model % groups:
        raise SpecError(f"groups {groups} must divide d_model {spec.settings.d_model}", "groups")
    return _set_layers(spec, {t.id for t in targets}, groups=groups)


def multi_task(spec: StackSpec, tasks=(2, 3), task: str = "sequence", layers=None) -> StackSpec:
    """Multi-task heads on one shared trunk: one head layer per task, all reading the trunk."""
    if isinstance(tasks, int) and not isinstance(tasks, bool):
        positive(tasks, "tasks")
        if len(spec.layers) + tasks > MAX_LAYERS:
            raise SpecError(f"{tasks:,} tasks would make more than {MAX_LAYERS} layers", "tasks")
        tasks = (2,) * tasks
    if not isinstance(tasks, (list, tuple)) or not tasks:
        raise SpecError("expected a list of output sizes, one per task", "tasks")
    if len(spec.layers) + len(tasks) > MAX_LAYERS:
        raise SpecError(f"{len(tasks):,} tasks would make more than {MAX_LAYERS} layers", "tasks")
    existing = {layer.id for layer in spec.layers}
    new = []
    k = 0
    for n in tasks:
        positive(n, "tasks")
        while f"task{k}" in existing:
            k += 1
        existing.add(f"task{k}")
        new.append(LayerSpec(id=f"task{k}", kind="head", n_outputs=n, task=task))
    return dataclasses.replace(spec, layers=spec.layers + tuple(new))


def unshare(spec: StackSpec, group: str | None = None, layers=None) -> StackSpec:
    """Remove one group by name, or every group touching the given layers (all groups if none)."""
    if group is not None:
        if group not in {g.name for g in spec.groups}:
            raise SpecError(f"no group named {group!r}", "group")
        return dataclasses.replace(spec, groups=tuple(g for g in spec.groups if g.name != group))
    if layers is None:
        return dataclasses.replace(spec, groups=())
    ids = set(layers)
    return dataclasses.replace(spec, groups=tuple(g for g in spec.groups if not any(m.layer in ids for m in g.members)))


@dataclass(frozen=True)
class Scheme:
    """A registered scheme: `pure` ones only add groups, so FLOPs cannot change."""

    name: str
    title: str
    fn: Callable[..., StackSpec]
    pure: bool
    family: str

    @property
    def doc(self) -> str:
        return (self.fn.__doc__ or "").strip().splitlines()[0]


SCHEMES: dict[str, Scheme] = {
    s.name: s
    for s in (
        Scheme("albert", "ALBERT all-shared", albert, True, "layers"),
        Scheme("albert-ffn", "ALBERT FFN-only", albert_ffn, True, "layers"),
        Scheme("albert-attention", "ALBERT attention-only", albert_attention, True, "layers"),
        Scheme("universal", "Universal Transformer", universal, False, "layers"),
        Scheme("sequence", "Sequence", sequence, True, "layers"),
        Scheme("cycle", "Cycle", cycle, True, "layers"),
        Scheme("cycle-reverse", "Cycle (reverse)", cycle_reverse, True, "layers"),
        Scheme("immediate-repeat", "Immediate repeat", immediate_repeat, True, "layers"),
        Scheme("interleaved", "Interleaved", interleaved, True, "layers"),
        Scheme("skip", "Skip-layer", skip, True, "layers"),
        Scheme("head-sharing", "Head sharing across layers", head_sharing, True, "heads"),
        Scheme("gqa", "Grouped-query attention", grouped_query, False, "heads"),
        Scheme("mqa", "Multi-query attention", multi_query, False, "heads"),
        Scheme("cross-layer-kv", "Cross-layer K/V", cross_layer_kv, False, "heads"),
        Scheme("expert-bank", "Shared expert bank", expert_bank, True, "experts"),
        Scheme("shared-expert", "Shared expert across layers", shared_expert_across, True, "experts"),
        Scheme("tie-embeddings", "Tie input/output embeddings", tie_embeddings, True, "embeddings"),
        Scheme("factorized-embedding", "Factorized embedding", factorized_embedding, False, "embeddings"),
        Scheme("shared-low-rank", "Shared low-rank factors", shared_low_rank, False, "factorized"),
        Scheme("relaxed-recursion", "Relaxed recursion (LoRA)", relaxed_recursion, False, "factorized"),
        Scheme("shared-rnn-cell", "Shared LSTM/GRU cell", shared_rnn_cell, True, "other"),
        Scheme("shared-conv-bank", "Shared conv filter bank", shared_conv_bank, True, "other"),
        Scheme("grouped-conv", "Grouped convolution", grouped_conv, False, "other"),
        Scheme("multi-task", "Multi-task heads", multi_task, False, "other"),
        Scheme("unshare", "Unshare", unshare, True, "other"),
    )
}


def apply_scheme(spec: StackSpec, name: str, **options) -> StackSpec:
    """Apply scheme `name`; bad options raise SpecError naming the option."""
    scheme = SCHEMES.get(name)
    if scheme is None:
        raise SpecError(f"unknown scheme {name!r} (schemes: {', '.join(SCHEMES)})", "scheme")
    import inspect

    params = inspect.signature(scheme.fn).parameters
    for key in options:
        if key not in params or key == "spec":
            allowed = ", ".join(p for p in params if p != "spec") or "none"
            raise SpecError(f"scheme {name!r} has no option {key!r} (options: {allowed})", key)
    try:
        new = scheme.fn(spec, **options)
    except KeyError as err:
        raise SpecError(f"unknown layer {err}", "layers") from None
    except TypeError as err:
        raise SpecError(f"bad option for scheme {name!r}: {err}", "scheme") from None
    _check_new_layers(spec, new)
    return new


def _check_new_layers(old: StackSpec, new: StackSpec) -> None:
    """Check the layers a scheme made or changed like preset values: some options are copied into
    layers as given (multi-task's `task`), and a list there would break validation with a TypeError.
    Raises SpecError naming the key."""
    kept = {id(layer) for layer in old.layers}
    for layer in new.layers:
        if id(layer) not in kept:
            for key in LAYER_OVERRIDES + LAYER_OPTIONS:
                check_value(key, getattr(layer, key), key)
