"""A LayerNorm or RMSNorm on its own (a final norm, say)."""

from __future__ import annotations

from explorer.kinds import saving
from explorer.kinds.base import CardChip, LayerKind, TensorSpec, norm


class Norm(LayerKind):
    def tensors(self, d) -> list[TensorSpec]:
        return norm("norm", d.norm, d.d_model, "other")

    def flops(self, d, f) -> tuple[dict[str, int], int]:
        return {}, 5 * f.n * d.d_model

    def saved(self, d, f) -> list:
        return saving.norm(d.norm, f, d.d_model, f.h, f.input_grad)

    def card(self, d) -> tuple[CardChip, ...]:
        return (CardChip("norm", "norm"),)


KIND = Norm("norm", frozenset({"norm"}), {"block": ("*",), "norm": ("norm",)}, "LayerNorm / RMSNorm")
