"""``raresight adapt``, ``score`` and ``report`` over a real project file."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from app.cli import main
from core.store import Project
from tests.core.embedding.tiny import COLOURS, make_image, register_tiny


@pytest.fixture
def labelled_project(tmp_path: Path) -> tuple[Path, Path]:
    """A project with two labelled images of each of three colour classes, and a folder to score."""
    register_tiny()
    support, queries = tmp_path / "support", tmp_path / "queries"
    for ci, name in enumerate(("red", "green", "blue")):
        for i in range(2):
            make_image(support / f"{name}_{i}.png", COLOURS[name], seed=10 * ci + i)
        for i in range(3):
            make_image(queries / f"{name}_{i}.png", COLOURS[name], seed=500 + 10 * ci + i)
    path = tmp_path / "p.raresight"
    assert main(["project", "create", str(path)]) == 0
    for name in ("red", "green", "blue"):
        assert main(["project", "add", str(path), *map(str, sorted(support.glob(f"{name}_*.png"))), "--class", name]) == 0
    assert main(["adapt", str(path), "--backbone", "tiny-test", "--budget-s", "0.5"]) == 0
    return path, queries


def read(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as file:
        return list(csv.DictReader(file))


def test_score_writes_one_row_per_image_and_resumes(
    labelled_project: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    project, queries = labelled_project
    out = tmp_path / "scores.csv"
    assert main(["score", str(project), str(queries), "--out", str(out)]) == 0
    rows = read(out)
    assert len(rows) == 9
    assert {
        "path",
        "content_hash",
        "predicted_class",
        "none_of_these",
        "prediction_set",
        "p_red",
        "nearest_red",
        "similarity_red",
        "model_version",
    } <= set(rows[0])
    assert all(abs(sum(float(r[f"p_{c}"]) for c in ("red", "green", "blue")) - 1) < 1e-4 for r in rows)
    right = sum(r["predicted_class"] == Path(r["path"]).stem.split("_")[0] for r in rows)
    assert right >= 7
    capsys.readouterr()
    assert main(["score", str(project), str(queries), "--out", str(out)]) == 0
    assert "0 scored now, 9 already done" in capsys.readouterr().out
    assert read(out) == rows


@pytest.mark.parametrize("suffix", [".jsonl", ".parquet"])
def test_other_formats(labelled_project: tuple[Path, Path], tmp_path: Path, suffix: str) -> None:
    project, queries = labelled_project
    out = tmp_path / f"scores{suffix}"
    assert main(["score", str(project), str(queries), "--out", str(out)]) == 0
    assert out.stat().st_size > 0


def test_unreadable_file_goes_to_errors_file(
    labelled_project: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    project, queries = labelled_project
    (queries / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n broken")
    out = tmp_path / "scores.csv"
    assert main(["score", str(project), str(queries), "--out", str(out)]) == 1
    assert len(read(out)) == 9
    errors = read(tmp_path / "scores.errors.csv")
    assert len(errors) == 1 and "broken.png" in errors[0]["error"]
    assert "1 unreadable" in capsys.readouterr().out


def test_changed_labels_say_to_adapt(labelled_project: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    project, queries = labelled_project
    assert main(["project", "add", str(project), str(queries / "red_0.png"), "--class", "red"]) == 0
    assert main(["score", str(project), str(queries), "--out", str(tmp_path / "s.csv")]) == 2
    assert "run 'raresight adapt" in capsys.readouterr().err


def test_no_model_says_to_adapt(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "empty.raresight"
    with Project.create(path):
        pass
    assert main(["score", str(path), str(tmp_path), "--out", str(tmp_path / "s.csv")]) == 2
    assert "no adapted model" in capsys.readouterr().err


def test_report_pdf_and_html_and_batch_report(labelled_project: tuple[Path, Path], tmp_path: Path) -> None:
    project, queries = labelled_project
    images = [str(queries / "red_0.png"), str(queries / "blue_1.png")]
    assert main(["report", str(project), *images, "--out", str(tmp_path / "case.pdf")]) == 0
    assert (tmp_path / "case.pdf").read_bytes().startswith(b"%PDF")
    assert main(["report", str(project), *images, "--out", str(tmp_path / "case.html")]) == 0
    html = (tmp_path / "case.html").read_text()
    assert "Research use only" in html and "red_0.png" not in html  # no file names unless asked
    with Project.open(project) as opened:
        state = opened.model_state()
    assert state is not None  # the model card names the 'none of these' cut the model used, and its calibration
    assert f"more than {state.thresholds['unknown_novelty']:.2f}x as far from every class" in html
    assert f"calibration {state.settings['calibration_id']}" in html
    assert main(["score", str(project), str(queries), "--out", str(tmp_path / "s.csv"), "--report-dir", str(tmp_path / "reports")]) == 0
    assert (tmp_path / "reports" / "batch_report.pdf").exists() and (tmp_path / "reports" / "batch_report.html").exists()
