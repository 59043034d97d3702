"""What every layer kind declares: its tensors and slots, FLOPs, memory and card hints (pure).

A kind is one module under explorer/kinds/ holding one LayerKind; the registry
(explorer/kinds/__init__.py) lists them. Design, analysis and the window read kinds only
through this interface, so adding a kind is its module plus one registry line. The
functions take the layer's resolved settings (`explorer.design.model.LayerDims`, here `d`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from math import prod
from typing import TYPE_CHECKING

if TYPE_CHECKING:                        # explorer.design.model imports the registry, which imports this
    from explorer.design.model import LayerDims
    from explorer.kinds.saving import Flow, Saved

COMPONENTS = ("attention", "ffn", "embedding", "head", "other")
OUTSIDE_BLOCK = ("lora", "position_bias")
"""Tensor prefixes a whole-block slot ("*") leaves to the layer: a per-layer LoRA, and the relative
position bias table the first layer of a T5 stack holds (so blocks with and without it can share)."""


@dataclass(frozen=True, slots=True)
class TensorSpec:
    """One parameter tensor of a layer. `component` is where its FLOPs and bytes are reported."""

    name: str
    shape: tuple[int, ...]
    component: str               # attention | ffn | embedding | head | other

    @property
    def numel(self) -> int:
        return prod(self.shape)


@dataclass(frozen=True, slots=True)
class CardChip:
    """A chip of the layer's card: the slot it drags, its label, its share of the width.
    The slot "attention" is drawn as the attention box with q/k/v/o and one chip per head."""

    slot: str
    label: str
    weight: float = 1.0


@dataclass(frozen=True)
class LayerKind:
    """One layer kind. Subclasses override what their layers have; defaults are a d -> d layer
    without parameters of its own."""

    name: str
    fields: frozenset[str] = frozenset()            # optional per-layer settings this kind accepts
    slots: dict[str, tuple[str, ...]] = field(default_factory=lambda: {"block": ("*",)})
    tip: str = ""                                    # one line for the palette
    has_heads: bool = False                          # heads[i:j] slots exist
    has_experts: bool = False                        # experts[i:j] slots exist (a mixture of experts)
    transformer_block: bool = False                  # attention + FFN: the layer-sharing schemes' targets
    reads_memory: bool = False                       # reads the encoder's output (cross-attention)
    transforms_hidden: bool = True                   # False: reads the hidden state, leaves it (heads)
    trunk: bool = False                              # a trunk layer: a training run's `depth` keeps these
    plain_block: bool = False                        # the plain Transformer block: the schemes' first choice
    sublayer: bool = False                           # a Transformer block's attention or FFN on its own
    lora_able: bool = False                          # takes a per-layer LoRA (lora_rank: relaxed recursion)
    low_rank_able: bool = False                      # takes shared low-rank factors (low_rank)
    takes_timestep: bool = False                     # takes the Universal Transformer's timestep signal
    recurrent_cell: bool = False                     # an RNN cell: a stack of them shares one cell per kind
    convolution: bool = False                        # a grouped convolution (groups divide d_model; filter banks)
    reads_tokens: bool = False                       # reads token ids (the embedding: first layer or decoder input)
    reads_positions: bool = False                    # adds position embeddings (a learned table caps the length)
    lm_head: bool = False                            # a language model's head: logits over the vocabulary

    def tensors(self, d: LayerDims) -> list[TensorSpec]:
        """Every parameter tensor of a layer with settings `d`, nothing shared."""
        return []

    def flops(self, d: LayerDims, f: Flow) -> tuple[dict[str, int], int]:
        """(matmul FLOPs by component, element-wise op estimate) of one forward pass over `f`
        (explorer/kinds/saving.py `Flow`: batch, seq, the encoder output's length `memory`)."""
        return {}, 0

    def working_set(self, d: LayerDims, f: Flow) -> int:
        """Peak live elements in inference over `f`'s f.n = batch x seq tokens."""
        return f.n * 3 * d.d_model

    def kv_cache(self, d: LayerDims, f: Flow) -> int:
        """Elements of the decoding K/V cache this layer keeps for `f`'s f.n tokens (0: none)."""
        return 0

    def looks_ahead(self, d: LayerDims) -> bool:
        """Whether a position's output reads later positions (bidirectional attention, a centred
        convolution): such a design trains on masked tokens, not the next one."""
        return self.has_heads and not d.causal

    def kept_cache(self, d: LayerDims, seq: int) -> int:
        """Elements the built layer keeps between inference passes of length `seq` (0: none)."""
        return 0

    def saved(self, d: LayerDims, f: Flow) -> list[Saved]:
        """What its forward pass keeps for backward in a training step (explorer/kinds/saving.py):
        by default its input, as a d -> d map that reads it once does."""
        from explorer.kinds.saving import Saved

        return [Saved(f.n * d.d_model, "act", f.h)]

    def saved_exact(self, d: LayerDims, f: Flow) -> bool:
        """Whether `saved` is all its forward keeps on this device (False: a kernel's private buffer
        of unknown size, such as cuDNN's RNN reserve, is left out; the figure is then a lower bound)."""
        return True

    def inactive(self, d: LayerDims) -> int:
        """Elements one token does not read at this layer (a mixture's unchosen experts; 0 for dense)."""
        return 0

    def problems(self, d: LayerDims) -> list[tuple[str, str]]:
        """(key, reason) of what is wrong with a layer of these settings beyond value ranges."""
        return []

    def card(self, d: LayerDims) -> tuple[CardChip, ...]:
        """The chips of its card, left to right."""
        return (CardChip("block", self.name),)

    def summary(self, d: LayerDims) -> str:
        """The card's one-line shape summary."""
        return f"d{d.d_model}"

    def parent(self, slot: str) -> str | None:
        """The smallest other slot holding all of `slot`'s tensors (a head -> attention -> block);
        a chip takes its parent's group color when it has no group of its own."""
        if slot.startswith("heads["):
            return "attention" if self.has_heads else None
        if slot.startswith("experts["):
            return "experts" if self.has_experts else None
        mine = self.slots.get(slot)
        if mine is None or slot == "block":
            return None
        best = None
        for name, prefixes in self.slots.items():
            if name != slot and _covers(prefixes, mine) and (best is None or _covers(self.slots[best], prefixes)):
                best = name
        return best


def _covers(outer: tuple[str, ...], inner: tuple[str, ...]) -> bool:
    """Whether slot prefixes `outer` take in every tensor that `inner` names ("*": all but OUTSIDE_BLOCK)."""
    def takes(p: str, q: str) -> bool:
        if p == "*":
            return not q.startswith(OUTSIDE_BLOCK)
        return q == p or (p != "@B" and q.startswith(p + "."))
    return all(any(takes(p, q) for p in outer) for q in inner)


def linear(prefix: str, out_f: int, in_f: int, bias: bool, component: str, low_rank: int = 0) -> list[TensorSpec]:
    """A linear map's tensors; with `low_rank` W = A @ B, A (out, r) per layer and B (r, in) the shareable factor."""
    if low_rank:
        out = [TensorSpec(f"{prefix}.A", (out_f, low_rank), component),
               TensorSpec(f"{prefix}.B", (low_rank, in_f), component)]
    else:
        out = [TensorSpec(f"{prefix}.weight", (out_f, in_f), component)]
    if bias:
        out.append(TensorSpec(f"{prefix}.bias", (out_f,), component))
    return out


def norm(prefix: str, kind: str, width: int, component: str) -> list[TensorSpec]:
    """LayerNorm has a gain and a bias, RMSNorm a gain."""
    out = [TensorSpec(f"{prefix}.weight", (width,), component)]
    if kind == "layernorm":
        out.append(TensorSpec(f"{prefix}.bias", (width,), component))
    return out


def flop_dict(**by_component: int) -> dict[str, int]:
    out = dict.fromkeys(COMPONENTS, 0)
    out.update(by_component)
    return out
