"""Images the project holds only as stored copies (a PACS import, ``project add --embed`` of files
since moved): the viewer shows them, and the predictions export and case report include them."""

from __future__ import annotations

import csv
import dataclasses
import shutil
from pathlib import Path

import numpy as np
import pytest
from pydicom import dcmread
from pydicom.data import get_testdata_file
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest
from pytestqt.qtbot import QtBot

from app.gui import model_services
from app.gui.main_window import MainWindow
from app.gui.project_services import export_predictions, export_report
from core.imaging import load_image
from core.store import ImageRecord, Project
from core.store.images import read_record
from tests.app.clinic import CLASSES, make_folder
from tests.app.conftest import ImageFolder, shown_window
from tests.app.helpers import TIMEOUT_MS, message_boxes
from tests.core.embedding.tiny import COLOURS, make_image, register_tiny

pytestmark = pytest.mark.gui

#: DICOM attributes that identify the patient or the study (their values must never be shown).
IDENTIFYING = (
    "PatientName",
    "PatientID",
    "PatientBirthDate",
    "OtherPatientIDs",
    "InstitutionName",
    "ReferringPhysicianName",
    "AccessionNumber",
    "StudyID",
    "StudyInstanceUID",
    "SeriesInstanceUID",
    "SOPInstanceUID",
)


def identifiers(path: Path) -> set[str]:
    """The identifying values of a DICOM file, and each part of its patient name (4 characters or more)."""
    dataset = dcmread(path)
    values = {str(dataset.get(keyword, "") or "") for keyword in IDENTIFYING}
    values |= {part for value in list(values) for part in value.split("^")}
    return {value for value in values if len(value) >= 4}


def record_named(project: Project, name: str) -> ImageRecord:
    return next(r for r in project.images() if Path(r.path).name == name)


def open_project(qtbot: QtBot, window: MainWindow, path: Path, images: int) -> None:
    assert window.project_model.open_project(path)
    grid = window.library.grid.model()
    qtbot.waitUntil(lambda: window.project_model.task == "" and grid.rowCount() == images, timeout=TIMEOUT_MS)


def click_image(qtbot: QtBot, window: MainWindow, record: ImageRecord) -> None:
    """Click the image's thumbnail, as a clinician does, and wait until the viewer has read it."""
    grid = window.library.grid
    index = window.library.index_of_id(int(record.id or 0))
    assert index.isValid(), f"{record.path} is not in the grid"
    grid.scrollTo(index)
    QTest.mouseClick(grid.viewport(), Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, grid.visualRect(index).center())
    viewer = window.viewer_model
    qtbot.waitUntil(
        lambda: (viewer.image is not None and viewer.image.path == record.path and not viewer.loading) or bool(message_boxes()),
        timeout=TIMEOUT_MS,
    )


@pytest.fixture
def embedded_project(tmp_path: Path, image_folder: ImageFolder) -> Path:
    """CT and a multi-frame RT dose added with embed=True, MR by path only; then all three files deleted."""
    path = tmp_path / "portable.raresight"
    with Project.create(path) as project:
        report = project.add_images([image_folder.ct, image_folder.multi], embed=True)
        assert len(report.added) == 2 and not report.failed
        assert len(project.add_images([image_folder.mr]).added) == 1
    for gone in (image_folder.ct, image_folder.multi, image_folder.mr):
        gone.unlink()
    return path


def test_an_image_whose_file_is_gone_is_shown_from_the_projects_copy(
    qtbot: QtBot, window: MainWindow, embedded_project: Path, image_folder: ImageFolder
) -> None:
    open_project(qtbot, window, embedded_project, 3)
    with Project.open(embedded_project, readonly=True) as project:
        ct, dose = record_named(project, "CT_small.dcm"), record_named(project, "rtdose.dcm")
    assert not Path(ct.path).exists()

    click_image(qtbot, window, ct)

    assert not message_boxes(), message_boxes()[0].text() if message_boxes() else ""
    original = Path(str(get_testdata_file("CT_small.dcm")))
    image = window.viewer_model.image
    assert image is not None
    assert np.array_equal(image.pixels, load_image(original).pixels)  # the copy is de-identified, its pixels unchanged
    shown = window.viewer.canvas.shown_pixels()
    assert shown is not None and shown.shape == (image.height, image.width)
    assert window.viewer.title.text().startswith("CT_small.dcm · CT 128 × 128")
    panel = window.metadata.values()
    assert panel["Modality"] == "CT" and "Study UID (hashed)" in panel
    on_screen = " | ".join([*panel.values(), window.viewer.title.text(), window.statusBar().currentMessage()])
    for value in identifiers(original):  # what the original file says about the patient is not on screen
        assert value not in on_screen, value

    click_image(qtbot, window, dose)  # a multi-frame copy: another frame is read from the copy too
    image = window.viewer_model.image
    assert image is not None and image.n_frames > 1 and window.viewer.frame_slider.isVisible()
    window.viewer.frame_slider.setValue(0)
    qtbot.waitUntil(lambda: window.viewer_model.image is not None and window.viewer_model.image.frame == 0, timeout=TIMEOUT_MS)
    first = window.viewer_model.image
    assert first is not None and first.path == dose.path and not np.array_equal(first.pixels, image.pixels)
    assert window.viewer.frame_label.text() == f"Frame 1 / {image.n_frames}"
    assert not message_boxes()


