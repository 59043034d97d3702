"""Pure spec edits the GUI performs: insert, move, delete, duplicate, join or form groups.

Each returns a new StackSpec and never validates; the caller validates the result
(DesignModel.propose) so that an impossible edit is refused with its SpecError message.
"""

from __future__ import annotations

import dataclasses
import re

from explorer.errors import SpecError
from explorer.design.model import SETTINGS_FIELDS, LayerSpec, Member, ModelSettings, SharingGroup, StackSpec
from explorer.design.grouping import add_groups, without_members

_ID_TAIL = re.compile(r"^(.*?)(\d+)$")


def new_layer_id(spec: StackSpec, kind: str) -> str:
    """A fresh id like ``block12`` that no layer of `spec` uses."""
    taken = {layer.id for layer in spec.layers}
    n = sum(1 for layer in spec.layers if layer.kind == kind)
    while f"{kind}{n}" in taken:
        n += 1
    return f"{kind}{n}"


def insert_layer(spec: StackSpec, index: int, kind: str) -> StackSpec:
    """Insert a new layer of `kind` at `index` (0 = bottom of the stack)."""
    index = max(0, min(index, len(spec.layers)))
    layer = LayerSpec(id=new_layer_id(spec, kind), kind=kind)
    return spec.replace(layers=spec.layers[:index] + (layer,) + spec.layers[index:])


def move_layers(spec: StackSpec, layer_ids: list[str], index: int) -> StackSpec:
    """Move the given layers (keeping their order) so they start at gap `index` of the old stack."""
    moving = [layer for layer in spec.layers if layer.id in set(layer_ids)]
    if not moving:
        raise SpecError("no such layer to move", "layers")
    before = sum(1 for layer in spec.layers[:index] if layer.id in set(layer_ids))
    rest = [layer for layer in spec.layers if layer.id not in set(layer_ids)]
    at = max(0, min(index - before, len(rest)))
    return spec.replace(layers=tuple(rest[:at] + moving + rest[at:]))


def delete_layers(spec: StackSpec, layer_ids: list[str]) -> StackSpec:
    """Remove layers, their group memberships, and K/V reuse pointing at them."""
    gone = set(layer_ids)
    layers = tuple(
        dataclasses.replace(layer, kv_from=None) if layer.kv_from in gone else layer
        for layer in spec.layers if layer.id not in gone
    )
    return spec.replace(layers=layers, groups=without_members(spec, lambda m: m.layer in gone))


def leave_groups(spec: StackSpec, layer_ids: list[str]) -> StackSpec:
    """The layers leave every group (groups left with one member disappear)."""
    gone = set(layer_ids)
    return spec.replace(groups=without_members(spec, lambda m: m.layer in gone))


def leave_group(spec: StackSpec, members: list[Member]) -> StackSpec:
    """These slots leave their groups (a group left with one member disappears)."""
    leaving = set(members)
    if not any(m in leaving for g in spec.groups for m in g.members):
        raise SpecError(f"{', '.join(map(str, members))} is not in a group", "group")
    return spec.replace(groups=without_members(spec, lambda m: m in leaving))


def duplicate_layer(spec: StackSpec, layer_id: str) -> StackSpec:
    """Insert an unshared copy of a layer right above it."""
    index = spec.layer_index(layer_id)
    source = spec.layers[index]
    copy = dataclasses.replace(source, id=new_layer_id(spec, source.kind))
    return spec.replace(layers=spec.layers[:index + 1] + (copy,) + spec.layers[index + 1:])


def group_named(spec: StackSpec, name: str) -> SharingGroup:
    for g in spec.groups:
        if g.name == name:
            return g
    raise SpecError(f"no group named {name!r}", "group")


def group_of_member(spec: StackSpec, member: Member) -> SharingGroup | None:
    for g in spec.groups:
        if member in g.members:
            return g
    return None


def join_group(spec: StackSpec, name: str, members: list[Member]) -> StackSpec:
    """Add members to group `name`; they leave any group that overlaps them."""
    target = group_named(spec, name)
    combined = target.members + tuple(m for m in members if m not in target.members)
    if combined == target.members:
        raise SpecError(f"{', '.join(map(str, members))} is already in group '{name}'", "group")
    index = spec.groups.index(target)
    without = spec.replace(groups=spec.groups[:index] + spec.groups[index + 1:])
    merged = add_groups(without, [(name, combined)])
    # add_groups appends the group: put it back where it was, with its color
    new_group = dataclasses.replace(merged.groups[-1], color=target.color)
    others = list(merged.groups[:-1])
    others.insert(min(index, len(others)), new_group)
    return merged.replace(groups=tuple(others))


