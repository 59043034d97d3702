"""Graph tab: `design_graph(spec)` drawn as layers in a column, each layer's own tensors on
its left, and every shared tensor group on its right as one node with an edge from each user
(own tensors on the other side, so no sharing edge crosses an "own" box)."""

from __future__ import annotations

from PySide6.QtCore import QRectF
from PySide6.QtGui import QBrush, QFont, QPainter, QPen
from PySide6.QtWidgets import QGraphicsScene, QGraphicsView

from explorer import fmt
from explorer.gui import theme
from explorer.gui.design_model import DesignModel

ROW = 30.0
OWN_X, OWN_W = 0.0, 120.0
LAYER_X, LAYER_W = 160.0, 190.0
GROUP_X, GROUP_W = 430.0, 210.0


class GraphView(QGraphicsView):
    def __init__(self, model: DesignModel, parent=None) -> None:
        super().__init__(parent)
        self.model = model
        self.setScene(QGraphicsScene(self))
        self.setRenderHint(QPainter.RenderHint.Antialiasing)
        self.setDragMode(QGraphicsView.DragMode.ScrollHandDrag)
        self.setToolTip("The design graph: layers (middle), their own tensors (left) and shared tensor groups "
                        "(right).\nA shared group is one node with an edge from every layer that uses it.")
        self._stale = True
        self.graph = None
        model.changed.connect(self.on_model_changed)

    def on_model_changed(self) -> None:
        self._stale = True
        if self.isVisible():
            self.refresh()

    def showEvent(self, event) -> None:
        super().showEvent(event)
        if self._stale:
            self.refresh()

    def refresh(self) -> None:
        from explorer.design.graph import design_graph       # networkx loads when the tab is first shown

        self._stale = False
        scene = self.scene()
        scene.clear()
        plan = self.model.plan
        if plan is None:
            scene.addText(f"The design is invalid: {self.model.report_error}")
            return
        spec = self.model.spec
        self.graph = g = design_graph(spec, plan)
        text = theme.color("text")
        edge_pen = QPen(theme.color("graph_edge"), 1.0)
        n = len(spec.layers)
        font = QFont()
        font.setPointSizeF(8.5)

        def y_of(index: float) -> float:
            return (n - 1 - index) * ROW

        def box(x, y, w, label, fill, bold=False):
            rect = scene.addRect(QRectF(x, y - 11, w, 22), QPen(fill.darker(140)), QBrush(fill))
            rect.setZValue(2)
            t = scene.addSimpleText(label, font)
            t.setBrush(QBrush(text if fill.lightness() > 110 or not bold else theme.color("text_on_dark")))
            t.setPos(x + 6, y - 8)
            t.setZValue(3)
            return rect

        heading = QFont(font)
        heading.setBold(True)
        for x, title in ((LAYER_X, "layers (bottom → top)"), (OWN_X, "own tensors"),
                         (GROUP_X, "shared tensors")):
            label = scene.addSimpleText(title, heading)
            label.setBrush(QBrush(text))
            label.setPos(x, -ROW * 1.5)
        group_index = {grp.name: i for i, grp in enumerate(spec.groups)}
        positions = {}
        for node, data in g.nodes(data=True):
            if data["kind"] == "layer":
                positions[node] = (LAYER_X + LAYER_W, y_of(data["index"]))
                box(LAYER_X, y_of(data["index"]), LAYER_W, f"{data['label']}  ({data['layer_kind']})",
                    theme.color("own_fill"))
        group_y = self._spread({node: sum(positions[u][1] for u in g.predecessors(node)) / g.in_degree(node)
                                for node, data in g.nodes(data=True) if data.get("group") is not None})
        for node, data in g.nodes(data=True):
            if data["kind"] != "tensor":
                continue
            users = [positions[u] for u in g.predecessors(node)]
            if data.get("group") is not None:
                grp_i = group_index[data["group"]]
                color = theme.group_color(spec.groups[grp_i], grp_i)
                y = group_y[node]
                rect = box(GROUP_X, y, GROUP_W, f"{data['label']} ×{data['uses']}  {fmt.count(data['numel'])}",
                           color, bold=True)
                rect.setPen(QPen(color.darker(150), 2))
                for ux, uy in users:                  # layer's right edge -> the group, across open space
                    scene.addLine(ux, uy, GROUP_X, y, QPen(color, 1.4)).setZValue(1)
            else:
                y = users[0][1]
                box(OWN_X, y, OWN_W, f"own  {fmt.count(data['numel'])}", theme.color("own_fill").lighter(104))
                scene.addLine(OWN_X + OWN_W, y, LAYER_X, y, edge_pen).setZValue(1)
        scene.setSceneRect(scene.itemsBoundingRect().adjusted(-20, -20, 20, 20))

    @staticmethod
    def _spread(wanted: dict, gap: float = ROW) -> dict:
        """Move group nodes apart (at least `gap`) while keeping their order and mean height."""
        order = sorted(wanted, key=wanted.get)
        placed: dict = {}
        last = None
        for node in order:
            y = wanted[node] if last is None else max(wanted[node], last + gap)
            placed[node] = last = y
        if placed:
            shift = sum(wanted.values()) / len(wanted) - sum(placed.values()) / len(placed)
            placed = {node: y + shift for node, y in placed.items()}
        return placed
