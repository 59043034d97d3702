"""Training activations: the analysis figure against what autograd saves, per layer kind and
per bundled preset (saved_tensors_hooks, distinct storages, parameters excluded, a
cross-entropy on every LM head's logits). Prints a markdown table of measured / analysis.
On a GPU, --device cuda builds there and compares with the analysis for CUDA's kernels.

    python benchmarks/activation_memory.py [--device cuda]
"""

from __future__ import annotations

import argparse
import os
import sys

import torch

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests", "torchmodel"))
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests", "design"))

from test_activation_memory import VARIANTS, kind_stack, small  # noqa: E402

from explorer.analysis import analyze  # noqa: E402
from explorer.design import yaml_io  # noqa: E402
from explorer.kinds import REGISTRY  # noqa: E402
from explorer.presets import preset_paths  # noqa: E402
from explorer.torchmodel import build_model  # noqa: E402
from explorer.torchmodel.saved import saved_activation_bytes  # noqa: E402

SHAPES = [(2, 32, "fp32"), (4, 40, "fp32"), (2, 32, "bf16")]


def row(name: str, spec, target: bool, device: str) -> str:
    cells = []
    for batch, seq, dtype in SHAPES:
        t = seq // 2 if target else None
        memory = analyze(spec, batch, seq, dtype, target_seq=t, device=device).memory
        model = build_model(spec, device, dtype)
        m = saved_activation_bytes(model, model.example_inputs(batch, seq, t))
        cells.append(f"{m / memory.activations_training:.3f}" + ("" if memory.activations_training_exact else " (≥)"))
    return f"| {name} | " + " | ".join(cells) + " |"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    device = parser.parse_args().device
    torch.set_num_threads(1)
    header = "| design | " + " | ".join(f"{b}x{s} {d}" for b, s, d in SHAPES) + " |"
    print(header)
    print("|" + "---|" * (len(SHAPES) + 1))
    for kind in REGISTRY:
        if kind == "embedding":
            continue
        for variant in VARIANTS:
            spec = kind_stack(kind, variant, True)
            print(row(f"{kind} ({variant})", spec, REGISTRY[kind].reads_memory, device))
    for path in preset_paths():
        spec = small(yaml_io.load(path))
        print(row(path.stem, spec, any(x.target for x in spec.layers), device))


if __name__ == "__main__":
    main()
