"""The `explorer` command: the app, or report / compare / apply / schemes / presets.

Only --verify (and the app) import torch; a report is pure analysis and answers at once.
Bad input ends with exit 2 and one line on stderr naming the file, key and reason.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from contextlib import contextmanager
from pathlib import Path

from explorer.errors import BenchError, BuildError, ExplorerError, SpecError
from explorer.fmt import nbytes

COMMANDS = ("report", "compare", "apply", "import-hf", "bench", "sweep", "plan", "export", "schemes", "presets",
            "desktop-entry")
DTYPES = ("fp32", "bf16", "fp16", "fp8", "int8")


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


def _ratio(a: float, b: float) -> str:
    if not b:
        return "-"
    return f"{a / b:.2f}x"


def _load(path: str):
    """A design file, or a bundled preset by name (`explorer report albert-base`)."""
    from explorer.presets import resolve
    from explorer.design import yaml_io

    resolved = resolve(path)
    if not Path(resolved).exists() and Path(path).parent == Path("."):     # a bare name, neither file nor preset
        raise SpecError("no such file, and no bundled preset of that name (`explorer presets` lists them)",
                        source=path)
    return yaml_io.load(resolved)


@contextmanager
def _naming(source: str):
    """Errors raised inside name the design's file (e.g. seq > max_positions, a failed timing run)."""
    try:
        yield
    except SpecError as err:
        raise (err if err.source else err.with_source(source)) from None
    except (BuildError, BenchError) as err:
        raise type(err)(f"{source}: {err}") from None


def _analyze(spec, source: str, batch: int, seq: int, dtype: str):
    """analyze(), with the file named in any error about the run shape (e.g. seq > max_positions)."""
    from explorer.analysis import analyze

    with _naming(source):
        return analyze(spec, batch, seq, dtype)


def _add_run_shape(p: argparse.ArgumentParser, from_file: bool = False) -> None:
    """--batch/--seq/--dtype; with `from_file`, unset ones come from the design's `run:` section."""
    where = "the file's run: section, else " if from_file else ""
    p.add_argument("--batch", type=int, default=None if from_file else 1, help=f"batch size (default {where}1)")
    p.add_argument("--seq", type=int, default=None if from_file else 128,
                   help=f"sequence length (default {where}128)")
    p.add_argument("--dtype", choices=DTYPES, default=None if from_file else "fp32",
                   help=f"weight dtype for memory (default {where}fp32)")


