"""Reports of the demo project carry the synthetic-images notice however they are made."""

from __future__ import annotations

from pathlib import Path

from app.cli import main
from app.gui.project_services import export_report
from core.demo.project import run_demo
from core.reports.content import SYNTHETIC_NOTICE
from core.store import Project
from tests.core.embedding.tiny import register_tiny


def test_demo_reports_say_synthetic_from_the_cli_and_the_window(tmp_path: Path) -> None:
    register_tiny()
    demo = run_demo(tmp_path / "demo", per_class=6, budget_s=0.2, backbone="tiny-test")
    assert SYNTHETIC_NOTICE in demo.report_html.read_text()
    image = next((tmp_path / "demo" / "images").rglob("*.png"))
    assert main(["report", str(demo.project), str(image), "--out", str(tmp_path / "cli.html")]) == 0
    assert SYNTHETIC_NOTICE in (tmp_path / "cli.html").read_text()
    with Project.open(demo.project) as project:  # the window's File > Export report calls this
        assert export_report(project, [str(image)], tmp_path / "window.html") == 1
    assert SYNTHETIC_NOTICE in (tmp_path / "window.html").read_text()
