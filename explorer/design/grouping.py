"""Adding and dropping group members: the one place that does it, for schemes and edits alike."""

from __future__ import annotations

import dataclasses
from typing import Callable

from explorer.design.model import BLOCK, LayerSpec, Member, SharingGroup, Slot, StackSpec
from explorer.design.slots import SlotError, pieces_overlap, slot_pieces
from explorer.kinds.base import OUTSIDE_BLOCK


def _unique_name(existing: set[str], base: str) -> str:
    if base not in existing:
        existing.add(base)
        return base
    n = 2
    while f"{base}-{n}" in existing:
        n += 1
    existing.add(f"{base}-{n}")
    return f"{base}-{n}"


def without_members(spec: StackSpec, leaving: Callable[[Member], bool]) -> tuple[SharingGroup, ...]:
    """The groups with every member for which `leaving(member)` holds removed; a group left with
    fewer than two members is gone. The one place that drops members (schemes and edits)."""
    groups = []
    for g in spec.groups:
        members = tuple(m for m in g.members if not leaving(m))
        if len(members) >= 2:
            groups.append(g if len(members) == len(g.members) else dataclasses.replace(g, members=members))
    return tuple(groups)


def add_groups(spec: StackSpec, new_groups: list[tuple[str, tuple[Member, ...]]]) -> StackSpec:
    """Add groups (name, members); members of old groups that overlap them are dropped."""
    new_members = [m for _n, members in new_groups for m in members]
    by_id = {layer.id: layer for layer in spec.layers}

    def pieces(m: Member):
        try:
            return slot_pieces(by_id[m.layer], spec.settings, m.slot)
        except (SlotError, KeyError):
            return ()

    claimed_slots: dict[str, set[Slot]] = {}
    for m in new_members:
        claimed_slots.setdefault(m.layer, set()).add(m.slot)
    claimed: dict[str, list] = {}            # layer -> pieces the new members take, made on demand

    def overlaps(m: Member) -> bool:
        slots = claimed_slots.get(m.layer)
        if not slots:
            return False                     # a layer the new groups do not touch
        if m.slot in slots or (BLOCK in slots and m.slot.name not in OUTSIDE_BLOCK):
            return True                      # the same slot, or inside a whole block (all but LoRA, bias table)
        if m.layer not in claimed:
            claimed[m.layer] = [p for n in new_members if n.layer == m.layer for _r, p in pieces(n)]
        return any(pieces_overlap(p, q) for _r, p in pieces(m) for q in claimed[m.layer])

    kept = list(without_members(spec, overlaps))
    names = {g.name for g in kept}
    for name, members in new_groups:
        if len(members) >= 2:
            kept.append(SharingGroup(_unique_name(names, name), tuple(members)))
    return dataclasses.replace(spec, groups=tuple(kept))


def groups_from_order(spec: StackSpec, targets: list[LayerSpec], order: tuple[int, ...], slot: Slot | str,
                      base: str) -> StackSpec:
    """Turn a schedule over `targets` into groups: one per block run by two or more layers."""
    runs: dict[int, list[Member]] = {}
    for layer, block in zip(targets, order):
        runs.setdefault(block, []).append(Member(layer.id, slot))
    shared = [members for _b, members in sorted(runs.items()) if len(members) >= 2]
    new = [(base if len(shared) == 1 else f"{base}-{k}", tuple(members)) for k, members in enumerate(shared)]
    return add_groups(spec, new)
