"""This process's resident memory, now and at its peak, from Linux's /proc (elsewhere: unknown)."""

from __future__ import annotations

import os


def rss_bytes() -> int:
    """The process's resident memory now (Linux), else 0."""
    try:
        with open("/proc/self/statm") as fh:
            return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return 0


def reset_peak_rss() -> None:
    """Start the kernel's resident high-water mark afresh (Linux 4.0+); elsewhere a no-op."""
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
    except OSError:
        pass


def peak_rss_bytes() -> int | None:
    """The process's resident high-water mark since the last reset (Linux), else None."""
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return None
    return None
