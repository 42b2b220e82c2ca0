from __future__ import annotations

from pathlib import Path

import pytest

from tests.core.embedding.tiny import COLOURS, make_image, register_tiny


@pytest.fixture
def tiny() -> str:
    return register_tiny()


@pytest.fixture
def support(tmp_path: Path) -> tuple[list[Path], list[str]]:
    """Three classes by colour, unequal shots (3, 2, 1)."""
    paths, labels = [], []
    for ci, (name, shots) in enumerate((("red", 3), ("green", 2), ("blue", 1))):
        for i in range(shots):
            paths.append(make_image(tmp_path / "support" / f"{name}{i}.png", COLOURS[name], seed=100 * ci + i))
            labels.append(f"class {name}")
    return paths, labels


@pytest.fixture
def queries(tmp_path: Path) -> tuple[list[Path], list[str]]:
    paths, labels = [], []
    for ci, name in enumerate(("red", "green", "blue")):
        for i in range(3):
            paths.append(make_image(tmp_path / "query" / f"{name}{i}.png", COLOURS[name], seed=5000 + 100 * ci + i))
            labels.append(f"class {name}")
    return paths, labels
