"""What a job does, wherever it runs: a timing run, a timing sweep over sequence lengths or a
training run, given as a payload of plain data (the design as YAML text with the version of the
project that wrote it). The same body runs in a local worker process (jobs/local.py) and in a Ray
actor (cluster/remote_run.py), so a tab does not care where its job runs.

A running job reports events, plain picklable data: ("sample", Sample), ("built", BenchResult),
("point", (seq, median ms)), ("step", (series, step, loss, seconds)), ("eval", (series, step, loss,
accuracy)) and ("progress", line). They go to `push` when one is given (a worker process sends them
to the window at once), else into a buffer that `poll` drains (a Ray actor, polled by its driver).
`stop` sets the flag the run's should_stop reads, so it ends within one iteration or step.

Torch is imported only when a job runs.
"""

from __future__ import annotations

import threading
from typing import Callable

from explorer import __version__

KINDS = ("bench", "seq", "train", "export", "points", "train-sweep")


def _first_line(err: BaseException) -> str:
    text = str(err).strip()
    return text.splitlines()[0][:200] if text else type(err).__name__


def describe(payload: dict) -> str:
    """What the job is doing, for a line about it: "timing bert-base", "training albert-base"."""
    kind = payload.get("kind", "")
    verb = {"bench": "timing", "seq": "timing", "train": "training", "export": "exporting", "points": "sweeping",
            "train-sweep": "training the schemes of"}.get(kind, "running")
    return f"{verb} {payload.get('name') or 'the design'}"


def device_of(payload: dict) -> str:
    """The device the job runs on ("cpu", "cuda", "cuda:1", "mps"): jobs on one device queue."""
    settings = payload.get("config") or payload.get("options") or {}
    return str(settings.get("device", "cpu"))


class JobBody:
    """Runs one job at a time from its payload; thread-safe `poll` and `stop` beside `run`."""

    def __init__(self, push: Callable[[str, object], None] | None = None,
                 should_stop: Callable[[], bool] | None = None) -> None:
        self._events: list[tuple[str, object]] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._push_to = push
        self._asked_to_stop = should_stop          # a caller's own flag, read beside stop()'s

    def ready(self) -> str:
        from explorer.cluster.points import here

        return here()

    def _push(self, kind: str, value) -> None:
        if self._push_to is not None:
            self._push_to(kind, value)
            return
        with self._lock:
            self._events.append((kind, value))

    def poll(self) -> list[tuple[str, object]]:
        """What the run reported since the last poll (when no `push` was given)."""
        with self._lock:
            out, self._events = self._events, []
        return out

    def stop(self) -> bool:
        self._stop.set()
        return True

    def stopping(self) -> bool:
        """Whether the job should stop: stop() was called since the last reset, or the caller asks."""
        return self._stop.is_set() or (self._asked_to_stop is not None and self._asked_to_stop())

    def reset(self) -> None:
        """Before the next job of a reused body: no stop pending."""
        self._stop.clear()

    def run(self, payload: dict) -> dict:
        """{"version", "kind", "design_yaml", ...} -> {"result": ..., "where"} or {"error": one line}.
        Never raises."""
        from explorer.cluster.points import here

        if payload.get("version") != __version__:
            return {"error": f"refused: the design was sent by Sharing Explorer {payload.get('version')} and "
                             f"this worker runs {__version__}"}
        kind = payload.get("kind", "bench")
        if kind not in KINDS:
            return {"error": f"refused: unknown job kind {kind!r} (kinds: {', '.join(KINDS)})"}
        try:
            from explorer.design import yaml_io
            from explorer.errors import ExplorerError

            if kind == "points":
                return {"result": self._points(payload), "where": here()}
            spec = yaml_io.parse_text(payload["design_yaml"])          # validated again here
            try:
                result = getattr(self, f"_{kind.replace('-', '_')}")(spec, payload)
            except ExplorerError as err:
                return {"error": _first_line(err)}
        except Exception as err:          # a bug or a torch failure: one line, not a traceback
            return {"error": f"{describe(payload)} failed: {type(err).__name__}: {_first_line(err)}"}
        return {"result": result, "where": here()}

    def _bench(self, spec, payload: dict):
        """A BenchResult (plain data: bench/results.py)."""
        from explorer.bench.config import BenchConfig
        from explorer.bench.timing import run_bench

        return run_bench(spec, BenchConfig(**payload.get("config", {})),
                         on_sample=lambda s: self._push("sample", s), should_stop=self.stopping,
                         on_progress=lambda line: self._push("progress", line),
                         on_built=lambda r: self._push("built", r))

    def _seq(self, spec, payload: dict):
        """The design timed at each sequence length: [(seq, median ms)], each also a "point" event."""
        from explorer.bench.config import BenchConfig
        from explorer.bench.timing import run_bench

        config = dict(payload.get("config", {}))
        points = []
        for n in payload["seqs"]:
            if self.stopping():
                break
            result = run_bench(spec, BenchConfig(**{**config, "seq": n}), should_stop=self.stopping)
            if result.design.samples_ms:
                points.append((n, result.design.median_ms))
                self._push("point", points[-1])
        return points

    def _export(self, spec, payload: dict) -> str:
        """The standalone model.py written to payload["path"]; returns the path."""
        from explorer.torchmodel.export import export_file

        export_file(spec, payload["path"])
        return payload["path"]

    def _points(self, payload: dict) -> list[dict]:
        """Sweep points (cluster/points.py payloads, each carrying its design) one after another, as
        `explorer sweep` runs them without Ray: a "row" event each."""
        from explorer.cluster.points import Point
        from explorer.cluster.ray_backend import run_local

        return run_local([Point(**point) for point in payload["points"]], on_row=lambda row: self._push("row", row),
                         should_stop=self.stopping)

    def _train_sweep(self, spec, payload: dict):
        """Every scheme trained on the (scaled) design: a "run" event per SchemeRun; a SchemeSweep."""
        from explorer.train.results import TrainConfig
        from explorer.train.sweep import train_schemes

        return train_schemes(spec, TrainConfig(**payload["options"]), only=payload.get("only"),
                             on_run=lambda run: self._push("run", run),
                             progress=lambda line: self._push("progress", line), should_stop=self.stopping)

    def _train(self, spec, payload: dict):
        """A Trained (train/session.py)."""
        from explorer.design import yaml_io
        from explorer.train.session import train_and_compare

        baseline = yaml_io.parse_text(payload["baseline_yaml"]) if payload.get("baseline_yaml") else None
        return train_and_compare(spec, payload["options"], tuple(payload.get("notes", ())), baseline,
                                 on_step=lambda *step: self._push("step", step),
                                 on_eval=lambda *ev: self._push("eval", ev),
                                 progress=lambda line: self._push("progress", line),
                                 should_stop=self.stopping)


