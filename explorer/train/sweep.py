"""The quality frontier: every sharing scheme on one design, each trained with the same settings.

`scheme_candidates` lists what a `--schemes` sweep would train: "none" (the design as it is),
"unshared" (its unshared twin) and every scheme in design/strategies.py applied with its default
options (a scheme that does not apply keeps its one-line reason). `train_schemes` trains each
with one TrainConfig through engine.train, so every row sees the same data, seed, batches
(drawn in the same order) and validation batches; rows differ only in their sharing. Runs go
one after another; a stop request ends the run in progress and skips the rest.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Callable

from explorer.design.model import StackSpec, unshared_twin
from explorer.design.strategies import SCHEMES, apply_scheme
from explorer.errors import ExplorerError, SpecError

NONE = "none"              # the design as it is
TWIN = "unshared"          # its unshared twin
HEADER = ["scheme", "unique_params", "final_val_loss", "best_val_loss", "tokens_per_s", "error"]


@dataclass(frozen=True)
class Candidate:
    scheme: str
    title: str
    design: StackSpec | None        # the scheme applied (None: it does not apply, see error)
    error: str = ""


@dataclass
class SchemeRun:
    """One scheme's trained record (error: why it was not trained, or where training stopped)."""

    scheme: str
    title: str
    design: StackSpec | None = None
    params: int | None = None       # unique parameters of what was trained
    final_val: float | None = None
    best_val: float | None = None
    tokens_per_s: float | None = None
    val_loss: list[tuple[int, float]] = field(default_factory=list)
    error: str = ""

    @property
    def ok(self) -> bool:
        return self.params is not None and self.final_val is not None and not self.error

    def to_json(self) -> dict:
        return dict(zip(HEADER, self.row())) | {"title": self.title,
                                                "val_loss": [v for _s, v in self.val_loss],
                                                "val_steps": [s for s, _v in self.val_loss]}

    def row(self) -> list:
        return [self.scheme, self.params, self.final_val, self.best_val, self.tokens_per_s, self.error]


@dataclass
class SchemeSweep:
    runs: list[SchemeRun]
    objective: str = ""
    data: dict = field(default_factory=dict)
    notes: tuple[str, ...] = ()
    cancelled: bool = False


def parse_only(text: str | None) -> list[str] | None:
    """'albert,albert-ffn' -> the scheme names, checked (none and unshared are always trained)."""
    if text is None:
        return None
    names = [n.strip() for n in text.split(",") if n.strip()]
    known = [NONE, TWIN] + [s for s in SCHEMES if s != "unshare"]
    unknown = [n for n in names if n not in known]
    if not names or unknown:
        raise SpecError(f"unknown scheme {', '.join(map(repr, unknown)) or '(none given)'} "
                        f"(schemes: {', '.join(known)})", "--only")
    return names


def scheme_candidates(spec: StackSpec, only: list[str] | None = None) -> list[Candidate]:
    """none, unshared, then every scheme (or those in `only`) applied to `spec` with default options."""
    out = [Candidate(NONE, "the design as it is", spec), Candidate(TWIN, "unshared twin", unshared_twin(spec))]
    for s in SCHEMES.values():
        if s.name == "unshare" or (only is not None and s.name not in only):
            continue
        try:
            out.append(Candidate(s.name, s.title, apply_scheme(spec, s.name)))
        except ExplorerError as err:
            out.append(Candidate(s.name, s.title, None, _one_line(err)))
    return out


def _one_line(err: BaseException) -> str:
    text = str(err).strip()
    return text.splitlines()[0] if text else type(err).__name__


def train_schemes(spec: StackSpec, config, only: list[str] | None = None,
                  on_run: Callable[[SchemeRun], None] | None = None,
                  progress: Callable[[str], None] | None = None,
                  on_eval: Callable[[str, int, float], None] | None = None,
                  should_stop: Callable[[], bool] | None = None) -> SchemeSweep:
    """Train every candidate (see scheme_candidates) with `config` (its twin flag is ignored:
    the twin is a row of its own). `on_run(run)` after each row, in order."""
    from explorer.train.engine import train

    config = dataclasses.replace(config, twin=False)
    config.check()
    say = progress or (lambda _text: None)
    stop = should_stop or (lambda: False)
    sweep = SchemeSweep([])
    candidates = scheme_candidates(spec, only)
    for i, c in enumerate(candidates, 1):
        run = SchemeRun(c.scheme, c.title, c.design, error=c.error)
        if c.design is not None:
            if stop():
                sweep.cancelled = True
                break
            say(f"{c.scheme} ({i}/{len(candidates)}): training")
            try:
                result = train(c.design, config, progress=lambda text, name=c.scheme, k=i: say(
                    f"{name} ({k}/{len(candidates)}): {text}"), should_stop=stop,
                    on_eval=None if on_eval is None else (lambda _n, step, loss, _acc, name=c.scheme:
                                                          on_eval(name, step, loss)))
            except ExplorerError as err:
                run.error = _one_line(err)
            else:
                sweep.objective, sweep.data = sweep.objective or result.objective, sweep.data or result.data
                if not sweep.notes:
                    sweep.notes = result.notes
                series = result.series.get("design")
                if series is not None:
                    run.params, run.val_loss = series.params, list(series.val_loss)
                    run.final_val, run.best_val = series.final_val, series.best_val
                    run.tokens_per_s = series.tokens_per_s
                    run.error = series.diverged or ""
                if result.error:
                    run.error = result.error
                if result.cancelled:
                    run.error = run.error or f"stopped at step {len(series.train_loss) if series else 0}"
                    sweep.runs.append(run)
                    if on_run is not None:
                        on_run(run)
                    sweep.cancelled = True
                    break
        sweep.runs.append(run)
        if on_run is not None:
            on_run(run)
    return sweep
