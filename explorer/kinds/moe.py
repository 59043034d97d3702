"""A Transformer block whose FFN is a mixture of experts (Mixtral, Qwen2-MoE, DeepSeek-MoE):
attention, a router (d -> E logits, per layer), E experts of width d_ff each stored as
stacked tensors (E, d_ff, d), top-k routing, and an optional always-on shared expert
(width shared_d_ff) with an optional sigmoid gate.

Every token goes through exactly top_k experts, so the FLOPs that run ("active") do not
depend on where the router sends it; the parameters a token reads at one layer are the
total less the E - k experts it skips.
"""

from __future__ import annotations

from explorer.kinds import saving
from explorer.kinds.attention import (ATTENTION_FIELDS, ATTENTION_SLOTS, attention_core_flops, attention_linears,
                                      attention_live, attention_saves, attention_summary, linears_flops)
from explorer.kinds.base import CardChip, LayerKind, TensorSpec, flop_dict, linear, norm
from explorer.kinds.block import sublayers_saves
from explorer.kinds.saving import Flow, Saved

MOE_FIELDS = frozenset({"d_ff", "activation", "n_experts", "top_k", "shared_d_ff", "shared_gate"})


def expert_tensors(d) -> list[TensorSpec]:
    """The routed experts, stacked: up (and gate) (E, d_ff, d), down (E, d, d_ff); no biases."""
    e, ff, w = d.n_experts, d.d_ff, d.d_model
    out = [TensorSpec("moe.experts.up", (e, ff, w), "ffn")]
    if d.gated:
        out.append(TensorSpec("moe.experts.gate", (e, ff, w), "ffn"))
    out.append(TensorSpec("moe.experts.down", (e, w, ff), "ffn"))
    return out


def shared_linears(d) -> list[tuple[str, int, int, bool, str]]:
    """(path, out, in, bias, component) of the always-on shared expert and its gate."""
    if not d.shared_d_ff:
        return []
    out = [("moe.shared.up", d.shared_d_ff, d.d_model, False, "ffn")]
    if d.gated:
        out.append(("moe.shared.gate", d.shared_d_ff, d.d_model, False, "ffn"))
    out.append(("moe.shared.down", d.d_model, d.shared_d_ff, False, "ffn"))
    if d.shared_gate:
        out.append(("moe.shared.score", 1, d.d_model, False, "ffn"))
    return out


def expert_numel(d) -> int:
    """Elements of one routed expert."""
    return (3 if d.gated else 2) * d.d_ff * d.d_model


def inactive_numel(d) -> int:
    """Elements of the experts one token skips in this layer: (E - k) experts."""
    return max(d.n_experts - d.top_k, 0) * expert_numel(d)


def moe_flops(d, n: int) -> tuple[int, int]:
    """(matmul FLOPs, element-wise estimate) of the mixture over n tokens: the router, k experts
    per token, the shared expert and its gate."""
    router = 2 * n * d.d_model * d.n_experts
    experts = 2 * n * d.top_k * expert_numel(d)
    shared, shared_ew = linears_flops(shared_linears(d), n)
    per_slot = d.d_ff * (4 if d.gated else 2) + 2 * d.d_model     # activation, product, weighting, sum
    ew = n * d.n_experts * 4 + n * d.top_k * per_slot + shared_ew
    if d.shared_d_ff:
        ew += n * d.shared_d_ff * (4 if d.gated else 2) + n * d.d_model * (3 if d.shared_gate else 1)
    return router + experts + shared, ew


def moe_saves(d, f: Flow, x_tag: str | None) -> list[Saved]:
    """The mixture's saves with real tensors: its input (router and shared expert read it), the
    router's fp32 softmax, top-k ids, the dispatch's sort order and token ids, the routing
    weights, and per (token, expert) slot the gathered input, the expert's FFN saves, its
    output and the weighted output; the shared expert's FFN saves and its gate."""
    n, w = f.n, d.d_model
    slots = n * d.top_k
    items = [Saved(n * w, "act", x_tag), Saved(n * d.n_experts, "f32"), Saved(n * d.top_k, "i64"),
             Saved(slots, "i64"), Saved(slots, "i64"), Saved(slots)]
    items += [Saved(slots * w), *saving.activation(d.activation, slots, d.d_ff), Saved(slots * d.d_ff),
              Saved(slots * w), Saved(slots * w)]
    if d.shared_d_ff:
        items += [*saving.activation(d.activation, n, d.shared_d_ff), Saved(n * d.shared_d_ff)]
        if d.shared_gate:
            items += [Saved(n), Saved(n * w)]
    return items


