"""`explorer compare --device cuda` reads training memory as CUDA's kernels save it, as the GUI's
Compare tab does for a CUDA run shape (issue 22, review)."""

import json

from explorer.analysis import analyze
from explorer.cli import main
from explorer.design import yaml_io
from explorer.design.edits import builtin_design
from explorer.design.strategies import apply_scheme


def test_compare_takes_the_kernels(tmp_path, capsys):
    a, b = builtin_design(2), apply_scheme(builtin_design(2), "albert")
    pa, pb = tmp_path / "a.yaml", tmp_path / "b.yaml"
    yaml_io.save(a, pa)
    yaml_io.save(b, pb)
    for device in ("cuda", "cpu"):
        assert main(["compare", str(pa), str(pb), "--device", device, "--json"]) == 0
        rows = json.loads(capsys.readouterr().out)["rows"]
        assert rows["memory.training"]["a"] == analyze(a, device=device).memory.training
        assert rows["memory.training"]["b"] == analyze(b, device=device).memory.training
    assert analyze(a, device="cuda").memory.training != analyze(a, device="cpu").memory.training
