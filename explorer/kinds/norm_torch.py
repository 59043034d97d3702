"""A norm's torch half."""

from __future__ import annotations

from explorer.torchmodel.runtime import Runner, runner


@runner("norm")
class NormRunner(Runner):
    @staticmethod
    def make(cfg, params, parts, dtype):
        return parts.norm("norm")
