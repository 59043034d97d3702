"""One training run as the app shows it: train() on the design (its twin, a baseline), then the
linear CKA of every trained model's layers on validation batches. The same function runs in the
Train tab's worker thread and, for a device on a Ray cluster, inside a Ray actor there
(cluster/remote_run.py), so both report the same things the same way.

Torch is imported only when a run starts: the Train tab imports `Trained` on the GUI thread.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable

CKA_BATCHES = 2


@dataclass
class Trained:
    """What a finished run hands the tab: the engine's result, each model's CKA matrix, and where
    it ran ("" for this process; the node's address and device for a cluster)."""

    result: object                                          # explorer.train.engine.TrainResult
    cka: dict[str, tuple[list[str], list[list[float]]]] = field(default_factory=dict)
    cka_error: str | None = None
    where: str = ""


def train_and_compare(spec, options: dict, notes: tuple[str, ...] = (), baseline=None,
                      on_step: Callable[[str, int, float, float], None] | None = None,
                      on_eval: Callable[[str, int, float, float | None], None] | None = None,
                      progress: Callable[[str], None] | None = None,
                      should_stop: Callable[[], bool] | None = None,
                      skip_cka: Callable[[], bool] | None = None) -> Trained:
    """Train (engine.train with TrainConfig(**options)), then compare the layers' representations
    unless the run failed or `skip_cka()` says the caller has gone. `on_step(series, step, loss,
    training seconds so far)`: the seconds are a live estimate (building and evaluation left out);
    the result's own step times replace them."""
    from explorer.errors import ExplorerError
    from explorer.train.engine import TrainConfig, train

    config = TrainConfig(**options)
    config.check()
    say = progress or (lambda _text: None)
    seconds: dict[str, float] = {}
    clock = [time.perf_counter()]

    def step(name: str, at: int, loss: float) -> None:
        now = time.perf_counter()
        seconds[name] = seconds.get(name, 0.0) + now - clock[0]
        clock[0] = now
        if on_step is not None:
            on_step(name, at, loss, seconds[name])

    def said(text: str) -> None:
        clock[0] = time.perf_counter()                # evaluation and building are not training time
        say(text)

    models: dict = {}
    result = train(spec, config, baseline=baseline, on_step=step, on_eval=on_eval, progress=said,
                   should_stop=should_stop, keep_models=models)
    result.notes = tuple(notes) + tuple(result.notes)
    out = Trained(result)
    if result.error is None and models and not (skip_cka is not None and skip_cka()):
        say("comparing layer representations (linear CKA)")
        try:
            from explorer.train.representations import trained_cka, validation_inputs

            out.cka = trained_cka(models, validation_inputs(spec, config, CKA_BATCHES))
        except (RuntimeError, ValueError, ExplorerError) as err:
            first = str(err).strip().splitlines()[0][:200] if str(err).strip() else type(err).__name__
            out.cka_error = f"layer similarity not computed: {first}"
    models.clear()
    return out
