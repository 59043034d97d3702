"""Sharing that is structure, not a group: MQA/GQA, cross-layer K/V, factorized embeddings,
low-rank factors and LoRA-relaxed recursion, each with what it saves (pure, no torch/Qt).

Each entry's saving is exact: the parameter count of the design with that one feature undone,
minus the design's own count (negative when the feature adds parameters, as LoRA does).
Tying and shared factors are groups, and are listed with the groups.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from explorer.analysis.params import count_params
from explorer.errors import SpecError
from explorer.design.model import Slot, StackSpec, dims
from explorer.kinds import kind


@dataclass(frozen=True, slots=True)
class StructuralEntry:
    name: str          # "GQA", "cross-layer K/V", ...
    detail: str        # what it is on this design: "3 K/V heads for 12 queries, 12 layers"
    layers: int        # how many layers it touches
    saved: int         # parameters it saves (negative: it adds)


def _layers_with(spec: StackSpec, **changes) -> StackSpec:
    return dataclasses.replace(spec, layers=tuple(dataclasses.replace(layer, **changes) for layer in spec.layers))


def structural_entries(spec: StackSpec, unique: int | None = None) -> list[StructuralEntry]:
    """Every structural feature of a valid design, in a fixed order, with its exact saving.
    `unique`: the design's own count when the caller has it (a report's), else counted here."""
    try:
        base = count_params(spec).unique if unique is None else unique
    except SpecError:
        return []
    resolved = [dims(layer, spec.settings) for layer in spec.layers]
    # every layer with attention heads: blocks, attention alone, MoE blocks (Mixtral), cross blocks
    attention = [(layer, d) for layer, d in zip(spec.layers, resolved) if kind(d.kind).has_heads]
    entries: list[StructuralEntry] = []

    def add(name: str, detail: str, layers: int, undone: StackSpec, reference: StackSpec | None = None) -> None:
        """`undone`: the design without the feature; `reference`: the design it is compared
        with, where that is not the design itself (groups the feature needs, counted apart)."""
        try:
            own = base if reference is None else count_params(reference).unique
            entries.append(StructuralEntry(name, detail, layers, count_params(undone).unique - own))
        except SpecError:
            pass

    grouped = [(layer, d) for layer, d in attention if d.n_kv_heads != d.n_heads and not d.kv_from]
    if grouped:
        kinds = {(d.n_kv_heads, d.n_heads) for _l, d in grouped}
        mqa = all(kv == 1 for kv, _h in kinds)
        kv, heads = min(kinds)
        detail = (f"1 K/V head for {heads} queries" if mqa
                  else f"{kv} K/V heads for {heads} queries ({heads // kv} per K/V head)")
        undone = _layers_with(dataclasses.replace(spec, settings=dataclasses.replace(spec.settings, n_kv_heads=None)),
                              n_kv_heads=None)
        add("MQA" if mqa else "GQA", detail, len(grouped), undone)
    reusing = [layer for layer, _d in attention if layer.kv_from]
    if reusing:
        add("cross-layer K/V", f"{len(reusing)} layers reuse an earlier layer's K/V", len(reusing),
            _layers_with(spec, kv_from=None))
    factorized = [(layer, d) for layer, d in zip(spec.layers, resolved)
                  if kind(d.kind).reads_tokens and d.embedding_size != d.d_model]
    if factorized:
        e = factorized[0][1].embedding_size
        undone = dataclasses.replace(spec, settings=dataclasses.replace(spec.settings, embedding_size=None))
        add("factorized embedding", f"tables {e} wide and a {e}→{spec.settings.d_model} projection",
            len(factorized), _layers_with(undone, embedding_size=None))
    low = [d for d in resolved if d.low_rank]
    if low:
        # the shared factors are a group (listed with the groups): compare with them unshared
        unfactored = dataclasses.replace(spec, groups=tuple(
            g for g in spec.groups if not any(m.slot == Slot("factors") for m in g.members)))
        add("low-rank factors", f"rank {low[0].low_rank} on {len(low)} layers", len(low),
            _layers_with(unfactored, low_rank=0), unfactored)
    lora = [d for d in resolved if d.lora_rank]
    if lora:
        add("LoRA-relaxed recursion", f"rank {lora[0].lora_rank} per layer on {len(lora)} layers", len(lora),
            _layers_with(spec, lora_rank=0))
    return entries
