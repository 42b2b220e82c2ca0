"""Issue 18, point 2: ``raresight export PROJECT OUT_DIR --deidentify``.

Every DICOM file pydicom ships that loads as an image (copied under a fake patient's file name) is
labelled in one project with a PNG, and exported with --deidentify. For each input, every attribute
of the PS3.15 basic profile's table (:data:`core.privacy.ps315.BASIC_PROFILE`, all its rows) present
at any level of the input must be removed, emptied or replaced in its output: the counts (checked,
removed, emptied, replaced, left with the reason) are printed, and none may be left with its value.
Pixel data stay byte for byte (and decode the same), UIDs are replaced consistently (files of one
study keep one, new, Study Instance UID), labels.csv holds no identifier, burned-in annotation and
identifiable DICOM are refused unless asked for, and a PNG comes out as a PNG with the same pixels.
"""

from __future__ import annotations

import csv
import shutil
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pydicom.data
import pytest
from PIL import Image
from pydicom.uid import generate_uid

from app.cli import main
from core.imaging import load_image
from core.privacy import ps315
from core.privacy.export import ExportReport, export_project
from core.store import Project
from tests.cli.test_no_identifiers_written import FAKE_PATIENT, dicom_images, identifiers, read_dicom
from tests.cli.test_startup_imports import HEAVY, _loaded_after

CT = Path(pydicom.data.get_testdata_file("CT_small.dcm"))  # bundled with pydicom: never downloads
# pydicom's note on one of its deliberately odd test files, raised where the tests read it back
pytestmark = pytest.mark.filterwarnings("ignore:Invalid value for VR UI:UserWarning")


def _png(path: Path, seed: int = 0) -> Path:
    rng = np.random.default_rng(seed)
    Image.fromarray(rng.integers(0, 256, (24, 32, 3), dtype=np.uint8)).save(path)
    return path


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Project, ExportReport, dict[int, Path]]]:
    """All of pydicom's image files and one PNG, labelled, exported with --deidentify (through the core call)."""
    root = tmp_path_factory.mktemp("export")
    sources = root / "sources"
    sources.mkdir()
    for index, path in enumerate(dicom_images()):
        shutil.copy(path, sources / f"{FAKE_PATIENT}_{index:03d}{path.suffix or '.dcm'}")
    _png(sources / f"{FAKE_PATIENT}_photo.png")
    project = Project.create(root / "p.raresight")
    added = project.add_images([sources], class_name="rare")
    assert not added.failed
    report = export_project(project, root / "out", deidentify=True, keep_identifiers=False, allow_burned_in=False)
    paths = {record.id: Path(record.path) for record in project.images() if record.id is not None}
    yield project, report, paths
    project.close()


def test_every_profile_attribute_is_removed_or_replaced(exported: tuple[Project, ExportReport, dict[int, Path]]) -> None:
    _, report, paths = exported
    assert not report.skipped, report.skipped
    total = ps315.ProfileCheck()
    for name in report.files:
        if not name.endswith(".dcm"):
            continue
        before = read_dicom(paths[report.sources[name][0]])
        after = read_dicom(report.out_dir / name)
        result = ps315.check(before, after)
        assert result.left_identifying == [], f"{name}: {result.left_identifying}"
        total.add(result)
    print(f"\nde-identification check over {len(report.files) - 1} DICOM files: {total.summary()}")
    print(f"(the export's own pass after dicognito removed or emptied {report.enforced})")
    assert total.checked == report.check.checked > 500  # every file holds names, dates and UIDs of the table
    assert total.removed + total.emptied + total.replaced + sum(total.left.values()) == total.checked
    assert set(total.left) <= {ps315.EMPTY_INPUT}


def test_no_identifier_value_anywhere_in_the_headers(exported: tuple[Project, ExportReport, dict[int, Path]]) -> None:
    """Beyond the table: no person-identifying value of an input (names, IDs, birth date) in any text of its output."""
    _, report, paths = exported
    for name in (n for n in report.files if n.endswith(".dcm")):
        found = identifiers(read_dicom(paths[report.sources[name][0]]))
        after = read_dicom(report.out_dir / name)
        texts = [str(e.value) for e in ps315.with_meta(after).values() if e.VR not in ("OB", "OW", "OF", "OD", "OL", "UN", "SQ")]
        leaked = {value for value in found for text in texts if value in text}
        assert not leaked, f"{name}: {leaked}"


def test_pixels_are_unchanged(exported: tuple[Project, ExportReport, dict[int, Path]]) -> None:
    _, report, paths = exported
    for name in report.files:
        source = paths[report.sources[name][0]]
        out = report.out_dir / name
        if name.endswith(".dcm"):
            assert read_dicom(out).PixelData == read_dicom(source).PixelData, name
        assert np.array_equal(load_image(out).pixels, load_image(source).pixels), name


