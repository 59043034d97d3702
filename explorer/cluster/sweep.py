"""The points of a scheme sweep (pure): the design and every scheme applied to it, as YAML
text with the run's options, for `explorer sweep --schemes --device DEV` (timed) or
`--train-steps N` (trained), in-process or on Ray."""

from __future__ import annotations

from explorer.cluster.points import Point
from explorer.design import yaml_io
from explorer.design.model import StackSpec
from explorer.train.sweep import scheme_candidates


def scheme_points(spec: StackSpec, kind: str, options: dict, only: list[str] | None = None) -> tuple[list[Point],
                                                                                                   list[dict]]:
    """(points to run, rows of schemes that do not apply: their one-line reason)."""
    points, skipped = [], []
    for c in scheme_candidates(spec, only):
        if c.design is None:
            skipped.append({"label": c.scheme, "where": "", "version": "", "error": c.error})
        else:
            points.append(Point(c.scheme, kind, yaml_io.dumps(c.design), dict(options)))
    return points, skipped
