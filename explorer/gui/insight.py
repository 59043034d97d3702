"""Wire the insight views (compare, sweeps, planner) and the import/export actions into the window."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtWidgets import QApplication, QFileDialog

from explorer.errors import ExplorerError
from explorer.fileio import write_atomic
from explorer.gui import commands
from explorer.gui.compare_view import CompareView
from explorer.gui.planner_view import PlannerView
from explorer.gui.sweep_view import SweepView
from explorer.gui.workers import ExportWorker, start_in_thread


class Insight(QObject):
    """Owns the Compare, Sweeps and Planner tabs; feeds them every valid design."""

    export_done = Signal(bool)          # a model export ended (True: the file is written)

    def __init__(self, window) -> None:
        super().__init__(window)
        self.window = window
        model = window.model
        self.compare = CompareView()
        self.sweeps = SweepView()
        self.planner = PlannerView()
        tabs = window.bottom_tabs
        for view, title, tip in ((self.compare, "Compare", "The design beside a pinned baseline, a preset or a file"),
                                 (self.sweeps, "Sweeps", "Sequence length, depth and every scheme on this design"),
                                 (self.planner, "Training memory", "Memory per GPU under DP, ZeRO and tensor "
                                                                    "parallelism")):
            tabs.addTab(view, title)
            tabs.setTabToolTip(tabs.count() - 1, tip)
            view.message.connect(window.show_message)
        self.sweeps.apply_requested.connect(self.on_sweeps_apply_requested)
        model.report_changed.connect(self.on_model_report_changed)
        self.on_model_report_changed()

    def on_model_report_changed(self) -> None:
        model = self.window.model
        if model.report is None:
            if model.plan is not None:          # a valid design whose run shape does not fit it: the
                self.planner.set_spec(model.spec)   # planner has a run shape of its own
            return
        r = model.report
        self.compare.set_spec(model.spec, r.batch, r.seq, r.dtype, r.device)
        self.sweeps.set_spec(model.spec)
        self.planner.set_spec(model.spec)

    def on_sweeps_apply_requested(self, spec) -> None:
        self.window.model.propose(commands.SpecCommand, spec, "Apply scheme from the frontier")

    def on_run_finished(self, result) -> None:
        if result.design.samples_ms:
            self.compare.record_time(self.window.run_panel._spec, result.design.median_ms)

    # ------------------------------------------------------------------ import / export

    def import_hf(self, path: str | None = None, with_head: bool = False) -> bool:
        """A transformers config.json as a new design: the base model, or with `with_head` the
        model of its `architectures[0]` (the CLI's --with-head), LM or task head included."""
        from explorer.design.hf_import import import_hf_config

        title = "Import a Hugging Face config" + (" with its head" if with_head else "")
        path = path or QFileDialog.getOpenFileName(self.window, title, "", "config.json (*.json)")[0]
        if not path:
            return False
        try:
            spec = import_hf_config(path, with_head=with_head)
        except ExplorerError as err:
            self.window.show_message(str(err))
            return False
        if not self.window.document.new(spec):
            return False
        self.window.show_message(f"Imported {Path(path).name}: {spec.name}, {len(spec.layers)} layers")
        return True

    def export_report(self, path: str | None = None) -> bool:
        """JSON, CSV or Markdown by the file's suffix."""
        import json

        from explorer.analysis.export_report import to_csv, to_markdown

        report = self.window.model.report
        if report is None:
            self.window.show_message("the design is invalid; fix it before exporting a report")
            return False
        path = path or QFileDialog.getSaveFileName(
            self.window, "Export report", f"{report.spec.name}.md",
            "Markdown (*.md);;JSON (*.json);;CSV (*.csv)")[0]
        if not path:
            return False
        suffix = Path(path).suffix.lower()
        text = {".json": lambda: json.dumps(report.to_json(), indent=2) + "\n", ".csv": lambda: to_csv(report),
                ".md": lambda: to_markdown(report)}.get(suffix, lambda: to_markdown(report))()
        try:
            write_atomic(path, text)
        except OSError as err:
            self.window.show_message(f"{path}: cannot write ({err.strerror or err})")
            return False
        self.window.show_message(f"Report written to {path}")
        return True

    def export_model(self, path: str | None = None) -> bool:
        """A standalone model.py that imports only torch. Written by the worker process (it loads
        torch), with a busy cursor; `export_done` says when (True: written). Returns whether
        the export started."""
        spec = self.window.model.spec
        path = path or QFileDialog.getSaveFileName(self.window, "Export PyTorch model", "model.py",
                                                   "Python (*.py)")[0]
        if not path:
            return False

        worker = ExportWorker(spec, path)
        worker.done.connect(self._on_export_written)      # methods: run on the GUI thread, not the worker's
        worker.failed.connect(self._on_export_failed)
        QApplication.setOverrideCursor(Qt.CursorShape.BusyCursor)
        self.window.show_message(f"Writing {path}…")
        self._export_thread = start_in_thread(worker, self.window)
        self._export_worker = worker
        return True

    def _on_export_written(self, written: str) -> None:
        self._export_ended(f"Standalone model written to {written}: build_model() returns the design", True)

    def _on_export_failed(self, line: str) -> None:
        self._export_ended(line, False)

    def _export_ended(self, line: str, ok: bool) -> None:
        QApplication.restoreOverrideCursor()
        self.window.show_message(line)
        self.export_done.emit(ok)
