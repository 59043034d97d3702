"""Drops through Qt's own drag loop: the mouse is pressed on the window, the view starts a
real QDrag, and timers feed the moves and the release while the loop runs. One test per
kind of drop target, each also hovering over other targets on the way, so a crash in any
hover or drop handler fails the test (pytest's faulthandler prints the trace).

The offscreen platform has no drag loop (its QPlatformDrag is a stub), so these run on a
real X server: `tests/gui/test_under_x11.py` runs tests/gui under Xvfb with xcb.
"""

import pytest
from PySide6.QtCore import QPoint, QPointF, Qt

from explorer.design import edits
from explorer.gui import commands
from explorer.gui.card_layout import CARD_HEIGHT
from explorer.design.edits import builtin_design
from explorer.design.model import Member, Slot
from real_events import has_drag_loop, real_drag, scene_to_window, to_window


@pytest.fixture(autouse=True)
def _needs_drag_loop(qapp):
    if not has_drag_loop():
        pytest.skip("the offscreen platform has no drag loop; these run under Xvfb (test_under_x11.py)")


def chip(window, layer_id: str, slot: str) -> QPoint:
    view = window.stack_view
    return scene_to_window(window, view, view.chip_point(layer_id, slot))


def card_name(window, layer_id: str) -> QPoint:
    """Where a user grabs a whole card: its name, top left."""
    view = window.stack_view
    card = view.cards[window.model.spec.layer_index(layer_id)]
    return scene_to_window(window, view, card.mapToScene(QPointF(30, 12)))


def group_row(window, name: str) -> QPoint:
    tree = window.groups_panel.tree
    return to_window(window, tree.viewport(), tree.item_point(name))


def group_space(window) -> QPoint:
    tree = window.groups_panel.tree
    return to_window(window, tree.viewport(), tree.empty_point())


def members(window, name: str) -> set[Member]:
    return set(next(g for g in window.model.spec.groups if g.name == name).members)


def window_with_ffn_group(make_window):
    window = make_window(builtin_design())
    first_two = [Member("block0", "ffn"), Member("block1", "ffn")]
    window.model.edit(commands.SpecCommand, "setup", lambda s: edits.new_group(s, first_two))
    (group,) = window.model.spec.groups
    return window, group.name


def test_chip_dropped_on_a_group_row_joins_it(make_window, qtbot):
    window, name = window_with_ffn_group(make_window)
    record = real_drag(qtbot, window, chip(window, "block3", "ffn"), [chip(window, "block4", "ffn"),
                                                                     group_row(window, name)],
                       probe=lambda: (window.groups_panel.tree._hover, window.statusBar().currentMessage()))
    over_chip, over_row = record.seen_by_hover[-2:]
    assert over_chip[1].startswith("release to share block3:ffn with block4:ffn")
    assert over_row[0] == (name, True)                    # the row is highlighted as a valid target
    assert "release to share" not in over_row[1]          # the stack's hint went when the drag left it
    assert members(window, name) == {Member(f"block{i}", "ffn") for i in (0, 1, 3)}
    assert window.groups_panel.tree._hover is None
    assert record.messages[-1].startswith(f"block3:ffn joins {name}: ") and "unique" in record.messages[-1]


def test_card_dropped_on_a_group_row_joins_with_its_block(make_window, qtbot):
    window = make_window(builtin_design())
    window.palette_panel.apply("albert")
    (group,) = window.model.spec.groups
    window.model.edit(commands.SpecCommand, "setup", lambda s: edits.leave_groups(s, ["block5"]))
    assert Member("block5", "block") not in members(window, group.name)
    # on the way: over another card and over empty group space, then the row
    real_drag(qtbot, window, card_name(window, "block5"),
              [card_name(window, "block6"), group_space(window), group_row(window, group.name)])
    assert Member("block5", "block") in members(window, group.name)


