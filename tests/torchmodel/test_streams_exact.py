"""Exact where layers reach across the stack (issue 22 item 1): a relative position bias computed by
one layer and read by others, K/V one layer computes and another reuses, encoder-decoders with their
own vocabularies, head width 1 and LoRA. Parameters and FLOPs equal torch's on meta, and the training
memory equals what autograd saves, fp32 and bf16, on every design that validates (an adversary's
generator: tests/design/design_strategies.py stream_designs)."""

from __future__ import annotations

import os
import sys

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(__file__)), "design"))
from design_strategies import stream_designs

from explorer.analysis import analyze
from explorer.design import yaml_io
from explorer.design.strategies import apply_scheme
from explorer.presets import resolve
from explorer.torchmodel import build_model
from explorer.torchmodel.saved import saved_activation_bytes
from explorer.torchmodel.verify import verify

torch.set_num_threads(1)
HEAD = "format_version: 1\nmodel: {d_model: 8, n_heads: %d, d_ff: 16, vocab_size: 30, max_positions: 64, " \
       "positional: relative, relative_buckets: 8}\nstack:\n  - {id: e, kind: embedding}\n"
CASES = {
    # a layer reusing K/V keeps its own copy of v on the math path (the bias makes it the math path)
    "bias and kv_from": (2, "  - {id: b0, kind: block, position_bias: true}\n  - {id: b1, kind: block, kv_from: b0}\n"),
    # head width 1: O and its LoRA read one contiguous copy of the attention output
    "head width 1 with LoRA": (8, "  - {id: block0, kind: block, position_bias: true}\n  - {id: block1, kind: block}\n"
                                  "  - {id: block2, kind: block, lora_rank: 2}\n"),
    # two bias holders in one whole-block group: each keeps its own table, in torch as in the analysis
    "two bias holders shared": (2, "  - {id: b0, kind: block, position_bias: true}\n"
                                   "  - {id: b1, kind: block, position_bias: true}\n"),
}


def design(case: str):
    heads, layers = CASES[case]
    text = HEAD % heads + layers + "  - {id: out, kind: lm_head}\n"
    if case == "two bias holders shared":
        text += "groups:\n  - {name: g, members: [b0, b1]}\n"
    return yaml_io.parse_text(text)


def measured(spec, batch, seq, dtype, target=None) -> int:
    model = build_model(spec, "cpu", dtype)
    return saved_activation_bytes(model, model.example_inputs(batch, seq, target))


def check(spec, batch, seq, dtype="fp32", target=None) -> None:
    v = verify(spec, batch, seq, target)
    assert v.ok, v.mismatches()
    report = analyze(spec, batch, seq, dtype, target_seq=target)
    assert report.memory.activations_training == measured(spec, batch, seq, dtype, target)


@pytest.mark.parametrize("dtype", ["fp32", "bf16"])
@pytest.mark.parametrize("case", CASES)
def test_cases_found_by_the_adversary(case, dtype):
    check(design(case), 2, 16, dtype)


def test_t5_with_cross_layer_kv():
    """The design `explorer apply t5-small cross-layer-kv` makes, at test width."""
    from test_activation_memory import small

    spec = apply_scheme(small(yaml_io.load(resolve("t5-small"))), "cross-layer-kv")
    for dtype in ("fp32", "bf16"):
        check(spec, 2, 12, dtype, target=6)


def test_a_decoder_vocabulary_larger_than_the_encoders_runs():
    text = HEAD % 2 + ("  - {id: enc0, kind: block, position_bias: true}\n  - {id: t, kind: embedding, target: true, "
                       "vocab_size: 300}\n  - {id: dec0, kind: cross_block, causal: true, position_bias: true}\n"
                       "  - {id: out, kind: lm_head}\n")
    spec = yaml_io.parse_text(text)
    model = build_model(spec, "cpu")
    source, target = model.example_inputs(2, 5, 4)
    assert int(source.max()) < 30 and int(target.max()) >= 30        # each stream's ids from its own table
    assert model(source, target)["out"].shape[:2] == (2, 4)
    check(spec, 2, 5, target=4)


@settings(max_examples=int(os.environ.get("MEMORY_EXAMPLES", 40)), deadline=None,
          suppress_health_check=list(HealthCheck))
@given(spec=stream_designs(valid=True), batch=st.integers(1, 3), seq=st.integers(1, 6),
       target=st.sampled_from([None, 1, 5]), dtype=st.sampled_from(["fp32", "bf16"]))
def test_every_valid_stream_design_is_exact(spec, batch, seq, target, dtype):
    check(spec, batch, seq, dtype, target if any(x.target for x in spec.layers) else None)
