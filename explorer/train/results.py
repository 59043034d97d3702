"""What a training run is asked to do and what it measured: plain data, no torch, so the window
unpickles a worker's result (and builds a config) without loading torch."""

from __future__ import annotations

from dataclasses import dataclass, field

from explorer.errors import SpecError
from explorer.train.curves import generalization_gap

TRAIN_DTYPES = ("fp32", "tf32", "bf16", "fp16")     # what torchmodel.stack.TORCH_DTYPES builds


@dataclass(frozen=True)
class TrainConfig:
    steps: int = 200
    batch: int = 8
    seq: int = 64
    lr: float = 1e-3
    seed: int = 0
    data: str = "stdlib"
    eval_every: int = 50
    eval_batches: int = 4
    twin: bool = False
    device: str = "cpu"
    dtype: str = "fp32"
    weight_decay: float = 0.01

    def check(self) -> None:
        for name in ("steps", "batch", "seq", "eval_every", "eval_batches"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise SpecError(f"expected a positive integer, got {value!r}", name)
        if not (isinstance(self.lr, (int, float)) and 0 < self.lr < 10):
            raise SpecError(f"expected a learning rate between 0 and 10, got {self.lr!r}", "lr")
        if self.dtype not in TRAIN_DTYPES:
            raise SpecError(f"dtype {self.dtype!r} cannot train (dtypes: {', '.join(TRAIN_DTYPES)})", "dtype")


@dataclass
class Series:
    """One trained model's record."""

    name: str
    params: int                                 # unique parameters of what was trained
    params_added: int = 0                       # of them, in layers added for training
    train_loss: list[float] = field(default_factory=list)
    val_loss: list[tuple[int, float]] = field(default_factory=list)     # (step, loss)
    val_accuracy: list[tuple[int, float]] = field(default_factory=list)  # tasks: exact match
    step_seconds: list[float] = field(default_factory=list)
    tokens: int = 0
    diverged: str | None = None
    length_generalization: dict | None = None

    @property
    def seconds(self) -> float:
        return sum(self.step_seconds)

    @property
    def tokens_per_s(self) -> float:
        return self.tokens / self.seconds if self.seconds else 0.0

    @property
    def final_val(self) -> float | None:
        return self.val_loss[-1][1] if self.val_loss else None

    @property
    def best_val(self) -> float | None:
        return min(v for _s, v in self.val_loss) if self.val_loss else None

    @property
    def gap(self) -> float | None:
        """Validation minus training loss at the last evaluation (training loss averaged over the
        steps since the evaluation before): the generalization gap."""
        return generalization_gap(self.val_loss, enumerate(self.train_loss, start=1))

    def val_at_seconds(self, seconds: float) -> float | None:
        """Validation loss of the last evaluation done within `seconds` of training time."""
        elapsed, best = 0.0, None
        done = {s for s, _v in self.val_loss}
        values = dict(self.val_loss)
        for i, dt in enumerate(self.step_seconds, start=1):
            elapsed += dt
            if elapsed > seconds + 1e-12:
                break
            if i in done:
                best = values[i]
        return best

    def first_val_seconds(self) -> tuple[int, float] | None:
        """(step, training seconds up to it) of the first evaluation, or None when there was none."""
        if not self.val_loss:
            return None
        step = self.val_loss[0][0]
        return step, sum(self.step_seconds[:step])

    def to_json(self) -> dict:
        return {"params": self.params, "params_added_for_training": self.params_added,
                "train_loss": self.train_loss, "val_loss": [v for _s, v in self.val_loss],
                "val_steps": [s for s, _v in self.val_loss],
                "val_accuracy": [a for _s, a in self.val_accuracy] or None,
                "final_val_loss": self.final_val, "best_val_loss": self.best_val, "gap": self.gap,
                "tokens": self.tokens, "seconds": self.seconds, "tokens_per_s": self.tokens_per_s,
                "diverged": self.diverged, "length_generalization": self.length_generalization}


@dataclass
class TrainResult:
    config: TrainConfig
    objective: str
    notes: tuple[str, ...]
    data: dict
    series: dict[str, Series]
    cancelled: bool = False
    error: str | None = None
    checkpoints: dict[str, tuple[str, int]] = field(default_factory=dict)   # name -> (path, bytes)

    def equal_time_val(self) -> dict[str, float | None]:
        """Each series' validation loss at the training time the quickest series took in all."""
        if not self.series:
            return {}
        budget = min(s.seconds for s in self.series.values())
        return {name: s.val_at_seconds(budget) for name, s in self.series.items()}

    def to_json(self) -> dict:
        out = {name: s.to_json() for name, s in self.series.items()}
        for name, (path, size) in self.checkpoints.items():
            out[name]["checkpoint"] = {"path": path, "bytes": size}
        return {**out, "data": self.data, "objective": self.objective, "notes": list(self.notes),
                "steps": self.config.steps, "batch": self.config.batch, "seq": self.config.seq,
                "seed": self.config.seed, "lr": self.config.lr, "device": self.config.device,
                "dtype": self.config.dtype, "val_loss_at_equal_time": self.equal_time_val(),
                "cancelled": self.cancelled, "error": self.error}