def test_uids_are_replaced_consistently(exported: tuple[Project, ExportReport, dict[int, Path]]) -> None:
    _, report, paths = exported
    studies: dict[str, set[str]] = defaultdict(set)
    for name in (n for n in report.files if n.endswith(".dcm")):
        before, after = read_dicom(paths[report.sources[name][0]]), read_dicom(report.out_dir / name)
        if "StudyInstanceUID" in before:
            studies[before.StudyInstanceUID].add(after.StudyInstanceUID)
            assert after.StudyInstanceUID != before.StudyInstanceUID
        assert after.SOPInstanceUID != before.SOPInstanceUID
        if before.file_meta.get("MediaStorageSOPInstanceUID") == before.SOPInstanceUID:
            assert after.file_meta.MediaStorageSOPInstanceUID == after.SOPInstanceUID
    shared = {uid: new for uid, new in studies.items() if len(new) == 1}
    assert len(shared) == len(studies)  # every input study has one study UID in the output ...
    assert len({next(iter(new)) for new in studies.values()}) == len(studies)  # ... of its own
    assert any(count > 1 for count in _files_per_study(report, paths).values())  # and some studies have several files


def _files_per_study(report: ExportReport, paths: dict[int, Path]) -> dict[str, int]:
    counts: dict[str, int] = defaultdict(int)
    for name in (n for n in report.files if n.endswith(".dcm")):
        counts[str(read_dicom(paths[report.sources[name][0]]).get("StudyInstanceUID"))] += 1
    return counts


def test_labels_csv_names_cases_and_holds_no_identifier(exported: tuple[Project, ExportReport, dict[int, Path]]) -> None:
    project, report, paths = exported
    text = (report.out_dir / "labels.csv").read_text(encoding="utf-8")
    rows = list(csv.DictReader(text.splitlines()))
    assert list(rows[0]) == ["file", "class", "frame"]
    assert len(rows) == len(project.labels()) == report.rows
    assert {row["file"] for row in rows} == set(report.files) == {p.name for p in report.out_dir.iterdir()} - {"labels.csv"}
    assert all(row["file"].startswith("case-") for row in rows)
    found = {FAKE_PATIENT, *FAKE_PATIENT.split("^")}
    for name in (n for n in report.files if n.endswith(".dcm")):
        found |= identifiers(read_dicom(paths[report.sources[name][0]]))
    assert not {value for value in found if value in text}
    assert not list(report.out_dir.parent.glob(".out.partial-*"))  # the staging folder was renamed


def test_png_comes_out_as_png_with_the_same_pixels(exported: tuple[Project, ExportReport, dict[int, Path]]) -> None:
    _, report, paths = exported
    pngs = [n for n in report.files if n.endswith(".png")]
    assert len(pngs) == 1
    source = paths[report.sources[pngs[0]][0]]
    with Image.open(report.out_dir / pngs[0]) as out, Image.open(source) as original:
        assert out.format == "PNG"
        assert np.array_equal(np.asarray(out), np.asarray(original.convert("RGB")))


# -- the command line: exit codes, messages, refusals ----------------------------------------------


def _project(tmp_path: Path, *files: Path) -> Path:
    project = tmp_path / "p.raresight"
    main(["project", "create", str(project)])
    main(["project", "add", str(project), *map(str, files), "--class", "rare"])
    return project


def _burned_in(folder: Path) -> Path:
    dataset = read_dicom(CT)
    dataset.BurnedInAnnotation = "YES"
    dataset.SOPInstanceUID = generate_uid()
    path = folder / f"{FAKE_PATIENT}_burned.dcm"
    dataset.save_as(path, enforce_file_format=False)
    return path


