"""Sequence lengths per layer: an encoder-decoder runs its decoder over the target's length.

A stack is one stream until an embedding marked `target` starts the decoder: the hidden
state so far is the encoder's output (the memory cross-attention reads), and every layer
from there on runs over the target tokens. `--seq` sets both lengths unless a target
length is given.
"""

from __future__ import annotations

from explorer.design.model import StackSpec


def decoder_start(spec: StackSpec) -> int | None:
    """Index of the embedding that starts the decoder, or None for a one-stream stack."""
    return next((i for i, layer in enumerate(spec.layers) if layer.target), None)


def layer_lengths(spec: StackSpec, seq: int, target_seq: int | None = None) -> tuple[tuple[int, int], ...]:
    """(tokens the layer runs over, tokens of encoder output it can read; 0 in the encoder) per layer."""
    start = decoder_start(spec)
    target = seq if target_seq is None else target_seq
    return tuple((seq, 0) if start is None or i < start else (target, seq) for i in range(len(spec.layers)))
