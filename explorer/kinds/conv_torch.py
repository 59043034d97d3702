"""A 1-D convolution's torch half."""

from __future__ import annotations

from explorer.torchmodel.modules import Conv
from explorer.torchmodel.runtime import Runner, runner


@runner("conv")
class ConvRunner(Runner):
    @staticmethod
    def make(cfg, params, parts, dtype):
        return Conv(params["conv.weight"], params.get("conv.bias"), cfg.dims.groups)
