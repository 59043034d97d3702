"""Check the analysis against torch itself: build on meta, count, run under FlopCounterMode."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch.utils.flop_counter import FlopCounterMode

from explorer.analysis import analyze
from explorer.torchmodel.runtime import SharedStack
from explorer.torchmodel.stack import build_model
from explorer.errors import BuildError
from explorer.design.model import StackSpec


def torch_flops(model: SharedStack, batch: int, seq: int, target_seq: int | None = None) -> int:
    """FLOPs torch counts for one forward of `model` (build it on 'meta' to see every matmul)."""
    inputs = model.example_inputs(batch, seq, target_seq)
    with torch.inference_mode(), FlopCounterMode(display=False) as counter:
        model(*inputs)
    return counter.get_total_flops()


@dataclass(frozen=True)
class Verification:
    """Analysis vs torch: parameters, unique tensors and forward FLOPs."""

    params_analysis: int
    params_torch: int
    tensors_analysis: int
    tensors_torch: int
    flops_analysis: int
    flops_torch: int

    @property
    def ok(self) -> bool:
        return (self.params_analysis == self.params_torch and self.tensors_analysis == self.tensors_torch
                and self.flops_analysis == self.flops_torch)

    def mismatches(self) -> list[str]:
        out = []
        for what, a, t in (("parameters", self.params_analysis, self.params_torch),
                           ("unique tensors", self.tensors_analysis, self.tensors_torch),
                           ("forward FLOPs", self.flops_analysis, self.flops_torch)):
            if a != t:
                out.append(f"{what}: analysis {a:,} but torch counts {t:,}")
        return out


def verify(spec: StackSpec, batch: int = 1, seq: int = 128, target_seq: int | None = None) -> Verification:
    """Build `spec` on the meta device and compare torch's counts with the analysis (an
    encoder-decoder's decoder over `target_seq`, default seq)."""
    report = analyze(spec, batch, seq, target_seq=target_seq)
    try:
        model = build_model(spec, device="meta", plan=report.plan)
        params = list(model.parameters())
        flops = torch_flops(model, batch, seq, target_seq)
    except (RuntimeError, ValueError, TypeError, IndexError) as err:
        # a valid design that torch cannot run is a bug here, but the user gets one line, not a traceback
        first = str(err).strip().splitlines()[0][:200] if str(err).strip() else type(err).__name__
        raise BuildError(f"torch cannot build or run {spec.name!r} on the meta device at batch {batch} x seq "
                         f"{seq} ({type(err).__name__}: {first})") from None
    return Verification(
        params_analysis=report.params.unique,
        params_torch=sum(p.numel() for p in params),
        tensors_analysis=report.params.unique_tensors,
        tensors_torch=len(params),
        flops_analysis=report.flops.forward,
        flops_torch=flops,
    )
