"""The window's layout at the sizes people use (1280x720, 1440x900, 1920x1080): the panels are
docks that come back where the user left them and go back with View > Reset layout, plots keep a
readable height during a run, switching bottom tabs never moves the stack or the Groups panel,
and the texts seen cut short on a real display fit whole."""

from __future__ import annotations

import dataclasses
import os

import pytest
from PySide6.QtCore import QPoint, QRectF, Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QDockWidget, QGroupBox, QScrollArea

from explorer.design import edits
from explorer.design.edits import builtin_design
from explorer.design.model import Member
from explorer.design.strategies import apply_scheme
from real_events import click, to_window

SIZES = ((1280, 720), (1440, 900), (1920, 1080))
READABLE_PX = 100            # the data area of a plot, at the least
DOCKS = ("palette", "groups", "inspector", "bottom")
SHOTS = os.environ.get("EXPLORER_LAYOUT_SHOTS")      # a folder: keep the screenshots there to look at


def tiny_design(n_blocks: int = 2):
    spec = builtin_design(n_blocks)
    return dataclasses.replace(spec, name="tiny", settings=dataclasses.replace(
        spec.settings, d_model=64, n_heads=4, d_ff=128, vocab_size=500, max_positions=512))


def shot(widget, name: str, tmp_path) -> None:
    folder = SHOTS or str(tmp_path)
    assert widget.grab().save(os.path.join(folder, f"{name}.png"))


def choose(qtbot, window, menu_title: str, action_text: str) -> None:
    """Open a menu of the menu bar with a click, then click one of its actions."""
    bar = window.menuBar()
    entry = next(a for a in bar.actions() if a.text().replace("&", "") == menu_title)
    click(qtbot, window, to_window(window, bar, bar.actionGeometry(entry).center()))
    qtbot.waitUntil(lambda: QApplication.activePopupWidget() is not None)
    menu = QApplication.activePopupWidget()
    action = next(a for a in menu.actions() if a.text().replace("&", "") == action_text)
    QTest.mouseClick(menu, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier,
                     menu.actionGeometry(action).center())
    qtbot.waitUntil(lambda: QApplication.activePopupWidget() is None)


def click_tab(qtbot, window, tabs, index: int) -> None:
    bar = tabs.tabBar()
    click(qtbot, window, to_window(window, bar, bar.tabRect(index).center()))
    assert tabs.currentIndex() == index


def dock_places(window) -> dict:
    """Each dock's area, visibility, floating state and size."""
    return {name: (window.dockWidgetArea(dock), dock.isVisible(), dock.isFloating(), dock.width(), dock.height())
            for name, dock in window.docks.items()}


def axis_label_whole(plot) -> bool:
    """Whether the plot's vertical axis labels lie inside the plot (a short plot cuts both ends)."""
    visible = plot.mapToScene(plot.viewport().rect()).boundingRect()
    item = plot.getPlotItem()
    for name in ("left", "right"):
        axis = item.getAxis(name)
        if axis.isVisible() and axis.labelText:
            margin = axis.label.document().documentMargin()          # blank: the text starts inside it
            label = axis.label.mapRectToScene(axis.label.boundingRect().adjusted(margin, margin, -margin, -margin))
            if not visible.adjusted(-1, -1, 1, 1).contains(label):
                return False
    return True


# ---------------------------------------------------------------------------- docks

def test_panels_are_docks_that_come_back_where_they_were_left(make_window, qtbot):
    window = make_window()
    assert set(window.docks) == set(DOCKS)
    for name in DOCKS:
        assert isinstance(window.docks[name], QDockWidget) and window.docks[name].isVisible()
    assert window.docks["bottom"].widget() is window.bottom_tabs
    # the user moves the groups to the left, closes the inspector and makes the bottom tabs short
    docks = window.docks
    window.addDockWidget(Qt.DockWidgetArea.LeftDockWidgetArea, docks["groups"])
    docks["inspector"].close()
    window.resizeDocks([docks["bottom"]], [230], Qt.Orientation.Vertical)
    qtbot.wait(20)
    before = dock_places(window)
    assert before["inspector"][1] is False and before["groups"][0] == Qt.DockWidgetArea.LeftDockWidgetArea
    window.close()                               # closing saves the layout
    again = make_window()
    qtbot.wait(20)
    after = dock_places(again)
    for name in DOCKS:
        area, visible, floating, width, height = after[name]
        assert (area, visible, floating) == before[name][:3], name
        if visible:
            assert abs(width - before[name][3]) <= 2 and abs(height - before[name][4]) <= 2, (name, after, before)


