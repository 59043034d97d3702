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
from typing import Callable

import torch
import torch.nn.functional as F

from explorer.analysis.params import count_params
from explorer.design.model import StackSpec, unshared_twin
from explorer.errors import BuildError
from explorer.kinds import kind
from explorer.torchmodel.stack import build_model
from explorer.train.adapt import Adapted, trainable
from explorer.train.batches import IGNORE, Batch, make_batch
from explorer.train.data import data_source
from explorer.train.results import Series, TrainConfig, TrainResult  # noqa: F401  (the engine's API)

VALIDATION_SEED = 1_000_003


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
    return next(x.id for x in spec.layers if kind(x.kind).lm_head)


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
