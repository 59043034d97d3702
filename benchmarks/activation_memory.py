"""Training activations: the analysis figure against what autograd saves, per layer kind and
per bundled preset (CPU, saved_tensors_hooks, distinct storages, parameters excluded, a
cross-entropy on every LM head's logits). Prints a markdown table of measured / analysis.

    python benchmarks/activation_memory.py
"""

from __future__ import annotations

import os
import sys

import torch

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests", "torchmodel"))
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests", "design"))

from test_activation_memory import VARIANTS, figure, kind_stack, measured, small  # noqa: E402

from explorer.design import yaml_io  # noqa: E402
from explorer.kinds import REGISTRY  # noqa: E402
from explorer.presets import preset_paths  # noqa: E402

SHAPES = [(2, 32, "fp32"), (4, 40, "fp32"), (2, 32, "bf16")]


def row(name: str, spec, target: bool) -> str:
    cells = []
    for batch, seq, dtype in SHAPES:
        t = seq // 2 if target else None
        a, m = figure(spec, batch, seq, dtype, t), measured(spec, batch, seq, dtype, t)
        cells.append(f"{m / a:.3f}")
    return f"| {name} | " + " | ".join(cells) + " |"


def main() -> None:
    torch.set_num_threads(1)
    header = "| design | " + " | ".join(f"{b}x{s} {d}" for b, s, d in SHAPES) + " |"
    print(header)
    print("|" + "---|" * (len(SHAPES) + 1))
    for kind in REGISTRY:
        if kind == "embedding":
            continue
        for variant in VARIANTS:
            spec = kind_stack(kind, variant, True)
            print(row(f"{kind} ({variant})", spec, REGISTRY[kind].reads_memory))
    for path in preset_paths():
        spec = small(yaml_io.load(path))
        print(row(path.stem, spec, any(x.target for x in spec.layers)))


if __name__ == "__main__":
    main()
