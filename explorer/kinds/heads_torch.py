"""Torch halves of the output layers: they read the hidden state into the outputs and pass it on."""

from __future__ import annotations

import torch
from torch import nn

from explorer.torchmodel.modules import LMHead, Linear
from explorer.torchmodel.runtime import Runner, runner


class TaskHead(nn.Module):
    def __init__(self, linear: Linear, task: str) -> None:
        super().__init__()
        self.linear = linear
        self.task = task


@runner("pooler")
class PoolerRunner(Runner):
    @staticmethod
    def make(cfg, params, parts, dtype):
        return parts.linear("pooler")

    @staticmethod
    def forward(r, h, ctx):
        ctx.pooled = torch.tanh(r.core(h[:, 0]))                       # (B, d): the first token
        ctx.out[r.layer_id] = ctx.pooled
        return h


@runner("lm_head")
class LMHeadRunner(Runner):
    @staticmethod
    def make(cfg, params, parts, dtype):
        return LMHead(parts.linear("transform"), parts.norm("transform_norm"), cfg.dims.activation,
                      params["decoder.weight"], params.get("decoder.bias"))

    @staticmethod
    def forward(r, h, ctx):
        ctx.out[r.layer_id] = r.core(h)                                 # (B, S, V)
        return h


@runner("head")
class TaskHeadRunner(Runner):
    @staticmethod
    def make(cfg, params, parts, dtype):
        return TaskHead(parts.linear("classifier"), cfg.dims.task)

    @staticmethod
    def forward(r, h, ctx):
        if r.core.task == "token":
            ctx.out[r.layer_id] = r.core.linear(h)                      # (B, S, n_outputs)
        else:
            ctx.out[r.layer_id] = r.core.linear(ctx.pooled if ctx.pooled is not None else h[:, 0])
        return h
