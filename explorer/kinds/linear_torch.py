"""A d -> d linear map's torch half."""

from __future__ import annotations

from explorer.torchmodel.runtime import Runner, runner


@runner("linear")
class LinearRunner(Runner):
    @staticmethod
    def make(cfg, params, parts, dtype):
        return parts.linear("linear")
