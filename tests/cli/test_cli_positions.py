"""No torch error reaches the user: positions past their tables, and hostile but valid designs,
through report, --verify, bench, sweep --device and export (exit 0, or exit 2 and one line
naming the file, the key and the reason)."""

from __future__ import annotations

import importlib.util
import json

import pytest

from explorer.cli import main

BASE = "format_version: 1\nname: {name}\nmodel: {{{model}}}\nstack:\n{stack}"
SMALL = "d_model: 16, n_heads: 4, d_ff: 32, vocab_size: 23, max_positions: 16"
LM = ["{kind: embedding}", "{kind: block, repeat: 2}", "{kind: lm_head}"]


def write(tmp_path, name: str, model: str, stack: list[str], extra: str = ""):
    path = tmp_path / f"{name}.yaml"
    path.write_text(BASE.format(name=name, model=model, stack="".join(f"  - {s}\n" for s in stack)) + extra,
                    encoding="utf-8")
    return path


def run(capsys, *argv) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def one_line_error(err: str) -> str:
    lines = [line for line in err.splitlines() if not line.startswith("  ")]     # progress lines are indented
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    assert "internal error" not in err and "Traceback" not in err
    return lines[0]


def import_file(path):
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("positional", ["sinusoidal", "rotary", "none"])
def test_positions_without_a_table_run_past_max_positions(tmp_path, capsys, positional):
    path = write(tmp_path, positional, f"{SMALL}, positional: {positional}", LM)
    code, out, err = run(capsys, "report", path, "--seq", 40, "--verify", "--json")
    assert code == 0, err
    data = json.loads(out)
    assert data["verified"]["ok"] and data["seq"] == 40
    assert data["verified"]["params_torch"] == data["params"]["unique"]
    assert data["verified"]["flops_torch"] == data["flops"]["forward"]
    code, out, err = run(capsys, "bench", path, "--seq", 40, "--iters", 1, "--warmup", 0, "--threads", 1, "--json")
    assert code == 0, err
    assert json.loads(out)["params"]["verified"]
    code, out, err = run(capsys, "sweep", path, "--seq", "8,40", "--device", "cpu", "--iters", 1, "--json")
    assert code == 0, err
    assert [row["seq"] for row in json.loads(out)] == [8, 40]
    model_file = tmp_path / f"{positional}_model.py"
    assert run(capsys, "export", path, "-o", model_file)[0] == 0
    model = import_file(model_file).build_model()
    assert model(model.example_input(2, 40))["hidden"].shape == (2, 40, 16)


@pytest.mark.parametrize("argv", [
    ["report"], ["report", "--verify"], ["report", "--json"], ["compare", "{path}"],
    ["bench", "--iters", "1", "--warmup", "0"], ["plan"], ["sweep", "--seq", "8,40", "--device", "cpu", "--iters", "1"],
    ["sweep", "--seq", "8,40"], ["sweep", "--layers", "2:4:2", "--at-seq", "40"],
    ["sweep", "--schemes", "--at-seq", "40"],
])
def test_a_learned_table_is_refused_past_its_end_in_one_line(tmp_path, capsys, argv):
    path = write(tmp_path, "learned", SMALL, LM)
    argv = [a.replace("{path}", str(path)) for a in argv]
    seq = [] if "--seq" in argv or "--at-seq" in argv else ["--seq", 40]
    code, _out, err = run(capsys, argv[0], path, *argv[1:], *seq)
    assert code == 2
    line = one_line_error(err)
    assert str(path) in line and "seq" in line and "max_positions 16" in line


HOSTILE_VALID = {
    "vocab-1": ("d_model: 8, n_heads: 2, d_ff: 8, vocab_size: 1, max_positions: 64",
                ["{kind: embedding}", "{kind: block}", "{kind: lm_head}", "{kind: head, n_outputs: 1}"]),
    "width-1": ("d_model: 1, n_heads: 1, d_ff: 1, vocab_size: 1, max_positions: 64, positional: sinusoidal",
                ["{kind: embedding}", "{kind: block}", "{kind: conv}", "{kind: lstm}", "{kind: gru}",
                 "{kind: lm_head}"]),
    "odd-sizes": ("d_model: 7, n_heads: 7, d_ff: 3, vocab_size: 5, max_positions: 4, positional: sinusoidal, "
                  "embedding_size: 5",
                  ["{kind: embedding}", "{kind: block, timestep_signal: true}", "{kind: conv, kernel_size: 4}",
                   "{kind: conv, kernel_size: 100, groups: 7}", "{kind: lstm}", "{kind: gru, bias: false}",
                   "{kind: norm}", "{kind: linear}", "{kind: pooler}", "{kind: head, task: token}",
                   "{kind: lm_head, transform: true}"]),
    "head-dim-not-d-over-h": ("d_model: 10, n_heads: 3, head_dim: 4, positional: rotary, n_kv_heads: 1",
                              ["{kind: block, causal: true}", "{kind: block, kv_from: block0}",
                               "{kind: attention, head_dim: 6}"]),
    "low-rank-lora-halting": ("d_model: 8, n_heads: 2, d_ff: 16",
                              ["{kind: block, low_rank: 2, lora_rank: 3, halting: true}",
                               "{kind: block, lora_rank: 1, activation: swiglu, norm: rmsnorm}"]),
    "only-a-head": ("d_model: 8, n_heads: 2", ["{kind: head}"]),
    "sinusoid-table-of-one": ("d_model: 8, n_heads: 2, positional: sinusoidal, max_positions: 1, type_vocab_size: 3",
                              ["{kind: embedding, embedding_norm: true, embedding_size: 3}", "{kind: block}"]),
}


