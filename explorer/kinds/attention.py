"""Multi-head attention alone (residual included): q/k/v/o projections, heads, GQA/MQA,
K/V read from an earlier layer. Its parts are reused by the Transformer block."""

from __future__ import annotations

from explorer.kinds import saving
from explorer.kinds.base import CardChip, LayerKind, TensorSpec, flop_dict, linear
from explorer.kinds.saving import Flow, Saved

ATTENTION_SLOTS = {"attention": ("attention",), "attention.q": ("attention.q",), "attention.k": ("attention.k",),
                   "attention.v": ("attention.v",), "attention.o": ("attention.o",)}
ATTENTION_FIELDS = frozenset({"n_heads", "n_kv_heads", "head_dim", "bias", "attention_bias", "o_bias", "causal",
                              "kv_from", "positional", "max_positions"})


def attention_linears(d) -> list[tuple[str, int, int, bool, str]]:
    """(path, out, in, bias, component) of the projections, in forward order (no K/V when reused)."""
    out = [("attention.q", d.q_width, d.d_model, d.attention_bias, "attention")]
    if d.kv_from is None:
        out.append(("attention.k", d.kv_width, d.d_model, d.attention_bias, "attention"))
        out.append(("attention.v", d.kv_width, d.d_model, d.attention_bias, "attention"))
    out.append(("attention.o", d.d_model, d.q_width, d.o_bias, "attention"))
    return out


def linear_flops(tokens: int, out_f: int, in_f: int, low_rank: int = 0, lora_rank: int = 0) -> int:
    """2 per multiply-add of x @ W (or x @ B then A when factorized), plus a LoRA's two thin matmuls."""
    f = 2 * tokens * low_rank * (in_f + out_f) if low_rank else 2 * tokens * in_f * out_f
    if lora_rank:
        f += 2 * tokens * lora_rank * (in_f + out_f)
    return f


def linears_flops(linears, n: int) -> tuple[int, int]:
    """(matmul FLOPs, element-wise bias adds) of dense linear maps over n tokens."""
    return (sum(linear_flops(n, out_f, in_f) for _p, out_f, in_f, _b, _c in linears),
            sum(n * out_f for _p, out_f, *_rest in linears))


def attention_core_flops(d, batch: int, seq: int) -> tuple[int, int]:
    """Scores Q K^T and context A V in full (S x S, also when causal), and their element-wise work."""
    n = batch * seq
    return 2 * 2 * batch * d.n_heads * seq * seq * d.head_dim, 5 * batch * d.n_heads * seq * seq + n * d.d_model


def attention_live(d, n: int) -> int:
    """Peak live elements of the attention part for n tokens; a layer reusing K/V holds none of its own."""
    kv = 0 if d.kv_from else 2 * d.kv_width
    return n * (3 * d.d_model + 2 * d.q_width + kv)


def attention_saves(d, f: Flow, x_tag: str | None, lora: bool = False) -> list[Saved]:
    """What self-attention keeps for backward, reading x (its projections' shared input): rotary
    tables, T5's bias look-up and causal mask, and the attention kernel's saves (its output is
    the O projection's input)."""
    n = f.n
    items = [Saved(n * d.d_model, "act", x_tag)]
    items += saving.extra_per_linear(n, len(attention_linears(d)), d.low_rank, d.lora_rank if lora else 0)
    relative = d.positional == "relative"
    if relative:
        if d.position_bias:
            items.append(Saved(f.seq * f.seq, "i64"))            # the bucket index of its bias look-up
        if d.causal:
            items.append(Saved(f.seq * f.seq, "bool"))           # the future mask filled into the bias
    if d.positional == "rotary":
        items += saving.rotary(f, d.head_dim)
    source = d.kv_from or f.layer
    mask = ("causal_bias" if d.causal else "bias") if relative else None
    items += saving.sdpa(f, d.n_heads, d.n_kv_heads, d.head_dim, f.seq, f"k:{source}", f"v:{source}",
                         mask)
    return items


def attention_summary(d) -> str:
    kv = f" kv{d.n_kv_heads}" if d.n_kv_heads != d.n_heads else ""
    return f"d{d.d_model} h{d.n_heads}{kv}×{d.head_dim}"


class Attention(LayerKind):
    def tensors(self, d) -> list[TensorSpec]:
        out: list[TensorSpec] = []
        for path, out_f, in_f, bias, comp in attention_linears(d):
            out += linear(path, out_f, in_f, bias, comp, d.low_rank)
        return out

    def flops(self, d, f: Flow) -> tuple[dict[str, int], int]:
        matmul, ew = linears_flops(attention_linears(d), f.n)
        core, core_ew = attention_core_flops(d, f.batch, f.seq)
        return flop_dict(attention=matmul + core), ew + core_ew

    def working_set(self, d, f: Flow) -> int:
        return attention_live(d, f.n)

    def kv_cache(self, d, f: Flow) -> int:
        return 2 * f.n * d.kv_width if d.causal and d.kv_from is None else 0

    def saved(self, d, f: Flow) -> list[Saved]:
        return attention_saves(d, f, f.h)

    def card(self, d) -> tuple[CardChip, ...]:
        return (CardChip("attention", "attention"),)

    def summary(self, d) -> str:
        text = attention_summary(d)
        return text + (f" kv←{d.kv_from}" if d.kv_from else "")


KIND = Attention("attention", ATTENTION_FIELDS, {"block": ("*",), **ATTENTION_SLOTS},
                 "Multi-head attention alone", has_heads=True, sublayer=True)
