"""Does sharing change speed? Each preset against its unshared twin, interleaved in one run.

    python benchmarks/shared_vs_twin.py [--device cuda] [--batch 8] [--seq 256] [--mode forward|train]

Prints design/twin median time ratios; below 1.0 the shared design is faster (shared
weights stay in cache), above 1.0 slower.
"""

from __future__ import annotations

import argparse

from explorer.bench.config import BenchConfig
from explorer.bench.timing import run_bench
from explorer.presets import PRESETS_DIR
from explorer.design import yaml_io

DEFAULT = ["tutorial-all-shared", "albert-base", "albert-ffn", "cycle", "immediate-repeat", "head-sharing",
           "lstm-shared-cell", "conv-shared-bank"]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--dtype", default="fp32")
    parser.add_argument("--batch", type=int, default=2)
    parser.add_argument("--seq", type=int, default=128)
    parser.add_argument("--iters", type=int, default=10)
    parser.add_argument("--mode", default="forward")
    parser.add_argument("presets", nargs="*", default=DEFAULT)
    args = parser.parse_args()
    print("| preset | params design | params twin | design ms | twin ms | design/twin |\n"
          "|---|---:|---:|---:|---:|---:|")
    name = None
    for preset in args.presets:
        spec = yaml_io.load(PRESETS_DIR / f"{preset}.yaml")
        result = run_bench(spec, BenchConfig(device=args.device, dtype=args.dtype, batch=args.batch, seq=args.seq,
                                             iters=args.iters, warmup=3, mode=args.mode, twin=True))
        name = result.device_name
        d, t = result.design, result.twin
        print(f"| {preset} | {d.params_built:,} | {t.params_built:,} | {d.median_ms:.2f} | {t.median_ms:.2f} | "
              f"{d.median_ms / t.median_ms:.3f} |")
    print(f"\n{args.mode}, batch {args.batch} x seq {args.seq}, {args.dtype}, {name}")


if __name__ == "__main__":
    main()