def test_dragging_across_every_group_row_and_back_does_not_crash(make_window, qtbot):
    window = make_window(builtin_design())
    window.palette_panel.apply("albert-ffn")
    window.palette_panel.apply("head-sharing")
    rows = [group_row(window, g.name) for g in window.model.spec.groups]
    before = window.model.spec
    record = real_drag(qtbot, window, chip(window, "block4", "attention"), rows + rows[::-1],
                       end=chip(window, "block4", "attention"))
    assert record.done
    assert window.model.spec == before          # released back on itself: nothing happens


def test_chip_dropped_on_empty_group_space_forms_a_group(make_window, qtbot):
    window = make_window(builtin_design())
    window.model.select_layers(("block3", "block4"))
    record = real_drag(qtbot, window, chip(window, "block3", "attention"), [group_space(window)],
                       probe=lambda: window.groups_panel.tree._hover)
    assert record.seen_by_hover[-1] == (None, True)
    (g,) = window.model.spec.groups
    assert set(g.members) == {Member("block3", "attention"), Member("block4", "attention")}
    assert window.model.selected_group == g.name


def test_card_dropped_between_cards_moves_it(make_window, qtbot):
    window = make_window(builtin_design(6))
    view = window.stack_view
    view.centerOn(view.gap_point(4))                 # start and target in sight together
    start = card_name(window, "block0")
    target = scene_to_window(window, view, view.gap_point(6))
    assert card_name(window, "block0") == start      # seeing the target did not scroll the start away
    real_drag(qtbot, window, start, [target])
    ids = [layer.id for layer in window.model.spec.layers]
    assert ids[:6] == ["embedding", "block1", "block2", "block3", "block4", "block0"]


def card_middle(window, layer_id: str) -> QPoint:
    view = window.stack_view
    card = view.cards[window.model.spec.layer_index(layer_id)]
    return scene_to_window(window, view, card.mapToScene(QPointF(60, CARD_HEIGHT / 2)))


def test_card_dropped_on_a_card_shares_and_shift_drop_moves(make_window, qtbot):
    window = make_window(builtin_design(6))
    record = real_drag(qtbot, window, card_name(window, "block1"), [card_middle(window, "block3")],
                       probe=lambda: window.stack_view.cards[4].hint)
    assert record.seen_by_hover[-1] == (Slot("block"), True)                  # the whole card lights up
    assert any("release to share block1 with block3 · " in m and "Shift" in m for m in record.messages)
    (g,) = window.model.spec.groups
    assert set(g.members) == {Member("block1", "block"), Member("block3", "block")}
    ids = [layer.id for layer in window.model.spec.layers]
    # the same gesture with Shift held at the release moves the card instead
    real_drag(qtbot, window, card_name(window, "block4"), [card_middle(window, "block2")],
              modifiers=Qt.KeyboardModifier.ShiftModifier)
    moved = [layer.id for layer in window.model.spec.layers]
    assert moved != ids and sorted(moved) == sorted(ids)
    assert len(window.model.spec.groups) == 1 and len(window.model.spec.groups[0].members) == 2


@pytest.mark.parametrize("source,target", [
    (Member("block2", "ffn"), Member("block4", "ffn")),                  # a slot onto the same slot
    (Member("block1", "heads[0:1]"), Member("block3", "heads[3:4]")),    # a head onto the head under the cursor
])
def test_chip_dropped_on_a_chip_shares_with_what_is_under_the_cursor(make_window, qtbot, source, target):
    window = make_window(builtin_design(6))
    card = window.stack_view.cards[window.model.spec.layer_index(target.layer)]
    start, over = chip(window, source.layer, source.slot), chip(window, target.layer, target.slot)
    record = real_drag(qtbot, window, start, [over], probe=lambda: card.hint)
    assert record.seen_by_hover[-1] == (target.slot, True)
    (g,) = window.model.spec.groups
    assert set(g.members) == {source, target}


