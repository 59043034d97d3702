"""Exact parameter counts: unique (what torch counts), unshared-equivalent, per layer and group."""

from __future__ import annotations

from dataclasses import dataclass

from functools import lru_cache

from explorer.design.model import LayerSpec, ModelSettings, Slot, StackSpec, dims, unshared_twin
from explorer.design.sharing import SharingPlan
from explorer.design.slots import layer_tensors, pieces_of
from explorer.design.validate import validate
from explorer.kinds import kind

DTYPE_BYTES = {"fp32": 4, "tf32": 4, "bf16": 2, "fp16": 2, "fp8": 1, "int8": 1}
COMPONENTS = ("attention", "ffn", "embedding", "head", "other")


@dataclass(frozen=True, slots=True)
class LayerParams:
    """`own`: the layer's size with nothing shared; `unique`: what it adds to the model
    (a shared piece counts at its first member only)."""

    layer: str
    kind: str
    own: int
    unique: int
    uses: int            # how many layers run this layer's block (x12 for ALBERT)


@dataclass(frozen=True, slots=True)
class GroupParams:
    name: str
    members: int
    numel: int           # one copy
    saved: int


@dataclass(frozen=True, slots=True)
class ParamCount:
    unique: int                      # = sum(p.numel() for p in built.parameters())
    unshared: int                    # the unshared twin's count
    unique_tensors: int              # = len(list(built.parameters()))
    per_layer: tuple[LayerParams, ...]
    per_group: tuple[GroupParams, ...]
    by_component: dict[str, int]
    active: int = 0                  # the most one token reads (mixtures of experts: k experts a layer)

    @property
    def saved(self) -> int:
        return self.unshared - self.unique

    @property
    def saving_factor(self) -> float:
        return self.unshared / self.unique if self.unique else 1.0

    def bytes(self, dtype: str) -> int:
        return self.unique * DTYPE_BYTES[dtype]


def count_params(spec: StackSpec, plan: SharingPlan | None = None) -> ParamCount:
    """Count `spec` exactly (validates it first unless a plan is given)."""
    if plan is None:
        plan = validate(spec)
    by_component = dict.fromkeys(COMPONENTS, 0)
    per_layer = []
    unique_total = 0
    tensors = 0
    for layer in spec.layers:
        own, components, n_tensors = layer_summary(layer, spec.settings)
        if layer.id not in plan.claimed_layers:
            unique = own                      # nothing of this layer is shared: the cached summary
            for comp, size in components:
                by_component[comp] += size
            tensors += n_tensors
        else:
            unique = 0
            for t in layer_tensors(layer, spec.settings):
                size = t.numel
                claims = plan.claims.get((layer.id, t.name), ())
                if not claims:
                    unique += size
                    by_component[t.component] += size
                    tensors += 1
                    continue
                claimed = 0
                for c in claims:
                    claimed += c.piece.numel
                    if c.member == 0:            # the first member owns the shared copy
                        unique += c.piece.numel
                        by_component[t.component] += c.piece.numel
                        tensors += 1
                rest = size - claimed
                if rest:                          # head slices: the unclaimed rows are the layer's own
                    unique += rest
                    by_component[t.component] += rest
                    tensors += _free_chunks(t, claims)
        unique_total += unique
        per_layer.append(LayerParams(layer.id, layer.kind, own, unique, plan.uses_of(layer.id)))
    twin = unshared_twin(spec)
    unshared = sum(layer_numel(layer, twin.settings) for layer in twin.layers)
    per_group = tuple(GroupParams(g.name, g.uses, g.numel, g.saved) for g in plan.groups)
    active = unique_total - unread_expert_elements(spec, plan)
    return ParamCount(unique_total, unshared, tensors, tuple(per_layer), per_group, by_component, active)


def unread_expert_elements(spec: StackSpec, plan: SharingPlan) -> int:
    """Elements of routed experts no token can read. A layer reads k of its E experts per token,
    so of a bank of m experts read by U layers at most min(m, k U) are read by one token; the
    rest is total minus active. Each stretch of experts counts at the layer that adds it."""
    unread = 0
    for layer in spec.layers:
        d = dims(layer, spec.settings)
        if not kind(d.kind).has_experts:
            continue
        per_expert = sum(p.numel for _r, p in pieces_of(d, Slot("experts"))) // d.n_experts
        first = pieces_of(d, Slot("experts"))[0][1].tensor
        claims = plan.claims.get((layer.id, first), ())
        stretches, pos = [], 0                  # (experts, layers reading them) this layer adds
        for c in sorted(claims, key=lambda c: c.piece.lo):
            lo, hi = (0, d.n_experts) if c.piece.axis is None else (c.piece.lo, c.piece.hi)
            stretches.append((lo - pos, 1))
            if c.member == 0:
                stretches.append((hi - lo, plan.groups[c.group].uses))
            pos = hi
        stretches.append((d.n_experts - pos, 1))
        unread += sum(max(0, m - d.top_k * uses) for m, uses in stretches if m > 0) * per_expert
    return unread


@lru_cache(maxsize=65536)
def layer_summary(layer: LayerSpec, settings: ModelSettings) -> tuple[int, tuple[tuple[str, int], ...], int]:
    """(elements, elements per component, tensors) of a layer with nothing shared."""
    components: dict[str, int] = {}
    tensors = layer_tensors(layer, settings)
    for t in tensors:
        components[t.component] = components.get(t.component, 0) + t.numel
    return sum(components.values()), tuple(components.items()), len(tensors)


def layer_numel(layer: LayerSpec, settings: ModelSettings) -> int:
    """Elements of a layer with nothing shared."""
    return layer_summary(layer, settings)[0]


def _free_chunks(t, claims) -> int:
    """Unclaimed contiguous ranges left in a head-sliced tensor (each is one Parameter)."""
    axis = claims[0].piece.axis
    extent = t.shape[axis]
    spans = sorted((c.piece.lo, c.piece.hi) for c in claims)
    count, pos = 0, 0
    for lo, hi in spans:
        if lo > pos:
            count += 1
        pos = max(pos, hi)
    if pos < extent:
        count += 1
    return count
