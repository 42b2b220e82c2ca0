"""The built-in demo: the README's first command, end to end."""

from __future__ import annotations

import csv
import os
import subprocess
import sys
from pathlib import Path

import pytest

from core.demo.project import UNLABELLED_CLASS, run_demo
from tests.core.embedding.tiny import register_tiny

RARESIGHT = Path(sys.executable).parent / "raresight"


def test_demo_outputs_with_the_tiny_backbone(tmp_path: Path) -> None:
    register_tiny()
    result = run_demo(tmp_path / "demo", per_class=8, budget_s=0.5, backbone="tiny-test")
    rows = list(csv.DictReader(result.predictions.open(newline="")))
    assert len(rows) == 4 * 3 + 8  # the unlabelled queries of four classes, every image of the fifth
    assert result.known_queries == 12 and result.unknown_queries == 8
    html = result.report_html.read_text()
    assert "synthetic" in html and "Research use only" in html
    assert result.report_pdf.read_bytes().startswith(b"%PDF")
    assert UNLABELLED_CLASS not in {r["predicted_class"] for r in rows}  # a class nobody labelled is never predicted


def test_demo_again_replaces_the_previous_one(tmp_path: Path) -> None:
    register_tiny()
    run_demo(tmp_path, per_class=6, budget_s=0.2, backbone="tiny-test")
    second = run_demo(tmp_path, per_class=6, budget_s=0.2, backbone="tiny-test")
    assert second.model_version == 1


@pytest.mark.slow
def test_readme_demo_command_real_backbone_headless(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")}
    run = subprocess.run(
        [str(RARESIGHT), "demo", "--out", str(tmp_path / "demo"), "--budget-s", "3"],
        capture_output=True,
        text=True,
        timeout=600,
        env=env,
        check=False,
    )
    assert run.returncode == 0, run.stderr
    assert "queries predicted correctly" in run.stdout and "window was not opened" in run.stdout
    correct, total = map(int, run.stdout.split("labelled classes: ")[1].split(" ")[0].split("/"))
    assert correct >= 0.7 * total
    assert (tmp_path / "demo" / "report.pdf").exists() and (tmp_path / "demo" / "predictions.csv").exists()
