"""``raresight project ...``: in-process through app.cli.main, and once as a real subprocess."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pydicom.data
import pytest

from app.cli import main
from core.fewshot.persistence import from_model_state
from core.fewshot.quality import NO_ESTIMATE_ADVICE, AccuracyEstimate, estimate_accuracy
from core.store import Project
from tests.core.embedding.tiny import COLOURS, make_image, register_tiny
from tests.core.store.helpers import make_pngs, sha256, tamper

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def images(tmp_path: Path) -> Path:
    folder = tmp_path / "images"
    make_pngs(folder, 4)
    shutil.copy(pydicom.data.get_testdata_file("CT_small.dcm"), folder / "ct.dcm")
    return folder


def _info(project: Path, capsys: pytest.CaptureFixture[str]) -> dict[str, object]:
    capsys.readouterr()
    assert main(["project", "info", str(project), "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_create_add_label_info_verify(tmp_path: Path, images: Path, capsys: pytest.CaptureFixture[str]) -> None:
    project = tmp_path / "study.raresight"
    assert main(["project", "create", str(project)]) == 0
    assert main(["project", "create", str(project)]) == 2
    assert "already exists" in capsys.readouterr().err
    assert main(["project", "add", str(project), str(images), "--class", "normal"]) == 0
    assert "added 5 image(s), 0 already in the project, 0 could not be read; 5 labelled as 'normal'" in capsys.readouterr().out
    assert main(["project", "label", str(project), "--class", "sarcoidosis", str(images / "ct.dcm"), str(images / "case_001.png")]) == 0
    info = _info(project, capsys)
    assert info["images"] == 5 and info["labelled_images"] == 5
    assert info["classes"] == {"normal": 3, "sarcoidosis": 2} and info["model_version"] is None
    assert main(["project", "verify", str(project)]) == 0
    assert capsys.readouterr().out.strip().endswith(": ok")


def test_add_reports_unreadable_files_one_line_each(tmp_path: Path, images: Path, capsys: pytest.CaptureFixture[str]) -> None:
    project = tmp_path / "p.raresight"
    main(["project", "create", str(project)])
    (images / "broken.dcm").write_bytes(b"not a dicom")
    (images / "sub").mkdir()
    make_pngs(images / "sub", 2, seed=5)
    capsys.readouterr()
    assert main(["project", "add", str(project), str(images), "--recursive"]) == 1
    out = capsys.readouterr().out.splitlines()
    assert [line for line in out if line.startswith("FAIL")] == [line for line in out if "broken.dcm" in line]
    assert out[-1] == "added 7 image(s), 0 already in the project, 1 could not be read"


def test_label_unknown_path_undo_redo(tmp_path: Path, images: Path, capsys: pytest.CaptureFixture[str]) -> None:
    project = tmp_path / "p.raresight"
    main(["project", "create", str(project)])
    main(["project", "add", str(project), str(images)])
    stranger = make_pngs(tmp_path / "other", 1, seed=42)[0]
    capsys.readouterr()
    assert main(["project", "label", str(project), "--class", "a", str(images / "case_000.png"), str(stranger)]) == 1
    assert "not an image of this project" in capsys.readouterr().out
    assert main(["project", "undo", str(project)]) == 0
    assert _info(project, capsys)["labelled_images"] == 0
    assert main(["project", "redo", str(project)]) == 0
    assert _info(project, capsys)["classes"] == {"a": 1}


def test_verify_fails_and_names_the_tampered_row(tmp_path: Path, images: Path, capsys: pytest.CaptureFixture[str]) -> None:
    project = tmp_path / "p.raresight"
    main(["project", "create", str(project)])
    main(["project", "add", str(project), str(images), "--class", "a"])
    tamper(project, "UPDATE audit SET actor = 'someone else' WHERE id = 3")
    capsys.readouterr()
    assert main(["project", "verify", str(project)]) == 1
    out = capsys.readouterr().out
    assert "FAIL  audit: audit row 3: changed after it was written" in out


def test_relink_after_moving_the_folder(tmp_path: Path, images: Path, capsys: pytest.CaptureFixture[str]) -> None:
    project = tmp_path / "p.raresight"
    main(["project", "create", str(project)])
    main(["project", "add", str(project), str(images), "--class", "a"])
    main(["project", "label", str(project), "--class", "b", str(images / "ct.dcm")])
    shutil.move(images, tmp_path / "moved")
    capsys.readouterr()
    assert main(["project", "verify", str(project)]) == 1
    assert capsys.readouterr().out.count("file missing") == 5
    assert main(["project", "relink", str(project), str(tmp_path / "moved")]) == 0
    assert "relinked 5 image(s)" in capsys.readouterr().out
    assert main(["project", "verify", str(project)]) == 0
    assert _info(project, capsys)["classes"] == {"a": 4, "b": 1}


def test_bad_project_file_is_exit_2_and_untouched(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "notes.raresight"
    bad.write_text("these are not a project\n" * 10)
    before = sha256(bad)
    for action in ("info", "verify", "add"):
        argv = ["project", action, str(bad)] + (["x.png"] if action == "add" else [])
        assert main(argv) == 2
        assert "not a RareSight project" in capsys.readouterr().err
    assert sha256(bad) == before


def test_help_documents_exit_codes(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["project", "verify", "--help"])
    out = capsys.readouterr().out
    assert "exit status:" in out and "verify found problems" in out


def test_real_subprocess(tmp_path: Path, images: Path) -> None:
    exe = Path(sys.executable).parent / "raresight"
    command = [str(exe)] if exe.exists() else [sys.executable, "-m", "app.cli"]
    project = tmp_path / "p.raresight"

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([*command, "project", *args], capture_output=True, text=True, cwd=REPO, timeout=60)

    assert run("create", str(project)).returncode == 0
    assert run("add", str(project), str(images), "--class", "x", "--embed").returncode == 0
    result = run("info", str(project), "--json")
    assert result.returncode == 0, result.stderr
    info = json.loads(result.stdout)
    assert (info["images"], info["labelled_images"], info["classes"], info["embedded_images"]) == (5, 5, {"x": 5}, 5)
    shutil.rmtree(images)  # embedded copies stand in for the files
    assert run("verify", str(project)).returncode == 0
    assert run("verify", str(tmp_path / "absent.raresight")).returncode == 2


def _adapted(tmp_path: Path, unlabelled_per_class: int) -> Path:
    """Two labelled images of each of three colours, ``unlabelled_per_class`` unlabelled ones, adapted."""
    register_tiny()
    project = tmp_path / "p.raresight"
    assert main(["project", "create", str(project)]) == 0
    for ci, name in enumerate(("red", "green", "blue")):
        labelled = [make_image(tmp_path / "labelled" / f"{name}_{i}.png", COLOURS[name], seed=10 * ci + i) for i in range(2)]
        assert main(["project", "add", str(project), *map(str, labelled), "--class", name]) == 0
        for i in range(unlabelled_per_class):
            make_image(tmp_path / "unlabelled" / f"{name}_{i}.png", COLOURS[name], seed=500 + 10 * ci + i)
    if unlabelled_per_class:
        assert main(["project", "add", str(project), str(tmp_path / "unlabelled")]) == 0
    assert main(["adapt", str(project), "--backbone", "tiny-test", "--budget-s", "0.5"]) == 0
    return project


def test_info_shows_the_models_expected_accuracy_on_new_images(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    project = _adapted(tmp_path, unlabelled_per_class=4)
    with Project.open(project, readonly=True) as opened:
        state, predictions = opened.model_state(), opened.predictions()
    assert state is not None and len(predictions) == 12
    # The stored estimate is what the calibrated probabilities of the unlabelled images give.
    names = list(state.class_names)
    proba = np.array([[p.probabilities[n] for n in names] for p in predictions])
    expected = estimate_accuracy(proba, names, from_model_state(state)._calibration.extra.get("estimate_sd", 0.0))
    assert expected is not None and expected.images == 12
    stored = state.settings["accuracy_estimate"]
    assert stored == expected.to_dict() and AccuracyEstimate.from_dict(stored) == expected

    info = _info(project, capsys)
    pool = {"images": state.settings["pool_used"]["images"], "method": state.settings["pool_used"]["method"]}
    assert info["model"] == {"version": 1, "accuracy_estimate": stored, "unlabelled_pool": pool} and info["model_version"] == 1
    assert main(["project", "info", str(project)]) == 0
    low, high = stored["ci95"]
    line = f"expected {stored['accuracy']:.0%} ({low * 100:.0f}-{high:.0%}) on new images, from 12 unlabelled images".replace("%", " %")
    assert line in capsys.readouterr().out

    assert main(["report", str(project), str(tmp_path / "unlabelled" / "red_0.png"), "--out", str(tmp_path / "r.html")]) == 0
    html = (tmp_path / "r.html").read_text()
    headline = f"Expected accuracy on new images: {stored['accuracy'] * 100:.0f}% (95% CI {low * 100:.0f}–{high * 100:.0f}%)"
    assert f"{headline}, estimated from 12 unlabelled images" in html


def test_info_without_unlabelled_images_says_how_to_get_an_estimate(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    project = _adapted(tmp_path, unlabelled_per_class=0)
    info = _info(project, capsys)
    assert info["model"] == {"version": 1, "accuracy_estimate": None, "unlabelled_pool": {"images": 0, "method": "none"}}
    assert main(["project", "info", str(project)]) == 0
    assert NO_ESTIMATE_ADVICE in capsys.readouterr().out
    labelled = tmp_path / "labelled" / "red_0.png"
    assert main(["report", str(project), str(labelled), "--out", str(tmp_path / "r.html")]) == 0
    html = (tmp_path / "r.html").read_text()
    assert "No estimate of accuracy on new images" in html and NO_ESTIMATE_ADVICE in html


def test_info_before_any_model_has_no_model(tmp_path: Path, images: Path, capsys: pytest.CaptureFixture[str]) -> None:
    project = tmp_path / "p.raresight"
    assert main(["project", "create", str(project)]) == 0
    assert _info(project, capsys)["model"] is None
    assert main(["project", "info", str(project)]) == 0
    assert "accuracy" not in capsys.readouterr().out


def test_add_with_another_class_refuses_to_relabel_without_relabel(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    project = tmp_path / "p.raresight"
    squares = make_pngs(tmp_path / "squares", 2, seed=1)
    copy = tmp_path / "copy_of_a_square.png"
    shutil.copyfile(squares[0], copy)
    main(["project", "create", str(project)])
    main(["project", "add", str(project), *map(str, squares), "--class", "square"])
    capsys.readouterr()
    assert main(["project", "add", str(project), str(copy), "--class", "circle"]) == 1
    out = capsys.readouterr().out
    assert f"KEPT  {copy.resolve()}: already in the project as 'square', not relabelled 'circle'; add --relabel" in out
    assert _info(project, capsys)["classes"] == {"square": 2, "circle": 0}
    assert main(["project", "add", str(project), str(copy), "--class", "circle", "--relabel"]) == 0
    out = capsys.readouterr().out
    assert f"RELABELLED  {copy.resolve()}: 'square' -> 'circle'" in out and "(1 relabelled)" in out
    assert _info(project, capsys)["classes"] == {"square": 1, "circle": 1}
    assert main(["project", "add", str(project), str(copy), "--relabel"]) == 2
    assert "--relabel needs --class" in capsys.readouterr().err


def test_add_from_an_empty_folder_says_why_and_hints_recursive(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    project = tmp_path / "p.raresight"
    main(["project", "create", str(project)])
    empty = tmp_path / "empty"
    empty.mkdir()
    capsys.readouterr()
    assert main(["project", "add", str(project), str(empty)]) == 2
    err = capsys.readouterr().err
    assert f"no files found in {empty}" in err and "nothing was added" in err and "--recursive" not in err
    make_pngs(empty / "by_day" / "monday", 2)
    assert main(["project", "add", str(project), str(empty)]) == 2
    assert f"{empty} has subfolders: add --recursive (-r) to look inside them" in capsys.readouterr().err
    assert main(["project", "add", str(project), str(empty), "-r"]) == 0


def test_a_missing_file_in_add_gives_no_project_relink_hint(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    project = tmp_path / "p.raresight"
    main(["project", "create", str(project)])
    capsys.readouterr()
    assert main(["project", "add", str(project), str(tmp_path / "typo.png")]) == 1
    out = capsys.readouterr().out
    assert "typo.png: file not found; check the path" in out and "relink" not in out


def test_verify_into_a_closed_pipe_ends_quietly(tmp_path: Path) -> None:
    """`verify --quick | head -1`: the reader goes away; no BrokenPipeError traceback, exit 141."""
    project = tmp_path / "p.raresight"
    with Project.create(project) as opened:
        opened.add_images(make_pngs(tmp_path / "gone", 40))
    shutil.rmtree(tmp_path / "gone")
    script = (
        "import sys\n"
        "from app.cli import main\n"
        "sys.argv[0] = 'raresight'\n"
        "for _ in range(2000):\n"  # far more than a pipe buffer of findings
        f"    code = main(['project', 'verify', '--quick', {str(project)!r}])\n"
        "    if code != 1: break\n"
        "sys.exit(code)\n"
    )
    reader = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert reader.stdout is not None and reader.stdout.readline().startswith("FAIL")
    reader.stdout.close()  # as head does after its lines
    _, err = reader.communicate(timeout=120)
    assert reader.returncode == 141, err
    assert "Traceback" not in err and "BrokenPipeError" not in err
