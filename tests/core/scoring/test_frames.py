"""The frame scoring records is the one the image reader decoded, for every kind of file."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pydicom.data
import pytest
from PIL import Image

from core.imaging import load_image
from core.scoring.frames import default_frame

PYDICOM_FILES = Path(pydicom.data.__file__).parent / "test_files"  # shipped with pydicom, never downloaded


@pytest.mark.parametrize(
    ("name", "frames"),
    [("rtdose.dcm", 15), ("examples_ybr_color.dcm", 30), ("SC_rgb_rle_2frame.dcm", 2), ("MR_small.dcm", 1)],
)
def test_dicom_frame_is_the_one_load_image_decodes(name: str, frames: int) -> None:
    path = PYDICOM_FILES / name
    image = load_image(path)
    assert image.n_frames == frames
    assert default_frame(str(path)) == image.frame == frames // 2


def test_raster_files_use_their_first_page(tmp_path: Path) -> None:
    pages = [Image.fromarray(np.full((8, 8), v, np.uint8)) for v in (10, 20, 30)]
    pages[0].save(tmp_path / "stack.tiff", save_all=True, append_images=pages[1:])
    pages[0].save(tmp_path / "one.png")
    for name in ("stack.tiff", "one.png"):
        assert default_frame(str(tmp_path / name)) == load_image(tmp_path / name).frame == 0


def test_dicom_without_a_file_header(tmp_path: Path) -> None:
    """No preamble or meta header (old archives): read anyway, and the same middle frame."""
    from pydicom.filebase import DicomBytesIO
    from pydicom.filewriter import write_dataset

    ds = pydicom.dcmread(PYDICOM_FILES / "rtdose.dcm")  # implicit VR little endian, 15 frames
    buffer = DicomBytesIO()
    buffer.is_little_endian, buffer.is_implicit_VR = True, True
    write_dataset(buffer, ds)
    path = tmp_path / "bare.dcm"
    path.write_bytes(buffer.getvalue())
    assert default_frame(str(path)) == load_image(path).frame == 7


def test_a_damaged_dicom_header_falls_back_without_a_traceback(tmp_path: Path) -> None:
    path = tmp_path / "damaged.dcm"
    path.write_bytes(b"\0" * 128 + b"DICM" + b"\xff" * 4096)  # the preamble, then nothing a parser can read
    assert default_frame(str(path)) == 0