class MoEBlock(LayerKind):
    def tensors(self, d) -> list[TensorSpec]:
        out: list[TensorSpec] = []
        for path, out_f, in_f, bias, comp in attention_linears(d):
            out += linear(path, out_f, in_f, bias, comp)
        out += norm("norm1", d.norm, d.d_model, "other")
        out += norm("norm2", d.norm, d.d_model, "other")
        out.append(TensorSpec("moe.router.weight", (d.n_experts, d.d_model), "ffn"))
        out += expert_tensors(d)
        for path, out_f, in_f, bias, comp in shared_linears(d):
            out += linear(path, out_f, in_f, bias, comp)
        return out

    def flops(self, d, f: Flow) -> tuple[dict[str, int], int]:
        n = f.n
        attn, attn_ew = linears_flops(attention_linears(d), n)
        core, core_ew = attention_core_flops(d, f.batch, f.seq)
        ffn, ffn_ew = moe_flops(d, n)
        return flop_dict(attention=attn + core, ffn=ffn), attn_ew + core_ew + ffn_ew + 2 * 5 * n * d.d_model

    def working_set(self, d, f: Flow) -> int:
        n = f.n
        slots = n * d.top_k
        hidden = d.d_ff * (3 if d.gated else 2)
        shared = n * d.shared_d_ff * (3 if d.gated else 2)
        moe_live = n * (3 * d.d_model + d.n_experts) + slots * (hidden + 2 * d.d_model) + shared
        return max(attention_live(d, n), moe_live)

    def kv_cache(self, d, f: Flow) -> int:
        return 2 * f.n * d.kv_width if d.causal and d.kv_from is None else 0

    def saved(self, d, f: Flow) -> list[Saved]:
        return sublayers_saves(d, f, (lambda x: attention_saves(d, f, x), lambda x: moe_saves(d, f, x)))

    def inactive(self, d) -> int:
        return inactive_numel(d)

    def card(self, d) -> tuple[CardChip, ...]:
        chips = [CardChip("attention", "attention", 0.4), CardChip("router", "router", 0.08),
                 CardChip("experts", f"{d.n_experts} experts · ff {d.d_ff} · top {d.top_k}", 0.34)]
        if d.shared_d_ff:
            chips.append(CardChip("shared_expert", "shared", 0.11))
        chips.append(CardChip("norm", "norm", 0.08))
        return tuple(chips)

    def problems(self, d) -> list[tuple[str, str]]:
        if d.top_k > d.n_experts:
            return [("top_k", f"top_k {d.top_k} is more than the {d.n_experts} experts")]
        if d.shared_gate and not d.shared_d_ff:
            return [("shared_gate", "a shared-expert gate needs a shared expert (set shared_d_ff)")]
        return []

    def summary(self, d) -> str:
        shared = f" +shared{d.shared_d_ff}" if d.shared_d_ff else ""
        return attention_summary(d) + f" {d.n_experts}×ff{d.d_ff} top{d.top_k}{shared}"


KIND = MoEBlock(
    "moe_block",
    ATTENTION_FIELDS | MOE_FIELDS | frozenset({"norm", "norm_position"}),
    {"block": ("*",), **ATTENTION_SLOTS, "ffn": ("moe",), "router": ("moe.router",), "experts": ("moe.experts",),
     "shared_expert": ("moe.shared",), "norm": ("norm1", "norm2"), "norm1": ("norm1",), "norm2": ("norm2",)},
    "Transformer block with a mixture-of-experts FFN (router, top-k experts, shared expert)",
    has_heads=True,
    has_experts=True,
    transformer_block=True,
    trunk=True,
)
