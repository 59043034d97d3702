"""Compile sharing groups into one SharingPlan that analysis and build both read.

The plan says, for every (layer, tensor piece), whether it is the layer's own or one
member of a group; groups are checked here: unknown layers or slots, members whose
shapes differ, and a tensor claimed twice (a slot in two groups, or a slot inside another
member's slot) each raise one SpecError naming layers, slots and shapes.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from explorer.errors import SpecError
from explorer.design.model import BLOCK, LayerSpec, Member, ModelSettings, SharingGroup, Slot, StackSpec
from explorer.design.slots import Piece, SlotError, pieces_overlap, slot_pieces, slot_signature


@dataclass(frozen=True, slots=True)
class PlannedGroup:
    """A checked group: its members, the size of one copy of the slot (elements)."""

    index: int
    name: str
    members: tuple[Member, ...]
    numel: int                                   # elements of one copy
    signature: tuple[tuple[str, tuple[int, ...]], ...]

    @property
    def uses(self) -> int:
        return len(self.members)

    @property
    def saved(self) -> int:
        """Elements saved against giving every member its own copy."""
        return (len(self.members) - 1) * self.numel


@dataclass(frozen=True, slots=True)
class Claim:
    """A piece of a layer's tensor taken by group `group` as its `member`-th member."""

    piece: Piece
    group: int
    member: int
    rel: str            # relative name inside the slot; same across members
    index: int          # position of this piece in the slot's piece list


@dataclass(frozen=True, slots=True)
class SharingPlan:
    """Groups resolved to tensor pieces. `claims[(layer_id, tensor)]` lists claimed pieces."""

    groups: tuple[PlannedGroup, ...]
    claims: dict[tuple[str, str], tuple[Claim, ...]]
    block_of: dict[str, str]        # layer id -> id of the layer whose whole block it runs
    member_group: dict[tuple[str, Slot], int]   # (layer id, slot) -> group index
    block_uses: dict[str, int]      # representative layer id -> layers running its block
    claimed_layers: frozenset[str] = frozenset()   # layers with at least one claimed piece

    def group_of(self, layer_id: str, slot: Slot = BLOCK) -> PlannedGroup | None:
        index = self.member_group.get((layer_id, slot))
        return None if index is None else self.groups[index]

    def uses_of(self, layer_id: str) -> int:
        """How many layers run this layer's whole block (1 when it is not block-shared)."""
        return self.block_uses.get(self.block_of.get(layer_id, layer_id), 1)


def compile_plan(spec: StackSpec) -> SharingPlan:
    """Check every group of `spec` and resolve it to tensor pieces. Raises SpecError."""
    layers = {layer.id: layer for layer in spec.layers}
    planned: list[PlannedGroup] = []
    claims: dict[tuple[str, str], list[Claim]] = {}
    owner_of_claim: dict[tuple[str, str], list[tuple[Piece, str]]] = {}
    seen_members: dict[tuple[str, Slot], str] = {}
    names: set[str] = set()
    for gi, group in enumerate(spec.groups):
        where = f"groups[{gi}]"
        if not group.name:
            raise SpecError("a group needs a non-empty name", f"{where}.name")
        if group.name in names:
            raise SpecError(f"group name '{group.name}' is used twice", f"{where}.name")
        names.add(group.name)
        if len(group.members) < 2:
            raise SpecError(f"group '{group.name}' needs at least two members to share anything",
                            f"{where}.members")
        member_layers = []
        for mi, member in enumerate(group.members):
            mwhere = f"{where}.members[{mi}]"
            layer = layers.get(member.layer)
            if layer is None:
                raise SpecError(f"group '{group.name}' names unknown layer '{member.layer}'", mwhere)
            key = (member.layer, member.slot)
            if key in seen_members and seen_members[key] == group.name:
                raise SpecError(f"slot {member} is listed twice in group '{group.name}'", mwhere)
            if key in seen_members:
                raise SpecError(f"slot {member} is in two groups ('{seen_members[key]}' and '{group.name}')", mwhere)
            seen_members[key] = group.name
            member_layers.append(layer)
        try:
            planned_group, group_claims = _resolve_group(gi, group, tuple(member_layers), spec.settings)
        except SpecError as err:
            raise SpecError(err.message, f"{where}.{err.path}") from None
        for tkey, claim in group_claims:
            others = owner_of_claim.get(tkey)
            if others:
                for other, other_group in others:
                    if pieces_overlap(claim.piece, other):
                        member = group.members[claim.member]
                        raise SpecError(
                            f"{member} overlaps a slot of layer '{member.layer}' already in group "
                            f"'{other_group}' (tensor {claim.piece.tensor})", f"{where}.members[{claim.member}]")
                others.append((claim.piece, group.name))
            else:
                owner_of_claim[tkey] = [(claim.piece, group.name)]
            claims.setdefault(tkey, []).append(claim)
        planned.append(planned_group)
    block_of = {layer.id: layer.id for layer in spec.layers}
    for g in planned:
        rep = g.members[0].layer
        for m in g.members:
            if m.slot == BLOCK:
                block_of[m.layer] = rep
    block_uses: dict[str, int] = {}
    for rep in block_of.values():
        block_uses[rep] = block_uses.get(rep, 0) + 1
    member_group = {(m.layer, m.slot): g.index for g in planned for m in g.members}
    return SharingPlan(tuple(planned), {k: tuple(v) for k, v in claims.items()}, block_of, member_group,
                       block_uses, frozenset(layer_id for layer_id, _t in claims))


