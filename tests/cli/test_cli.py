"""The `explorer` command line: report, compare, apply; bad input gives one line and exit 2."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from explorer.cli import main
from explorer.presets import PRESETS_DIR
from explorer.design import yaml_io

TUTORIAL = PRESETS_DIR / "tutorial-unshared.yaml"
SHARED = PRESETS_DIR / "tutorial-all-shared.yaml"


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "explorer", *map(str, args)], capture_output=True, text=True,
                          timeout=120)


def test_report_json_has_the_contract_keys(capsys):
    assert main(["report", str(SHARED), "--json", "--batch", "2", "--seq", "64"]) == 0
    data = json.loads(capsys.readouterr().out)
    for key in ("unique", "unshared"):
        assert isinstance(data["params"][key], int)
    for key in ("forward", "attention", "ffn"):
        assert isinstance(data["flops"][key], int)
    assert "memory" in data and data["memory"]["training"]["total"] > data["memory"]["weights"]
    assert data["params"]["unique"] < data["params"]["unshared"]
    assert data["flops"]["forward"] == data["flops"]["unshared_forward"]


def test_report_does_not_import_torch():
    code = ("import sys; from explorer.cli import main; rc = main(['report', sys.argv[1], '--json']); "
            "assert rc == 0; assert 'torch' not in sys.modules and 'PySide6' not in sys.modules, 'imported'")
    proc = subprocess.run([sys.executable, "-c", code, str(TUTORIAL)], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr


def test_report_table_and_verify():
    proc = run_cli("report", SHARED, "--verify")
    assert proc.returncode == 0, proc.stderr
    assert "3,152,384" in proc.stdout and "37,828,608" in proc.stdout
    assert "verified on the meta device" in proc.stdout


def test_verify_mismatch_exits_nonzero(monkeypatch, capsys):
    import explorer.torchmodel as build
    from explorer.torchmodel.verify import Verification

    monkeypatch.setattr(build, "verify", lambda spec, b, s, t=None: Verification(10, 11, 1, 1, 5, 5))
    assert main(["report", str(SHARED), "--verify"]) == 1
    err = capsys.readouterr().err
    assert "parameters: analysis 10 but torch counts 11" in err


def test_compare_json_ratios(capsys):
    assert main(["compare", str(TUTORIAL), str(SHARED), "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)["rows"]
    assert rows["params.unique"]["a"] == 12 * rows["params.unique"]["b"]
    assert rows["params.unique"]["ratio"] == pytest.approx(1 / 12)
    assert rows["flops.forward"]["ratio"] == 1.0


def test_apply_scheme_writes_an_editable_design(tmp_path, capsys):
    out = tmp_path / "cycle.yaml"
    assert main(["apply", str(TUTORIAL), "cycle", "-p", "blocks=3", "-o", str(out)]) == 0
    spec = yaml_io.load(out)
    assert [len(g.members) for g in spec.groups] == [4, 4, 4]
    assert spec.groups[0].members[1].layer == "block3"


def test_apply_unknown_option_is_one_line(tmp_path):
    proc = run_cli("apply", TUTORIAL, "cycle", "-p", "colour=3", "-o", tmp_path / "x.yaml")
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and "colour" in proc.stderr
    assert not (tmp_path / "x.yaml").exists()


def test_schemes_and_presets_listings():
    proc = run_cli("schemes")
    assert proc.returncode == 0 and "cycle-reverse" in proc.stdout
    proc = run_cli("presets")
    assert proc.returncode == 0 and "albert-base.yaml" in proc.stdout


def test_huge_stack_report_is_quick_and_exact(tmp_path):
    path = tmp_path / "deep.yaml"
    path.write_text("format_version: 1\nmodel: {d_model: 12288, n_heads: 96, vocab_size: 50257, max_positions: 2048,"
                    " causal: true}\nstack:\n  - {kind: embedding}\n  - {kind: block, repeat: 96}\n"
                    "  - {kind: norm}\n  - {kind: lm_head, bias: false}\n"
                    "schemes:\n  - {scheme: tie-embeddings}\n")
    proc = run_cli("report", path, "--json")
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    d, v, p, layers = 12288, 50257, 2048, 96
    block = 4 * d * d + 4 * d + 2 * d * 4 * d + 4 * d + d + 4 * d
    assert data["params"]["unique"] == v * d + p * d + layers * block + 2 * d


HOSTILE = {
    "not-yaml.yaml": "model: [unclosed\nstack: {",
    "list.yaml": "- 1\n- 2\n",
    "empty.yaml": "",
    "python-tag.yaml": "format_version: 1\nstack: !!python/object/apply:os.system ['echo pwned']\n",
    "alias-bomb.yaml": "a: &a [x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a]\n"
                       "c: &c [*b, *b, *b, *b, *b, *b, *b, *b]\nd: [*c, *c, *c, *c, *c, *c, *c, *c]\n",
    "deep.yaml": "format_version: 1\nstack: " + "[" * 5000 + "]" * 5000 + "\n",
    "huge.yaml": "format_version: 1\nmodel: {d_model: 100000000000000000000000000000}\nstack: [{kind: block}]\n",
    "negative.yaml": "format_version: 1\nmodel: {d_model: -512}\nstack: [{kind: block}]\n",
    "nan.yaml": "format_version: 1\nmodel: {d_model: .nan}\nstack: [{kind: block}]\n",
    "string-int.yaml": "format_version: 1\nmodel: {n_heads: eight}\nstack: [{kind: block}]\n",
    "unknown-key.yaml": "format_version: 1\nmodel: {d_modle: 512}\nstack: [{kind: block}]\n",
    "missing-kind.yaml": "format_version: 1\nstack: [{id: x}]\n",
    "missing-version.yaml": "stack: [{kind: block}]\n",
    "bad-heads.yaml": "format_version: 1\nmodel: {d_model: 512, n_heads: 7}\nstack: [{kind: block}]\n",
    "bad-group.yaml": "format_version: 1\nmodel: {d_model: 64, n_heads: 4}\nstack: [{kind: block, d_ff: 128}, "
                      "{kind: block}]\ngroups: [{name: g, members: [block0, block1]}]\n",
}


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_hostile_preset_gives_one_line_and_exit_2(tmp_path, name):
    path = tmp_path / name
    path.write_text(HOSTILE[name])
    proc = run_cli("report", path)
    assert proc.returncode == 2, (proc.stdout, proc.stderr)
    assert "Traceback" not in proc.stderr
    assert proc.stderr.count("\n") == 1, proc.stderr
    assert str(path) in proc.stderr
    assert "pwned" not in proc.stdout


def test_binary_and_missing_files(tmp_path):
    junk = tmp_path / "junk.yaml"
    junk.write_bytes(bytes(range(256)) * 10)
    for target in (junk, tmp_path / "nope.yaml", tmp_path):
        proc = run_cli("report", target)
        assert proc.returncode == 2 and proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr


def test_error_messages_name_the_key(tmp_path, capsys):
    path = tmp_path / "g.yaml"
    path.write_text(HOSTILE["bad-group.yaml"])
    assert main(["report", str(path)]) == 2
    err = capsys.readouterr().err
    assert "groups[0].members[1]" in err and "128" in err and "256" in err
    path.write_text(HOSTILE["unknown-key.yaml"])
    assert main(["report", str(path)]) == 2
    assert "model.d_modle" in capsys.readouterr().err


def test_report_device_chooses_whose_kernels_the_training_activations_follow(capsys):
    """--device cuda: attention on CUDA keeps a log-sum-exp and RNG state (padded by the fp32
    kernel), and fp32 GQA falls back to the math path (2.13's memory-efficient kernel has no GQA),
    which keeps the scores; the JSON says which, and an LSTM's figure says it is a lower bound
    there (cuDNN's reserve)."""
    figures = {}
    for device in ("cpu", "cuda"):
        for name in ("gpt2-tied", "gqa", "lstm-shared-cell"):
            assert main(["report", str(PRESETS_DIR / f"{name}.yaml"), "--json", "--device", device]) == 0
            data = json.loads(capsys.readouterr().out)
            assert data["device"] == device
            figures[name, device] = data["memory"]["training"]
    assert figures["gpt2-tied", "cuda"]["activations"] != figures["gpt2-tied", "cpu"]["activations"]
    assert figures["gqa", "cuda"]["activations"] > figures["gqa", "cpu"]["activations"]   # fp32 GQA: math
    assert figures["lstm-shared-cell", "cpu"]["activations_exact"]
    assert not figures["lstm-shared-cell", "cuda"]["activations_exact"]
    assert all(figures[name, device]["activations_exact"] for name in ("gpt2-tied", "gqa")
               for device in ("cpu", "cuda"))
    refused = run_cli("report", PRESETS_DIR / "gqa.yaml", "--device", "tpu")
    assert refused.returncode == 2 and "--device" in refused.stderr