def test_head_chip_dropped_on_a_head_group_and_on_a_head(make_window, qtbot):
    window = make_window(builtin_design())
    window.model.select_layers(("block4", "block5"))
    window.palette_panel.scope_selected.setChecked(True)
    window.palette_panel.apply("head-sharing")
    window.model.select_layers(())
    name = next(g.name for g in window.model.spec.groups if Slot.parse("heads[0:1]") in {m.slot for m in g.members})
    count = len(members(window, name))
    real_drag(qtbot, window, chip(window, "block9", "heads[0:1]"), [group_row(window, name)])
    assert Member("block9", "heads[0:1]") in members(window, name) and len(members(window, name)) == count + 1
    # head 2 of block1 onto head 2 of block7: the two share that head
    real_drag(qtbot, window, chip(window, "block1", "heads[2:3]"), [chip(window, "block7", "heads[2:3]")])
    shared = [g for g in window.model.spec.groups if Member("block1", "heads[2:3]") in g.members]
    assert shared and Member("block7", "heads[2:3]") in shared[0].members


def test_refused_drop_says_why_and_changes_nothing(make_window, qtbot):
    window = make_window(builtin_design())
    window.model.select_layers(("block5",))
    assert window.inspector.set_field("d_ff", value=1024)
    window.model.select_layers(())
    before, steps = window.model.spec, window.model.undo_stack.count()
    record = real_drag(qtbot, window, chip(window, "block2", "ffn"), [chip(window, "block5", "ffn")],
                       probe=lambda: window.stack_view.cards[6].hint)
    assert record.seen_by_hover[-1] == (Slot("ffn"), False)          # shown as refused while hovering
    assert window.model.spec == before and window.model.undo_stack.count() == steps
    assert any("equal shapes" in m for m in record.messages)
    # and onto a group whose shapes differ
    first_two = [Member("block0", "ffn"), Member("block1", "ffn")]
    window.model.edit(commands.SpecCommand, "setup", lambda s: edits.new_group(s, first_two))
    name = window.model.spec.groups[0].name
    before, steps = window.model.spec, window.model.undo_stack.count()
    record = real_drag(qtbot, window, chip(window, "block5", "ffn"), [group_row(window, name)],
                       probe=lambda: window.groups_panel.tree._hover)
    assert record.seen_by_hover[-1] == (name, False)
    assert window.model.spec == before and window.model.undo_stack.count() == steps


def test_palette_kind_dropped_into_the_stack_inserts_it(make_window, qtbot):
    window = make_window(builtin_design())
    kinds = window.palette_panel.kinds
    item = next(kinds.item(i) for i in range(kinds.count()) if kinds.item(i).text() == "ffn")
    start = to_window(window, kinds.viewport(), kinds.visualItemRect(item).center())
    view = window.stack_view
    target = scene_to_window(window, view, view.gap_point(3))
    real_drag(qtbot, window, start, [target])
    layers = window.model.spec.layers
    assert len(layers) == 16 and layers[3].kind == "ffn"


def test_expert_chip_and_cross_attention_chip_dropped_on_their_kind(make_window, qtbot):
    """A mixture's experts are chips like heads: expert 2 of one layer dropped on expert 5 of another
    shares that expert; a decoder's cross-attention chip dropped on another's shares it."""
    from explorer.design import yaml_io
    from explorer.presets import PRESETS_DIR

    window = make_window(yaml_io.load(PRESETS_DIR / "moe.yaml"))
    real_drag(qtbot, window, chip(window, "layer1", "experts[2:3]"), [chip(window, "layer3", "experts[5:6]")])
    (g,) = window.model.spec.groups
    assert set(g.members) == {Member("layer1", "experts[2:3]"), Member("layer3", "experts[5:6]")}
    window = make_window(yaml_io.load(PRESETS_DIR / "t5-small.yaml"))
    before = len(window.model.spec.groups)
    real_drag(qtbot, window, chip(window, "decoder1", "cross_attention"), [chip(window, "decoder2", "cross_attention")])
    assert len(window.model.spec.groups) == before + 1
    assert {Member("decoder1", "cross_attention"), Member("decoder2", "cross_attention")} == \
        set(window.model.spec.groups[-1].members)
