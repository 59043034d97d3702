"""Which torch the training-activation figure is exact for, and which torch is installed (pure).

The saving rules (explorer/kinds/saving.py) are torch's: what each kernel keeps for backward.
They were read from torch 2.13 and are measured by tests/torchmodel/test_activation_memory.py
against autograd on the CPU under torch 2.13.0 and 2.14.1 (CI runs both). The CUDA rules were
read from the 2.13 wheel; releases after it changed which attention kernel takes GQA, so they
hold for 2.13 only. Outside its range the figure is labelled an estimate, as a left-out cuDNN
buffer is.

The installed version is read from the package metadata (importlib.metadata), never by
importing torch: the analysis and the window's process stay torch-free. The figure is for
the torch that will run the model; this is the torch installed where the analysis runs.
"""

from __future__ import annotations

import re
from functools import lru_cache
from importlib import metadata

# device -> (lowest, highest) (major, minor) torch release whose kernels the saving rules match
EXACT_TORCH = {"cpu": ((2, 13), (2, 14)), "cuda": ((2, 13), (2, 13))}
_RELEASE = re.compile(r"^(\d+)\.(\d+)")


@lru_cache(maxsize=1)
def _metadata_version() -> str | None:
    try:
        return metadata.version("torch")
    except metadata.PackageNotFoundError:
        return None


def installed_torch() -> str | None:
    """The installed torch's version ("2.13.0+cpu"), or None when torch is not installed."""
    return _metadata_version()


def exact_range(device: str = "cpu") -> str:
    """The torch releases the figure is exact for on `device`, as a requirement (">=2.13,<2.15")."""
    (lo_major, lo_minor), (hi_major, hi_minor) = EXACT_TORCH[_device(device)]
    return f">={lo_major}.{lo_minor},<{hi_major}.{hi_minor + 1}"


def torch_note(device: str = "cpu") -> str:
    """Why the figure is an estimate for the installed torch on `device`; "" when its rules are exact."""
    version = installed_torch()
    wanted = exact_range(device)
    where = "CUDA" if _device(device) == "cuda" else "CPU"
    if version is None:
        return f"an estimate: no torch is installed here to check (exact for the {where} kernels of torch {wanted})"
    match = _RELEASE.match(version)
    release = (int(match.group(1)), int(match.group(2))) if match else None
    low, high = EXACT_TORCH[_device(device)]
    if release is not None and low <= release <= high:
        return ""
    return f"an estimate: torch {version} is installed, and the saving rules are exact for the {where} kernels " \
           f"of torch {wanted} (docs/memory.md)"


def _device(device: str) -> str:
    return "cuda" if str(device).startswith("cuda") else "cpu"


__all__ = ["EXACT_TORCH", "exact_range", "installed_torch", "torch_note"]