def test_an_image_with_neither_its_file_nor_a_copy_says_which_file_is_missing(
    qtbot: QtBot, window: MainWindow, embedded_project: Path
) -> None:
    open_project(qtbot, window, embedded_project, 3)
    with Project.open(embedded_project, readonly=True) as project:
        mr = record_named(project, "MR_small.dcm")

    click_image(qtbot, window, mr)

    qtbot.waitUntil(lambda: bool(message_boxes()), timeout=TIMEOUT_MS)
    box = message_boxes()[0]
    assert "MR_small.dcm" in box.text(), box.text()
    assert window.viewer_model.image is None
    box.reject()


def test_closing_the_project_clears_the_viewer_and_browsing_still_reads_files(
    qtbot: QtBot, window: MainWindow, embedded_project: Path, image_folder: ImageFolder
) -> None:
    open_project(qtbot, window, embedded_project, 3)
    with Project.open(embedded_project, readonly=True) as project:
        ct = record_named(project, "CT_small.dcm")
    click_image(qtbot, window, ct)
    window.project_model.close_project()
    assert window.viewer_model.image is None and window.viewer.canvas.shown_pixels() is None

    window.viewer_model.open(ct.path)  # no project now: an absent file is just absent
    qtbot.waitUntil(lambda: bool(message_boxes()), timeout=TIMEOUT_MS)
    assert "CT_small.dcm" in message_boxes()[0].text()
    message_boxes()[0].reject()
    window.viewer_model.open(str(image_folder.png))
    qtbot.waitUntil(lambda: window.viewer_model.image is not None and not window.viewer_model.loading, timeout=TIMEOUT_MS)


# -- predictions export and case report -------------------------------------------------------------

PACS_NAME = "PACS/series-1/instance-1.png"  # the kind of name a PACS import gives: no file behind it


@pytest.fixture
def adapted_project(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    """Three labelled colours by path, unlabelled images of each colour embedded and then deleted, and
    one added as a PACS import adds its instances (a stored copy under a name that is no file).

    Returns the project and {the project's name for each copy-only image: its colour}.
    """
    make_folder(tmp_path / "cases", per_class=4)
    (tmp_path / "moved").mkdir()
    gone = [make_image(tmp_path / "moved" / f"{colour}_moved.png", COLOURS[colour], seed=900 + n) for n, colour in enumerate(CLASSES)]
    pacs = make_image(tmp_path / "instance.png", COLOURS["green"], seed=990)
    path = tmp_path / "mixed.raresight"
    with Project.create(path) as project:
        project.add_images([tmp_path / "cases"])
        project.add_images([tmp_path / "moved"], embed=True)
        record, data = read_record(pacs, embed=True)
        assert data is not None
        project.add_records([dataclasses.replace(record, path=PACS_NAME, imported_path=PACS_NAME)], embedded={record.content_hash: data})
        for colour in CLASSES:
            project.add_class(colour, "", "#000000")
            found, _ = project.find_images(sorted((tmp_path / "cases").glob(f"{colour}_0[0-2].png")))
            project.label([i for ids in found.values() for i in ids], colour)
        model_services.adapt(project, register_tiny(), budget_s=0.5, use_unlabelled=False)
        copies = {r.path: Path(r.path).name.split("_")[0] for r in project.images() if "moved" in r.path}
    shutil.rmtree(tmp_path / "moved")
    pacs.unlink()
    assert len(copies) == len(gone) == 3
    return path, {**copies, PACS_NAME: "green"}


def test_predictions_export_includes_images_held_only_as_copies(tmp_path: Path, adapted_project: tuple[Path, dict[str, str]]) -> None:
    path, copies = adapted_project
    out = tmp_path / "predictions.csv"

    with Project.open(path) as project:
        rows_written = export_predictions(project, out)
        names = {r.path for r in project.images()}

    with out.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert rows_written == len(rows) == len(names) == 12 + len(copies)
    assert {row["path"] for row in rows} == names  # every image once, under the project's name for it
    by_path = {row["path"]: row for row in rows}
    for name, colour in copies.items():  # scored from the copy: the most probable class is its colour
        probabilities = {c: float(by_path[name][f"p_{c}"]) for c in CLASSES}
        assert max(probabilities, key=probabilities.__getitem__) == colour, (name, probabilities)
    assert not any("raresight-copies-" in row["path"] for row in rows)  # never the temporary copy's path


def test_case_report_of_an_image_held_only_as_a_copy(tmp_path: Path, adapted_project: tuple[Path, dict[str, str]]) -> None:
    path, copies = adapted_project
    out = tmp_path / "report.html"

    with Project.open(path) as project:
        cases = export_report(project, list(copies), out)

    assert cases == len(copies)
    html = out.read_text(encoding="utf-8")
    assert "Case 1" in html and "raresight-copies-" not in html and "PACS/series-1" not in html


def test_the_prediction_of_an_image_held_only_as_a_copy_is_shown_without_an_error(
    qtbot: QtBot, adapted_project: tuple[Path, dict[str, str]]
) -> None:
    path, copies = adapted_project
    window = shown_window(qtbot, MainWindow(backbone=register_tiny(), budget_s=0.5))
    open_project(qtbot, window, path, 12 + len(copies))
    with Project.open(path, readonly=True) as project:
        record = next(r for r in project.images() if r.path == PACS_NAME)

    click_image(qtbot, window, record)  # the viewer, and the prediction panel beside it
    prediction = window.prediction_model
    qtbot.waitUntil(lambda: prediction.explanation is not None and not prediction.loading, timeout=TIMEOUT_MS)

    assert not message_boxes(), message_boxes()[0].text() if message_boxes() else ""
    explanation = prediction.explanation
    assert explanation is not None and explanation.path == PACS_NAME
    assert max(explanation.probabilities, key=explanation.probabilities.__getitem__) == "green"
    assert window.viewer_model.image is not None and window.viewer_model.image.path == PACS_NAME
