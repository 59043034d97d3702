"""Card layout and looks, computed from the spec alone (no painting): which chips a layer
shows and where, what colors them (its own group, a head range, or a parent slot's group),
and the notes and markers drawn on them. Painting and hit-testing both read these.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from PySide6.QtCore import QRectF
from PySide6.QtGui import QColor

from explorer.gui import theme
from explorer.design.model import BLOCK, LayerDims, LayerSpec, ModelSettings, Slot, StackSpec, dims
from explorer.design.sharing import SharingPlan
from explorer.kinds import kind
from explorer.design.slots import SlotError, slot_pieces

CARD_HEIGHT = 68.0
LABEL_STRIP = 26.0       # the whole-attention grab target above the head chips (>= 24 px)
CARD_GAP = 6.0
HEADER_WIDTH = 190.0
BADGE_WIDTH = 54.0

ATTENTION, EXPERTS = Slot("attention"), Slot("experts")
BOX_SLOTS = (ATTENTION, EXPERTS)
"""Chips drawn as a box: the label in a strip on top, one small chip per head (expert) below."""


@dataclass(frozen=True, slots=True)
class Chip:
    """A clickable, draggable piece of a card; `slot` is what dragging it carries. `is_head`: one
    head or one expert (a single-index range slot, heads[2:3], experts[5:6])."""

    slot: Slot
    label: str
    rect: QRectF
    is_head: bool = False


@dataclass(slots=True)
class ChipStyle:
    fill: QColor
    group: str | None = None      # the group that colors it (direct or via a parent slot)
    direct: bool = False          # its own slot is the group member
    uses: int = 1


@dataclass(slots=True)
class CardInfo:
    layer: LayerSpec
    index: int
    chips: tuple[Chip, ...]
    styles: dict[Slot, ChipStyle]
    block_style: ChipStyle
    summary: str
    block_uses: int = 1
    highlighted: set[Slot] = field(default_factory=set)  # slots in the selected group
    notes: dict[Slot, str] = field(default_factory=dict)  # extra chip text, e.g. shared heads on 'attention'
    layout: tuple = ()                                   # layout_key of `chips`

    @property
    def kind_line(self) -> str:
        """The kind, and what a Universal Transformer step adds (timestep signal, ACT halting)."""
        extras = [text for on, text in ((self.layer.timestep_signal, "timestep"),
                                        (self.layer.halting, "ACT halting")) if on]
        return " · ".join([self.layer.kind, *extras])

    def look(self) -> tuple:
        """Everything the chips' pixels depend on: equal looks share one cached pixmap."""
        own = (0, False, 1, False)
        return (self.layout,
                tuple((st.fill.rgba(), st.direct, st.uses, bool(st.group)) if (st := self.styles.get(c.slot)) else own
                      for c in self.chips),
                frozenset(self.highlighted), tuple(sorted((str(s), text) for s, text in self.notes.items())))


def summary_of(d: LayerDims) -> str:
    return kind(d.kind).summary(d)


def _has(layer: LayerSpec, settings: ModelSettings, slot: Slot) -> bool:
    try:
        slot_pieces(layer, settings, slot)
    except SlotError:
        return False
    return True


_LAYOUTS: dict[tuple, tuple[Chip, ...]] = {}


def layout_key(layer: LayerSpec, settings: ModelSettings, width: float, extra_slots: tuple = ()) -> tuple:
    """Layers with equal resolved dims look alike: they share one layout (and chip pixmap)."""
    return (dims(layer, settings), settings.d_model, width, extra_slots)


def layout_chips(layer: LayerSpec, settings: ModelSettings, width: float, extra_slots: tuple = ()) -> tuple[Chip, ...]:
    """Chip rectangles in card coordinates (card is `width` x CARD_HEIGHT); cached, never mutate."""
    key = layout_key(layer, settings, width, extra_slots)
    chips = _LAYOUTS.get(key)
    if chips is None:
        if len(_LAYOUTS) > 4096:
            _LAYOUTS.clear()
        chips = _LAYOUTS[key] = _layout_chips(layer, settings, width, extra_slots)
    return chips


