"""Scheme options written as text, KEY=VALUE: one parser for the palette's options field and the
CLI's `-p` (pure: no torch, no Qt).

A line holds one or more options, separated by commas or spaces; a value may itself be a list
(`layers=block0,block1`, `tasks=(2, 3)`): an option ends where the next `KEY=` begins, so the
commas inside a list are not separators.
"""

from __future__ import annotations

import re

from explorer.errors import SpecError

_KEY = re.compile(r"(?:^|(?<=[,\s]))\s*([A-Za-z_]\w*)\s*=")
LIST_KEYS = frozenset({"layers"})
"""Options that are always a list, even of one item (`layers=block3`)."""


def parse_options(text: str, where: str = "options") -> dict:
    """'layers=block0,block1, blocks=3' -> {'layers': ['block0', 'block1'], 'blocks': 3}.

    Values: true/false, None, integers, lists (commas, optionally in () or []), else text
    (quotes stripped; a quoted value stays text). Raises SpecError naming `where` or the key."""
    starts = list(_KEY.finditer(text))
    head = text[:starts[0].start()] if starts else text
    if head.strip(" ,\t\n"):
        raise SpecError(f"expected KEY=VALUE, got {head.strip(' ,')!r}", where)
    options: dict = {}
    for match, following in zip(starts, starts[1:] + [None]):
        key = match.group(1)
        raw = text[match.end():following.start() if following else len(text)]
        if key in options:
            raise SpecError(f"{key} is given twice", key)
        options[key] = parse_value(key, raw)
    return options


def parse_value(key: str, raw: str):
    """One option's value from its text (see parse_options)."""
    value = raw.strip().rstrip(",").strip()
    if not value:
        raise SpecError(f"expected a value after {key}=", key)
    if _quoted(value) and key not in LIST_KEYS:
        return value[1:-1]                         # quoted: text as written, commas and all
    if len(value) >= 2 and value[0] + value[-1] in ("()", "[]"):
        items = [v for v in (part.strip() for part in value[1:-1].split(",")) if v]
        return [_scalar(key, v) for v in items]
    if "," in value:
        return [_scalar(key, v) for v in (part.strip() for part in value.split(",")) if v]
    if key in LIST_KEYS:
        return [_scalar(key, value)]
    return _scalar(key, value)


def _quoted(value: str) -> bool:
    return len(value) >= 2 and value[0] == value[-1] and value[0] in "'\""


def _scalar(key: str, value: str):
    if _quoted(value):
        return value[1:-1]                         # quoted: text as written
    if key in LIST_KEYS:
        return value                               # layer ids are names, even "0"
    if value == "None":
        return None
    low = value.lower()
    if low in ("true", "false"):
        return low == "true"
    if value.lstrip("-").isdigit():
        return int(value)
    return value
