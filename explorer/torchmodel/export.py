"""Export a design as one standalone PyTorch file (it imports torch and nothing else).

The file holds build/modules.py and build/runtime.py verbatim, a table of the unique
parameters and which layer tensors use them, and `build_model()`, which creates each
unique Parameter once and assembles the model with the same code the app uses: same
sharing, same count, and (same seed, same device) the same initial weights.
"""

from __future__ import annotations

import importlib
import pprint
from pathlib import Path

import torch

from explorer import __version__
from explorer.analysis import count_params
from explorer.kinds import kind, load_torch_halves, torch_halves
from explorer.torchmodel import modules as modules_source
from explorer.torchmodel import runtime as runtime_source
from explorer.torchmodel.modules import Chunks
from explorer.torchmodel.runtime import LayerConfig, init_kind
from explorer.torchmodel.stack import ParamStore, layer_configs
from explorer.errors import SpecError
from explorer.fileio import write_atomic
from explorer.design import yaml_io
from explorer.design.model import StackSpec
from explorer.design.slots import layer_tensors
from explorer.design.validate import validate


class _KeyStore(ParamStore):
    """A ParamStore that hands out table keys instead of tensors, in build order."""

    def __init__(self, spec, plan) -> None:
        super().__init__(spec, plan, "meta", torch.float32, 0)
        self.table: dict[str, tuple[tuple[int, ...], str]] = {}

    def _new(self, name: str, shape: tuple[int, ...]):
        key = f"p{len(self.table)}"
        self.table[key] = (tuple(shape), init_kind(name, shape))
        return key


def _body(module) -> str:
    """A module's source without its docstring, __future__ import and explorer imports."""
    lines = Path(module.__file__).read_text(encoding="utf-8").splitlines()
    out, skipping_import, i = [], False, 0
    if lines and lines[0].startswith('"""'):
        i = 1 if lines[0].count('"""') == 2 else next(k for k in range(1, len(lines)) if '"""' in lines[k]) + 1
    for line in lines[i:]:
        if line.startswith("from __future__"):
            continue
        if line.startswith("from explorer."):
            skipping_import = line.rstrip().endswith("(")
            continue
        if skipping_import:
            skipping_import = not line.startswith(")")
            continue
        out.append(line)
    return "\n".join(out).strip() + "\n"


_TAIL = '''

# ---------------------------------------------------------------- the design

def build_model(device="cpu", dtype=torch.float32, seed: int = 0) -> SharedStack:
    """The design with its sharing: every unique parameter is created once and shared by object."""
    device = torch.device(device)
    generator = None if device.type == "meta" else torch.Generator(device=device).manual_seed(seed)
    made = {}

    def param(key):
        if key not in made:
            shape, kind = PARAMS[key]
            t = torch.empty(shape, device=device, dtype=dtype)
            if generator is not None:
                init_tensor(t, kind, generator)
            made[key] = nn.Parameter(t)
        return made[key]

    def get(i, name):
        entry = TENSORS[(i, name)]
        if isinstance(entry, str):
            return param(entry)
        _chunks, axis, keys = entry
        return Chunks(axis, [param(k) for k in keys])

    model = assemble(D_MODEL, LAYERS, get, device, dtype)
    model.design_yaml = DESIGN_YAML       # a checkpoint of another design is refused on load
    return model


if __name__ == "__main__":
    model = build_model()
    print(f"{NAME}: {sum(p.numel() for p in model.parameters()):,} parameters (expected {UNIQUE_PARAMS:,})")
    out = model(*model.example_inputs(2, min(16, MAX_SEQ or 16)))
    print({k: tuple(v.shape) for k, v in out.items()})
'''


def _max_seq(configs: list[LayerConfig]) -> int | None:
    """The shortest learned position table of the design, or None when no table limits the length."""
    tables = [c.dims.max_positions for c in configs if kind(c.kind).reads_positions and c.dims.positional == "learned"]
    return min(tables) if tables else None


def _docstring_safe(text: str) -> str:
    """`text` as it reads inside the file's triple-quoted docstring (backslashes and quotes escaped)."""
    return text.replace("\\", "\\\\").replace('"', '\\"').replace("\r", "\\r")


def export_source(spec: StackSpec) -> str:
    """The standalone model file for `spec` as text."""
    plan = validate(spec)
    params = count_params(spec, plan)
    configs = layer_configs(spec, plan)
    store = _KeyStore(spec, plan)
    tensors = {}
    for i, layer in enumerate(spec.layers):
        for t in layer_tensors(layer, spec.settings):
            entry = store.get(layer.id, t)
            if isinstance(entry, Chunks):
                entry = ("chunks", entry.axis, list(entry.parts))
            tensors[(i, t.name)] = entry
    title = f"{_docstring_safe(spec.name)}: {_docstring_safe(spec.description)}"
    header = (f'"""{title}\n\nExported by Sharing Explorer {__version__}; needs only torch.\n'
              f'{params.unique:,} unique parameters ({params.unshared:,} in the unshared twin), '
              f'{len(plan.groups)} sharing group{"" if len(plan.groups) == 1 else "s"}.\n'
              f'build_model() returns the design with its sharing; run this '
              f'file to check the count.\n"""\n\nfrom __future__ import annotations\n\n')
    tables = (f"\n\n# ---------------------------------------------------------------- tables\n\n"
              f"NAME = {spec.name!r}\nD_MODEL = {spec.settings.d_model}\nUNIQUE_PARAMS = {params.unique}\n"
              f"MAX_SEQ = {_max_seq(configs)}  # the longest input a learned position table takes (None: any)\n"
              f"PARAMS = {pprint.pformat(store.table, width=110, sort_dicts=False)}\n"
              f"TENSORS = {pprint.pformat(tensors, width=110, sort_dicts=False)}\n"
              f"LAYERS = {pprint.pformat(configs, width=110, sort_dicts=False)}\n"
              f"DESIGN_YAML = {yaml_io.dumps(spec)!r}  # the design, as explorer writes it\n")
    load_torch_halves()
    halves = "".join("\n\n" + _body(importlib.import_module(name)) for name in torch_halves())
    runtime = _body(runtime_source).replace("import torch\nfrom torch import nn\n", "")
    body = _body(modules_source) + "\n\n" + runtime + halves
    return header + body + tables + _TAIL


def export_file(spec: StackSpec, path: str | Path) -> None:
    text = export_source(spec)
    try:
        write_atomic(path, text)
    except OSError as err:
        raise SpecError(f"cannot write file ({err.strerror or err})", source=str(path)) from None
