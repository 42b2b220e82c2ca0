"""Crash safety: SIGKILL a writing process 50 times at random moments; nothing committed is lost.

The full run (hundreds of kills on a larger import) is ``bench/crash_store.py``; this is its short form.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

BENCH = Path(__file__).resolve().parents[3] / "bench" / "crash_store.py"


def _load() -> ModuleType:
    spec = importlib.util.spec_from_file_location("crash_store", BENCH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("crash_store", module)
    spec.loader.exec_module(module)
    return module


@pytest.mark.slow
@pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL is POSIX")
def test_fifty_kills_lose_nothing_committed(tmp_path: Path) -> None:
    result = _load().run(kills=50, files=40, workdir=tmp_path, seed=1, max_delay=0.3)
    summary = {k: v for k, v in result.items() if k != "final_project"}
    assert result["failures"] == [], summary
    assert result["kills"] == 50
    # A batch committed just before a kill may go unreported; it must still be there.
    assert result["final_project"]["images"] == 40 and result["images_reported"] >= 30, summary
    assert result["reported_commits_checked"] > 100, summary
