"""What each `explorer` command does: load the design, analyse or run it, print the answer.

The text comes from formatters.py; torch is imported only inside the commands that build a model.
"""

from __future__ import annotations

import json
import sys
from contextlib import contextmanager
from pathlib import Path

from explorer import readouts as formatters
from explorer.errors import BenchError, BuildError, SpecError


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


def _analyze(spec, source: str, batch: int, seq: int, dtype: str, target_seq: int | None = None,
             device: str = "cpu"):
    """analyze(), with the file named in any error about the run shape (e.g. seq > max_positions)."""
    from explorer.analysis import analyze

    with _naming(source):
        return analyze(spec, batch, seq, dtype, target_seq, device)


def _run_shape_of(spec, args) -> None:
    """Fill unset --batch/--seq/--dtype (and --device) from the design's saved run shape (or the
    defaults)."""
    from explorer.design.model import RunShape

    saved = spec.run or RunShape()
    for key in ("batch", "seq", "dtype", "device"):
        if getattr(args, key, "") is None:
            setattr(args, key, getattr(saved, key))


def cmd_report(args) -> int:
    spec = _load(args.preset)
    _run_shape_of(spec, args)
    report = _analyze(spec, args.preset, args.batch, args.seq, args.dtype, args.target_seq, args.device)
    verification = None
    if args.verify:
        from explorer.torchmodel import verify

        with _naming(args.preset):
            verification = verify(spec, args.batch, args.seq, args.target_seq)
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
        print("\n".join(formatters.report_lines(report, verification)))
    if verification is not None and not verification.ok:
        print(f"error: {args.preset}: " + "; ".join(verification.mismatches()), file=sys.stderr)
        return 1
    return 0


def cmd_compare(args) -> int:
    a = _analyze(_load(args.a), args.a, args.batch, args.seq, args.dtype, args.target_seq, args.device)
    b = _analyze(_load(args.b), args.b, args.batch, args.seq, args.dtype, args.target_seq, args.device)
    rows = formatters.compare_rows(a, b)
    if args.json:
        print(json.dumps({
            "a": {"design": a.spec.name, "file": args.a},
            "b": {"design": b.spec.name, "file": args.b},
            "batch": args.batch, "seq": args.seq, "dtype": args.dtype, "device": args.device,
            "rows": {key: {"a": va, "b": vb, "ratio": (vb / va) if va else None} for key, va, vb in rows},
        }, indent=2))
        return 0
    print("\n".join(formatters.compare_lines(a, b, args.a, args.b, rows)))
    return 0


def cmd_apply(args) -> int:
    from explorer.analysis import analyze
    from explorer.design import yaml_io
    from explorer.design.scheme_options import parse_options
    from explorer.design.strategies import apply_scheme

    spec = _load(args.preset)
    options = {}
    for text in args.param:                         # the palette's parser: one KEY=VALUE (or more) each
        for key, value in parse_options(text, "--param").items():
            options[key] = value
    try:
        new = apply_scheme(spec, args.scheme, **options)
    except SpecError as err:
        raise SpecError(err.message, err.path or "scheme", f"{args.preset} ({args.scheme})") from None
    report = analyze(new)
    yaml_io.save(new, args.output)
    print(f"{args.output}: {args.scheme} applied, {formatters.count(len(new.groups), 'group')}, "
          f"{report.params.unique:,} unique parameters ({report.params.saving_factor:.2f}x fewer than unshared)")
    return 0


def cmd_bench(args) -> int:
    from explorer.bench.config import BenchConfig
    from explorer.bench.timing import run_bench

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
    print(spec.name)
    print("\n".join(formatters.bench_readout_lines(result)))
    if result.cancelled and result.design.samples_ms:
        print("stopped before the last iteration")
    return 0


