"""The FFN's torch half: up, optional gate, down, with its residual."""

from __future__ import annotations

from explorer.kinds.attention_torch import step_in
from explorer.torchmodel.modules import FFN
from explorer.torchmodel.runtime import Runner, runner


def make_ffn(cfg, parts) -> FFN:
    return FFN(parts.linear("ffn.up"), parts.linear("ffn.gate"), parts.linear("ffn.down"), cfg.dims.activation)


@runner("ffn")
class FFNRunner(Runner):
    @staticmethod
    def make(cfg, params, parts, dtype):
        return make_ffn(cfg, parts)

    @staticmethod
    def forward(r, h, ctx):
        h, _kv = step_in(r, h, ctx)            # an FFN layer reads no K/V; the timestep signal still applies
        return h + r.core(h)
