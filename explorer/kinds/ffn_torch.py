"""The FFN's torch half: up, optional gate, down, with its residual."""

from __future__ import annotations

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
        if r.step_signal is not None:
            h = h + r.step_signal
        return h + r.core(h)
