"""The design as a networkx graph: layer nodes, unique tensor nodes, "uses" edges.

Derived from the SharingPlan, never stored. A shared tensor is one node with an edge from
every layer that uses it, so the unique parameter count is the sum of tensor-node sizes
(tests check it equals torch's count) and the GUI can draw the sharing as it is.
"""

from __future__ import annotations

import networkx as nx

from explorer.design.model import StackSpec
from explorer.design.sharing import SharingPlan
from explorer.design.slots import layer_tensors
from explorer.design.validate import validate


def design_graph(spec: StackSpec, plan: SharingPlan | None = None, detail: str = "slot") -> nx.DiGraph:
    """Layers -> tensors. detail='slot' makes one node per group and per layer's own rest;
    detail='tensor' makes one node per unique tensor (or head slice).

    Node attributes: kind ('layer' | 'tensor'), numel, label; layer nodes also 'index'.
    Tensor nodes of groups carry 'group' (its name) and 'uses' (how many layers use it).
    """
    if plan is None:
        plan = validate(spec)
    g = nx.DiGraph()
    for i, layer in enumerate(spec.layers):
        g.add_node(("layer", layer.id), kind="layer", label=layer.id, layer_kind=layer.kind, index=i, numel=0)
    for grp in plan.groups:
        if detail == "slot":
            g.add_node(("group", grp.name), kind="tensor", label=grp.name, group=grp.name, numel=grp.numel,
                       uses=grp.uses)
        for m in grp.members:
            if detail == "slot":
                g.add_edge(("layer", m.layer), ("group", grp.name), relation="uses", slot=str(m.slot))
    for layer in spec.layers:
        own = 0
        for t in layer_tensors(layer, spec.settings):
            claims = plan.claims.get((layer.id, t.name), ())
            claimed = sum(c.piece.numel for c in claims)
            if detail == "tensor":
                for c in claims:
                    node: tuple[str | int, ...] = ("shared", c.group, c.index)     # a graph node: ("own", ...) too
                    if node not in g:
                        grp = plan.groups[c.group]
                        g.add_node(node, kind="tensor", label=f"{grp.name}/{c.rel}", group=grp.name,
                                   numel=c.piece.numel, uses=grp.uses)
                    g.add_edge(("layer", layer.id), node, relation="uses")
                if t.numel - claimed:
                    node = ("own", layer.id, t.name)
                    g.add_node(node, kind="tensor", label=f"{layer.id}/{t.name}", numel=t.numel - claimed, uses=1)
                    g.add_edge(("layer", layer.id), node, relation="uses")
            else:
                own += t.numel - claimed
        if detail == "slot" and own:
            node = ("own", layer.id)
            g.add_node(node, kind="tensor", label=f"{layer.id} (own)", numel=own, uses=1)
            g.add_edge(("layer", layer.id), node, relation="uses")
    return g


def unique_params(g: nx.DiGraph) -> int:
    """Sum of tensor-node sizes: the design's unique parameter count."""
    return sum(data["numel"] for _n, data in g.nodes(data=True) if data["kind"] == "tensor")


def shared_nodes(g: nx.DiGraph) -> list:
    """Tensor nodes used by more than one layer."""
    return [n for n, data in g.nodes(data=True) if data["kind"] == "tensor" and g.in_degree(n) > 1]
