"""The generalization gap: one rule for the engine's record and the Train tab's live readout."""

import subprocess
import sys

import pytest
from hypothesis import given
from hypothesis import strategies as st

from explorer.train.curves import generalization_gap


def test_the_gap_averages_the_training_loss_since_the_evaluation_before():
    train = [(1, 4.0), (2, 3.0), (3, 2.0), (4, 1.0)]
    assert generalization_gap([(2, 3.5)], train) == 3.5 - 3.5            # steps 1 and 2
    assert generalization_gap([(2, 3.5), (4, 2.0)], train) == 2.0 - 1.5  # steps 3 and 4 only
    assert generalization_gap([(5, 2.0)], [(1, 4.0)]) == 2.0 - 4.0       # nothing since: the last loss
    assert generalization_gap([], train) is None and generalization_gap([(1, 1.0)], []) is None


@pytest.fixture(scope="module", autouse=True)
def engine_loaded():
    pytest.importorskip("explorer.train.engine")       # torch's import is not a test case's time


@given(st.lists(st.floats(0, 10), min_size=1, max_size=40), st.data())
def test_the_engines_record_reads_the_same_gap(losses, data):
    engine = pytest.importorskip("explorer.train.engine")
    steps = sorted(data.draw(st.sets(st.integers(1, len(losses)), min_size=1, max_size=5)))
    val = [(s, float(s)) for s in steps]
    series = engine.Series("design", 1, train_loss=list(losses), val_loss=val)
    assert series.gap == generalization_gap(val, enumerate(losses, start=1))


def test_the_rule_needs_no_torch():
    code = "import sys, explorer.train.curves; assert 'torch' not in sys.modules"
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0
