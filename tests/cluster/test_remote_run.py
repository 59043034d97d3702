"""One timing run on Ray (cluster/remote_run.py): samples stream back while it runs, the result
counts what a local run counts, stop() ends it early, another version is refused in one line."""

from __future__ import annotations

import time
from pathlib import Path

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
    assert ray.get(ref, timeout=60)["result"].cancelled is True
    ray.kill(runner)

    samples, built = [], []
    result, where = remote_run.run_remote(ray, yaml_io.dumps(SPEC), CONFIG, on_sample=samples.append,
                                          on_built=built.append)
    local = run_bench(SPEC, BenchConfig(**CONFIG))
    assert not result.cancelled and where
    assert result.design.params_built == local.design.params_built and result.verified
    assert result.twin.params_built == local.twin.params_built
    assert len([s for s in samples if not s.warmup]) == 2 * CONFIG["iters"]
    assert built and built[0].design.params_built == local.design.params_built
    assert len(result.design.samples_ms) == CONFIG["iters"] == len(result.twin.samples_ms)


def test_stop_ends_a_remote_run_within_an_iteration(cluster):
    samples, asked = [], []

    def should_stop():
        if len(samples) >= 3:
            asked.append(len(samples))
            return True
        return False

    result, _where = remote_run.run_remote(cluster, yaml_io.dumps(SPEC), dict(CONFIG, iters=100000),
                                           on_sample=samples.append, should_stop=should_stop)
    assert result.cancelled is True
    assert len(result.design.samples_ms) < 1000


def test_a_design_from_another_version_is_refused_in_one_line(cluster):
    with pytest.raises(ray_backend.ClusterError) as err:
        remote_run.run_remote(cluster, yaml_io.dumps(SPEC), CONFIG, version="0.0.0-other")
    line = str(err.value)
    assert "\n" not in line and line.startswith("refused") and "0.0.0-other" in line


TRAIN = {"steps": 6, "batch": 2, "seq": 8, "eval_every": 3, "eval_batches": 1, "lr": 1e-3, "seed": 0,
         "data": "task:copy", "device": "cpu", "dtype": "fp32", "twin": True}


def test_training_streams_steps_and_learns_what_a_local_run_learns(cluster):
    from explorer.train.session import train_and_compare

    steps, evals = [], []
    trained = remote_run.train_remote(cluster, yaml_io.dumps(SPEC), TRAIN, ("scaled: nothing",),
                                      on_step=lambda *a: steps.append(a), on_eval=lambda *a: evals.append(a))
    local = train_and_compare(SPEC, TRAIN, ("scaled: nothing",))
    result = trained.result
    assert trained.where and not result.cancelled and result.error is None
    assert result.notes[0] == "scaled: nothing"
    assert [(n, s) for n, s, _loss, _sec in steps] == [(n, s) for s in range(1, 7) for n in ("design", "twin")]
    assert [(n, s) for n, s, _loss, _acc in evals] == [(n, s) for s in (3, 6) for n in ("design", "twin")]
    for name, series in result.series.items():          # same seed, same batches: the same training
        mine = local.result.series[name]
        assert series.params == mine.params
        assert series.train_loss == pytest.approx(mine.train_loss, rel=1e-4)
        assert [loss for _n, _s, loss, _t in steps if _n == name] == series.train_loss
    assert set(trained.cka) == {"design", "twin"} and trained.cka["design"][0] == local.cka["design"][0]


def test_stop_ends_a_remote_training_before_the_next_step(cluster):
    steps = []
    trained = remote_run.train_remote(cluster, yaml_io.dumps(SPEC), dict(TRAIN, steps=100_000),
                                      on_step=lambda *a: steps.append(a), should_stop=lambda: len(steps) >= 4)
    assert trained.result.cancelled and len(trained.result.series["design"].train_loss) < 1000


def test_a_training_from_another_version_is_refused_in_one_line(cluster):
    with pytest.raises(ray_backend.ClusterError) as err:
        remote_run.train_remote(cluster, yaml_io.dumps(SPEC), TRAIN, version="0.0.0-other")
    assert str(err.value).startswith("refused") and "\n" not in str(err.value)


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="finds the actor's process through /proc")
def test_a_run_whose_worker_dies_is_one_line(cluster):
    """The actor's process is killed mid-run (a node lost): the run ends in one line, not a hang."""
    import os
    import signal

    killed = []

    def kill_once(*_step):
        if not killed:
            for entry in Path("/proc").iterdir():       # Ray names an actor's process ray::Runner...
                try:
                    title = (entry / "cmdline").read_bytes().decode(errors="replace")
                except OSError:
                    continue
                if entry.name.isdigit() and title.startswith("ray::Runner"):
                    os.kill(int(entry.name), signal.SIGKILL)
                    killed.append(int(entry.name))

    started = time.monotonic()
    with pytest.raises(ray_backend.ClusterError) as err:
        remote_run.train_remote(cluster, yaml_io.dumps(SPEC), dict(TRAIN, steps=100_000), on_step=kill_once)
    line = str(err.value)
    assert killed and line.startswith("the cluster run was lost (") and "\n" not in line
    assert time.monotonic() - started < 120
