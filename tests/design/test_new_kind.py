"""Adding a layer kind touches its module, its torch half and one registry line, nothing else.

A copy of the package gets a throw-away kind (LayerScale: h * gamma, one tensor, its own slot);
in that copy the kind's layers validate, share, count exactly against torch on meta, save for
backward what the analysis says, export to the standalone file, and get a card with its chip.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

pytest.importorskip("torch")

ROOT = Path(__file__).resolve().parents[2]

KIND_MODULE = '''
"""A learned per-channel scale (LayerScale, CaiT): h * gamma."""

from __future__ import annotations

from explorer.kinds.base import CardChip, LayerKind, TensorSpec


class LayerScale(LayerKind):
    def tensors(self, d) -> list[TensorSpec]:
        return [TensorSpec("scale.gamma", (d.d_model,), "other")]

    def flops(self, d, f) -> tuple[dict[str, int], int]:
        return {}, f.n * d.d_model

    def card(self, d) -> tuple[CardChip, ...]:
        return (CardChip("scale", "scale"),)


KIND = LayerScale("layerscale", frozenset(), {"block": ("*",), "scale": ("scale",)}, "per-channel learned scale",
                  trunk=True)
'''

TORCH_HALF = '''
"""LayerScale's torch half."""

from __future__ import annotations

from torch import nn

from explorer.torchmodel.runtime import Runner, runner


class Scale(nn.Module):
    def __init__(self, gamma) -> None:
        super().__init__()
        self.gamma = gamma

    def forward(self, h):
        return h * self.gamma


@runner("layerscale")
class LayerScaleRunner(Runner):
    @staticmethod
    def make(cfg, params, parts, dtype):
        return Scale(params["scale.gamma"])
'''

DESIGN = '''
format_version: 1
name: layerscale-test
model: {d_model: 32, n_heads: 4, d_ff: 64, vocab_size: 50}
stack:
  - {id: emb, kind: embedding}
  - {id: b0, kind: block}
  - {id: s0, kind: layerscale}
  - {id: b1, kind: block}
  - {id: s1, kind: layerscale}
  - {id: out, kind: norm}
  - {id: lm, kind: lm_head}
groups:
  - {name: scales, members: ["s0:scale", "s1:scale"]}
'''

CHECK = '''
import importlib.util, sys
import torch
from explorer.analysis import analyze
from explorer.design import yaml_io
from explorer.torchmodel import build_model
from explorer.torchmodel.export import export_file
from explorer.torchmodel.saved import saved_activation_bytes
from explorer.torchmodel.verify import verify

spec = yaml_io.load(sys.argv[1])
report = analyze(spec, 2, 8)
model = build_model(spec, "cpu")
assert sum(p.numel() for p in model.parameters()) == report.params.unique
assert report.params.unique == report.params.unshared - 32          # one gamma shared by two layers
assert model.runners[2].core.gamma is model.runners[4].core.gamma
check = verify(spec)
assert check.ok, check
saved = saved_activation_bytes(model, model.example_inputs(2, 8))
assert saved == report.memory.activations_training, (saved, report.memory.activations_training)
export_file(spec, sys.argv[2])
s = importlib.util.spec_from_file_location("exported", sys.argv[2])
m = importlib.util.module_from_spec(s)
s.loader.exec_module(m)
net = m.build_model()
assert sum(p.numel() for p in net.parameters()) == report.params.unique
assert net(torch.randint(0, 50, (2, 8)))["lm"].shape == (2, 8, 50)
from explorer.gui.card_layout import card_infos
infos = card_infos(spec, report.plan, 900.0, "scales")
chips = [str(c.slot) for c in infos[2].chips]
assert chips == ["scale"], chips
assert infos[2].styles[infos[2].chips[0].slot].group == "scales"
# a capability declared on the kind alone: as a trunk layer, a scaled-down run's depth counts it
from explorer.train.adapt import scale_down
small, _notes = scale_down(spec, depth=2)
assert [x.id for x in small.layers] == ["emb", "b0", "s0", "out", "lm"], [x.id for x in small.layers]
print("ok")
'''


def test_a_new_kind_is_its_module_its_torch_half_and_one_registry_line(tmp_path):
    copy = tmp_path / "explorer"
    shutil.copytree(ROOT / "explorer", copy, ignore=shutil.ignore_patterns("__pycache__"))
    before = {p.relative_to(copy): p.read_bytes() for p in copy.rglob("*.py")}
    (copy / "kinds" / "layerscale.py").write_text(textwrap.dedent(KIND_MODULE).lstrip())
    (copy / "kinds" / "layerscale_torch.py").write_text(textwrap.dedent(TORCH_HALF).lstrip())
    registry = copy / "kinds" / "__init__.py"
    text = registry.read_text()
    text = text.replace("from explorer.kinds import attention,", "from explorer.kinds import layerscale\n"
                        "from explorer.kinds import attention,", 1)
    assert "    norm.KIND,\n" in text
    registry.write_text(text.replace("    norm.KIND,\n", "    norm.KIND,\n    layerscale.KIND,\n", 1))
    after = {p.relative_to(copy): p.read_bytes() for p in copy.rglob("*.py")}
    touched = {str(p) for p in after if before.get(p) != after[p]}
    assert touched == {"kinds/layerscale.py", "kinds/layerscale_torch.py", "kinds/__init__.py"}

    design = tmp_path / "layerscale.yaml"
    design.write_text(textwrap.dedent(DESIGN).lstrip())
    env = dict(os.environ, PYTHONPATH=str(tmp_path), QT_QPA_PLATFORM="offscreen")
    run = subprocess.run([sys.executable, "-c", CHECK, str(design), str(tmp_path / "exported.py")],
                         cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0 and run.stdout.strip().endswith("ok"), run.stdout + run.stderr
    cli = subprocess.run([sys.executable, "-m", "explorer", "report", str(design), "--verify"], cwd=tmp_path,
                         env=env, capture_output=True, text=True, timeout=300)
    assert cli.returncode == 0 and "verified on the meta device" in cli.stdout, cli.stdout + cli.stderr
    # and the package itself does not know the kind: the copy is what changed
    stock = subprocess.run([sys.executable, "-m", "explorer", "report", str(design)], cwd=ROOT,
                           capture_output=True, text=True, timeout=300)
    assert stock.returncode != 0 and "layerscale" in stock.stderr
