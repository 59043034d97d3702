"""The Transformer block's torch half: attention + FFN + norms, LoRA, the timestep signal and
an ACT halting step."""

from __future__ import annotations

from explorer.kinds.attention_torch import bias_in, keep_kv, make_attention, make_position_bias, step_in
from explorer.kinds.ffn_torch import make_ffn
from explorer.torchmodel.modules import Block
from explorer.torchmodel.runtime import Runner, act_step, runner


@runner("block")
class BlockRunner(Runner):
    block = True

    @staticmethod
    def make(cfg, params, parts, dtype):
        return Block(make_attention(cfg, parts), make_ffn(cfg, parts), parts.norm("norm1"), parts.norm("norm2"),
                     cfg.dims.norm_position == "pre", parts.linear("halting"), make_position_bias(cfg, params))

    @staticmethod
    def forward(r, h, ctx):
        h, kv_in = step_in(r, h, ctx)
        h, kv = r.core(h, kv_in, ctx.rope, r._lora_map, bias_in(r, h, ctx))
        keep_kv(r, kv, ctx)
        if r.core.halting is not None:
            ctx.act = act_step(ctx.act, h, r.core.halting)
        return h

    @staticmethod
    def continues_act(r):
        return r.core.halting is not None

    @staticmethod
    def rotary_dim(cfg):
        return cfg.dims.head_dim if cfg.dims.positional == "rotary" else None
