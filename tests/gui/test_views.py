"""Mouse selection in the stack, group selection and renaming, and the graph tab."""

from typing import ClassVar

import pytest
from PySide6.QtCore import QPoint, Qt
from PySide6.QtWidgets import QGraphicsSimpleTextItem, QLineEdit

from explorer.design.edits import builtin_design
from real_events import click as real_click, to_window
from explorer.design.model import Member, Slot


def click(qtbot, view, scene_point, modifier=Qt.KeyboardModifier.NoModifier):
    qtbot.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, modifier, view.mapFromScene(scene_point))


def test_clicks_select_layers_and_groups(make_window, qtbot):
    window = make_window(builtin_design())
    view, model = window.stack_view, window.model
    view.centerOn(view.chip_point("block6", "ffn"))
    click(qtbot, view, view.chip_point("block6", "ffn"))
    assert model.selected_layers == ("block6",)
    assert window.inspector.title.text().startswith("Layer block6")
    click(qtbot, view, view.chip_point("block7", "ffn"), Qt.KeyboardModifier.ControlModifier)
    assert model.selected_layers == ("block6", "block7")
    assert window.inspector.title.text() == "Model settings (2 layers selected)"
    window.palette_panel.scope_selected.setChecked(True)
    assert window.palette_panel.apply("albert-ffn")
    model.select_group(None)
    click(qtbot, view, view.chip_point("block7", "ffn"))        # a shared chip selects its group
    assert model.selected_layers == ("block7",) and model.selected_group == "albert-ffn"
    selected = window.groups_panel.tree.selectedItems()
    assert [item.text(0) for item in selected] == ["albert-ffn"]
    assert view.cards[7].info.highlighted == view.cards[8].info.highlighted == {Slot("ffn")}
    assert view.cards[9].info.highlighted == set()


def rename_in_place(qtbot, window, row: int, text: str) -> None:
    """Double-click the name, type over it, press Enter: the in-place editor commits."""
    tree = window.groups_panel.tree
    point = to_window(window, tree.viewport(), tree.visualItemRect(tree.topLevelItem(row)).center())
    real_click(qtbot, window, point, double=True)
    qtbot.waitUntil(lambda: tree.findChild(QLineEdit) is not None and tree.findChild(QLineEdit).isVisible())
    editor = tree.findChild(QLineEdit)
    editor.selectAll()
    qtbot.keyClicks(editor, text)
    qtbot.keyClick(editor, Qt.Key.Key_Return)


def test_rename_group_by_editing_its_name(make_window, qtbot):
    window = make_window(builtin_design())
    window.palette_panel.apply("albert")
    rename_in_place(qtbot, window, 0, "everything")
    qtbot.waitUntil(lambda: [g.name for g in window.model.spec.groups] == ["everything"])
    assert window.undo_action.text() == "&Undo Rename group albert-block to everything"
    window.palette_panel.apply("tie-embeddings")
    rename_in_place(qtbot, window, 1, "everything")                      # taken: refused, name restored
    qtbot.waitUntil(lambda: "used already" in window.statusBar().currentMessage())
    assert [g.name for g in window.model.spec.groups] == ["everything", "tied-embeddings"]
    assert window.groups_panel.tree.topLevelItem(1).text(0) == "tied-embeddings"


def test_graph_tab_draws_shared_tensors_once(make_window, qtbot):
    window = make_window(builtin_design())
    window.palette_panel.apply("cycle")
    window.tabs.setCurrentIndex(1)
    graph = window.graph_view.graph
    assert graph is not None
    for g in window.model.spec.groups:
        node = ("group", g.name)
        assert graph.in_degree(node) == len(g.members)
    texts = [item.text() for item in window.graph_view.scene().items() if isinstance(item, QGraphicsSimpleTextItem)]
    assert sum(t.startswith("cycle-0 ×6") for t in texts) == 1
    window.palette_panel.apply("unshare")                  # visible: redrawn at once
    assert not any(t.startswith("cycle") for t in (
        item.text() for item in window.graph_view.scene().items() if isinstance(item, QGraphicsSimpleTextItem)))
    assert Member("block0", "block") not in {m for g in window.model.spec.groups for m in g.members}


def test_timing_tab_gets_every_valid_design(make_window):
    pytest.importorskip("torch")
    window = make_window(builtin_design())
    assert window.run_panel is None                       # nothing loaded until asked for
    window.bottom_tabs.setCurrentIndex(1)
    panel = window.run_panel
    assert panel is not None and window.bottom_tabs.widget(1) is panel
    assert panel._spec == window.model.spec
    window.palette_panel.apply("albert")
    assert panel._spec == window.model.spec and panel._pending_label == "Apply ALBERT all-shared"


class RecordedDrag:
    """Stands in for QDrag, whose exec() would block in a test."""

    made: ClassVar[list] = []

    def __init__(self, source) -> None:
        self.source = source
        RecordedDrag.made.append(self)

    def setMimeData(self, data) -> None:
        self.data = data

    def setPixmap(self, pixmap) -> None:
        self.pixmap = pixmap

    def setHotSpot(self, point) -> None:
        self.hot_spot = point

    def exec(self, *_actions):
        return Qt.DropAction.IgnoreAction


def test_mouse_drag_from_chip_and_from_name(make_window, qtbot):
    from explorer.gui import mime

    window = make_window(builtin_design())
    view = window.stack_view
    view.drag_class = RecordedDrag
    RecordedDrag.made.clear()
    for point in (view.chip_point("block2", "heads[3:4]"), view.cards[3].mapToScene(30, 12)):
        view.centerOn(point)
        start = view.mapFromScene(point)
        qtbot.mousePress(view.viewport(), Qt.MouseButton.LeftButton, pos=start)
        qtbot.mouseMove(view.viewport(), start + QPoint(30, 12))
        qtbot.mouseRelease(view.viewport(), Qt.MouseButton.LeftButton, pos=start + QPoint(30, 12))
    head_drag, card_drag = RecordedDrag.made
    assert mime.read_slots(head_drag.data) == [Member("block2", "heads[3:4]")]
    assert not head_drag.pixmap.isNull()
    assert mime.read_layers(card_drag.data) == ["block2"]
