"""Counts shared by the fuzz tests and the summary in conftest.py."""

STATS: dict[str, dict] = {}


def record(family: str, outcome: str, elapsed: float, case: str) -> None:
    """outcome: 'ok' (a valid design), 'errors' (one clean SpecError) or 'failures'."""
    s = STATS.setdefault(family, {"cases": 0, "ok": 0, "errors": 0, "failures": 0, "worst_s": 0.0,
                                  "worst_case": "", "total_s": 0.0, "over_1s": 0})
    s["over_1s"] += elapsed > 1.0
    s["total_s"] += elapsed
    s["cases"] += 1
    s[outcome] += 1
    if elapsed > s["worst_s"]:
        s["worst_s"], s["worst_case"] = elapsed, case[:120]
