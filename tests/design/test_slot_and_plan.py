"""The Slot value type, and the sharing plan compiled once and carried (report -> build, cards)."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from explorer.analysis import analyze
from explorer.design.edits import builtin_design
from explorer.design import yaml_io
from explorer.design.model import Member, SharingGroup, Slot
from explorer.design.strategies import apply_scheme
from explorer.errors import SpecError


@given(st.integers(0, 500), st.integers(1, 64))
def test_head_slots_round_trip_through_text(lo, width):
    slot = Slot("heads", lo, lo + width)
    assert Slot.parse(str(slot)) == slot and str(slot) == f"heads[{lo}:{lo + width}]"
    assert slot.width == width and [s.lo for s in slot.heads()] == list(range(lo, lo + width))
    assert slot.covers_head(lo) and not slot.covers_head(lo + width)
    assert slot.starting_at(3) == Slot("heads", 3, 3 + width)


@pytest.mark.parametrize("text", ["block", "ffn", "attention.q", "norm1", "heads[1:x]", "heads"])
def test_other_slots_are_their_names(text):
    slot = Slot.parse(text)
    assert str(slot) == text and not slot.is_heads and slot.width == 0


def test_members_hold_slots_and_files_keep_the_text_form(tmp_path):
    spec = apply_scheme(builtin_design(4), "head-sharing", heads="1:3")
    members = [m for g in spec.groups for m in g.members]
    assert members and all(m.slot == Slot("heads", 1, 3) for m in members)
    assert Member("block1", "heads[1:3]") == Member("block1", Slot("heads", 1, 3))
    path = tmp_path / "d.yaml"
    yaml_io.save(spec, path)
    assert "block1:heads[1:3]" in path.read_text()
    assert yaml_io.load(path).groups == spec.groups


@pytest.mark.parametrize("text", ["heads[3:2]", "heads[0:0]", "heads[2:99]"])
def test_an_impossible_head_range_is_named_as_written(text):
    spec = builtin_design(3).replace(groups=(SharingGroup("g", (Member("block0", text), Member("block1", text))),))
    with pytest.raises(SpecError, match=rf"head range \[{text[6:-1]}\]"):
        analyze(spec)


def test_the_report_carries_the_plan_the_build_uses(monkeypatch):
    torch = pytest.importorskip("torch")
    from explorer.torchmodel import stack

    spec = apply_scheme(builtin_design(4), "albert-ffn")
    report = analyze(spec)
    assert [g.name for g in report.plan.groups] == [g.name for g in spec.groups]

    def no_second_validation(_spec):
        raise AssertionError("the spec was validated again")

    monkeypatch.setattr(stack, "validate", no_second_validation)
    model = stack.build_model(spec, device="meta", plan=report.plan)
    assert sum(p.numel() for p in model.parameters()) == report.params.unique
    assert isinstance(model, torch.nn.Module)


def test_the_torch_side_reads_typed_configs_with_every_layer_dims_field():
    pytest.importorskip("torch")
    from explorer.design.model import DIMS_FIELDS
    from explorer.torchmodel.runtime import Dims, LayerConfig
    from explorer.torchmodel.stack import layer_configs

    assert Dims._fields == tuple(DIMS_FIELDS)
    spec = apply_scheme(builtin_design(3), "universal", halting=True, timestep_signal=True)
    configs = layer_configs(spec, analyze(spec).plan)
    assert all(isinstance(c, LayerConfig) and isinstance(c.dims, Dims) for c in configs)
    assert [c.step for c in configs if c.kind == "block"] == [0, 1, 2]
