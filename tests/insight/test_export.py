"""`explorer export`: a standalone file that builds the same design, count and weights."""

from __future__ import annotations

import dataclasses
import importlib.util
import subprocess
import sys

import pytest

from explorer.analysis import analyze
from explorer.presets import PRESETS_DIR
from explorer.design import yaml_io

torch = pytest.importorskip("torch")


def load_module(path):
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("preset", ["albert-base", "head-sharing", "relaxed-recursion", "lstm-shared-cell",
                                    "universal-transformer", "cross-layer-kv", "factorized-embedding"])
def test_export_round_trip(tmp_path, preset):
    from explorer.torchmodel.export import export_file

    spec = yaml_io.load(PRESETS_DIR / f"{preset}.yaml")
    path = tmp_path / f"{preset.replace('-', '_')}.py"
    export_file(spec, path)
    source = path.read_text()
    assert "explorer" not in [line.split()[1].split(".")[0] for line in source.splitlines()
                              if line.startswith(("import ", "from "))]
    module = load_module(path)
    model = module.build_model(device="meta")
    assert sum(p.numel() for p in model.parameters()) == analyze(spec).params.unique


def test_exported_weights_equal_the_apps_and_it_trains(tmp_path):
    from explorer.torchmodel import build_model
    from explorer.torchmodel.export import export_file
    from explorer.design.strategies import apply_scheme

    spec = apply_scheme(yaml_io.load(PRESETS_DIR / "gpt2-tied.yaml"), "cycle", blocks=2)
    small = dataclasses.replace(spec, settings=dataclasses.replace(spec.settings, d_model=64, n_heads=4, d_ff=128,
                                                                   vocab_size=97, max_positions=32))
    path = tmp_path / "tiny.py"
    export_file(small, path)
    module = load_module(path)
    ours = build_model(small, "cpu", "fp32", seed=3)
    theirs = module.build_model("cpu", torch.float32, seed=3)
    a, b = list(ours.parameters()), list(theirs.parameters())
    assert len(a) == len(b) and all(torch.equal(x, y) for x, y in zip(a, b))
    x = theirs.example_input(2, 16)
    assert torch.allclose(ours(x)["lm_head"], theirs(x)["lm_head"])
    opt = torch.optim.AdamW(theirs.parameters(), lr=1e-3)
    loss = torch.nn.functional.cross_entropy(theirs(x)["lm_head"].reshape(-1, 97), x.reshape(-1))
    loss.backward()
    opt.step()
    assert torch.isfinite(loss)


def test_cli_export_and_run(tmp_path):
    out = tmp_path / "m.py"
    proc = subprocess.run([sys.executable, "-m", "explorer", "export", str(PRESETS_DIR / "tutorial-all-shared.yaml"),
                           "-o", str(out)], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    proc = subprocess.run([sys.executable, str(out)], capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "3,152,384 parameters (expected 3,152,384)" in proc.stdout
