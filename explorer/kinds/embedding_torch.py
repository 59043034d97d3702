"""The embedding's torch half: token (+ position, type) tables, norm, projection."""

from __future__ import annotations

from explorer.torchmodel.modules import Embedding
from explorer.torchmodel.runtime import Runner, runner


@runner("embedding")
class EmbeddingRunner(Runner):
    reads_ids = True

    @staticmethod
    def make(cfg, params, parts, dtype):
        core = Embedding(params["embedding.weight"], params.get("position.weight"), params.get("token_type.weight"),
                         cfg.dims.positional == "sinusoidal", parts.norm("norm"), parts.linear("projection"))
        core.target = cfg.dims.target
        return core

    @staticmethod
    def forward(r, h, ctx):
        if getattr(r.core, "target", False):
            # the decoder starts here: what came before is the encoder's output
            ctx.memory, ctx.position_bias = h, None
            return r.core(ctx.target)
        return r.core(h)
