"""Train a design beside its unshared twin (and a pinned baseline), step by step on the same
batches, and report training and validation loss, task accuracy, speed and parameters.

One engine for `explorer train` and the app's Train tab (it runs in a worker there): the
series are built from the same seed, see the same batches in the same order (drawn once per
step from one `random.Random`), and take their steps interleaved (design, twin, design, twin)
so machine noise hits them alike. A series whose loss stops being finite is stopped and said
in one line; out of memory ends the run in one line. Everything is released at the end.
"""

from __future__ import annotations

import math
import random
import time
from dataclasses import dataclass, field
from typing import Callable

import torch
import torch.nn.functional as F

from explorer.analysis.params import count_params
from explorer.design.model import StackSpec, unshared_twin
from explorer.errors import BuildError, SpecError
from explorer.torchmodel.stack import TORCH_DTYPES, build_model
from explorer.train.adapt import Adapted, trainable
from explorer.train.batches import IGNORE, Batch, make_batch
from explorer.train.curves import generalization_gap
from explorer.train.data import data_source

VALIDATION_SEED = 1_000_003


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
        if self.dtype not in TORCH_DTYPES:
            raise SpecError(f"dtype {self.dtype!r} cannot train (dtypes: {', '.join(TORCH_DTYPES)})", "dtype")


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


def prepare(spec: StackSpec, config: TrainConfig, baseline: StackSpec | None = None):
    """(data source, {name: Adapted}) for the design, its twin and a baseline."""
    config.check()
    source = data_source(config.data)
    length = 2 * config.seq + 1 if source.kind == "task" else config.seq + 1   # tasks: a 2n length test
    design = trainable(spec, source.vocab, length)
    adapted = {"design": design}
    if config.twin:
        twin = unshared_twin(design.spec)
        adapted["twin"] = Adapted(twin, design.objective, design.mask_id, design.notes, design.added)
    if baseline is not None:
        adapted["baseline"] = trainable(baseline, source.vocab, length)
    return source, adapted


def _loss(model, batch: Batch, head: str) -> tuple[torch.Tensor, torch.Tensor]:
    logits = model(*batch.inputs)[head]
    return F.cross_entropy(logits.float().flatten(0, -2), batch.targets.flatten(), ignore_index=IGNORE), logits


def _lm_head(spec: StackSpec) -> str:
    return next(x.id for x in spec.layers if x.kind == "lm_head")


