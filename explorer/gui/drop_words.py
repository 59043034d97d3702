"""Why a drop is refused, in words a person reads: what was dropped, on what, and why.

The design's own check speaks in tensors and group positions ("group 'block-group-2':
embeddings:block has embedding.weight 30522x768 but layer0:block has no embedding.weight"),
naming a group that a refused drop never made and calling an embedding a block. The drop
targets ask here first: pieces of different kinds (an FFN and a whole block, an embedding
and a block) are refused by name; whatever the check still says is reworded. Pure: no Qt.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from explorer.design.model import Member, StackSpec
from explorer.kinds import REGISTRY, kind as kind_of

# slot name -> (one, several, as an adjective for a group)
SLOT_WORDS = {
    "ffn": ("an FFN", "FFNs", "FFN"),
    "attention": ("an attention sublayer", "attention sublayers", "attention"),
    "attention.q": ("a query projection", "query projections", "query-projection"),
    "attention.k": ("a key projection", "key projections", "key-projection"),
    "attention.v": ("a value projection", "value projections", "value-projection"),
    "attention.o": ("an attention output projection", "attention output projections", "output-projection"),
    "cross_attention": ("a cross-attention sublayer", "cross-attention sublayers", "cross-attention"),
    "norm": ("a norm", "norms", "norm"),
    "norm1": ("a first norm", "first norms", "first-norm"),
    "norm2": ("a second norm", "second norms", "second-norm"),
    "position_bias": ("a relative position bias", "relative position biases", "position-bias"),
    "embedding": ("a token embedding table", "token embedding tables", "token-embedding"),
    "position": ("a position embedding table", "position embedding tables", "position-embedding"),
    "token_type": ("a token-type embedding table", "token-type embedding tables", "token-type"),
    "projection": ("an embedding projection", "embedding projections", "embedding-projection"),
    "router": ("an expert router", "expert routers", "router"),
    "shared_expert": ("a shared expert", "shared experts", "shared-expert"),
    "head": ("an output head", "output heads", "head"),
    "transform": ("a head transform", "head transforms", "head-transform"),
    "halting": ("a halting unit", "halting units", "halting"),
    "lora": ("a LoRA adapter", "LoRA adapters", "LoRA"),
    "factors": ("a set of low-rank factors", "sets of low-rank factors", "low-rank"),
}
EQUAL_SHAPES = "members of a group must have equal shapes"


@dataclass(frozen=True)
class Piece:
    """What a member is, for sentences: its kind of piece (`key`, equal for pieces that may
    share) and how to say it."""

    key: tuple
    one: str
    several: str
    adjective: str


def _article(word: str) -> str:
    return "an" if word[:1].lower() in "aeiou" else "a"


def piece(spec: StackSpec, member: Member) -> Piece:
    slot = member.slot
    kind = spec.layers[spec.layer_index(member.layer)].kind
    if slot.is_range:
        noun = "head" if slot.is_heads else "expert"
        n = slot.width
        one = f"{n} attention {noun}{'s' if n != 1 else ''}" if noun == "head" else f"{n} expert{'s' if n != 1 else ''}"
        return Piece((slot.name, n), one, f"slices of {n} {noun}{'s' if n != 1 else ''}", f"{n}-{noun}")
    if slot.name == "block":
        if kind_of(kind).plain_block:
            return Piece(("block", kind), "a whole block", "whole blocks", "block")
        words = kind.replace("_", " ")
        noun = words if words.endswith(("layer", "block", "head")) else f"{words} layer"
        return Piece(("block", kind), f"{_article(noun)} {noun}", f"{noun}s", words)
    one, several, adjective = SLOT_WORDS.get(slot.name, (f"a {slot.name} slot", f"{slot.name} slots", slot.name))
    return Piece((slot.name,), one, several, adjective)


def name(member: Member) -> str:
    """A member as the user picked it: a whole layer by its id, a slot by its chip (block3:ffn)."""
    return member.layer if member.slot.name == "block" else str(member)


def names(members) -> str:
    return ", ".join(name(m) for m in members)


def _has_slot(spec: StackSpec, member: Member) -> bool:
    kind = REGISTRY.get(spec.layers[spec.layer_index(member.layer)].kind)
    if kind is None:
        return True
    slot = member.slot
    if slot.is_range:
        return kind.has_heads if slot.is_heads else kind.has_experts
    return slot.name in kind.slots


def _missing(spec: StackSpec, member: Member, dropped: Member) -> str:
    whole, what = piece(spec, Member(member.layer)), piece(spec, dropped)
    return (f"{member.layer} is {whole.one} and has no {what.adjective} slot; "
            f"{name(dropped)} is {what.one}, which can share only with {what.several}")


def join_refusal(spec: StackSpec, members: list[Member], group: str) -> str:
    """Why `members` cannot join group `group`, when they are not the kind of piece it holds ('' if they are)."""
    held = next((g for g in spec.groups if g.name == group), None)
    if held is None or not held.members:
        return ""
    holds = piece(spec, held.members[0])
    for member in members:
        what = piece(spec, member)
        if what.key != holds.key:
            return (f"{name(member)} is {what.one}, which can join only {what.adjective} groups; "
                    f"{group} holds {holds.several}")
    return ""


def share_refusal(spec: StackSpec, sources: list[Member], target: Member) -> str:
    """Why `sources` cannot share with `target` when they are different kinds of piece ('' otherwise)."""
    for source in sources:
        if not _has_slot(spec, target):
            return _missing(spec, target, source)
        what, there = piece(spec, source), piece(spec, target)
        if what.key != there.key:
            return (f"{name(source)} is {what.one}, which can share only with {what.several}; "
                    f"{name(target)} is {there.one}")
    return ""


def new_group_refusal(spec: StackSpec, members: list[Member]) -> str:
    """Why `members` cannot form a new group by kind or number ('' when that is not why)."""
    unique = list(dict.fromkeys(members))
    if len(unique) < 2:
        return ("drop a second member to make a group: select two or more layers and drag them here, "
                "or drop this slot on the same slot of another layer")
    first = piece(spec, unique[0])
    for member in unique[1:]:
        what = piece(spec, member)
        if what.key != first.key:
            return (f"{name(unique[0])} is {first.one} and {name(member)} is {what.one}: "
                    "the members of a group must be the same kind of piece")
    return ""


_PREFIX = re.compile(r"^group '([^']*)': ")
_WHOLE = re.compile(r"\b([\w.-]+):block\b")
_SHAPES = re.compile(r"^(\S+) has (\S+) (\S+) but (\S+) has (?:no (\S+)|\S+ (\S+)); " + re.escape(EQUAL_SHAPES))


def reword(spec: StackSpec, reason: str) -> str:
    """The design check's line for a drop, without tensor names or a group the drop never made."""
    if not reason:
        return reason
    prefix = _PREFIX.match(reason)
    group = ""
    if prefix:
        reason = reason[prefix.end():]
        if prefix.group(1) in {g.name for g in spec.groups}:
            group = prefix.group(1)
    shapes = _SHAPES.match(reason)
    if shapes:
        a, tensor, shape_a, b, lacks, shape_b = shapes.groups()
        a, b = _WHOLE.sub(r"\1", a), _WHOLE.sub(r"\1", b)
        where = f" in group '{group}'" if group else ""
        if lacks is None:
            return f"{a} ({shape_a}) and {b}{where} ({shape_b}) differ in size: {EQUAL_SHAPES}"
        return f"{a} and {b}{where} are built differently ({b} has no {lacks}): {EQUAL_SHAPES}"
    reason = _WHOLE.sub(r"\1", reason)
    return f"group '{group}': {reason}" if group else reason
