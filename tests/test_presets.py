"""Every bundled preset loads, round-trips, and agrees with torch to the last parameter and FLOP."""

from __future__ import annotations

import pytest

from explorer.presets import PRESETS_DIR, preset_paths
from explorer.design import yaml_io

torch = pytest.importorskip("torch")

PRESETS = preset_paths()
REQUIRED = ["tutorial-unshared", "tutorial-all-shared", "albert-base", "albert-ffn", "albert-attention",
            "bert-base"]


def test_presets_are_bundled():
    names = {p.stem for p in PRESETS}
    assert set(REQUIRED) <= names
    assert len(PRESETS) >= 20


@pytest.mark.parametrize("path", PRESETS, ids=lambda p: p.stem)
def test_preset_verifies_against_torch(path, tmp_path):
    from explorer.torchmodel import verify

    spec = yaml_io.load(path)
    assert spec.description and "\n" not in spec.description, "each preset documents itself in one line"
    result = verify(spec, batch=2, seq=64)
    assert result.ok, result.mismatches()
    # save -> load gives an equal design
    out = tmp_path / path.name
    yaml_io.save(spec, out)
    assert yaml_io.load(out) == spec


def test_every_scheme_has_a_preset():
    from explorer.design.strategies import SCHEMES

    text = "\n".join(p.read_text() for p in PRESETS)
    missing = [name for name in SCHEMES if name not in ("unshare", "multi-task") and f"scheme: {name}" not in text]
    assert not missing, f"schemes without a preset: {missing}"
    assert (PRESETS_DIR / "multi-task.yaml").is_file()
