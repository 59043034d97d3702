"""Scheme options as text: the palette's and the CLI's one parser."""

import pytest

from explorer.design.scheme_options import parse_options
from explorer.errors import SpecError


@pytest.mark.parametrize("text,expect", [
    ("", {}),
    ("blocks=3", {"blocks": 3}),
    ("layers=a,b", {"layers": ["a", "b"]}),
    ("layers=a,b, blocks=3", {"layers": ["a", "b"], "blocks": 3}),
    ("layers=a, b blocks=3 slot='ffn'", {"layers": ["a", "b"], "blocks": 3, "slot": "ffn"}),
    ("layers=block3", {"layers": ["block3"]}),
    ("layers=0", {"layers": ["0"]}),                     # layer ids are names
    ("tasks=(2, 3), task='sequence'", {"tasks": [2, 3], "task": "sequence"}),   # the dialog's defaults
    ("heads='0:2', halting=False, n_kv_heads=None", {"heads": "0:2", "halting": False, "n_kv_heads": None}),
    ("slot='a,b'", {"slot": "a,b"}),
])
def test_parses(text, expect):
    assert parse_options(text) == expect


@pytest.mark.parametrize("text,path", [("3", "options"), ("blocks=", "blocks"), ("blocks=2, blocks=3", "blocks")])
def test_bad_text_is_named(text, path):
    with pytest.raises(SpecError) as info:
        parse_options(text)
    assert info.value.path == path
