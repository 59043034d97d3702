"""Drops through the same mime data and handlers the views use: insert, reorder, share a
slot, join a group with a card or a head chip, form a group, and refuse impossible drops."""

from PySide6.QtCore import QPointF, Qt
from PySide6.QtGui import QDragMoveEvent, QDropEvent

from explorer.gui import mime
from explorer.design.edits import builtin_design
from explorer.design.model import Member, Slot
from explorer.design.validate import validate


def ids(window) -> list[str]:
    return [layer.id for layer in window.model.spec.layers]


def group(window, name):
    return next(g for g in window.model.spec.groups if g.name == name)


def test_palette_kind_inserts_at_drop_point(make_window):
    window = make_window(builtin_design())
    view = window.stack_view
    data = window.palette_panel.kinds.mimeData([window.palette_panel.kinds.item(3)])   # 'ffn', as dragged
    assert mime.read_kind(data) == "ffn"
    target = view.target_at(view.gap_point(3), data)
    assert target.gap == 3
    assert view.accept_drop(data, target)
    layers = window.model.spec.layers
    assert len(layers) == 16 and layers[3].kind == "ffn" and layers[2].id == "block1" and layers[4].id == "block2"
    assert window.model.selected_layers == (layers[3].id,)
    assert window.undo_action.text() == "&Undo Insert ffn"


def test_real_drop_event_reorders_cards(make_window):
    window = make_window(builtin_design())
    view = window.stack_view
    data = view.drag_payload("block0", None)           # grabbing the card by its name
    assert mime.read_layers(data) == ["block0"]
    where = view.mapFromScene(view.gap_point(5))
    move = QDragMoveEvent(where, Qt.DropAction.MoveAction, data, Qt.MouseButton.LeftButton,
                          Qt.KeyboardModifier.NoModifier)
    view.dragMoveEvent(move)
    assert move.isAccepted() and view._insert_line.isVisible()
    drop = QDropEvent(QPointF(where), Qt.DropAction.MoveAction, data, Qt.MouseButton.LeftButton,
                      Qt.KeyboardModifier.NoModifier)
    view.dropEvent(drop)
    assert ids(window)[:6] == ["embedding", "block1", "block2", "block3", "block0", "block4"]
    assert not view._insert_line.isVisible()


def test_card_gap_geometry(make_window):
    window = make_window(builtin_design())
    view = window.stack_view
    card = view.cards[4]
    upper = card.mapToScene(QPointF(50, 10))
    lower = card.mapToScene(QPointF(50, 50))
    assert view.gap_at(upper) == 5 and view.gap_at(lower) == 4


def test_slot_onto_same_slot_of_another_layer_shares(make_window):
    window = make_window(builtin_design())
    view = window.stack_view
    data = view.drag_payload("block2", "ffn")
    target = view.target_at(view.chip_point("block4", "ffn"), data)
    assert target.member == Member("block4", "ffn") and target.reason == ""
    assert view.accept_drop(data, target)
    (g,) = window.model.spec.groups
    assert set(g.members) == {Member("block4", "ffn"), Member("block2", "ffn")}
    # a third layer dropped on either joins the same group
    data = view.drag_payload("block7", "ffn")
    assert view.accept_drop(data, view.target_at(view.chip_point("block2", "ffn"), data))
    assert len(window.model.spec.groups) == 1 and len(window.model.spec.groups[0].members) == 3


def test_card_and_head_chip_join_group(make_window):
    window = make_window(builtin_design())
    model, tree = window.model, window.groups_panel.tree
    model.select_layers(("block0", "block1", "block2", "block3"))
    window.palette_panel.scope_selected.setChecked(True)
    assert window.palette_panel.apply("albert")
    model.select_layers(("block4", "block5", "block7", "block8"))
    assert window.palette_panel.apply("head-sharing")
    model.select_layers(())
    # a card onto the ALBERT group
    data = window.stack_view.drag_payload("block6", None)
    assert tree.accept_drop(data, tree.target_at(tree.item_point("albert-block")))
    assert Member("block6", "block") in group(window, "albert-block").members
    # head chip 0 of block9 onto the head group
    data = window.stack_view.drag_payload("block9", "heads[0:1]")
    assert mime.read_slots(data) == [Member("block9", "heads[0:1]")]
    assert tree.accept_drop(data, tree.target_at(tree.item_point("heads0-1")))
    assert len(group(window, "heads0-1").members) == 5
    validate(model.spec)
    assert window.stack_view.cards[10].info.styles[Slot.parse("heads[0:1]")].group == "heads0-1"


def test_drop_on_empty_group_space_forms_new_group(make_window):
    window = make_window(builtin_design())
    tree = window.groups_panel.tree
    window.model.select_layers(("block3", "block4"))
    data = window.stack_view.drag_payload("block3", "attention")    # the selection comes along
    assert tree.target_at(tree.empty_point()) is None
    assert tree.accept_drop(data, None)
    (g,) = window.model.spec.groups
    assert set(g.members) == {Member("block3", "attention"), Member("block4", "attention")}
    assert window.model.selected_group == g.name
    # the selected group's members are highlighted in the stack
    assert Slot("attention") in window.stack_view.cards[4].info.highlighted


def test_refused_drop_shows_reason_and_changes_nothing(make_window):
    window = make_window(builtin_design())
    view, model = window.stack_view, window.model
    model.select_layers(("block5",))
    assert window.inspector.set_field("d_ff", value=1024)
    model.select_layers(())
    before, steps = model.spec, model.undo_stack.count()
    data = view.drag_payload("block2", "ffn")
    target = view.target_at(view.chip_point("block5", "ffn"), data)
    assert "equal shapes" in target.reason          # highlighted as invalid while dragging
    assert not view.accept_drop(data, target)
    message = window.statusBar().currentMessage()
    assert "block2:ffn" in message and "1024" in message and "\n" not in message
    assert model.spec == before and model.undo_stack.count() == steps
    # the same refusal through the groups panel: join a group whose shapes differ
    model.select_layers(("block0", "block1"))
    assert window.groups_panel.tree.accept_drop(view.drag_payload("block0", "ffn"), None)
    steps = model.undo_stack.count()
    name = model.spec.groups[0].name
    assert not window.groups_panel.tree.accept_drop(view.drag_payload("block5", "ffn"), name)
    assert "equal shapes" in window.statusBar().currentMessage()
    assert model.undo_stack.count() == steps


def test_kind_cannot_join_a_group(make_window):
    window = make_window(builtin_design())
    assert not window.groups_panel.tree.accept_drop(mime.kind_mime("ffn"), None)
    assert "only layers, slots and heads" in window.statusBar().currentMessage()
