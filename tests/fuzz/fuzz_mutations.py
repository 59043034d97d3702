"""Byte- and line-level mutations of preset YAML and config.json texts, for the fuzz tests.

Every mutator is ``fn(data: bytes, rnd: random.Random) -> bytes``; hypothesis draws which
mutators run and the seed of each, so a failing case shrinks to a short list of
(mutator, seed) pairs and replays exactly.

Scale: ``FUZZ_SCALE=N`` multiplies every test's example count (CI runs with 1).
"""

from __future__ import annotations

import os
import random
import re

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

SCALE = max(1, int(os.environ.get("FUZZ_SCALE", "1")))


def fuzz_settings(examples: int):
    """Deterministic (derandomized, no example database), bounded, no per-example deadline:
    the tests measure time themselves and only guard against hangs."""
    return settings(max_examples=examples * SCALE, derandomize=True, database=None, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                           HealthCheck.filter_too_much])


def _lines(data: bytes) -> list[bytes]:
    return data.splitlines(keepends=True) or [b""]


def _pos(data: bytes, rnd: random.Random) -> int:
    return rnd.randrange(len(data) + 1)


_WINDOW = 16_384


def _spots(regex, data: bytes, rnd: random.Random) -> list:
    """Matches of regex in data, or in a random 16 kB window of a big text (keeps mutating fast)."""
    if len(data) <= _WINDOW:
        return list(regex.finditer(data))
    start = rnd.randrange(len(data) - _WINDOW + 1)
    return list(regex.finditer(data, start, start + _WINDOW))


# ----------------------------------------------------------------------------- generic

def delete_line(data, rnd):
    lines = _lines(data)
    del lines[rnd.randrange(len(lines))]
    return b"".join(lines)


def duplicate_line(data, rnd):
    lines = _lines(data)
    i = rnd.randrange(len(lines))
    lines.insert(rnd.randrange(len(lines) + 1), lines[i])
    return b"".join(lines)


def swap_lines(data, rnd):
    lines = _lines(data)
    i, j = rnd.randrange(len(lines)), rnd.randrange(len(lines))
    lines[i], lines[j] = lines[j], lines[i]
    return b"".join(lines)


_SPECIAL = b":{}[]-,'\"#&*!|>%@`?\t\\ \n0123456789.eE+~"


def flip_chars(data, rnd):
    out = bytearray(data)
    for _ in range(rnd.randint(1, 4)):
        if not out:
            break
        i = rnd.randrange(len(out))
        choice = rnd.random()
        if choice < 0.5:
            out[i] = rnd.choice(_SPECIAL)
        elif choice < 0.8:
            out[i] = rnd.randrange(32, 127)
        else:
            out[i] ^= 1 << rnd.randrange(8)      # may leave invalid UTF-8
    return bytes(out)


def insert_bytes(data, rnd):
    chunk = rnd.choice([b"\x00", b"\xff\xfe", b"\xc3", b"\xe2\x80\xa8", b"\xc2\x85", b"\r", b"\t", b"\x1b[2J",
                        "é€😀".encode(), b"\xef\xbb\xbf", b"\x7f"])
    i = _pos(data, rnd)
    return data[:i] + chunk + data[i:]


def reindent(data, rnd):
    lines = _lines(data)
    i = rnd.randrange(len(lines))
    if rnd.random() < 0.5:
        lines[i] = b" " * rnd.randint(1, 6) + lines[i]
    else:
        lines[i] = lines[i].lstrip(b" ")
    return b"".join(lines)


def truncate(data, rnd):
    return data[:rnd.randrange(len(data) + 1)]


def bom(data, rnd):
    return b"\xef\xbb\xbf" + data


def nul_byte(data, rnd):
    i = _pos(data, rnd)
    return data[:i] + b"\x00" + data[i:]


def reencode(data, rnd):
    text = data.decode("utf-8", "replace")
    return text.encode(rnd.choice(["utf-16", "utf-16-le", "utf-16-be", "utf-32", "latin-1", "cp1252"]),
                       "replace")


