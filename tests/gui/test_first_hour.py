"""What a new user stumbled on in the first hour (issue 13), each checked in the window:
GQA in one click with a sensible default and its saving listed, structural sharing in the
Groups panel, a word after every edit, Universal Transformer's step on the card, grab
targets of usable size."""

from PySide6.QtCore import Qt

from explorer.analysis import analyze
from explorer.analysis.structure import structural_entries
from explorer.gui.card_layout import LABEL_STRIP
from explorer.design.edits import builtin_design
from explorer.design.model import Slot
from explorer.gui.groups_panel import STRUCTURAL_ROLE
from explorer.presets import PRESETS_DIR
from explorer.design import yaml_io


def rows(window) -> list[tuple[str, str, str]]:
    tree = window.groups_panel.tree
    return [tuple(tree.topLevelItem(i).text(c) for c in range(3)) for i in range(tree.topLevelItemCount())]


def test_gqa_in_one_click_names_what_it_did_and_lists_its_saving(make_window):
    window = make_window(builtin_design(4))                  # 12 heads
    before = window.model.report.params.unique
    assert window.palette_panel.apply("gqa")
    assert window.model.spec.settings.n_kv_heads == 3         # not 1 (that is MQA)
    message = window.statusBar().currentMessage()
    assert message.startswith("Grouped-query attention: n_kv_heads inherit → 3: ") and "unique" in message
    tree = window.groups_panel.tree
    (row,) = [tree.topLevelItem(i) for i in range(tree.topLevelItemCount())
              if tree.topLevelItem(i).data(0, STRUCTURAL_ROLE)]
    (entry,) = structural_entries(window.model.spec)
    assert row.text(0) == "GQA" and entry.saved == before - window.model.report.params.unique
    assert "3 K/V heads for 12 queries" in row.toolTip(0)
    # the k/v chips and the attention label carry the group size
    chips = {str(c.slot): c.label for c in window.stack_view.cards[1].info.chips}
    assert chips["attention.k"] == "k4" and chips["attention.v"] == "v4"
    assert "GQA 3 K/V × 4 queries" in chips["attention"]


def test_schemes_that_take_members_say_what_changed(make_window):
    window = make_window(builtin_design(12))
    assert window.palette_panel.apply("albert-ffn")
    assert window.palette_panel.apply("interleaved")
    message = window.statusBar().currentMessage()
    assert "albert-ffn 12 → " in message or "group albert-ffn removed" in message


def test_structural_rows_for_every_preset_that_has_them(make_window):
    for name in ("cross-layer-kv", "factorized-embedding", "relaxed-recursion", "mqa"):
        spec = yaml_io.load(PRESETS_DIR / f"{name}.yaml")
        window = make_window(spec)
        listed = {r[0] for r in rows(window)}
        assert {e.name for e in structural_entries(spec)} <= listed
        window.close()


def test_universal_transformer_step_is_on_the_card_and_in_the_inspector(make_window):
    spec = yaml_io.load(PRESETS_DIR / "universal-transformer.yaml")
    window = make_window(spec)
    card = window.stack_view.cards[1]
    assert card.info.kind_line == "block · timestep · ACT halting"
    window.model.select_layers((spec.layers[1].id,))
    summary = window.inspector.summary.text()
    assert "timestep signal" in summary and "ACT halting" in summary
    plain = make_window(builtin_design(2)).stack_view.cards[1].info.kind_line
    assert plain == "block"


def test_whole_attention_target_is_at_least_24_px_tall(make_window):
    window = make_window(builtin_design(2))
    chips = window.stack_view.cards[1].info.chips
    attention = next(c for c in chips if c.slot == Slot("attention"))
    heads = [c for c in chips if c.is_head]
    strip = min(h.rect.top() for h in heads) - attention.rect.top()
    assert strip >= 24 and LABEL_STRIP >= 24
    assert min(h.rect.height() for h in heads) >= 20
    # the strip's middle grabs the attention, not a head
    card = window.stack_view.cards[1]
    middle = attention.rect.center()
    middle.setY(attention.rect.top() + strip / 2)
    assert card.chip_at(middle).slot == Slot("attention")


def test_every_edit_says_what_it_did(make_window):
    window = make_window(builtin_design(4))
    window.model.select_layers(("block1",))
    assert window.inspector.set_field("d_ff", value=1024)
    message = window.statusBar().currentMessage()
    unique = analyze(window.model.spec).params.unique
    assert "unique" in message and f"{unique / 1e6:.2f} M" in message


