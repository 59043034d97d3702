"""What an edit changed, in words: the "what changed" line after a scheme (pure, no Qt/torch).

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