def long_line(data, rnd):
    """A very long key or value (100 kB .. 900 kB) on a new line or inside one."""
    n = rnd.choice([100_000, 400_000, 900_000])
    blob = rnd.choice([b"k", b"x", "é".encode(), b"9"]) * n
    lines = _lines(data)
    i = rnd.randrange(len(lines) + 1)
    lines.insert(i, blob + (b": 1\n" if rnd.random() < 0.5 else b"\n"))
    return b"".join(lines)


def huge_file(data, rnd):
    """Past the size caps (1 MiB presets, 4 MiB configs): 3 MB, or 5 MB."""
    n = rnd.choice([3_000_000, 5_000_000])
    filler = rnd.choice([b"#", b" ", b"a"])
    return data + b"\n" + filler * n + b"\n"


def many_items(data, rnd):
    """Just under the size cap but with very many tokens or lines."""
    kind = rnd.randrange(3)
    if kind == 0:
        return data + b"\nextra: [" + b"1," * 400_000 + b"1]\n"
    if kind == 1:
        return data + b"\n" + b"# comment\n" * 90_000
    return data + b"\n" + b"- 1\n" * 200_000


# ----------------------------------------------------------------------------- YAML specific

_YAML_VALUES = [
    b"!!python/object:os.system", b"!!python/object/apply:os.system ['echo pwned']",
    b"!!python/name:os.system", b"!!python/object/new:subprocess.Popen [['true']]", b"!!binary aGVsbG8=",
    b"!!set {a, b}", b"!!omap [a: 1]", b"!!timestamp 2001-12-14", b"2001-12-14", b"12:30:00",
    b".nan", b".NaN", b".inf", b"-.inf", b"+.inf", b"NaN", b"1e400", b"-1e400", b"1.5", b"16.0", b"-0.0",
    str(10 ** 100).encode(), b"-" + str(10 ** 100).encode(), b"9" * 5000, b"-1", b"-4096", b"0", b"0x10",
    b"0o17", b"1_024", b"~", b"null", b"yes", b"no", b"on", b"off", b"true", b"''", b"'x'", b"[]", b"{}",
    b"[1, 2]", b"{a: 1}", b"\"\\u2028\"", b"\"\\x00\"", b"&a 1", b"*a", b"<<: {a: 1}", b"? [a, b]",
    b"|\n  multi\n  line", b"!custom 1", b"%YAML 1.1", b"---", b"...",
]

_VALUE_RE = re.compile(rb"(:\s*)([^\s{\[,#][^,}\]\n#]*)")


def yaml_value(data, rnd):
    """Replace one scalar value (after ``key:``) with a hostile one."""
    spots = _spots(_VALUE_RE, data, rnd)
    new = rnd.choice(_YAML_VALUES)
    if not spots:
        return data + b"\nx: " + new + b"\n"
    m = rnd.choice(spots)
    return data[:m.start(2)] + new + data[m.end(2):]


_NUMBER_RE = re.compile(rb"(?<![\w.#-])\d+(?![\w.])")


def numbers(data, rnd):
    """Swap one integer for NaN/inf, 10**100, negative, zero, a float or a huge digit string."""
    spots = _spots(_NUMBER_RE, data, rnd)
    if not spots:
        return data
    m = rnd.choice(spots)
    new = rnd.choice([b".nan", b".inf", b"-.inf", str(10 ** 100).encode(), b"-" + m.group(), b"0", b"-1",
                      m.group() + b".0", m.group() + b".5", b"9" * rnd.choice([20, 400, 4301, 6000]),
                      str(2 ** 63).encode(), str(rnd.randint(1, 1 << 40)).encode(), b"1e9", b"0b101",
                      m.group() + b"0" * rnd.randint(1, 6)])
    return data[:m.start()] + new + data[m.end():]


def anchors(data, rnd):
    kind = rnd.randrange(3)
    if kind == 0:         # anchor a value, alias it elsewhere
        data = yaml_value(data, rnd)
        return data.replace(b"stack:", b"stack: &s", 1) + b"\nextra: *s\n"
    if kind == 1:         # billion laughs
        bomb = b"a: &a [x, x, x, x, x, x, x, x, x]\n" + b"".join(
            b"%s: &%s [*%s, *%s, *%s, *%s, *%s, *%s, *%s, *%s, *%s]\n"
            % ((bytes([98 + i]),) * 2 + (bytes([97 + i]),) * 9)
            for i in range(8))
        return bomb + data
    return data + b"\n<<: *undefined\n"