def bench_payload(design_yaml: str, config: dict, name: str = "", version: str = __version__) -> dict:
    """A timing run's payload (config: BenchConfig fields)."""
    return {"kind": "bench", "design_yaml": design_yaml, "config": dict(config), "name": name, "version": version}


def seq_payload(design_yaml: str, config: dict, seqs: list[int], name: str = "", version: str = __version__) -> dict:
    """A timing sweep over sequence lengths (config: BenchConfig fields but seq)."""
    return {"kind": "seq", "design_yaml": design_yaml, "config": dict(config), "seqs": list(seqs), "name": name,
            "version": version}


def train_payload(design_yaml: str, options: dict, notes: tuple[str, ...] = (), baseline_yaml: str | None = None,
                  name: str = "", version: str = __version__) -> dict:
    """A training run's payload (options: TrainConfig fields)."""
    return {"kind": "train", "design_yaml": design_yaml, "options": dict(options), "notes": list(notes),
            "baseline_yaml": baseline_yaml, "name": name, "version": version}


def export_payload(design_yaml: str, path: str, name: str = "", version: str = __version__) -> dict:
    """Write the design's standalone model.py to `path`."""
    return {"kind": "export", "design_yaml": design_yaml, "path": str(path), "name": name, "version": version}


def points_payload(points: list[dict], name: str = "", device: str = "cpu", version: str = __version__) -> dict:
    """Sweep points (cluster/points.py Point.payload() dicts) run one after another on `device`."""
    return {"kind": "points", "points": list(points), "config": {"device": device}, "name": name,
            "version": version}


def train_sweep_payload(design_yaml: str, options: dict, only: list[str] | None = None, name: str = "",
                        version: str = __version__) -> dict:
    """Train every scheme of the design (options: TrainConfig fields)."""
    return {"kind": "train-sweep", "design_yaml": design_yaml, "options": dict(options), "only": only,
            "name": name, "version": version}
