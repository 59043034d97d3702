"""Integer schedules (layer -> unique block) of spec/strategies.py, hand-checked and by property."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from explorer.errors import SpecError
from explorer.design.strategies import (
    albert_order,
    cycle_order,
    cycle_reverse_order,
    interleaved_order,
    repeat_order,
    sequence_order,
    skip_order,
)


@pytest.mark.parametrize("n, groups, expected", [
    (12, 1, (0,) * 12),
    (12, 3, (0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2)),
    (12, 12, tuple(range(12))),
    (6, 4, (0, 0, 1, 2, 2, 3)),          # floor(i*4/6): 0, 0.67, 1.33, 2, 2.67, 3.33
    (5, 2, (0, 0, 0, 1, 1)),             # floor(i*2/5): 0, .4, .8, 1.2, 1.6
    (1, 1, (0,)),
])
def test_albert_order_is_floor_i_g_over_n(n, groups, expected):
    assert albert_order(n, groups) == expected


@pytest.mark.parametrize("n, m, expected", [
    (12, 4, (0, 0, 0, 1, 1, 1, 2, 2, 2, 3, 3, 3)),
    (12, 6, (0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5)),
    (7, 3, (0, 0, 0, 1, 1, 2, 2)),       # floor(i*3/7)
    (4, 4, (0, 1, 2, 3)),
    (4, 1, (0, 0, 0, 0)),
])
def test_sequence_order(n, m, expected):
    assert sequence_order(n, m) == expected


@pytest.mark.parametrize("n, m, expected", [
    (6, 3, (0, 1, 2, 0, 1, 2)),
    (7, 3, (0, 1, 2, 0, 1, 2, 0)),
    (4, 1, (0, 0, 0, 0)),
    (3, 5, (0, 1, 2)),
])
def test_cycle_order(n, m, expected):
    assert cycle_order(n, m) == expected


@pytest.mark.parametrize("n, m, expected", [
    (6, 3, (0, 1, 2, 2, 1, 0)),
    (8, 3, (0, 1, 2, 0, 1, 2, 1, 0)),    # cycle for the first 5, then 2, 1, 0
    (12, 4, (0, 1, 2, 3, 0, 1, 2, 3, 3, 2, 1, 0)),
    (3, 3, (2, 1, 0)),
    (4, 1, (0, 0, 0, 0)),
    (2, 5, (1, 0)),                      # more blocks than layers: every layer its own block
])
def test_cycle_reverse_order(n, m, expected):
    assert cycle_reverse_order(n, m) == expected


@pytest.mark.parametrize("n, r, expected", [
    (6, 2, (0, 0, 1, 1, 2, 2)),
    (7, 3, (0, 0, 0, 1, 1, 1, 2)),
    (3, 1, (0, 1, 2)),
])
def test_repeat_order(n, r, expected):
    assert repeat_order(n, r) == expected


@pytest.mark.parametrize("n", [2, 4, 6, 12])
def test_immediate_repeat_is_sequence_with_half_the_blocks(n):
    # MobileLLM's immediate repeat = sequence with N/M = 2 (DESIGN.md)
    assert repeat_order(n, 2) == sequence_order(n, n // 2)


def test_interleaved_order():
    order = interleaved_order(6)
    # layers 1, 3, 5 run one shared block; 0, 2, 4 keep their own, distinct from it
    assert order[1] == order[3] == order[5]
    assert len({order[0], order[2], order[4], order[1]}) == 4
    assert interleaved_order(6) == (0, 6, 2, 6, 4, 6)
    assert interleaved_order(5) == (0, 5, 2, 5, 4)


@pytest.mark.parametrize("n, k, expected", [
    (6, 2, (0, 1, 0, 1, 0, 1)),
    (7, 3, (0, 1, 2, 0, 1, 2, 0)),
    (4, 4, (0, 1, 2, 3)),
    (3, 1, (0, 0, 0)),
])
def test_skip_order_layers_i_and_i_plus_k_share(n, k, expected):
    order = skip_order(n, k)
    assert order == expected
    assert all(order[i] == order[i + k] for i in range(n - k))


@pytest.mark.parametrize("fn", [albert_order, sequence_order, cycle_order, cycle_reverse_order, repeat_order,
                                skip_order])
@pytest.mark.parametrize("bad", [0, -1, True, 1.5, "2", None])
def test_schedules_reject_non_positive_counts(fn, bad):
    with pytest.raises(SpecError) as info:
        fn(6, bad)
    assert "positive integer" in str(info.value)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize("fn", [albert_order, sequence_order, cycle_order, cycle_reverse_order, repeat_order,
                                skip_order])
def test_schedules_of_no_layers_are_empty(fn):
    assert fn(0, 3) == ()
    assert interleaved_order(0) == ()


# ----------------------------------------------------------------- properties

counts = st.tuples(st.integers(1, 200), st.integers(1, 40))


def _runs(order):
    """Lengths of maximal runs of equal consecutive values."""
    out = []
    for i, v in enumerate(order):
        if i and order[i - 1] == v:
            out[-1] += 1
        else:
            out.append(1)
    return out


@settings(max_examples=150, deadline=None)
@given(counts)
def test_sequence_and_albert_are_balanced_contiguous_runs(nm):
    n, m = nm
    for order in (sequence_order(n, m), albert_order(n, m)):
        assert len(order) == n
        assert all(0 <= b < m for b in order)
        assert list(order) == sorted(order)                     # consecutive layers share
        if m <= n:
            assert set(order) == set(range(m))                  # every block used
            runs = _runs(order)
            assert len(runs) == m
            assert max(runs) - min(runs) <= 1                   # floor(i*M/N) splits evenly
        else:
            assert len(set(order)) == n                         # more blocks than layers: no sharing
        assert all(order[i] == i * m // n for i in range(n))


@settings(max_examples=150, deadline=None)
@given(counts)
def test_cycle_and_skip_are_periodic(nm):
    n, m = nm
    for order in (cycle_order(n, m), skip_order(n, m)):
        assert len(order) == n
        assert all(0 <= b < m for b in order)
        assert all(order[i] == order[i + m] for i in range(n - m))
        assert len(set(order[:m])) == min(n, m)                 # one period uses distinct blocks


@settings(max_examples=150, deadline=None)
@given(counts)
def test_cycle_reverse_structure(nm):
    n, m = nm
    order = cycle_reverse_order(n, m)
    k = min(n, m)
    assert len(order) == n
    assert all(0 <= b < k for b in order)
    assert order[:n - k] == cycle_order(n - k, k)
    assert order[n - k:] == tuple(reversed(range(k)))


@settings(max_examples=150, deadline=None)
@given(counts)
def test_repeat_runs_have_length_r(nr):
    n, r = nr
    order = repeat_order(n, r)
    assert len(order) == n
    assert all(order[i] == i // r for i in range(n))
    runs = _runs(order)
    assert all(x == r for x in runs[:-1]) and 1 <= runs[-1] <= r


@settings(max_examples=100, deadline=None)
@given(st.integers(0, 200))
def test_interleaved_property(n):
    order = interleaved_order(n)
    assert len(order) == n
    odd = {order[i] for i in range(1, n, 2)}
    even = [order[i] for i in range(0, n, 2)]
    assert len(odd) <= 1
    assert len(set(even)) == len(even)                          # each even layer its own block
    assert not odd & set(even)
