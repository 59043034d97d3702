"""Code-review findings of issue 22, each checked in the window with real events."""

from pathlib import Path

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


def type_after_first_digit(qtbot, widget, keys: str) -> None:
    """What a person does: click into the field, Home, one step right, type."""
    widget.window().activateWindow()
    qtbot.waitUntil(widget.window().isActiveWindow)
    widget.setFocus()
    qtbot.waitUntil(widget.hasFocus)
    QTest.keyClick(widget, Qt.Key.Key_Home)
    QTest.keyClick(widget, Qt.Key.Key_Right)
    QTest.keyClicks(widget, keys)


def test_typing_into_an_inspector_field_edits_it_as_typed_and_undoes(qtbot, make_window):
    from explorer.design.edits import builtin_design

    window = make_window(builtin_design())
    model, inspector = window.model, window.inspector
    window.model.select_layers(())
    d_ff = inspector.editors["d_ff"].widget                 # a text field (d_ff may be left to inherit)
    assert d_ff.text() == "3072" and model.spec.settings.d_ff == 3072
    steps = model.undo_stack.count()
    type_after_first_digit(qtbot, d_ff, "12")               # 3|072 -> 31|072 -> 312|072
    assert d_ff.text() == "312072" and d_ff.cursorPosition() == 3
    assert model.spec.settings.d_ff == 312072
    assert model.undo_stack.count() == steps + 1             # one merged step
    vocab = inspector.editors["vocab_size"].widget           # a spin box
    assert vocab.value() == 30522
    type_after_first_digit(qtbot, vocab, "12")              # 3|0522 -> 312|0522
    assert vocab.lineEdit().text() == "3120522" and vocab.lineEdit().cursorPosition() == 3
    assert model.spec.settings.vocab_size == 3120522
    model.undo_stack.undo()                                  # the field still has focus: undo rewrites it
    assert model.spec.settings.vocab_size == 30522 and vocab.value() == 30522
    model.undo_stack.undo()
    assert model.spec.settings.d_ff == 3072 and d_ff.text() == "3072"
    assert model.undo_stack.count() == steps + 2 and model.undo_stack.index() == steps


def test_mixtral_gqa_is_a_row_of_the_groups_panel(make_window):
    import json

    from explorer.design.hf_import import import_hf_config
    from explorer.gui.groups_panel import STRUCTURAL_ROLE

    config = json.loads((Path(__file__).resolve().parents[1] / "fuzz" / "hf_configs" / "mixtral.json").read_text())
    window = make_window(import_hf_config(config, False))
    tree = window.groups_panel.tree
    rows = {tree.topLevelItem(i).text(0): tree.topLevelItem(i) for i in range(tree.topLevelItemCount())
            if tree.topLevelItem(i).data(0, STRUCTURAL_ROLE)}
    assert "GQA" in rows
    assert rows["GQA"].text(1) == "4 layers" and "2 K/V heads for 8 queries" in rows["GQA"].toolTip(0)
    window.grab().save(f"{SHOTS}/mixtral_groups.png")


def compare_row(window, metric: str) -> str:
    table = window.insight.compare.table
    row = next(r for r in range(table.rowCount()) if table.item(r, 0).text() == metric)
    return table.item(row, 1).text()


def click_tab(qtbot, tabs, widget) -> None:
    bar = tabs.tabBar()
    QTest.mouseClick(bar, Qt.MouseButton.LeftButton, pos=bar.tabRect(tabs.indexOf(widget)).center())
    qtbot.waitUntil(lambda: tabs.currentWidget() is widget)


def test_compare_follows_the_run_shapes_kernels(qtbot, make_window):
    from explorer.analysis import analyze
    from explorer.design.edits import builtin_design
    from explorer.design.model import RunShape

    spec = builtin_design(2).replace(run=RunShape(1, 128, "fp32", "cuda"))
    cuda, cpu = (analyze(spec, 1, 128, "fp32", device=d).memory.training for d in ("cuda", "cpu"))
    assert cuda != cpu                                   # CUDA's attention saves differ from the CPU kernels'
    window = make_window(spec)
    compare = window.insight.compare
    click_tab(qtbot, window.bottom_tabs, compare)
    assert compare_row(window, "memory.training") == f"{cuda:,}"
    assert "CUDA kernels" in compare.title.text()
    click_tab(qtbot, window.bottom_tabs, window.bottom_tabs.widget(0))      # Metrics: the kernels choice
    combo = window.metrics.device
    combo.setFocus()
    QTest.keyClick(combo, Qt.Key.Key_Up)                 # CUDA -> CPU, with a key as a person would
    qtbot.waitUntil(lambda: window.model.device == "cpu")
    click_tab(qtbot, window.bottom_tabs, compare)
    assert compare_row(window, "memory.training") == f"{cpu:,}"


