"""Mutation fuzz over Hugging Face config.json texts, through ``import_hf_config``.

The base configs in hf_configs/ were written by transformers' ``save_pretrained`` (5.23.0) for
bert, albert, gpt2, llama (TinyLlama shape), mistral (7B shape) and roberta, and (5.24.0) for
small gemma, mixtral, qwen2_moe and t5 (v1.1) configs. Each mutated file must give a design
that validates, or one SpecError whose message is one line and names the file, within a
second (asserted at 2 s as a hang guard). ``FUZZ_SCALE=N`` scales the count.
"""

from __future__ import annotations

import random
import time
from pathlib import Path

import fuzz_mutations as mut
import pytest
from fuzz_stats import record
from hypothesis import given
from hypothesis import strategies as st

from explorer.errors import SpecError
from explorer.design.hf_import import import_hf_config
from explorer.design.validate import validate

CONFIGS = {p.stem: p.read_bytes() for p in sorted((Path(__file__).parent / "hf_configs").glob("*.json"))}
LIMIT_S = 2.0


def check_import(path, with_head: bool, family: str, case: str):
    start = time.perf_counter()
    try:
        spec = import_hf_config(path, with_head)
    except SpecError as err:
        elapsed = time.perf_counter() - start
        text = str(err)
        ok = bool(text) and "\n" not in text and "\r" not in text and str(path) in text and "Traceback" not in text
        record(family, "errors" if ok else "failures", elapsed, case)
        assert ok, f"{case}: bad message {text!r}"
    except BaseException as err:
        elapsed = time.perf_counter() - start
        record(family, "failures", elapsed, case)
        raise AssertionError(f"{case}: {type(err).__name__}: {err}"[:500]) from err
    else:
        elapsed = time.perf_counter() - start
        validate(spec)
        assert spec.layers
        record(family, "ok", elapsed, case)
    if elapsed >= LIMIT_S:          # a hang guard: time it once more before calling it one (noisy CI)
        start = time.perf_counter()
        try:
            import_hf_config(path, with_head)
        except SpecError:
            pass
        elapsed = min(elapsed, time.perf_counter() - start)
    assert elapsed < LIMIT_S, f"{case}: took {elapsed:.2f}s"


def test_base_configs_import_with_and_without_head():
    assert set(CONFIGS) == {"albert", "bert", "gemma", "gpt2", "llama", "mistral", "mixtral", "qwen2_moe", "roberta",
                            "t5"}
    for name in CONFIGS:
        path = Path(__file__).parent / "hf_configs" / f"{name}.json"
        for with_head in (False, True):
            validate(import_hf_config(path, with_head))


@mut.fuzz_settings(500)
@given(name=st.sampled_from(sorted(CONFIGS)), steps=mut.mutations(mut.JSON_MUTATORS), with_head=st.booleans())
def test_mutated_configs_import_or_give_one_line_naming_the_file(tmp_path_factory, name, steps, with_head):
    path = tmp_path_factory.mktemp("hf-fuzz", numbered=True) / "config.json"
    path.write_bytes(mut.apply(CONFIGS[name], steps))
    check_import(path, with_head, "hf-configs", f"{name} head={with_head}: {mut.describe(steps)}")
    path.unlink()


@pytest.mark.parametrize("name", sorted(CONFIGS))
@pytest.mark.parametrize("fn", [mut.truncate, mut.huge_file, mut.reencode, mut.bom, mut.nul_byte, mut.json_deep,
                                mut.json_numbers, mut.json_value, mut.json_extra, mut.long_line],
                         ids=lambda f: f.__name__)
def test_each_config_under_each_hostile_mutation(tmp_path, name, fn):
    path = tmp_path / "config.json"
    path.write_bytes(fn(CONFIGS[name], random.Random(0)))
    check_import(path, True, "hf-configs", f"{name}: {fn.__name__}(0)")
