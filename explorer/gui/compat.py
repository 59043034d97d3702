"""Work around a binding bug: PySide6 6.12 on Python < 3.12 drops a reference to None on
every call of a void C++ method (it returns None without an incref, as if None were
immortal, which it only is from Python 3.12). None starts with a few thousand references,
so a painting GUI would die within seconds with "Fatal Python error: none_dealloc".

When the leak is detected, None's reference count is raised once by 2**48, which makes it
as good as immortal (the same thing Python 3.12 does). Nothing happens on fixed bindings
or on Python 3.12+.
"""

from __future__ import annotations

import ctypes
import logging
import sys

log = logging.getLogger(__name__)
_IMMORTAL_BOOST = 1 << 48
_done = False


def none_leaks_per_call(calls: int = 256) -> float:
    """References to None lost per void binding call (0 on healthy bindings)."""
    from PySide6.QtCore import QRectF

    rect = QRectF()
    before = sys.getrefcount(None)
    for _ in range(calls):
        rect.setWidth(1.0)
    return (before - sys.getrefcount(None)) / calls


def guard_none_refcount() -> bool:
    """Make None (and True, False) effectively immortal if the Qt bindings leak its references. True if applied."""
    global _done
    if _done or sys.version_info >= (3, 12) or sys.implementation.name != "cpython":
        return False
    if none_leaks_per_call() < 0.5:
        return False
    for singleton in (None, True, False):    # bool returns through virtuals leak the same way
        ctypes.c_ssize_t.from_address(id(singleton)).value += _IMMORTAL_BOOST
    _done = True
    log.info("PySide6 leaks references to None on void calls; None pinned as immortal")
    return True
