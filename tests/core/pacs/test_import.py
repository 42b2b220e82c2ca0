"""Issue 18, points 1 and 3: WADO-RS import into a project from a real Orthanc.

A series of several instances, a multi-frame instance, compressed ones (JPEG baseline, JPEG 2000,
RLE), an instance that does not decode, duplicates skipped, a series subset, a class, a cancel; and
afterwards no identifier of the test files in the project file, the log or the UIDs stored.
"""

from __future__ import annotations

import logging
import sqlite3
import tempfile
from pathlib import Path

import numpy as np
import pydicom
import pytest

from core.pacs import PacsCancelled, PacsServer, import_from_pacs
from core.store import Project
from core.store.pacs_instances import sha256_text
from tests.core.pacs.helpers import IDENTIFIERS, Study, make_study, project_bytes
from tests.orthanc import OrthancServer, orthanc  # noqa: F401  (pytest fixture)

JPEG_BASELINE = "1.2.840.10008.1.2.4.50"
JPEG_2000 = ("1.2.840.10008.1.2.4.90", "1.2.840.10008.1.2.4.91")
RLE = "1.2.840.10008.1.2.5"


@pytest.fixture(scope="module")
def studies(orthanc: OrthancServer, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Study]:  # noqa: F811
    folder = tmp_path_factory.mktemp("studies")
    made = {
        "ct": make_study(folder, [["CT_small.dcm"] * 5], date="20210304", description="CT series", accession="ACC-1"),
        "multiframe": make_study(folder, [["SC_rgb_rle_2frame.dcm"]], date="20220101", description="two frames", accession="ACC-2"),
        "compressed": make_study(
            folder,
            [["SC_rgb_jpeg_dcmtk.dcm"], ["JPEG2000.dcm"], ["MR_small_RLE.dcm"]],
            date="20230505",
            description="compressed",
            accession="ACC-3",
        ),
        "broken": make_study(folder, [["MR_small.dcm"] * 3], date="20240101", description="one bad", accession="ACC-4", truncate=[(0, 2)]),
        "subset": make_study(
            folder, [["CT_small.dcm"], ["MR_small.dcm"] * 2], date="20240202", description="two series", accession="ACC-5"
        ),
    }
    for study in made.values():
        orthanc.upload(study.files)
    return made


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Project:
    with Project.create(tmp_path_factory.mktemp("project") / "p.raresight") as made:
        return made


def _opened(project: Project) -> Project:
    return Project.open(project.path)


def test_a_series_of_several_instances(orthanc: OrthancServer, studies: dict[str, Study], project: Project) -> None:  # noqa: F811
    calls: list[tuple[int, int]] = []
    with _opened(project) as p:
        report = import_from_pacs(p, PacsServer(orthanc.url), studies["ct"].uid, progress=lambda done, total: calls.append((done, total)))
        images = p.images()
        with sqlite3.connect(p.path) as conn:
            rows = conn.execute("SELECT server_sha256, instance_sha256 FROM pacs_instances").fetchall()
    assert (report.imported, report.duplicates, report.failed, report.server) == (5, 0, [], orthanc.url)
    assert calls == [(i, 5) for i in range(1, 6)]
    assert [(r.modality, r.format, r.n_frames, r.path) for r in images] == [
        ("CT", "DICOM", 1, f"PACS/study-{sha256_text(studies['ct'].uid)[:8]}/series-1-instance-{i}.dcm") for i in range(1, 6)
    ]  # a name without UIDs that still tells studies, series and instances apart
    assert sorted(rows) == sorted((sha256_text(orthanc.url), sha256_text(uid)) for uid in studies["ct"].sop_uids)


def test_a_second_import_skips_the_duplicates(orthanc: OrthancServer, studies: dict[str, Study], project: Project) -> None:  # noqa: F811
    with _opened(project) as p:
        import_from_pacs(p, PacsServer(orthanc.url), studies["ct"].uid)
        before = (len(p.images()), p.info().audit_entries)
        fetched: list[int] = []
        report = import_from_pacs(p, PacsServer(orthanc.url), studies["ct"].uid, progress=lambda done, total: fetched.append(done))
        assert (report.imported, report.duplicates, report.failed) == (0, 5, [])
        assert fetched == []  # known instances are not even fetched
        assert (len(p.images()), p.info().audit_entries) == before


def test_a_multiframe_instance(orthanc: OrthancServer, studies: dict[str, Study], project: Project) -> None:  # noqa: F811
    with _opened(project) as p:
        report = import_from_pacs(p, PacsServer(orthanc.url), studies["multiframe"].uid)
        (image,) = p.images()[-report.imported :]
        copy = pydicom.dcmread(_bytes_file(p.image_bytes(image.id or 0)))
    assert report.imported == 1 and image.n_frames == 2
    assert copy.NumberOfFrames == 2 and copy.file_meta.TransferSyntaxUID == RLE
    assert np.array_equal(copy.pixel_array, pydicom.dcmread(studies["multiframe"].sources[0]).pixel_array)


