"""Training memory per GPU under data, ZeRO/FSDP and tensor parallelism.

Per GPU, with P unique parameters (a shared tensor is one tensor, so it is sharded and
counted once), b bytes per weight, dp = gpus / tp:
  weights    P b / tp        (/ dp with ZeRO-3 / FSDP full shard)
  gradients  P b / tp        (/ dp with ZeRO-2 and 3)
  optimizer  P (8 + 4) / tp  Adam m and v in fp32, plus an fp32 master copy for 16-bit
                             weights (8 alone for fp32)   (/ dp with ZeRO-1, 2 and 3)
  activations  saved for backward at the micro-batch / tp (sequence parallel), or only
             layer inputs plus one layer with activation checkpointing; as torch's CUDA
             kernels save them (explorer/kinds/saving.py).
"""

from __future__ import annotations

from dataclasses import dataclass

from explorer.analysis.memory import training_activation_bytes
from explorer.analysis.params import DTYPE_BYTES, count_params
from explorer.analysis.report import check_run_shape
from explorer.errors import SpecError
from explorer.design.model import StackSpec

GIB = 1 << 30


@dataclass(frozen=True)
class Setup:
    gpus: int
    tp: int
    zero: int                 # 0 = plain data parallel, 1..3 = ZeRO stage (3 = FSDP full shard)
    checkpointing: bool
    micro_batch: int
    seq: int
    dtype: str = "bf16"

    @property
    def dp(self) -> int:
        return self.gpus // self.tp

    @property
    def label(self) -> str:
        zero = "DP" if self.zero == 0 else f"ZeRO-{self.zero}"
        return f"{zero} x{self.dp}, TP {self.tp}{', ckpt' if self.checkpointing else ''}"


@dataclass(frozen=True)
class PerGpu:
    setup: Setup
    weights: int
    gradients: int
    optimizer: int
    activations: int

    @property
    def total(self) -> int:
        return self.weights + self.gradients + self.optimizer + self.activations

    def fits(self, gpu_gib: float) -> bool:
        return self.total <= gpu_gib * GIB


def per_gpu(spec: StackSpec, setup: Setup, unique_params: int | None = None) -> PerGpu:
    if setup.gpus < 1 or setup.tp < 1 or setup.gpus % setup.tp:
        raise SpecError(f"tensor parallel degree {setup.tp} must divide the {setup.gpus} GPUs", "tp")
    if setup.zero not in (0, 1, 2, 3):
        raise SpecError(f"ZeRO stage must be 0..3, got {setup.zero}", "zero")
    if setup.dtype not in DTYPE_BYTES:
        raise SpecError(f"unknown dtype {setup.dtype!r}", "dtype")
    # the rule the report, the Metrics tab and `explorer plan` apply: a micro-batch of seq tokens
    # the design's position tables hold (BERT's 512 positions refuse seq 2048)
    check_run_shape(spec, setup.micro_batch, setup.seq, setup.dtype)
    p = count_params(spec).unique if unique_params is None else unique_params
    b = DTYPE_BYTES[setup.dtype]
    opt = 8 + (4 if b < 4 else 0)
    dp, tp = setup.dp, setup.tp
    weights = p * b // tp
    grads = p * b // tp
    optimizer = p * opt // tp
    if setup.zero >= 1:
        optimizer //= dp
    if setup.zero >= 2:
        grads //= dp
    if setup.zero >= 3:
        weights //= dp
    acts = training_activation_bytes(spec, setup.micro_batch, setup.seq, setup.dtype,
                                     checkpointing=setup.checkpointing, device="cuda") // tp
    return PerGpu(setup, weights, grads, optimizer, acts)


def plan_grid(spec: StackSpec, gpus: int, micro_batch: int, seq: int, dtype: str = "bf16",
              tps: tuple[int, ...] = (1, 2, 4, 8)) -> list[PerGpu]:
    """Every (tp, ZeRO stage, checkpointing) setup for `gpus` GPUs, smallest per-GPU total first.
    ZeRO shards across data-parallel replicas: with one replica (dp = 1) it is plain DP, so
    those rows are left out rather than listed as copies of DP. Raises SpecError for a run shape
    the design cannot take (check_run_shape: seq longer than its position table, ...)."""
    check_run_shape(spec, micro_batch, seq, dtype)
    p = count_params(spec).unique
    rows = []
    for tp in tps:
        if tp > gpus or gpus % tp:
            continue
        for zero in ((0, 1, 2, 3) if gpus // tp > 1 else (0,)):
            for ckpt in (False, True):
                rows.append(per_gpu(spec, Setup(gpus, tp, zero, ckpt, micro_batch, seq, dtype), p))
    return sorted(rows, key=lambda r: r.total)
