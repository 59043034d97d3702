"""Every scheme option of a preset's ``schemes:`` list with values of every YAML type, through
``yaml_io.load``: a valid design or one SpecError naming the file and the option.

Regression: ``{scheme: multi-task, task: [1]}`` put a list into a layer and validate() then
raised TypeError (unhashable) out of ``load``, so the app's open and ``explorer report`` failed
with an internal error (fixed in ``strategies.apply_scheme``, which checks the layers a scheme made)."""

from __future__ import annotations

import inspect
import time

import pytest
from fuzz_stats import record

from explorer.errors import SpecError
from explorer.design import yaml_io
from explorer.design.strategies import SCHEMES
from explorer.design.validate import validate

HEAD = """format_version: 1
model: {d_model: 64, n_heads: 4, d_ff: 128, vocab_size: 100, max_positions: 64}
stack:
  - {id: emb, kind: embedding}
  - {id: b, kind: block, repeat: 6}
  - {id: head, kind: lm_head}
schemes:
"""
VALUES = ["[1]", "{a: 1}", "'x'", "-1", "0", "100000", "1.5", ".nan", ".inf", "true", "null", "[b0, b1]",
          "[b0, b0]", "[zz]", "b0", "2001-01-01", "!!binary aGk=", "[[1]]", "''", "ffn", "[ffn]", "[1, 2]",
          "999999999999999999999", str(10 ** 100), "[sequence]", "{sequence: 1}", "!!set {a}"]


def _options(name):
    return [p for p in inspect.signature(SCHEMES[name].fn).parameters if p != "spec"] + ["bogus"]


@pytest.mark.parametrize("name", sorted(SCHEMES))
def test_every_scheme_option_with_every_value_type(tmp_path, name):
    path = tmp_path / f"{name}.yaml"
    problems = []
    for option in _options(name):
        for value in VALUES:
            path.write_text(HEAD + f"  - {{scheme: {name}, {option}: {value}}}\n", encoding="utf-8")
            case = f"{name} {option}: {value}"
            start = time.perf_counter()
            try:
                validate(yaml_io.load(path))
                outcome = "ok"
            except SpecError as err:
                text = str(err)
                # the option (schemes[0].X) or, when the scheme ran, the part of the design it broke
                outcome = "errors" if text and "\n" not in text and str(path) in text else "failures"
                if outcome == "failures":
                    problems.append(f"{case}: {text}")
            except Exception as err:  # noqa: BLE001 - any other exception is the bug this test is for
                outcome = "failures"
                problems.append(f"{case}: {type(err).__name__}: {err}")
            record("scheme-opts", outcome, time.perf_counter() - start, case)
    assert not problems, "\n".join(problems[:20])
