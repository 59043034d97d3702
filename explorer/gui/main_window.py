"""The main window: the stack (and graph) in the middle; palette, groups, inspector and the
bottom tabs (metrics, timing, ...) around it as docks (window_layout.py)."""

from __future__ import annotations

import time
from collections import deque
from pathlib import Path

from PySide6.QtCore import QEvent, Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QDialog, QLabel, QMainWindow, QPlainTextEdit, QTabWidget, QVBoxLayout

from explorer import fmt
from explorer.design import edits
from explorer.gui import commands, focus_order
from explorer.gui.design_model import DesignModel
from explorer.gui.document import Document
from explorer.gui.graph_view import GraphView
from explorer.gui.groups_panel import GroupsPanel
from explorer.gui.inspector import Inspector
from explorer.gui.metrics_panel import MetricsPanel
from explorer.gui.palette_panel import PalettePanel
from explorer.gui.stack_view import StackView
from explorer.gui.window_layout import MIN_STACK_HEIGHT, DockLayout, ScrollingTabs
from explorer.presets import bundled_presets
from explorer.design.model import StackSpec

STATUS_MS = 10000
MAX_MESSAGES = 200


class MainWindow(QMainWindow):
    def __init__(self, spec: StackSpec, path: Path | None = None) -> None:
        super().__init__()
        self.messages: deque[str] = deque(maxlen=MAX_MESSAGES)
        self._messages_dialog: QDialog | None = None
        self.model = DesignModel(spec, self)
        self.document = Document(self.model, self)
        self._closing_after: list = []               # threads a close waits for (see closeEvent)
        self.document.set_file(path)
        self.palette_panel = PalettePanel(self.model)
        self.stack_view = StackView(self.model)
        self.graph_view = GraphView(self.model)
        self.groups_panel = GroupsPanel(self.model)
        self.inspector = Inspector(self.model)
        self.metrics = MetricsPanel(self.model)
        self.tabs = QTabWidget()
        self.tabs.addTab(self.stack_view, "Stack")
        self.tabs.addTab(self.graph_view, "Graph")
        self.tabs.setTabToolTip(0, "Layers as cards, colored by sharing group")
        self.tabs.setTabToolTip(1, "Layers and their (shared) tensors as a graph")
        self.bottom_tabs = ScrollingTabs()          # its pages scroll rather than squeeze their plots
        self.bottom_tabs.addTab(self.metrics, "Metrics")
        self.run_panel = None               # made when its tab is first shown (it loads torch)
        self.bottom_tabs.addTab(QLabel("Time the real model on a device: open this tab to load the runner."),
                                "Timing (real model)")
        self.bottom_tabs.setTabToolTip(0, "Exact parameters, FLOPs and memory of the design and its unshared twin")
        self.bottom_tabs.setTabToolTip(1, "Build the design in torch and stream forward-pass times, beside the "
                                          "unshared twin")
        self.bottom_tabs.currentChanged.connect(self.on_bottom_tabs_current_changed)
        self.tabs.setMinimumHeight(MIN_STACK_HEIGHT)
        # the panels are docks: moved, resized, closed and restored (View > Reset layout). Tab
        # follows the order they join the window: palette, the stack, groups, inspector, bottom tabs
        self.dock_layout = DockLayout(self, {"palette": ("Palette", self.palette_panel),
                                             "central": ("", self.tabs),
                                             "groups": ("Groups", self.groups_panel),
                                             "inspector": ("Inspector", self.inspector),
                                             "bottom": ("Metrics and runs", self.bottom_tabs)})
        self.docks = self.dock_layout.docks
        self.status_label = QLabel()
        self.status_label.setMinimumWidth(420)
        self.status_label.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        self.statusBar().addPermanentWidget(self.status_label)
        self._make_actions()
        self.model.message.connect(self.show_message)
        self.model.preview.connect(lambda text: self.show_message(text, keep=False))
        self.model.report_changed.connect(self.on_model_report_changed)
        from explorer.gui.insight import Insight

        self.insight = Insight(self)
        from explorer.gui.train_view import TrainView

        self.train_view = TrainView()            # torch loads in its worker, on the first Start
        self.bottom_tabs.addTab(self.train_view, "Train")
        self.bottom_tabs.setTabToolTip(self.bottom_tabs.count() - 1, "Train the design beside its unshared twin "
                                       "on the same batches: live losses, readout, layer similarity (CKA)")
        self.train_view.message.connect(self.show_message)
        self.model.report_changed.connect(self.on_train_spec_changed)
        self.on_train_spec_changed()
        self._add_import_export_actions()
        self._add_cluster_actions()
        from explorer.gui.help_menu import HelpMenu

        self.help_menu = HelpMenu(self)
        self.document.recent_changed.connect(self.fill_recent_menu)
        self.document.replaced.connect(self.on_document_replaced)
        self.document.update_title()
        self.on_model_report_changed()
        self.dock_layout.restore()
        focus_order.no_tab_traps(self)

    # ------------------------------------------------------------------ messages

    def _cluster_devices_for_runs(self, devices: list) -> None:
        """The Timing and Train tabs list a newly connected cluster's devices (the Timing tab, made
        later, asks itself)."""
        if self.run_panel is not None:
            self.run_panel.set_cluster_devices(devices)
        self.train_view.set_cluster_devices(devices)

    def show_message(self, text: str, keep: bool = True) -> None:
        """One line in the status bar, however long or multi-line the message. A line too long
        for the bar is whole in its tooltip and in View > Recent messages (which keeps results:
        `keep` False for a passing preview, such as what a drop under the cursor would do)."""
        line = " ".join(str(text).split())
        if not line:
            self.statusBar().clearMessage()
            return
        self.statusBar().showMessage(line, STATUS_MS)
        self.statusBar().setToolTip(line)
        if not keep:
            return
        self.messages.append(f"{time.strftime('%H:%M:%S')}  {line}")
        if self._messages_dialog is not None and self._messages_dialog.isVisible():
            self._messages_dialog.findChild(QPlainTextEdit).appendPlainText(self.messages[-1])

    def show_recent_messages(self) -> QDialog:
        """The last messages, whole (the status bar cuts long ones), newest last."""
        if self._messages_dialog is None:
            dialog = QDialog(self)
            dialog.setWindowTitle("Recent messages")
            dialog.resize(820, 360)
            text = QPlainTextEdit(readOnly=True)
            text.setLineWrapMode(QPlainTextEdit.LineWrapMode.WidgetWidth)
            QVBoxLayout(dialog).addWidget(text)
            self._messages_dialog = dialog
        text = self._messages_dialog.findChild(QPlainTextEdit)
        text.setPlainText("\n".join(self.messages))
        text.verticalScrollBar().setValue(text.verticalScrollBar().maximum())
        self._messages_dialog.show()
        self._messages_dialog.raise_()
        return self._messages_dialog

    def on_model_report_changed(self) -> None:
        spec, report = self.model.spec, self.model.report
        problem = self.model.run_shape_problem() if report is None else None
        if report is None and problem is None:
            self.status_label.setText(f"{len(spec.layers)} layers · invalid")
            return
        if problem is not None:                    # a valid design at a run shape it cannot take
            self.status_label.setText(f"{fmt.plural(len(spec.layers), 'layer')} · "
                                      f"{fmt.plural(len(spec.groups), 'group')} · {problem[1].unique:,} params · "
                                      f"{problem[0].path} does not fit")
            return
        self.status_label.setText(f"{fmt.plural(len(spec.layers), 'layer')} · "
                                  f"{fmt.plural(len(spec.groups), 'group')} · "
                                  f"{report.params.unique:,} params · {report.params.saving_factor:.2f}× saving")

    # ------------------------------------------------------------------ actions

    def _action(self, menu, text: str, slot, shortcut=None, tip: str = "") -> QAction:
        action = QAction(text, self)
        if shortcut is not None:
            action.setShortcut(QKeySequence(shortcut))
        action.setToolTip(tip or text)
        action.setStatusTip(tip or text)
        action.triggered.connect(lambda _=False: slot())
        menu.addAction(action)
        return action

    def _make_actions(self) -> None:
        bar = self.menuBar()
        file_menu = bar.addMenu("&File")
        self._action(file_menu, "&New", self.document.new, QKeySequence.StandardKey.New,
                     "Start a new design (a 12-block encoder)")
        self._action(file_menu, "&Open…", self.document.open, QKeySequence.StandardKey.Open, "Open a design file")
        self.recent_menu = file_menu.addMenu("Open &Recent")
        self.presets_menu = file_menu.addMenu("&Presets")
        self.presets_menu.setToolTipsVisible(True)
        for path, description in bundled_presets():
            action = self._action(self.presets_menu, f"{path.stem} — {description[:70]}",
                                  lambda p=path: self.document.open(p, as_template=True), tip=description)
            action.setData(str(path))
        if not self.presets_menu.actions():
            self.presets_menu.addAction("(no bundled presets found)").setEnabled(False)
        file_menu.addSeparator()
        self._action(file_menu, "&Save", self.document.save, QKeySequence.StandardKey.Save, "Save the design")
        self._action(file_menu, "Save &As…", self.document.save_as, QKeySequence.StandardKey.SaveAs,
                     "Save the design to a new file")
        file_menu.addSeparator()
        self._action(file_menu, "&Quit", self.close, QKeySequence.StandardKey.Quit, "Close the window")
        edit_menu = bar.addMenu("&Edit")
        stack = self.model.undo_stack
        self.undo_action = stack.createUndoAction(self, "&Undo")
        self.undo_action.setShortcut(QKeySequence("Ctrl+Z"))
        self.redo_action = stack.createRedoAction(self, "&Redo")
        self.redo_action.setShortcuts([QKeySequence("Ctrl+Shift+Z"), QKeySequence("Ctrl+Y")])
        edit_menu.addAction(self.undo_action)
        edit_menu.addAction(self.redo_action)
        edit_menu.addSeparator()
        self.delete_action = self._action(edit_menu, "&Delete layers", self.delete_selected,
                                          QKeySequence.StandardKey.Delete, "Delete the selected layers")
        self.duplicate_action = self._action(edit_menu, "D&uplicate layer", self.duplicate_selected, "Ctrl+D",
                                             "Insert an unshared copy of the selected layer above it")
        self.unshare_action = self._action(edit_menu, "Unshare selected layers", self.unshare_selected, None,
                                           "The selected layers leave their groups and get their own tensors")
        self._action(edit_menu, "Select &all layers", self.select_all, QKeySequence.StandardKey.SelectAll,
                     "Select every layer of the stack")
        view_menu = bar.addMenu("&View")
        self._action(view_menu, "&Stack", lambda: self.show_central(0), "Ctrl+1",
                     "Show the stack and give it the keyboard (arrows move, Shift+arrows select)")
        self._action(view_menu, "&Graph", lambda: self.show_central(1), "Ctrl+2", "Show the design graph")
        self._action(view_menu, "Recent &messages…", self.show_recent_messages, "Ctrl+Shift+M",
                     "Every status-bar message of this session, whole")
        view_menu.addSeparator()
        self._action(view_menu, "Zoom &in", lambda: self.stack_view.zoom_by(1), QKeySequence.StandardKey.ZoomIn,
                     "Enlarge the stack (also Ctrl+wheel)")
        self._action(view_menu, "Zoom &out", lambda: self.stack_view.zoom_by(-1), QKeySequence.StandardKey.ZoomOut,
                     "Shrink the stack (also Ctrl+wheel)")
        self._action(view_menu, "&Fit the stack", self.stack_view.fit_stack, "Ctrl+0",
                     "Zoom so every layer is in view")
        self._action(view_menu, "Actual si&ze", lambda: self.stack_view.set_zoom(1.0), "Ctrl+Shift+0",
                     "Cards at their normal size")
        view_menu.addSeparator()
        for dock in self.docks.values():
            view_menu.addAction(dock.toggleViewAction())
        self._action(view_menu, "&Reset layout", self.dock_layout.reset, None,
                     "Put every panel back in its place, at its default size")
        for action in (self.undo_action, self.redo_action):
            self.addAction(action)
        from explorer.gui.undo_keys import UndoRouter

        self.undo_router = UndoRouter(self, self.model, self.undo_action, self.redo_action)   # from any field
        self.stack_view.context_actions = [("", self.duplicate_action), ("", self.delete_action), ("", None),
                                           ("", self.unshare_action)]
        self.fill_recent_menu()

    def _add_import_export_actions(self) -> None:
        file_menu = self.menuBar().actions()[0].menu()
        before = next(a for a in file_menu.actions() if a.text() == "&Quit")
        menu = file_menu.addMenu("&Import / Export")
        file_menu.insertMenu(before, menu)
        self._action(menu, "Import Hugging Face config…", self.insight.import_hf, "Ctrl+I",
                     "Turn a transformers config.json into an editable design (the base model)")
        self._action(menu, "Import Hugging Face config with its head…",
                     lambda: self.insight.import_hf(with_head=True), "Ctrl+Shift+I",
                     "The model of the config's architectures[0]: LM or task head included (CLI: --with-head)")
        self._action(menu, "Export report (Markdown, JSON, CSV)…", self.insight.export_report, None,
                     "Write the figures of this design and its unshared twin")
        self._action(menu, "Export PyTorch model…", self.insight.export_model, None,
                     "Write a standalone model.py (imports only torch) with the same sharing")

    def _add_cluster_actions(self) -> None:
        """Cluster > Ray address…: where the Sweeps tab's timed and trained schemes run "on the cluster"."""
        from explorer.gui.cluster_settings import ClusterSettingsDialog

        sweeps = self.insight.sweeps
        self.cluster_dialog = ClusterSettingsDialog(self, busy=sweeps.cluster_busy)
        self.cluster_dialog.message.connect(self.show_message)
        self.cluster_dialog.address_changed.connect(sweeps.set_ray_address)
        self.cluster_dialog.devices_found.connect(sweeps.set_cluster_devices)
        self.cluster_dialog.devices_found.connect(self._cluster_devices_for_runs)
        menu = self.menuBar().addMenu("&Cluster")
        self.cluster_action = self._action(menu, "Ray &address…", self.cluster_dialog.open_settings, None,
                                           "Where the Sweeps tab's Train and Time run on the cluster: a Ray "
                                           "address, tested in the background")

    def fill_recent_menu(self) -> None:
        self.recent_menu.clear()
        for path in self.document.recent():
            self._action(self.recent_menu, path, lambda p=path: self.document.open(p), tip=f"Open {path}")
        self.recent_menu.setEnabled(bool(self.recent_menu.actions()))

    # ------------------------------------------------------------------ layer edits

    def delete_selected(self) -> bool:
        ids = list(self.model.selected_layers)
        if not ids:
            self.model.message.emit("select layers to delete first")
            return False
        first = min(self.model.spec.layer_index(i) for i in ids)
        if not self.model.edit(commands.SpecCommand, f"Delete {', '.join(ids)}",
                               lambda s: edits.delete_layers(s, ids)):
            return False
        layers = self.model.spec.layers          # the layer now in that place stays selected, for the keyboard
        if layers:
            self.model.select_layers((layers[min(first, len(layers) - 1)].id,))
        return True

    def duplicate_selected(self) -> bool:
        ids = self.model.selected_layers
        if len(ids) != 1:
            self.model.message.emit("select exactly one layer to duplicate")
            return False
        ok = self.model.edit(commands.SpecCommand, f"Duplicate {ids[0]}",
                             lambda s: edits.duplicate_layer(s, ids[0]))
        if ok:
            index = self.model.spec.layer_index(ids[0]) + 1
            self.model.select_layers((self.model.spec.layers[index].id,))
        return ok

    def unshare_selected(self) -> bool:
        ids = list(self.model.selected_layers)
        if not ids:
            self.model.message.emit("select layers to unshare first")
            return False
        return self.model.edit(commands.SpecCommand, f"Unshare {', '.join(ids)}", lambda s: edits.leave_groups(s, ids))

    def select_all(self) -> None:
        self.model.select_layers(tuple(layer.id for layer in self.model.spec.layers))

    def on_bottom_tabs_current_changed(self, index: int) -> None:
        if index == 1 and self.run_panel is None:
            self.ensure_run_panel()

    def show_central(self, index: int) -> None:
        """The Stack (0) or Graph (1) tab, with the keyboard focus."""
        self.tabs.setCurrentIndex(index)
        self.tabs.widget(index).setFocus(Qt.FocusReason.ShortcutFocusReason)

    def ensure_run_panel(self):
        """The timing panel (explorer.gui.run_panel), created on first use and fed every design."""
        if self.run_panel is None:
            from explorer.gui.run_panel import RunPanel

            self.run_panel = RunPanel()
            self.run_panel.message.connect(self.show_message)
            self.run_panel.run_finished.connect(self.insight.on_run_finished)
            self._timed_spec = self.model.spec
            self.run_panel.set_spec(self.model.spec, self.model.spec.name)
            # after the push (indexChanged), so undoText() names the edit that made this version
            self.model.undo_stack.indexChanged.connect(self.on_undo_stack_index_changed)
            placeholder = self.bottom_tabs.widget(1)
            self.bottom_tabs.blockSignals(True)
            self.bottom_tabs.removeTab(1)
            self.bottom_tabs.insertTab(1, self.run_panel, "Timing (real model)")
            self.bottom_tabs.setCurrentIndex(1)
            self.bottom_tabs.blockSignals(False)
            placeholder.deleteLater()
        return self.run_panel

    def on_document_replaced(self, previous: str) -> None:
        """Runs on show in the Train and Timing tabs say they came from the design opened before."""
        self.train_view.label_runs_from(previous)
        if self.run_panel is not None:
            self.run_panel.label_runs_from(previous)

    def on_train_spec_changed(self) -> None:
        if self.model.report is not None:                   # only valid designs train
            self.train_view.set_spec(self.model.spec)

    def on_undo_stack_index_changed(self, _index: int) -> None:
        if self.model.report is not None and self.model.spec != self._timed_spec:   # only valid designs build
            self._timed_spec = self.model.spec
            self.run_panel.set_spec(self.model.spec, self.model.undo_stack.undoText() or self.model.spec.name)

    def changeEvent(self, event) -> None:
        """Follow the system palette (light/dark switch) while running."""
        super().changeEvent(event)
        if event.type() == QEvent.Type.PaletteChange:
            from explorer.gui import layer_card

            layer_card.clear_pixmap_cache()
            self.stack_view.refresh(force=True)
            self.metrics.refresh()
            self.graph_view.on_model_changed()

    def closeEvent(self, event) -> None:
        if self._closing_after:                       # a pass was still running when the user closed
            self._closing_after = [t for t in self._closing_after if t.isRunning()]
            if self._closing_after:
                event.ignore()
            else:
                event.accept()
            return
        if not self.document.maybe_save():
            event.ignore()
            return
        self.dock_layout.save()
        self.document.discard_autosave()
        from explorer.jobs.local import pool

        pool().close()              # torch runs in worker processes: closing never waits on a pass
        running = ((self.run_panel.shutdown() if self.run_panel is not None else []) + self.insight.sweeps.shutdown()
                   + self.train_view.shutdown() + self.cluster_dialog.shutdown())
        if running:
            # Stop was sent, but torch cannot be interrupted inside a pass: close when it ends,
            # rather than destroy a running thread (which would abort the process)
            self._closing_after = running
            self.centralWidget().setEnabled(False)
            for dock in self.docks.values():
                dock.widget().setEnabled(False)
            self.show_message("Closing when the pass in progress ends (Stop was sent)")
            for thread in running:
                thread.finished.connect(self.close)
            event.ignore()
            return
        event.accept()
