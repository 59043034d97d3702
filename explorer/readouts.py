"""Text of the command line's answers and of the app's readouts (Timing and Train tabs): below both.

Pure: strings from reports and results, no torch and no Qt, so `explorer report` and the
GUI thread import it at once. The timing readout is one function, `bench_readout_lines`,
that `explorer bench` prints and the Timing tab shows, so the two cannot drift apart.
"""

from __future__ import annotations

from explorer.fmt import nbytes

COMPONENTS = ("attention", "ffn", "embedding", "head", "other")


def count(n: int, noun: str) -> str:
    """'1 group', '3 groups' (no thousands separator, unlike explorer.fmt.plural)."""
    return f"{n} {noun}{'' if n == 1 else 's'}"


def ratio(a: float, b: float) -> str:
    """a / b as '2.50x', or '-' when b is zero."""
    if not b:
        return "-"
    return f"{a / b:.2f}x"


# ---------------------------------------------------------------- report and compare
def report_lines(report, verification=None) -> list[str]:
    """`explorer report`: the design beside its unshared twin, then the groups and torch's check."""
    spec, p, f, m = report.spec, report.params, report.flops, report.memory
    tw = report.twin_flops
    lines = [f"{spec.name}: {spec.description}" if spec.description else spec.name,
             f"{len(spec.layers)} layers, batch {report.batch} x seq {report.seq}"
             + (f" (target {report.target_seq})" if report.target_seq is not None else "") + f", {report.dtype}", ""]
    lines.append(f"{'':24}{'design':>18}{'unshared twin':>18}{'twin/design':>14}")
    lines.append(f"{'parameters':24}{p.unique:>18,}{p.unshared:>18,}{ratio(p.unshared, p.unique):>14}")
    lines.append(f"{'  unique tensors':24}{p.unique_tensors:>18,}")
    if p.active != p.unique:
        lines.append(f"{'  active (per token)':24}{p.active:>18,}{report.twin_params.active:>18,}")
    lines.append(f"{'  weights (' + report.dtype + ')':24}{nbytes(m.weights):>18}"
                 f"{nbytes(report.twin_memory.weights):>18}")
    lines.append(f"{'forward FLOPs':24}{f.forward:>18,}{tw.forward:>18,}{ratio(tw.forward, f.forward):>14}")
    for comp in COMPONENTS:
        if f.by_component[comp] or tw.by_component[comp]:
            lines.append(f"{'  ' + comp:24}{f.by_component[comp]:>18,}{tw.by_component[comp]:>18,}")
    lines.append(f"{'  element-wise (est.)':24}{f.elementwise:>18,}")
    lines.append(f"{'memory, inference':24}{nbytes(m.inference):>18}{nbytes(report.twin_memory.inference):>18}")
    lines.append(f"{'  activations (est.)':24}{nbytes(m.activations_inference):>18}"
                 f"{'':18}  largest layer's working set: an estimate")
    if m.kv_cache:
        lines.append(f"{'  KV cache':24}{nbytes(m.kv_cache):>18}{nbytes(report.twin_memory.kv_cache):>18}")
    if m.kept_caches:
        lines.append(f"{'  kept caches':24}{nbytes(m.kept_caches):>18}{nbytes(report.twin_memory.kept_caches):>18}"
                     f"  weights assembled from shared slices, kept between passes")
    lines.append(f"{'memory, training (Adam)':24}{nbytes(m.training):>18}{nbytes(report.twin_memory.training):>18}")
    label = "  activations" if m.activations_training_exact else "  activations (est.)"
    lines.append(f"{label:24}{nbytes(m.activations_training):>18}"
                 f"{nbytes(report.twin_memory.activations_training):>18}  saved for backward, with the LM loss "
                 f"(as torch's {'CUDA' if report.device == 'cuda' else 'CPU'} kernels save it; "
                 f"{'--device cpu' if report.device == 'cuda' else '--device cuda'} for the other: docs/memory.md)"
                 + ("" if m.activations_training_exact else f"; {m.activations_training_note}"))
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


def compare_rows(a, b) -> list[tuple[str, int, int]]:
    """(metric, A, B) for `explorer compare`, in its order; the JSON and the table both read them."""
    return [
        ("params.unique", a.params.unique, b.params.unique),
        ("params.unshared", a.params.unshared, b.params.unshared),
        ("flops.forward", a.flops.forward, b.flops.forward),
        *[(f"flops.{c}", a.flops.by_component[c], b.flops.by_component[c]) for c in COMPONENTS],
        ("memory.weights", a.memory.weights, b.memory.weights),
        ("memory.inference", a.memory.inference, b.memory.inference),
        ("memory.training", a.memory.training, b.memory.training),
    ]


def compare_lines(a, b, file_a: str, file_b: str, rows: list[tuple[str, int, int]]) -> list[str]:
    """`explorer compare`: both designs named, then one row per metric with B/A (`*` where they differ)."""
    lines = [f"A: {a.spec.name} ({file_a})", f"B: {b.spec.name} ({file_b})",
             f"batch {a.batch} x seq {a.seq}, {a.dtype}", "", f"{'':22}{'A':>20}{'B':>20}{'B/A':>10}"]
    for key, va, vb in rows:
        mark = "" if va == vb else "  *"
        lines.append(f"{key:22}{va:>20,}{vb:>20,}{ratio(vb, va):>10}{mark}")
    return lines