@lru_cache(maxsize=4096)
def _resolve_group(gi: int, group: SharingGroup, member_layers: tuple[LayerSpec, ...],
                   settings: ModelSettings) -> tuple[PlannedGroup, tuple[tuple[tuple[str, str], Claim], ...]]:
    """One group's signature check and tensor claims (cached: most groups survive an edit unchanged).
    Errors carry paths relative to the group (members[i])."""
    first_sig = None
    first_member = None
    numel = 0
    out = []
    for mi, (member, layer) in enumerate(zip(group.members, member_layers)):
        try:
            pieces = slot_pieces(layer, settings, member.slot)
            sig = slot_signature(layer, settings, member.slot)
        except SlotError as err:
            raise SpecError(f"{member}: {err}", f"members[{mi}]") from None
        if first_member is None:                         # (set together with first_sig)
            first_sig, first_member = sig, member
            numel = sum(p.numel for _r, p in pieces)
        elif sig != first_sig:
            raise SpecError(f"group '{group.name}': {_difference(member, sig, first_member, first_sig)}",
                            f"members[{mi}]")
        for index, (rel, piece) in enumerate(pieces):
            out.append(((member.layer, piece.tensor), Claim(piece, gi, mi, rel, index)))
    return PlannedGroup(gi, group.name, group.members, numel, first_sig or ()), tuple(out)


EMPTY_PLAN = SharingPlan((), {}, {}, {}, {})
"""The plan of a design without groups (e.g. an unshared twin)."""


def _difference(a: Member, sig_a, b: Member, sig_b) -> str:
    """The first tensor whose shape differs between two members, both shapes named."""
    shapes_a, shapes_b = dict(sig_a), dict(sig_b)
    for rel, shape_a in sig_a:
        if rel not in shapes_b:
            return (f"{a} has {rel} {_dims(shape_a)} but {b} has no {rel}; "
                    f"members of a group must have equal shapes")
        if shapes_b[rel] != shape_a:
            return (f"{a} has {rel} {_dims(shape_a)} but {b} has {rel} {_dims(shapes_b[rel])}; "
                    f"members of a group must have equal shapes")
    for rel, shape_b in sig_b:
        if rel not in shapes_a:
            return (f"{a} has no {rel} but {b} has {rel} {_dims(shape_b)}; "
                    f"members of a group must have equal shapes")
    for (rel_a, shape_a), (rel_b, shape_b) in zip(sig_a, sig_b):
        if (rel_a, shape_a) != (rel_b, shape_b):       # same tensors in another order
            return (f"{a} has {rel_a} {_dims(shape_a)} but {b} has {rel_b} {_dims(shape_b)}; "
                    f"members of a group must have equal shapes")
    return (f"{a} has {len(sig_a)} tensors but {b} has {len(sig_b)}; "
            f"members of a group must have equal shapes")


def _dims(shape: tuple[int, ...]) -> str:
    return "x".join(map(str, shape)) or "scalar"
