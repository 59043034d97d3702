"""A report as CSV rows or a Markdown summary (pure; the JSON form is Report.to_json())."""

from __future__ import annotations

import csv
import io

from explorer.analysis.report import Report

COMPONENTS = ("attention", "ffn", "embedding", "head", "other")


def report_rows(report: Report) -> list[tuple[str, int, int]]:
    """(metric, design, unshared twin) rows, exact integers."""
    p, f, tf, m, tm = report.params, report.flops, report.twin_flops, report.memory, report.twin_memory
    rows = [("params.unique", p.unique, p.unshared),
            ("params.unique_tensors", p.unique_tensors, report.twin_params.unique_tensors),
            ("flops.forward", f.forward, tf.forward)]
    rows += [(f"flops.{c}", f.by_component[c], tf.by_component[c]) for c in COMPONENTS]
    rows += [("memory.weights", m.weights, tm.weights), ("memory.kv_cache", m.kv_cache, tm.kv_cache),
             ("memory.inference", m.inference, tm.inference), ("memory.training", m.training, tm.training)]
    return rows


def to_csv(report: Report) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["metric", "design", "unshared_twin"])
    writer.writerows(report_rows(report))
    return out.getvalue()


def _mib(n: int) -> str:
    return f"{n / (1 << 20):,.1f} MiB"


def to_markdown(report: Report) -> str:
    spec, p, f, tf = report.spec, report.params, report.flops, report.twin_flops
    lines = [f"# {spec.name}", "", spec.description or "", "",
             f"{len(spec.layers)} layers; batch {report.batch} x seq {report.seq}; {report.dtype}.", "",
             "| | design | unshared twin | twin / design |", "|---|---:|---:|---:|",
             f"| parameters | {p.unique:,} | {p.unshared:,} | {p.saving_factor:.2f}x |",
             f"| forward FLOPs | {f.forward:,} | {tf.forward:,} | {tf.forward / f.forward if f.forward else 1:.2f}x |"]
    for c in COMPONENTS:
        if f.by_component[c] or tf.by_component[c]:
            lines.append(f"| &nbsp; {c} | {f.by_component[c]:,} | {tf.by_component[c]:,} | |")
    m, tm = report.memory, report.twin_memory
    lines += [f"| weights ({report.dtype}) | {_mib(m.weights)} | {_mib(tm.weights)} | |",
              f"| inference memory | {_mib(m.inference)} | {_mib(tm.inference)} | |",
              f"| training memory (Adam) | {_mib(m.training)} | {_mib(tm.training)} | |", ""]
    if p.per_group:
        lines += ["| sharing group | members | elements each | saved |", "|---|---:|---:|---:|"]
        lines += [f"| {g.name} | {g.members} | {g.numel:,} | {g.saved:,} |" for g in p.per_group]
        lines.append("")
    lines.append("Sharing divides parameters, weights and optimizer state; FLOPs and activations stay those "
                 "of every executed layer.")
    return "\n".join(lines) + "\n"
