"""Work around a PySide6 reference-count bug that would crash long GUI sessions.

PySide6 6.12.0 returns ``True`` from ``SignalInstance.emit()`` without taking a reference for
it, so every ``emit()`` made from Python drops one reference to ``True``. On Python 3.11, where
``True`` is an ordinary object, a few thousand emits (mouse moves over the viewer, files loaded)
bring its count to zero and the interpreter aborts with "Fatal Python error: bool_dealloc".

When the bug is detected, :func:`apply` gives ``True`` and ``False`` a reserve of references so
large that no session can use it up: what Python 3.12 does for every process ("immortal" objects).
Python 3.12 and later, and a fixed PySide6, are left alone. Remove this module once the project
requires one of them.
"""

from __future__ import annotations

import ctypes
import logging
import sys

log = logging.getLogger(__name__)

_RESERVE = 1 << 40  # references added to True and False; a 64-bit count has room for 2**63
_PROBE_EMITS = 16
_applied = False


def emit_drops_references() -> bool:
    """True when ``emit()`` loses a reference to ``True`` on every call (the PySide6 bug)."""
    from PySide6.QtCore import QObject, Signal

    class _Probe(QObject):
        ping = Signal()

    probe = _Probe()
    before = sys.getrefcount(True)
    for _ in range(_PROBE_EMITS):
        probe.ping.emit()
    return sys.getrefcount(True) - before <= -_PROBE_EMITS


def apply() -> bool:
    """Protect ``True``/``False`` if this PySide6 needs it; returns whether the fix is in place."""
    global _applied
    if _applied:
        return True
    immortal_bools = sys.version_info >= (3, 12) or sys.implementation.name != "cpython"
    if immortal_bools or not emit_drops_references():
        return False
    for value in (True, False):
        # CPython: a PyObject starts with its reference count (Py_ssize_t) at the object's address.
        ctypes.c_ssize_t.from_address(id(value)).value += _RESERVE
    _applied = True
    log.info("PySide6 emit() reference bug detected: True/False protected")
    return True
