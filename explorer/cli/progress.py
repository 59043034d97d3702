"""Training progress on stderr: one updating bar on a terminal, plain lines elsewhere (a log, a pipe).

On a terminal each step redraws one line in place (carriage return, no newline), tqdm-style:

      [##########--------------------]  67/200 steps  loss design 2.913  twin 2.870  11.4 steps/s

and any other message (building, divergence) is printed on a line of its own above the bar.
Not on a terminal, every message is a plain line ("step 67/200"), as a log wants it.
"""

from __future__ import annotations

import re
import sys
import time
from typing import TextIO

_STEP = re.compile(r"^step (\d+)/(\d+)$")
BAR_WIDTH = 30


class TrainProgress:
    """`say(text)` for train()'s progress messages, `on_step(name, step, loss)` for its losses."""

    def __init__(self, stream: TextIO | None = None, clock=time.perf_counter) -> None:
        self.stream = stream if stream is not None else sys.stderr
        isatty = getattr(self.stream, "isatty", None)
        self.tty = bool(isatty and isatty())
        self.clock = clock
        self.losses: dict[str, float] = {}
        self.started: float | None = None
        self.drawn = 0                       # characters of the bar now on screen (0: none)

    def on_step(self, name: str, step: int, loss: float) -> None:
        if self.started is None:
            self.started = self.clock()
        self.losses[name] = loss

    def say(self, text: str) -> None:
        match = _STEP.match(text)
        if match and self.tty:
            self._draw(int(match.group(1)), int(match.group(2)))
            return
        self._clear()
        self.stream.write(f"  {text}\n")
        self.stream.flush()

    def close(self) -> None:
        """End the bar's line (on a terminal), so what follows starts on a line of its own."""
        if self.drawn:
            self.stream.write("\n")
            self.stream.flush()
            self.drawn = 0

    def _draw(self, step: int, total: int) -> None:
        filled = BAR_WIDTH * step // max(total, 1)
        losses = "  ".join(f"{name} {loss:.3f}" for name, loss in self.losses.items())
        elapsed = self.clock() - self.started if self.started is not None else 0.0
        rate = f"  {step / elapsed:.1f} steps/s" if elapsed > 0 else ""
        line = (f"  [{'#' * filled}{'-' * (BAR_WIDTH - filled)}] {step:>{len(str(total))}}/{total} steps"
                f"{'  loss ' + losses if losses else ''}{rate}")
        self.stream.write("\r" + line.ljust(self.drawn))
        self.stream.flush()
        self.drawn = len(line)

    def _clear(self) -> None:
        if self.drawn:
            self.stream.write("\r" + " " * self.drawn + "\r")
            self.drawn = 0
