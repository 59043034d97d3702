"""One sweep point as a self-contained job: what to run on which design, and the run itself.

A point carries its design as YAML text (the design format, read with yaml.safe_load) and
the version of the project that wrote it; the worker reads and validates it again and
refuses, in one line, a point written by another version (so it never builds something
else). `run_point` is the same function in-process and on a Ray worker, so a sweep's rows
do not depend on where they ran, except for the `where` column.
"""

from __future__ import annotations

import os
import socket
import time
from dataclasses import dataclass, field

from explorer import __version__
from explorer.errors import ExplorerError

KINDS = ("measure", "train")


@dataclass(frozen=True)
class Point:
    """A measured (timed) or trained sweep point. `options`: BenchConfig or TrainConfig fields."""

    label: str
    kind: str
    design_yaml: str
    options: dict = field(default_factory=dict)
    version: str = __version__

    def payload(self) -> dict:
        return {"label": self.label, "kind": self.kind, "design_yaml": self.design_yaml,
                "options": dict(self.options), "version": self.version}


def here() -> str:
    """Where this process runs: host and process id."""
    return f"{socket.gethostname()}:{os.getpid()}"


def run_point(payload: dict) -> dict:
    """Run one point; every failure is a row with a one-line `error` (never an exception)."""
    row = {"label": payload.get("label", "?"), "where": here(), "version": __version__, "error": ""}
    start = time.perf_counter()
    try:
        if payload.get("version") != __version__:
            row["error"] = (f"refused: the point was written by Sharing Explorer {payload.get('version')} and this "
                            f"worker runs {__version__}")
            return row
        from explorer.design import yaml_io

        spec = yaml_io.parse_text(payload["design_yaml"])        # validated again here
        kind, options = payload.get("kind"), payload.get("options", {})
        if kind == "measure":
            row.update(_measure(spec, options))
        elif kind == "train":
            row.update(_train(spec, options))
        else:
            row["error"] = f"unknown point kind {kind!r} (kinds: {', '.join(KINDS)})"
    except ExplorerError as err:
        row["error"] = _one_line(err)
    except Exception as err:                   # a bug or a torch failure: one line in the row, not a traceback
        row["error"] = f"{type(err).__name__}: {_one_line(err)}"
    row["seconds"] = round(time.perf_counter() - start, 4)
    return row


def _one_line(err: BaseException) -> str:
    text = str(err).strip()
    return (text.splitlines()[0] if text else type(err).__name__)[:300]


def _measure(spec, options: dict) -> dict:
    from explorer.bench.config import BenchConfig
    from explorer.bench.timing import run_bench

    from explorer.analysis import analyze

    config = BenchConfig(**options)
    result = run_bench(spec, config)
    series = result.design
    flops = analyze(spec, config.batch, config.seq, config.dtype).flops.forward
    return {"unique_params": series.params_built, "forward_flops": flops, "median_ms": round(series.median_ms, 4),
            "device": config.device}


def _train(spec, options: dict) -> dict:
    from explorer.train.engine import TrainConfig, train

    result = train(spec, TrainConfig(**options))
    s = result.series["design"]
    return {"unique_params": s.params, "final_val_loss": s.final_val, "best_val_loss": s.best_val,
            "tokens_per_s": round(s.tokens_per_s, 1), "error": result.error or s.diverged or ""}
