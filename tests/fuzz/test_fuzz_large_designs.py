"""Time to load the largest designs a preset may hold: every bundled preset with each ``repeat``
raised so the stack has about 4000 layers (the limit is 4096), valid, and the same file made
invalid at the end (a failing ``gqa`` scheme). Measured by hand, not in CI: it takes about a
minute. Run with ``FUZZ_SLOW=1`` (see docs/RELIABILITY.md for the figures)."""

from __future__ import annotations

import os
import re
import time

import pytest
from fuzz_stats import record

from explorer.errors import SpecError
from explorer.presets import preset_paths
from explorer.design import yaml_io

pytestmark = pytest.mark.skipif(not os.environ.get("FUZZ_SLOW"), reason="by hand: FUZZ_SLOW=1 (about a minute)")
SCALED = [p for p in preset_paths() if re.search(r"repeat: \d+", p.read_text(encoding="utf-8"))]
GUARD_S = 30.0


@pytest.mark.parametrize("path", SCALED, ids=lambda p: p.name)
@pytest.mark.parametrize("broken", [False, True], ids=["valid", "invalid"])
def test_load_time_of_a_4000_layer_preset(tmp_path, path, broken):
    text = re.sub(r"repeat: \d+", "repeat: 4000", path.read_text(encoding="utf-8"), count=1)
    if broken:
        text = text.rstrip("\n") + "\n" + ("" if "schemes:" in text else "schemes:\n") + \
            "  - {scheme: gqa, n_kv_heads: 7}\n"
    target = tmp_path / path.name
    target.write_text(text, encoding="utf-8")
    start = time.perf_counter()
    try:
        spec = yaml_io.load(target)
        outcome = "ok"
        assert len(spec.layers) >= 4000
    except SpecError as err:
        outcome = "errors"
        assert "\n" not in str(err) and str(target) in str(err)
    elapsed = time.perf_counter() - start
    record("large-" + ("invalid" if broken else "valid"), outcome, elapsed, path.name)
    assert elapsed < GUARD_S


def test_many_schemes_on_a_4000_layer_stack(tmp_path):
    """A 1.5 kB hostile file: 31 schemes over 4000 layers, then one bad scheme. Known limit: the
    one-line error comes only after every scheme has walked the whole stack (~0.5 s each)."""
    text = ("format_version: 1\nmodel: {d_model: 512, n_heads: 8, d_ff: 2048, vocab_size: 32000, "
            "max_positions: 1024}\nstack:\n  - {id: embeddings, kind: embedding}\n"
            "  - {id: step, kind: block, repeat: 4000}\nschemes:\n"
            + "  - {scheme: universal}\n" * 31 + "  - {scheme: gqa, n_kv_heads: 7}\n")
    target = tmp_path / "many-schemes.yaml"
    target.write_text(text, encoding="utf-8")
    start = time.perf_counter()
    with pytest.raises(SpecError) as err:
        yaml_io.load(target)
    elapsed = time.perf_counter() - start
    assert "\n" not in str(err.value) and str(target) in str(err.value)
    record("large-schemes", "errors", elapsed, f"{len(text)} bytes, 32 schemes x 4000 layers")
    assert elapsed < 120