def _run_shape_of(spec, args) -> None:
    """Fill unset --batch/--seq/--dtype from the design's saved run shape (or the defaults)."""
    from explorer.design.model import RunShape

    saved = spec.run or RunShape()
    for key in ("batch", "seq", "dtype"):
        if getattr(args, key) is None:
            setattr(args, key, getattr(saved, key))


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="explorer", description="Sharing Explorer: design cross-layer "
                                     "parameter sharing and measure it. Without a command, opens the app.")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("report", help="exact parameters, FLOPs and memory of a preset")
    p.add_argument("preset")
    _add_run_shape(p, from_file=True)
    fmt = p.add_mutually_exclusive_group()
    fmt.add_argument("--json", action="store_true", help="print JSON")
    fmt.add_argument("--csv", action="store_true", help="print CSV rows: metric, design, unshared twin")
    fmt.add_argument("--markdown", action="store_true", help="print a Markdown summary")
    p.add_argument("--verify", action="store_true",
                   help="also build the model on the meta device; exit 1 if torch's counts differ")
    p = sub.add_parser("compare", help="two designs side by side, with ratios")
    p.add_argument("a")
    p.add_argument("b")
    _add_run_shape(p)
    p.add_argument("--json", action="store_true")
    p = sub.add_parser("apply", help="apply a sharing scheme and write the new design")
    p.add_argument("preset")
    p.add_argument("scheme")
    p.add_argument("-p", "--param", action="append", default=[], metavar="KEY=VALUE",
                   help="scheme option, e.g. -p blocks=3 or -p layers=block0,block1")
    p.add_argument("-o", "--output", required=True)
    p = sub.add_parser("import-hf", help="turn a Hugging Face config.json into an editable design")
    p.add_argument("config")
    p.add_argument("-o", "--output", required=True)
    p.add_argument("--with-head", action="store_true",
                   help="add the head of architectures[0] (e.g. MaskedLM, CausalLM); default: the base model")
    p = sub.add_parser("bench", help="build the real model and time forward passes (with --twin beside its "
                       "unshared twin, interleaved)")
    p.add_argument("preset")
    p.add_argument("--device", default="cpu", help="cpu, cuda, cuda:N or mps (default cpu)")
    p.add_argument("--dtype", choices=("fp32", "bf16", "fp16"), default="fp32")
    p.add_argument("--batch", type=int, default=1)
    p.add_argument("--seq", type=int, default=128)
    p.add_argument("--iters", type=int, default=20, help="measured iterations (default 20)")
    p.add_argument("--warmup", type=int, default=3, help="warm-up iterations, not in statistics (default 3)")
    p.add_argument("--mode", choices=("forward", "train"), default="forward")
    p.add_argument("--compile", action="store_true", help="torch.compile the model first")
    p.add_argument("--twin", action="store_true", help="also time the unshared twin, interleaved")
    p.add_argument("--threads", type=int, default=None, help="CPU threads (default: torch's)")
    p.add_argument("--json", action="store_true")
    p = sub.add_parser("sweep", help="sweep sequence length, depth or schemes")
    p.add_argument("preset")
    what = p.add_mutually_exclusive_group(required=True)
    what.add_argument("--seq", dest="seqs", metavar="LIST", help="e.g. 128,256,512 or 128:8192:x2")
    what.add_argument("--layers", metavar="LIST", help="e.g. 2:24:2 or 6,12,24")
    what.add_argument("--schemes", action="store_true", help="every scheme on this design")
    p.add_argument("--batch", type=int, default=1)
    p.add_argument("--at-seq", type=int, default=128, help="sequence length for --layers/--schemes")
    p.add_argument("--device", default=None, help="with --seq: also time the built model on this device (cpu, cuda)")
    p.add_argument("--iters", type=int, default=5, help="with --device: measured iterations per point")
    p.add_argument("--dtype", choices=DTYPES, default="fp32")
    fmt = p.add_mutually_exclusive_group()
    fmt.add_argument("--json", action="store_true")
    fmt.add_argument("--csv", action="store_true")
    p = sub.add_parser("desktop-entry", help="install the app's menu entry and icon for Linux desktops (per user)")
    p.add_argument("--data-home", default=None, help="instead of $XDG_DATA_HOME (~/.local/share)")
    p = sub.add_parser("plan", help="training memory per GPU under DP, ZeRO 1-3 and tensor parallelism")
    p.add_argument("preset")
    p.add_argument("--gpus", type=int, default=8)
    p.add_argument("--micro-batch", type=int, default=1)
    p.add_argument("--seq", type=int, default=2048)
    p.add_argument("--dtype", choices=("fp32", "bf16", "fp16"), default="bf16")
    p.add_argument("--gpu-gib", type=float, default=80.0, help="memory of one GPU (default 80)")
    p.add_argument("--json", action="store_true")
    p = sub.add_parser("export", help="write a standalone PyTorch file (imports only torch) of the design")
    p.add_argument("preset")
    p.add_argument("-o", "--output", required=True)
    sub.add_parser("schemes", help="list sharing schemes and their options")
    sub.add_parser("presets", help="list bundled presets")
    return parser


