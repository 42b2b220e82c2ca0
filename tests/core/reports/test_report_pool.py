"""The report's model card says what the model learned from the project's unlabelled images."""

from __future__ import annotations

from pathlib import Path

from core.fewshot import PrototypicalClassifier
from core.fewshot.persistence import from_model_state, to_model_state
from core.reports import render_html, write_pdf
from core.reports.build import build_report
from core.scoring.pipeline import ProjectModel
from tests.core.embedding.tiny import COLOURS, make_image, register_tiny
from tests.core.reports.test_reports import pdf_text


def _fitted(tmp_path: Path, pool: list[Path] | None) -> ProjectModel:
    classes = ("red", "blue")
    paths = [make_image(tmp_path / f"{name}{i}.png", COLOURS[name], seed=10 * i) for name in classes for i in range(2)]
    method = "soft-kmeans" if pool else "none"
    clf = PrototypicalClassifier(register_tiny(), adapt="none", pool_method=method)
    clf.fit(paths, ["red", "red", "blue", "blue"], unlabelled=pool)
    state = to_model_state(clf)
    return ProjectModel(from_model_state(state), state, {})


def test_the_model_card_names_how_many_unlabelled_images_and_the_method(tmp_path: Path) -> None:
    pool = [make_image(tmp_path / "pool" / f"{name}{i}.png", COLOURS[name], seed=100 + i) for name in ("red", "blue") for i in range(4)]
    model = _fitted(tmp_path, pool)
    used = model.state.settings["pool_used"]
    assert used["method"] == "soft-kmeans" and used["images"] > 0
    line = f"learned from unlabelled images: {used['images']} unlabelled images (soft-kmeans)"
    report = build_report(model, [], coverage=0.9)
    assert line in render_html(report)
    assert line in pdf_text(write_pdf(report, tmp_path / "r.pdf").read_bytes())


def test_without_a_pool_the_model_card_says_none(tmp_path: Path) -> None:
    report = build_report(_fitted(tmp_path, None), [], coverage=0.9)
    assert "learned from unlabelled images: none" in render_html(report)
