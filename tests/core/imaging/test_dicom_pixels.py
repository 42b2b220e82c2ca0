"""Pixels are right: checked against references computed independently of core.imaging."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pydicom
import pytest

from core.imaging import Window, load_image
from tests.core.imaging.conftest import bundled


def standard_linear_window(values: np.ndarray, center: float, width: float) -> np.ndarray:
    """PS3.3 C.11.2.1.2.1, written out case by case as the standard states it (0..255 output)."""
    out = np.empty(values.shape, dtype=np.float64)
    low_edge = center - 0.5 - (width - 1) / 2
    high_edge = center - 0.5 + (width - 1) / 2
    for index, x in np.ndenumerate(values):
        if x <= low_edge:
            out[index] = 0
        elif x > high_edge:
            out[index] = 255
        else:
            out[index] = ((x - (center - 0.5)) / (width - 1) + 0.5) * 255
    return np.rint(out)


def test_ct_rescale_to_hounsfield_and_first_window() -> None:
    path = bundled("dicomdirtests/77654033/CT2/17106")
    ds = pydicom.dcmread(path)
    expected_hu = ds.pixel_array.astype(np.float64) * float(ds.RescaleSlope) + float(ds.RescaleIntercept)
    image = load_image(path)
    np.testing.assert_allclose(image.pixels, expected_hu)
    assert image.metadata["modality"] == "CT"
    center, width = float(ds.WindowCenter), float(ds.WindowWidth)
    assert image.default_window == Window(center, width, image.default_window.name)  # type: ignore[union-attr]
    expected = standard_linear_window(expected_hu, center, width)
    np.testing.assert_array_equal(image.display, expected.astype(np.uint8))
    # Air (about -1000 HU) is black in a soft-tissue window.
    assert image.display[image.pixels < -900].max() == 0


def test_ct_render_other_window_matches_standard() -> None:
    image = load_image(bundled("dicomdirtests/77654033/CT2/17106"))
    lung = Window(-600.0, 1500.0, "lung")
    np.testing.assert_array_equal(image.render(lung), standard_linear_window(image.pixels, -600.0, 1500.0).astype(np.uint8))


def test_other_windows_selectable() -> None:
    path = bundled("MR_small.dcm")
    ds = pydicom.dcmread(path)
    image = load_image(path, window_index=0)
    assert image.windows[0].center == pytest.approx(
        float(ds.WindowCenter if not isinstance(ds.WindowCenter, pydicom.multival.MultiValue) else ds.WindowCenter[0])
    )


def test_monochrome1_is_inverted() -> None:
    path = bundled("dicomdirtests/77654033/CR1/6154")
    ds = pydicom.dcmread(path)
    assert ds.PhotometricInterpretation == "MONOCHROME1"
    image = load_image(path)
    assert image.invert
    values = ds.pixel_array.astype(np.float64) * float(ds.get("RescaleSlope", 1)) + float(ds.get("RescaleIntercept", 0))
    expected = 255 - standard_linear_window(values, float(ds.WindowCenter), float(ds.WindowWidth))
    np.testing.assert_array_equal(image.display, expected.astype(np.uint8))
    # In MONOCHROME1 the lowest value is shown brightest.
    assert image.display.flat[np.argmin(values)] >= image.display.flat[np.argmax(values)]


# The SC_rgb test images hold ten horizontal bands of known colours (pydicom's documentation).
SC_RGB_BANDS = [
    (255, 0, 0),
    (255, 128, 128),
    (0, 255, 0),
    (128, 255, 128),
    (0, 0, 255),
    (128, 128, 255),
    (0, 0, 0),
    (64, 64, 64),
    (192, 192, 192),
    (255, 255, 255),
]


@pytest.mark.parametrize(
    ("name", "tolerance"),
    [
        ("SC_rgb_dcmtk_+eb+cr.dcm", 3),  # RGB, JPEG baseline
        ("SC_rgb_dcmtk_+eb+cy+np.dcm", 6),  # YBR_FULL_422, JPEG baseline
        ("SC_rgb_dcmtk_+eb+cy+n1.dcm", 6),  # YBR_FULL, JPEG baseline
        ("SC_ybr_full_422_uncompressed.dcm", 6),  # YBR_FULL_422, uncompressed
        ("SC_rgb_rle.dcm", 0),  # RGB, RLE
        ("SC_rgb_gdcm_KY.dcm", 0),  # RGB, JPEG 2000
        ("SC_rgb_jpeg_gdcm.dcm", 0),  # RGB, JPEG lossless
    ],
)
def test_colour_files_show_their_known_colours(name: str, tolerance: int) -> None:
    image = load_image(bundled(name))
    assert image.is_color and image.display.shape == (100, 100, 3)
    for band, colour in enumerate(SC_RGB_BANDS):
        shown = image.display[band * 10 + 5, 50].astype(int)
        assert np.abs(shown - np.array(colour)).max() <= tolerance, (band, tuple(shown), colour)


@pytest.mark.parametrize(
    "twin",
    ["MR_small_jp2klossless.dcm", "MR_small_jpeg_ls_lossless.dcm", "MR_small_RLE.dcm", "MR_small_implicit.dcm", "MR_small_bigendian.dcm"],
)
def test_lossless_compressed_equals_uncompressed_twin(twin: str) -> None:
    reference = load_image(bundled("MR_small.dcm"))
    image = load_image(bundled(twin))
    np.testing.assert_array_equal(image.pixels, reference.pixels)
    np.testing.assert_array_equal(image.display, reference.display)


def test_multiframe_middle_frame_by_default_and_every_frame_matches_rle_twin() -> None:
    plain, rle = bundled("rtdose.dcm"), bundled("rtdose_rle.dcm")
    image = load_image(plain)
    assert image.n_frames == 15 and image.frame == 7
    all_frames = pydicom.dcmread(plain).pixel_array
    ds = pydicom.dcmread(plain)
    np.testing.assert_allclose(image.pixels, all_frames[7] * float(ds.get("RescaleSlope", 1)) + float(ds.get("RescaleIntercept", 0)))
    for frame in (0, 7, 14):
        np.testing.assert_array_equal(load_image(rle, frame=frame).pixels, load_image(plain, frame=frame).pixels)


def test_multiframe_ybr_jpeg_frame_choice() -> None:
    path = bundled("examples_ybr_color.dcm")
    first, last = load_image(path, frame=0), load_image(path, frame=29)
    assert first.display.shape == (240, 320, 3) and first.n_frames == 30
    assert not np.array_equal(first.display, last.display)


def test_deflated_transfer_syntax() -> None:
    image = load_image(bundled("image_dfl.dcm"))
    assert image.metadata["transfer_syntax"] == "Deflated Explicit VR Little Endian"
    assert image.display.shape == (512, 512) and image.display.std() > 0


def test_palette_colour_uses_the_lut() -> None:
    path = bundled("examples_palette.dcm")
    ds = pydicom.dcmread(path)
    image = load_image(path)
    index = ds.pixel_array[100, 400]
    red = ds.RedPaletteColorLookupTableData
    bits = int(ds.RedPaletteColorLookupTableDescriptor[2])
    lut_red = np.frombuffer(red, dtype=np.uint16 if bits == 16 else np.uint8)
    first = int(ds.RedPaletteColorLookupTableDescriptor[1])
    expected_red = lut_red[int(index) - first] / (257 if bits == 16 else 1)
    assert abs(int(image.display[100, 400, 0]) - expected_red) <= 1


def test_pixel_padding_is_masked_and_black(tmp_path: Path) -> None:
    ds = pydicom.dcmread(bundled("CT_small.dcm"))
    pad = int(ds.pixel_array.min())
    ds.PixelPaddingValue = pad
    path = tmp_path / "padded.dcm"
    ds.save_as(path)
    image = load_image(path)
    assert image.padding_mask is not None
    assert image.padding_mask.sum() == int((ds.pixel_array == pad).sum())
    assert image.display[image.padding_mask].max() == 0
    # The automatic window ignores padding: it spans the real tissue values only.
    low, _ = image.value_range
    assert low > pad * float(ds.RescaleSlope) + float(ds.RescaleIntercept)


@pytest.mark.parametrize(
    ("compressed", "uncompressed", "lossless"),
    [
        ("pydicom-data/data_store/data/emri_small_jpeg_2k_lossless.dcm", "pydicom-data/data_store/data/emri_small.dcm", True),
        ("pydicom-data/data_store/data/emri_small_jpeg_ls_lossless.dcm", "pydicom-data/data_store/data/emri_small.dcm", True),
        ("pydicom-data/data_store/data/emri_small_RLE.dcm", "pydicom-data/data_store/data/emri_small.dcm", True),
        ("pydicom-data/data_store/data/liver_deflate.dcm", "pydicom-data/data_store/data/liver.dcm", True),
        ("pydicom-data/data_store/data/liver_nonbyte_aligned_deflate.dcm", "pydicom-data/data_store/data/liver_nonbyte_aligned.dcm", True),
        ("pydicom-data/data_store/data/693_J2KR.dcm", "pydicom-data/data_store/data/693_UNCR.dcm", True),
        ("pydicom-data/data_store/data/MR2_J2KR.dcm", "pydicom-data/data_store/data/MR2_UNCR.dcm", True),
        ("pydicom-data/data_store/data/US1_J2KR.dcm", "pydicom-data/data_store/data/US1_UNCR.dcm", True),
        ("pydicom-data/data_store/data/US1_J2KI.dcm", "pydicom-data/data_store/data/US1_UNCI.dcm", False),
        ("pydicom-data/data_store/data/MR2_J2KI.dcm", "pydicom-data/data_store/data/MR2_UNCI.dcm", False),
        # dcmtk's own decode of the same YBR_FULL_422 JPEG: IDCTs differ by a level or two.
        (
            "pylibjpeg-data/ljdata/ds/JPEGBaseline/SC_rgb_dcmtk_+eb+cy+np.dcm",
            "pydicom-data/data_store/data/SC_rgb_dcmtk_ebcynp_dcmd.dcm",
            False,
        ),
        ("pydicom-data/data_store/data/HTJ2K_08_RGB.dcm", "pydicom-data/data_store/data/HTJ2KLossless_08_RGB.dcm", False),
    ],
)
def test_shared_corpus_compressed_matches_uncompressed_twin(dicom_corpus: Path, compressed: str, uncompressed: str, lossless: bool) -> None:
    reference = load_image(dicom_corpus / uncompressed)
    for frame in range(reference.n_frames):
        image = load_image(dicom_corpus / compressed, frame=frame)
        reference = load_image(dicom_corpus / uncompressed, frame=frame)
        if lossless:
            np.testing.assert_array_equal(image.pixels, reference.pixels)
        else:
            span = float(np.ptp(reference.pixels)) or 1.0
            assert float(np.abs(image.pixels - reference.pixels).mean()) / span < 0.02
