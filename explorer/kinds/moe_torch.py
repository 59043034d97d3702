"""The mixture-of-experts block's torch half: a router, top-k routing over stacked experts,
an optional gated shared expert, inside a Transformer block.

Two dispatch paths, the same FLOPs: with real tensors each expert multiplies only the
tokens routed to it (one matmul per expert that received any), which is what a
FlopCounterMode run counts, 2 x tokens x k x expert size; on the meta device, where
routing cannot be known, each token's k experts are gathered and applied with batched
matmuls of static shape, which FlopCounterMode counts as exactly the same.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from explorer.kinds.attention_torch import keep_kv, make_attention, step_in
from explorer.torchmodel.modules import FFN, Block, Linear, _register, _value, activation
from explorer.torchmodel.runtime import Runner, runner


class MoE(nn.Module):
    """y = sum over the token's top-k experts of p_e * expert_e(x) (+ the shared expert)."""

    def __init__(self, router: Linear, up, gate, down, top_k: int, act: str, shared: FFN | None,
                 shared_score: Linear | None) -> None:
        super().__init__()
        self.router = router
        _register(self, "up", up)            # (E, d_ff, d), possibly chunked: some experts shared
        _register(self, "gate", gate)        # (E, d_ff, d) for gated activations, else None
        _register(self, "down", down)        # (E, d, d_ff)
        self.top_k = top_k
        self.act = activation(act)
        self.shared = shared
        self.shared_score = shared_score

    def route(self, t: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(weights (n, k), expert indices (n, k)): softmax over the router's logits, top k of it."""
        probs = F.softmax(self.router(t), dim=-1, dtype=torch.float32)
        weights, chosen = torch.topk(probs, self.top_k, dim=-1)
        return weights.to(t.dtype), chosen

    def _expert(self, x: torch.Tensor, up: torch.Tensor, gate, down: torch.Tensor) -> torch.Tensor:
        h = self.act(x @ gate.transpose(-1, -2)) * (x @ up.transpose(-1, -2)) if gate is not None \
            else self.act(x @ up.transpose(-1, -2))
        return h @ down.transpose(-1, -2)

    def forward(self, x: torch.Tensor, lora=None) -> torch.Tensor:
        shape = x.shape
        t = x.reshape(-1, shape[-1])                                  # (n, d)
        weights, chosen = self.route(t)
        up, gate, down = _value(self, "up"), _value(self, "gate"), _value(self, "down")
        if t.device.type == "meta":
            flat = chosen.reshape(-1)                                  # (n k,)
            xs = t.repeat_interleave(self.top_k, dim=0).unsqueeze(1)  # (n k, 1, d)
            y = self._expert(xs, up[flat], None if gate is None else gate[flat], down[flat]).squeeze(1)
            out = (y.view(-1, self.top_k, shape[-1]) * weights.unsqueeze(-1)).sum(dim=1)
        else:
            out = torch.zeros_like(t)
            flat = chosen.reshape(-1)
            order = torch.argsort(flat, stable=True)
            tokens = order // self.top_k
            counts = torch.bincount(flat, minlength=up.shape[0]).tolist()
            w = weights.reshape(-1)[order].unsqueeze(-1)
            start = 0
            for e, count in enumerate(counts):
                if count:
                    rows = tokens[start:start + count]
                    y = self._expert(t[rows], up[e], None if gate is None else gate[e], down[e])
                    out.index_add_(0, rows, y * w[start:start + count])
                    start += count
        if self.shared is not None:
            s = self.shared(t)
            if self.shared_score is not None:
                s = torch.sigmoid(self.shared_score(t)) * s
            out = out + s
        return out.view(shape)


@runner("moe_block")
class MoEBlockRunner(Runner):
    block = True

    @staticmethod
    def make(cfg, params, parts, dtype):
        d = cfg.dims
        shared = None
        if d.shared_d_ff:
            shared = FFN(parts.linear("moe.shared.up"), parts.linear("moe.shared.gate"),
                         parts.linear("moe.shared.down"), d.activation)
        moe = MoE(parts.linear("moe.router"), params["moe.experts.up"], params.get("moe.experts.gate"),
                  params["moe.experts.down"], d.top_k, d.activation, shared, parts.linear("moe.shared.score"))
        return Block(make_attention(cfg, parts), moe, parts.norm("norm1"), parts.norm("norm2"),
                     d.norm_position == "pre")

    @staticmethod
    def forward(r, h, ctx):
        h, kv_in = step_in(r, h, ctx)
        h, kv = r.core(h, kv_in, ctx.rope, None, ctx.position_bias)
        keep_kv(r, kv, ctx)
        return h

    @staticmethod
    def rotary_dim(cfg):
        return cfg.dims.head_dim if cfg.dims.positional == "rotary" else None
