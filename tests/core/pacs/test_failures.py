"""Issue 18, points 1 and 3: a server that stops mid-import, refuses the login, is not there, or does not answer.

Each failure is a PacsError subclass whose message names the server (never the password) and says
what to do, and the project is left exactly as it was: same images, same audit log.
"""

from __future__ import annotations

import socket
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from core.pacs import PacsAuthError, PacsError, PacsServer, PacsTimeout, PacsUnreachable, StudyQuery, import_from_pacs, search_studies
from core.store import Project
from tests.core.pacs.helpers import make_study, project_bytes
from tests.orthanc import OrthancMissing, OrthancServer, free_port, orthanc_with_auth, start_orthanc  # noqa: F401  (pytest fixture)


@pytest.fixture
def project(tmp_path: Path) -> Iterator[Project]:
    with Project.create(tmp_path / "p.raresight") as made:
        made.add_class("normal")
        yield made


def test_server_stopped_mid_import_leaves_the_project_unchanged(tmp_path: Path, project: Project) -> None:
    try:
        server = start_orthanc(tmp_path / "orthanc")
    except OrthancMissing as exc:
        pytest.skip(str(exc))
    try:
        study = make_study(tmp_path / "study", [["CT_small.dcm"] * 4], date="20200101", description="stops", accession="S-1")
        server.upload(study.files)
        before = (len(project.images()), project.info().audit_entries, project.audit_head())
        temp_before = set(Path(tempfile.gettempdir()).glob("raresight-pacs-*"))

        def kill_after_first(done: int, total: int) -> None:
            if done == 1:
                server.stop()

        with pytest.raises(PacsError) as caught:
            import_from_pacs(project, PacsServer(server.url), study.uid, progress=kill_after_first)
    finally:
        server.stop()
    assert not server.alive()
    assert isinstance(caught.value, PacsUnreachable)
    message = str(caught.value)
    assert message.startswith(f"{server.url}: cannot connect while retrieving instance 2 of series 1")
    assert "check the address and port, that the server is running" in message
    assert (len(project.images()), project.info().audit_entries, project.audit_head()) == before
    assert set(Path(tempfile.gettempdir()).glob("raresight-pacs-*")) == temp_before
    assert project.verify() == []


def test_wrong_credentials_are_refused_naming_the_server(orthanc_with_auth: OrthancServer) -> None:  # noqa: F811
    url = orthanc_with_auth.url
    wrong = PacsServer(url, username=orthanc_with_auth.username, password="not-the-password")
    with pytest.raises(
        PacsAuthError, match=f"^{url}: refused access while searching for studies \\(HTTP 401, with user 'raresight'\\)"
    ) as caught:
        search_studies(wrong, StudyQuery())
    assert "not-the-password" not in str(caught.value)
    with pytest.raises(PacsAuthError, match="with no credentials"):
        search_studies(PacsServer(url), StudyQuery())
    with pytest.raises(PacsAuthError, match="with the token"):
        search_studies(PacsServer(url, token="not-a-token"), StudyQuery())
    right = PacsServer(url, username=orthanc_with_auth.username, password=orthanc_with_auth.password)
    assert search_studies(right, StudyQuery()) == []


def test_the_password_is_not_in_the_project(orthanc_with_auth: OrthancServer, project: Project, tmp_path: Path) -> None:  # noqa: F811
    study = make_study(tmp_path / "study", [["CT_small.dcm"] * 2], date="20200101", description="auth", accession="P-1")
    orthanc_with_auth.upload(study.files)
    password = orthanc_with_auth.password or ""
    server = PacsServer(orthanc_with_auth.url, username=orthanc_with_auth.username, password=password)
    report = import_from_pacs(project, server, study.uid)
    assert report.imported == 2
    assert password.encode() not in project_bytes(project.path)
    assert password not in repr(server) and password not in repr(report)
    orthanc_with_auth.clear()


def test_nothing_listening(project: Project) -> None:
    url = f"http://127.0.0.1:{free_port()}/dicom-web"
    with pytest.raises(PacsUnreachable, match=f"^{url}: cannot connect while searching for studies \\(connection refused\\)"):
        search_studies(PacsServer(url), StudyQuery())
    before = project.info().audit_entries
    with pytest.raises(PacsUnreachable, match=f"^{url}: cannot connect"):
        import_from_pacs(project, PacsServer(url), "1.2.3.4")
    assert project.info().audit_entries == before and project.images() == []


def test_a_url_that_is_not_a_dicomweb_root(orthanc_with_auth: OrthancServer) -> None:  # noqa: F811
    root = orthanc_with_auth.rest  # Orthanc's own REST API: answers, but not DICOMweb
    credentials = {"username": orthanc_with_auth.username, "password": orthanc_with_auth.password}
    with pytest.raises(PacsUnreachable, match=f"^{root}/wrong: not found \\(HTTP 404\\).*DICOMweb root"):
        search_studies(PacsServer(f"{root}/wrong", **credentials), StudyQuery())  # type: ignore[arg-type]
    with pytest.raises(PacsUnreachable, match=r"not a DICOMweb address.*e\.g\. http://"):
        search_studies(PacsServer("ftp://127.0.0.1/dicom-web"), StudyQuery())


def test_a_server_that_does_not_answer_times_out() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(1)  # connections are queued, never answered
        url = f"http://127.0.0.1:{silent.getsockname()[1]}/dicom-web"
        with pytest.raises(PacsTimeout, match=f"^{url}: no answer within 0.5 s while searching for studies"):
            search_studies(PacsServer(url, timeout_s=0.5), StudyQuery())


def test_a_study_that_is_not_there(orthanc_with_auth: OrthancServer, project: Project) -> None:  # noqa: F811
    server = PacsServer(orthanc_with_auth.url, username=orthanc_with_auth.username, password=orthanc_with_auth.password)
    with pytest.raises(PacsError, match="no such study on this server"):
        import_from_pacs(project, server, "1.2.3.4.5")
