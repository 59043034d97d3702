"""Right panel, bottom: edit the selected layer's fields or the global ModelSettings.

Every keystroke or spin step builds the would-be spec and validates it: a valid value is
pushed as a (merging) SetField command; an invalid one is marked red and explained below
the form, and the design is left unchanged.
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, QSignalBlocker
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QScrollArea,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from explorer.errors import SpecError
from explorer import fmt
from explorer.design import edits
from explorer.gui import commands, theme
from explorer.gui.design_model import DesignModel
from explorer.design.model import (
    ACTIVATIONS,
    HEAD_TASKS,
    KIND_FIELDS,
    LAYER_OPTIONS,
    LAYER_OVERRIDES,
    NORM_POSITIONS,
    NORMS,
    POSITIONALS,
    LayerSpec,
    SETTINGS_DEFAULTS,
    SETTINGS_FIELDS,
    dims,
)

CHOICES = {"activation": ACTIVATIONS, "norm": NORMS, "norm_position": NORM_POSITIONS, "positional": POSITIONALS,
           "task": HEAD_TASKS}
BOOLS = {"bias", "attention_bias", "ffn_bias", "o_bias", "causal", "halting", "timestep_signal", "embedding_norm",
         "transform", "shared_gate", "target", "position_bias"}
SPIN_INTS = {"d_model", "n_heads", "vocab_size", "max_positions", "type_vocab_size", "lora_rank", "low_rank",
             "kernel_size", "groups", "n_outputs", "n_experts", "top_k", "shared_d_ff", "relative_buckets",
             "relative_max_distance"}
TIPS = {
    "d_model": "Model width d (hidden size)", "n_heads": "Attention heads per layer",
    "n_kv_heads": "K/V heads (empty = n_heads; 1 = multi-query; else grouped-query)",
    "head_dim": "Width of one head (empty = d_model / n_heads)", "d_ff": "FFN inner width (empty = 4 d)",
    "vocab_size": "Vocabulary size V", "embedding_size": "Factorized embedding size E (empty = d)",
    "max_positions": "Longest sequence the learned position table holds",
    "type_vocab_size": "Token-type (segment) vocabulary; 0 = none", "activation": "FFN activation (gated: *glu)",
    "norm": "Normalization kind", "norm_position": "Pre-norm or post-norm blocks", "norm_eps": "Norm epsilon",
    "bias": "Biases on linear maps", "attention_bias": "Biases on Q/K/V/O (empty = bias)",
    "o_bias": "Bias on the output projection O (empty = attention bias; Qwen2 has none)",
    "ffn_bias": "Biases on FFN linears (empty = bias)", "positional": "Position encoding",
    "causal": "Causal (decoder) attention; enables the KV cache estimate",
    "kv_from": "Reuse the K/V computed by this earlier layer (cross-layer K/V sharing)",
    "lora_rank": "Per-layer LoRA rank on every block linear (relaxed recursion); 0 = none",
    "low_rank": "Factorize block linears W = A B with rank r; 0 = dense",
    "halting": "ACT halting unit (Universal Transformer)", "timestep_signal": "Add a per-step sinusoidal signal",
    "embedding_norm": "LayerNorm after the embedding sum", "kernel_size": "Convolution kernel width",
    "groups": "Grouped convolution: groups must divide d", "transform": "Dense + act + norm before the decoder",
    "n_outputs": "Classes or labels of the task head", "task": "Sequence-level or token-level head",
    "n_experts": "Routed experts of the mixture (each of width d_ff)",
    "top_k": "Experts every token goes through (active FLOPs scale with it, not with n_experts)",
    "shared_d_ff": "Width of an always-on shared expert (Qwen2-MoE, DeepSeek-MoE); 0 = none",
    "shared_gate": "A sigmoid gate (d -> 1) on the shared expert's output (Qwen2-MoE)",
    "target": "This embedding starts the decoder: what came before is the encoder, whose output "
              "cross-attention reads",
    "position_bias": "Holds T5's relative position bias; later layers of its stack reuse the bias it computes",
    "relative_buckets": "Buckets of the relative position bias (T5: 32)",
    "relative_max_distance": "Distance where the relative position bias's last bucket starts (T5: 128)",
}


class FieldEditor:
    """One field: a widget, a parser of what it shows, and a setter of the spec's value."""

    def __init__(self, key: str, optional: bool, inherited=None) -> None:
        self.key, self.optional = key, optional
        if key in CHOICES or (key in BOOLS and optional):
            self.widget = QComboBox()
            choices = CHOICES.get(key, ("true", "false"))
            if optional:
                self.widget.addItem(self._inherit_text(inherited), None)
            for c in choices:
                self.widget.addItem(c, (c == "true") if key in BOOLS else c)
        elif key in BOOLS:
            self.widget = QCheckBox()
        elif key in SPIN_INTS and not optional:
            self.widget = QSpinBox()
            self.widget.setRange(0, 1 << 24)
            self.widget.setAccelerated(True)
        else:
            self.widget = QLineEdit()
            self.widget.setPlaceholderText(self._inherit_text(inherited) if optional else "")
        self.widget.setToolTip(TIPS.get(key, key))

    def _inherit_text(self, inherited) -> str:
        return "auto" if inherited == "auto" else f"inherit ({self._show(inherited)})"

    @staticmethod
    def _show(value) -> str:
        return "true" if value is True else "false" if value is False else str(value)

    def connect(self, slot) -> None:
        w = self.widget
        signal = (w.currentIndexChanged if isinstance(w, QComboBox) else w.toggled if isinstance(w, QCheckBox)
                  else w.valueChanged if isinstance(w, QSpinBox) else w.textEdited)
        signal.connect(lambda *_: slot(self))

    def value(self):
        """What the widget shows, as a spec value; raises SpecError if it is not one."""
        w = self.widget
        if isinstance(w, QComboBox):
            return w.currentData()
        if isinstance(w, QCheckBox):
            return w.isChecked()
        if isinstance(w, QSpinBox):
            return w.value()
        text = w.text().strip()
        if not text:
            if self.optional:
                return None
            raise SpecError("a value is needed", self.key)
        if self.key == "kv_from":
            return text
        try:
            return float(text) if self.key == "norm_eps" else int(text.replace("_", "").replace(",", ""))
        except ValueError:
            raise SpecError(f"'{text}' is not a number", self.key) from None

    def set_value(self, value) -> None:
        w = self.widget
        with QSignalBlocker(w):
            if isinstance(w, QComboBox):
                w.setCurrentIndex(max(w.findData(value), 0))
            elif isinstance(w, QCheckBox):
                w.setChecked(bool(value))
            elif isinstance(w, QSpinBox):
                w.setValue(int(value))
            else:
                w.setText("" if value is None else str(value))

    def mark(self, reason: str) -> None:
        if reason == getattr(self, "_reason", ""):
            return                          # style sheets re-polish the widget: only when it changes
        self._reason = reason
        self.widget.setStyleSheet(theme.style("invalid_field") if reason else "")
        self.widget.setToolTip(f"{reason}" if reason else TIPS.get(self.key, self.key))


