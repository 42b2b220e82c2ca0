"""Issue 18, point 1: ``raresight pacs search`` and ``raresight pacs import`` against a real Orthanc.

The command runs in its own process, as a user runs it: exit codes, what it prints, its log file, the
password taken from the environment only, and Ctrl-C (with the server frozen mid-request).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from core.store import Project
from tests.cli.test_startup_imports import _loaded_after
from tests.core.pacs.helpers import IDENTIFIERS, PATIENT_NAME, Study, make_study, project_bytes
from tests.orthanc import OrthancServer, free_port, orthanc, orthanc_with_auth  # noqa: F401  (pytest fixtures)

REPO = Path(__file__).resolve().parents[2]


def raresight(*args: str, env: dict[str, str] | None = None, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", "import sys; from app.cli import main; sys.exit(main())", *args],
        capture_output=True,
        text=True,
        cwd=REPO,
        env=_env(env),
        timeout=timeout,
        stdin=subprocess.DEVNULL,
    )


def _env(extra: dict[str, str] | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RARESIGHT_PACS_")}  # the log folder is the test's own
    return {**env, **(extra or {})}


def _log() -> str:
    log = Path(os.environ["RARESIGHT_LOG_DIR"]) / "raresight.log"
    return log.read_text(encoding="utf-8") if log.exists() else ""


@pytest.fixture(scope="module")
def studies(orthanc: OrthancServer, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Study]:  # noqa: F811
    folder = tmp_path_factory.mktemp("studies")
    made = {
        "ct": make_study(folder, [["CT_small.dcm"] * 3], date="20210304", description="Chest CT rare", accession="ACC-A1"),
        "mr": make_study(folder, [["MR_small.dcm"], ["MR_small.dcm"] * 2], date="20220701", description="Brain MR", accession="ACC-B2"),
        "bad": make_study(folder, [["MR_small.dcm"] * 2], date="20230101", description="one bad", accession="ACC-C3", truncate=[(0, 1)]),
    }
    for study in made.values():
        orthanc.upload(study.files)
    return made


@pytest.fixture
def project(tmp_path: Path) -> Path:
    path = tmp_path / "p.raresight"
    Project.create(path).close()
    return path


def _counts(path: Path) -> tuple[int, int]:
    with Project.open(path, readonly=True) as p:
        info = p.info()
    return info.images, info.audit_entries


def test_search_json_has_no_patient_names(orthanc: OrthancServer, studies: dict[str, Study]) -> None:  # noqa: F811
    done = raresight("pacs", "search", orthanc.url, "--json")
    assert done.returncode == 0, done.stderr
    rows = json.loads(done.stdout)
    assert {r["study_uid"] for r in rows} == {s.uid for s in studies.values()}
    ct = next(r for r in rows if r["study_uid"] == studies["ct"].uid)
    assert ct == {
        "study_uid": studies["ct"].uid,
        "date": "2021-03-04",
        "modalities": ["CT"],
        "description": "Chest CT rare",
        "accession": "ACC-A1",
        "series": 1,
        "instances": 3,
    }
    for value in IDENTIFIERS:
        assert value not in done.stdout + done.stderr
    filtered = raresight("pacs", "search", orthanc.url, "--modality", "MR", "--from", "2022-01-01", "--to", "2022-12-31", "--json")
    assert [r["study_uid"] for r in json.loads(filtered.stdout)] == [studies["mr"].uid]
    described = raresight("pacs", "search", orthanc.url, "--description", "rare", "--accession", "ACC-A1", "--json")
    assert [r["study_uid"] for r in json.loads(described.stdout)] == [studies["ct"].uid]


def test_search_table_and_series(orthanc: OrthancServer, studies: dict[str, Study]) -> None:  # noqa: F811
    table = raresight("pacs", "search", orthanc.url, "--accession", "ACC-B2")
    assert table.returncode == 0, table.stderr
    lines = table.stdout.splitlines()
    assert lines[0].split() == ["date", "modalities", "series", "instances", "accession", "description", "study", "UID"]
    assert lines[1].split() == ["2022-07-01", "MR", "2", "3", "ACC-B2", "Brain", "MR", studies["mr"].uid]
    assert PATIENT_NAME.split("^")[0] not in table.stdout
    named = raresight("pacs", "search", orthanc.url, "--accession", "ACC-B2", "--show-names")
    assert PATIENT_NAME.replace("^", " ") in named.stdout  # on screen, only when asked
    series = raresight("pacs", "search", orthanc.url, "--series", studies["mr"].uid, "--json")
    assert [(s["series_uid"], s["number"], s["instances"]) for s in json.loads(series.stdout)] == [
        (studies["mr"].series[0], 1, 1),
        (studies["mr"].series[1], 2, 2),
    ]


def test_import_then_again(orthanc: OrthancServer, studies: dict[str, Study], project: Path) -> None:  # noqa: F811
    done = raresight(
        "pacs", "import", str(project), orthanc.url, "--study", studies["mr"].uid, "--series", studies["mr"].series[1], "--class", "a"
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"{orthanc.url}: 2 image(s) imported, 0 already in the project, 0 did not decode"
    again = raresight("pacs", "import", str(project), orthanc.url, "--study", studies["mr"].uid)
    assert again.returncode == 0, again.stderr
    assert again.stdout.strip() == f"{orthanc.url}: 1 image(s) imported, 2 already in the project, 0 did not decode"
    with Project.open(project, readonly=True) as p:
        assert sorted(p.labels().values()) == ["a", "a"]
    data, log = project_bytes(project), _log()
    assert "PACS import" in log
    for value in [*IDENTIFIERS, studies["mr"].uid, *studies["mr"].sop_uids]:
        assert value.encode() not in data and value not in log, value


def test_an_instance_that_does_not_decode_exits_1(orthanc: OrthancServer, studies: dict[str, Study], project: Path) -> None:  # noqa: F811
    done = raresight("pacs", "import", str(project), orthanc.url, "--study", studies["bad"].uid)
    assert done.returncode == 1, done.stderr
    assert "1 image(s) imported, 0 already in the project, 1 did not decode" in done.stdout
    assert next(line for line in done.stderr.splitlines() if line.startswith("failed: ")).startswith("failed: instance 2 of series 1: ")


def test_a_server_that_is_not_there_exits_2_with_one_line(project: Path) -> None:
    url = f"http://127.0.0.1:{free_port()}/dicom-web"
    done = raresight("pacs", "import", str(project), url, "--study", "1.2.3")
    assert done.returncode == 2
    assert done.stderr.splitlines() == [
        f"raresight: {url}: cannot connect while listing the series of a study (connection refused); "
        "check the address and port, that the server is running, and the network"
    ]
    assert _counts(project) == (0, 1)


def test_the_password_comes_from_the_environment_only(orthanc_with_auth: OrthancServer, tmp_path: Path) -> None:  # noqa: F811
    url, user, password = orthanc_with_auth.url, orthanc_with_auth.username or "", orthanc_with_auth.password or ""
    right = raresight("pacs", "search", url, "--user", user, "--json", env={"RARESIGHT_PACS_PASSWORD": password})
    assert right.returncode == 0 and json.loads(right.stdout) == [], right.stderr
    wrong = raresight("pacs", "search", url, "--user", user, env={"RARESIGHT_PACS_PASSWORD": "wrong-one"})
    assert wrong.returncode == 2
    assert wrong.stderr.startswith(f"raresight: {url}: refused access while searching for studies (HTTP 401, with user 'raresight')")
    missing = raresight("pacs", "search", url, "--user", user)
    assert missing.returncode == 2
    assert missing.stderr.strip() == (
        f"raresight: {url}: no password for user 'raresight'; set $RARESIGHT_PACS_PASSWORD, or run this in a terminal to be asked for it"
    )
    in_url = raresight("pacs", "search", url.replace("://", f"://{user}:{password}@"))
    assert in_url.returncode == 2 and "the URL holds a password" in in_url.stderr
    for done in (right, wrong, missing, in_url):
        assert password not in done.stdout + done.stderr
    assert password not in _log()


@contextmanager
def _frozen(server: OrthancServer) -> Iterator[None]:
    """The server stopped (SIGSTOP): connections queue up, no answer comes; thawed afterwards."""
    os.kill(server.process.pid, signal.SIGSTOP)
    try:
        yield
    finally:
        os.kill(server.process.pid, signal.SIGCONT)


def _wait_for_waiting_connection(port: int, timeout: float = 60) -> None:
    """Until a connection waits in the listening socket's queue (/proc/net/tcp: its rx_queue > 0)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
            fields = line.split()
            if fields[1].endswith(f":{port:04X}") and fields[3] == "0A" and int(fields[4].split(":")[1], 16) > 0:
                return
        time.sleep(0.05)
    raise AssertionError("the command never connected")