def test_compressed_instances_arrive_as_stored_and_decode_the_same(
    orthanc: OrthancServer,  # noqa: F811
    studies: dict[str, Study],
    project: Project,
) -> None:
    study = studies["compressed"]
    with _opened(project) as p:
        report = import_from_pacs(p, PacsServer(orthanc.url), study.uid)
        added = p.images()[-report.imported :]
        copies = [pydicom.dcmread(_bytes_file(p.image_bytes(image.id or 0))) for image in added]
    assert (report.imported, report.failed) == (3, [])
    syntaxes = [str(c.file_meta.TransferSyntaxUID) for c in copies]
    assert syntaxes[0] == JPEG_BASELINE and syntaxes[1] in JPEG_2000 and syntaxes[2] == RLE
    for copy, original in zip(copies, study.sources, strict=True):
        assert np.array_equal(copy.pixel_array, pydicom.dcmread(original).pixel_array)
        assert str(copy.PatientName) not in IDENTIFIERS and copy.get("PatientBirthDate", "") == ""  # de-identified copies


def test_an_instance_that_does_not_decode_is_listed_by_number(
    orthanc: OrthancServer,  # noqa: F811
    studies: dict[str, Study],
    project: Project,
) -> None:
    study = studies["broken"]
    with _opened(project) as p:
        report = import_from_pacs(p, PacsServer(orthanc.url), study.uid)
    assert report.imported == 2 and len(report.failed) == 1
    assert report.failed[0].startswith("instance 3 of series 1: ")
    assert not any(uid in report.failed[0] for uid in [study.uid, *study.series, *study.sop_uids])


def test_chosen_series_with_a_class(orthanc: OrthancServer, studies: dict[str, Study], project: Project) -> None:  # noqa: F811
    study = studies["subset"]
    with _opened(project) as p:
        report = import_from_pacs(p, PacsServer(orthanc.url), study.uid, [study.series[1]], class_name="sarcoidosis")
        added = p.images()[-report.imported :]
        labels = p.labels()
    assert report.imported == 2 and {r.modality for r in added} == {"MR"}
    assert [labels.get(r.id or 0) for r in added] == ["sarcoidosis", "sarcoidosis"]


def test_a_class_given_later_labels_the_images_imported_before(
    orthanc: OrthancServer,  # noqa: F811
    studies: dict[str, Study],
    project: Project,
) -> None:
    uid = studies["multiframe"].uid
    with _opened(project) as p:
        import_from_pacs(p, PacsServer(orthanc.url), uid)
        image_id = next(r.id for r in p.images() if r.n_frames == 2)  # the study's one (two-frame) image
        first = import_from_pacs(p, PacsServer(orthanc.url), uid, class_name="b")
        second = import_from_pacs(p, PacsServer(orthanc.url), uid, class_name="c")  # another class: the label stays
        assert (first.imported, first.duplicates, second.duplicates) == (0, 1, 1)
        assert p.labels().get(image_id or 0) == "b"


def test_a_cancel_adds_nothing_and_leaves_no_temporary_folder(
    orthanc: OrthancServer,  # noqa: F811
    studies: dict[str, Study],
    project: Project,
) -> None:
    study = studies["subset"]
    before_tmp = set(Path(tempfile.gettempdir()).glob("raresight-pacs-*"))
    with _opened(project) as p:
        before = (len(p.images()), p.info().audit_entries)
        fetched: list[int] = []
        with pytest.raises(PacsCancelled, match=f"{orthanc.url}: import cancelled; nothing was added"):
            import_from_pacs(
                p,
                PacsServer(orthanc.url),
                study.uid,
                [study.series[0]],
                progress=lambda d, t: fetched.append(d),
                is_cancelled=lambda: bool(fetched),
            )
        assert fetched == [1]
        assert (len(p.images()), p.info().audit_entries) == before
    assert set(Path(tempfile.gettempdir()).glob("raresight-pacs-*")) == before_tmp


def test_no_identifier_reaches_the_project_or_the_log(
    orthanc: OrthancServer,  # noqa: F811
    studies: dict[str, Study],
    project: Project,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO)
    with _opened(project) as p:
        for study in studies.values():
            import_from_pacs(p, PacsServer(orthanc.url), study.uid)
        assert p.verify() == []
    data = project_bytes(project.path)
    uids = [uid for study in studies.values() for uid in (study.uid, *study.series, *study.sop_uids)]
    for value in [*IDENTIFIERS, *uids]:
        assert value.encode() not in data, value
        assert value not in caplog.text, value
    assert "PACS import:" in caplog.text  # the log was captured


def _bytes_file(data: bytes) -> object:
    import io

    return io.BytesIO(data)