def test_cli_exports_and_prints_the_check(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ct = shutil.copy(CT, tmp_path / f"{FAKE_PATIENT}.dcm")
    project = _project(tmp_path, Path(ct), _png(tmp_path / "photo.png"))
    capsys.readouterr()
    assert main(["export", str(project), str(tmp_path / "out"), "--deidentify"]) == 0
    out = capsys.readouterr().out
    print(out)
    assert "2 file(s), 2 label row(s); 0 skipped" in out
    line = next(li for li in out.splitlines() if li.startswith("de-identification check"))
    assert "attributes checked" in line and "removed" in line and "replaced" in line and "left" in line
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["case-0001.dcm", "case-0002.png", "labels.csv"]
    with Project.open(project, readonly=True) as opened:
        assert opened.audit_log("export")[-1].details["deidentified"] is True


def test_burned_in_annotation_is_refused_unless_allowed(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    burned = _burned_in(tmp_path)
    project = _project(tmp_path, burned, _png(tmp_path / "photo.png"))
    capsys.readouterr()
    assert main(["export", str(project), str(tmp_path / "out"), "--deidentify"]) == 1
    captured = capsys.readouterr()
    assert "Burned In Annotation is YES" in captured.err and "--allow-burned-in" in captured.err and burned.name in captured.err
    assert "1 skipped" in captured.out
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["case-0001.png", "labels.csv"]
    assert main(["export", str(project), str(tmp_path / "out2"), "--deidentify", "--allow-burned-in"]) == 0
    assert read_dicom(tmp_path / "out2" / "case-0001.dcm").BurnedInAnnotation == "YES"


def test_dicom_without_deidentify_is_refused_unless_keep_identifiers(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ct = Path(shutil.copy(CT, tmp_path / f"{FAKE_PATIENT}.dcm"))
    project = _project(tmp_path, ct)
    capsys.readouterr()
    assert main(["export", str(project), str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert "--deidentify" in err and "--keep-identifiers" in err and ct.name in err
    assert not (tmp_path / "out").exists() and not list(tmp_path.glob(".out.partial-*"))
    assert main(["export", str(project), str(tmp_path / "out"), "--keep-identifiers"]) == 0
    assert "hold patient identifiers" in capsys.readouterr().out
    assert (tmp_path / "out" / "case-0001.dcm").read_bytes() == ct.read_bytes()


def test_a_png_only_project_needs_no_flag(tmp_path: Path) -> None:
    project = _project(tmp_path, _png(tmp_path / "photo.png"))
    assert main(["export", str(project), str(tmp_path / "out")]) == 0
    assert (tmp_path / "out" / "case-0001.png").is_file()


def test_a_folder_with_files_is_refused_and_untouched(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    project = _project(tmp_path, _png(tmp_path / "photo.png"))
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "notes.txt").write_text("mine")
    capsys.readouterr()
    assert main(["export", str(project), str(tmp_path / "out"), "--deidentify"]) == 2
    assert "not an empty folder" in capsys.readouterr().err
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["notes.txt"]
    (tmp_path / "empty").mkdir()
    assert main(["export", str(project), str(tmp_path / "empty"), "--deidentify"]) == 0


def test_the_embedded_copy_is_used_when_the_file_is_gone(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ct = Path(shutil.copy(CT, tmp_path / f"{FAKE_PATIENT}.dcm"))
    project = tmp_path / "p.raresight"
    main(["project", "create", str(project)])
    main(["project", "add", str(project), str(ct), "--class", "rare", "--embed"])
    pixels = read_dicom(ct).PixelData
    ct.unlink()
    capsys.readouterr()
    assert main(["export", str(project), str(tmp_path / "out"), "--deidentify"]) == 0
    assert read_dicom(tmp_path / "out" / "case-0001.dcm").PixelData == pixels


def test_a_missing_file_without_a_copy_is_skipped_with_what_to_do(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    gone = _png(tmp_path / "gone.png", seed=2)
    project = _project(tmp_path, gone, _png(tmp_path / "kept.png"))
    gone.unlink()
    capsys.readouterr()
    assert main(["export", str(project), str(tmp_path / "out"), "--deidentify"]) == 1
    captured = capsys.readouterr()
    assert "gone.png" in captured.err and "relink" in captured.err
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["case-0001.png", "labels.csv"]


def test_nothing_is_left_when_the_export_fails_midway(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    project = _project(tmp_path, _png(tmp_path / "a.png"), _png(tmp_path / "b.png", seed=1))
    import core.privacy.export as export

    def broken(*_: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(export, "_write_labels", broken)
    with Project.open(project) as opened, pytest.raises(OSError, match="disk full"):
        export_project(opened, tmp_path / "out", deidentify=True, keep_identifiers=False, allow_burned_in=False)
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith((".out", "out"))) == []


def test_export_loads_no_model_stack(tmp_path: Path) -> None:
    project = _project(tmp_path, Path(shutil.copy(CT, tmp_path / "ct.dcm")), _png(tmp_path / "photo.png"))
    code, loaded = _loaded_after(["export", str(project), str(tmp_path / "out"), "--deidentify"], tmp_path, HEAVY)
    assert code == 0
    assert loaded == []


def test_two_exports_cannot_be_linked_by_their_uids(tmp_path: Path) -> None:
    """Each export has its own UID map and date shift: two collaborators' sets share no replaced UID."""
    ct = shutil.copy(CT, tmp_path / f"{FAKE_PATIENT}.dcm")
    project = _project(tmp_path, Path(ct))
    assert main(["export", str(project), str(tmp_path / "a"), "--deidentify"]) == 0
    assert main(["export", str(project), str(tmp_path / "b"), "--deidentify"]) == 0
    a, b = (read_dicom(tmp_path / name / "case-0001.dcm") for name in ("a", "b"))
    original = read_dicom(CT)
    assert len({original.StudyInstanceUID, a.StudyInstanceUID, b.StudyInstanceUID}) == 3
    assert a.SOPInstanceUID != b.SOPInstanceUID