def _report_lines(report, verification=None) -> list[str]:
    spec, p, f, m = report.spec, report.params, report.flops, report.memory
    tw = report.twin_flops
    lines = [f"{spec.name}: {spec.description}" if spec.description else spec.name,
             f"{len(spec.layers)} layers, batch {report.batch} x seq {report.seq}, {report.dtype}", ""]
    lines.append(f"{'':24}{'design':>18}{'unshared twin':>18}{'twin/design':>14}")
    lines.append(f"{'parameters':24}{p.unique:>18,}{p.unshared:>18,}{_ratio(p.unshared, p.unique):>14}")
    lines.append(f"{'  unique tensors':24}{p.unique_tensors:>18,}")
    lines.append(f"{'  weights (' + report.dtype + ')':24}{nbytes(m.weights):>18}"
                 f"{nbytes(report.twin_memory.weights):>18}")
    lines.append(f"{'forward FLOPs':24}{f.forward:>18,}{tw.forward:>18,}{_ratio(tw.forward, f.forward):>14}")
    for comp in ("attention", "ffn", "embedding", "head", "other"):
        if f.by_component[comp] or tw.by_component[comp]:
            lines.append(f"{'  ' + comp:24}{f.by_component[comp]:>18,}{tw.by_component[comp]:>18,}")
    lines.append(f"{'  element-wise (est.)':24}{f.elementwise:>18,}")
    lines.append(f"{'memory, inference':24}{nbytes(m.inference):>18}{nbytes(report.twin_memory.inference):>18}")
    lines.append(f"{'  activations (est.)':24}{nbytes(m.activations_inference):>18}")
    if m.kv_cache:
        lines.append(f"{'  KV cache':24}{nbytes(m.kv_cache):>18}{nbytes(report.twin_memory.kv_cache):>18}")
    lines.append(f"{'memory, training (Adam)':24}{nbytes(m.training):>18}{nbytes(report.twin_memory.training):>18}")
    if p.per_group:
        lines += ["", f"{'sharing group':24}{'members':>10}{'each':>16}{'saved':>18}"]
        for g in p.per_group:
            lines.append(f"{g.name[:23]:24}{g.members:>10}{g.numel:>16,}{g.saved:>18,}")
    if verification is not None:
        lines.append("")
        if verification.ok:
            lines.append(f"verified on the meta device: torch counts {verification.params_torch:,} parameters in "
                         f"{verification.tensors_torch:,} tensors and {verification.flops_torch:,} forward FLOPs")
        else:
            lines += [f"MISMATCH {m}" for m in verification.mismatches()]
    return lines


def cmd_report(args) -> int:
    spec = _load(args.preset)
    _run_shape_of(spec, args)
    report = _analyze(spec, args.preset, args.batch, args.seq, args.dtype)
    verification = None
    if args.verify:
        from explorer.torchmodel import verify

        with _naming(args.preset):
            verification = verify(spec, args.batch, args.seq)
    if args.json:
        data = report.to_json()
        if verification is not None:
            data["verified"] = {"ok": verification.ok, "params_torch": verification.params_torch,
                                "tensors_torch": verification.tensors_torch,
                                "flops_torch": verification.flops_torch}
        print(json.dumps(data, indent=2))
    elif args.csv or args.markdown:
        from explorer.analysis.export_report import to_csv, to_markdown

        print((to_csv if args.csv else to_markdown)(report), end="")
    else:
        print("\n".join(_report_lines(report, verification)))
    if verification is not None and not verification.ok:
        print(f"error: {args.preset}: " + "; ".join(verification.mismatches()), file=sys.stderr)
        return 1
    return 0


def cmd_compare(args) -> int:
    a = _analyze(_load(args.a), args.a, args.batch, args.seq, args.dtype)
    b = _analyze(_load(args.b), args.b, args.batch, args.seq, args.dtype)
    rows = [
        ("params.unique", a.params.unique, b.params.unique),
        ("params.unshared", a.params.unshared, b.params.unshared),
        ("flops.forward", a.flops.forward, b.flops.forward),
        *[(f"flops.{c}", a.flops.by_component[c], b.flops.by_component[c])
          for c in ("attention", "ffn", "embedding", "head", "other")],
        ("memory.weights", a.memory.weights, b.memory.weights),
        ("memory.inference", a.memory.inference, b.memory.inference),
        ("memory.training", a.memory.training, b.memory.training),
    ]
    if args.json:
        print(json.dumps({
            "a": {"design": a.spec.name, "file": args.a},
            "b": {"design": b.spec.name, "file": args.b},
            "batch": args.batch, "seq": args.seq, "dtype": args.dtype,
            "rows": {key: {"a": va, "b": vb, "ratio": (vb / va) if va else None} for key, va, vb in rows},
        }, indent=2))
        return 0
    print(f"A: {a.spec.name} ({args.a})\nB: {b.spec.name} ({args.b})")
    print(f"batch {args.batch} x seq {args.seq}, {args.dtype}\n")
    print(f"{'':22}{'A':>20}{'B':>20}{'B/A':>10}")
    for key, va, vb in rows:
        mark = "" if va == vb else "  *"
        print(f"{key:22}{va:>20,}{vb:>20,}{_ratio(vb, va):>10}{mark}")
    return 0


