"""The demo project is marked synthetic in its file, so every report made from it says so."""

from __future__ import annotations

from pathlib import Path

from core.reports import render_html
from core.reports.build import build_report
from core.reports.content import SYNTHETIC_NOTICE
from core.scoring.pipeline import adapt_project, load_project_model
from core.store import Project
from core.store.meta import is_synthetic, mark_synthetic
from tests.core.embedding.tiny import COLOURS, make_image, register_tiny


def adapted(path: Path, images: Path) -> Project:
    register_tiny()
    project = Project.create(path)
    for name in ("red", "blue"):
        project.add_images([make_image(images / f"{name}_{i}.png", COLOURS[name], seed=i) for i in range(2)], class_name=name)
    adapt_project(project, budget_s=0.2, backbone="tiny-test")
    return project


def test_a_marked_project_reports_carry_the_notice(tmp_path: Path) -> None:
    with adapted(tmp_path / "demo.raresight", tmp_path / "images") as project:
        assert not is_synthetic(project)
        plain = render_html(build_report(load_project_model(project), [], coverage=0.9))
        mark_synthetic(project, "drawn by the test")
        assert project.audit_log("note")[-1].details["synthetic_images"] is True
    assert SYNTHETIC_NOTICE not in plain
    with Project.open(tmp_path / "demo.raresight", readonly=True) as project:  # read back from the file
        model = load_project_model(project)
    assert model.synthetic_images
    assert SYNTHETIC_NOTICE in render_html(build_report(model, [], coverage=0.9))  # no flag passed: decided from the project
