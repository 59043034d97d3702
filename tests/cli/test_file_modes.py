"""Files the CLI writes keep their mode: a new one follows the umask (0644 under 022), an existing one
keeps its own (0640 stays 0640), as QSaveFile and a plain open(path, "w") do; the writes stay atomic
(explorer.fileio.write_atomic: a temporary file renamed over the target)."""

from __future__ import annotations

import io
import json
import os
import stat
from contextlib import redirect_stderr, redirect_stdout

import pytest

from explorer.cli.entry import main
from explorer.design import yaml_io
from explorer.design.edits import builtin_design
from explorer.fileio import write_atomic


def file_mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def _cli(*argv) -> None:
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        rc = main([str(a) for a in argv])
    assert rc == 0, err.getvalue()


def _new_then_existing(path, write) -> None:
    """`write()` creates `path` 0644; after chmod 0640, `write()` again leaves it 0640 (and the folder
    holds no temporary file)."""
    write()
    assert file_mode(path) == 0o644
    os.chmod(path, 0o640)
    write()
    assert file_mode(path) == 0o640
    assert sorted(p.name for p in path.parent.iterdir() if p.name.startswith(".")) == []


def test_write_atomic_follows_the_umask_and_keeps_a_mode(tmp_path, umask_022):
    path = tmp_path / "a.txt"
    _new_then_existing(path, lambda: write_atomic(path, "text"))
    os.umask(0o077)
    write_atomic(tmp_path / "b.txt", b"bytes")
    assert file_mode(tmp_path / "b.txt") == 0o600
    with pytest.raises(ZeroDivisionError):
        write_atomic(path, lambda tmp: 1 / 0)     # a failed write leaves the old file and no temporary file
    assert path.read_text() == "text" and file_mode(path) == 0o640 and len(list(tmp_path.iterdir())) == 2


def test_apply_and_import_hf_outputs(tmp_path, umask_022):
    design = tmp_path / "d.yaml"
    yaml_io.save(builtin_design(2), design)
    out = tmp_path / "applied" / "out.yaml"
    out.parent.mkdir()
    _new_then_existing(out, lambda: _cli("apply", design, "albert", "-o", out))
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"model_type": "bert", "hidden_size": 32, "num_hidden_layers": 1,
                                  "num_attention_heads": 2, "intermediate_size": 64, "vocab_size": 50,
                                  "max_position_embeddings": 16}))
    imported = tmp_path / "imported" / "bert.yaml"
    imported.parent.mkdir()
    _new_then_existing(imported, lambda: _cli("import-hf", config, "-o", imported))


def test_export_and_train_save(tmp_path, umask_022):
    pytest.importorskip("torch")
    design = tmp_path / "d.yaml"
    yaml_io.save(builtin_design(1), design)
    exported = tmp_path / "export" / "model.py"
    exported.parent.mkdir()
    _new_then_existing(exported, lambda: _cli("export", design, "-o", exported))
    folder = tmp_path / "ck"
    run = ("train", design, "--steps", "1", "--batch", "1", "--seq", "8", "--eval-every", "1", "--eval-batches", "1",
           "--width", "16", "--heads", "2", "--save", folder, "--data", "task:copy")
    _cli(*run)
    written = sorted(p.name for p in folder.iterdir())
    assert written == ["design.safetensors", "design.yaml"]
    assert all(file_mode(folder / name) == 0o644 for name in written)
    for name in written:
        os.chmod(folder / name, 0o640)
    _cli(*run)
    assert all(file_mode(folder / name) == 0o640 for name in written)
    assert sorted(p.name for p in folder.iterdir()) == written
