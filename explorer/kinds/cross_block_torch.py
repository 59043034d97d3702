"""The decoder block's torch half: self-attention, cross-attention over the encoder's output,
FFN, each with its norm and residual."""

from __future__ import annotations

import torch
from torch import nn

from explorer.kinds.attention_torch import bias_in, keep_kv, make_attention, make_position_bias, step_in
from explorer.kinds.ffn_torch import make_ffn
from explorer.torchmodel.modules import FFN, Attention, Norm
from explorer.torchmodel.runtime import Runner, runner


class CrossBlock(nn.Module):
    def __init__(self, attention: Attention, cross: Attention, ffn: FFN, norm1: Norm, normx: Norm, norm2: Norm,
                 pre_norm: bool, position_bias) -> None:
        super().__init__()
        self.attention, self.cross, self.ffn = attention, cross, ffn
        self.norm1, self.normx, self.norm2 = norm1, normx, norm2
        self.pre_norm = pre_norm
        self.position_bias = position_bias

    def _sub(self, x: torch.Tensor, norm: Norm, fn) -> torch.Tensor:
        return x + fn(norm(x)) if self.pre_norm else norm(x + fn(x))

    def forward(self, x: torch.Tensor, memory: torch.Tensor, kv=None, rope=None, bias=None):
        kept = []

        def attend(y):
            a, kv_out = self.attention(y, kv, rope, bias=bias)
            kept.append(kv_out)
            return a

        x = self._sub(x, self.norm1, attend)
        x = self._sub(x, self.normx, lambda y: self.cross(y, source=memory)[0])
        return self._sub(x, self.norm2, self.ffn), kept[0]


@runner("cross_block")
class CrossBlockRunner(Runner):
    block = True

    @staticmethod
    def make(cfg, params, parts, dtype):
        d = cfg.dims
        cross = Attention(parts.linear("cross.q"), parts.linear("cross.k"), parts.linear("cross.v"),
                          parts.linear("cross.o"), d.n_heads, d.n_kv_heads, d.head_dim, False, False)
        return CrossBlock(make_attention(cfg, parts), cross, make_ffn(cfg, parts), parts.norm("norm1"),
                          parts.norm("normx"), parts.norm("norm2"), d.norm_position == "pre",
                          make_position_bias(cfg, params))

    @staticmethod
    def forward(r, h, ctx):
        h, kv_in = step_in(r, h, ctx)
        h, kv = r.core(h, ctx.memory, kv_in, ctx.rope, bias_in(r, h, ctx))
        keep_kv(r, kv, ctx)
        return h

    @staticmethod
    def rotary_dim(cfg):
        return cfg.dims.head_dim if cfg.dims.positional == "rotary" else None
