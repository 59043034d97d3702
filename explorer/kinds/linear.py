"""A d -> d linear map."""

from __future__ import annotations

from explorer.kinds.base import LayerKind, TensorSpec, flop_dict, linear


class Linear(LayerKind):
    def tensors(self, d) -> list[TensorSpec]:
        return linear("linear", d.d_model, d.d_model, d.bias, "other")

    def flops(self, d, f) -> tuple[dict[str, int], int]:
        return flop_dict(other=2 * f.n * d.d_model * d.d_model), 0


KIND = Linear("linear", frozenset({"bias"}), tip="d -> d linear map")
