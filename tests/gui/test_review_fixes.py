"""Code-review findings of issue 22, each checked in the window with real events."""

from PySide6.QtCore import Qt
from PySide6.QtTest import QTest

from explorer.design import yaml_io
from explorer.gui import theme
from explorer.presets import PRESETS_DIR

SHOTS = "/tmp/i22"


def border_pixel(window, layer_id: str):
    """The colour the stack view shows on the top edge of `layer_id`'s card."""
    view = window.stack_view
    card = next(c for c in view.cards if c.info.layer.id == layer_id)
    view.ensureVisible(card)
    QTest.qWait(0)
    image = view.viewport().grab().toImage()
    edge = view.mapFromScene(card.mapToScene(card.width / 2, 0))
    return image.pixelColor(edge * image.devicePixelRatio())


def click_group_row(qtbot, window, name: str) -> None:
    tree = window.groups_panel.tree
    item = next(tree.topLevelItem(i) for i in range(tree.topLevelItemCount())
                if tree.topLevelItem(i).data(0, Qt.ItemDataRole.UserRole) == name)
    QTest.mouseClick(tree.viewport(), Qt.MouseButton.LeftButton, pos=tree.visualItemRect(item).center())
    qtbot.waitUntil(lambda: window.model.selected_group == name)


def test_a_selected_whole_block_group_outlines_its_member_cards(qtbot, make_window):
    window = make_window(yaml_io.load(PRESETS_DIR / "albert-groups.yaml"))
    window.model.select_layers(())
    group = next(g for g in window.model.spec.groups if any(str(m.slot) == "block" for m in g.members))
    member = group.members[0].layer
    members = {m.layer for m in group.members}
    outsider = next(g.members[0].layer for g in window.model.spec.groups if g.members[0].layer not in members)
    before = border_pixel(window, member)
    click_group_row(qtbot, window, group.name)
    window.grab().save(f"{SHOTS}/block_group_highlight.png")
    highlight = theme.color("group_highlight")
    assert border_pixel(window, member) == highlight, "the member's card is outlined in the highlight colour"
    assert before != highlight
    assert border_pixel(window, outsider) != highlight   # only the selected group's members
