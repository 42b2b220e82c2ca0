"""Many signal emits must not crash the interpreter (PySide6 6.12 drops a reference per emit)."""

from __future__ import annotations

import sys

from PySide6.QtCore import QObject, Signal

from app.gui import pyside_fixes


class _Emitter(QObject):
    changed = Signal(int)


def test_many_emits_leave_true_alive() -> None:
    applied = pyside_fixes.apply()  # app.gui's import already did it; idempotent
    if pyside_fixes.emit_drops_references():
        assert applied and sys.getrefcount(True) > 2**39
    emitter = _Emitter()
    seen: list[int] = []
    emitter.changed.connect(seen.append)
    for i in range(20_000):  # far more than True's own count on Python 3.11 without the fix
        emitter.changed.emit(i)
    assert len(seen) == 20_000 and bool(1) is True
