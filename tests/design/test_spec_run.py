"""The optional `run:` section: the batch, sequence length and dtype a design was analysed at,
saved with it, restored on load, used by `report` when no flag overrides it."""

import json

import pytest

from explorer.cli import main
from explorer.errors import SpecError
from explorer.design.edits import builtin_design
from explorer.design import yaml_io
from explorer.design.model import RunShape


def test_round_trip_and_default_left_out(tmp_path):
    spec = builtin_design(2)
    yaml_io.save(spec, tmp_path / "plain.yaml")
    assert "run:" not in (tmp_path / "plain.yaml").read_text() and yaml_io.load(tmp_path / "plain.yaml").run is None
    shaped = spec.replace(run=RunShape(4, 512, "bf16"))
    yaml_io.save(shaped, tmp_path / "shaped.yaml")
    assert yaml_io.load(tmp_path / "shaped.yaml") == shaped


@pytest.mark.parametrize("run,key", [("{batch: 0}", "run.batch"), ("{seq: 1.5}", "run.seq"),
                                     ("{dtype: fp64}", "run.dtype"), ("{batches: 2}", "run.batches"),
                                     ("[8, 128]", "run"), ("{seq: true}", "run.seq")])
def test_bad_run_sections_name_the_key(tmp_path, run, key):
    path = tmp_path / "bad.yaml"
    path.write_text(f"format_version: 1\nstack: [{{kind: block}}]\nrun: {run}\n")
    with pytest.raises(SpecError) as err:
        yaml_io.load(path)
    assert err.value.path == key and str(path) in str(err.value) and "\n" not in str(err.value)


def test_report_uses_the_saved_shape_unless_flags_say_otherwise(tmp_path, capsys):
    path = tmp_path / "shaped.yaml"
    yaml_io.save(builtin_design(2).replace(run=RunShape(4, 256, "bf16")), path)
    assert main(["report", str(path), "--json"]) == 0
    saved = json.loads(capsys.readouterr().out)
    assert main(["report", str(path), "--json", "--batch", "4", "--seq", "256", "--dtype", "bf16"]) == 0
    assert json.loads(capsys.readouterr().out) == saved
    assert main(["report", str(path), "--json", "--seq", "128"]) == 0
    smaller = json.loads(capsys.readouterr().out)
    assert smaller["flops"]["forward"] < saved["flops"]["forward"]
