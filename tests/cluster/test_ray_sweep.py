"""Sweeps on Ray: a local Ray with two workers runs measured and trained scheme sweeps with the
same analysis numbers (and, trained, the same losses) as the in-process run, streams rows as
they finish with where each ran, survives a killed worker (one retry, then one line), refuses
a point from another version in one line, stops on request, and never waits forever."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ray = pytest.importorskip("ray")
pytest.importorskip("torch")

from explorer.cluster import ray_backend
from explorer.cluster.points import Point, run_point
from explorer.cluster.sweep import scheme_points
from explorer.design import yaml_io
from explorer.design.model import LayerSpec, ModelSettings, StackSpec

SPEC = StackSpec(ModelSettings(d_model=32, n_heads=4, d_ff=64, vocab_size=64, max_positions=32, causal=True),
                 (LayerSpec("emb", "embedding"), *(LayerSpec(f"b{i}", "block") for i in range(4)),
                  LayerSpec("out", "lm_head")), name="tiny")
MEASURE = {"device": "cpu", "batch": 1, "seq": 16, "iters": 2, "warmup": 1}
TRAIN = {"steps": 4, "batch": 2, "seq": 16, "eval_every": 2, "eval_batches": 1, "lr": 1e-3, "seed": 0,
         "data": "task:copy", "device": "cpu", "dtype": "fp32"}


@pytest.fixture(scope="module")
def cluster():
    ray_backend.connect("local", num_cpus=2)
    yield
    ray.shutdown()


def _by_label(rows):
    return {r["label"]: r for r in rows}


def test_measured_sweep_matches_the_in_process_run(cluster):
    points, skipped = scheme_points(SPEC, "measure", MEASURE, ["albert", "cycle", "mqa"])
    seen = []
    remote = _by_label(ray_backend.run_points(points, on_row=seen.append))
    local = _by_label(ray_backend.run_local(points))
    assert set(remote) == {"none", "unshared", "albert", "cycle", "mqa"} and len(seen) == len(points)
    for label, row in remote.items():
        assert row["error"] == "" and row["median_ms"] > 0
        assert row["unique_params"] == local[label]["unique_params"]
        assert row["forward_flops"] == local[label]["forward_flops"]
        assert row["where"] and not row["where"].startswith("local") and local[label]["where"].startswith("local")
    assert remote["albert"]["unique_params"] < remote["none"]["unique_params"]


def test_trained_sweep_gives_the_same_losses_as_in_process(cluster):
    """Bit for bit: a Ray task that asks for one CPU runs torch on one thread, so does this process here."""
    import torch

    points, _ = scheme_points(SPEC, "train", TRAIN, ["albert"])
    remote = _by_label(ray_backend.run_points(points))
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        local = _by_label(ray_backend.run_local(points))
    finally:
        torch.set_num_threads(threads)
    for label in ("none", "unshared", "albert"):
        assert remote[label]["error"] == ""
        assert remote[label]["final_val_loss"] == local[label]["final_val_loss"]      # same seed, same batches
        assert remote[label]["unique_params"] == local[label]["unique_params"]


def crash_first_time(payload: dict) -> dict:
    """Kills its worker process the first time it sees a point labelled crash-once (a marker file
    says it happened), and every time for crash-always."""
    marker = Path(payload["options"]["marker"])
    if payload["label"] == "crash-always" or (payload["label"] == "crash-once" and not marker.exists()):
        marker.touch()
        os._exit(1)
    options = {k: v for k, v in payload["options"].items() if k != "marker"}
    return run_point({**payload, "options": options})


def test_a_killed_worker_costs_one_retry_then_one_line(cluster, tmp_path):
    ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])     # the workers cannot import this file
    text = yaml_io.dumps(SPEC)
    options = {**MEASURE, "marker": str(tmp_path / "crashed")}
    points = [Point(label, "measure", text, options) for label in ("crash-once", "fine", "crash-always", "fine2")]
    rows = _by_label(ray_backend.run_points(points, task_fn=crash_first_time, timeout_s=300))
    assert rows["crash-once"]["error"] == "" and rows["crash-once"]["median_ms"] > 0     # the retry ran it
    assert rows["fine"]["error"] == "" and rows["fine2"]["error"] == ""
    error = rows["crash-always"]["error"]
    assert error.startswith("failed after one retry") and "\n" not in error


def test_another_version_is_refused_in_one_line(cluster):
    point = Point("old", "measure", yaml_io.dumps(SPEC), MEASURE, version="0.0.1")
    (row,) = ray_backend.run_points([point])
    assert row["error"].startswith("refused") and "0.0.1" in row["error"] and "\n" not in row["error"]
    bad = Point("bad", "measure", "model: {d_model: -1}\nstack: []\n", MEASURE)
    (row,) = ray_backend.run_points([bad])
    assert row["error"] and "\n" not in row["error"]


def test_stop_cancels_the_rest(cluster):
    text = yaml_io.dumps(SPEC)
    slow = {**MEASURE, "iters": 400, "seq": 32}
    points = [Point(f"p{i}", "measure", text, slow) for i in range(6)]
    rows = []
    result = ray_backend.run_points(points, on_row=rows.append, should_stop=lambda: True)
    assert all(r["error"].startswith("stopped") for r in result)


def test_cli_json_has_where_each_point_ran(cluster, tmp_path):
    preset = tmp_path / "tiny.yaml"
    yaml_io.save(SPEC, preset)
    address = ray.get_runtime_context().gcs_address
    proc = subprocess.run([sys.executable, "-m", "explorer", "sweep", str(preset), "--schemes", "--device", "cpu",
                           "--only", "albert", "--at-seq", "16", "--iters", "2", "--ray", address, "--json"],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    rows = json.loads(proc.stdout)
    assert [r["scheme"] for r in rows] == ["none", "unshared", "albert"]
    assert all(r["where"] and r["error"] == "" and r["median_ms"] > 0 for r in rows)
    local = subprocess.run([sys.executable, "-m", "explorer", "sweep", str(preset), "--schemes", "--device", "cpu",
                            "--only", "albert", "--at-seq", "16", "--iters", "2", "--json"],
                           capture_output=True, text=True, timeout=300)
    assert [(r["scheme"], r["unique_params"], r["forward_flops"]) for r in json.loads(local.stdout)] == \
        [(r["scheme"], r["unique_params"], r["forward_flops"]) for r in rows]


def test_an_unreachable_cluster_is_one_line_and_does_not_hang():
    code = ("from explorer.cluster.ray_backend import connect, ClusterError\n"
            "try:\n    connect('127.0.0.1:1', timeout_s=3)\n"
            "except ClusterError as e:\n    print(e)\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert "cannot reach the Ray cluster" in proc.stdout and proc.stdout.count("\n") == 1
