"""What an edit changed, in words: the "what changed" line after a scheme, and the first difference
that makes two designs different models (a checkpoint's stored design against the one loading it).
Pure, no Qt/torch.

Schemes stack and take members from groups that exist already (FFN-only then Interleaved cuts
the FFN group to half its members); the user is told so in one line.
"""

from __future__ import annotations

from explorer.design.model import LAYER_OPTIONS, LAYER_OVERRIDES, SETTINGS_FIELDS, StackSpec


def _value(value) -> str:
    return "inherit" if value is None else str(value)


def describe_change(before: StackSpec, after: StackSpec) -> str:
    """One line: settings, layers and groups that differ between two designs ('no change')."""
    parts: list[str] = []
    for key in SETTINGS_FIELDS:
        old, new = getattr(before.settings, key), getattr(after.settings, key)
        if old != new:
            parts.append(f"{key} {_value(old)} → {_value(new)}")
    old_ids = {layer.id for layer in before.layers}
    new_ids = {layer.id for layer in after.layers}
    if new_ids - old_ids:
        parts.append(f"+{len(new_ids - old_ids)} layer{'s' if len(new_ids - old_ids) != 1 else ''}")
    if old_ids - new_ids:
        parts.append(f"−{len(old_ids - new_ids)} layer{'s' if len(old_ids - new_ids) != 1 else ''}")
    old_layers = {layer.id: layer for layer in before.layers}
    changed: dict[tuple[str, str], int] = {}
    for layer in after.layers:
        old = old_layers.get(layer.id)
        if old is None:
            continue
        for key in LAYER_OVERRIDES + LAYER_OPTIONS:
            if getattr(old, key) != getattr(layer, key):
                what = (key, _value(getattr(layer, key)))
                changed[what] = changed.get(what, 0) + 1
    for (key, value), n in changed.items():
        parts.append(f"{key} = {value} on {n} layer{'s' if n != 1 else ''}")
    old_groups = {g.name: g for g in before.groups}
    new_groups = {g.name: g for g in after.groups}
    for name, g in new_groups.items():
        old = old_groups.get(name)
        if old is None:
            parts.append(f"new group {name} ({len(g.members)} members)")
        elif set(old.members) != set(g.members):
            parts.append(f"{name} {len(old.members)} → {len(g.members)} members")
    parts += [f"group {name} removed" for name in old_groups if name not in new_groups]
    return "; ".join(parts) if parts else "no change"


def first_difference(stored: StackSpec, current: StackSpec, stored_name: str = "the stored design",
                     current_name: str = "this one") -> str | None:
    """The first thing that makes two designs different models, in words naming the key (model.KEY,
    the layer and key, or the group), or None when they are the same model. Names, descriptions and
    run shapes are not the model and are not compared."""
    def both(old, new) -> str:
        return f"{_value(old)} in {stored_name}, {_value(new)} in {current_name}"

    for key in SETTINGS_FIELDS:
        old, new = getattr(stored.settings, key), getattr(current.settings, key)
        if old != new:
            return f"model.{key}: {both(old, new)}"
    old_ids = [layer.id for layer in stored.layers]
    new_ids = [layer.id for layer in current.layers]
    if old_ids != new_ids:
        for i, (old, new) in enumerate(zip(old_ids, new_ids)):
            if old != new:
                return f"stack[{i}]: layer {old!r} in {stored_name}, {new!r} in {current_name}"
        return f"stack: {len(old_ids)} layers in {stored_name}, {len(new_ids)} in {current_name}"
    for old, new in zip(stored.layers, current.layers):
        for key in ("kind",) + LAYER_OVERRIDES + LAYER_OPTIONS:
            if getattr(old, key) != getattr(new, key):
                return f"layer {new.id!r}: {key} {both(getattr(old, key), getattr(new, key))}"
    old_groups = {frozenset(g.members): g.name for g in stored.groups}
    new_groups = {frozenset(g.members): g.name for g in current.groups}
    for members, name in old_groups.items():
        if members not in new_groups:
            return f"group {name!r}: shared in {stored_name}, not in {current_name}"
    for members, name in new_groups.items():
        if members not in old_groups:
            return f"group {name!r}: shared in {current_name}, not in {stored_name}"
    return None
