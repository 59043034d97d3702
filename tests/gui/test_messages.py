"""Messages a person understands: a refused drop says what was dropped on what and why in words
(no tensor names, no group that does not exist, an embedding never called a block); one chip on
empty group space asks for a second member; the drag image never covers the refusal; Recent
messages keeps results, not hover previews; Save As refuses a bundled preset in its dialog.

Drops go through Qt's own drag loop (real_events.real_drag): on xcb (Xvfb), skipped offscreen."""

import re

import pytest
from PySide6.QtCore import QPoint, QRect, Qt, QTimer
from PySide6.QtGui import QDrag
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QFileDialog, QLineEdit, QMessageBox, QPlainTextEdit

from explorer.design import edits, yaml_io
from explorer.design.edits import builtin_design
from explorer.design.model import Member, Slot
from explorer.gui import commands
from explorer.presets import PRESETS_DIR
from real_events import has_drag_loop, real_drag, scene_to_window, to_window

TENSOR_WORDS = re.compile(r"\.weight|\.bias|\d+x\d+")


def needs_drag_loop():
    if not has_drag_loop():
        pytest.skip("the offscreen platform has no drag loop; these run under Xvfb (test_under_x11.py)")


def chip(window, layer_id, slot):
    view = window.stack_view
    return scene_to_window(window, view, view.chip_point(layer_id, slot))


def card_name(window, layer_id):
    from PySide6.QtCore import QPointF

    view = window.stack_view
    card = view.cards[window.model.spec.layer_index(layer_id)]
    return scene_to_window(window, view, card.mapToScene(QPointF(30, 12)))


def group_row(window, name):
    tree = window.groups_panel.tree
    return to_window(window, tree.viewport(), tree.item_point(name))


def group_space(window):
    tree = window.groups_panel.tree
    return to_window(window, tree.viewport(), tree.empty_point())


def hint(window):
    return window.groups_panel.hint.text()


def test_a_wrong_kind_drop_on_a_group_says_what_on_what_in_words(make_window, qtbot):
    needs_drag_loop()
    window = make_window(builtin_design(6))
    window.palette_panel.apply("albert")
    (group,) = window.model.spec.groups
    before = window.model.spec
    record = real_drag(qtbot, window, chip(window, "block3", "ffn"), [group_row(window, group.name)],
                       probe=lambda: hint(window))
    words = f"block3:ffn is an FFN, which can join only FFN groups; {group.name} holds whole blocks"
    assert words in record.seen_by_hover[-1]                                  # while hovering, in the panel
    assert record.messages[-1] == f"cannot join {group.name}: {words}"        # and after the release
    assert window.model.spec == before
    # a whole embedding layer on the block group: an embedding layer, never "embedding:block"
    window.model.edit(commands.SpecCommand, "setup", lambda s: edits.leave_groups(s, ["embedding"]))
    before = window.model.spec
    record = real_drag(qtbot, window, card_name(window, "embedding"), [group_row(window, group.name)],
                       probe=lambda: hint(window))
    assert ("embedding is an embedding layer, which can join only embedding groups; "
            f"{group.name} holds whole blocks") in record.seen_by_hover[-1]
    assert window.model.spec == before
    for line in record.messages + record.seen_by_hover:
        assert "embedding:block" not in line and not TENSOR_WORDS.search(line), line


def test_a_refused_new_group_names_no_group_that_does_not_exist(make_window, qtbot):
    needs_drag_loop()
    window = make_window(builtin_design(6))
    window.model.edit(commands.SpecCommand, "setup",
                      lambda s: edits.new_group(s, [Member("block0"), Member("block1")]))
    assert [g.name for g in window.model.spec.groups] == ["block-group"]
    window.model.select_layers(("embedding", "block4"))
    before = window.model.spec
    record = real_drag(qtbot, window, card_name(window, "embedding"), [group_space(window)],
                       probe=lambda: hint(window))
    assert ("embedding is an embedding layer and block4 is a whole block: the members of a group must be the "
            "same kind of piece") in record.seen_by_hover[-1]
    assert window.model.spec == before
    for line in record.messages + record.seen_by_hover:
        assert "block-group-2" not in line and "embedding:block" not in line and not TENSOR_WORDS.search(line)
    # a card on a card of another kind, in the stack
    window.model.select_layers(())
    record = real_drag(qtbot, window, card_name(window, "embedding"),
                       [scene_to_window(window, window.stack_view, window.stack_view.chip_point("block3", "block"))])
    assert record.messages[-1] == ("cannot share embedding with block3: embedding is an embedding layer, "
                                   "which can share only with embedding layers; block3 is a whole block")
    assert window.model.spec == before


def test_one_chip_on_empty_group_space_asks_for_a_second_member(make_window, qtbot):
    needs_drag_loop()
    window = make_window(builtin_design(4))
    before = window.model.spec
    record = real_drag(qtbot, window, chip(window, "block2", "ffn"), [group_space(window)],
                       probe=lambda: hint(window))
    assert record.seen_by_hover[-1].startswith("Cannot form a new group: drop a second member to make a group")
    assert record.messages[-1].startswith("cannot form a new group: drop a second member to make a group")
    assert window.model.spec == before


class RecordingDrag(QDrag):
    """Qt's QDrag, noting the image's size and where the cursor holds it as the drag starts
    (the view deletes the drag when it ends)."""

    made: list = []

    def exec(self, *args):
        RecordingDrag.made.append((self.pixmap().deviceIndependentSize().toSize(), self.hotSpot()))
        return super().exec(*args)


