"""A large stack against the device's own dense matmul throughput, measured in the same run.

    python benchmarks/large_stack.py --device cuda            # 8 layers, d=4096, seq 2048, bf16
    python benchmarks/large_stack.py --device cpu --d 512 --seq 256 --dtype fp32   # a small CPU check

Prints achieved TFLOP/s of the built model (analytic FLOPs / median time) for the unshared
and the all-shared design (and, with --compile, of their torch.compile'd copies), beside
plain (tokens x d) @ (d x 4d) and (d x d) matmuls; the ratio is to the faster matmul.
"""

from __future__ import annotations

import argparse

import torch

from common import machine, median, time_interleaved
from explorer.analysis import count_flops
from explorer.torchmodel import TORCH_DTYPES, build_model
from explorer.design.model import LayerSpec, ModelSettings, StackSpec
from explorer.design.strategies import apply_scheme


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--dtype", default="bf16")
    parser.add_argument("--layers", type=int, default=8)
    parser.add_argument("--d", type=int, default=4096)
    parser.add_argument("--heads", type=int, default=32)
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--seq", type=int, default=2048)
    parser.add_argument("--iters", type=int, default=20)
    parser.add_argument("--causal", action="store_true",
                        help="causal attention (the analysis counts full S x S score FLOPs, which causal kernels "
                             "halve, so TFLOP/s would read high; off by default)")
    parser.add_argument("--compile", action="store_true", help="also time torch.compile'd copies of both models")
    args = parser.parse_args()
    device = torch.device(args.device)
    dtype = TORCH_DTYPES[args.dtype]
    spec = StackSpec(settings=ModelSettings(d_model=args.d, n_heads=args.heads, activation="gelu", bias=False,
                                            positional="none", causal=args.causal),
                     layers=tuple(LayerSpec(f"b{i}", "block") for i in range(args.layers)), name="large")
    designs = {"unshared": spec, "all-shared": apply_scheme(spec, "albert")}
    flops = count_flops(spec, args.batch, args.seq).forward
    models = {f"{name} model": build_model(s, device, args.dtype).eval() for name, s in designs.items()}
    if args.compile:
        models.update({f"{name} (torch.compile)": torch.compile(m) for name, m in list(models.items())})
    x = models["unshared model"].example_input(args.batch, args.seq, device, dtype)
    n = args.batch * args.seq
    a = torch.randn(n, args.d, device=device, dtype=dtype)
    references = {                                     # the device's own dense matmul, two shapes of the model
        f"dense matmul {n}x{args.d} @ {args.d}x{4 * args.d}": (torch.randn(args.d, 4 * args.d, device=device,
                                                                             dtype=dtype), 2 * n * args.d * 4 * args.d),
        f"dense matmul {n}x{args.d} @ {args.d}x{args.d}": (torch.randn(args.d, args.d, device=device, dtype=dtype),
                                                           2 * n * args.d * args.d),
    }

    def fwd(model):
        def run():
            with torch.inference_mode():
                model(x)
        return run

    fns = {name: fwd(m) for name, m in models.items()}
    fns.update({name: (lambda w=w: a @ w) for name, (w, _f) in references.items()})
    samples = time_interleaved(fns, device, args.iters, warmup=5)
    ref_tflops = {name: f / (median(samples[name]) / 1e3) / 1e12 for name, (_w, f) in references.items()}
    peak = max(ref_tflops.values())                    # the faster of the two is the bar
    print(f"machine: {machine(device)}")
    print(f"{args.layers} layers, d={args.d}, {args.heads} heads, batch {args.batch} x seq {args.seq}, {args.dtype}, "
          f"{'causal' if args.causal else 'bidirectional'} attention; forward FLOPs {flops:,}\n")
    print("| run | median ms | TFLOP/s | of best matmul TFLOP/s |\n|---|---:|---:|---:|")
    for name, tf in ref_tflops.items():
        print(f"| {name} | {median(samples[name]):.3f} | {tf:.3g} | {tf / peak:.3f} |")
    for name in models:
        ms = median(samples[name])
        tf = flops / (ms / 1e3) / 1e12
        print(f"| {name} | {ms:.3f} | {tf:.3g} | {tf / peak:.3f} |")

if __name__ == "__main__":
    main()