# ---------------------------------------------------------------- tables of rows
def table_lines(header: list[str], rows: list[list]) -> list[str]:
    """Rows as aligned text: numbers right-aligned, text left-aligned, no trailing blanks."""
    cells = [[f"{v:,}" if isinstance(v, int) else str(v) for v in r] for r in rows]
    numeric = [bool(rows) and all(isinstance(r[i], (int, float)) for r in rows) for i in range(len(header))]
    widths = [max(len(h), *(len(c[i]) for c in cells)) for i, h in enumerate(header)]

    def line(values: list[str]) -> str:
        return "  ".join(v.rjust(w) if right else v.ljust(w)
                         for v, w, right in zip(values, widths, numeric)).rstrip()

    return [line(header)] + [line(c) for c in cells]


def plan_lines(spec_name: str, rows, gpus: int, gpu_gib: float, micro_batch: int, seq: int, dtype: str,
               note: str = "") -> list[str]:
    """`explorer plan`: memory per GPU (GiB) of each parallel setup, and whether it fits (`note`: why the
    activations are not exact, e.g. cuDNN's RNN reserve left out; "" when they are)."""
    gib = 1 << 30
    lines = [f"{spec_name}: {count(gpus, 'GPU')} of {gpu_gib:g} GiB, micro-batch {micro_batch} x seq {seq}, {dtype}",
             f"{'setup':30}{'weights':>10}{'grads':>10}{'optim':>10}{'activ':>10}{'total GiB':>11}  fits"]
    for r in rows:
        lines.append(f"{r.setup.label:30}{r.weights / gib:>10.2f}{r.gradients / gib:>10.2f}{r.optimizer / gib:>10.2f}"
                     f"{r.activations / gib:>10.2f}{r.total / gib:>11.2f}  {'yes' if r.fits(gpu_gib) else 'no'}")
    lines.append("activ: saved for backward as torch's CUDA kernels save it (docs/memory.md)"
                 + (f"; {note}" if note else ""))
    return lines


# ---------------------------------------------------------------- timing runs
def bench_readout_lines(result, baseline: tuple[str, float] | None = None) -> list[str]:
    """A timing run (bench.results.BenchResult), live or final: timing, torch's counts checked
    against the analysis, memory (in train mode, the bytes saved for backward measured beside the
    analysis's figure), and the run's device and shape. `explorer bench` prints these
    lines; the Timing tab shows them, with `baseline` = (label, median ms) of a pinned run."""
    d, t = result.design, result.twin
    lines = []
    if d.samples_ms:
        lines.append(_series_line("design", d, result))
        if t is not None and t.samples_ms:
            lines.append(_series_line("unshared twin", t, result) + f" · design/twin {d.median_ms / t.median_ms:.3f}")
        if baseline is not None:
            lines.append(f"vs pinned baseline {baseline[0]} ({baseline[1]:.2f} ms): {d.median_ms / baseline[1]:.3f}")
    elif result.cancelled:
        lines.append("no measured iterations (stopped during warm-up)")
    else:
        lines.append("built; timing…")
    saved = bench_saved_line(result)
    return lines + [bench_counts_line(result), bench_memory_line(result), *([saved] if saved else []),
                    bench_run_line(result)]


def _series_line(label: str, series, result) -> str:
    line = (f"{label} {series.median_ms:.2f} ms median (p10 {series.percentile(0.1):.2f}, "
            f"p90 {series.percentile(0.9):.2f}, {len(series.samples_ms)} passes) · "
            f"{result.tokens_per_s(series):,.0f} tokens/s · {result.tflops(series):.3f} TFLOP/s")
    frac = result.peak_fraction(series)
    if frac is not None:
        line += f" · {100 * frac:.1f}% of bf16 peak"
    return line


def bench_counts_line(result) -> str:
    """Parameters and tensors torch built, checked against the analysis."""
    d, t = result.design, result.twin
    check = "verified" if result.verified else "MISMATCH"
    line = (f"built {d.params_built:,} parameters in {d.unique_tensors} tensors ({check} against the "
            f"analysis {result.params_analysis:,})")
    if t is not None:
        line += f"; twin {t.params_built:,} in {t.unique_tensors} tensors"
    return line


