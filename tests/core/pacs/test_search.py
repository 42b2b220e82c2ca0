"""Issue 18, points 1 and 3: QIDO-RS searches against a real Orthanc loaded with pydicom's test files."""

from __future__ import annotations

import datetime

import pytest

from core.pacs import PacsServer, StudyQuery, search_series, search_studies
from core.pacs.search import study_filters
from tests.core.pacs.helpers import PATIENT_NAME, Study, make_study
from tests.orthanc import OrthancServer, orthanc  # noqa: F401  (pytest fixture)


@pytest.fixture(scope="module")
def studies(orthanc: OrthancServer, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Study]:  # noqa: F811
    folder = tmp_path_factory.mktemp("studies")
    made = {
        "chest": make_study(folder, [["CT_small.dcm"] * 3], date="20210304", description="Chest CT rare", accession="ACC-A1"),
        "brain": make_study(folder, [["MR_small.dcm"]], date="20220701", description="Brain MR", accession="ACC-B2"),
        "mixed": make_study(
            folder,
            [["SC_rgb_jpeg_dcmtk.dcm"], ["MR_small_RLE.dcm", "MR_small_RLE.dcm"]],
            date="20230505",
            description="Compressed mix",
            accession="ACC-C3",
        ),
    }
    for study in made.values():
        orthanc.upload(study.files)
    return made


def _found(server: str, **query: object) -> set[str]:
    return {hit.study_uid for hit in search_studies(PacsServer(server), StudyQuery(**query))}  # type: ignore[arg-type]


def test_every_study_is_listed_with_its_counts(orthanc: OrthancServer, studies: dict[str, Study]) -> None:  # noqa: F811
    hits = {hit.study_uid: hit for hit in search_studies(PacsServer(orthanc.url), StudyQuery())}
    assert set(hits) == {s.uid for s in studies.values()}
    chest = hits[studies["chest"].uid]
    assert (chest.date, chest.modalities, chest.description, chest.accession) == (
        datetime.date(2021, 3, 4),
        ("CT",),
        "Chest CT rare",
        "ACC-A1",
    )
    assert (chest.series, chest.instances) == (1, 3)
    mixed = hits[studies["mixed"].uid]
    assert set(mixed.modalities) == {"OT", "MR"} and (mixed.series, mixed.instances) == (2, 3)
    assert chest.patient_name == PATIENT_NAME.replace("^", " ")  # for the dialog's screen only
    assert PATIENT_NAME.split("^")[0] not in repr(chest)  # never in a repr that could reach a log


def test_date_range(orthanc: OrthancServer, studies: dict[str, Study]) -> None:  # noqa: F811
    url = orthanc.url
    assert _found(url, date_from=datetime.date(2021, 1, 1), date_to=datetime.date(2021, 12, 31)) == {studies["chest"].uid}
    assert _found(url, date_from=datetime.date(2022, 1, 1)) == {studies["brain"].uid, studies["mixed"].uid}
    assert _found(url, date_to=datetime.date(2022, 7, 1)) == {studies["chest"].uid, studies["brain"].uid}
    assert _found(url, date_from=datetime.date(2022, 7, 1), date_to=datetime.date(2022, 7, 1)) == {studies["brain"].uid}
    assert _found(url, date_from=datetime.date(2024, 1, 1)) == set()


def test_modality_description_accession(orthanc: OrthancServer, studies: dict[str, Study]) -> None:  # noqa: F811
    url = orthanc.url
    assert _found(url, modality="CT") == {studies["chest"].uid}
    assert _found(url, modality="mr") == {studies["brain"].uid, studies["mixed"].uid}  # any series of the study
    assert _found(url, description="rare") == {studies["chest"].uid}
    assert _found(url, description="CT rare") == {studies["chest"].uid}  # a space in the text
    assert _found(url, description="Brain*") == {studies["brain"].uid}
    assert _found(url, accession="ACC-C3") == {studies["mixed"].uid}
    assert _found(url, accession="ACC-none") == set()
    assert _found(url, modality="MR", date_to=datetime.date(2022, 12, 31)) == {studies["brain"].uid}


def test_limit(orthanc: OrthancServer, studies: dict[str, Study]) -> None:  # noqa: F811
    assert len(search_studies(PacsServer(orthanc.url), StudyQuery(limit=2))) == 2


def test_series_of_a_study(orthanc: OrthancServer, studies: dict[str, Study]) -> None:  # noqa: F811
    mixed = studies["mixed"]
    series = search_series(PacsServer(orthanc.url), mixed.uid)
    assert [(s.series_uid, s.number, s.modality, s.instances) for s in series] == [
        (mixed.series[0], 1, "OT", 1),
        (mixed.series[1], 2, "MR", 2),
    ]
    assert [s.series_uid for s in search_series(PacsServer(orthanc.url), mixed.uid, modality="MR")] == [mixed.series[1]]
    assert search_series(PacsServer(orthanc.url), "1.2.3.4.5.6") == []


def test_filters_are_qido_match_keys() -> None:
    query = StudyQuery(datetime.date(2020, 1, 2), None, " ct ", "lung", "A-1")
    assert study_filters(query) == {
        "StudyDate": "20200102-",
        "ModalitiesInStudy": "CT",
        "StudyDescription": "*lung*",
        "AccessionNumber": "A-1",
    }
    assert study_filters(StudyQuery(date_to=datetime.date(2020, 1, 2))) == {"StudyDate": "-20200102"}
    assert study_filters(StudyQuery(description="  lung  cancer ")) == {"StudyDescription": "*lung?cancer*"}
    assert study_filters(StudyQuery()) == {}


def test_display_url_drops_credentials() -> None:
    server = PacsServer("https://alice:hunter2@pacs.example.org:8443/dicom-web/?x=1", username="alice", password="hunter2")
    assert server.display_url == "https://pacs.example.org:8443/dicom-web"
    assert "hunter2" not in repr(server)
