"""The wheel an installer would bundle holds the code and the resources."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


@pytest.mark.slow
def test_wheel_holds_code_and_resources(tmp_path: Path) -> None:
    run = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(tmp_path), str(REPO)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stderr
    (wheel,) = tmp_path.glob("raresight-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert "app/cli.py" in names and "core/imaging/loader.py" in names and "resources/__init__.py" in names
    assert "resources/raresight-meta-lite0.safetensors" in names  # the meta-trained backbone
    entry_points = next(n for n in names if n.endswith("entry_points.txt"))
    assert "raresight = app.cli:main" in zipfile.ZipFile(wheel).read(entry_points).decode()
    assert not any(n.startswith("tests/") for n in names)
