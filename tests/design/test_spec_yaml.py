"""YAML presets: round trips, hostile input (one clear SpecError, fast), and a key/value fuzz."""

from __future__ import annotations

import copy
import dataclasses
import os
import re
import sys
import time

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

sys.path.insert(0, os.path.dirname(__file__))

from design_strategies import designs, schemed_designs, transformer_stack

from explorer.errors import SpecError
from explorer.design.model import StackSpec
from explorer.design.strategies import apply_scheme
from explorer.design.validate import validate
from explorer.design.yaml_io import dumps, from_dict, load, parse_text, save, to_dict

OK = """format_version: 1
name: café
model: {d_model: 16, n_heads: 4, d_ff: 32, vocab_size: 23, max_positions: 16}
stack:
  - {kind: embedding}
  - {kind: block, id: b, repeat: 4}
  - {kind: lm_head}
groups:
  - {name: g, color: '#4e79a7', members: [b0:ffn, 'b1:ffn', {layer: b2, slot: ffn}]}
"""


def spec_error(fn, *args, limit_s: float = 2.0) -> SpecError:
    """Run fn, expect a one-line SpecError, quickly."""
    start = time.perf_counter()
    with pytest.raises(SpecError) as info:
        fn(*args)
    elapsed = time.perf_counter() - start
    text = str(info.value)
    assert text and "\n" not in text and "Traceback" not in text
    assert len(text) < 400, text
    assert elapsed < limit_s, f"took {elapsed:.2f}s"
    return info.value


def test_ok_preset_parses():
    spec = parse_text(OK)
    assert spec.name == "café"
    assert [x.id for x in spec.layers] == ["embedding0", "b0", "b1", "b2", "b3", "lm_head0"]
    assert [str(m) for m in spec.groups[0].members] == ["b0:ffn", "b1:ffn", "b2:ffn"]
    assert spec.groups[0].color == "#4e79a7"


def test_schemes_in_a_preset_become_groups():
    text = OK.replace("groups:\n  - {name: g, color: '#4e79a7', members: [b0:ffn, 'b1:ffn', {layer: b2, slot: ffn}]}\n",
                      "schemes:\n  - {scheme: cycle, blocks: 2}\n  - {scheme: tie-embeddings}\n")
    spec = parse_text(text)
    assert [[str(m) for m in g.members] for g in spec.groups] == [
        ["b0:block", "b2:block"], ["b1:block", "b3:block"], ["embedding0:embedding", "lm_head0:head"]]
    assert from_dict(to_dict(spec)) == spec


# ----------------------------------------------------------------- round trips


def test_round_trip_of_a_hand_design(tmp_path):
    spec = apply_scheme(apply_scheme(transformer_stack(4), "head-sharing", heads="1:3"), "cross-layer-kv")
    spec = dataclasses.replace(spec, description="line one\nline two: with colon # and hash", name="yes")
    path = tmp_path / "d.yaml"
    save(spec, path)
    assert load(path) == spec
    assert parse_text(dumps(spec)) == spec
    assert not [p for p in os.listdir(tmp_path) if p != "d.yaml"]      # no temp file left behind


names = st.text(max_size=30)


@settings(max_examples=120, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much])
@given(st.one_of(schemed_designs(), schemed_designs(base=designs(rich=True))), names, st.text(max_size=60),
       st.booleans())
def test_round_trip_random_designs(tmp_path_factory, spec, name, description, colored):
    groups = tuple(dataclasses.replace(g, color="#12abEF") for g in spec.groups) if colored else spec.groups
    spec = dataclasses.replace(spec, name=name, description=description, groups=groups)
    path = tmp_path_factory.mktemp("rt") / "design.yaml"
    save(spec, path)
    assert load(path) == spec
    assert from_dict(to_dict(spec)) == spec


def test_text_with_unicode_line_separators_round_trips():
    for text in ("\x85", "a\u2028b", "c\u2029", "tab\there", "ünïcödé ✓", "null", "~", "1e3", "'quote\""):
        spec = dataclasses.replace(transformer_stack(1), name=text, description=text)
        assert parse_text(dumps(spec)) == spec, repr(text)


def test_save_to_a_missing_folder_is_a_spec_error(tmp_path):
    err = spec_error(save, transformer_stack(1), tmp_path / "no" / "such" / "x.yaml")
    assert "cannot write" in str(err)


# ----------------------------------------------------------------- hostile input

