"""Bad input: always an ImageReadError that names the file, says why and what to do."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pydicom
import pytest
from PIL import Image

from core.errors import ImageReadError
from core.imaging import load_image
from tests.core.imaging.conftest import bundled


def assert_clear_error(path: Path, *words: str) -> ImageReadError:
    with pytest.raises(ImageReadError) as info:
        load_image(path)
    message = str(info.value)
    assert str(path) in message, message
    assert "; " in message, f"no advice in: {message}"
    for word in words:
        assert word in message.lower(), message
    return info.value


def test_zero_byte_file(tmp_path: Path) -> None:
    path = tmp_path / "empty.dcm"
    path.write_bytes(b"")
    assert_clear_error(path, "empty")


def test_truncated_dicom(tmp_path: Path) -> None:
    data = bundled("CT_small.dcm").read_bytes()
    path = tmp_path / "truncated.dcm"
    path.write_bytes(data[: len(data) // 2])
    assert_clear_error(path)


@pytest.mark.parametrize("keep", [140, 400, 1000])
def test_dicom_cut_inside_the_header(tmp_path: Path, keep: int) -> None:
    path = tmp_path / "cut.dcm"
    path.write_bytes(bundled("MR_small.dcm").read_bytes()[:keep])
    assert_clear_error(path)


def test_png_renamed_dcm(tmp_path: Path) -> None:
    buffer = io.BytesIO()
    Image.fromarray(np.zeros((8, 8), np.uint8)).save(buffer, format="PNG")
    path = tmp_path / "scan.dcm"
    path.write_bytes(buffer.getvalue())
    assert_clear_error(path, "png")


def test_folder(tmp_path: Path) -> None:
    assert_clear_error(tmp_path, "folder")


def test_missing_path(tmp_path: Path) -> None:
    assert_clear_error(tmp_path / "nowhere.dcm", "not found")


def test_dicom_without_pixel_data() -> None:
    assert_clear_error(bundled("rtplan.dcm"), "no image")


def test_unsupported_bit_depth(tmp_path: Path) -> None:
    ds = pydicom.dcmread(bundled("CT_small.dcm"))
    ds.BitsAllocated = 24
    ds.BitsStored = 24
    ds.HighBit = 23
    path = tmp_path / "bits24.dcm"
    ds.save_as(path)
    assert_clear_error(path)


def test_random_bytes(tmp_path: Path) -> None:
    path = tmp_path / "noise.bin"
    path.write_bytes(np.random.default_rng(0).integers(0, 256, 5000, dtype=np.uint8).tobytes())
    assert_clear_error(path, "not a dicom")


def test_text_file(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_text("Patient notes\n")
    assert_clear_error(path)


def test_frame_out_of_range() -> None:
    with pytest.raises(ImageReadError, match="frame 99"):
        load_image(bundled("rtdose.dcm"), frame=99)


def test_truncated_png(tmp_path: Path) -> None:
    buffer = io.BytesIO()
    Image.fromarray(np.random.default_rng(1).integers(0, 255, (64, 64), dtype=np.uint8)).save(buffer, format="PNG")
    path = tmp_path / "cut.png"
    path.write_bytes(buffer.getvalue()[:200])
    assert_clear_error(path)


def test_unreadable_file(tmp_path: Path) -> None:
    import os

    if os.geteuid() == 0:
        pytest.skip("root reads any file: permission errors cannot be provoked")
    path = tmp_path / "locked.dcm"
    path.write_bytes(bundled("CT_small.dcm").read_bytes())
    path.chmod(0)
    assert_clear_error(path, "permission")


def test_every_corpus_file_whole_or_cut_gives_image_or_image_read_error(dicom_corpus: Path, tmp_path: Path) -> None:
    """Every corpus file, whole and cut short, reads or fails with our error: nothing else escapes."""
    files = sorted(p for p in dicom_corpus.rglob("*.dcm") if p.stat().st_size < 300_000)
    assert len(files) > 50
    read = failed = 0
    for index, path in enumerate(files):
        data = path.read_bytes()
        for cut in (len(data), len(data) * 3 // 4, 300):
            target = tmp_path / f"{index}-{cut}.dcm"
            target.write_bytes(data[:cut])
            try:
                load_image(target)
                read += 1
            except ImageReadError as exc:
                assert str(target) in str(exc)
                failed += 1
    assert read > len(files) // 2 and failed > len(files) // 2
