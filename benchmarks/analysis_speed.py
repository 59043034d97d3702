"""How fast is the pure analysis? (The GUI recomputes it on every edit.)

    python benchmarks/analysis_speed.py

Prints one row per design size: median wall time of validate + params + FLOPs + memory
(+ the unshared twin), over repeated runs in this process.
"""

from __future__ import annotations

import statistics
import sys
import time

from explorer.analysis import analyze
from explorer.design.model import LayerSpec, ModelSettings, StackSpec
from explorer.design.strategies import apply_scheme


def design(layers: int, d: int) -> StackSpec:
    stack = ((LayerSpec("emb", "embedding"),) + tuple(LayerSpec(f"b{i}", "block") for i in range(layers))
             + (LayerSpec("ln", "norm"), LayerSpec("head", "lm_head", bias=False)))
    return StackSpec(settings=ModelSettings(d_model=d, n_heads=d // 128, vocab_size=50257, max_positions=2048,
                                            causal=True), layers=stack, name=f"{layers}x{d}")


def time_ms(fn, repeats: int = 30) -> float:
    out = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        out.append((time.perf_counter() - t0) * 1e3)
    return statistics.median(out)


def main() -> None:
    print(f"python {sys.version.split()[0]}")
    print(f"{'design':14}{'scheme':12}{'params':>20}{'first ms':>10}{'median ms':>11}")
    for layers, d in ((12, 768), (48, 2048), (96, 12288)):
        for scheme in ("none", "albert", "cycle"):
            base = design(layers, d)
            spec = base if scheme == "none" else apply_scheme(base, scheme)
            t0 = time.perf_counter()
            report = analyze(spec, 8, 2048)
            first = (time.perf_counter() - t0) * 1e3
            # a GUI edit: a new spec object each time (caches keyed by layer objects stay warm)
            med = time_ms(lambda spec=spec: analyze(spec.replace(name=spec.name + "'"), 8, 2048))
            print(f"{spec.name:14}{scheme:12}{report.params.unique:>20,}{first:>10.2f}{med:>11.2f}")


if __name__ == "__main__":
    main()
