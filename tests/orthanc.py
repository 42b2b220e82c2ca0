"""A real Orthanc (Debian's ``orthanc`` and ``orthanc-dicomweb``) for the PACS tests and the bench.

:func:`start_orthanc` runs ``/usr/sbin/Orthanc`` on a free loopback port with a generated
configuration: temporary storage, no DICOM (DIMSE) port, no remote access, the DICOMweb plugin at
``/dicom-web``. It returns once the server answers. The fixtures ``orthanc`` and
``orthanc_with_auth`` (module scoped: one server per test module) skip with the reason when the
binary or the plugin is missing (``apt-get install orthanc orthanc-dicomweb``).

Use in a test module::

    from tests.orthanc import orthanc, orthanc_with_auth  # noqa: F401  (pytest fixtures)
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

ORTHANC_BINARIES = ("/usr/sbin/Orthanc", "/usr/bin/Orthanc")
DICOMWEB_PLUGINS = ("/usr/share/orthanc/plugins/libOrthancDicomWeb.so",)
START_TIMEOUT_S = 30.0


class OrthancMissing(RuntimeError):
    """Orthanc or its DICOMweb plugin is not installed here."""


def find_orthanc() -> tuple[str, str]:
    """(the Orthanc binary, the DICOMweb plugin), or OrthancMissing saying what to install."""
    binary = next((b for b in ORTHANC_BINARIES if os.access(b, os.X_OK)), None) or shutil.which("Orthanc")
    if binary is None:
        raise OrthancMissing("Orthanc is not installed (apt-get install orthanc orthanc-dicomweb)")
    plugin = next((p for p in DICOMWEB_PLUGINS if Path(p).is_file()), None)
    if plugin is None:
        raise OrthancMissing("Orthanc's DICOMweb plugin is not installed (apt-get install orthanc-dicomweb)")
    return binary, plugin


def free_port() -> int:
    """A TCP port nobody listens on now, on the loopback interface."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class OrthancServer:
    """A running Orthanc: ``url`` is the DICOMweb root, ``rest`` the Orthanc REST root."""

    process: subprocess.Popen[bytes]
    port: int
    folder: Path
    username: str | None = None
    password: str | None = field(default=None, repr=False)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/dicom-web"

    @property
    def rest(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def log(self) -> Path:
        return self.folder / "orthanc.log"

    def request(self, method: str, path: str, data: bytes | None = None, timeout: float = 30.0) -> bytes:
        """One request to the REST API (with the registered user's credentials, if any)."""
        req = urllib.request.Request(self.rest + path, data=data, method=method)
        if self.username is not None:
            token = base64.b64encode(f"{self.username}:{self.password}".encode()).decode()
            req.add_header("Authorization", f"Basic {token}")
        if data is not None:
            req.add_header("Content-Type", "application/dicom")
        with urllib.request.urlopen(req, timeout=timeout) as response:
            return bytes(response.read())

    def upload(self, paths: Iterable[str | os.PathLike[str]]) -> None:
        """Store DICOM files in the server (REST ``POST /instances``); raises on any refusal."""
        for path in paths:
            answer = json.loads(self.request("POST", "/instances", Path(path).read_bytes()))
            status = answer.get("Status") if isinstance(answer, dict) else None
            if status not in ("Success", "AlreadyStored"):
                raise RuntimeError(f"Orthanc refused {path}: {answer}")

    def clear(self) -> None:
        """Delete every patient (and so every study) stored."""
        for patient in json.loads(self.request("GET", "/patients")):
            self.request("DELETE", f"/patients/{patient}")

    def alive(self) -> bool:
        return self.process.poll() is None

    def stop(self) -> None:
        """Kill the server (abruptly, as a crash or a pulled cable would) and wait for it."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=30)


def start_orthanc(folder: Path, *, username: str | None = None, password: str | None = None) -> OrthancServer:
    """Start Orthanc with its storage and configuration in ``folder``; returns once it answers.

    With ``username`` and ``password``, HTTP Basic authentication is on and that user is registered.
    Raises OrthancMissing when Orthanc or its DICOMweb plugin is not installed, RuntimeError when it
    does not start (the message quotes the end of its log).
    """
    binary, plugin = find_orthanc()
    folder.mkdir(parents=True, exist_ok=True)
    port = free_port()
    config = {
        "Name": "RareSightTest",
        "HttpPort": port,
        "RemoteAccessAllowed": False,
        "DicomServerEnabled": False,
        "StorageDirectory": str(folder / "storage"),
        "IndexDirectory": str(folder / "index"),
        "Plugins": [plugin],
        "DicomWeb": {"Enable": True, "Root": "/dicom-web/", "EnableWado": False},
        "AuthenticationEnabled": username is not None,
        "RegisteredUsers": {username: password} if username is not None else {},
        "HttpTimeout": 60,
        "HttpThreadsCount": 8,
        "StableAge": 1,
        "SaveJobs": False,
    }
    config_file = folder / "orthanc.json"
    config_file.write_text(json.dumps(config, indent=2), encoding="utf-8")
    log = (folder / "orthanc.log").open("wb")
    process = subprocess.Popen([binary, str(config_file)], stdout=log, stderr=subprocess.STDOUT, cwd=folder)
    log.close()
    server = OrthancServer(process, port, folder, username, password)
    deadline = time.monotonic() + START_TIMEOUT_S
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"Orthanc exited at start (status {process.returncode}): {_tail(server.log)}")
        try:
            server.request("GET", "/system", timeout=2)
            server.request("GET", "/dicom-web/studies", timeout=2)
            return server
        except (OSError, urllib.error.URLError):
            if time.monotonic() > deadline:
                server.stop()
                raise RuntimeError(f"Orthanc did not answer within {START_TIMEOUT_S:.0f} s: {_tail(server.log)}") from None
            time.sleep(0.1)


def _tail(path: Path, chars: int = 2000) -> str:
    try:
        return path.read_text(encoding="utf-8", errors="replace")[-chars:]
    except OSError:
        return "(no log)"


def _running(**credentials: str) -> Iterator[OrthancServer]:
    try:
        find_orthanc()
    except OrthancMissing as exc:
        pytest.skip(str(exc))
    with tempfile.TemporaryDirectory(prefix="orthanc-") as tmp:
        server = start_orthanc(Path(tmp), **credentials)
        try:
            yield server
        finally:
            server.stop()


@pytest.fixture(scope="module")
def orthanc() -> Iterator[OrthancServer]:
    """An Orthanc without authentication, empty, for the whole test module."""
    yield from _running()


@pytest.fixture(scope="module")
def orthanc_with_auth() -> Iterator[OrthancServer]:
    """An Orthanc with HTTP Basic authentication: ``.username`` and ``.password`` log in."""
    yield from _running(username="raresight", password="s3cret-Pacs-pw")