def test_save_as_names_the_design_after_its_file_and_flags_a_stale_description(make_window, tmp_path):
    window = make_window(yaml_io.load(PRESETS_DIR / "bert-base.yaml"))
    inspector = window.inspector
    window.model.select_layers(())
    assert inspector.name_edit.text() == "bert-base" and not inspector.description_note.isVisible()
    assert window.palette_panel.apply("albert")
    assert inspector.description_note.isVisible()
    assert "may be stale" in inspector.description_note.text()
    assert window.document.save_as(tmp_path / "my-albert.yaml")
    saved = yaml_io.load(tmp_path / "my-albert.yaml")
    assert saved.name == "my-albert" and window.model.spec.name == "my-albert"
    # a name the user typed is kept by Save As; a new description clears the flag
    inspector.name_edit.setText("albert-12")
    inspector.name_edit.editingFinished.emit()
    inspector.description_edit.setText("BERT-base with one shared block")
    inspector.description_edit.editingFinished.emit()
    assert not inspector.description_note.isVisible()
    assert window.document.save_as(tmp_path / "other.yaml")
    assert yaml_io.load(tmp_path / "other.yaml").name == "albert-12"
    window.model.undo_stack.undo()                         # the description edit is one undo step
    assert window.model.spec.description == saved.description


def test_run_shape_is_saved_restored_and_undoable(make_window, tmp_path):
    window = make_window(builtin_design(2))
    metrics = window.metrics
    metrics.batch.setValue(8)
    metrics.seq.setValue(256)
    metrics.dtype.setCurrentText("bf16")
    assert (window.model.batch, window.model.seq, window.model.dtype) == (8, 256, "bf16")
    flops = window.model.report.flops.forward
    assert window.document.save_as(tmp_path / "shaped.yaml")
    run = yaml_io.load(tmp_path / "shaped.yaml").run
    assert (run.batch, run.seq, run.dtype) == (8, 256, "bf16")
    other = make_window(builtin_design(2))
    assert other.document.open(tmp_path / "shaped.yaml")
    assert (other.metrics.batch.value(), other.metrics.seq.value(), other.metrics.dtype.currentText()) == \
        (8, 256, "bf16")
    assert other.model.report.flops.forward == flops
    window.model.undo_stack.undo()                          # Save As named the design after its file
    assert window.model.spec.name != "shaped"
    window.model.undo_stack.undo()                          # the run-shape steps merge into one
    assert (window.model.batch, window.model.seq, window.model.dtype) == (1, 128, "fp32")
    assert (window.metrics.batch.value(), window.metrics.dtype.currentText()) == (1, "fp32")


def test_model_export_runs_off_the_gui_thread_and_reports_failure_in_one_line(make_window, qtbot, tmp_path, capsys):
    from PySide6.QtWidgets import QApplication
    from real_events import StallWatch

    from explorer.gui.workers import preload_torch

    window = make_window(builtin_design(2))
    with StallWatch() as loading:                    # as the app does at start-up (a no-op once loaded)
        thread = preload_torch()
        qtbot.waitUntil(lambda: thread is None or not thread.is_alive(), timeout=120_000)
    with StallWatch() as watch, qtbot.waitSignal(window.insight.export_done, timeout=60_000) as ended:
        assert window.insight.export_model(str(tmp_path / "model.py"))
        assert QApplication.overrideCursor() is not None            # busy while it writes
    assert ended.args == [True] and (tmp_path / "model.py").is_file()
    assert QApplication.overrideCursor() is None
    with capsys.disabled():
        print(f"\n[stall] background torch load: worst {loading.worst_ms:.0f} ms "
              f"({'loaded now' if thread else 'already loaded'}); model export: worst {watch.worst_ms:.0f} ms")
    with qtbot.waitSignal(window.insight.export_done, timeout=60_000) as ended:
        assert window.insight.export_model(str(tmp_path / "no" / "such" / "dir" / "model.py"))
    message = window.statusBar().currentMessage()
    assert ended.args == [False] and "\n" not in message and message
    assert QApplication.overrideCursor() is None


def _action(menu, text: str):
    for action in menu.actions():
        if action.text().replace("&", "") == text:
            return action
    raise AssertionError(f"{text!r} not in {[a.text() for a in menu.actions()]}")


