"""``raresight adapt`` learns from the project's unlabelled images unless ``--no-unlabelled``; ``project info`` says what it used."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import core.scoring.pipeline
from app.cli import main
from tests.core.embedding.tiny import COLOURS, make_image, register_tiny

METHOD = "soft-kmeans"


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Two labelled and four unlabelled images of each of three colour classes; a pool method that uses them."""
    register_tiny()
    # the test must not depend on which method core/fewshot's measurements make the default (it may be "none")
    monkeypatch.setattr(core.scoring.pipeline, "DEFAULT_POOL_METHOD", METHOD)
    folder = tmp_path / "images"
    path = tmp_path / "p.raresight"
    assert main(["project", "create", str(path)]) == 0
    for ci, name in enumerate(("red", "green", "blue")):
        files = [make_image(folder / f"{name}_{i}.png", COLOURS[name], seed=10 * ci + i) for i in range(6)]
        assert main(["project", "add", str(path), *map(str, files[:2]), "--class", name]) == 0
        assert main(["project", "add", str(path), *map(str, files[2:])]) == 0
    return path


def _info(path: Path, capsys: pytest.CaptureFixture[str]) -> dict[str, object]:
    capsys.readouterr()
    assert main(["project", "info", str(path), "--json"]) == 0
    model = json.loads(capsys.readouterr().out)["model"]
    assert isinstance(model, dict)
    return model


def test_adapt_uses_the_unlabelled_images_and_info_says_how_many(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["adapt", str(project), "--backbone", "tiny-test", "--budget-s", "0.2"]) == 0
    out = capsys.readouterr().out
    pool = _info(project, capsys)["unlabelled_pool"]
    assert isinstance(pool, dict) and pool["method"] == METHOD and 0 < pool["images"] <= 12
    assert f"learned from unlabelled images: {pool['images']} unlabelled images ({METHOD})" in out
    assert main(["project", "info", str(project)]) == 0
    assert f"learned from {pool['images']} unlabelled images ({METHOD})" in capsys.readouterr().out


def test_no_unlabelled_learns_from_the_labels_alone(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["adapt", str(project), "--backbone", "tiny-test", "--budget-s", "0.2", "--no-unlabelled"]) == 0
    assert "learned from unlabelled images: none" in capsys.readouterr().out
    assert _info(project, capsys)["unlabelled_pool"] == {"images": 0, "method": "none"}
    assert main(["project", "info", str(project)]) == 0
    assert "learned from none" in capsys.readouterr().out
