"""Signal emits must not leak references to True.

PySide6 6.12.0 drops one reference to ``True`` on every ``emit()`` from Python; on Python 3.11 a
few thousand emits (mouse moves over the viewer) abort the interpreter with "bool_dealloc". The
project pins PySide6-Essentials below 6.12 for that reason; this test fails on a release that has
the bug, before a clinician's session would crash.
"""

from __future__ import annotations

import sys

from PySide6.QtCore import QObject, Signal


class _Emitter(QObject):
    changed = Signal(int)
    ping = Signal()


def test_emit_keeps_references_to_true() -> None:
    emitter = _Emitter()
    before = sys.getrefcount(True)
    for _ in range(100):
        emitter.ping.emit()
    assert sys.getrefcount(True) - before > -50, "this PySide6 leaks a reference to True per emit(); pin a fixed release"


def test_many_emits_do_not_crash() -> None:
    emitter = _Emitter()
    seen: list[int] = []
    emitter.changed.connect(seen.append)
    for i in range(20_000):  # more than True's own reference count on Python 3.11
        emitter.changed.emit(i)
    assert len(seen) == 20_000