BOMB = 'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n' + "".join(
    f"{chr(98 + i)}: &{chr(98 + i)} [" + ",".join([f"*{chr(97 + i)}"] * 9) + "]\n" for i in range(8))


@pytest.mark.parametrize("text, fragments", [
    ("a: [1, 2\nb: }", ["not valid YAML", "line"]),
    ("a:\n\t- b", ["not valid YAML"]),
    ("- 1\n- 2", ["a preset is a mapping", "a list"]),
    ("42", ["a preset is a mapping"]),
    ("", ["got nothing"]),
    (OK.replace("d_model: 16", "d_model: '16'"), ["model.d_model", "expected an integer", "'16'"]),
    (OK.replace("d_model: 16", "d_model: 16.5"), ["model.d_model", "expected an integer", "16.5"]),
    (OK.replace("d_model: 16", "d_model: 16.0"), ["model.d_model", "without a decimal point"]),
    (OK.replace("d_model: 16", "d_model: true"), ["model.d_model", "expected an integer"]),
    (OK.replace("d_model: 16", "d_model: .nan"), ["model.d_model", "finite"]),
    (OK.replace("d_model: 16", "d_model: .inf"), ["model.d_model", "finite"]),
    (OK.replace("d_model: 16", "d_model: -.inf"), ["model.d_model", "finite"]),
    (OK.replace("d_model: 16", "d_model: 16, norm_eps: .nan"), ["model.norm_eps", "finite"]),
    (OK.replace("d_model: 16", "d_model: " + str(10**100)), ["model.d_model", "absurdly large"]),
    (OK.replace("d_model: 16", "d_model: " + "9" * 5000), ["line 3", "5,000 characters"]),
    (OK.replace("d_model: 16", "d_model: -16"), ["model.d_model", "at least 1"]),
    (OK.replace("d_model: 16", "d_model: 0"), ["model.d_model", "at least 1"]),
    (OK.replace("repeat: 4", "repeat: -2"), ["stack[1].repeat"]),
    (OK.replace("repeat: 4", "repeat: " + str(10**100)), ["stack[1].repeat"]),
    (OK.replace("repeat: 4", "repeat: 4.0"), ["stack[1].repeat"]),
    (OK.replace("{kind: block, id: b, repeat: 4}", "{kind: block, id: b, repeat: 4, d_ff: -1}"),
     ["stack[1].d_ff", "at least 1"]),
    (OK.replace("{kind: block, id: b, repeat: 4}", "{kind: block, id: b, repeat: 4, n_heads: yes}"),
     ["stack[1].n_heads", "expected an integer"]),
    (OK.replace("format_version: 1\n", ""), ["format_version", "missing"]),
    (OK.replace("format_version: 1", "format_version: '1'"), ["format_version", "integer"]),
    (OK.replace("format_version: 1", "format_version: 99"), ["format_version", "99", "not supported"]),
    ("format_version: 1\nname: x\n", ["stack", "missing"]),
    (OK.replace("kind: block, ", ""), ["stack[1].kind", "missing"]),
    (OK.replace("kind: block", "kind: blok"), ["stack[1].kind", "did you mean 'block'"]),
    (OK.replace("kind: block", "kind: [1]"), ["stack[1].kind"]),
    (OK + "groupz: []\n", ["groupz", "did you mean 'groups'"]),
    (OK.replace("n_heads", "n_head"), ["model.n_head", "did you mean 'n_heads'"]),
    (OK.replace("repeat: 4", "repeat: 4, d_f: 4"), ["stack[1].d_f", "did you mean 'd_ff'"]),
    (OK.replace("repeat: 4", "repeat: 4, kernel_size: 4"), ["stack[1].kernel_size", "block layer"]),
    (OK + "1: 2\n", ["unknown key"]),
    (OK.replace("members: [b0:ffn", "membrs: [b0:ffn"), ["groups[0].membrs", "did you mean 'members'"]),
    (OK.replace("'#4e79a7'", "red"), ["groups[0].color"]),
    (OK.replace("b0:ffn, 'b1:ffn'", "b0:ffn, 3"), ["groups[0].members[1]"]),
    (OK.replace("b0:ffn, 'b1:ffn'", "b0:ffn, b1:fnn"), ["groups[0].members[1]", "no slot 'fnn'"]),
    (OK.replace("b0:ffn, 'b1:ffn'", "b0:ffn, zz:ffn"), ["groups[0].members[1]", "unknown layer 'zz'"]),
    (OK.replace("b0:ffn, 'b1:ffn'", "b0:ffn, b1:attention"), ["groups[0].members[1]", "b1:attention"]),
    ("!!python/object/apply:os.system ['echo hacked']", ["line 1", "'!!python/object/apply:os.system'", "not allowed"]),
    (OK + "description: !!python/object:builtins.dict {}\n", ["line 10", "'!!python/object:builtins.dict'"]),
    (OK + "description: !!python/name:os.system\n", ["line 10", "'!!python/name:os.system'"]),
    (OK + "description: !!binary aGVsbG8=\n", ["line 10", "'!!binary'", "not allowed"]),
    (OK + "description: !local 1\n", ["line 10", "'!local'", "not allowed"]),
    (BOMB, ["anchors and aliases"]),
    (OK.replace("stack:", "x: &a 1\nstack:"), ["anchors and aliases"]),
    ("[" * 10000 + "]" * 10000, ["nesting deeper"]),
    ("{a: " * 10000 + "1" + "}" * 10000, ["nesting deeper"]),
    ("".join("  " * i + f"k{i}:\n" for i in range(3000)) + "  " * 3000 + "1\n", ["nesting deeper"]),
    ("\x00\x01\x02\xff binary", ["line 1", "U+0000", "not allowed"]),
    (OK + "description: \"\x07\"\n", ["line 10", "U+0007", "not allowed"]),
    ("format_version: 1\nstack: " + "[" * 2000 + "]" * 2000, ["line 2", "nesting deeper than 32"]),
    ("format_version: 1\nstack:\n" + "".join("  " * i + "-\n" for i in range(1, 40)), ["line 34", "nesting deeper"]),
    (OK + "description: 2020-01-01\n", ["description", "expected text"]),
    (OK + "description: " + "x" * 3000 + "\n", ["description", "2000"]),
    (OK + "schemes: [{scheme: albert, groups: 1.5}]\n", ["schemes[0].groups", "integer"]),
    (OK + "schemes: [{scheme: albert, groups: .nan}]\n", ["schemes[0].groups", "finite"]),
    (OK + "schemes: [{scheme: albert, groups: '2'}]\n", ["schemes[0].groups"]),
    (OK + "schemes: [{scheme: albrt}]\n", ["schemes[0].scheme", "did you mean 'albert'"]),
    (OK + "schemes: [{scheme: albert, wat: 1}]\n", ["schemes[0]", "no option 'wat'"]),
    (OK + "schemes: [{scheme: cycle, 1: 2}]\n", ["schemes[0]", "option names"]),
    (OK + "schemes: [{scheme: albert, layers: [b0, zz]}]\n", ["schemes[0].layers[1]", "zz"]),
    (OK + "schemes: [{scheme: albert, layers: [[1]]}]\n", ["schemes[0]"]),
    (OK + "schemes: [{scheme: multi-task, tasks: 100000}]\n", ["schemes[0].tasks"]),
    (OK + "schemes: [{scheme: multi-task, tasks: " + str(10**100) + "}]\n", ["schemes[0].tasks"]),
    (OK + "schemes: [albert]\n", ["schemes[0]"]),
    (OK + "schemes:\n" + "  - {scheme: albert}\n" * 5000, ["schemes", "at most"]),
    (OK + "schemes: {scheme: albert}\n", ["schemes"]),
    ("format_version: 1\nstack: {a: 1}\n", ["stack", "a mapping"]),
    ("format_version: 1\nstack: [block]\n", ["stack[0]", "text"]),
    ("format_version: 1\nmodel: [1]\nstack: []\n", ["model", "a list"]),
    ("format_version: 1\nmodel: {activation: [1]}\nstack: []\n", ["model.activation"]),
    ("format_version: 1\nstack: [{kind: block, kv_from: [1]}]\n", ["stack[0].kv_from"]),
    ("format_version: 1\nstack: [{kind: block, id: 5}]\n", ["stack[0].id"]),
    ("format_version: 1\nstack: [{kind: block, repeat: 4000}, {kind: block, repeat: 100}]\n", ["more than 4096"]),
    ("format_version: 1\nstack: [{kind: norm, task: 4}]\n", ["stack[0].task"]),
])
def test_hostile_text_gives_one_clear_spec_error(text, fragments):
    err = spec_error(parse_text, text)
    for fragment in fragments:
        assert fragment in str(err), str(err)


