"""No patient name, ID or birth date from any test file reaches metadata, scan output or logs."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pydicom
import pytest

from app.cli import main
from core.errors import ImageReadError
from core.imaging import load_image
from tests.core.imaging.conftest import PYDICOM_FILES

IDENTIFYING = (
    "PatientName",
    "PatientID",
    "PatientBirthDate",
    "OtherPatientIDs",
    "PatientAddress",
    "InstitutionName",
    "ReferringPhysicianName",
)


def identifiers(files: list[Path]) -> set[str]:
    """Every identifying value (whole, and each name part of 6 characters or more) in the files."""
    found: set[str] = set()
    for path in files:
        try:
            ds = pydicom.dcmread(path, stop_before_pixels=True, force=True)
        except Exception:  # noqa: BLE001 - files pydicom cannot parse have no identifiers to leak
            continue
        for keyword in IDENTIFYING:
            value = str(ds.get(keyword, "") or "").strip()
            if len(value.strip("^ ")) >= 4:
                found.update({value, value.replace("^", " ").strip()})
            found.update(part for part in value.replace("^", " ").split() if len(part) >= 6)
    return found


def dicom_files() -> list[Path]:
    return sorted(p for p in PYDICOM_FILES.rglob("*") if p.is_file() and p.suffix not in {".json", ".txt", ".dump", ".gz", ".icc"})


def test_identifiers_exist_in_the_corpus() -> None:
    assert {"Doe^Archibald", "77654033", "CompressedSamples^CT1"} <= identifiers(dicom_files())


def test_no_identifier_in_metadata_scan_output_or_log(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    files = dicom_files()
    secrets = identifiers(files)
    caplog.set_level(logging.DEBUG)
    metadata_text = []
    for path in files:
        try:
            metadata_text.append(json.dumps(load_image(path).metadata))
        except ImageReadError as exc:
            metadata_text.append(str(exc))
    json_out = tmp_path / "scan.json"
    main(["scan", "--recursive", str(PYDICOM_FILES), "--json", str(json_out)])
    printed = capsys.readouterr()
    log_text = "\n".join(record.getMessage() for record in caplog.records)
    from app.logging_setup import log_file

    log_file_text = log_file().read_text() if log_file().exists() else ""
    # File paths are the user's own naming (a folder here is named after a patient ID); what we
    # produced besides them must hold no identifier.
    everything = "\n".join((*metadata_text, printed.out, printed.err, json_out.read_text(), log_text, log_file_text))
    for path in sorted((str(p) for p in files), key=len, reverse=True):
        everything = everything.replace(path, "<path>")
    leaked = sorted(secret for secret in secrets if secret in everything)
    assert not leaked, leaked
