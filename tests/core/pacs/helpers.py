"""Studies for the test Orthanc, made from pydicom's own test files with new UIDs and known identifiers.

Each uploaded file gets the same fake patient (name, ID, birth date) so the tests can search
everything the app writes for them, and a fresh Study/Series/SOP Instance UID so files pydicom ships
with shared UIDs become distinct instances.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import keyring
import pydicom
import pydicom.data
from jaraco.classes import properties
from keyring.backend import KeyringBackend
from keyring.errors import PasswordDeleteError
from pydicom.uid import generate_uid

PYDICOM_FILES = Path(pydicom.data.__file__).parent / "test_files"  # bundled: never downloads

PATIENT_NAME = "Quibble^Ottoline^Marigold"
PATIENT_ID = "PID-58213-QX"
BIRTH_DATE = "19470913"
#: Values that must never reach a project, a log or --json output (ours, and those pydicom's files carry).
IDENTIFIERS = (PATIENT_NAME, "Quibble", "Ottoline", PATIENT_ID, BIRTH_DATE, "CompressedSamples", "1CT1", "4MR1")


@dataclass
class Study:
    """A study written to ``folder``: its UIDs and the files (and the original each was made from)."""

    uid: str
    date: str
    description: str
    accession: str
    series: list[str] = field(default_factory=list)
    files: list[Path] = field(default_factory=list)
    sources: list[Path] = field(default_factory=list)
    sop_uids: list[str] = field(default_factory=list)


def source(name: str) -> Path:
    path = PYDICOM_FILES / name
    assert path.is_file(), f"pydicom's test file {name} is missing"
    return path


def make_study(
    folder: Path, series: Sequence[Sequence[str]], *, date: str, description: str, accession: str, truncate: Sequence[tuple[int, int]] = ()
) -> Study:
    """A study with one series per entry of ``series`` (each a list of pydicom test file names).

    ``truncate``: (series index, instance index) pairs whose pixel data are cut to half (they do not decode).
    """
    study = Study(generate_uid(), date, description, accession)
    folder.mkdir(parents=True, exist_ok=True)
    for s_index, names in enumerate(series):
        series_uid = generate_uid()
        study.series.append(series_uid)
        for i_index, name in enumerate(names):
            ds = pydicom.dcmread(source(name))
            sop_uid = generate_uid()
            ds.StudyInstanceUID, ds.SeriesInstanceUID, ds.SOPInstanceUID = study.uid, series_uid, sop_uid
            ds.file_meta.MediaStorageSOPInstanceUID = sop_uid
            ds.StudyDate, ds.StudyDescription, ds.AccessionNumber = date, description, accession
            ds.PatientName, ds.PatientID, ds.PatientBirthDate = PATIENT_NAME, PATIENT_ID, BIRTH_DATE
            ds.SeriesNumber, ds.InstanceNumber = s_index + 1, i_index + 1
            if (s_index, i_index) in truncate:
                ds.PixelData = ds.PixelData[: len(ds.PixelData) // 2]
            path = folder / f"{study.uid[-12:]}-{s_index}-{i_index}.dcm"
            ds.save_as(path, enforce_file_format=True)
            study.files.append(path)
            study.sources.append(source(name))
            study.sop_uids.append(sop_uid)
    return study


def project_bytes(path: Path) -> bytes:
    """The project file and any side file SQLite keeps beside it."""
    return b"".join(p.read_bytes() for p in (path, Path(f"{path}-wal"), Path(f"{path}-journal")) if p.exists())


class MemoryKeyring(KeyringBackend):
    """A keyring kept in a dict (keyring's own plug-in interface), installed with :func:`installed_keyring`:
    this machine has no Secret Service, and a test must never write to a real user's keyring."""

    @properties.classproperty
    def priority(cls) -> float:
        raise RuntimeError("only for tests: install it with keyring.set_keyring")

    def __init__(self) -> None:
        super().__init__()
        self.entries: dict[tuple[str, str], str] = {}

    def get_password(self, service: str, username: str) -> str | None:
        return self.entries.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        self.entries[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        if self.entries.pop((service, username), None) is None:
            raise PasswordDeleteError("no such entry")


@contextlib.contextmanager
def installed_keyring(backend: KeyringBackend) -> Iterator[KeyringBackend]:
    """``backend`` as the keyring while the block runs, then the one before it again."""
    previous = keyring.get_keyring()
    keyring.set_keyring(backend)
    try:
        yield backend
    finally:
        keyring.set_keyring(previous)
