"""The planner refuses a run shape by the rule the report uses (issue 22, item 13). Pure."""

import pytest

from explorer.analysis import analyze
from explorer.analysis.planner import Setup, per_gpu, plan_grid
from explorer.design import yaml_io
from explorer.errors import SpecError
from explorer.presets import PRESETS_DIR


def refusal(call) -> SpecError:
    with pytest.raises(SpecError) as info:
        call()
    return info.value


def test_bert_at_seq_2048_is_refused_as_the_report_refuses_it():
    bert = yaml_io.load(PRESETS_DIR / "bert-base.yaml")          # 512 learned positions
    report = refusal(lambda: analyze(bert, 1, 2048, "bf16"))
    for err in (refusal(lambda: plan_grid(bert, 8, 1, 2048)),
                refusal(lambda: per_gpu(bert, Setup(8, 1, 0, False, 1, 2048)))):
        assert (err.path, err.message) == (report.path, report.message) == \
            ("seq", "sequence length 2048 is longer than max_positions 512 of layer 'embeddings'")
    assert len(plan_grid(bert, 8, 1, 512)) == 26                   # the longest seq it holds is planned
