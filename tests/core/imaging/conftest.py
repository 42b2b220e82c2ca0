"""Real DICOM files: those bundled inside pydicom (always here) and ../shared/data/dicom (maybe)."""

from __future__ import annotations

from pathlib import Path

import pydicom.data
import pytest

PYDICOM_FILES = Path(pydicom.data.__file__).parent / "test_files"


def bundled(name: str) -> Path:
    """A file that ships inside pydicom. Never pydicom's get_testdata_file: it may try to download."""
    path = PYDICOM_FILES / name
    if not path.is_file():
        pytest.fail(f"pydicom no longer ships {name}; pick another bundled test file")
    return path


@pytest.fixture
def dicom_corpus(shared_data: Path) -> Path:
    return shared_data / "dicom"
