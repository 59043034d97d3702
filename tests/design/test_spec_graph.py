"""The networkx design graph, and the purity of the spec and analysis layers."""

from __future__ import annotations

import os
import subprocess
import sys

from hypothesis import HealthCheck, given, settings

sys.path.insert(0, os.path.dirname(__file__))

from design_strategies import schemed_designs, transformer_stack

from explorer.analysis import count_params
from explorer.design.graph import design_graph, shared_nodes, unique_params
from explorer.design.strategies import apply_scheme
from explorer.design.validate import validate


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(schemed_designs())
def test_tensor_nodes_sum_to_unique_params(spec):
    expected = count_params(spec).unique
    plan = validate(spec)
    for detail in ("slot", "tensor"):
        g = design_graph(spec, plan, detail=detail)
        assert unique_params(g) == expected
        layer_nodes = [n for n, d in g.nodes(data=True) if d["kind"] == "layer"]
        assert len(layer_nodes) == len(spec.layers)
        for node in shared_nodes(g):
            assert g.in_degree(node) > 1 and g.nodes[node]["group"]
        # every group spanning several layers is a tensor node with one edge per member layer
        for grp in spec.groups:
            layers = {m.layer for m in grp.members}
            nodes = {n for n, d in g.nodes(data=True) if d.get("group") == grp.name}
            assert nodes
            for node in nodes:
                assert {src[1] for src, _ in g.in_edges(node)} == layers
                assert g.nodes[node]["uses"] == len(grp.members)
            if len(layers) > 1:
                assert nodes <= set(shared_nodes(g))


def test_graph_of_albert_has_one_shared_block_node():
    spec = apply_scheme(transformer_stack(4), "albert")
    g = design_graph(spec)
    shared = shared_nodes(g)
    assert len(shared) == 1
    assert g.in_degree(shared[0]) == 4
    block = 4 * (16 * 16 + 16) + (32 * 16 + 32) + (16 * 32 + 16) + 2 * 2 * 16
    assert g.nodes[shared[0]]["numel"] == block
    assert unique_params(g) == count_params(spec).unique


def test_unshared_design_has_no_shared_nodes():
    g = design_graph(transformer_stack(3), detail="tensor")
    assert shared_nodes(g) == []
    assert all(g.in_degree(n) == 1 for n, d in g.nodes(data=True) if d["kind"] == "tensor")


def test_head_slices_split_tensors_in_tensor_detail():
    spec = apply_scheme(transformer_stack(2, embedding=False, lm_head=False), "head-sharing", heads="1:2")
    g = design_graph(spec, detail="tensor")
    shared = shared_nodes(g)
    # q, k, v rows (weight + bias) and o columns of head 1: 7 pieces used by both blocks
    assert len(shared) == 7
    assert sum(g.nodes[n]["numel"] for n in shared) == 3 * (4 * 16 + 4) + 16 * 4
    assert unique_params(g) == count_params(spec).unique


PURITY = ("import explorer.design, explorer.analysis, explorer.design.strategies, explorer.design.yaml_io, "
          "explorer.design.graph; import sys; "
          "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('torch', 'PySide6', 'pyqtgraph')); "
          "assert not bad, bad")


def test_spec_and_analysis_are_pure():
    result = subprocess.run([sys.executable, "-c", PURITY], capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr[-2000:]


def test_these_tests_do_not_import_torch():
    # the pure test folders must not pull torch in through their helpers
    result = subprocess.run(
        [sys.executable, "-c",
         (f"import sys; sys.path.insert(0, {os.path.dirname(__file__)!r}); import design_strategies; "
          "assert 'torch' not in sys.modules")],
        capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr[-2000:]
