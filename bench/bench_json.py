"""How every bench script hands over its result: the JSON on stdout and, with --out, in a file."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def write_json(report: dict[str, Any], out: Path | None, indent: int = 2, allow_nan: bool = True) -> str:
    """``report`` as JSON text, also written to ``out`` (parent folders made) when given; ``allow_nan``
    False refuses NaN (strict JSON)."""
    text = json.dumps(report, indent=indent, allow_nan=allow_nan)
    if out:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(text + "\n", encoding="utf-8")
    return text


def emit(report: dict[str, Any], out: Path | None, indent: int = 2) -> None:
    """Print ``report`` as JSON and write it to ``out`` when given."""
    print(write_json(report, out, indent))


def git_provenance(root: Path) -> dict[str, Any]:
    """{"sha", "uncommitted_changes"} of the checkout at ``root`` (results the bench writes do not count)."""
    from core.evaluation.provenance import git_state

    sha, dirty = git_state(root, untracked=False)
    return {"sha": sha, "uncommitted_changes": dirty}