def test_scheme_options_with_a_layer_list_through_the_palettes_dialog(qtbot, make_window):
    """Right-click ALBERT, "with options…", type a list of layers and another option, Enter."""
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication, QInputDialog, QLineEdit

    from explorer.design.edits import builtin_design

    window = make_window(builtin_design(4))
    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow)
    seen = {}

    def answer_dialog():
        dialog = QApplication.activeModalWidget()
        if not isinstance(dialog, QInputDialog):
            QTimer.singleShot(20, answer_dialog)
            return
        field = dialog.findChild(QLineEdit)
        seen["defaults"] = field.text()
        QTest.keyClick(field, Qt.Key.Key_A, Qt.KeyboardModifier.ControlModifier)
        QTest.keyClicks(field, "layers=block1,block3, slot=ffn")
        QTest.keyClick(field, Qt.Key.Key_Return)

    def pick_menu_entry():
        menu = QApplication.activePopupWidget()
        if menu is None:
            QTimer.singleShot(20, pick_menu_entry)
            return
        seen["menu"] = [a.text() for a in menu.actions()]
        QTimer.singleShot(0, answer_dialog)
        QTest.keyClick(menu, Qt.Key.Key_Down)
        QTest.keyClick(menu, Qt.Key.Key_Return)

    button = window.palette_panel.buttons["albert"]
    QTimer.singleShot(0, pick_menu_entry)
    # on the window's handle, as a person's click arrives: Qt makes the context-menu event from it
    QTest.mouseClick(window.windowHandle(), Qt.MouseButton.RightButton, Qt.KeyboardModifier.NoModifier,
                     button.mapTo(window, button.rect().center()))
    qtbot.waitUntil(lambda: bool(window.model.spec.groups), timeout=5000)
    assert seen["menu"] == ["Apply ALBERT all-shared with options…"]
    (group,) = window.model.spec.groups
    assert sorted((m.layer, str(m.slot)) for m in group.members) == [("block1", "ffn"), ("block3", "ffn")]



def test_the_timing_plot_keeps_a_bounded_history_in_the_same_items(qtbot):
    """Many runs and passes: the plot keeps MAX_SEGMENTS runs and MAX_POINTS passes per series,
    in the same plot items (a new sample is setData on them, nothing recreated)."""
    from PySide6.QtCore import QObject, Signal

    from explorer.bench.config import Sample
    from explorer.gui import run_panel
    from explorer.gui.run_panel import MAX_POINTS, MAX_SEGMENTS, RunPanel

    class Feed(QObject):                       # stands for the timing worker's sample signal
        sample = Signal(object)

    panel = RunPanel()
    qtbot.addWidget(panel)
    feed = Feed()
    feed.sample.connect(panel.on_worker_sample)

    def run(label: str, passes: int) -> None:
        panel._begin_segment(label)
        feed.sample.emit(Sample("design", 0, 9.0, True))
        for i in range(passes):
            feed.sample.emit(Sample("design", i + 1, 1.0 + i % 7, False))
            feed.sample.emit(Sample("twin", i + 1, 2.0 + i % 5, False))
        panel._redraw()

    item = panel.plot.getPlotItem()
    run("v0", 3)
    counts = []
    for k in range(1, 3 * MAX_SEGMENTS):
        run(f"v{k}", 3)
        counts.append(len(item.items))
    assert max(counts) == counts[MAX_SEGMENTS - 2] == counts[-1]     # one boundary line per kept run, at most
    assert len(panel.segments) == MAX_SEGMENTS and panel.segments[-1].label == f"v{3 * MAX_SEGMENTS - 1}"
    run("long", MAX_POINTS + 500)
    assert len(item.items) == counts[-1]
    for curve in (panel.design_curve, panel.twin_curve, panel.median_curve):
        xs, ys = curve.getData()
        assert len(xs) == len(ys) == MAX_POINTS
    xs, ys = panel.design_curve.getData()
    long = panel.segments[-1]
    assert list(ys) == long.design[-MAX_POINTS:]                    # the newest passes, in order
    assert list(xs) == list(range(long.start_x + 1, long.start_x + 1 + len(long.design)))[-MAX_POINTS:]
    before = list(item.items)
    feed.sample.emit(Sample("design", 0, 3.5, False))
    panel._redraw()
    assert all(a is b for a, b in zip(item.items, before)) and len(item.items) == len(before)
    assert panel.design_curve.getData()[1][-1] == 3.5
    runs = 1 + (3 * MAX_SEGMENTS - 1) + 1                              # the CSV numbers the kept runs as before
    assert run_panel.CSV_HEADER[0] == "segment" and panel.sample_rows()[1][0][0] == runs - MAX_SEGMENTS + 1
    panel.shutdown()
