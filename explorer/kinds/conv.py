"""A 1-D convolution over the sequence, d -> d, optionally grouped, same padding."""

from __future__ import annotations

from explorer.kinds.base import LayerKind, TensorSpec, flop_dict


class Conv(LayerKind):
    def tensors(self, d) -> list[TensorSpec]:
        out = [TensorSpec("conv.weight", (d.d_model, d.d_model // max(d.groups, 1), d.kernel_size), "other")]
        if d.bias:
            out.append(TensorSpec("conv.bias", (d.d_model,), "other"))
        return out

    def flops(self, d, f) -> tuple[dict[str, int], int]:
        w = d.d_model
        return flop_dict(other=2 * f.n * w * (w // max(d.groups, 1)) * d.kernel_size), 0

    def looks_ahead(self, d) -> bool:
        return d.kernel_size > 1                 # "same" padding centres the kernel on each position

    def saved(self, d, f) -> list:
        """Its input; an even kernel pads it first, into a new (batch, d, seq + k - 1) tensor."""
        from explorer.kinds.saving import Saved

        if d.kernel_size % 2:
            return [Saved(f.n * d.d_model, "act", f.h)]
        return [Saved(f.batch * d.d_model * (f.seq + d.kernel_size - 1))]

    def summary(self, d) -> str:
        return f"d{d.d_model} k{d.kernel_size} g{d.groups}"


KIND = Conv("conv", frozenset({"bias", "kernel_size", "groups"}),
            tip="1-D convolution over the sequence (optionally grouped)", trunk=True, convolution=True)
