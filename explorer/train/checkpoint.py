"""Checkpoints in safetensors with every shared tensor stored once, and the design beside them.

A built design holds a shared tensor as one Parameter object in several places;
`named_parameters()` lists it once, under its first name. That is what is written, so an
all-shared design's file is about 1/L of its twin's. Loading writes each stored tensor back
into the Parameter of that name: the design, or the standalone file `explorer export` writes
(it builds the same modules with the same names), gets every shared copy at once.

The file's metadata holds the design's YAML and the project's version. Shapes alone cannot
tell a design with 4 heads from one with 8 at the same width; the stored design can, so a
model of another design is refused in one line that names what differs. A checkpoint
without a stored design (written before it was kept) loads by its tensors' names and shapes.
"""

from __future__ import annotations

import os
from pathlib import Path

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save_file

from explorer import __version__
from explorer.design import yaml_io
from explorer.design.diff import first_difference
from explorer.design.model import StackSpec
from explorer.errors import SpecError
from explorer.fileio import write_atomic

DESIGN_KEY = "explorer.design"          # the metadata entry holding the design's YAML
VERSION_KEY = "explorer.version"


def save_checkpoint(model: torch.nn.Module, path: str | os.PathLike, metadata: dict[str, str] | None = None,
                    spec: StackSpec | None = None) -> int:
    """Write the model's distinct parameters to `path` (atomically; an existing file keeps its mode, a new
    one follows the umask); returns the file's bytes.
    `spec`: the design the model was built from (default: the one `build_model` recorded on it),
    stored in the metadata with the project's version."""
    tensors = {name: p.detach().to("cpu").contiguous() for name, p in model.named_parameters()}
    meta = dict(metadata or {})
    spec = spec if spec is not None else getattr(model, "design_spec", None)
    if spec is not None:
        meta[DESIGN_KEY] = yaml_io.dumps(spec)
        meta[VERSION_KEY] = __version__
    target = Path(path)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(target, lambda tmp: save_file(tensors, tmp, metadata=meta))
    except OSError as err:
        raise SpecError(f"cannot write checkpoint ({err.strerror or err})", source=str(path)) from None
    return target.stat().st_size


def read_checkpoint(path: str | os.PathLike) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    """(tensors, metadata) of a safetensors file. Raises SpecError in one line naming the file: it
    cannot be read, or it is not a safetensors file (junk, truncated, empty)."""
    source = os.fspath(path)
    try:
        with safe_open(source, framework="pt") as handle:
            metadata = dict(handle.metadata() or {})
            tensors = {name: handle.get_tensor(name) for name in handle.keys()}
    except OSError as err:
        raise SpecError(f"cannot read checkpoint ({err.strerror or err})", source=source) from None
    except (SafetensorError, RuntimeError, ValueError) as err:
        reason = str(err).strip().splitlines()[0][:160] if str(err).strip() else type(err).__name__
        raise SpecError(f"not a safetensors checkpoint, or a truncated one ({reason})", source=source) from None
    return tensors, metadata


def stored_design(metadata: dict[str, str], source: str = "") -> StackSpec | None:
    """The design a checkpoint's metadata holds (None: written without one). Raises SpecError."""
    text = metadata.get(DESIGN_KEY)
    if text is None:
        return None
    try:
        return yaml_io.parse_text(text)
    except SpecError as err:
        raise SpecError(f"its stored design cannot be read ({err.message})", source=source) from None


def _model_design(model: torch.nn.Module) -> StackSpec | None:
    """The design a model was built from: `build_model` records it; the standalone export keeps its YAML."""
    spec = getattr(model, "design_spec", None)
    if spec is None and isinstance(getattr(model, "design_yaml", None), str):
        spec = yaml_io.parse_text(model.design_yaml)
    return spec


def load_checkpoint(model: torch.nn.Module, path: str | os.PathLike, spec: StackSpec | None = None) -> None:
    """Copy the tensors of `path` into `model`'s parameters of the same names. `spec`: the model's
    design (default: the one it records). Raises SpecError in one line: the file is unreadable,
    its stored design differs from the model's (naming the key), or a tensor is missing,
    unexpected or misshapen."""
    source = os.fspath(path)
    tensors, metadata = read_checkpoint(source)
    stored = stored_design(metadata, source)
    current = spec if spec is not None else _model_design(model)
    if stored is not None and current is not None:
        version = metadata.get(VERSION_KEY, "an unknown version")
        difference = first_difference(stored, current, "the checkpoint's design", "this model's")
        if difference is not None:
            raise SpecError(f"was written from another design (Sharing Explorer {version}): {difference}",
                            source=source)
    params = dict(model.named_parameters())
    missing = sorted(set(params) - set(tensors))
    extra = sorted(set(tensors) - set(params))
    if missing or extra:
        what = f"has no tensor {missing[0]!r}" if missing else f"has a tensor {extra[0]!r} the model lacks"
        raise SpecError(f"does not fit this design: it {what}", source=source)
    with torch.no_grad():
        for name, p in params.items():
            t = tensors[name]
            if tuple(t.shape) != tuple(p.shape):
                raise SpecError(f"tensor {name!r} is {tuple(t.shape)} but the design's is {tuple(p.shape)}",
                                source=source)
            p.copy_(t.to(p.dtype))
