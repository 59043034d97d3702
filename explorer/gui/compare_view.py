"""Compare view: the current design beside a baseline (pinned, a preset or a file), with ratios.

The same rows as `explorer compare`; differences are highlighted; measured times are
added when both sides have been timed in the run panel.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (QComboBox, QFileDialog, QHBoxLayout, QHeaderView, QLabel, QPushButton, QTableWidget,
                               QTableWidgetItem, QVBoxLayout, QWidget)

from explorer.analysis import analyze
from explorer.analysis.export_report import report_rows
from explorer.errors import ExplorerError
from explorer.gui import theme
from explorer.gui.lazy_view import LazyView
from explorer.presets import bundled_presets
from explorer.design import yaml_io


class CompareView(LazyView):
    """Recomputes only while shown (LazyView): an edit costs a hidden Compare tab nothing."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.baseline = None
        self.baseline_label = "none"
        self.measured: dict = {}          # StackSpec -> median ms, from the run panel
        self.batch, self.seq, self.dtype, self.device = 1, 128, "fp32", "cpu"
        self.pin_button = QPushButton("Pin current as baseline", toolTip="Freeze the current design as B")
        self.pin_button.clicked.connect(self.pin_current)
        self.preset_combo = QComboBox(toolTip="Compare with a bundled preset")
        self.preset_combo.addItem("a preset…", None)
        for path, description in bundled_presets():
            self.preset_combo.addItem(path.stem, str(path))
            self.preset_combo.setItemData(self.preset_combo.count() - 1, description, Qt.ItemDataRole.ToolTipRole)
        self.preset_combo.activated.connect(self._on_preset)
        self.file_button = QPushButton("Open file…", toolTip="Compare with a design file")
        self.file_button.clicked.connect(self._on_file)
        self.title = QLabel("B: none (pin the current design or pick a preset)")
        self.table = QTableWidget(0, 4)
        self.table.setHorizontalHeaderLabels(["metric", "A: current", "B: baseline", "B / A"])
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.table.setToolTip("Highlighted rows differ between the two designs")
        top = QHBoxLayout()
        for w in (self.pin_button, self.preset_combo, self.file_button):
            top.addWidget(w)
        top.addStretch(1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.addLayout(top)
        layout.addWidget(self.title)
        layout.addWidget(self.table, 1)

    def set_spec(self, spec, batch: int | None = None, seq: int | None = None, dtype: str | None = None,
                 device: str | None = None) -> None:
        """The design A and its run shape; `device`: whose kernels the training activations follow."""
        self.batch, self.seq, self.dtype = batch or self.batch, seq or self.seq, dtype or self.dtype
        self.device = device or self.device
        super().set_spec(spec)

    def set_baseline(self, spec, label: str) -> None:
        self.baseline = spec
        self.baseline_label = label
        self.refresh()

    def pin_current(self) -> None:
        if self._spec is not None:
            self.set_baseline(self._spec, f"pinned {self._spec.name}")

    def _on_preset(self, index: int) -> None:
        path = self.preset_combo.itemData(index)
        if path:
            self._load(path)

    def _on_file(self) -> None:
        path, _f = QFileDialog.getOpenFileName(self, "Compare with", "", "Designs (*.yaml *.yml)")
        if path:
            self._load(path)

    def _load(self, path: str) -> None:
        try:
            spec = yaml_io.load(path)
            self.set_baseline(spec, f"{spec.name} ({Path(path).name})")
        except ExplorerError as err:
            self.message.emit(str(err))

    def record_time(self, spec, median_ms: float) -> None:
        """A measured median for a design version (from the run panel)."""
        self.measured[spec] = median_ms
        self.refresh()

    def rows(self) -> list[tuple[str, float, float | None]]:
        a = analyze(self._spec, self.batch, self.seq, self.dtype, device=self.device)
        b = (analyze(self.baseline, self.batch, self.seq, self.dtype, device=self.device)
             if self.baseline is not None else None)
        out = [(name, va, None) for name, va, _twin in report_rows(a)]
        if b is not None:
            out = [(name, va, vb) for (name, va, _t), (_n, vb, _t2) in zip(report_rows(a), report_rows(b))]
        ta, tb = self.measured.get(self._spec), self.measured.get(self.baseline) if b else None
        if ta is not None or tb is not None:
            out.append(("measured median ms", ta, tb))
        return out

    def refresh(self) -> None:
        if self._spec is None:
            return
        try:
            rows = self.rows()
        except ExplorerError as err:
            self.message.emit(str(err))
            return
        self.title.setText(f"A: {self._spec.name}    B: {self.baseline_label}    "
                           f"(batch {self.batch} x seq {self.seq}, {self.dtype}, {self.device.upper()} kernels)")
        self.table.setRowCount(len(rows))
        for r, (name, va, vb) in enumerate(rows):
            ratio = "" if va in (None, 0) or vb is None else f"{vb / va:.3f}"
            cells = [name, _fmt(va), _fmt(vb), ratio]
            for c, text in enumerate(cells):
                item = QTableWidgetItem(text)
                if c:
                    item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                if vb is not None and va != vb:
                    item.setBackground(theme.brush("diff_highlight"))
                self.table.setItem(r, c, item)


def _fmt(v) -> str:
    if v is None:
        return "-"
    if isinstance(v, float):
        return f"{v:,.3f}"
    return f"{v:,}"