def new_group(spec: StackSpec, members: list[Member], name: str = "") -> StackSpec:
    """A new group of `members` (at least two); overlapping old memberships are dropped."""
    unique = list(dict.fromkeys(members))
    if len(unique) < 2:
        raise SpecError("a new group needs at least two members: select several layers, or drop a slot "
                        "onto the same slot of another layer", "group")
    name = name or str(unique[0].slot).replace("[", "").replace("]", "").replace(":", "-") + "-group"
    return add_groups(spec, [(name, tuple(unique))])


def share_slots(spec: StackSpec, source: Member, target: Member) -> StackSpec:
    """Make two slots share: join the target's group, else the source's, else form a new one.
    Head slices may differ in position (head 0 of one layer with head 3 of another), not in width."""
    widths = {source.slot.width, target.slot.width}
    if source.slot != target.slot and (len(widths) > 1 or widths == {0}):
        raise SpecError(f"{source} can only share with the same slot of another layer, or as many heads, "
                        f"not {target}", "group")
    if source.layer == target.layer:
        raise SpecError(f"{source} is already itself", "group")
    for holder, joiner in ((target, source), (source, target)):
        g = group_of_member(spec, holder)
        if g is not None:
            return join_group(spec, g.name, [joiner])
    return new_group(spec, [target, source])


def share_with(spec: StackSpec, sources: list[Member], target: Member) -> StackSpec:
    """Dropped slots (one, or the same slot of several selected layers) share with `target`."""
    if len(sources) == 1:
        return share_slots(spec, sources[0], target)
    holder = group_of_member(spec, target)
    if holder is not None:
        return join_group(spec, holder.name, sources)
    return new_group(spec, [target] + sources)


def set_layer_field(spec: StackSpec, layer_id: str, key: str, value) -> StackSpec:
    index = spec.layer_index(layer_id)
    layer = dataclasses.replace(spec.layers[index], **{key: value})
    return spec.replace(layers=spec.layers[:index] + (layer,) + spec.layers[index + 1:])


def set_setting(spec: StackSpec, key: str, value) -> StackSpec:
    if key not in SETTINGS_FIELDS:
        raise SpecError(f"unknown setting {key!r}", f"model.{key}")
    return spec.replace(settings=dataclasses.replace(spec.settings, **{key: value}))


def rename_group(spec: StackSpec, old: str, new: str) -> StackSpec:
    new = new.strip()
    if not new:
        raise SpecError("a group needs a non-empty name", "group")
    if new != old and new in {g.name for g in spec.groups}:
        raise SpecError(f"group name '{new}' is used already", "group")
    group = group_named(spec, old)
    return spec.replace(groups=tuple(dataclasses.replace(g, name=new) if g is group else g for g in spec.groups))


def recolor_group(spec: StackSpec, name: str, color: str) -> StackSpec:
    group = group_named(spec, name)
    return spec.replace(groups=tuple(dataclasses.replace(g, color=color) if g is group else g
                                     for g in spec.groups))


def remove_group(spec: StackSpec, name: str) -> StackSpec:
    group = group_named(spec, name)
    return spec.replace(groups=tuple(g for g in spec.groups if g is not group))


def builtin_design(n_blocks: int = 12) -> StackSpec:
    """A BERT-base-like design used when no preset can be read."""
    layers = ((LayerSpec("embedding", "embedding", embedding_norm=True),)
              + tuple(LayerSpec(f"block{i}", "block") for i in range(n_blocks))
              + (LayerSpec("pooler", "pooler"), LayerSpec("lm_head", "lm_head", transform=True)))
    settings = ModelSettings(d_model=768, n_heads=12, d_ff=3072, vocab_size=30522, max_positions=512,
                             type_vocab_size=2, norm_position="post")
    return StackSpec(settings, layers, (), name="bert-base (built-in)",
                     description="12-block BERT-base-like encoder, nothing shared")
