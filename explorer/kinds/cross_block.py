"""A decoder block of an encoder-decoder model (T5, the original Transformer): self-attention
over the target, cross-attention whose queries come from the target and whose keys and
values come from the encoder's output (the "memory"), an FFN, and a norm before (or after)
each. Cross-attention's K/V are computed over the source length, its scores are target x
source."""

from __future__ import annotations

from explorer.kinds import saving
from explorer.kinds.attention import (ATTENTION_FIELDS, ATTENTION_SLOTS, attention_core_flops, attention_linears,
                                      attention_live, attention_saves, attention_summary, linears_flops)
from explorer.kinds.base import CardChip, LayerKind, TensorSpec, flop_dict, linear, norm
from explorer.kinds.block import relative_bias_tensors, sublayers_saves
from explorer.kinds.ffn import FFN_FIELDS, ffn_elementwise, ffn_linears, ffn_live, ffn_saves
from explorer.kinds.saving import Flow, Saved


def cross_linears(d) -> list[tuple[str, int, int, bool, str]]:
    """(path, out, in, bias, component) of the cross-attention projections."""
    return [("cross.q", d.q_width, d.d_model, d.attention_bias, "attention"),
            ("cross.k", d.kv_width, d.d_model, d.attention_bias, "attention"),
            ("cross.v", d.kv_width, d.d_model, d.attention_bias, "attention"),
            ("cross.o", d.d_model, d.q_width, d.o_bias, "attention")]


def cross_flops(d, batch: int, seq: int, memory: int) -> tuple[int, int]:
    """Queries and output over the target's tokens, keys and values over the source's,
    scores and context target x source."""
    q, k, v, o = cross_linears(d)
    tgt, src = batch * seq, batch * memory
    proj, ew = linears_flops([q, o], tgt)
    kv, kv_ew = linears_flops([k, v], src)
    core = 2 * 2 * batch * d.n_heads * seq * memory * d.head_dim
    return proj + kv + core, ew + kv_ew + 5 * batch * d.n_heads * seq * memory + tgt * d.d_model


def cross_saves(d, f: Flow, x_tag: str | None) -> list[Saved]:
    """Cross-attention: Q reads x, K and V read the encoder's output (one storage for every
    decoder layer), the fused kernel over the source's keys."""
    keys = f.memory or f.seq
    return [Saved(f.n * d.d_model, "act", x_tag), Saved(f.batch * keys * d.d_model, "act", f.memory_tag or None),
            *saving.sdpa(f, d.n_heads, d.n_kv_heads, d.head_dim, keys, None, None)]


class CrossBlock(LayerKind):
    def tensors(self, d) -> list[TensorSpec]:
        out: list[TensorSpec] = []
        for path, out_f, in_f, bias, comp in attention_linears(d) + cross_linears(d) + ffn_linears(d):
            out += linear(path, out_f, in_f, bias, comp)
        out += relative_bias_tensors(d)
        for name in ("norm1", "normx", "norm2"):
            out += norm(name, d.norm, d.d_model, "other")
        return out

    def flops(self, d, f: Flow) -> tuple[dict[str, int], int]:
        n = f.n
        self_proj, self_ew = linears_flops(attention_linears(d), n)
        core, core_ew = attention_core_flops(d, f.batch, f.seq)
        cross, cross_ew = cross_flops(d, f.batch, f.seq, f.memory or f.seq)
        ffn, ffn_ew = linears_flops(ffn_linears(d), n)
        return (flop_dict(attention=self_proj + core + cross, ffn=ffn),
                self_ew + core_ew + cross_ew + ffn_ew + ffn_elementwise(d, n) + 3 * 5 * n * d.d_model)

    def working_set(self, d, f: Flow) -> int:
        n = f.n
        src = f.batch * f.memory if f.memory else n
        cross_live = n * (3 * d.d_model + 2 * d.q_width) + 2 * src * d.kv_width
        return max(attention_live(d, n), cross_live, ffn_live(d, n))

    def kv_cache(self, d, f: Flow) -> int:
        """Self-attention K/V over the target (when causal) plus cross-attention K/V over the source,
        computed once per sequence and kept while decoding."""
        own = 2 * f.n * d.kv_width if d.causal and d.kv_from is None else 0
        return own + 2 * (f.batch * f.memory or f.n) * d.kv_width

    def saved(self, d, f: Flow) -> list[Saved]:
        return sublayers_saves(d, f, (lambda x: attention_saves(d, f, x), lambda x: cross_saves(d, f, x),
                                      lambda x: ffn_saves(d, f, x)))

    def card(self, d) -> tuple[CardChip, ...]:
        bias = (CardChip("position_bias", "bias", 0.08),) if d.position_bias else ()
        return (CardChip("attention", "self-attention", 0.4), *bias,
                CardChip("cross_attention", "cross-attention", 0.3), CardChip("ffn", f"ffn {d.d_ff}", 0.2),
                CardChip("norm", "norm", 0.1))

    def problems(self, d) -> list[tuple[str, str]]:
        if d.position_bias and d.positional != "relative":
            return [("position_bias", "a relative position bias needs positional: relative")]
        return []

    def summary(self, d) -> str:
        return attention_summary(d) + f" ff{d.d_ff} +cross"


KIND = CrossBlock(
    "cross_block",
    ATTENTION_FIELDS | FFN_FIELDS | frozenset({"norm", "norm_position", "position_bias"}),
    {"block": ("*",), **ATTENTION_SLOTS, "cross_attention": ("cross",), "ffn": ("ffn",),
     "norm": ("norm1", "normx", "norm2"), "position_bias": ("position_bias",)},
    "Decoder block: self-attention, cross-attention over the encoder's output, FFN",
    has_heads=True,
    transformer_block=True,
    reads_memory=True,
    trunk=True,
)