def test_reset_layout_puts_every_panel_back_at_its_default_size(make_window, qtbot):
    fresh = make_window(size=(1280, 720))
    qtbot.wait(20)
    defaults = dock_places(fresh)
    fresh.close()
    window = make_window(size=(1280, 720))           # restores what `fresh` saved: the defaults
    docks = window.docks
    docks["palette"].setFloating(True)
    docks["inspector"].close()
    window.addDockWidget(Qt.DockWidgetArea.TopDockWidgetArea, docks["groups"])
    window.resizeDocks([docks["bottom"]], [150], Qt.Orientation.Vertical)
    qtbot.wait(20)
    assert dock_places(window) != defaults
    choose(qtbot, window, "View", "Reset layout")

    def back_to_defaults() -> None:                  # the docks settle within a few event-loop turns
        after = dock_places(window)
        for name in DOCKS:
            area, visible, floating, width, height = after[name]
            assert (area, visible, floating) == defaults[name][:3], name
            assert abs(width - defaults[name][3]) <= 2 and abs(height - defaults[name][4]) <= 2, \
                (name, after, defaults)

    qtbot.waitUntil(back_to_defaults, timeout=2000)


# ---------------------------------------------------------------------------- sizes

def test_at_each_size_plots_stay_readable_and_tabs_never_move_the_stack(make_window, qtbot, tmp_path):
    """One real timing run, then at each window size (the default layout for that size): every
    bottom tab, clicked in turn, leaves the stack and the Groups panel as they were, and every
    plot shown keeps a readable data area and its axis label whole."""
    pytest.importorskip("torch")
    import pyqtgraph as pg

    window = make_window(tiny_design(), size=SIZES[0])
    tabs = window.bottom_tabs
    timing = next(i for i in range(tabs.count()) if tabs.tabText(i).startswith("Timing"))
    click_tab(qtbot, window, tabs, timing)
    panel = window.run_panel
    panel.batch_spin.setValue(1)
    panel.seq_spin.setValue(8)
    panel.iters_spin.setValue(3)
    panel.warmup_spin.setValue(1)
    with qtbot.waitSignal(panel.run_finished, timeout=120_000):
        panel.start()
    qtbot.wait(50)
    assert panel.readout.text().count("\n") >= 3          # the run's readout, several lines of it
    for width, height in SIZES:
        window.resize(width, height)
        qtbot.waitUntil(lambda w=width, h=height: (window.width(), window.height()) == (w, h))
        window.dock_layout.reset()
        qtbot.wait(30)
        click_tab(qtbot, window, tabs, 0)
        qtbot.wait(30)
        stack_h, groups_h = window.stack_view.height(), window.groups_panel.tree.height()
        assert stack_h >= 250 and groups_h >= 90, (width, height, stack_h, groups_h)
        for index in list(range(1, tabs.count())) + [timing]:
            click_tab(qtbot, window, tabs, index)
            qtbot.wait(30)
            assert (window.stack_view.height(), window.groups_panel.tree.height()) == (stack_h, groups_h), \
                (width, height, tabs.tabText(index))
            for plot in tabs.currentWidget().findChildren(pg.PlotWidget):
                if not plot.isVisible():
                    continue
                view_h = plot.getPlotItem().vb.height()
                assert view_h >= READABLE_PX, (width, height, tabs.tabText(index), type(plot.parent()), view_h)
                assert axis_label_whole(plot), (width, height, tabs.tabText(index))
            shot(window, f"{width}x{height}-{index}", tmp_path)


# ---------------------------------------------------------------------------- texts that fit

def test_metrics_figures_of_a_96_layer_design_fit_their_labels(make_window, qtbot):
    spec = builtin_design(96)
    spec = apply_scheme(spec.replace(settings=dataclasses.replace(spec.settings, d_model=12288, n_heads=96,
                                                                  d_ff=49152)), "albert")
    window = make_window(spec, size=(1280, 720))
    assert window.model.report is not None
    qtbot.wait(20)
    saving = window.metrics.values["saving"].text()
    assert "G)" in saving                                   # about 60x, over a hundred billion saved
    for key, label in window.metrics.values.items():
        assert label.fontMetrics().horizontalAdvance(label.text()) <= label.contentsRect().width(), \
            (key, label.text(), label.contentsRect().width())