@pytest.mark.parametrize("payload, fragment", [
    (OK.encode("utf-16"), "not UTF-8"),
    (OK.encode("utf-16-le"), "not UTF-8"),
    (OK.encode("latin-1"), "not UTF-8"),
    (bytes(range(256)) * 16, "not UTF-8"),
    (b"format_version: 1\x00\nstack: []\n", "binary"),
    (b"#" * (10 * 1024 * 1024), "bytes"),
])
def test_hostile_files_give_one_clear_spec_error_naming_the_file(tmp_path, payload, fragment):
    path = tmp_path / "hostile.yaml"
    path.write_bytes(payload)
    err = spec_error(load, path)
    assert str(err).startswith(str(path) + ": ")
    assert fragment in str(err)


def test_directory_and_missing_file(tmp_path):
    err = spec_error(load, tmp_path)
    assert "folder" in str(err) and str(tmp_path) in str(err)
    err = spec_error(load, tmp_path / "nope.yaml")
    assert "cannot read" in str(err)


def test_byte_order_mark_is_fine(tmp_path):
    path = tmp_path / "bom.yaml"
    path.write_bytes(b"\xef\xbb\xbf" + OK.encode())
    assert load(path) == parse_text(OK)


def test_errors_in_files_carry_source_and_path(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text(OK.replace("d_ff: 32", "d_ff: -1"), encoding="utf-8")
    err = spec_error(load, path)
    assert err.source == str(path) and err.path == "model.d_ff"
    assert str(err) == f"{path}: model.d_ff: must be at least 1, got -1"


# ----------------------------------------------------------------- fuzz of a valid preset

PRESET = {
    "format_version": 1,
    "name": "fuzz",
    "description": "a valid preset",
    "model": {"d_model": 16, "n_heads": 4, "d_ff": 32, "vocab_size": 23, "max_positions": 16,
              "activation": "gelu", "positional": "rotary", "n_kv_heads": 2},
    "stack": [{"kind": "embedding", "embedding_norm": True}, {"kind": "block", "id": "b", "repeat": 4},
              {"kind": "attention", "kv_from": "b0"}, {"kind": "pooler"}, {"kind": "lm_head"},
              {"kind": "head", "n_outputs": 3, "task": "token"}],
    "groups": [{"name": "g", "members": ["b0:ffn", "b1:ffn"]}, {"name": "h", "slot": "norm", "members": ["b2", "b3"]}],
    "schemes": [{"scheme": "cycle", "blocks": 1, "layers": ["b2", "b3"]}, {"scheme": "tie-embeddings"}],
}

junk = st.one_of(
    st.none(), st.booleans(), st.integers(-3, 70), st.integers(-10**30, 10**30),
    st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=12),
    st.sampled_from(["block", "ffn", "b0:ffn", "b1:heads[0:2]", "heads[0:2]", "albert", "cycle", "rotary", "swiglu",
                     "token", "b0", "emb", "embedding0", "lm_head0:head", "#4e79a7"]),
    st.lists(st.integers(-2, 5), max_size=3), st.lists(st.sampled_from(["b0", "b1", "b2:ffn"]), max_size=3),
    st.dictionaries(st.sampled_from(["kind", "scheme", "layer", "slot", "x"]), st.integers(0, 3), max_size=2),
)