def _parse_option(text: str):
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise SpecError(f"expected KEY=VALUE, got {text!r}", "--param")
    value = value.strip()
    if "," in value:
        return key, [v.strip() for v in value.split(",") if v.strip()]
    if value.lower() in ("true", "false"):
        return key, value.lower() == "true"
    if value.lstrip("-").isdigit():
        return key, int(value)
    if key == "layers":
        return key, [value]
    return key, value


def cmd_apply(args) -> int:
    from explorer.analysis import analyze
    from explorer.design import yaml_io
    from explorer.design.strategies import apply_scheme

    spec = _load(args.preset)
    options = dict(_parse_option(p) for p in args.param)
    try:
        new = apply_scheme(spec, args.scheme, **options)
    except SpecError as err:
        raise SpecError(err.message, err.path or "scheme", f"{args.preset} ({args.scheme})") from None
    report = analyze(new)
    yaml_io.save(new, args.output)
    print(f"{args.output}: {args.scheme} applied, {_count(len(new.groups), 'group')}, "
          f"{report.params.unique:,} unique parameters ({report.params.saving_factor:.2f}x fewer than unshared)")
    return 0


def cmd_bench(args) -> int:
    from explorer.bench.timing import BenchConfig, run_bench

    spec = _load(args.preset)
    config = BenchConfig(device=args.device, dtype=args.dtype, batch=args.batch, seq=args.seq, iters=args.iters,
                         warmup=args.warmup, mode=args.mode, compile=args.compile, twin=args.twin,
                         threads=args.threads)
    progress = None if args.json else (lambda msg: print(f"  {msg}", file=sys.stderr, flush=True))
    with _naming(args.preset):
        result = run_bench(spec, config, on_progress=progress)
    if args.json:
        print(json.dumps(result.to_json(), indent=2))
        return 0
    rows = [("design", result.design)] + ([("unshared twin", result.twin)] if result.twin else [])
    print(f"{spec.name}: {args.mode}, batch {args.batch} x seq {args.seq}, {args.dtype}, {result.device_name}")
    print(f"parameters built {result.design.params_built:,} "
          f"({'verified' if result.verified else 'MISMATCH'} against analysis {result.params_analysis:,})")
    cuda = result.config.device.startswith("cuda")
    print(f"{'':16}{'median ms':>12}{'p10':>10}{'p90':>10}{'tokens/s':>14}{'TFLOP/s':>10}{'params':>16}"
          f"{'weights':>12}" + (f"{'pass peak':>12}" if cuda else ""))
    for name, s in rows:
        print(f"{name:16}{s.median_ms:>12.3f}{s.percentile(0.1):>10.3f}{s.percentile(0.9):>10.3f}"
              f"{result.tokens_per_s(s):>14,.0f}{result.tflops(s):>10.3f}{s.params_built:>16,}"
              f"{nbytes(s.weights_bytes):>12}" + (f"{nbytes(s.activation_peak_bytes):>12}" if cuda else ""))
    if result.resident_peak_delta_bytes is not None:
        print(f"process resident peak +{nbytes(result.resident_peak_delta_bytes)} over the run "
              f"(models, inputs and passes{', both series' if result.twin else ''})")
    frac = result.peak_fraction(result.design)
    if frac is not None:
        print(f"design at {100 * frac:.1f}% of this GPU's dense bf16 peak")
    if result.twin:
        print(f"design / twin time: {result.design.median_ms / result.twin.median_ms:.3f}")
    if result.cancelled:
        print("stopped before the last iteration")
    return 0