def test_context_menu_has_every_drag_as_a_command(make_window):
    from explorer.design.model import Member

    window = make_window(builtin_design(6))
    view = window.stack_view
    menu = view.context_menu(view.chip_point("block2", "ffn"))
    share = _action(menu, "Share ffn with").menu()
    assert {a.text() for a in share.actions()} == {f"block{i}" for i in range(6) if i != 2}
    _action(share, "block4").trigger()
    (g,) = window.model.spec.groups
    assert set(g.members) == {Member("block2", "ffn"), Member("block4", "ffn")}
    # another layer's ffn joins that group from its own menu
    menu = view.context_menu(view.chip_point("block5", "ffn"))
    _action(_action(menu, "Add to group").menu(), g.name).trigger()
    assert Member("block5", "ffn") in window.model.spec.groups[0].members
    # unshare from the chip's menu; the window's layer actions are there too
    menu = view.context_menu(view.chip_point("block5", "ffn"))
    assert {"Duplicate layer", "Delete layers"} <= {a.text().replace("&", "") for a in menu.actions()}
    _action(menu, "Unshare ffn").trigger()
    assert Member("block5", "ffn") not in window.model.spec.groups[0].members
    # a head chip, and a new group from a selection of cards
    window.model.select_layers(("block0", "block1", "block3"))
    menu = view.context_menu(view.chip_point("block0", "heads[2:3]"))
    _action(menu, "New group from the 3 selected").trigger()
    assert {str(m.slot) for m in window.model.spec.groups[-1].members} == {"heads[2:3]"}
    assert len(window.model.spec.groups[-1].members) == 3


def test_menu_key_opens_the_selected_cards_menu(make_window, qtbot):
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication, QMenu

    window = make_window(builtin_design(4))
    window.model.select_layers(("block1",))
    window.stack_view.setFocus()
    seen = []

    def close_menu():
        popup = QApplication.activePopupWidget()
        seen.append(popup)
        if popup is not None:
            popup.close()

    from real_events import key

    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow)
    window.stack_view.setFocus()
    QTimer.singleShot(200, close_menu)
    key(qtbot, window, Qt.Key.Key_Menu)
    qtbot.waitUntil(lambda: bool(seen))
    assert isinstance(seen[0], QMenu) and "block1:block" in [a.text() for a in seen[0].actions()][0]


def test_zoom_and_fit_a_96_layer_stack(make_window, qtbot):
    from PySide6.QtCore import QPoint, QPointF
    from PySide6.QtGui import QWheelEvent
    from PySide6.QtWidgets import QApplication

    window = make_window(builtin_design(96))
    view = window.stack_view
    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow)
    view.setFocus()
    qtbot.keyClick(view, Qt.Key.Key_0, Qt.KeyboardModifier.ControlModifier)       # View > Fit the stack
    qtbot.waitUntil(lambda: view.zoom() < 1)
    shown = view.mapToScene(view.viewport().rect()).boundingRect()
    assert shown.contains(view.cards[0].sceneBoundingRect()) and shown.contains(view.cards[-1].sceneBoundingRect())
    assert view.zoom() * view.card_width() <= view.viewport().width()
    fitted = view.zoom()
    centre = QPointF(view.viewport().rect().center())
    wheel = QWheelEvent(centre, QPointF(view.viewport().mapToGlobal(centre.toPoint())), QPoint(0, 0), QPoint(0, 240),
                        Qt.MouseButton.NoButton, Qt.KeyboardModifier.ControlModifier, Qt.ScrollPhase.NoScrollPhase,
                        False)
    QApplication.sendEvent(view.viewport(), wheel)                                  # Ctrl+wheel: 2 steps in
    assert abs(view.zoom() - fitted * 1.15 ** 2) < 1e-6
    qtbot.keyClick(view, Qt.Key.Key_0, Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier)
    assert view.zoom() == 1.0


def test_long_messages_are_whole_in_the_tooltip_and_the_message_log(make_window):
    window = make_window(builtin_design(2))
    long_line = "error: " + "a/very/long/path/" * 20 + "design.yaml: groups[0]: something went wrong"
    window.show_message(long_line + "\nsecond line")
    bar = window.statusBar()
    assert bar.currentMessage() == long_line + " second line" and bar.toolTip() == bar.currentMessage()
    window.show_message("short")
    dialog = window.show_recent_messages()
    from PySide6.QtWidgets import QPlainTextEdit

    text = dialog.findChild(QPlainTextEdit).toPlainText()
    assert long_line + " second line" in text and text.rstrip().endswith("short")
    window.show_message("")                        # a cleared hint is not a message
    assert bar.currentMessage() == "" and not dialog.findChild(QPlainTextEdit).toPlainText().endswith("  ")
