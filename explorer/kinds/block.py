"""The Transformer block: attention + FFN + two norms, with what recurrence and factorized
sharing add (ACT halting unit, Universal Transformer timestep signal, per-layer LoRA,
low-rank factors)."""

from __future__ import annotations

from explorer.kinds import saving
from explorer.kinds.attention import (ATTENTION_FIELDS, ATTENTION_SLOTS, attention_core_flops, attention_linears,
                                      attention_live, attention_saves, attention_summary, linear_flops)
from explorer.kinds.base import CardChip, LayerKind, TensorSpec, flop_dict, linear, norm
from explorer.kinds.ffn import FFN_FIELDS, ffn_elementwise, ffn_linears, ffn_live, ffn_saves
from explorer.kinds.saving import Flow, Saved


def relative_bias_tensors(d) -> list[TensorSpec]:
    """T5's relative position bias (buckets x heads), held by the first layer of a stream, whose
    later layers reuse the bias it computes."""
    return [TensorSpec("position_bias.weight", (d.relative_buckets, d.n_heads), "attention")] \
        if d.position_bias else []


def sublayers_saves(d, f: Flow, parts) -> list[Saved]:
    """A residual stack of sub-layers with a norm each: pre-norm, norm(x) feeds the sub-layer and
    x + out goes on; post-norm, x feeds it and norm(x + out) goes on. `parts`: functions
    (x's tag) -> the sub-layer's saves. The first reads the layer's input."""
    w = d.d_model
    items: list[Saved] = []
    first = None if getattr(d, "timestep_signal", False) else f.h     # a timestep signal makes a new input
    for i, part in enumerate(parts):
        x_tag = first if i == 0 else None
        if d.norm_position == "pre":
            items += saving.norm(d.norm, f, w, x_tag, f.input_grad or i > 0) + part(None)
        else:
            items += part(x_tag) + saving.norm(d.norm, f, w, None)
    return items


def block_linears(d) -> list[tuple[str, int, int, bool, str]]:
    """(path, out, in, bias, component) of every linear map of a block, in forward order."""
    return attention_linears(d) + ffn_linears(d)


class Block(LayerKind):
    def tensors(self, d) -> list[TensorSpec]:
        out: list[TensorSpec] = []
        for path, out_f, in_f, bias, comp in block_linears(d):
            out += linear(path, out_f, in_f, bias, comp, d.low_rank)
        out += relative_bias_tensors(d)
        out += norm("norm1", d.norm, d.d_model, "other")
        out += norm("norm2", d.norm, d.d_model, "other")
        if d.halting:
            out += linear("halting", 1, d.d_model, True, "other")
        if d.lora_rank:
            r = d.lora_rank
            for path, out_f, in_f, _bias, comp in block_linears(d):
                out.append(TensorSpec(f"lora.{path}.down", (r, in_f), comp))
                out.append(TensorSpec(f"lora.{path}.up", (out_f, r), comp))
        return out

    def flops(self, d, f: Flow) -> tuple[dict[str, int], int]:
        batch, seq, n, w = f.batch, f.seq, f.n, d.d_model
        by = flop_dict()
        ew = 0
        for _path, out_f, in_f, _bias, comp in block_linears(d):
            by[comp] += linear_flops(n, out_f, in_f, d.low_rank, d.lora_rank)
            ew += n * out_f                       # bias add / LoRA add
        core, core_ew = attention_core_flops(d, batch, seq)
        by["attention"] += core
        ew += core_ew + ffn_elementwise(d, n) + 2 * 5 * n * w
        if d.halting:
            by["other"] += 2 * n * w
            ew += 6 * n
        if d.timestep_signal:
            ew += n * w
        return by, ew

    def working_set(self, d, f: Flow) -> int:
        return max(attention_live(d, f.n), ffn_live(d, f.n))

    def kv_cache(self, d, f: Flow) -> int:
        return 2 * f.n * d.kv_width if d.causal and d.kv_from is None else 0

    def saved(self, d, f: Flow) -> list[Saved]:
        lora = bool(d.lora_rank)
        items = sublayers_saves(d, f, (lambda x: attention_saves(d, f, x, lora), lambda x: ffn_saves(d, f, x, lora)))
        return items + (saving.halting(f, d.d_model) if d.halting else [])

    def problems(self, d) -> list[tuple[str, str]]:
        if d.position_bias and d.positional != "relative":
            return [("position_bias", "a relative position bias needs positional: relative")]
        return []

    def card(self, d) -> tuple[CardChip, ...]:
        bias = (CardChip("position_bias", "bias", 0.1),) if d.position_bias else ()
        return (CardChip("attention", "attention", 0.56), *bias, CardChip("ffn", f"ffn {d.d_ff}", 0.28),
                CardChip("norm", "norm", 0.16))

    def summary(self, d) -> str:
        return attention_summary(d) + f" ff{d.d_ff}" + (f" kv←{d.kv_from}" if d.kv_from else "")


KIND = Block(
    "block",
    ATTENTION_FIELDS | FFN_FIELDS | frozenset({"norm", "norm_position", "lora_rank", "low_rank", "halting",
                                               "timestep_signal", "position_bias"}),
    {"block": ("*",), **ATTENTION_SLOTS, "ffn": ("ffn",), "norm": ("norm1", "norm2"), "norm1": ("norm1",),
     "norm2": ("norm2",), "position_bias": ("position_bias",), "halting": ("halting",), "lora": ("lora",),
     "factors": ("@B",)},
    "Transformer block: attention + FFN + two norms",
    has_heads=True,
    transformer_block=True,
    trunk=True,
    plain_block=True,
    lora_able=True,
    low_rank_able=True,
    takes_timestep=True,
)
