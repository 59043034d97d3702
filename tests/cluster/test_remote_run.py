"""One timing run on Ray (cluster/remote_run.py): samples stream back while it runs, the result
counts what a local run counts, stop() ends it early, another version is refused in one line."""

from __future__ import annotations

import time

import pytest

ray = pytest.importorskip("ray")
pytest.importorskip("torch")

from explorer.bench.config import BenchConfig  # noqa: E402
from explorer.bench.timing import run_bench  # noqa: E402
from explorer.cluster import ray_backend, remote_run  # noqa: E402
from explorer.design import yaml_io  # noqa: E402
from explorer.design.model import LayerSpec, ModelSettings, StackSpec  # noqa: E402

SPEC = StackSpec(ModelSettings(d_model=32, n_heads=4, d_ff=64, vocab_size=64, max_positions=32, causal=True),
                 (LayerSpec("emb", "embedding"), *(LayerSpec(f"b{i}", "block") for i in range(4)),
                  LayerSpec("out", "lm_head")), name="tiny")
CONFIG = {"device": "cpu", "batch": 1, "seq": 16, "iters": 5, "warmup": 1, "twin": True}


@pytest.fixture(scope="module")
def cluster():
    started = not ray.is_initialized()
    ray_backend.connect("local", num_cpus=2)
    yield ray
    if started:
        ray.shutdown()


def test_samples_stream_while_it_runs_and_the_counts_match_a_local_run(cluster):
    ray = cluster
    runner = remote_run.actor_class(ray).options(num_cpus=1).remote()
    ref = runner.run.remote(remote_run.payload(yaml_io.dumps(SPEC), dict(CONFIG, iters=400)))
    seen, deadline = [], time.monotonic() + 120
    while not seen and time.monotonic() < deadline:
        seen += [v for k, v in ray.get(runner.poll.remote(), timeout=30) if k == "sample"]
        time.sleep(0.05)
    assert seen and not ray.wait([ref], timeout=0)[0]          # samples came while the run went on
    ray.get(runner.stop.remote(), timeout=30)
    assert ray.get(ref, timeout=60)["result"]["cancelled"] is True
    ray.kill(runner)

    samples, built = [], []
    result = remote_run.run_remote(ray, yaml_io.dumps(SPEC), CONFIG, on_sample=samples.append,
                                   on_built=built.append)
    local = run_bench(SPEC, BenchConfig(**CONFIG))
    assert not result["cancelled"] and result["where"]
    assert result["params"]["built"] == local.design.params_built and result["params"]["verified"]
    assert result["twin"]["params"]["built"] == local.twin.params_built
    assert len([s for s in samples if not s["warmup"]]) == 2 * CONFIG["iters"]
    assert built and built[0]["params"]["built"] == local.design.params_built
    rebuilt = remote_run.result_from_dict(result)
    assert rebuilt.design.samples_ms == result["timing"]["samples_ms"] and rebuilt.verified


def test_stop_ends_a_remote_run_within_an_iteration(cluster):
    samples, asked = [], []

    def should_stop():
        if len(samples) >= 3:
            asked.append(len(samples))
            return True
        return False

    result = remote_run.run_remote(cluster, yaml_io.dumps(SPEC), dict(CONFIG, iters=100000),
                                   on_sample=samples.append, should_stop=should_stop)
    assert result["cancelled"] is True
    assert len(result["timing"]["samples_ms"]) < 1000


def test_a_design_from_another_version_is_refused_in_one_line(cluster):
    with pytest.raises(ray_backend.ClusterError) as err:
        remote_run.run_remote(cluster, yaml_io.dumps(SPEC), CONFIG, version="0.0.0-other")
    line = str(err.value)
    assert "\n" not in line and line.startswith("refused") and "0.0.0-other" in line
