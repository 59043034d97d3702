"""One report of a design: params, FLOPs and memory, beside its unshared twin."""

from __future__ import annotations

from dataclasses import dataclass

from explorer.analysis.flops import FlopCount, count_flops
from explorer.analysis.memory import MemoryEstimate, estimate_memory
from explorer.analysis.params import DTYPE_BYTES, ParamCount, count_params
from explorer.errors import SpecError
from explorer.design.model import RUN_DEVICES, StackSpec, dims, unshared_twin
from explorer.design.sharing import EMPTY_PLAN, SharingPlan
from explorer.design.streams import layer_lengths
from explorer.design.validate import validate
from explorer.kinds import kind

MAX_BATCH = 1 << 20
MAX_SEQ = 1 << 24


@dataclass(frozen=True, slots=True)
class Report:
    spec: StackSpec
    batch: int
    seq: int
    dtype: str
    params: ParamCount
    twin_params: ParamCount
    flops: FlopCount
    twin_flops: FlopCount
    memory: MemoryEstimate
    twin_memory: MemoryEstimate
    plan: SharingPlan = EMPTY_PLAN       # compiled once per design version; build and views read it
    target_seq: int | None = None        # an encoder-decoder's target length (None: = seq)
    device: str = "cpu"                  # whose kernels the training activations follow: cpu or cuda

    def to_json(self) -> dict:
        p, f, m = self.params, self.flops, self.memory
        return {
            "design": self.spec.name,
            "description": self.spec.description,
            "layers": len(self.spec.layers),
            "batch": self.batch,
            "seq": self.seq,
            "target_seq": self.seq if self.target_seq is None else self.target_seq,
            "dtype": self.dtype,
            "device": self.device,
            "params": {
                "unique": p.unique,
                "active": p.active,
                "unshared": p.unshared,
                "saved": p.saved,
                "saving_factor": round(p.saving_factor, 6),
                "unique_tensors": p.unique_tensors,
                "bytes": {name: p.unique * size for name, size in DTYPE_BYTES.items()},
                "by_component": dict(p.by_component),
                "groups": [
                    {"name": g.name, "members": g.members, "numel": g.numel, "saved": g.saved}
                    for g in p.per_group
                ],
                "per_layer": [
                    {"id": lp.layer, "kind": lp.kind, "own": lp.own, "unique": lp.unique, "uses": lp.uses}
                    for lp in p.per_layer
                ],
            },
            "flops": {
                "forward": f.forward,
                **f.by_component,
                "train_step": f.train_step,
                "elementwise_estimate": f.elementwise,
                "unshared_forward": self.twin_flops.forward,
            },
            "memory": {
                "weights": m.weights,
                "kv_cache": m.kv_cache,
                "inference": {
                    "weights": m.weights,
                    "activations": m.activations_inference,        # an estimate: the largest layer's working set
                    "kv_cache": m.kv_cache,
                    "kept_caches": m.kept_caches,
                    "total": m.inference,
                },
                "training": {
                    "weights": m.weights,
                    "gradients": m.gradients,
                    "optimizer": m.optimizer,
                    "activations": m.activations_training,          # saved for backward, with the LM loss
                    "activations_exact": m.activations_training_exact,  # False: see activations_note
                    "activations_note": m.activations_training_note,    # a cuDNN buffer left out, another torch
                    "total": m.training,
                },
                "unshared_inference_total": self.twin_memory.inference,
                "unshared_training_total": self.twin_memory.training,
            },
        }


def check_run_shape(spec: StackSpec, batch: int, seq: int, dtype: str, target_seq: int | None = None) -> None:
    """Batch, sequence and dtype are sane and fit the design's position tables."""
    for name, value, limit in (("batch", batch, MAX_BATCH), ("seq", seq, MAX_SEQ), ("target_seq", target_seq, MAX_SEQ)):
        if name == "target_seq" and value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= limit:
            raise SpecError(f"expected an integer from 1 to {limit:,}, got {value!r}", name)
    if dtype not in DTYPE_BYTES:
        raise SpecError(f"unknown dtype {dtype!r} (dtypes: {', '.join(DTYPE_BYTES)})", "dtype")
    for layer, (length, _memory) in zip(spec.layers, layer_lengths(spec, seq, target_seq)):
        if kind(layer.kind).reads_positions:
            d = dims(layer, spec.settings)
            if d.positional == "learned" and length > d.max_positions:
                key = "target_seq" if layer.target and target_seq is not None else "seq"
                raise SpecError(f"sequence length {length} is longer than max_positions {d.max_positions} "
                                f"of layer '{layer.id}'", key)


def analyze(spec: StackSpec, batch: int = 1, seq: int = 128, dtype: str = "fp32",
            target_seq: int | None = None, device: str = "cpu") -> Report:
    """Validate and analyse `spec` and its unshared twin (an encoder-decoder's decoder over
    `target_seq`, default seq); training activations as torch's kernels on `device` ("cpu" or
    "cuda") save them. Raises SpecError."""
    plan = validate(spec)
    check_run_shape(spec, batch, seq, dtype, target_seq)
    if device not in RUN_DEVICES:
        raise SpecError(f"unknown device {device!r} (devices: {', '.join(RUN_DEVICES)})", "device")
    params = count_params(spec, plan)
    twin = unshared_twin(spec)
    # the twin of a valid design is valid (it only removes sharing): no second validation
    twin_params = count_params(twin, EMPTY_PLAN) if twin is not spec else params
    flops = count_flops(spec, batch, seq, target_seq)
    twin_flops = count_flops(twin, batch, seq, target_seq) if twin is not spec else flops
    return Report(
        spec=spec,
        batch=batch,
        seq=seq,
        dtype=dtype,
        params=params,
        twin_params=twin_params,
        flops=flops,
        twin_flops=twin_flops,
        memory=estimate_memory(spec, params, batch, seq, dtype, target_seq, plan, device),
        twin_memory=estimate_memory(twin, twin_params, batch, seq, dtype, target_seq, device=device),
        plan=plan,
        target_seq=target_seq,
        device=device,
    )