def test_group_names_are_whole_in_the_groups_panel(make_window, qtbot):
    spec = builtin_design(6)
    spec = edits.new_group(spec, [Member(f"block{i}", "attention.q") for i in range(6)])
    spec = edits.rename_group(spec, spec.groups[0].name, "attention.q-group-of-the-lower-half")
    window = make_window(spec, size=(1280, 720))
    qtbot.wait(20)
    tree = window.groups_panel.tree
    item = tree.topLevelItem(0)
    assert item.text(0) == "attention.q-group-of-the-lower-half"
    needed = tree.fontMetrics().horizontalAdvance(item.text(0)) + tree.iconSize().width()
    assert tree.header().sectionSize(0) >= needed, (tree.header().sectionSize(0), needed)


def test_palette_titles_keep_their_first_letter_while_tab_walks_the_schemes(make_window, qtbot):
    window = make_window(size=(1280, 720))
    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow)
    palette = window.palette_panel
    first = next(iter(palette.buttons.values()))
    first.setFocus(Qt.FocusReason.TabFocusReason)
    for _ in range(len(palette.buttons)):
        QTest.keyClick(QApplication.focusWidget(), Qt.Key.Key_Tab)
        focused = QApplication.focusWidget()
        if focused not in palette.buttons.values():
            break
        for box in palette.findChildren(QGroupBox):          # the titles: Layers, ..., Embeddings
            scroll = box.parentWidget()
            while scroll is not None and not isinstance(scroll, QScrollArea):
                scroll = scroll.parentWidget()
            x = box.mapTo(scroll.viewport() if scroll is not None else palette, QPoint(0, 0)).x()
            assert x >= 0, (box.title(), x, focused.text())


def test_loss_axis_label_is_whole_at_1280x720(make_window, qtbot):
    window = make_window(size=(1280, 720))
    window.bottom_tabs.setCurrentWidget(window.train_view)
    qtbot.wait(50)
    plot = window.train_view.plot
    assert plot.getPlotItem().getAxis("left").labelText.startswith("loss")
    assert axis_label_whole(plot)


@pytest.mark.parametrize("size", SIZES)
def test_frontier_labels_cover_no_point_and_no_other_label(make_window, qtbot, size):
    from explorer.design import yaml_io
    from explorer.gui.sweep_frontier import MARKER_RADIUS
    from explorer.presets import PRESETS_DIR

    window = make_window(yaml_io.load(PRESETS_DIR / "head-sharing.yaml"), size=size)
    window.bottom_tabs.setCurrentWidget(window.insight.sweeps)
    sweeps = window.insight.sweeps
    sweeps.tabs.setCurrentIndex(2)
    qtbot.wait(50)
    frontier = sweeps.schemes.frontier
    plot = frontier.frontier_plot
    box = plot.getPlotItem().vb.sceneBoundingRect()
    labels = frontier._frontier_labels
    assert labels and "current" in [label.toPlainText() for label in labels]
    rects = [label.mapRectToScene(label.boundingRect()) for label in labels]
    points = [plot.getPlotItem().vb.mapViewToScene(p.pos()) for p in frontier.frontier_scatter.points()]
    markers = [QRectF(p.x() - MARKER_RADIUS + 1, p.y() - MARKER_RADIUS + 1, 2 * MARKER_RADIUS - 2,
                      2 * MARKER_RADIUS - 2) for p in points]
    for label, rect in zip(labels, rects):
        assert box.adjusted(-1, -1, 1, 1).contains(rect), (label.toPlainText(), rect, box)
        margin = label.textItem.document().documentMargin()          # blank around the text
        text = rect.adjusted(margin, margin, -margin, -margin)
        assert not any(text.intersects(m) for m in markers), label.toPlainText()
    assert not any(a.intersects(b) for i, a in enumerate(rects) for b in rects[i + 1:])
    assert len(labels) >= 5                 # points that coincide (Sequence, Cycle, ...) show on hover
