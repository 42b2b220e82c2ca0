"""How every bench script hands over its result: the JSON on stdout and, with --out, in a file."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def write_json(report: dict[str, Any], out: Path | None, indent: int = 2) -> str:
    """``report`` as JSON text, also written to ``out`` (parent folders made) when given."""
    text = json.dumps(report, indent=indent)
    if out:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(text + "\n", encoding="utf-8")
    return text


def emit(report: dict[str, Any], out: Path | None, indent: int = 2) -> None:
    """Print ``report`` as JSON and write it to ``out`` when given."""
    print(write_json(report, out, indent))