def cmd_train(args) -> int:
    from explorer.cli.progress import TrainProgress
    from explorer.train.adapt import no_sharing_left, scale_down, sharing_lost
    from explorer.train.checkpoint import save_checkpoint
    from explorer.train.engine import TrainConfig, train

    spec = _load(args.preset)
    baseline = None
    if args.baseline:
        with _naming(args.baseline):
            baseline, _notes = scale_down(_load(args.baseline), args.width, args.depth, args.heads, args.vocab,
                                          args.keep_sharing)
    with _naming(args.preset):
        designed = spec
        spec, scaled = scale_down(spec, args.width, args.depth, args.heads, args.vocab, args.keep_sharing)
        if sharing_lost(designed, spec):           # never a silent comparison of a design with itself
            line = no_sharing_left(args.keep_sharing, "--keep-sharing")
            print(f"warning: {args.preset}: {line}", file=sys.stderr)
            scaled = tuple(scaled) + (line,)
        config = TrainConfig(steps=args.steps, batch=args.batch, seq=args.seq, lr=args.lr, seed=args.seed,
                             data=args.data, eval_every=args.eval_every, eval_batches=args.eval_batches,
                             twin=args.twin, device=args.device, dtype=args.dtype)
        progress = None if args.json else TrainProgress()
        models: dict = {}
        try:
            result = train(spec, config, baseline, on_step=progress and progress.on_step,
                           progress=progress and progress.say, keep_models=models if args.save else None)
        finally:
            if progress is not None:
                progress.close()
    result.notes = tuple(scaled) + result.notes
    if args.save and not result.error:
        from explorer.design import yaml_io

        for name, model in models.items():
            # the design as trained (scaled down, an LM head added...) beside its checkpoint, which stores it too
            path = Path(args.save) / f"{name}.safetensors"
            result.checkpoints[name] = (str(path), save_checkpoint(model, path, {"design": spec.name,
                                                                               "series": name}))
            yaml_io.save(model.design_spec, Path(args.save) / f"{name}.yaml")
    if args.json:
        print(json.dumps(result.to_json(), indent=2))
    else:
        print(spec.name)
        print("\n".join(formatters.train_readout_lines(result)))
    if result.error:
        print(f"error: {args.preset}: {result.error}", file=sys.stderr)
        return 1
    return 0


def _emit_rows(args, header: list[str], rows: list[list]) -> None:
    if args.json:
        print(json.dumps([dict(zip(header, r)) for r in rows], indent=2))
    elif args.csv:
        import csv

        writer = csv.writer(sys.stdout)
        writer.writerow(header)
        writer.writerows(rows)
    else:
        print("\n".join(formatters.table_lines(header, rows)))


def cmd_sweep(args) -> int:
    from explorer.analysis import sweeps

    if args.train_steps is not None:
        if not args.schemes:
            raise SpecError("--train-steps trains each scheme: it goes with --schemes", "--train-steps")
        return _sweep_points(args, "train") if args.ray else _sweep_trained(args)
    if args.schemes and args.device:
        return _sweep_points(args, "measure")
    if args.ray:
        raise SpecError("--ray runs measured or trained points: add --device DEV or --train-steps N to --schemes",
                        "--ray")
    if args.only is not None and not args.schemes:
        raise SpecError("--only restricts --schemes", "--only")
    if args.seqs and (args.layers or args.schemes):
        raise SpecError("--seq LIST is a sweep of its own (with --schemes, --seq is the training length and needs "
                        "--train-steps; use --at-seq for the analysis length)", "--seq")
    if not (args.seqs or args.layers or args.schemes):
        raise SpecError("say what to sweep: --seq LIST, --layers LIST or --schemes", "sweep")
    if args.batch is None:
        args.batch = 1
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
    if args.only is not None:
        from explorer.train.sweep import parse_only

        only = parse_only(args.only)
        points = [p for p in points if p.scheme == "current" or p.scheme in only]
    rows = [[p.scheme, p.unique, p.unshared, p.forward, p.training_bytes, p.error] for p in points]
    _emit_rows(args, ["scheme", "unique_params", "unshared_params", "forward_flops", "training_bytes", "error"], rows)
    return 0


def _sweep_trained(args) -> int:
    """`sweep --schemes --train-steps N`: none, the unshared twin and each scheme trained alike."""
    from explorer.train.adapt import scale_down
    from explorer.train.engine import TrainConfig
    from explorer.train.sweep import HEADER, parse_only, train_schemes

    try:
        seq = 64 if args.seqs is None else int(args.seqs)
    except ValueError:
        raise SpecError(f"with --train-steps, --seq is one training length, got {args.seqs!r}", "--seq") from None
    only = parse_only(args.only)
    spec = _load(args.preset)
    with _naming(args.preset):
        spec, scaled = scale_down(spec, args.width, args.depth, args.heads, args.vocab)
        config = TrainConfig(steps=args.train_steps, batch=8 if args.batch is None else args.batch, seq=seq,
                             lr=args.lr, seed=args.seed, data=args.data, eval_every=args.eval_every,
                             device=args.device or "cpu", dtype=args.dtype)
        config.check()
        quiet = args.json or args.csv

        def on_eval(name: str, step: int, loss: float) -> None:
            if not quiet:
                print(f"  {name}: step {step}/{config.steps}, validation loss {loss:.4f}", file=sys.stderr,
                      flush=True)

        result = train_schemes(spec, config, only, on_eval=on_eval)
    rows = [r.row() for r in result.runs]
    if args.json:
        print(json.dumps([dict(zip(HEADER, row)) for row in rows], indent=2))
        return 0
    shown = [[r.scheme, r.params, _fixed(r.final_val, 4), _fixed(r.best_val, 4), _fixed(r.tokens_per_s, 0),
              r.error] for r in result.runs]
    if args.csv:
        import csv

        writer = csv.writer(sys.stdout)
        writer.writerow(HEADER)
        writer.writerows(shown)
        return 0
    print(f"{spec.name}: {len(rows)} rows, each trained {config.steps} steps on {result.data.get('source', args.data)}"
          f" (batch {config.batch} x seq {config.seq}, lr {config.lr:g}, seed {config.seed}, {config.device})")
    for note in tuple(scaled) + tuple(result.notes):
        print(f"  {note}")
    cells = [[("-" if v is None else f"{v:,}" if isinstance(v, int) else str(v)) for v in row] for row in shown]
    widths = [max(len(h), *(len(c[i]) for c in cells)) for i, h in enumerate(HEADER)]
    for values in [HEADER] + cells:         # numbers right-aligned, scheme and error left
        print("  ".join(v.ljust(w) if i in (0, len(HEADER) - 1) else v.rjust(w)
                        for i, (v, w) in enumerate(zip(values, widths))).rstrip())
    return 0