def image_rect(drag, cursor: QPoint) -> QRect:
    size, hot_spot = drag
    return QRect(cursor - hot_spot, size)


def test_the_drag_image_never_covers_the_refusal(make_window, qtbot):
    needs_drag_loop()
    window = make_window(builtin_design(6))
    window.model.select_layers(("block5",))
    assert window.inspector.set_field("d_ff", value=1024)
    window.model.select_layers(())
    view = window.stack_view
    view.drag_class = RecordingDrag
    RecordingDrag.made.clear()
    target = chip(window, "block5", "ffn")
    card = view.cards[window.model.spec.layer_index("block5")]
    ffn = next(c for c in card.info.chips if c.slot == Slot("ffn"))

    def on_screen():                     # the refused chip and its card, in window coordinates
        if card.hint is None:            # the drag move not delivered yet: real_drag waits for it
            return None
        rects = []
        for scene_rect in (card.mapRectToScene(ffn.rect), card.sceneBoundingRect()):
            box = view.mapFromScene(scene_rect).boundingRect()
            rects.append(QRect(view.viewport().mapTo(window, box.topLeft()), box.size()))
        return card.hint, rects

    record = real_drag(qtbot, window, chip(window, "block2", "ffn"), [target], probe=on_screen)
    (hinted, (chip_rect, card_rect)) = record.seen_by_hover[-1]
    assert hinted == (Slot("ffn"), False)                       # "✕ shapes differ" is drawn on that chip
    (drag,) = RecordingDrag.made
    image = image_rect(drag, target)
    assert not image.intersects(chip_rect) and not image.intersects(card_rect)
    # over a group row, the Groups panel's hint below stays in sight
    window.model.edit(commands.SpecCommand, "setup",
                      lambda s: edits.new_group(s, [Member("block0", "ffn"), Member("block1", "ffn")]))
    row = group_row(window, window.model.spec.groups[0].name)
    label = window.groups_panel.hint
    real_drag(qtbot, window, chip(window, "block5", "ffn"), [row])
    drag = RecordingDrag.made[-1]
    hint_rect = QRect(label.mapTo(window, QPoint(0, 0)), label.size())
    assert not image_rect(drag, row).intersects(hint_rect)
    status = window.statusBar()
    assert not image_rect(drag, row).intersects(QRect(status.mapTo(window, QPoint(0, 0)), status.size()))


def test_recent_messages_keep_results_not_hover_previews(make_window, qtbot):
    needs_drag_loop()
    window = make_window(builtin_design(6))
    record = real_drag(qtbot, window, chip(window, "block1", "ffn"),
                       [chip(window, "block2", "ffn"), chip(window, "block3", "ffn"), chip(window, "block4", "ffn")])
    assert any(m.startswith("release to share block1:ffn with block2:ffn") for m in record.messages)  # shown live
    text = window.show_recent_messages().findChild(QPlainTextEdit).toPlainText()
    assert "Share block1:ffn with block4:ffn" in text                   # the result is kept
    assert "release to" not in text                                      # the hover previews are not
    window._messages_dialog.close()


def when(condition, action, tries=400):
    """Run `action` once `condition()` holds (polled from the event loop, so it runs inside a
    modal dialog's nested loop too)."""
    def poll(left=tries):
        if condition():
            action()
        elif left:
            QTimer.singleShot(20, lambda: poll(left - 1))
    QTimer.singleShot(20, poll)


def test_save_as_refuses_a_bundled_preset_in_the_dialog(make_window, qtbot, tmp_path):
    preset = PRESETS_DIR / "bert-base.yaml"
    text_before = preset.read_bytes()
    window = make_window(yaml_io.load(preset), preset)              # opens as a design based on the preset
    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow)
    seen = {}
    mine = tmp_path / "mine.yaml"

    def dialog():
        return QApplication.activeModalWidget()

    def active_dialog():               # no window manager on Xvfb: the dialog is activated by hand
        box = dialog()
        if box is not None and not box.isActiveWindow():
            box.activateWindow()
        return box is not None and box.isActiveWindow()

    def type_name(path):
        edit = dialog().findChild(QLineEdit, "fileNameEdit")
        edit.setFocus()
        edit.selectAll()
        QTest.keyClicks(edit, str(path))
        QTest.keyClick(edit, Qt.Key.Key_Return)

    def refused():                     # the reason, in a box over the dialog, before any "replace?"
        box = dialog()
        seen["box"] = (box.windowTitle(), box.text())
        QTest.keyClick(box, Qt.Key.Key_Return)
        when(lambda: not isinstance(dialog(), QMessageBox) and active_dialog(), second)

    def second():                      # the file dialog is still open: another name
        seen["still_open"] = type(dialog()).__name__
        type_name(mine)

    when(lambda: isinstance(dialog(), QFileDialog) and active_dialog(),
         lambda: (when(lambda: isinstance(dialog(), QMessageBox), refused), type_name(preset)))

    def give_up():                     # never hang the suite: a dialog still open after 20 s fails the test
        while isinstance(dialog(), (QMessageBox, QFileDialog)):
            dialog().reject()

    guard = QTimer(singleShot=True, interval=20_000, timeout=give_up)
    guard.start()
    QTest.keyClick(window.windowHandle(), Qt.Key.Key_S, Qt.KeyboardModifier.ControlModifier)   # Save asks where
    guard.stop()
    title, text = seen["box"]
    assert "bert-base.yaml is a bundled preset, which is never overwritten" in text
    assert "replace" not in (title + text).lower()
    assert seen["still_open"] == "SaveDesignDialog"
    assert mine.is_file() and window.document.path == mine
    assert preset.read_bytes() == text_before