def _containers(data, out):
    """Every dict and list inside `data`, with itself."""
    out.append(data)
    children = data.values() if isinstance(data, dict) else data
    for child in children:
        if isinstance(child, (dict, list)):
            _containers(child, out)
    return out


@st.composite
def mutated_presets(draw):
    data = copy.deepcopy(PRESET)
    for _ in range(draw(st.integers(1, 4))):
        containers = _containers(data, [])
        target = draw(st.sampled_from(containers))
        op = draw(st.sampled_from(["delete", "rename", "set", "add"]))
        if isinstance(target, dict):
            if not target or op == "add":
                target[draw(st.one_of(st.text(max_size=8), st.sampled_from(
                    ["d_ff", "repeat", "kv_from", "slot", "layers", "n_heads", "id", "groups", "heads"])))] = draw(junk)
                continue
            key = draw(st.sampled_from(sorted(target, key=str)))
            if op == "delete":
                del target[key]
            elif op == "rename":
                target[draw(st.one_of(st.text(max_size=8), st.integers(), st.none()))] = target.pop(key)
            else:
                target[key] = draw(junk)
        else:
            if not target or op == "add":
                target.append(draw(junk))
                continue
            i = draw(st.integers(0, len(target) - 1))
            if op == "delete":
                del target[i]
            else:
                target[i] = draw(junk)
    return data


