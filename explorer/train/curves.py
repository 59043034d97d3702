"""Readings of training curves that need no torch (the engine's records and the Train tab's live
readout both use them)."""

from __future__ import annotations

from collections.abc import Iterable


def generalization_gap(val_loss: list[tuple[int, float]], train_loss: Iterable[tuple[int, float]]) -> float | None:
    """Validation minus training loss at the last evaluation, the training loss averaged over the
    steps since the evaluation before (the last training loss if none); None before both exist.
    `val_loss` and `train_loss` are (step, loss) pairs, steps counted from 1."""
    if not val_loss:
        return None
    step, val = val_loss[-1]
    before = val_loss[-2][0] if len(val_loss) > 1 else 0
    last, window = None, []
    for s, loss in train_loss:
        last = loss
        if before < s <= step:
            window.append(loss)
    if last is None:
        return None
    window = window or [last]
    return val - sum(window) / len(window)
