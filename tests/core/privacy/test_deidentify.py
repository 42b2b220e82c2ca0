"""De-identified DICOM copies: identifiers replaced or removed, pixel data byte for byte the same."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pydicom.data
import pytest
from pydicom import dcmread
from pydicom.filebase import DicomBytesIO

from core.errors import ImageReadError
from core.imaging import load_image
from core.privacy.deidentify import deidentify_dicom

FILES = Path(pydicom.data.__file__).parent / "test_files"  # bundled with pydicom: no download


def read(data: bytes) -> pydicom.Dataset:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return dcmread(DicomBytesIO(data), force=True)


@pytest.mark.parametrize("name", ["CT_small.dcm", "MR_small_RLE.dcm", "JPEG2000.dcm", "image_dfl.dcm", "rtplan.dcm"])
def test_identifiers_go_and_pixels_stay(name: str, tmp_path: Path) -> None:
    original = (FILES / name).read_bytes()
    before = read(original)
    after = read(deidentify_dicom(original, name))
    for keyword in ("PatientName", "PatientID", "ReferringPhysicianName", "OperatorsName", "InstitutionName"):
        if before.get(keyword):
            assert str(after.get(keyword, "")) != str(before.get(keyword)), keyword
    assert not after.get("PatientBirthDate") and "PatientAge" not in after and "StudyDescription" not in after
    assert not any(element.tag.is_private for element in after.iterall())
    assert "DICOGNITO" in str(after.get("DeidentificationMethod", ""))
    assert after.get("PixelData") == before.get("PixelData")  # the same bytes, compressed or not
    if "PixelData" in before:
        copy = tmp_path / name
        copy.write_bytes(deidentify_dicom(original, name))
        np.testing.assert_array_equal(load_image(copy).pixels, load_image(FILES / name).pixels)


def test_uids_of_one_study_stay_shared_within_a_run() -> None:
    """The profile replaces UIDs consistently: copies of one series still belong together."""
    first = read(deidentify_dicom((FILES / "CT_small.dcm").read_bytes(), "a"))
    again = read(deidentify_dicom((FILES / "CT_small.dcm").read_bytes(), "b"))
    original = read((FILES / "CT_small.dcm").read_bytes())
    assert first.StudyInstanceUID == again.StudyInstanceUID != original.StudyInstanceUID


def test_what_cannot_be_deidentified_is_refused_not_stored_as_it_is(monkeypatch: pytest.MonkeyPatch) -> None:
    def fails(dataset: object, anonymizer: object = None) -> None:
        raise IndexError("an element the anonymizer cannot handle")

    monkeypatch.setattr("core.privacy.deidentify._anonymize", fails)
    with pytest.raises(ImageReadError, match=r"bad\.dcm: its copy could not be de-identified \(IndexError\).*--embed-identifiable"):
        deidentify_dicom((FILES / "CT_small.dcm").read_bytes(), "bad.dcm")


def test_embedded_copies_keep_no_value_of_the_profile_table() -> None:
    """dicognito leaves some of Table E.1-1 (timezone offset, overlays, icons, trailing padding): the copy
    the project stores must not, in any bundled file."""
    from core.privacy import ps315

    checked = 0
    for path in sorted(FILES.glob("*.dcm")):
        original = path.read_bytes()
        try:
            copy = deidentify_dicom(original, path.name)
        except ImageReadError:
            continue  # refused outright: nothing identifiable is stored
        result = ps315.check(read(original), read(copy))
        assert result.left_identifying == [], (path.name, result.left_identifying)
        checked += result.checked > 0
    assert checked >= 40
