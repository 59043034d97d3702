"""Attention's torch half, and what the attention-bearing kinds share: the timestep signal,
K/V read from an earlier layer and kept for a later one."""

from __future__ import annotations

from explorer.torchmodel.modules import Attention, PositionBias
from explorer.torchmodel.runtime import Runner, runner


def make_attention(cfg, parts) -> Attention:
    d = cfg.dims
    return Attention(parts.linear("attention.q"), parts.linear("attention.k"), parts.linear("attention.v"),
                     parts.linear("attention.o"), d.n_heads, d.n_kv_heads, d.head_dim, d.causal,
                     d.positional == "rotary", d.positional == "relative")


def make_position_bias(cfg, params):
    """The layer's relative position bias table as a module (None unless it holds one)."""
    if "position_bias.weight" not in params:
        return None
    return PositionBias(params["position_bias.weight"], not cfg.dims.causal, cfg.dims.relative_max_distance)


def bias_in(r, h, ctx):
    """The relative position bias this layer adds to its scores: its own (kept for the later layers
    of its stream) or the one an earlier layer computed."""
    own = getattr(r.core, "position_bias", None)
    if own is not None:
        ctx.position_bias = own(h.shape[1], h.shape[1], h.device)
    return ctx.position_bias


def step_in(r, h, ctx):
    """(h with the timestep signal added, the K/V this layer reads or None)."""
    if r.step_signal is not None:
        h = h + r.step_signal
    return h, (ctx.kv.get(r.reads_kv) if r.reads_kv else None)


def keep_kv(r, kv, ctx) -> None:
    if r.keeps_kv and kv is not None:
        ctx.kv[r.layer_id] = kv


@runner("attention")
class AttentionRunner(Runner):
    @staticmethod
    def make(cfg, params, parts, dtype):
        return make_attention(cfg, parts)

    @staticmethod
    def forward(r, h, ctx):
        h, kv_in = step_in(r, h, ctx)
        a, kv = r.core(h, kv_in, ctx.rope, bias=ctx.position_bias)
        keep_kv(r, kv, ctx)
        return h + a

    @staticmethod
    def rotary_dim(cfg):
        return cfg.dims.head_dim if cfg.dims.positional == "rotary" else None
