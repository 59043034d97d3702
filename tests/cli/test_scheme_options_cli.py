"""`explorer apply -p` reads options with the palette's parser (explorer/design/scheme_options.py)."""

from explorer.cli import main
from explorer.design import yaml_io
from explorer.design.edits import builtin_design


def members(path) -> list[tuple[str, str]]:
    (group,) = yaml_io.load(path).groups
    return sorted((m.layer, str(m.slot)) for m in group.members)


def test_param_takes_a_layer_list_and_several_options_per_flag(tmp_path):
    source, a, b = tmp_path / "d.yaml", tmp_path / "a.yaml", tmp_path / "b.yaml"
    yaml_io.save(builtin_design(4), source)
    assert main(["apply", str(source), "albert", "-p", "layers=block1,block3", "-p", "slot=ffn", "-o", str(a)]) == 0
    # what the palette's options field takes, as one -p
    assert main(["apply", str(source), "albert", "-p", "layers=block1,block3, slot=ffn", "-o", str(b)]) == 0
    assert members(a) == members(b) == [("block1", "ffn"), ("block3", "ffn")]


def test_multi_task_sizes_are_numbers(tmp_path):
    source, out = tmp_path / "d.yaml", tmp_path / "o.yaml"
    yaml_io.save(builtin_design(2), source)
    assert main(["apply", str(source), "multi-task", "-p", "tasks=4,5", "-o", str(out)]) == 0
    heads = [layer for layer in yaml_io.load(out).layers if layer.id.startswith("task")]
    assert [layer.n_outputs for layer in heads] == [4, 5]