def _emit_rows(args, header: list[str], rows: list[list]) -> None:
    if args.json:
        print(json.dumps([dict(zip(header, r)) for r in rows], indent=2))
    elif args.csv:
        import csv

        writer = csv.writer(sys.stdout)
        writer.writerow(header)
        writer.writerows(rows)
    else:        # numbers right-aligned, text left-aligned, no trailing blanks
        cells = [[f"{v:,}" if isinstance(v, int) else str(v) for v in r] for r in rows]
        numeric = [bool(rows) and all(isinstance(r[i], (int, float)) for r in rows) for i in range(len(header))]
        widths = [max(len(h), *(len(c[i]) for c in cells)) for i, h in enumerate(header)]

        def line(values: list[str]) -> str:
            return "  ".join(v.rjust(w) if right else v.ljust(w)
                             for v, w, right in zip(values, widths, numeric)).rstrip()

        print(line(header))
        for c in cells:
            print(line(c))


def cmd_sweep(args) -> int:
    from explorer.analysis import sweeps

    spec = _load(args.preset)
    if args.seqs:
        seqs = sweeps.parse_int_list(args.seqs, "--seq")
        _analyze(spec, args.preset, args.batch, max(seqs), args.dtype)
        result = sweeps.sweep_seq(spec, seqs, args.batch)
        rows = [[p.seq, p.attention, p.ffn, p.forward] for p in result.points]
        header = ["seq", "attention", "ffn", "forward"]
        if args.device:
            from explorer.bench.config import BenchConfig
            from explorer.bench.timing import run_bench

            header.append("measured_median_ms")
            for row, n in zip(rows, seqs):
                config = BenchConfig(device=args.device, batch=args.batch, seq=n, iters=args.iters, warmup=1)
                with _naming(args.preset):
                    row.append(round(run_bench(spec, config).design.median_ms, 4))
        _emit_rows(args, header, rows)
        if not (args.json or args.csv):
            print(result.sentence())
        return 0
    _analyze(spec, args.preset, args.batch, args.at_seq, args.dtype)     # e.g. --at-seq past a learned table
    if args.layers:
        depths = sweeps.parse_int_list(args.layers, "--layers")
        points = sweeps.sweep_depth(spec, depths, batch=args.batch, seq=args.at_seq, dtype=args.dtype)
        rows = [[p.layers, p.scheme, p.unique, p.forward, p.training_bytes, p.error] for p in points]
        _emit_rows(args, ["layers", "scheme", "unique_params", "forward_flops", "training_bytes", "error"], rows)
        return 0
    points = sweeps.sweep_schemes(spec, args.batch, args.at_seq, args.dtype)
    rows = [[p.scheme, p.unique, p.unshared, p.forward, p.training_bytes, p.error] for p in points]
    _emit_rows(args, ["scheme", "unique_params", "unshared_params", "forward_flops", "training_bytes", "error"], rows)
    return 0


def cmd_plan(args) -> int:
    from explorer.analysis.planner import GIB, plan_grid

    spec = _load(args.preset)
    _analyze(spec, args.preset, args.micro_batch, args.seq, args.dtype)
    rows = plan_grid(spec, args.gpus, args.micro_batch, args.seq, args.dtype)
    if args.json:
        print(json.dumps([{"setup": r.setup.label, "tp": r.setup.tp, "dp": r.setup.dp, "zero": r.setup.zero,
                           "checkpointing": r.setup.checkpointing, "weights": r.weights, "gradients": r.gradients,
                           "optimizer": r.optimizer, "activations": r.activations, "total": r.total,
                           "fits": r.fits(args.gpu_gib)} for r in rows], indent=2))
        return 0
    print(f"{spec.name}: {_count(args.gpus, 'GPU')} of {args.gpu_gib:g} GiB, "
          f"micro-batch {args.micro_batch} x seq {args.seq}, {args.dtype}")
    print(f"{'setup':30}{'weights':>10}{'grads':>10}{'optim':>10}{'activ':>10}{'total GiB':>11}  fits")
    for r in rows:
        print(f"{r.setup.label:30}{r.weights / GIB:>10.2f}{r.gradients / GIB:>10.2f}{r.optimizer / GIB:>10.2f}"
              f"{r.activations / GIB:>10.2f}{r.total / GIB:>11.2f}  {'yes' if r.fits(args.gpu_gib) else 'no'}")
    return 0