@pytest.mark.skipif(not Path("/proc/net/tcp").exists(), reason="needs Linux's /proc/net/tcp to see the command connect")
@pytest.mark.parametrize("presses", [1, 2])
def test_ctrl_c_leaves_the_project_unchanged(orthanc: OrthancServer, studies: dict[str, Study], project: Path, presses: int) -> None:  # noqa: F811
    before = _counts(project)
    command = [sys.executable, "-c", "import sys; from app.cli import main; sys.exit(main())"]
    args = ["pacs", "import", str(project), orthanc.url, "--study", studies["ct"].uid]
    with _frozen(orthanc):
        process = subprocess.Popen([*command, *args], cwd=REPO, env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            _wait_for_waiting_connection(orthanc.port)
            for _ in range(presses):  # once: stop at the next step; twice: stop at once, even mid-request
                process.send_signal(signal.SIGINT)
                time.sleep(0.2)
            if presses == 2:
                out, err = process.communicate(timeout=60)
        except BaseException:
            process.kill()
            raise
    if presses == 1:
        out, err = process.communicate(timeout=60)
    assert process.returncode == 130, err
    expected = "import cancelled; nothing was added to the project" if presses == 1 else "raresight: interrupted"
    assert expected in err and out == ""
    assert _counts(project) == before


def test_help_and_a_failed_search_stay_light(tmp_path: Path) -> None:
    """The DICOMweb client, requests and keyring load only when a search or import runs; the model stack never."""
    light = ("dicomweb_client", "requests", "keyring", "numpy", "pydicom")
    for argv in (["--help"], ["pacs", "--help"], ["pacs", "import", "--help"]):
        code, loaded = _loaded_after(argv, tmp_path, light)
        assert (code, loaded) == (0, []), argv
    code, loaded = _loaded_after(["pacs", "search", f"http://127.0.0.1:{free_port()}/dicom-web"], tmp_path)
    assert (code, loaded) == (2, [])
