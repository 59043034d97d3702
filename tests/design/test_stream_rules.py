"""What torch cannot run, or would run as something else, is refused in one line naming the layer and
key (issue 22 item 2): a relative position bias that no layer of the stream holds or that has other
heads, K/V reused across the encoder/decoder boundary or by a causal layer from a bidirectional one,
and an encoder whose output nothing reads. The cross-layer K/V scheme stays inside those rules."""

from __future__ import annotations

import os
import sys

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

sys.path.insert(0, os.path.dirname(__file__))
from design_strategies import designs, stream_designs

from explorer.cli import main
from explorer.design import yaml_io
from explorer.design.strategies import apply_scheme
from explorer.design.validate import problems, validate
from explorer.errors import SpecError

HEAD = "format_version: 1\nmodel: {d_model: 8, n_heads: 2, d_ff: 16, vocab_size: 30, max_positions: 64, " \
       "positional: relative, relative_buckets: 8}\nstack:\n  - {id: e, kind: embedding}\n"

REFUSED = {
    "relative attention without a bias in its stream": (
        "  - {id: a0, kind: attention}\n", "stack[1].positional", "none holds one"),
    "relative moe_block without a bias in its stream": (
        "  - {id: m0, kind: moe_block, n_experts: 2, top_k: 1}\n", "stack[1].positional", "none holds one"),
    "a bias reused with other heads": (
        "  - {id: b0, kind: block, position_bias: true}\n  - {id: b1, kind: block, n_heads: 4}\n",
        "stack[2].n_heads", "'b0', which has 2 heads, but this layer has 4"),
    "K/V across the encoder/decoder boundary": (
        "  - {id: enc0, kind: block, position_bias: true}\n  - {id: t, kind: embedding, target: true}\n"
        "  - {id: dec0, kind: cross_block, causal: true, position_bias: true, kv_from: enc0}\n",
        "stack[3].kv_from", "in the encoder and this layer in the decoder"),
    "a causal layer reading a bidirectional layer's K/V": (
        "  - {id: b0, kind: block, position_bias: true}\n  - {id: b1, kind: block, causal: true, kv_from: b0}\n",
        "stack[2].kv_from", "a causal layer can reuse only a causal layer's K/V"),
    "an encoder whose output nothing reads": (
        "  - {id: enc0, kind: block, position_bias: true}\n  - {id: t, kind: embedding, target: true}\n"
        "  - {id: dec0, kind: block, causal: true, position_bias: true}\n",
        "stack[2].target", "no layer of the decoder reads the encoder's output"),
}


def refused_text(case: str) -> str:
    return HEAD + REFUSED[case][0] + "  - {id: out, kind: lm_head}\n"


@pytest.mark.parametrize("case", REFUSED)
def test_refused_naming_the_layer_and_key(case):
    _layers, path, reason = REFUSED[case]
    with pytest.raises(SpecError) as err:
        validate(yaml_io.parse_text(refused_text(case)))
    assert err.value.path == path
    assert reason in err.value.message
    assert "\n" not in str(err.value)


@pytest.mark.parametrize("command", [["report"], ["report", "--verify"], ["bench", "--iters", "1"],
                                     ["train", "--steps", "1"], ["export", "-o", "{tmp}/m.py"]])
def test_every_command_refuses_alike(tmp_path, capsys, command):
    case = "a causal layer reading a bidirectional layer's K/V"
    path = tmp_path / "design.yaml"
    path.write_text(refused_text(case), encoding="utf-8")
    args = [command[0], str(path)] + [a.replace("{tmp}", str(tmp_path)) for a in command[1:]]
    assert main(args) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and REFUSED[case][1] in err and REFUSED[case][2] in err
    assert not (tmp_path / "m.py").exists()


def test_the_first_bias_holder_and_its_readers_pass():
    text = HEAD + ("  - {id: b0, kind: block, position_bias: true}\n  - {id: a1, kind: attention}\n"
                   "  - {id: b2, kind: block, kv_from: b0}\n  - {id: out, kind: lm_head}\n")
    assert problems(yaml_io.parse_text(text)) == []


@settings(max_examples=int(os.environ.get("STREAM_EXAMPLES", 150)), deadline=None,
          suppress_health_check=list(HealthCheck))
@given(spec=st.one_of(stream_designs(valid=True), designs(rich=True)), every=st.integers(2, 3))
def test_cross_layer_kv_never_makes_a_refused_design(spec, every):
    try:
        out = apply_scheme(spec, "cross-layer-kv", every=every)
    except SpecError:
        return                                   # the scheme does not fit (no attention layers)
    assert problems(out) == []
    validate(out)


def test_cross_layer_kv_on_whole_shared_blocks_says_why_in_words():
    from explorer.presets import resolve

    spec = apply_scheme(yaml_io.load(resolve("tutorial-unshared")), "albert")
    with pytest.raises(SpecError) as err:
        apply_scheme(spec, "cross-layer-kv")
    assert "group 'albert-block' shares its whole attention" in err.value.message