def deep_nesting(data, rnd):
    depth = rnd.choice([33, 100, 1000, 50_000])
    opener, closer = rnd.choice([(b"[", b"]"), (b"{a: ", b"}"), (b"- ", b"")])
    if opener == b"- ":
        nested = b"".join(b"  " * i + b"-\n" for i in range(min(depth, 2000)))
        return data + b"\ndeep:\n" + nested
    nested = opener * depth + b"1" + closer * (depth if rnd.random() < 0.7 else 0)
    return yaml_value(data, rnd) if rnd.random() < 0.2 else _replace_a_value(data, nested, rnd)


def _replace_a_value(data, new, rnd):
    spots = _spots(_VALUE_RE, data, rnd)
    if not spots:
        return data + b"\nx: " + new + b"\n"
    m = rnd.choice(spots)
    return data[:m.start(2)] + new + data[m.end(2):]


_YAML_KEY_RE = re.compile(rb"(?m)([{\s,]|^)(\w+):")
_TOP_LINE_RE = re.compile(rb"(?m)^\w+:.*\n?")
_JSON_KEY_RE = re.compile(rb'"(\w+)":')


def duplicate_key(data, rnd):
    lines = [m.group() for m in _spots(_TOP_LINE_RE, data, rnd)]
    if not lines:
        return data
    return data + b"\n" + rnd.choice(lines)


def yaml_structure(data, rnd):
    """Whole-document changes: a second document, a list/scalar top level, tabs, flow style."""
    kind = rnd.randrange(6)
    if kind == 0:
        return data + b"\n---\n" + data
    if kind == 1:
        return b"- " + data.replace(b"\n", b"\n  ")
    if kind == 2:
        return data.replace(b"  ", b"\t", rnd.randint(1, 3))
    if kind == 3:
        return b"%YAML 1.1\n%TAG ! tag:yaml.org,2002:python/\n---\n" + data
    if kind == 4:
        return data.replace(b"stack:", b"stack: !!python/object/apply:os.system", 1)
    return b""


def yaml_keys(data, rnd):
    """Rename one key to a near miss, a non-text key or a very long key."""
    keys = _spots(_YAML_KEY_RE, data, rnd)
    if not keys:
        return data
    m = rnd.choice(keys)
    new = rnd.choice([m.group(2) + b"x", m.group(2)[:-1], b"1", b"null", b"true", b"[a]", b"? x",
                      b"k" * rnd.choice([600, 5000, 200_000]), b"format_version", b"kind", b"repeat", b"id",
                      b"members", b"scheme", "ключ".encode(), b"__class__"])
    return data[:m.start(2)] + new + data[m.end(2):]


# ----------------------------------------------------------------------------- JSON specific

_JSON_VALUES = [b"NaN", b"Infinity", b"-Infinity", b"1e400", b"-1e400", str(10 ** 100).encode(), b"9" * 5000,
                b"-1", b"0", b"1.5", b"768.0", b"true", b"false", b"null", b'""', b'"768"', b"[]", b"{}", b"[1]",
                b'{"a": 1}', b'"bert"', b'"llama"', b'"gpt2"', b'"qwen2"', b'"silu"', b'"\\u0000"',
                b'"\\ud800"', b'["LlamaForCausalLM"]', b'["Evil"]', str(2 ** 63).encode(), b"1e-12", b"-1e-5"]

_JSON_VALUE_RE = re.compile(rb'(":\s*)("(?:[^"\\]|\\.)*"|-?[\d.eE+-]+|true|false|null)')


def json_value(data, rnd):
    spots = _spots(_JSON_VALUE_RE, data, rnd)
    if not spots:
        return data
    m = rnd.choice(spots)
    return data[:m.start(2)] + rnd.choice(_JSON_VALUES) + data[m.end(2):]


