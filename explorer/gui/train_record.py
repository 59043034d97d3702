"""What a Train tab run has streamed in (steps, evaluations, accuracy per series) and the readout
made of it: live at each evaluation, then `explorer train`'s (explorer/readouts.py) plus the
validation loss at equal steps when the run ends. Plain Python: no Qt, no torch."""

from __future__ import annotations

import math
from itertools import accumulate

from explorer.readouts import train_readout_lines
from explorer.train.curves import generalization_gap

SERIES = ("design", "twin", "baseline")          # theme roles of the same names color them


class RunRecord:
    """Per series: training steps, losses and seconds so far, validation (step, loss) pairs, the
    latest task accuracy and the tokens of one step."""

    def __init__(self) -> None:
        self.train: dict[str, tuple[list[int], list[float], list[float]]] = {}    # steps, loss, seconds
        self.val: dict[str, list[tuple[int, float]]] = {}
        self.accuracy: dict[str, float] = {}             # the latest task accuracy per series
        self.tokens_per_step: dict[str, float] = {}

    def reset(self, tokens_per_step: float) -> None:
        """Empty, for a run whose every series trains `tokens_per_step` tokens a step."""
        self.train.clear()
        self.val.clear()
        self.accuracy.clear()
        self.tokens_per_step = {name: tokens_per_step for name in SERIES}

    def add_step(self, name: str, step: int, loss: float, seconds: float) -> None:
        steps, losses, times = self.train.setdefault(name, ([], [], []))
        steps.append(step)
        losses.append(loss)
        times.append(seconds)

    def add_evaluation(self, name: str, step: int, loss: float, accuracy) -> None:
        self.val.setdefault(name, []).append((step, loss))
        if accuracy is not None:
            self.accuracy[name] = accuracy

    def take_result(self, result) -> None:
        """The engine's exact record (a TrainResult) replaces the live one; non-finite steps are left out."""
        for name, series in result.series.items():
            ok = [(i, v) for i, v in enumerate(series.train_loss, 1) if math.isfinite(v)]
            seconds = list(accumulate(series.step_seconds))
            self.train[name] = ([i for i, _v in ok], [v for _i, v in ok], [seconds[i - 1] for i, _v in ok])
            self.val[name] = list(series.val_loss)
            if series.train_loss:
                self.tokens_per_step[name] = series.tokens / len(series.train_loss)

    def xs(self, name: str, steps: list[int], mode: str) -> list[float]:
        """The x of each step of series `name`: the step, the tokens seen or the training seconds."""
        if mode == "tokens":
            return [s * self.tokens_per_step.get(name, 1.0) for s in steps]
        if mode == "seconds":
            at = dict(zip(*self.train.get(name, ([], [], []))[::2]))      # step -> training seconds
            return [at.get(s, math.nan) for s in steps]
        return [float(s) for s in steps]

    def live_lines(self, total_steps: int) -> list[str]:
        """While a run goes on, at each evaluation: per series the latest and best validation loss,
        the gap to the training loss since the evaluation before, tokens/s so far (and accuracy for
        tasks). The run's full readout replaces it at the end."""
        evaluated = [name for name in SERIES if self.val.get(name)]
        if not evaluated:
            return []
        step = min(self.val[name][-1][0] for name in evaluated)
        lines = [f"so far (live, step {step} of {total_steps}; the full readout follows at the end)",
                 f"{'':10}{'last val':>10}{'best val':>10}{'gap':>8}{'tokens/s':>11}"
                 + (f"{'accuracy':>10}" if self.accuracy else "")]
        for name in evaluated:
            val = self.val[name]
            last = val[-1][1]
            steps, losses, seconds = self.train.get(name, ([], [], []))
            gap = generalization_gap(val, zip(steps, losses))
            gap = "-" if gap is None else f"{gap:+.3f}"
            rate = (f"{steps[-1] * self.tokens_per_step.get(name, 0.0) / seconds[-1]:,.0f}"
                    if steps and seconds and seconds[-1] > 0 else "-")
            row = f"{name:10}{last:>10.3f}{min(v for _s, v in val):>10.3f}{gap:>8}{rate:>11}"
            if self.accuracy:
                row += f"{self.accuracy[name]:>10.1%}" if name in self.accuracy else f"{'-':>10}"
            lines.append(row)
        return lines


def equal_steps_line(result) -> str | None:
    """Each series' validation loss at the last step where every series was evaluated."""
    if len(result.series) < 2:
        return None
    common = set.intersection(*({s for s, _v in series.val_loss} for series in result.series.values()))
    if not common:
        return "validation loss at equal steps: - (no step where every series was evaluated)"
    step = max(common)
    return (f"validation loss at equal steps (step {step}): "
            + ", ".join(f"{name} {dict(s.val_loss)[step]:.3f}" for name, s in result.series.items()))


def readout_lines(out) -> list[str]:
    """The readout of a finished run (a train.session.Trained): its error, where it trained,
    `explorer train`'s lines with the loss at equal steps before those at equal time, the CKA's error."""
    result = out.result
    lines = []
    if result.error:
        lines.append(f"error: {result.error}")
    if out.where:
        lines.append(f"trained on the cluster: {out.where}")
    lines += train_readout_lines(result)
    equal = equal_steps_line(result)
    if equal:
        at = next((k for k, line in enumerate(lines) if line.startswith("validation loss at equal training")),
                  len(lines))
        lines.insert(at, equal)
    if out.cka_error:
        lines.append(out.cka_error)
    return lines
