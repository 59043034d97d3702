"""CLI sweep / plan / report formats show the same figures as the pure functions."""

from __future__ import annotations

import csv
import io
import json

from explorer.analysis import analyze
from explorer.analysis.planner import plan_grid
from explorer.cli import main
from explorer.presets import PRESETS_DIR
from explorer.design import yaml_io

TUTORIAL = PRESETS_DIR / "tutorial-unshared.yaml"


def test_sweep_seq_json_and_sentence(capsys):
    assert main(["sweep", str(TUTORIAL), "--seq", "512,1024,2048", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [r["seq"] for r in rows] == [512, 1024, 2048]
    mid = rows[1]
    assert mid["attention"] == mid["ffn"]
    assert main(["sweep", str(TUTORIAL), "--seq", "512:2048:x2"]) == 0
    assert "equal at n = 1024" in capsys.readouterr().out


def test_sweep_layers_csv(capsys):
    assert main(["sweep", str(TUTORIAL), "--layers", "6,12", "--csv"]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    by = {(r["layers"], r["scheme"]): r for r in rows}
    assert int(by[("12", "unshared")]["unique_params"]) == 12 * int(by[("12", "albert")]["unique_params"])
    assert by[("12", "unshared")]["forward_flops"] == by[("12", "albert")]["forward_flops"]


def test_sweep_schemes_lists_every_scheme(capsys):
    assert main(["sweep", str(TUTORIAL), "--schemes", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert {"albert", "cycle", "head-sharing", "current"} <= {r["scheme"] for r in rows}


def test_bad_sweep_list_is_one_line(capsys):
    assert main(["sweep", str(TUTORIAL), "--seq", "lots"]) == 2
    assert "expected a list" in capsys.readouterr().err


def test_plan_json_equals_plan_grid(capsys):
    path = PRESETS_DIR / "gqa.yaml"
    assert main(["plan", str(path), "--gpus", "4", "--micro-batch", "2", "--seq", "1024", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    expected = plan_grid(yaml_io.load(path), 4, 2, 1024, "bf16")
    assert [r["total"] for r in rows] == [e.total for e in expected]


def test_report_csv_and_markdown(capsys):
    assert main(["report", str(TUTORIAL), "--csv"]) == 0
    rows = {r["metric"]: r for r in csv.DictReader(io.StringIO(capsys.readouterr().out))}
    report = analyze(yaml_io.load(TUTORIAL))
    assert int(rows["params.unique"]["design"]) == report.params.unique
    assert int(rows["flops.forward"]["unshared_twin"]) == report.flops.forward
    assert main(["report", str(PRESETS_DIR / "tutorial-all-shared.yaml"), "--markdown"]) == 0
    text = capsys.readouterr().out
    assert "| parameters | 3,152,384 | 37,828,608 | 12.00x |" in text


def test_sweep_seq_with_measured_time(capsys, tmp_path):
    import pytest

    pytest.importorskip("torch")
    path = tmp_path / "tiny.yaml"
    path.write_text("format_version: 1\nmodel: {d_model: 32, n_heads: 4, positional: none}\nstack:\n"
                    "  - {kind: block, repeat: 2}\n")
    assert main(["sweep", str(path), "--seq", "8,16", "--device", "cpu", "--iters", "2", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [r["seq"] for r in rows] == [8, 16] and all(r["measured_median_ms"] > 0 for r in rows)


def test_scheme_table_left_aligns_text_without_trailing_blanks_and_gqa_differs_from_mqa(capsys):
    from explorer.cli import main

    assert main(["sweep", "tutorial-unshared", "--schemes"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert all(line == line.rstrip() for line in lines)
    rows = {line.split()[0]: line.split()[1:] for line in lines[1:]}
    assert lines[0].startswith("scheme ") and rows["gqa"] != rows["mqa"]


def test_bench_progress_counts_warm_up_apart():
    from explorer.bench.config import BenchConfig
    from explorer.bench.timing import run_bench
    from explorer.design.edits import builtin_design

    import dataclasses

    said = []
    design = builtin_design(1)
    spec = design.replace(settings=dataclasses.replace(design.settings, d_model=32, n_heads=2, d_ff=64, vocab_size=100))
    run_bench(spec, BenchConfig(iters=5, warmup=3, seq=8, threads=1), on_progress=said.append)
    steps = [s for s in said if s.startswith(("warm-up", "iteration"))]
    assert steps == [f"warm-up {i}/3" for i in (1, 2, 3)] + [f"iteration {i}/5" for i in range(1, 6)]