def cmd_export(args) -> int:
    from explorer.torchmodel.export import export_file

    spec = _load(args.preset)
    with _naming(args.preset):
        export_file(spec, args.output)
    print(f"{args.output}: standalone PyTorch file for {spec.name}; build_model() returns it")
    return 0


def cmd_import_hf(args) -> int:
    from explorer.analysis.params import count_params
    from explorer.design.hf_import import import_hf_to_yaml

    spec = import_hf_to_yaml(args.config, args.output, args.with_head)
    params = count_params(spec)
    print(f"{args.output}: {spec.name}, {len(spec.layers)} layers, {params.unique:,} parameters"
          f"{', ' + _count(len(spec.groups), 'sharing group') if spec.groups else ''}")
    return 0


def cmd_schemes(_args) -> int:
    import inspect

    from explorer.design.strategies import SCHEMES

    for s in SCHEMES.values():
        params = [f"{n}={p.default!r}" for n, p in inspect.signature(s.fn).parameters.items()
                  if n not in ("spec",)]
        print(f"{s.name:22}{'pure' if s.pure else 'arch':6}{s.doc}")
        print(f"{'':28}options: {', '.join(params)}")
    return 0


def cmd_presets(_args) -> int:
    from explorer.presets import bundled_presets

    for path, description in bundled_presets():
        print(f"{path.name:34}{description}")
    return 0


def cmd_desktop_entry(args) -> int:
    from explorer.desktop import install_desktop_entry

    for path in install_desktop_entry(Path(args.data_home) if args.data_home else None):
        print(f"wrote {path}")
    return 0


def _run_gui(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="explorer", description="Sharing Explorer. Commands: "
                                     + ", ".join(COMMANDS) + " (explorer COMMAND --help).")
    parser.add_argument("preset", nargs="?", help="a preset YAML file to open")
    parser.add_argument("--screenshot", metavar="OUT.png", help="render the window at 1440x900 to a PNG and exit")
    args = parser.parse_args(argv)
    try:
        from explorer.gui.app import run
    except ImportError as err:
        print(f"error: the app cannot start: {err}", file=sys.stderr)
        return 2
    return run(args.preset, args.screenshot)


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        if not argv or argv[0] not in COMMANDS + ("-h", "--help"):
            return _run_gui(argv)
        args = _parser().parse_args(argv)
        handler = {"report": cmd_report, "compare": cmd_compare, "apply": cmd_apply, "import-hf": cmd_import_hf,
                   "bench": cmd_bench, "sweep": cmd_sweep, "plan": cmd_plan, "export": cmd_export,
                   "schemes": cmd_schemes, "presets": cmd_presets, "desktop-entry": cmd_desktop_entry}[args.command]
        return handler(args)
    except ExplorerError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:               # `explorer report --json | head`: the reader left, not an error
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0
    except (RecursionError, MemoryError) as err:
        print(f"error: input too large or too deeply nested ({type(err).__name__})", file=sys.stderr)
        return 2
    except Exception as err:  # noqa: BLE001 - one line for the user; the traceback only on request
        if os.environ.get("EXPLORER_DEBUG"):
            raise
        print(f"error: internal error {type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''} "
              f"(set EXPLORER_DEBUG=1 for the traceback)", file=sys.stderr)
        return 3


if __name__ == "__main__":
    sys.exit(main())