def json_numbers(data, rnd):
    spots = _spots(_NUMBER_RE, data, rnd)
    if not spots:
        return data
    m = rnd.choice(spots)
    new = rnd.choice([b"NaN", b"Infinity", str(10 ** 100).encode(), b"-" + m.group(), b"0",
                      m.group() + b".0", m.group() + b"0" * rnd.randint(1, 8), b"9" * rnd.choice([20, 4301]),
                      str(rnd.randint(1, 1 << 20)).encode()])
    return data[:m.start()] + new + data[m.end():]


def json_deep(data, rnd):
    depth = rnd.choice([100, 1000, 100_000])
    nested = b"[" * depth + b"1" + b"]" * (depth if rnd.random() < 0.7 else 0)
    spots = _spots(_JSON_VALUE_RE, data, rnd)
    if not spots:
        return nested
    m = rnd.choice(spots)
    return data[:m.start(2)] + nested + data[m.end(2):]


def json_keys(data, rnd):
    keys = _spots(_JSON_KEY_RE, data, rnd)
    if not keys:
        return data
    m = rnd.choice(keys)
    new = rnd.choice([m.group(1) + b"x", b"model_type", b"auto_map", b"trust_remote_code", b"architectures",
                      b"k" * rnd.choice([600, 200_000]), b"num_hidden_layers", b"id2label", b"head_dim",
                      b"embedding_size", b"tie_word_embeddings", b"__proto__"])
    return data[:m.start(1)] + new + data[m.end(1):]


def json_extra(data, rnd):
    """Insert a key/value pair after the opening brace (duplicates override, as json.loads does)."""
    key = rnd.choice([b"model_type", b"num_attention_heads", b"num_key_value_heads", b"auto_map",
                      b"architectures", b"position_embedding_type", b"add_cross_attention", b"id2label",
                      b"num_hidden_groups", b"inner_group_num", b"hidden_act", b"n_inner", b"head_dim"])
    value = rnd.choice(_JSON_VALUES + [b'{"AutoModel": "evil.Model"}', b'"relative_key"', b'{"0": "a"}'])
    i = data.find(b"{")
    if i < 0:
        return data
    return data[:i + 1] + b'"' + key + b'": ' + value + b"," + data[i + 1:]


def json_structure(data, rnd):
    kind = rnd.randrange(5)
    if kind == 0:
        return b"[" + data + b"]"
    if kind == 1:
        return data + data                      # two objects: extra data
    if kind == 2:
        return data.replace(b",", b"", 1)
    if kind == 3:
        return data.replace(b'"', b"'", 4)
    return b"// comment\n" + data


COMMON = [delete_line, duplicate_line, swap_lines, flip_chars, insert_bytes, reindent, truncate, bom, nul_byte,
          reencode, long_line, huge_file, many_items]
YAML_MUTATORS = COMMON + [yaml_value, numbers, anchors, deep_nesting, duplicate_key, yaml_structure, yaml_keys]
JSON_MUTATORS = COMMON + [json_value, json_numbers, json_deep, json_keys, json_extra, json_structure]
# the expensive ones (megabytes of text) are drawn rarely so the CI run stays fast
RARE = {long_line, huge_file, many_items}


def mutations(mutators, max_size: int = 4):
    """A strategy for a list of (mutator, seed); big-text mutators are drawn less often."""
    common = [m for m in mutators if m not in RARE]
    rare = [m for m in mutators if m in RARE]
    # about 6 steps in 100 are big-text ones, the rest cheap ones
    one = st.builds(lambda roll, i, j, seed: (rare[j] if roll >= 94 else common[i], seed),
                    st.integers(0, 99), st.integers(0, len(common) - 1), st.integers(0, len(rare) - 1),
                    st.integers(0, 2 ** 32 - 1))
    return st.lists(one, min_size=1, max_size=max_size)


def apply(data: bytes, steps) -> bytes:
    for fn, seed in steps:
        data = fn(data, random.Random(seed))
    return data


def describe(steps) -> str:
    return ", ".join(f"{fn.__name__}({seed})" for fn, seed in steps)
