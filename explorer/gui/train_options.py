"""The Train tab's options: steps, batch, sequence, learning rate, seed, evaluation, the scale-down
and the data in a grid, plus the device, dtype and twin controls the tab places in its own row.
`options()` turns them into what a run trains, checked here without torch."""

from __future__ import annotations

import os

from PySide6.QtWidgets import (QCheckBox, QComboBox, QFileDialog, QGridLayout, QHBoxLayout, QLabel, QLineEdit,
                               QPushButton, QSpinBox, QWidget)

from explorer.errors import SpecError


class TrainOptions(QWidget):
    """The options grid; `device_combo`, `dtype_combo` and `twin_check` are laid out by the tab."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.steps_spin = QSpinBox(minimum=1, maximum=10_000_000, value=200, toolTip="Optimizer steps")
        self.batch_spin = QSpinBox(minimum=1, maximum=4096, value=8, toolTip="Sequences per step")
        self.seq_spin = QSpinBox(minimum=2, maximum=1 << 16, value=64, toolTip="Tokens per sequence")
        self.lr_edit = QLineEdit("1e-3", toolTip="AdamW learning rate (0 < lr < 10), e.g. 3e-4")
        self.lr_edit.setMaximumWidth(80)
        self.seed_spin = QSpinBox(minimum=0, maximum=2**31 - 1, value=0, toolTip="Seed of the weights and batches")
        self.eval_spin = QSpinBox(minimum=1, maximum=10_000_000, value=50,
                                  toolTip="Validation loss every N steps (and at the last)")
        self.data_combo = QComboBox(editable=True, toolTip="stdlib (the Python standard library's sources), a "
                                    "text file or folder, or a synthetic task")
        self.data_combo.addItems(["stdlib", "task:copy", "task:reverse", "task:sort", "task:add"])
        self.data_combo.setMinimumContentsLength(14)
        self.file_button = QPushButton("File…", toolTip="Train on the bytes of a text file")
        self.folder_button = QPushButton("Folder…", toolTip="Train on every file of a folder (one in ten is "
                                         "validation)")
        self.file_button.clicked.connect(lambda: self.pick_data(folder=False))
        self.folder_button.clicked.connect(lambda: self.pick_data(folder=True))
        self.device_combo = QComboBox(toolTip="Where the models are built and trained (CUDA/MPS appear when "
                                      "present; with a Ray address set, the cluster's devices too)")
        self.dtype_combo = QComboBox(toolTip="Weights and activations: fp32, or bf16/fp16 (the loss is taken "
                                     "in fp32)")
        self.dtype_combo.addItems(["fp32", "bf16", "fp16"])
        self.twin_check = QCheckBox("with twin", checked=True,
                                    toolTip="Train the unshared twin beside the design on the same batches")
        self.scale_spins = {}
        for name, tip in (("width", "d_model to train at"), ("depth", "keep the first N trunk layers"),
                          ("heads", "attention heads"), ("vocab", "vocabulary before the data's is set")):
            self.scale_spins[name] = QSpinBox(minimum=0, maximum=1 << 20, value=0, specialValueText="keep",
                                              toolTip=f"Scale down: {tip} (keep = as designed); the sharing "
                                                      f"pattern is kept")
        self.keep_sharing_check = QCheckBox("keep sharing", toolTip="With depth: take the kept trunk layers "
                                            "across the stack so that its groups keep members (unticked: the "
                                            "first N, which may drop every group)")
        grid = QGridLayout(self)
        grid.setContentsMargins(0, 0, 0, 0)
        grid.setHorizontalSpacing(6)
        grid.setVerticalSpacing(1)
        data = QHBoxLayout()
        data.addWidget(self.data_combo, 1)
        data.addWidget(self.file_button)
        data.addWidget(self.folder_button)
        cells = [("steps", self.steps_spin), ("batch", self.batch_spin), ("seq", self.seq_spin),
                 ("lr", self.lr_edit), ("seed", self.seed_spin), ("eval every", self.eval_spin)]
        cells += [(name, spin) for name, spin in self.scale_spins.items()]
        cells.append(("", self.keep_sharing_check))
        for col, (label, widget) in enumerate(cells):
            grid.addWidget(QLabel(label), 0, col)
            grid.addWidget(widget, 1, col)
        grid.addWidget(QLabel("data"), 0, len(cells))
        grid.addLayout(data, 1, len(cells))
        grid.setColumnStretch(len(cells), 1)

    def pick_data(self, folder: bool = False) -> None:
        path = (QFileDialog.getExistingDirectory(self, "Train on a folder") if folder
                else QFileDialog.getOpenFileName(self, "Train on a text file")[0])
        if path:
            self.data_combo.setCurrentText(path)

    def options(self, design, device: str) -> tuple[object, dict, tuple[str, ...]]:
        """(`design` scaled down, TrainConfig fields for `device`, notes). Raises SpecError on a bad
        option (checked here without torch; the engine checks again)."""
        from explorer.design.validate import validate
        from explorer.train.adapt import no_sharing_left, scale_down, sharing_lost
        from explorer.train.data import TASKS

        if design is None:
            raise SpecError("no valid design to train (fix the design first)")
        text = self.lr_edit.text().strip()
        try:
            lr = float(text)
        except ValueError:
            raise SpecError(f"expected a number such as 3e-4, got {text!r}", "lr") from None
        if not 0 < lr < 10:
            raise SpecError(f"expected a learning rate between 0 and 10, got {text}", "lr")
        data = self.data_combo.currentText().strip() or "stdlib"
        if data.startswith("task:") and data[5:] not in TASKS:
            raise SpecError(f"unknown task {data[5:]!r} (tasks: {', '.join(TASKS)})", "data")
        if data != "stdlib" and not data.startswith("task:") and not os.path.exists(data):
            raise SpecError("no such file or folder (data: stdlib, task:NAME or a path)", "data", data)
        spec, notes = scale_down(design, **self.scale())
        validate(spec)                               # a scaled design that cannot build says so here
        if sharing_lost(design, spec):               # never a silent comparison of a design with itself
            notes = notes + (no_sharing_left(self.keep_sharing_check.isChecked(), "'keep sharing'"),)
        options = dict(steps=self.steps_spin.value(), batch=self.batch_spin.value(), seq=self.seq_spin.value(),
                       lr=lr, seed=self.seed_spin.value(), data=data, eval_every=self.eval_spin.value(),
                       twin=self.twin_check.isChecked(), device=device, dtype=self.dtype_combo.currentText())
        return spec, options, notes

    def scale(self) -> dict:
        """scale_down's keywords: None keeps a dimension as designed."""
        return {**{name: (spin.value() or None) for name, spin in self.scale_spins.items()},
                "keep_sharing": self.keep_sharing_check.isChecked()}

    def baseline_options(self, baseline, spec) -> tuple[object | None, tuple[str, ...]]:
        """(the pinned `baseline` scaled down as the design is, its notes), or (None, ()) when nothing
        is pinned. Raises SpecError ("baseline: ...") when it cannot train beside `spec`."""
        from explorer.design.validate import validate
        from explorer.train.adapt import scale_down, trainable

        if baseline is None:
            return None, ()
        name = baseline.name or "design"
        try:
            scaled, notes = scale_down(baseline, **self.scale())
            validate(scaled)
        except SpecError as err:
            raise SpecError(f"the pinned {name} cannot train at this scale-down: {err}", "baseline") from None
        ours, theirs = trainable(spec, 256, 2).objective, trainable(scaled, 256, 2).objective
        if ours != theirs:                           # the series share batches, so one objective
            raise SpecError(f"the pinned {name} trains on {theirs} batches, this design on {ours} "
                            f"(unpin it or pin this design)", "baseline")
        return scaled, tuple(f"baseline: {n}" for n in notes)
