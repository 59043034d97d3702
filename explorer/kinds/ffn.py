"""The feed-forward network alone (residual included): up, optional gate, down. Its parts are
reused by the Transformer block."""

from __future__ import annotations

from explorer.kinds.attention import linears_flops
from explorer.kinds import saving
from explorer.kinds.base import CardChip, LayerKind, TensorSpec, flop_dict, linear
from explorer.kinds.saving import Flow, Saved

FFN_FIELDS = frozenset({"d_ff", "activation", "bias", "ffn_bias"})


def ffn_linears(d) -> list[tuple[str, int, int, bool, str]]:
    """(path, out, in, bias, component) of up, gate (gated activations) and down."""
    out = [("ffn.up", d.d_ff, d.d_model, d.ffn_bias, "ffn")]
    if d.gated:
        out.append(("ffn.gate", d.d_ff, d.d_model, d.ffn_bias, "ffn"))
    out.append(("ffn.down", d.d_model, d.d_ff, d.ffn_bias, "ffn"))
    return out


def ffn_elementwise(d, n: int) -> int:
    return n * d.d_ff * (8 if d.gated else 4) + n * d.d_model


def ffn_live(d, n: int) -> int:
    """Peak live elements for n tokens: input, up (and gate) outputs, the activation, the output."""
    return n * (3 * d.d_model + d.d_ff * (3 if d.gated else 2))


def ffn_saves(d, f: Flow, x_tag: str | None, lora: bool = False) -> list[Saved]:
    """What the FFN keeps: its input (up and gate read it), the activation's saves, the down
    projection's input."""
    n = f.n
    items = [Saved(n * d.d_model, "act", x_tag), *saving.activation(d.activation, n, d.d_ff), Saved(n * d.d_ff)]
    return items + saving.extra_per_linear(n, len(ffn_linears(d)), d.low_rank, d.lora_rank if lora else 0)


class FFN(LayerKind):
    def tensors(self, d) -> list[TensorSpec]:
        out: list[TensorSpec] = []
        for path, out_f, in_f, bias, comp in ffn_linears(d):
            out += linear(path, out_f, in_f, bias, comp, d.low_rank)
        return out

    def flops(self, d, f: Flow) -> tuple[dict[str, int], int]:
        n = f.n
        matmul, ew = linears_flops(ffn_linears(d), n)
        return flop_dict(ffn=matmul), ew + ffn_elementwise(d, n)

    def working_set(self, d, f: Flow) -> int:
        return ffn_live(d, f.n)

    def saved(self, d, f: Flow) -> list[Saved]:
        return ffn_saves(d, f, f.h)

    def card(self, d) -> tuple[CardChip, ...]:
        return (CardChip("ffn", f"ffn {d.d_ff}"),)

    def summary(self, d) -> str:
        return f"d{d.d_model} ff{d.d_ff} {d.activation}"


KIND = FFN("ffn", FFN_FIELDS, {"block": ("*",), "ffn": ("ffn",)}, "Feed-forward network alone", sublayer=True)