def _layout_chips(layer: LayerSpec, settings: ModelSettings, width: float, extra_slots: tuple) -> tuple[Chip, ...]:
    d = dims(layer, settings)
    x0, y0, h = HEADER_WIDTH, 7.0, CARD_HEIGHT - 14.0
    avail = max(width - HEADER_WIDTH - BADGE_WIDTH, 120.0)
    chips: list[Chip] = []

    def attention_chips(x: float, w: float) -> None:
        per_kv = d.n_heads // d.n_kv_heads if d.n_kv_heads and d.n_kv_heads != d.n_heads else 0
        label = "attention"
        if per_kv:          # GQA/MQA: the group size on the k/v chips, and in words on the label
            label += f" · {'MQA' if d.n_kv_heads == 1 else 'GQA'} {d.n_kv_heads} K/V × {per_kv} queries"
        chips.append(Chip(ATTENTION, label, QRectF(x, y0, w, h)))
        projections = [p for p in "qkvo" if _has(layer, settings, Slot(f"attention.{p}"))]
        for j, p in enumerate(reversed(projections)):
            text = f"{p}{per_kv}" if per_kv and p in "kv" else p
            rect = QRectF(x + w - 4 - 19 * (j + 1), y0 + 4, 17, LABEL_STRIP - 7)
            chips.append(Chip(Slot(f"attention.{p}"), text, rect))
        n = d.n_heads
        if n and not d.low_rank:
            step = (w - 8) / n
            for i in range(n):
                rect = QRectF(x + 4 + i * step, y0 + LABEL_STRIP, max(step - 2, 1.5), h - LABEL_STRIP - 3)
                chips.append(Chip(Slot.head(i), str(i), rect, is_head=True))

    def expert_chips(x: float, w: float, label: str) -> None:
        chips.append(Chip(EXPERTS, label, QRectF(x, y0, w, h)))
        step = (w - 8) / max(d.n_experts, 1)
        for i in range(d.n_experts):
            rect = QRectF(x + 4 + i * step, y0 + LABEL_STRIP, max(step - 2, 1.5), h - LABEL_STRIP - 3)
            chips.append(Chip(Slot.expert(i), str(i), rect, is_head=True))

    card = kind(d.kind).card(d)                    # the kind's module says which chips, how wide
    total = sum(c.weight for c in card) or 1.0
    x = x0
    for c in card:
        w = avail * c.weight / total
        if c.slot == "attention":
            attention_chips(x, w - 4)
        elif c.slot == "experts" and kind(d.kind).has_experts:
            expert_chips(x, w - 4, c.label)
        else:
            chips.append(Chip(Slot(c.slot), c.label, QRectF(x, y0, w - 4, h)))
        x += w
    shown = {c.slot for c in chips}
    extra = [s for s in extra_slots if s not in shown and s != BLOCK and not s.is_range]
    for j, s in enumerate(extra):       # grouped slots without a chip of their own (factors, norm1 ...)
        chips.append(Chip(s, str(s), QRectF(width - BADGE_WIDTH + 2, y0 + j * 15, BADGE_WIDTH - 8, 13)))
    return tuple(chips)


def _chip_styles(layer_kind, chips, memberships: tuple,
                 own: ChipStyle) -> tuple[dict[Slot, ChipStyle], dict[Slot, str]]:
    """Style of every chip and notes, from a layer's memberships ((slot, group index, group) ...)."""
    direct = {slot: (gi, g) for slot, gi, g in memberships}
    ranges = sorted((s.name, s.lo, s.hi, gi, g) for s, gi, g in memberships if s.is_range)
    memo: dict[Slot, ChipStyle] = {}

    def style(slot: Slot) -> ChipStyle:
        if slot in memo:
            return memo[slot]
        found = direct.get(slot)
        if found is None and ranges and slot.is_range:
            found = next(((gi, g) for name, lo, hi, gi, g in ranges if name == slot.name and lo <= slot.lo < hi), None)
        if found is not None:
            gi, g = found
            result = ChipStyle(theme.group_color(g, gi), g.name, True, len(g.members))
        else:
            parent = layer_kind.parent(str(slot))        # kinds declare their slots as text
            result = own if parent is None else style(Slot.parse(parent))
            if result.direct:
                result = ChipStyle(result.fill, result.group, False, result.uses)
        memo[slot] = result
        return result

    styles = {c.slot: style(c.slot) for c in chips}
    styles[BLOCK] = style(BLOCK)
    notes = {}
    for box, family, noun in ((ATTENTION, "heads", "head"), (EXPERTS, "experts", "expert")):
        mine = [(lo, hi, g) for name, lo, hi, _gi, g in ranges if name == family]
        if mine:
            notes[box] = "  ·  " + ", ".join(
                (f"{noun} {lo}" if hi - lo == 1 else f"{noun}s {lo}–{hi - 1}") + f" ×{len(g.members)}"
                for lo, hi, g in mine)
    return styles, notes


def card_infos(spec: StackSpec, plan: SharingPlan | None, width: float, selected_group: str | None) -> list[CardInfo]:
    """Everything the cards paint, from the design and the sharing plan compiled for it (no
    plan: nothing drawn as shared). Layers that look alike share styles."""
    memberships: dict[str, list] = {}
    for (layer_id, slot), gi in sorted((plan.member_group if plan else {}).items(), key=lambda item: item[1]):
        memberships.setdefault(layer_id, []).append((slot, gi, spec.groups[gi]))
    selected = next((g for g in spec.groups if g.name == selected_group), None)
    highlight: dict[str, set[Slot]] = {}
    for m in (selected.members if selected else ()):
        slots = highlight.setdefault(m.layer, set())
        slots.add(m.slot)
        slots |= set(m.slot.heads())
    own = ChipStyle(theme.color("own_fill"))
    shared_styles: dict[tuple, tuple] = {}
    infos = []
    for index, layer in enumerate(spec.layers):
        mine = tuple(memberships.get(layer.id, ()))
        slots = tuple(slot for slot, _gi, _g in mine)
        key = layout_key(layer, spec.settings, width, slots)
        chips = layout_chips(layer, spec.settings, width, slots)
        look = (key, tuple((slot, gi, id(g)) for slot, gi, g in mine))
        if look not in shared_styles:
            shared_styles[look] = _chip_styles(kind(layer.kind), chips, mine, own)
        styles, notes = shared_styles[look]
        block_style = styles[BLOCK]
        infos.append(CardInfo(layer, index, chips, styles, block_style, summary_of(dims(layer, spec.settings)),
                              block_style.uses if block_style.group else 1, highlight.get(layer.id, set()), notes,
                              key))
    return infos