class Inspector(QWidget):
    def __init__(self, model: DesignModel, parent=None) -> None:
        super().__init__(parent)
        self.model = model
        self.target: str | None = None          # layer id, or None for the model settings
        self._shape: tuple | None = None
        self._writing: FieldEditor | None = None    # the field whose value is being applied
        self.editors: dict[str, FieldEditor] = {}
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.title = QLabel()
        self.title.setStyleSheet(theme.style("title"))
        layout.addWidget(self.title)
        self.summary = QLabel()
        self.summary.setWordWrap(True)
        self.summary.setStyleSheet(theme.style("summary"))
        self.summary.setToolTip("own: the layer's size with nothing shared; adds: what it adds to the model's "
                                "unique parameters; runs: layers that execute this block")
        layout.addWidget(self.summary)
        # the design's own name and description (model view only): Save As names an unnamed
        # design after its file; a description written for another design is flagged
        self.design_box = QWidget()
        design_form = QFormLayout(self.design_box)
        design_form.setContentsMargins(2, 2, 2, 2)
        self.name_edit = QLineEdit(toolTip="The design's name (Compare and reports show it)")
        self.description_edit = QLineEdit(toolTip="One line on what the design is")
        self.description_note = QLabel()
        self.description_note.setWordWrap(True)
        self.description_note.setStyleSheet(theme.style("error_label"))
        self.description_note.hide()
        design_form.addRow("name", self.name_edit)
        design_form.addRow("description", self.description_edit)
        design_form.addRow(self.description_note)
        self.name_edit.editingFinished.connect(lambda: self.set_design_text("name", self.name_edit.text()))
        self.description_edit.editingFinished.connect(
            lambda: self.set_design_text("description", self.description_edit.text()))
        layout.addWidget(self.design_box)
        self.form_host = QWidget()
        self.form = QFormLayout(self.form_host)
        self.form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        self.form.setContentsMargins(2, 2, 2, 2)
        scroll = QScrollArea()
        scroll.setWidget(self.form_host)
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QScrollArea.Shape.NoFrame)
        layout.addWidget(scroll, 1)
        self.error = QLabel()
        self.error.setWordWrap(True)
        self.error.setStyleSheet(theme.style("error_label"))
        self.error.hide()
        layout.addWidget(self.error)
        model.changed.connect(self.refresh)
        model.selection_changed.connect(self.refresh)
        model.report_changed.connect(self.refresh_design)
        self.refresh()

    def set_design_text(self, key: str, text: str) -> bool:
        """Rename the design or rewrite its description (one undo step each)."""
        text = " ".join(text.split()) if key == "name" else text.strip()
        if key == "name" and not text:
            self.refresh_design()
            self.model.message.emit("a design needs a name")
            return False
        if getattr(self.model.spec, key) == text:
            return False
        ok = self.model.propose(commands.SetField, self.model.spec.replace(**{key: text}),
                                f"Set the design's {key}", target=("design", key))
        if ok and key == "description":
            self.model.mark_described()
        self.refresh_design()
        return ok

    def refresh_design(self) -> None:
        spec = self.model.spec
        self.design_box.setVisible(self.target is None)
        for edit, value in ((self.name_edit, spec.name), (self.description_edit, spec.description)):
            if edit.text() != value and not edit.hasFocus():
                with QSignalBlocker(edit):
                    edit.setText(value)
                    edit.setCursorPosition(0)
        stale = self.model.description_stale()
        self.description_note.setText(f"The description may be stale: {stale}" if stale else "")
        self.description_note.setVisible(bool(stale))

    def changeEvent(self, event) -> None:
        """Follow a light/dark switch: the labels' style sheets hold theme colors."""
        super().changeEvent(event)
        if event.type() == QEvent.Type.PaletteChange:
            self.summary.setStyleSheet(theme.style("summary"))
            self.error.setStyleSheet(theme.style("error_label"))
            self.description_note.setStyleSheet(theme.style("error_label"))

    def _fields(self) -> tuple[list[str], LayerSpec | None]:
        if self.target is None:
            return list(SETTINGS_FIELDS), None
        layer = self.model.spec.layer(self.target)
        allowed = KIND_FIELDS[layer.kind]
        return [k for k in LAYER_OVERRIDES + LAYER_OPTIONS if k in allowed], layer

    def refresh(self) -> None:
        spec = self.model.spec
        selected = self.model.selected_layers
        self.target = selected[0] if len(selected) == 1 else None
        keys, layer = self._fields()
        shape = (self.target, layer.kind if layer else None, spec.settings if layer else None)
        if shape != self._shape:
            self._rebuild(keys, layer)
            self._shape = shape
        for key, editor in self.editors.items():
            if editor is not self._writing:     # the field being typed in already shows its value
                editor.set_value(getattr(layer if layer else spec.settings, key))
            editor.mark("")
        self.error.hide()
        if layer is None:
            extra = f" ({len(selected)} layers selected)" if len(selected) > 1 else ""
            self.title.setText(f"Model settings{extra}")
        else:
            index = spec.layer_index(layer.id)
            self.title.setText(f"Layer {layer.id} · {layer.kind} · #{index}")
        self.summary.setText(self._summary(layer))
        self.refresh_design()

    def _summary(self, layer: LayerSpec | None) -> str:
        report = self.model.report
        problem = self.model.run_shape_problem() if report is None else None
        if report is None and problem is None:
            return ""
        p = report.params if report is not None else problem[1]      # parameters do not depend on seq
        if layer is None:
            return f"{p.unique:,} unique of {p.unshared:,} parameters"
        lp = p.per_layer[self.model.spec.layer_index(layer.id)]
        runs = f" · block runs ×{lp.uses}" if lp.uses > 1 else ""
        step = [text for on, text in ((layer.timestep_signal, "a sinusoidal timestep signal is added before it"),
                                      (layer.halting, "an ACT halting unit (d→1) decides when to stop")) if on]
        recurrence = f"\nUniversal Transformer step: {'; '.join(step)}" if step else ""
        return f"own {fmt.count(lp.own)} · adds {fmt.count(lp.unique)}{runs}{recurrence}"

    def _rebuild(self, keys: list[str], layer: LayerSpec | None) -> None:
        while self.form.rowCount():
            self.form.removeRow(0)
        self.editors = {}
        resolved = dims(layer, self.model.spec.settings) if layer is not None else None
        for key in keys:
            optional = key in LAYER_OVERRIDES or key == "kv_from" if layer is not None else \
                SETTINGS_DEFAULTS[key] is None
            inherited = getattr(resolved, key, None) if resolved is not None else "auto"
            editor = FieldEditor(key, optional, inherited)
            editor.connect(self.on_editor_edited)
            self.editors[key] = editor
            self.form.addRow(key.replace("_", " "), editor.widget)

    def on_editor_edited(self, editor: FieldEditor) -> None:
        self.set_field(editor.key, editor)

    def set_field(self, key: str, editor: FieldEditor | None = None, value=...) -> bool:
        """Validate and apply one field (from its editor, or `value` directly)."""
        editor = editor or self.editors[key]
        try:
            value = editor.value() if value is ... else value
            spec = self.model.spec
            after = (edits.set_setting(spec, key, value) if self.target is None
                     else edits.set_layer_field(spec, self.target, key, value))
            reason = self.model.check(after)
        except SpecError as err:
            reason = str(err)
        except (TypeError, ValueError) as err:
            reason = f"{key}: {err}"
        if reason:
            editor.mark(reason)
            self.error.setText(f"Not applied — {reason}")
            self.error.show()
            self.model.message.emit(reason)
            return False
        owner = self.target or "model"
        # the napari pattern: no echo into the field being edited (rewriting its text would move
        # the cursor to the end); undo, redo and other edits still rewrite every field
        self._writing = editor
        try:
            return self.model.propose(commands.SetField, after, f"Set {owner}.{key} = {value}",
                                      target=(owner, key))
        finally:
            self._writing = None
