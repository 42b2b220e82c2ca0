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
    assert {r["frame"] for r in rows} == {"0"}  # one-page PNGs
    assert not (tmp_path / "scores.csv.errors.csv").exists()  # no unreadable file, no errors file
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
    errors = read(tmp_path / "scores.csv.errors.csv")
    assert len(errors) == 1 and "broken.png" in errors[0]["error"]
    assert f"1 unreadable (see {tmp_path / 'scores.csv.errors.csv'})" in capsys.readouterr().out
    # a Parquet run of the same stem keeps its own list; the CSV run's is untouched
    assert main(["score", str(project), str(queries), "--out", str(tmp_path / "scores.parquet")]) == 1
    listed = [r["path"] for r in errors]
    assert [r["path"] for r in read(tmp_path / "scores.csv.errors.csv")] == listed
    assert [r["path"] for r in read(tmp_path / "scores.parquet.errors.csv")] == listed
    # resumed: the broken file is tried again and still listed; fixed, it is scored and the list goes
    assert main(["score", str(project), str(queries), "--out", str(out)]) == 1
    assert [r["path"] for r in read(tmp_path / "scores.csv.errors.csv")] == listed
    make_image(queries / "broken.png", COLOURS["red"], seed=99)
    assert main(["score", str(project), str(queries), "--out", str(out)]) == 0
    assert len(read(out)) == 10 and not (tmp_path / "scores.csv.errors.csv").exists()


def test_errors_of_an_earlier_run_over_other_files_are_kept(labelled_project: tuple[Path, Path], tmp_path: Path) -> None:
    project, queries = labelled_project
    (queries / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n broken")
    out = tmp_path / "scores.csv"
    assert main(["score", str(project), str(queries), "--out", str(out)]) == 1
    more = tmp_path / "more"
    make_image(more / "red_9.png", COLOURS["red"], seed=900)
    assert main(["score", str(project), str(more), "--out", str(out)]) == 0  # into the same output, nothing unreadable
    assert [r["path"] for r in read(tmp_path / "scores.csv.errors.csv")] == [str(queries / "broken.png")]


def test_empty_folder_is_an_error_with_the_reason(
    tmp_path: Path, labelled_project: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    project, _ = labelled_project
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / ".DS_Store").write_bytes(b"hidden")  # hidden files are not images to score
    out = tmp_path / "s.csv"
    assert main(["score", str(project), str(empty), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert f"no files to score in {empty}" in err and "--recursive" not in err
    assert not out.exists() and not (tmp_path / "s.csv.errors.csv").exists()
    # files only in subfolders: the hint names --recursive, and with it they are scored
    nested = tmp_path / "nested"
    make_image(nested / "day1" / "red_5.png", COLOURS["red"], seed=55)
    assert main(["score", str(project), str(nested), "--out", str(out)]) == 2
    assert f"no files directly in {nested}, only in subfolders; add --recursive" in capsys.readouterr().err
    assert main(["score", str(project), str(nested), "--recursive", "--out", str(out)]) == 0
    assert len(read(out)) == 1


def test_folder_of_files_that_are_not_images(
    labelled_project: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    project, _ = labelled_project
    notes = tmp_path / "notes"
    notes.mkdir()
    (notes / "readme.txt").write_text("not an image")
    out = tmp_path / "s.csv"
    assert main(["score", str(project), str(notes), "--out", str(out), "--report-dir", str(tmp_path / "r")]) == 1
    printed = capsys.readouterr().out
    assert "no file could be read as an image" in printed and "report: not written" in printed
    assert "readme.txt" in (tmp_path / "s.csv.errors.csv").read_text()


def test_multiframe_dicom_records_the_frame_scored_and_resumes(
    labelled_project: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import shutil

    import pydicom.data

    from core.imaging import load_image

    project, _ = labelled_project
    source = Path(pydicom.data.__file__).parent / "test_files" / "rtdose.dcm"  # ships with pydicom: 15 frames
    folder = tmp_path / "dicom"
    folder.mkdir()
    shutil.copy(source, folder / "rtdose.dcm")
    make_image(folder / "red_0.png", COLOURS["red"], seed=7)
    out = tmp_path / "scores.csv"
    assert main(["score", str(project), str(folder), "--out", str(out)]) == 0
    frames = {Path(r["path"]).name: r["frame"] for r in read(out)}
    assert frames == {"rtdose.dcm": str(load_image(folder / "rtdose.dcm").frame), "red_0.png": "0"}
    assert frames["rtdose.dcm"] == "7"  # the middle one, as embedded; not 0
    capsys.readouterr()
    assert main(["score", str(project), str(folder), "--out", str(out)]) == 0
    assert "0 scored now, 2 already done" in capsys.readouterr().out


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
