"""Training memory planner: per-GPU memory under DP, ZeRO 1-3 and tensor parallelism."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (QComboBox, QDoubleSpinBox, QHBoxLayout, QHeaderView, QLabel, QSpinBox, QTableWidget,
                               QTableWidgetItem, QVBoxLayout, QWidget)

from explorer import fmt
from explorer.analysis.planner import plan_grid
from explorer.errors import ExplorerError, SpecError
from explorer.gui import theme
from explorer.gui.lazy_view import LazyView


class PlannerView(LazyView):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.gpus_spin = QSpinBox(minimum=1, maximum=65536, value=8, toolTip="GPUs in the job")
        self.micro_spin = QSpinBox(minimum=1, maximum=65536, value=1, toolTip="Micro-batch per data-parallel rank")
        self.seq_spin = QSpinBox(minimum=1, maximum=1 << 20, value=2048, toolTip="Sequence length")
        self.dtype_combo = QComboBox(toolTip="Weight dtype (Adam states are fp32)")
        self.dtype_combo.addItems(["bf16", "fp16", "fp32"])
        self.gpu_spin = QDoubleSpinBox(minimum=1, maximum=4096, value=80, suffix=" GiB", decimals=0,
                                       toolTip="Memory of one GPU")
        for w in (self.gpus_spin, self.micro_spin, self.seq_spin, self.gpu_spin):
            w.valueChanged.connect(self.refresh)
        self.dtype_combo.currentIndexChanged.connect(self.refresh)
        self.summary = QLabel(wordWrap=True)
        self.table = QTableWidget(0, 7)
        self.table.setHorizontalHeaderLabels(["setup", "weights", "gradients", "optimizer", "activations",
                                              "total / GPU", "fits"])
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.table.setToolTip("Shared parameters are one tensor: sharded and counted once in every setup.\n"
                              "Activations: what autograd saves for backward as torch's CUDA kernels save "
                              "it (docs/memory.md)")
        controls = QHBoxLayout()
        for label, w in (("GPUs", self.gpus_spin), ("micro-batch", self.micro_spin), ("seq", self.seq_spin),
                         ("dtype", self.dtype_combo), ("GPU memory", self.gpu_spin)):
            controls.addWidget(QLabel(label))
            controls.addWidget(w)
        controls.addStretch(1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.addLayout(controls)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.summary)

    def refresh(self) -> None:
        if self._spec is None:
            return
        fields = {"seq": self.seq_spin, "batch": self.micro_spin, "dtype": self.dtype_combo}
        try:
            rows = plan_grid(self._spec, self.gpus_spin.value(), self.micro_spin.value(), self.seq_spin.value(),
                             self.dtype_combo.currentText())
        except ExplorerError as err:
            # the verdict the report and the Metrics tab give: no setup is planned, and the
            # field at fault is marked with the reason (never the rows of an earlier shape)
            self.rows = []
            self.table.setRowCount(0)
            path = err.path if isinstance(err, SpecError) else ""
            for key, widget in fields.items():
                widget.setStyleSheet(theme.style("invalid_field") if key == path else "")
            self.summary.setStyleSheet(theme.style("error_label"))
            self.summary.setText(f"No setup planned: {err}")
            self.message.emit(str(err))
            return
        for widget in fields.values():
            widget.setStyleSheet("")
        self.summary.setStyleSheet("")
        gib = self.gpu_spin.value()
        self.rows = rows
        self.table.setRowCount(len(rows))
        for r, row in enumerate(rows):
            fits = row.fits(gib)
            cells = [row.setup.label] + [fmt.nbytes(v) for v in (row.weights, row.gradients, row.optimizer,
                                                                          row.activations, row.total)]
            cells.append("yes" if fits else "no")
            for c, text in enumerate(cells):
                item = QTableWidgetItem(text)
                if 0 < c < 6:
                    item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                item.setBackground(theme.brush("fits" if fits else "does_not_fit"))
                self.table.setItem(r, c, item)
        n_fit = sum(r.fits(gib) for r in rows)
        best = rows[0] if rows else None
        self.summary.setText(f"{n_fit} of {len(rows)} setups fit a {gib:g} GiB GPU. Smallest: {best.setup.label}, "
                             f"{fmt.nbytes(best.total)} per GPU." if best else "")
