"""``raresight scan``: every file gets a verdict, a summary line, exit 0/1, JSON."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from app.cli import main
from tests.core.imaging.conftest import PYDICOM_FILES, bundled

RARESIGHT = Path(sys.executable).parent / "raresight"


def make_folder(root: Path, broken: bool) -> Path:
    (root / "sub").mkdir(parents=True)
    (root / "ct.dcm").write_bytes(bundled("CT_small.dcm").read_bytes())
    Image.fromarray(np.zeros((8, 8), np.uint8)).save(root / "sub" / "plain.png")
    if broken:
        (root / "sub" / "broken.dcm").write_bytes(bundled("CT_small.dcm").read_bytes()[:500])
    return root


def test_all_readable_exits_0_and_json_has_fields(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = make_folder(tmp_path / "in", broken=False)
    out = tmp_path / "scan.json"
    assert main(["scan", "--recursive", str(folder), "--json", str(out)]) == 0
    rows = json.loads(out.read_text())
    assert {Path(r["path"]).name for r in rows} == {"ct.dcm", "plain.png"}
    ct = next(r for r in rows if r["path"].endswith("ct.dcm"))
    assert ct["ok"] is True and ct["error"] is None and ct["modality"] == "CT" and (ct["width"], ct["height"]) == (128, 128)
    assert "2 file(s): 2 readable, 0 not readable" in capsys.readouterr().out


def test_unreadable_file_exits_1_with_one_line_reason(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = make_folder(tmp_path / "in", broken=True)
    out = tmp_path / "scan.json"
    assert main(["scan", "-r", str(folder), "--json", str(out)]) == 1
    text = capsys.readouterr().out
    fail_lines = [line for line in text.splitlines() if line.startswith("FAIL")]
    assert len(fail_lines) == 1 and "broken.dcm" in fail_lines[0]
    broken = next(r for r in json.loads(out.read_text()) if r["path"].endswith("broken.dcm"))
    assert broken["ok"] is False and "broken.dcm" in broken["error"]


def test_without_recursive_only_top_level(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = make_folder(tmp_path / "in", broken=True)
    assert main(["scan", str(folder)]) == 0
    assert "1 file(s): 1 readable" in capsys.readouterr().out


def test_missing_path_is_reported_not_raised(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["scan", str(tmp_path / "missing.dcm")]) == 1
    assert "not found" in capsys.readouterr().out


def test_pydicom_corpus_real_command_no_traceback(tmp_path: Path) -> None:
    """The installed command over every file that ships inside pydicom."""
    out = tmp_path / "scan.json"
    run = subprocess.run(
        [str(RARESIGHT), "scan", "-q", "-r", str(PYDICOM_FILES), "--json", str(out)], capture_output=True, text=True, timeout=300
    )
    assert run.returncode == 1, run.stderr  # the corpus holds non-image files on purpose
    assert "Traceback" not in run.stdout + run.stderr
    rows = json.loads(out.read_text())
    assert all(r["ok"] or (r["error"] and "\n" not in r["error"]) for r in rows)
    assert sum(r["ok"] for r in rows) >= 85


def test_shared_dicom_corpus_reads_everything_pydicom_can_decode(shared_data: Path, tmp_path: Path) -> None:
    """Every file that pydicom with the pylibjpeg plugins can decode is read by scan."""
    import warnings

    import pydicom
    from pydicom.pixels import pixel_array

    out = tmp_path / "scan.json"
    assert main(["scan", "-q", "-r", str(shared_data / "dicom"), "--json", str(out)]) == 1
    verdicts = {r["path"]: r for r in json.loads(out.read_text())}
    for path, row in verdicts.items():
        if row["ok"]:
            continue
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                ds = pydicom.dcmread(path, force=True)
                pixel_array(ds, index=0)
            except Exception:  # noqa: BLE001 - pydicom cannot decode it either: a reason is enough
                continue
        pytest.fail(f"pydicom decodes {path} but scan said: {row['error']}")


def test_cli_imports_no_qt() -> None:
    code = "import sys, app.cli; app.cli.build_parser(); print('PySide6' in sys.modules)"
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=Path(__file__).parents[2])
    assert run.stdout.strip() == "False", run.stderr


def test_version() -> None:
    run = subprocess.run([str(RARESIGHT), "--version"], capture_output=True, text=True, timeout=60)
    assert run.returncode == 0 and run.stdout.startswith("raresight ")


def test_no_files_found_exits_2_and_hints_recursive_when_there_are_subfolders(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = tmp_path / "archive"
    (folder / ".thumbnails").mkdir(parents=True)  # hidden: not a reason to suggest --recursive
    assert main(["scan", str(folder)]) == 2
    err = capsys.readouterr().err
    assert f"no files found in {folder} (hidden files are skipped)" in err and "--recursive" not in err
    make_folder(folder / "day1", broken=False)
    (folder / "day1" / "ct.dcm").unlink()
    assert main(["scan", str(folder)]) == 2
    assert f"{folder} has subfolders: add --recursive (-r) to look inside them" in capsys.readouterr().err
    assert main(["scan", "-r", str(folder)]) == 0


def test_a_missing_file_gives_no_project_relink_hint(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["scan", str(tmp_path / "missing.dcm")]) == 1
    out = capsys.readouterr().out
    assert "missing.dcm: file not found; check the path" in out and "relink" not in out


def test_help_shows_defaults_and_exit_codes(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["scan", "--help"])
    out = " ".join(capsys.readouterr().out.split())  # argparse wraps lines to the terminal width
    assert "default: only the files directly in each folder" in out and "2 no file was found" in out
