"""Schedules: which unique block each of N target layers runs (pure integer maps, no design).

A scheme in explorer/design/strategies.py computes one of these once and turns every block
used by two or more layers into a sharing group.
"""

from __future__ import annotations

from explorer.errors import SpecError


def albert_order(n_layers: int, n_groups: int = 1) -> tuple[int, ...]:
    """ALBERT with G groups: layer i runs block floor(i * G / N)."""
    positive(n_groups, "groups")
    return tuple(i * n_groups // n_layers for i in range(n_layers))


def sequence_order(n_layers: int, n_blocks: int) -> tuple[int, ...]:
    """Sequence: consecutive runs of layers share, i -> floor(i * M / N)."""
    positive(n_blocks, "blocks")
    return tuple(i * n_blocks // n_layers for i in range(n_layers))


def cycle_order(n_layers: int, n_blocks: int) -> tuple[int, ...]:
    """Cycle: i -> i mod M (0, 1, 2, 0, 1, 2, ...)."""
    positive(n_blocks, "blocks")
    return tuple(i % n_blocks for i in range(n_layers))


def cycle_reverse_order(n_layers: int, n_blocks: int) -> tuple[int, ...]:
    """Cycle for the first N-M layers, then the last M layers take the blocks in reverse."""
    positive(n_blocks, "blocks")
    m = min(n_blocks, n_layers)
    head = tuple(i % m for i in range(n_layers - m))
    return head + tuple(m - 1 - j for j in range(m))


def repeat_order(n_layers: int, repeat: int = 2) -> tuple[int, ...]:
    """Immediate repeat (MobileLLM): each block runs `repeat` times in a row, i -> i // r."""
    positive(repeat, "repeat")
    return tuple(i // repeat for i in range(n_layers))


def interleaved_order(n_layers: int) -> tuple[int, ...]:
    """Interleaved: every other layer (1, 3, 5, ...) runs one shared block; the rest keep their own."""
    shared = n_layers  # an index no own block uses
    return tuple(shared if i % 2 else i for i in range(n_layers))


def skip_order(n_layers: int, skip: int = 2) -> tuple[int, ...]:
    """Skip-k: layers i and i + k share, i -> i mod k."""
    positive(skip, "skip")
    return tuple(i % skip for i in range(n_layers))


def positive(value, name: str) -> None:
    """A scheme option that must be a positive integer (bool is not one)."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise SpecError(f"expected a positive integer, got {value!r}", name)
