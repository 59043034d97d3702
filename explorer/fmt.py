"""Number formatting for labels: counts with SI suffixes, bytes in binary units."""

from __future__ import annotations


def plural(n: int, noun: str) -> str:
    """'1 group', '2 groups'."""
    return f"{n:,} {noun}{'' if n == 1 else 's'}"


def count(n: float, unit: str = "") -> str:
    for scale, suffix in ((1e15, "P"), (1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(n) >= scale:
            return f"{n / scale:.2f} {suffix}{unit}"
    return f"{n:.0f} {unit}".rstrip()


def nbytes(n: int) -> str:
    for scale, suffix in ((1 << 40, "TiB"), (1 << 30, "GiB"), (1 << 20, "MiB"), (1 << 10, "KiB")):
        if n >= scale:
            return f"{n / scale:.2f} {suffix}"
    return f"{n} B"