def train(spec: StackSpec, config: TrainConfig, baseline: StackSpec | None = None,
          on_step: Callable[[str, int, float], None] | None = None,
          on_eval: Callable[[str, int, float, float | None], None] | None = None,
          progress: Callable[[str], None] | None = None,
          should_stop: Callable[[], bool] | None = None,
          keep_models: dict | None = None) -> TrainResult:
    """Train the design (and, with config.twin, its twin; and a baseline) on the same batches.
    `keep_models`: a dict that receives the trained models (for checkpoints and representations)."""
    say = progress or (lambda _text: None)
    stop = should_stop or (lambda: False)
    source, adapted = prepare(spec, config, baseline)
    design = adapted["design"]
    result = TrainResult(config, design.objective, design.notes, source.describe(), {})
    device = torch.device(config.device)
    models, optimizers = {}, {}
    try:
        for name, a in adapted.items():
            say(f"building {name}")
            model = build_model(a.spec, device, config.dtype, config.seed)
            plan_params = count_params(a.spec)
            added = sum(lp.unique for lp in plan_params.per_layer if lp.layer in a.added)
            result.series[name] = Series(name, plan_params.unique, added)
            models[name] = model
            optimizers[name] = torch.optim.AdamW(model.parameters(), lr=config.lr,
                                                 weight_decay=config.weight_decay)
        heads = {name: _lm_head(a.spec) for name, a in adapted.items()}
        vocab = design.spec.settings.vocab_size
        rng = random.Random(config.seed)
        val_rng = random.Random(config.seed + VALIDATION_SEED)
        val_batches = [make_batch(source, val_rng, config.batch, config.seq, design.objective,
                                  source.vocab, design.mask_id, "validation").to(device)
                       for _ in range(config.eval_batches)]
        for step in range(1, config.steps + 1):
            if stop():
                result.cancelled = True
                break
            batch = make_batch(source, rng, config.batch, config.seq, design.objective, vocab - (
                1 if design.mask_id is not None else 0), design.mask_id).to(device)
            for name, model in models.items():
                series = result.series[name]
                if series.diverged:
                    continue
                model.train()
                t0 = time.perf_counter()
                loss, _logits = _loss(model, batch, heads[name])
                optimizers[name].zero_grad(set_to_none=True)
                loss.backward()
                optimizers[name].step()
                value = loss.item()
                series.step_seconds.append(time.perf_counter() - t0)
                series.tokens += batch.tokens
                series.train_loss.append(value)
                if not math.isfinite(value):
                    series.diverged = f"{name}: the loss became {value} at step {step} (lower the learning rate)"
                    say(series.diverged)
                    continue
                if on_step is not None:
                    on_step(name, step, value)
            if step % config.eval_every == 0 or step == config.steps:
                _evaluate(models, heads, val_batches, result, step, source, on_eval)
            say(f"step {step}/{config.steps}")
        if source.kind == "task" and not result.cancelled:
            _length_generalization(models, heads, source, design, config, result, device)
        if keep_models is not None:
            keep_models.update(models)
    except torch.OutOfMemoryError:
        result.error = (f"out of memory on {config.device} training at batch {config.batch} x seq {config.seq} "
                        f"(try a smaller batch, sequence or width)")
    except (RuntimeError, BuildError) as err:
        first = str(err).strip().splitlines()[0][:200] if str(err).strip() else type(err).__name__
        result.error = f"training stopped: {first}"
    finally:
        models.clear()
        optimizers.clear()
        if device.type == "cuda":
            torch.cuda.empty_cache()
    return result


@torch.no_grad()
def _evaluate(models, heads, batches, result: TrainResult, step: int, source, on_eval) -> None:
    for name, model in models.items():
        series = result.series[name]
        if series.diverged:
            continue
        model.eval()
        total, count, right, seqs = 0.0, 0, 0, 0
        for batch in batches:
            loss, logits = _loss(model, batch, heads[name])
            scored = int((batch.targets != IGNORE).sum())
            total += loss.item() * scored
            count += scored
            if source.kind == "task":
                hit = (logits.argmax(-1) == batch.targets) | (batch.targets == IGNORE)
                right += int(hit.all(dim=-1).sum())
                seqs += batch.targets.shape[0]
        value = total / max(count, 1)
        series.val_loss.append((step, value))
        accuracy = right / seqs if seqs else None
        if accuracy is not None:
            series.val_accuracy.append((step, accuracy))
        if on_eval is not None:
            on_eval(name, step, value, accuracy)


def _length_generalization(models, heads, source, design: Adapted, config, result: TrainResult, device) -> None:
    """Exact-match accuracy at twice the training length (train at n, test at 2n)."""
    rng = random.Random(config.seed + 2 * VALIDATION_SEED)
    length = 2 * config.seq
    batches = [make_batch(source, rng, config.batch, length, design.objective, source.vocab, design.mask_id,
                          "validation").to(device) for _ in range(config.eval_batches)]
    for name, model in models.items():
        series = result.series[name]
        if series.diverged:
            continue
        probe = TrainResult(config, design.objective, (), {}, {name: Series(name, 0)})
        _evaluate({name: model}, heads, batches, probe, 0, source, None)
        s = probe.series[name]
        series.length_generalization = {"seq": length, "val_loss": s.final_val,
                                        "accuracy": s.val_accuracy[-1][1] if s.val_accuracy else None}