POINT_HEADERS = {"measure": ["scheme", "unique_params", "forward_flops", "median_ms", "where", "error"],
                 "train": ["scheme", "unique_params", "final_val_loss", "best_val_loss", "tokens_per_s", "where",
                           "error"]}


def _sweep_points(args, kind: str) -> int:
    """`sweep --schemes --device DEV` (each scheme timed) or `--train-steps N --ray`: one job per point,
    in this process or, with --ray, one Ray task each; a progress line per finished point."""
    from explorer.cluster import ray_backend
    from explorer.cluster.sweep import scheme_points
    from explorer.train.adapt import scale_down
    from explorer.train.sweep import parse_only

    spec = _load(args.preset)
    only = parse_only(args.only)
    with _naming(args.preset):
        if kind == "train":
            from explorer.train.engine import TrainConfig

            spec, _scaled = scale_down(spec, args.width, args.depth, args.heads, args.vocab)
            seq = 64 if args.seqs is None else int(args.seqs)
            config = TrainConfig(steps=args.train_steps, batch=8 if args.batch is None else args.batch, seq=seq,
                                 lr=args.lr, seed=args.seed, data=args.data, eval_every=args.eval_every,
                                 device=args.device or "cpu", dtype=args.dtype)
            config.check()
            options = {f: getattr(config, f) for f in config.__dataclass_fields__}
        else:
            _analyze(spec, args.preset, args.batch or 1, args.at_seq, args.dtype)
            options = {"device": args.device, "dtype": args.dtype, "batch": args.batch or 1, "seq": args.at_seq,
                       "iters": args.iters, "warmup": 1}
        points, skipped = scheme_points(spec, kind, options, only)
    quiet = args.json or args.csv
    done = [0]

    def on_row(row: dict) -> None:
        done[0] += 1
        if not quiet:
            status = row["error"] or "done"
            print(f"  {row['label']}: {status} ({row.get('where') or '-'}) [{done[0]}/{len(points)}]",
                  file=sys.stderr, flush=True)

    if args.ray:
        rows = ray_backend.run_points(points, args.ray, on_row, num_cpus=args.ray_cpus)
    else:
        rows = ray_backend.run_local(points, on_row)
    header = POINT_HEADERS[kind]
    table = [[r["label"]] + [r.get(h) for h in header[1:]] for r in rows + skipped]
    _emit_rows(args, header, table)
    return 0


def _fixed(value: float | None, digits: int) -> str | None:
    return None if value is None else f"{value:.{digits}f}"


def cmd_plan(args) -> int:
    from explorer.analysis.planner import plan_grid

    spec = _load(args.preset)
    report = _analyze(spec, args.preset, args.micro_batch, args.seq, args.dtype, device="cuda")
    rows = plan_grid(spec, args.gpus, args.micro_batch, args.seq, args.dtype)
    if args.json:
        print(json.dumps([{"setup": r.setup.label, "tp": r.setup.tp, "dp": r.setup.dp, "zero": r.setup.zero,
                           "checkpointing": r.setup.checkpointing, "weights": r.weights, "gradients": r.gradients,
                           "optimizer": r.optimizer, "activations": r.activations, "total": r.total,
                           "fits": r.fits(args.gpu_gib)} for r in rows], indent=2))
        return 0
    print("\n".join(formatters.plan_lines(spec.name, rows, args.gpus, args.gpu_gib, args.micro_batch, args.seq,
                                           args.dtype, report.memory.activations_training_note)))
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
          f"{', ' + formatters.count(len(spec.groups), 'sharing group') if spec.groups else ''}")
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


HANDLERS = {"report": cmd_report, "compare": cmd_compare, "apply": cmd_apply, "import-hf": cmd_import_hf,
            "bench": cmd_bench, "train": cmd_train, "sweep": cmd_sweep, "plan": cmd_plan, "export": cmd_export,
            "schemes": cmd_schemes, "presets": cmd_presets, "desktop-entry": cmd_desktop_entry}
