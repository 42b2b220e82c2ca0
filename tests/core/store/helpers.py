"""Small builders shared by the store tests and the project CLI tests."""

from __future__ import annotations

import hashlib
import sqlite3
from pathlib import Path

import numpy as np
from PIL import Image


def make_pngs(folder: Path, count: int, seed: int = 0, size: int = 20) -> list[Path]:
    """``count`` small PNGs with distinct content in ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    paths = []
    for index in range(count):
        path = folder / f"case_{index:03d}.png"
        Image.fromarray(rng.integers(0, 256, (size, size), dtype=np.uint8)).save(path)
        paths.append(path)
    return paths


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def tamper(project: Path, *statements: str) -> None:
    """Run SQL on a project with plain sqlite3, as someone editing the file by hand would."""
    conn = sqlite3.connect(project)
    try:
        for trigger in ("audit_no_update", "audit_no_delete", "labels_no_update", "labels_no_delete", "steps_no_update", "steps_no_delete"):
            conn.execute(f"DROP TRIGGER IF EXISTS {trigger}")
        for statement in statements:
            conn.execute(statement)
        conn.commit()
    finally:
        conn.close()
