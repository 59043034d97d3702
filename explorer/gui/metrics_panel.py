"""Bottom panel: parameters, FLOPs and memory of the design beside its unshared twin, the
run shape (batch, seq, dtype), and a bar chart of parameters per layer (unique vs unshared)."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QEvent, QSignalBlocker, Qt
from PySide6.QtWidgets import QComboBox, QFormLayout, QGridLayout, QGroupBox, QHBoxLayout, QLabel, QSpinBox, QWidget

from explorer.analysis.report import MAX_BATCH, MAX_SEQ
from explorer import fmt
from explorer.gui import theme
from explorer.gui.axes import EmptyNote, IntegerAxis, SIAxis
from explorer.gui.design_model import DesignModel
from explorer.design.model import RUN_DTYPES

DTYPES = RUN_DTYPES
COMPONENTS = ("attention", "ffn", "embedding", "head", "other")
# the longest text a value shows: a count in the trillions, a saving, FLOPs with a share, memory
WIDEST_VALUES = ("8,888,888,888,888", "888.88×  (−888.88 G)", "888.88 T  88.8%", "888.88 TFLOP", "≥ 1,888.88 TiB")


def value_width(metrics) -> int:
    """Pixels a value label needs for any of WIDEST_VALUES in its font, and a little room."""
    return max(metrics.horizontalAdvance(text) for text in WIDEST_VALUES) + 6


class MetricsPanel(QWidget):
    def __init__(self, model: DesignModel, parent=None) -> None:
        super().__init__(parent)
        self.model = model
        self.values: dict[str, QLabel] = {}
        self.tips: dict[str, str] = {}
        layout = QHBoxLayout(self)
        layout.setContentsMargins(4, 2, 4, 2)
        layout.addWidget(self._box("Parameters", [
            ("unique", "Unique", "Parameters the built model holds (shared tensors counted once)"),
            ("active", "Active", "The most parameters one token reads: a mixture of experts' unchosen experts "
                                 "left out (equal to unique for dense designs)"),
            ("unshared", "Unshared", "The same architecture with every sharing undone"),
            ("saving", "Saving", "Unshared / unique, and parameters saved"),
            ("bytes", "Weights", "Unique parameters in the chosen dtype"),
        ]))
        layout.addWidget(self._box("Forward FLOPs", [
            ("forward", "Total", ("Forward matmul FLOPs of one batch (2 per multiply-add); sharing does "
                                  "not reduce them"))] + [
            (c, c.capitalize() if c != "ffn" else "FFN", f"Forward matmul FLOPs in {c} layers/slots")
            for c in COMPONENTS]))
        layout.addWidget(self._box("Memory", [
            ("inference", "Inference", "Weights + peak activations (an estimate) + KV cache + caches the model "
                                       "keeps (weights assembled from shared head slices) for one batch"),
            ("training", "Training", "Weights + gradients + Adam state + the activations autograd saves for "
                                     "backward (exact, with a cross-entropy on every LM head's logits, as the "
                                     "chosen device's kernels save them; ≥: cuDNN's RNN reserve left out; ≈: an "
                                     "estimate, the installed torch is not one the rules are exact for)"),
            ("kv_cache", "KV cache", "Decoding cache for the whole sequence (causal designs)"),
            ("twin_training", "Unshared train", "Training memory of the unshared twin"),
        ], shape=True))
        self.plot = pg.PlotWidget(background=self.palette().color(self.backgroundRole()),
                                  axisItems={"left": SIAxis("left"), "bottom": IntegerAxis("bottom")})
        self.plot.setToolTip("Parameters per layer: unshared (own, outline) vs unique (what the layer adds, "
                             "filled); shared layers add nothing after their first member")
        self.plot.setMinimumWidth(360)
        item = self.plot.getPlotItem()
        item.showGrid(y=True, alpha=0.25)
        item.setLabel("left", "params")
        item.setLabel("bottom", "layer (bottom → top)")
        item.setMenuEnabled(False)
        item.hideButtons()
        self.own_bars = pg.BarGraphItem(x=[], height=[], width=0.8, name="unshared")
        self.unique_bars = pg.BarGraphItem(x=[], height=[], width=0.55, pen=pg.mkPen(None), name="unique")
        item.addItem(self.own_bars)
        item.addItem(self.unique_bars)
        self.empty_note = EmptyNote(item, "no valid design")
        self.apply_palette()
        layout.addWidget(self.plot, 1)
        model.report_changed.connect(self.refresh)
        self.refresh()

    def apply_palette(self) -> None:
        """Plot colors from the widget palette and the theme (called again when the system theme changes)."""
        unique, unshared = theme.color("unique_bars"), theme.color("unshared_bars")
        self.plot.getPlotItem().setTitle(
            f'<span style="font-size:9pt">parameters per layer: <b style="color:{unique.name()}">■ unique</b>'
            f' &nbsp; <span style="color:{unshared.name()}">□ unshared</span></span>')
        self.own_bars.setOpts(brush=theme.brush("unshared_fill"), pen=theme.pen("unshared_bars"))
        self.unique_bars.setOpts(brush=theme.brush("unique_bars"))
        self.empty_note.item.setBrush(theme.brush("plot_label"))
        self.plot.setBackground(self.palette().color(self.backgroundRole()))
        text_color = self.palette().color(self.foregroundRole())
        for axis in ("left", "bottom"):
            self.plot.getPlotItem().getAxis(axis).setTextPen(text_color)
            self.plot.getPlotItem().getAxis(axis).setPen(text_color)

    def changeEvent(self, event) -> None:
        super().changeEvent(event)
        if event.type() == QEvent.Type.PaletteChange:
            self.apply_palette()

    def _box(self, title: str, rows, shape: bool = False) -> QGroupBox:
        box = QGroupBox(title)
        grid = QFormLayout(box)
        grid.setContentsMargins(6, 4, 6, 4)
        grid.setVerticalSpacing(2)
        grid.setLabelAlignment(Qt.AlignmentFlag.AlignLeft)
        for key, label, tip in rows:
            value = QLabel("—")
            value.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            value.setToolTip(tip)
            value.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            # a fixed width, wide enough for the longest figure: new numbers never re-layout the window
            value.setFixedWidth(value_width(value.fontMetrics()))
            name = QLabel(label)
            name.setToolTip(tip)
            grid.addRow(name, value)
            self.values[key] = value
            self.tips[key] = tip
        if shape:
            row = QWidget()
            row_layout = QGridLayout(row)
            row_layout.setContentsMargins(0, 2, 0, 0)
            self.batch = QSpinBox()
            self.batch.setRange(1, MAX_BATCH)
            self.batch.setValue(self.model.batch)
            self.batch.setToolTip("Batch size for FLOPs and memory")
            self.seq = QSpinBox()
            self.seq.setRange(1, MAX_SEQ)
            self.seq.setValue(self.model.seq)
            self.seq.setToolTip("Sequence length for FLOPs and memory")
            self.dtype = QComboBox()
            self.dtype.addItems(DTYPES)
            self.dtype.setToolTip("Weight dtype for memory")
            self.device = QComboBox()
            for device, text in (("cpu", "activations as torch's CPU kernels save them"),
                                 ("cuda", "activations as torch's CUDA kernels save them")):
                self.device.addItem(text, device)
            self.device.setCurrentIndex(max(self.device.findData(self.model.device), 0))
            self.device.setToolTip("Whose kernels the training activations follow: on CUDA attention keeps a "
                                   "log-sum-exp, not the scores, norms keep less, cuDNN's RNN a reserve of its "
                                   "own (docs/memory.md)")
            for col, (text, widget) in enumerate((("batch", self.batch), ("seq", self.seq), ("", self.dtype))):
                row_layout.addWidget(QLabel(text), 0, 2 * col)
                row_layout.addWidget(widget, 0, 2 * col + 1)
            row_layout.addWidget(self.device, 1, 0, 1, 6)
            # beside the run shape: why FLOPs and memory are absent when the design cannot take it
            self.shape_note = QLabel(wordWrap=True)
            self.shape_note.setStyleSheet(theme.style("error_label"))
            self.shape_note.hide()
            row_layout.addWidget(self.shape_note, 2, 0, 1, 6)
            grid.addRow(row)
            self.batch.valueChanged.connect(self.on_shape_changed)
            self.seq.valueChanged.connect(self.on_shape_changed)
            self.dtype.currentTextChanged.connect(self.on_shape_changed)
            self.device.currentIndexChanged.connect(self.on_shape_changed)
        return box

    def on_shape_changed(self, *_args) -> None:
        self.model.set_run_shape(self.batch.value(), self.seq.value(), self.dtype.currentText(),
                                 self.device.currentData())

    def sync_run_shape(self) -> None:
        """Show the design's run shape (it changes with undo, and with the file opened)."""
        for widget, value in ((self.batch, self.model.batch), (self.seq, self.model.seq)):
            if widget.value() != value:
                with QSignalBlocker(widget):
                    widget.setValue(value)
        if self.dtype.currentText() != self.model.dtype:
            with QSignalBlocker(self.dtype):
                self.dtype.setCurrentText(self.model.dtype)
        if self.device.currentData() != self.model.device:
            with QSignalBlocker(self.device):
                self.device.setCurrentIndex(max(self.device.findData(self.model.device), 0))

    def _mark_shape(self, err=None) -> None:
        """Name the run-shape problem beside its field (None: there is none)."""
        if not hasattr(self, "batch"):
            return
        key = {"target_seq": "seq"}.get(err.path, err.path) if err is not None else ""
        for name, widget in (("batch", self.batch), ("seq", self.seq), ("dtype", self.dtype)):
            style = theme.style("invalid_field") if name == key else ""
            if widget.styleSheet() != style:
                widget.setStyleSheet(style)
        self.shape_note.setText(f"{err.path}: {err.message}" if err is not None else "")
        self.shape_note.setVisible(err is not None)

    def refresh(self) -> None:
        if hasattr(self, "batch"):
            self.sync_run_shape()
        for key, label in self.values.items():
            label.setToolTip(self.tips[key])
        report = self.model.report
        problem = self.model.run_shape_problem() if report is None else None
        self._mark_shape(problem[0] if problem else None)
        if report is None and problem is None:
            for label in self.values.values():
                label.setText("—")
            self.values["unique"].setText("invalid")
            self.values["unique"].setToolTip(self.model.report_error)
            self.own_bars.setOpts(x=[], height=[])
            self.unique_bars.setOpts(x=[], height=[])
            self.empty_note.set_empty(True)
            return
        self.empty_note.set_empty(False)
        p = report.params if report is not None else problem[1]
        v = self.values
        v["unique"].setText(f"{p.unique:,}")
        v["active"].setText(f"{p.active:,}" if p.active != p.unique else "= unique")
        v["unshared"].setText(f"{p.unshared:,}")
        v["saving"].setText(f"{p.saving_factor:.2f}×  (−{fmt.count(p.saved)})")
        self._bars(p)
        if report is None:                       # parameters do not depend on the run shape; the rest does
            err = problem[0]
            why = f"not at this {err.path}"
            v["bytes"].setText(fmt.nbytes(p.bytes(self.model.dtype)) if err.path != "dtype" else "—")
            for key in ["forward", *COMPONENTS, "inference", "training", "kv_cache", "twin_training"]:
                v[key].setText(why if key in ("forward", "inference", "training") else "—")
                v[key].setToolTip(f"Depends on the run shape, which this design cannot take: {err}")
            return
        f, m = report.flops, report.memory
        v["bytes"].setText(fmt.nbytes(p.bytes(report.dtype)))
        v["forward"].setText(fmt.count(f.forward, "FLOP"))
        for c in COMPONENTS:
            share = f.by_component.get(c, 0) / f.forward if f.forward else 0.0
            v[c].setText(f"{fmt.count(f.by_component.get(c, 0))}  {share:5.1%}")
        v["inference"].setText(fmt.nbytes(m.inference))
        mark = "" if m.activations_training_exact else "≥ " if m.activations_training_at_least else "≈ "
        v["training"].setText(mark + fmt.nbytes(m.training))
        tip = self.tips["training"]
        v["training"].setToolTip(tip + (f"\n\nThis figure: {m.activations_training_note}"
                                        if m.activations_training_note else ""))
        v["kv_cache"].setText(fmt.nbytes(m.kv_cache))
        v["twin_training"].setText(fmt.nbytes(report.twin_memory.training))

    def _bars(self, p) -> None:
        """The per-layer bars of a parameter count."""
        x = np.arange(len(p.per_layer), dtype=float)
        self.own_bars.setOpts(x=x, height=np.array([lp.own for lp in p.per_layer], dtype=float))
        self.plot.getPlotItem().setXRange(-0.7, max(len(x), 4) - 0.3, padding=0)
        self.unique_bars.setOpts(x=x, height=np.array([lp.unique for lp in p.per_layer], dtype=float),
                                 brush=theme.brush("unique_bars"))
