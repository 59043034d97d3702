"""Exact analysis of a design: parameters, forward FLOPs, memory. Pure: no torch, no Qt."""

from explorer.analysis.flops import FlopCount, count_flops
from explorer.analysis.memory import MemoryEstimate, estimate_memory
from explorer.analysis.params import ParamCount, count_params
from explorer.analysis.report import Report, analyze

__all__ = [
    "FlopCount",
    "MemoryEstimate",
    "ParamCount",
    "Report",
    "analyze",
    "count_flops",
    "count_params",
    "estimate_memory",
]