def test_fuzz_base_preset_is_valid():
    spec = from_dict(copy.deepcopy(PRESET))
    assert len(spec.layers) == 9
    # the cycle over b2, b3 replaces group 'h' (their norms are inside their blocks)
    assert [g.name for g in spec.groups] == ["g", "cycle", "tied-embeddings"]


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(mutated_presets())
def test_fuzz_from_dict_returns_a_valid_design_or_a_spec_error(data):
    try:
        spec = from_dict(data)
    except SpecError as err:
        text = str(err)
        assert text and "\n" not in text
        return
    assert isinstance(spec, StackSpec)
    validate(spec)
    assert from_dict(to_dict(spec)) == spec


# ----------------------------------------------------------------- the project's words, whichever PyYAML

HOSTILE_TEXTS = [case[0] for case in test_hostile_text_gives_one_clear_spec_error.pytestmark[0].args[1]]


def _message(text: str) -> str:
    try:
        parse_text(text)
    except SpecError as err:
        return str(err)
    return "valid"


@pytest.mark.skipif(not hasattr(yaml, "CSafeLoader"), reason="PyYAML built without libyaml")
def test_messages_are_the_same_with_the_c_and_the_python_reader(monkeypatch):
    """libyaml and PyYAML's pure-Python reader word (and limit) things differently; the user reads
    the project's message either way."""
    import explorer.design.safe_yaml as safe_yaml

    monkeypatch.setattr(safe_yaml, "LOADER", yaml.CSafeLoader)
    with_c = [_message(text) for text in HOSTILE_TEXTS]
    monkeypatch.setattr(safe_yaml, "LOADER", yaml.SafeLoader)
    with_python = [_message(text) for text in HOSTILE_TEXTS]
    assert with_c == with_python


LIBRARY_WORDS = "zz-some library's own wording-zz"


def _raise_library_error(*_args, **_kwargs):
    mark = yaml.Mark("<text>", 0, 0, 0, None, None)
    raise yaml.scanner.ScannerError("while scanning", mark, LIBRARY_WORDS, mark)


@pytest.mark.parametrize("text, fragments", [
    ("[" * 2000 + "]" * 2000, ["line 1", "nesting deeper than 32 levels"]),
    ("a: '[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[['\nb: [", ["line 1, column 1", "not valid YAML"]),
    ("a: b\n", ["line 1, column 1", "not valid YAML", "'a: b'"]),
])
def test_a_library_limit_or_error_reads_in_the_projects_words(monkeypatch, text, fragments):
    """Whatever limit or message a PyYAML version has, the user sees the project's wording."""
    monkeypatch.setattr(yaml, "scan", _raise_library_error)
    message = _message(text)
    assert LIBRARY_WORDS not in message
    for fragment in fragments:
        assert fragment in message, message


def test_a_library_load_error_reads_in_the_projects_words(monkeypatch):
    import explorer.design.safe_yaml as safe_yaml

    def load(_text):
        mark = yaml.Mark("<text>", 5, 0, 5, None, None)
        raise yaml.constructor.ConstructorError(None, None, LIBRARY_WORDS, mark)

    monkeypatch.setattr(safe_yaml, "_safe_load", load)
    message = _message(OK)
    assert LIBRARY_WORDS not in message and "line 1, column 6: not valid YAML" in message


yaml_punctuation = st.text(st.sampled_from(list("ab1 :-[]{},'\"#&*!|>?%@`\t\n.")), max_size=40)
LINE_MESSAGE = re.compile(r"^line \d+(, column \d+)?: ")


@settings(max_examples=300, deadline=None)
@given(yaml_punctuation)
def test_broken_text_gets_a_one_line_message_in_the_projects_frame(text):
    """Either a design error naming a key, or 'line N[, column C]: ...' from the screen."""
    message = _message(text)
    assert "\n" not in message and len(message) < 400
    if message.startswith("line "):
        assert LINE_MESSAGE.match(message), message


def test_the_run_section_keeps_the_kernels_device():
    from explorer.design.edits import builtin_design

    text = dumps(builtin_design(2))
    spec = parse_text(text.replace("stack:", "run: {batch: 2, seq: 64, dtype: bf16, device: cuda}\nstack:"))
    assert spec.run.device == "cuda" and "device: cuda" in dumps(spec)
    assert "device" not in dumps(spec.replace(run=dataclasses.replace(spec.run, device="cpu")))
    with pytest.raises(SpecError) as err:
        parse_text(text.replace("stack:", "run: {device: tpu}\nstack:"))
    assert err.value.path == "run.device" and "cpu, cuda" in err.value.message
