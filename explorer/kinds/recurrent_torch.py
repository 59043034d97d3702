"""LSTM and GRU torch halves: torch's own nn.LSTM / nn.GRU over the layer's (shareable) cell."""

from __future__ import annotations

from torch import nn

from explorer.torchmodel.modules import Recurrent
from explorer.torchmodel.runtime import Runner, runner


@runner("lstm", "gru")
class RecurrentRunner(Runner):
    @staticmethod
    def make(cfg, params, parts, dtype):
        d = cfg.dims
        cls = nn.LSTM if cfg.kind == "lstm" else nn.GRU
        rnn = cls(d.d_model, d.d_model, batch_first=True, bias=d.bias, device="meta", dtype=dtype)
        for name, attr in (("weight_ih", "weight_ih_l0"), ("weight_hh", "weight_hh_l0"),
                           ("bias_ih", "bias_ih_l0"), ("bias_hh", "bias_hh_l0")):
            if f"cell.{name}" in params:
                setattr(rnn, attr, params[f"cell.{name}"])
        return Recurrent(rnn)
