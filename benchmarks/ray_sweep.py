"""A measured scheme sweep in-process against the same sweep on a local Ray with two CPU workers
(one task per point), side by side on one machine; and Ray's scheduling overhead per point.

    python benchmarks/ray_sweep.py [--points 8] [--iters N]

Every point times one design on the CPU (run_point, the function a Ray worker runs) with one
torch thread, in-process and on Ray alike; a third run gives each in-process point torch's
default threads (every core), the fairer baseline for a 2-core machine. `--iters` is chosen
so that a point takes at least 2 s here. The overhead is measured with points that
return at once (an unknown point kind): Ray's per-point time minus the in-process one.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from explorer.cluster import ray_backend
from explorer.cluster.points import Point
from explorer.design import yaml_io
from explorer.presets import PRESETS_DIR
from explorer.train.adapt import scale_down


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--points", type=int, default=8)
    ap.add_argument("--iters", type=int, default=60)
    ap.add_argument("--seq", type=int, default=128)
    args = ap.parse_args()
    spec, _ = scale_down(yaml_io.load(PRESETS_DIR / "bert-base.yaml"), width=384, depth=6, heads=6)
    text = yaml_io.dumps(spec)
    options = {"device": "cpu", "batch": 2, "seq": args.seq, "iters": args.iters, "warmup": 2, "threads": 1}
    points = [Point(f"p{i}", "measure", text, options) for i in range(args.points)]
    ray = ray_backend.connect("local", num_cpus=2)
    ray_backend.run_points(points[:2])                     # warm the workers (imports, torch) before timing

    t0 = time.perf_counter()
    local_rows = ray_backend.run_local(points)
    local_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    ray_rows = ray_backend.run_points(points)
    ray_s = time.perf_counter() - t0
    both = [Point(p.label, p.kind, p.design_yaml, {**p.options, "threads": None}) for p in points]
    t0 = time.perf_counter()
    both_rows = ray_backend.run_local(both)             # each point on every core torch takes by default
    both_s = time.perf_counter() - t0
    per_point = statistics.median(r["seconds"] for r in local_rows)

    trivial = [Point(f"t{i}", "nothing", text, {}) for i in range(40)]
    ray_backend.run_points(trivial[:4])
    t0 = time.perf_counter()
    ray_backend.run_points(trivial)
    ray_trivial = (time.perf_counter() - t0) / len(trivial)
    t0 = time.perf_counter()
    ray_backend.run_local(trivial)
    local_trivial = (time.perf_counter() - t0) / len(trivial)
    ray.shutdown()

    print(f"machine: {torch.get_num_threads()} torch threads here, Ray local with 2 CPU workers (1 thread each); "
          f"{args.points} points of bert-base scaled to d384 x 6, batch 2 x {args.seq}, {args.iters} timed iterations")
    print()
    print("| run | wall s | per point s (median) | speed-up |")
    print("|---|---:|---:|---:|")
    print(f"| in-process, one after another | {local_s:.2f} | {per_point:.2f} | 1.00 |")
    print(f"| in-process, torch's default threads ({torch.get_num_threads()}) per point | {both_s:.2f} | "
          f"{statistics.median(r['seconds'] for r in both_rows):.2f} | {local_s / both_s:.2f} |")
    print(f"| Ray, 2 workers | {ray_s:.2f} | {statistics.median(r['seconds'] for r in ray_rows):.2f} | "
          f"{local_s / ray_s:.2f} |")
    print()
    print(f"scheduling overhead per point: Ray {ray_trivial * 1e3:.1f} ms, in-process {local_trivial * 1e3:.1f} ms "
          f"(difference {(ray_trivial - local_trivial) * 1e3:.1f} ms)")
    errors = [r["error"] for r in local_rows + ray_rows + both_rows if r["error"]]
    assert not errors, errors


if __name__ == "__main__":
    main()