def bench_memory_line(result) -> str:
    """The weights' memory measured (and by the analysis), a pass's extra on CUDA, the process's peak."""
    d, t = result.design, result.twin
    cuda = result.config.device.startswith("cuda")
    where = "CUDA allocated" if cuda else "torch storages"
    line = f"weights ({where}): design {nbytes(d.weights_bytes)} (analysis {nbytes(result.weights_analysis)})"
    if t is not None:
        line += f", twin {nbytes(t.weights_bytes)} (analysis {nbytes(result.twin_weights_analysis)})"
    if cuda and d.activation_peak_bytes and result.config.mode != "train":    # train: on the saved line
        line += f"; a pass adds up to {nbytes(d.activation_peak_bytes)}"
        if t is not None:
            line += f" (twin {nbytes(t.activation_peak_bytes)})"
    if result.resident_peak_delta_bytes is not None:
        line += (f"; process resident peak +{nbytes(result.resident_peak_delta_bytes)} over the run "
                 f"(models, inputs and passes{', both series' if t is not None else ''})")
    return line


def bench_saved_line(result) -> str | None:
    """Train mode: the bytes autograd saved for backward in one training forward, measured beside
    the analysis's figure (measured / analysis), and on CUDA the most a training step allocated
    above what it started with. None in forward mode, or before the measurement."""
    d, t = result.design, result.twin
    if result.config.mode != "train" or d.saved_bytes_measured is None:
        return None

    def pair(series) -> str:
        text = f"measured {nbytes(series.saved_bytes_measured)}, analysis {nbytes(series.saved_bytes_analysis or 0)}"
        if series.saved_bytes_analysis:
            text += f" ({series.saved_bytes_measured / series.saved_bytes_analysis:.3f})"
        return text

    line = f"activations saved for backward: {pair(d)}"
    if t is not None and t.saved_bytes_measured is not None:
        line += f"; twin {pair(t)}"
    if result.config.compile:
        line += " (measured on the eager model)"
    if result.config.device.startswith("cuda") and d.activation_peak_bytes:
        line += f"; a training step adds up to {nbytes(d.activation_peak_bytes)} allocated"
        if t is not None:
            line += f" (twin {nbytes(t.activation_peak_bytes)})"
    return line


def bench_run_line(result) -> str:
    """Where and how the run timed: device, dtype, batch x seq, mode, compiled or not."""
    c = result.config
    return (f"{result.device_name} · {c.dtype} · batch {c.batch} x seq {c.seq} · {c.mode}"
            f"{' · torch.compile' if c.compile else ''}")


# ---------------------------------------------------------------- training
def equal_time_lines(result) -> list[str]:
    """The validation loss of every series at the training time the quickest took in all; a series
    with no evaluation within that time shows "-" and a line saying why."""
    equal = result.equal_time_val()
    quickest = min(result.series, key=lambda n: result.series[n].seconds)
    budget = result.series[quickest].seconds
    lines = [f"validation loss at equal training time ({budget:.2f} s, {quickest}'s whole run): "
             + ", ".join(f"{n} {'-' if v is None else format(v, '.3f')}" for n, v in equal.items())]
    for name, value in equal.items():
        if value is not None:
            continue
        series, first = result.series[name], result.series[name].first_val_seconds()
        if first is None:
            why = series.diverged or "it was never evaluated"
        else:
            why = (f"its first validation (step {first[0]}) came after {first[1]:.2f} s of training; "
                   f"validate more often (--eval-every) for a figure")
        lines.append(f"  {name} -: no validation within {budget:.2f} s: {why}")
    return lines


def train_readout_lines(result) -> list[str]:
    """`explorer train` and the Train tab: per series the final and best validation loss (and task
    accuracy), the train/validation gap, tokens/s and unique parameters; then the validation loss
    at equal steps and at equal training time, and what was adapted for training."""
    lines = [f"data: {result.data.get('source')}  ·  {result.objective}  ·  {result.config.steps} steps of "
             f"{result.config.batch} x {result.config.seq}  ·  seed {result.config.seed}"]
    header = f"{'':10}{'params':>14}{'final val':>11}{'best val':>10}{'gap':>8}{'tokens/s':>11}"
    tasks = any(s.val_accuracy for s in result.series.values())
    lines.append(header + (f"{'accuracy':>10}" if tasks else ""))

    def num(x, fmt=".3f"):
        return "-" if x is None else format(x, fmt)

    for name, s in result.series.items():
        row = (f"{name:10}{s.params:>14,}{num(s.final_val):>11}{num(s.best_val):>10}{num(s.gap, '+.3f'):>8}"
               f"{s.tokens_per_s:>11,.0f}")
        if tasks:
            row += f"{num(s.val_accuracy[-1][1] if s.val_accuracy else None, '.1%'):>10}"
        lines.append(row)
        if s.params_added:
            lines.append(f"{'':10}  of which {s.params_added:,} in layers added for training")
        if s.length_generalization:
            g = s.length_generalization
            lines.append(f"{'':10}  at twice the length ({g['seq']}): val {num(g['val_loss'])}, "
                         f"accuracy {num(g['accuracy'], '.1%')}")
        if s.diverged:
            lines.append(f"{'':10}  {s.diverged}")
    if len(result.series) > 1:
        lines += equal_time_lines(result)
    for name, (path, size) in result.checkpoints.items():
        lines.append(f"checkpoint {name}: {path} ({nbytes(size)})")
    lines += [f"note: {n}" for n in result.notes]
    if result.cancelled:
        lines.append("stopped before the last step")
    return lines
