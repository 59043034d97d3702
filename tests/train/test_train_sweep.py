"""`explorer sweep --schemes --train-steps N`: none, the unshared twin and every scheme trained with
one TrainConfig (same data, seed and batches), a row each; a scheme that does not apply keeps its
one-line reason; --only restricts the schemes; a stop ends the sweep."""

from __future__ import annotations

import csv
import io
import json

import pytest

torch = pytest.importorskip("torch")

from explorer.analysis.params import count_params
from explorer.cli import main
from explorer.design import yaml_io
from explorer.design.model import unshared_twin
from explorer.design.strategies import SCHEMES, apply_scheme
from explorer.presets import PRESETS_DIR
from explorer.train.adapt import scale_down, trainable
from explorer.train.engine import TrainConfig, train
from explorer.train.sweep import NONE, TWIN, parse_only, scheme_candidates, train_schemes

torch.set_num_threads(1)

TUTORIAL = PRESETS_DIR / "tutorial-unshared.yaml"        # 12 blocks, no sharing
ALBERT = PRESETS_DIR / "albert-base.yaml"                # all layers share one block
TINY = ["--width", "32", "--depth", "2", "--heads", "2", "--seq", "16", "--batch", "2"]


@pytest.fixture
def text(tmp_path):
    path = tmp_path / "data.txt"
    path.write_bytes(b"def f(x):\n    return x * 2 + 1\n" * 400)
    return str(path)


def sweep_json(capsys, *argv):
    assert main(["sweep", *map(str, argv), "--json"]) == 0, capsys.readouterr().err
    return json.loads(capsys.readouterr().out)


def scaled(path):
    return scale_down(yaml_io.load(path), 32, 2, 2)[0]


def test_every_scheme_and_none_trained_on_the_same_batches(capsys, text):
    rows = sweep_json(capsys, TUTORIAL, "--schemes", "--train-steps", 4, *TINY, "--data", text)
    names = [r["scheme"] for r in rows]
    assert names == [NONE, TWIN] + [s for s in SCHEMES if s != "unshare"]
    assert set(rows[0]) >= {"scheme", "unique_params", "final_val_loss", "best_val_loss", "tokens_per_s", "error"}
    by = {r["scheme"]: r for r in rows}
    # no sharing in the design: "none" and its twin are the same model on the same batches
    assert by[NONE]["final_val_loss"] == by[TWIN]["final_val_loss"]
    assert by[NONE]["unique_params"] == by[TWIN]["unique_params"]
    spec = scaled(TUTORIAL)
    for name, row in by.items():
        if row["error"]:
            continue
        design = spec if name == NONE else unshared_twin(spec) if name == TWIN else apply_scheme(spec, name)
        assert row["unique_params"] == count_params(trainable(design, 256, 17).spec).unique, name
        assert row["best_val_loss"] <= row["final_val_loss"] and row["tokens_per_s"] > 0
    assert by["albert"]["unique_params"] < by[NONE]["unique_params"]
    # a scheme that does not apply is a row with its reason, not a crash
    assert by["expert-bank"]["unique_params"] is None and "mixture-of-experts" in by["expert-bank"]["error"]
    # the same config trained alone gives the same losses: every row saw the same batches
    alone = train(apply_scheme(spec, "albert"), TrainConfig(steps=4, batch=2, seq=16, data=text))
    assert alone.series["design"].final_val == by["albert"]["final_val_loss"]


def test_only_the_albert_variants_beside_no_sharing(capsys, text):
    rows = sweep_json(capsys, ALBERT, "--schemes", "--only", "albert,albert-ffn,albert-attention",
                      "--train-steps", 3, *TINY, "--data", text)
    by = {r["scheme"]: r for r in rows}
    assert list(by) == [NONE, TWIN, "albert", "albert-ffn", "albert-attention"]
    assert not any(r["error"] for r in rows)
    # the preset is all-shared already: "none" is ALBERT, the twin has no sharing
    assert by[NONE]["final_val_loss"] == by["albert"]["final_val_loss"]
    p = {name: r["unique_params"] for name, r in by.items()}
    assert p["albert"] < p["albert-ffn"] < p[TWIN] and p["albert"] < p["albert-attention"] < p[TWIN]


def test_text_and_csv_tables(capsys, text):
    argv = ["sweep", str(TUTORIAL), "--schemes", "--only", "albert", "--train-steps", "2", *TINY, "--data", text]
    assert main(argv) == 0
    captured = capsys.readouterr()
    lines = captured.out.splitlines()
    header = next(i for i, line in enumerate(lines) if line.startswith("scheme"))
    assert lines[header].split() == ["scheme", "unique_params", "final_val_loss", "best_val_loss", "tokens_per_s",
                                     "error"]
    assert [line.split()[0] for line in lines[header + 1:]] == [NONE, TWIN, "albert"]
    assert "validation loss" in captured.err                  # progress on stderr
    assert main(argv + ["--csv"]) == 0
    rows = list(csv.reader(io.StringIO(capsys.readouterr().out)))
    assert rows[0][:2] == ["scheme", "unique_params"] and [r[0] for r in rows[1:]] == [NONE, TWIN, "albert"]


@pytest.mark.parametrize("argv, words", [
    (["--schemes", "--only", "albert,nope", "--train-steps", "2"], "nope"),
    (["--layers", "2,4", "--train-steps", "2"], "--schemes"),
    (["--schemes", "--train-steps", "2", "--seq", "16,32"], "one training length"),
    (["--schemes", "--seq", "16"], "--train-steps"),
    ([], "--schemes"),
])
def test_bad_combinations_are_one_line(capsys, argv, words):
    assert main(["sweep", str(TUTORIAL), *argv]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and words in err


def test_only_also_restricts_the_analysis_sweep(capsys):
    rows = sweep_json(capsys, TUTORIAL, "--schemes", "--only", "albert,cycle")
    assert [r["scheme"] for r in rows] == ["current", "albert", "cycle"]


def test_candidates_and_a_stop(text):
    spec = scaled(TUTORIAL)
    assert parse_only("albert, gqa") == ["albert", "gqa"]
    names = [c.scheme for c in scheme_candidates(spec, ["gqa"])]
    assert names == [NONE, TWIN, "gqa"]
    seen = []
    result = train_schemes(spec, TrainConfig(steps=3, batch=2, seq=16, data=text), ["albert", "gqa"],
                           on_run=seen.append, should_stop=lambda: len(seen) >= 2)
    assert result.cancelled and [r.scheme for r in result.runs] == [NONE, TWIN] == [r.scheme for r in seen]
