"""Checkpoints in safetensors with every shared tensor stored once.

A built design holds a shared tensor as one Parameter object in several places;
`named_parameters()` lists it once, under its first name. That is what is written, so an
all-shared design's file is about 1/L of its twin's. Loading writes each stored tensor back
into the Parameter of that name: the design, or the standalone file `explorer export` writes
(it builds the same modules with the same names), gets every shared copy at once.
"""

from __future__ import annotations

import os
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

from explorer.errors import SpecError


def save_checkpoint(model: torch.nn.Module, path: str | os.PathLike, metadata: dict[str, str] | None = None) -> int:
    """Write the model's distinct parameters to `path` (atomically); returns the file's bytes."""
    tensors = {name: p.detach().to("cpu").contiguous() for name, p in model.named_parameters()}
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{target.name}.partial")
    try:
        save_file(tensors, str(partial), metadata=metadata or {})
        os.replace(partial, target)
    except OSError as err:
        partial.unlink(missing_ok=True)
        raise SpecError(f"cannot write checkpoint ({err.strerror or err})", source=str(path)) from None
    return target.stat().st_size


def load_checkpoint(model: torch.nn.Module, path: str | os.PathLike) -> None:
    """Copy the tensors of `path` into `model`'s parameters of the same names. Raises SpecError
    naming the first missing, unexpected or misshapen tensor."""
    try:
        tensors = load_file(str(path))
    except (OSError, RuntimeError, ValueError) as err:
        raise SpecError(f"cannot read checkpoint ({str(err).splitlines()[0][:160]})", source=str(path)) from None
    params = dict(model.named_parameters())
    missing = sorted(set(params) - set(tensors))
    extra = sorted(set(tensors) - set(params))
    if missing or extra:
        what = f"has no tensor {missing[0]!r}" if missing else f"has a tensor {extra[0]!r} the model lacks"
        raise SpecError(f"does not fit this design: it {what}", source=str(path))
    with torch.no_grad():
        for name, p in params.items():
            t = tensors[name]
            if tuple(t.shape) != tuple(p.shape):
                raise SpecError(f"tensor {name!r} is {tuple(t.shape)} but the design's is {tuple(p.shape)}",
                                source=str(path))
            p.copy_(t.to(p.dtype))
