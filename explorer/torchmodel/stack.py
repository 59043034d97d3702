"""Spec -> torch model whose group members hold the very same Parameter objects.

Every parameter is created through one ParamStore: a piece claimed by a group is made
once, by its first member, and handed to every other member; a whole shared block is one
module object run at several depths. Build on ``meta`` to count without allocating.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import torch
from torch import nn
from explorer.torchmodel.modules import Chunks
from explorer.torchmodel.runtime import Dims, LayerConfig, SharedStack, assemble, init_kind, init_tensor
from explorer.errors import BuildError
from explorer.design.model import StackSpec, dims, unshared_twin
from explorer.design.sharing import SharingPlan
from explorer.design.slots import TensorSpec, layer_tensors
from explorer.kinds import kind, load_torch_halves
from explorer.kinds.block import block_linears
from explorer.design.validate import validate

TORCH_DTYPES = {"fp32": torch.float32, "tf32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}

class ParamStore:
    """Creates each unique tensor once; members of a group get the first member's objects."""

    def __init__(self, spec: StackSpec, plan: SharingPlan, device, dtype, seed: int) -> None:
        self.spec, self.plan = spec, plan
        self.device, self.dtype = torch.device(device), dtype
        self.shared: dict[tuple[int, int], nn.Parameter] = {}
        self.generator = None
        if self.device.type != "meta":
            self.generator = torch.Generator(device=self.device).manual_seed(seed)

    def _new(self, name: str, shape: tuple[int, ...]) -> nn.Parameter:
        t = torch.empty(shape, device=self.device, dtype=self.dtype)
        if self.device.type != "meta":
            init_tensor(t, init_kind(name, shape), self.generator)
        return nn.Parameter(t)

    def get(self, layer_id: str, t: TensorSpec):
        """The Parameter (or Chunks of head slices) for tensor `t` of layer `layer_id`."""
        claims = self.plan.claims.get((layer_id, t.name), ())
        if not claims:
            return self._new(t.name, t.shape)
        if len(claims) == 1 and claims[0].piece.axis is None:
            return self._claimed(claims[0], t.name)
        axis = claims[0].piece.axis
        extent = t.shape[axis]
        parts, pos = [], 0
        for c in sorted(claims, key=lambda c: c.piece.lo):
            if c.piece.lo > pos:
                parts.append(self._new(t.name, _slice_shape(t.shape, axis, c.piece.lo - pos)))
            parts.append(self._claimed(c, t.name))
            pos = c.piece.hi
        if pos < extent:
            parts.append(self._new(t.name, _slice_shape(t.shape, axis, extent - pos)))
        return Chunks(axis, parts)

    def _claimed(self, claim, name: str) -> nn.Parameter:
        key = (claim.group, claim.index)
        if key not in self.shared:
            self.shared[key] = self._new(name, claim.piece.shape)
        return self.shared[key]



def _slice_shape(shape: tuple[int, ...], axis: int, size: int) -> tuple[int, ...]:
    out = list(shape)
    out[axis] = size
    return tuple(out)


def layer_configs(spec: StackSpec, plan: SharingPlan) -> list[LayerConfig]:
    """The typed per-layer configs runtime.assemble() reads."""
    needed_kv = {layer.kv_from for layer in spec.layers if layer.kv_from}
    out = []
    block_index = 0
    core_keys: dict[tuple, int] = {}
    for layer in spec.layers:
        d = dims(layer, spec.settings)
        group = plan.group_of(layer.id)
        core_group = None
        if group is not None:
            # members share one core object only when it behaves the same for them (causal, activation,
            # norm position, head split...); otherwise each gets its own core over the same Parameters
            # a layer holding a relative position bias keeps its own table (a whole-block slot leaves it
            # to the layer), so it gets a core of its own around the shared Parameters
            core_dims = dataclasses.replace(d, lora_rank=0, timestep_signal=False)
            own = layer.id if d.position_bias else None
            core_group = core_keys.setdefault((group.index, core_dims, own), len(core_keys))
        step = None
        if kind(layer.kind).takes_timestep:
            step = block_index if d.timestep_signal else None
            block_index += 1
        lora = tuple(path for path, *_ in block_linears(d)) if d.lora_rank and kind(layer.kind).lora_able else ()
        out.append(LayerConfig(
            id=layer.id,
            kind=layer.kind,
            dims=Dims(**d.as_dict()),
            eps=spec.settings.norm_eps,
            tensors=tuple((t.name, t.shape) for t in layer_tensors(layer, spec.settings)),
            core_group=core_group,
            lora=lora,
            step=step,
            kv_from=layer.kv_from,
            keeps_kv=layer.id in needed_kv,
        ))
    return out


def build_model(spec: StackSpec, device: str | torch.device = "cpu", dtype: str = "fp32", seed: int = 0,
                on_layer: Callable[[int, int], None] | None = None, plan: SharingPlan | None = None) -> SharedStack:
    """Build `spec` on `device` ('meta' to count without allocating). Raises SpecError/BuildError.
    `on_layer(i, n)` runs before each layer is built: progress, or an exception to cancel.
    `plan`: the SharingPlan the analysis compiled for this very spec (Report.plan); without
    it the spec is validated here."""
    if plan is None:
        plan = validate(spec)
    if dtype not in TORCH_DTYPES:
        raise BuildError(f"dtype {dtype!r} cannot be built (dtypes: {', '.join(TORCH_DTYPES)})")
    try:
        torch_device = torch.device(device)
    except (RuntimeError, TypeError, ValueError):
        raise BuildError(f"unknown device {device!r} (cpu, meta, cuda, cuda:N or mps)") from None
    load_torch_halves()                   # every kind's runner registered before the layers are made
    store = ParamStore(spec, plan, torch_device, TORCH_DTYPES[dtype], seed)
    tensors = [{t.name: t for t in layer_tensors(layer, spec.settings)} for layer in spec.layers]
    ids = [layer.id for layer in spec.layers]

    def get(i: int, name: str):
        return store.get(ids[i], tensors[i][name])

    model = assemble(spec.settings.d_model, layer_configs(spec, plan), get, torch_device,
                     TORCH_DTYPES[dtype], on_layer)
    model.design_spec = spec              # what a checkpoint stores and checks on load
    return model


def build_twin(spec: StackSpec, device: str | torch.device = "cpu", dtype: str = "fp32", seed: int = 0) -> SharedStack:
    """The unshared twin of `spec`: same architecture, every layer its own weights."""
    return build_model(unshared_twin(spec), device, dtype, seed)