@pytest.mark.parametrize("name", sorted(HOSTILE_VALID))
def test_hostile_but_valid_designs_run_everywhere(tmp_path, capsys, name):
    model, stack = HOSTILE_VALID[name]
    path = write(tmp_path, name, model, stack)
    code, out, err = run(capsys, "report", path, "--seq", 33, "--batch", 2, "--verify", "--json")
    assert code == 0, err
    assert json.loads(out)["verified"]["ok"]
    assert err == ""                                   # not even a torch warning
    for extra in (["--dtype", "bf16"], ["--dtype", "fp16", "--mode", "train", "--twin"]):
        code, out, err = run(capsys, "bench", path, "--seq", 5, "--iters", 1, "--warmup", 0, "--threads", 1,
                             "--json", *extra)
        assert code == 0, err
        assert json.loads(out)["params"]["verified"]
    model_file = tmp_path / "model.py"
    assert run(capsys, "export", path, "-o", model_file)[0] == 0
    built = import_file(model_file).build_model()
    assert sum(p.numel() for p in built.parameters()) == json.loads(
        run(capsys, "report", path, "--json", "--seq", 4)[1])["params"]["unique"]


def test_an_empty_stack_reports_benches_and_exports(tmp_path, capsys):
    path = tmp_path / "empty.yaml"
    path.write_text("format_version: 1\nmodel: {d_model: 8, n_heads: 2}\nstack: []\n", encoding="utf-8")
    assert run(capsys, "report", path, "--verify")[0] == 0
    assert run(capsys, "bench", path, "--iters", 1, "--warmup", 0, "--json")[0] == 0
    assert run(capsys, "export", path, "-o", tmp_path / "m.py")[0] == 0


@pytest.mark.parametrize("argv, fragments", [
    (["--threads", "100000"], ["threads", "100000"]),        # OpenMP crashed the process with that many
    (["--threads", "0"], ["threads"]),
    (["--device", "cuda:-1"], ["unknown device 'cuda:-1'"]),
    (["--device", ""], ["unknown device ''"]),
    (["--device", "cpu:1"], ["'cpu:1'", "not available"]),
])
def test_bad_bench_options_are_one_line_in_the_projects_words(tmp_path, capsys, argv, fragments):
    path = write(tmp_path, "ok", SMALL, LM)
    code, _out, err = run(capsys, "bench", path, "--seq", 4, "--iters", 1, *argv)
    assert code == 2
    line = one_line_error(err)
    assert str(path) in line
    for fragment in fragments:
        assert fragment in line, line


def test_a_bench_failure_names_the_file(tmp_path, capsys, monkeypatch):
    from explorer.bench import timing

    def fail(*_args, **_kwargs):
        raise RuntimeError("some torch failure")

    monkeypatch.setattr(timing, "_step", fail)
    path = write(tmp_path, "ok", SMALL, LM)
    code, _out, err = run(capsys, "bench", path, "--seq", 4, "--iters", 1, "--json")
    assert code == 2
    assert one_line_error(err).startswith(f"error: {path}: ")


def test_verify_turns_a_torch_failure_into_one_line(tmp_path, capsys, monkeypatch):
    import importlib

    verify_module = importlib.import_module("explorer.torchmodel.verify")    # the package also exports a verify()

    def fail(*_args, **_kwargs):
        raise RuntimeError("Attempting to broadcast a dimension\nmore")

    monkeypatch.setattr(verify_module, "torch_flops", fail)
    path = write(tmp_path, "ok", SMALL, LM)
    code, _out, err = run(capsys, "report", path, "--verify", "--seq", 8)
    assert code == 2
    line = one_line_error(err)
    assert line.startswith(f"error: {path}: ") and "meta device" in line and "more" not in line


@pytest.mark.parametrize("name, description", [
    ('quotes """ inside', 'ends with a backslash \\'),
    ("back\\slash \\N{oops} \\x", 'a "quote" and """three"""'),
])
def test_an_exported_file_is_valid_python_whatever_the_name_says(tmp_path, capsys, name, description):
    import yaml

    path = tmp_path / "d.yaml"
    path.write_text("format_version: 1\n" + yaml.safe_dump({"name": name, "description": description})
                    + "model: {d_model: 8, n_heads: 2, max_positions: 4}\nstack: [{kind: embedding}, {kind: block}]\n",
                    encoding="utf-8")
    model_file = tmp_path / "model.py"
    assert run(capsys, "export", path, "-o", model_file)[0] == 0
    module = import_file(model_file)
    assert module.NAME == name and module.__doc__.startswith(f"{name}: {description}")
    assert module.MAX_SEQ == 4
    model = module.build_model()
    assert model(model.example_input(1, 4))["hidden"].shape == (1, 4, 8)
