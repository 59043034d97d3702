"""Mutation fuzz over the TEXT of every bundled preset, through ``yaml_io.load``.

Each mutated file must give a design that validates, or one SpecError whose message is one
line and names the file, within a second (asserted at 2 s, only to catch hangs).
Deterministic: derandomized hypothesis, no example database. ``FUZZ_SCALE=N`` runs N times
as many cases (see docs/RELIABILITY.md for the by-hand counts).
"""

from __future__ import annotations

import time

import fuzz_mutations as mut
import pytest
from fuzz_stats import record
from hypothesis import given
from hypothesis import strategies as st

from explorer.errors import SpecError
from explorer.presets import preset_paths
from explorer.design import yaml_io
from explorer.design.validate import validate

PRESETS = preset_paths()
TEXTS = {p.name: p.read_bytes() for p in PRESETS}
LIMIT_S = 2.0


def check_load(path, family: str, case: str):
    """Load one file: a valid design or one clean SpecError naming the file, quickly."""
    start = time.perf_counter()
    try:
        spec = yaml_io.load(path)
    except SpecError as err:
        elapsed = time.perf_counter() - start
        text = str(err)
        ok = bool(text) and "\n" not in text and "\r" not in text and str(path) in text and "Traceback" not in text
        record(family, "errors" if ok else "failures", elapsed, case)
        assert ok, f"{case}: bad message {text!r}"
    except BaseException as err:        # anything else is a bug: record it, then fail
        elapsed = time.perf_counter() - start
        record(family, "failures", elapsed, case)
        raise AssertionError(f"{case}: {type(err).__name__}: {err}"[:500]) from err
    else:
        elapsed = time.perf_counter() - start
        validate(spec)
        record(family, "ok", elapsed, case)
    if elapsed >= LIMIT_S:          # a hang guard: time it once more before calling it one (noisy CI)
        start = time.perf_counter()
        try:
            yaml_io.load(path)
        except SpecError:
            pass
        elapsed = min(elapsed, time.perf_counter() - start)
    assert elapsed < LIMIT_S, f"{case}: took {elapsed:.2f}s"


def test_every_bundled_preset_is_in_the_fuzz():
    assert len(PRESETS) >= 20
    for path in PRESETS:
        validate(yaml_io.load(path))


@mut.fuzz_settings(600)
@given(name=st.sampled_from(sorted(TEXTS)), steps=mut.mutations(mut.YAML_MUTATORS))
def test_mutated_presets_load_or_give_one_line_naming_the_file(tmp_path_factory, name, steps):
    folder = tmp_path_factory.mktemp("preset-fuzz", numbered=True)
    path = folder / name
    path.write_bytes(mut.apply(TEXTS[name], steps))
    check_load(path, "presets", f"{name}: {mut.describe(steps)}")
    path.unlink()


@pytest.mark.parametrize("name", sorted(TEXTS))
@pytest.mark.parametrize("fn", [mut.truncate, mut.huge_file, mut.reencode, mut.bom, mut.nul_byte,
                                mut.anchors, mut.deep_nesting, mut.numbers],
                         ids=lambda f: f.__name__)
def test_each_preset_under_each_hostile_mutation(tmp_path, name, fn):
    """Every preset meets the named hostile mutations at least once (seed 0), whatever hypothesis draws."""
    path = tmp_path / name
    path.write_bytes(fn(TEXTS[name], mut.random.Random(0)))
    check_load(path, "presets", f"{name}: {fn.__name__}(0)")
