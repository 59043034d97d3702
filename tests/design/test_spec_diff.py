"""The "what changed" line: settings, layers and groups that a scheme changed, in words."""

from explorer.design.edits import builtin_design
from explorer.design.diff import describe_change
from explorer.design.strategies import apply_scheme, default_kv_heads


def test_gqa_default_is_about_a_quarter_of_the_heads_and_is_named():
    spec = builtin_design(4)                                    # 12 heads
    after = apply_scheme(spec, "gqa")
    assert after.settings.n_kv_heads == default_kv_heads(12) == 3
    assert describe_change(spec, after) == "n_kv_heads inherit → 3"
    assert apply_scheme(spec, "mqa").settings.n_kv_heads == 1           # so gqa and mqa differ


def test_default_kv_heads_divides_and_is_more_than_one_where_possible():
    for n in range(1, 129):
        d = default_kv_heads(n)
        assert n % d == 0
        assert d > 1 or n in (1, 2, 3, 5, 7) or all(n % k for k in range(2, n))   # 1 only when n is 1, 2 or prime


def test_a_scheme_that_takes_members_from_a_group_says_so():
    spec = apply_scheme(builtin_design(12), "albert-ffn")
    after = apply_scheme(spec, "interleaved")
    line = describe_change(spec, after)
    assert f"{spec.groups[0].name} 12 → " in line or f"group {spec.groups[0].name} removed" in line
    assert "new group" in line
    assert describe_change(after, after) == "no change"


def test_layer_fields_are_counted_per_value():
    spec = builtin_design(8)
    after = apply_scheme(spec, "cross-layer-kv", every=2)
    assert "kv_from = block0 on 1 layer" in describe_change(spec, after)
