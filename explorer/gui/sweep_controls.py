"""The controls above the scheme frontier: "train each scheme" (steps and the scale-down) and
"time each scheme" (device, passes, length), the schemes to run and "on the cluster", and what
they say as a TrainConfig, timing options and the schemes' names."""

from __future__ import annotations

from PySide6.QtWidgets import (QCheckBox, QComboBox, QHBoxLayout, QLabel, QLineEdit, QPushButton, QSpinBox, QVBoxLayout,
                               QWidget)

from explorer.gui.sweep_workers import cuda_count


class SchemeRunControls(QWidget):
    """Two rows: Train and its options, Time and its options; at most one of the two modes is checked."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.train_check = QCheckBox("train each scheme", toolTip=(
            "Train none, the unshared twin and every scheme with the same data, seed and batches, and plot "
            "validation loss against unique parameters (as `explorer sweep --schemes --train-steps N`)"))
        self.train_check.toggled.connect(lambda on: on and self.time_check.setChecked(False))
        self.train_steps = QSpinBox(minimum=1, maximum=1_000_000, value=100, toolTip="Training steps per scheme")
        self.train_width = QSpinBox(minimum=0, maximum=1 << 16, value=64, specialValueText="as designed",
                                    toolTip="Scale down first: d_model (FFN and embedding widths alike); the "
                                            "sharing pattern is kept")
        self.train_depth = QSpinBox(minimum=0, maximum=1 << 12, value=4, specialValueText="as designed",
                                    toolTip="Scale down first: keep the first N trunk layers")
        self.train_batch = QSpinBox(minimum=1, maximum=4096, value=8, toolTip="Batch size of each step")
        self.train_seq = QSpinBox(minimum=2, maximum=1 << 16, value=64, toolTip="Sequence length of each step")
        self.train_button = QPushButton("Train", toolTip="Train every scheme in the background (Stop ends it)")
        self.train_status = QLabel("", toolTip="What the training worker is doing")
        controls = QHBoxLayout()
        controls.addWidget(self.train_check)
        for label, widget in (("steps", self.train_steps), ("width", self.train_width), ("depth", self.train_depth),
                              ("batch", self.train_batch), ("seq", self.train_seq)):
            controls.addWidget(QLabel(label))
            controls.addWidget(widget)
        controls.addWidget(self.train_button)
        controls.addWidget(self.train_status, 1)
        self.time_check = QCheckBox("time each scheme", toolTip=(
            "Build none, the unshared twin and every scheme and time a forward pass of each, and plot the median "
            "time against unique parameters (as `explorer sweep --schemes --device DEV`)"))
        self.time_check.toggled.connect(lambda on: on and self.train_check.setChecked(False))
        self.time_device = QComboBox(toolTip="Where each scheme is timed (on the cluster: Ray gives a CUDA point "
                                             "one GPU of a node that has one)")
        self.time_device.addItems(["cpu"] + (["cuda"] if cuda_count() else []))
        self.time_iters = QSpinBox(minimum=1, maximum=10_000, value=10, toolTip="Timed forward passes per scheme "
                                                                                "(after one warm-up pass)")
        self.time_seq = QSpinBox(minimum=1, maximum=1 << 20, value=128, toolTip="Sequence length (batch 1)")
        self.only_edit = QLineEdit(placeholderText="all schemes", toolTip=(
            "Only these schemes, e.g. albert,cycle (none and the unshared twin always run); for Train and Time"))
        self.time_button = QPushButton("Time", toolTip="Time every scheme in the background (Stop ends it)")
        self.time_status = QLabel("", toolTip="What the timed or cluster sweep is doing")
        self.cluster_check = QCheckBox("on the cluster", toolTip=(
            "Train and Time run each scheme as a Ray task at the address set in Cluster > Ray address…"))
        timing = QHBoxLayout()
        timing.addWidget(self.time_check)
        for label, widget in (("device", self.time_device), ("iters", self.time_iters), ("seq", self.time_seq),
                              ("only", self.only_edit)):
            timing.addWidget(QLabel(label))
            timing.addWidget(widget)
        timing.addWidget(self.time_button)
        timing.addWidget(self.cluster_check)
        timing.addWidget(self.time_status, 1)
        from explorer.gui.cluster_settings import ray_address

        self.set_ray_address(ray_address())
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(controls)
        layout.addLayout(timing)

    def mode(self) -> str:
        """"trained", "timed" or "analysis": what the frontier shows."""
        return "trained" if self.train_check.isChecked() else "timed" if self.time_check.isChecked() else "analysis"

    def train_config(self):
        from explorer.train.results import TrainConfig

        steps = self.train_steps.value()
        return TrainConfig(steps=steps, batch=self.train_batch.value(), seq=self.train_seq.value(),
                           eval_every=max(1, steps // 4), eval_batches=2)

    def time_options(self) -> dict:
        return {"device": self.time_device.currentText(), "dtype": "fp32", "batch": 1, "seq": self.time_seq.value(),
                "iters": self.time_iters.value(), "warmup": 1}

    def only(self) -> list[str] | None:
        """The schemes of the only field (None: all); SpecError names an unknown one."""
        from explorer.train.sweep import parse_only

        text = self.only_edit.text().strip()
        return parse_only(text) if text else None

    def set_ray_address(self, address: str) -> None:
        """The address of Cluster > Ray address… ("" : none, the "on the cluster" box is disabled)."""
        self.ray_address = (address or "").strip()
        self.cluster_check.setEnabled(bool(self.ray_address))
        if not self.ray_address:
            self.cluster_check.setChecked(False)
        self.cluster_check.setText(f"on the cluster ({self.ray_address})" if self.ray_address else "on the cluster")
        self.cluster_check.setToolTip(
            f"Train and Time run each scheme as a Ray task at {self.ray_address}" if self.ray_address
            else "Set a Ray address in Cluster > Ray address… to run Train and Time on a cluster")

    def set_cluster_devices(self, devices: list) -> None:
        """What the cluster offers (ray_backend.devices): a cluster with GPUs offers "cuda" points."""
        if any(d.get("gpus") for d in devices) and self.time_device.findText("cuda") < 0:
            self.time_device.addItem("cuda")

    def on_cluster(self) -> bool:
        return bool(self.ray_address) and self.cluster_check.isEnabled() and self.cluster_check.isChecked()
