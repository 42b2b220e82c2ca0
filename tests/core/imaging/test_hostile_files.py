"""Issue 17's crafted files: each is refused quickly with a clear ImageReadError, nothing large is
allocated, and the next good file still loads. The files are made here from pydicom's bundled test
files (``hostile.py``), never committed."""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from core.errors import ImageReadError
from core.imaging import load_image, scan_paths
from core.imaging.boundary import decoder_boundary
from tests.core.imaging.conftest import bundled
from tests.core.imaging.hostile import crafted

REPO = Path(__file__).resolve().parents[3]
GOOD = bundled("CT_small.dcm")

# What each crafted file's message must say (lower case).
EXPECTED = {
    "rle_cut": "decoder crashed",
    "rle_columns_1": "decoder crashed",
    "emri_columns_1": "decoder crashed",
    "jpeg_sof_65500": "its jpeg frame header declares 65500 x 65500 pixels, more than the limit",
    "j2k_siz_60000": "its jpeg 2000 frame header declares 60000 x 60000 pixels, more than the limit",
    "deflated_32768": "the dicom header declares 32768 x 32768 pixels",
    "deflated_frame_32768": "the dicom header declares 32768 x 32768 pixels",
    "png_13000": "its png header declares 13000 x 13000 pixels",
    "png_ihdr_60000": "its png header declares 60000 x 60000 pixels",
    "zeros": "not a dicom file",
    "jpegls_height_0": "its jpeg frame header declares 10 x 0 pixels (no size)",
}


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return crafted(tmp_path_factory.mktemp("hostile"))


def assert_clear(message: str, path: Path) -> None:
    assert str(path) in message, message
    assert not re.search(r"object at 0x|\s\(\s*\)|\(\w+:\s*\)|:\s*\)", message), message  # a repr, " ()", "(pylibjpeg:)"
    assert "not enough memory" not in message and "damaged or truncated (MemoryError" not in message, message


@contextlib.contextmanager
def address_space_cap(extra: int = 1 << 30) -> Iterator[None]:
    """Lower this process's soft address-space limit to its present size plus ``extra``, then restore it:
    a regression that allocates what a crafted header claims fails as MemoryError, not by exhausting the machine."""
    try:
        import resource

        with open("/proc/self/status", encoding="ascii") as status:
            size = next(int(line.split()[1]) * 1024 for line in status if line.startswith("VmSize:"))
    except (ImportError, OSError, StopIteration):
        yield  # no limits here (Windows, no /proc): the subprocess test below still has one
        return
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    cap = size + extra if hard == resource.RLIM_INFINITY else min(size + extra, hard)
    resource.setrlimit(resource.RLIMIT_AS, (cap, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_crafted_file_refused_fast_and_next_file_loads(hostile: dict[str, Path], name: str) -> None:
    if name not in hostile:
        pytest.skip("emri_small_RLE.dcm is only in ../shared/data/dicom")
    start = time.perf_counter()
    with pytest.raises(ImageReadError) as info, address_space_cap():
        load_image(hostile[name])
    assert time.perf_counter() - start < 5.0
    assert_clear(str(info.value), hostile[name])
    assert EXPECTED[name] in str(info.value).lower(), str(info.value)
    assert load_image(GOOD).width == 128  # one bad file never makes the next fail


# Loads every crafted file, then the good one after each, under an address-space cap: an attempt to
# allocate what a header claims would fail as MemoryError, and peak RSS shows what was touched.
_CAPPED = r"""
import json, re, resource, sys
resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))
# Linux keeps the peak RSS across fork and exec, so a child of a big pytest process starts with the
# parent's peak: reset it (clear_refs 5) and read VmHWM, else fall back to ru_maxrss
try:
    open("/proc/self/clear_refs", "w").write("5")
    def peak_mb():
        return int(re.search(r"VmHWM:\s+(\d+)", open("/proc/self/status").read()).group(1)) / 1024
except OSError:
    def peak_mb():
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
from core.errors import ImageReadError
from core.imaging import load_image
out = {}
for path in sys.argv[2:]:
    try:
        load_image(path)
        out[path] = "ok"
    except ImageReadError as exc:
        out[path] = str(exc)
    out[path + " then good"] = load_image(sys.argv[1]).content_hash[:8]
out["peak_rss_mb"] = peak_mb()
print(json.dumps(out))
"""


@pytest.mark.skipif(sys.platform == "win32", reason="resource limits are POSIX")
def test_crafted_files_allocate_nothing_large(hostile: dict[str, Path]) -> None:
    paths = [str(path) for path in hostile.values()]
    run = subprocess.run(
        [sys.executable, "-c", _CAPPED, str(GOOD), *paths],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=REPO,
        env={**os.environ, "RUST_BACKTRACE": "0"},
    )
    assert run.returncode == 0, run.stderr[-2000:]
    out = json.loads(run.stdout)
    for path in paths:
        assert out[path] != "ok"
        assert_clear(out[path], Path(path))
        assert len(out[path + " then good"]) == 8
    assert out["peak_rss_mb"] < 400, out["peak_rss_mb"]  # was 2 to 21 GB (issue 17)


def test_zero_filled_200_mb_refused_fast(tmp_path: Path) -> None:
    path = tmp_path / "zeros.dcm"
    with path.open("wb") as file:
        file.truncate(200 << 20)  # sparse: reads as 200 MB of zeros
    start = time.perf_counter()
    with pytest.raises(ImageReadError, match="not a DICOM file"):
        load_image(path)
    assert time.perf_counter() - start < 5.0  # was 164 s


def test_zeros_after_a_valid_file_meta_refused_fast(tmp_path: Path) -> None:
    data = GOOD.read_bytes()
    meta_end = 144 + int.from_bytes(data[140:144], "little")
    path = tmp_path / "meta_then_zeros.dcm"
    path.write_bytes(data[:meta_end] + b"\x00" * (8 << 20))
    start = time.perf_counter()
    with pytest.raises(ImageReadError, match="starts with zeros"):
        load_image(path)
    assert time.perf_counter() - start < 2.0


def test_sparse_5_gb_file_refused_from_its_size(tmp_path: Path) -> None:
    path = tmp_path / "huge.dcm"
    with path.open("wb") as file:
        file.truncate(5 << 30)
    start = time.perf_counter()
    with pytest.raises(ImageReadError, match=r"is 5\.0 GB, more than the limit of 2\.0 GB") as info:
        load_image(path)
    assert time.perf_counter() - start < 1.0
    assert "RARESIGHT_MAX_FILE_BYTES" in str(info.value)


def test_file_cap_follows_its_setting(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RARESIGHT_MAX_FILE_BYTES", "1000")
    with pytest.raises(ImageReadError, match="more than the limit of 1000 bytes"):
        load_image(GOOD)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs on this platform")
def test_fifo_refused_without_blocking(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe.dcm"
    os.mkfifo(fifo)
    errors: list[str] = []

    def read() -> None:
        try:
            load_image(fifo)
        except ImageReadError as exc:
            errors.append(str(exc))

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    reader.join(5.0)
    assert not reader.is_alive(), "load_image blocked on a FIFO"
    assert errors and "FIFO (named pipe)" in errors[0] and str(fifo) in errors[0]


@pytest.mark.skipif(not Path("/dev/zero").exists(), reason="no /dev/zero")
def test_character_device_refused() -> None:
    with pytest.raises(ImageReadError, match="character device"):
        load_image("/dev/zero")


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs on this platform")
def test_scan_folder_skips_fifo_with_reason_and_goes_on(tmp_path: Path, hostile: dict[str, Path]) -> None:
    folder = tmp_path / "in"
    (folder / "sub").mkdir(parents=True)
    os.mkfifo(folder / "sub" / "pipe.dcm")
    for path in hostile.values():
        (folder / "sub" / path.name).write_bytes(path.read_bytes())
    (folder / "sub" / "zz_good.dcm").write_bytes(GOOD.read_bytes())
    results = {Path(r.path).name: r for r in scan_paths([folder], recursive=True)}
    assert "FIFO (named pipe)" in (results["pipe.dcm"].error or "") and "skipped" in (results["pipe.dcm"].error or "")
    assert results["zz_good.dcm"].ok
    assert sum(not r.ok for r in results.values()) == len(hostile) + 1


def test_pillow_bomb_check_stays_on_with_clear_words(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """GIF has no header reader of ours: Pillow's own check refuses it, at RARESIGHT_MAX_PIXELS."""
    monkeypatch.setenv("RARESIGHT_MAX_PIXELS", "100")
    path = tmp_path / "big.gif"
    Image.fromarray(np.zeros((30, 30), np.uint8)).save(path)
    with pytest.raises(ImageReadError) as info:
        load_image(path)
    message = str(info.value)
    assert "declares 900 pixels, more than the limit of 100" in message and "RARESIGHT_MAX_PIXELS" in message, message
    assert Image.MAX_IMAGE_PIXELS == 100


def test_bmp_size_checked_by_pillow_at_our_limit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RARESIGHT_MAX_PIXELS", "150")  # Pillow warns above 150 and refuses above 300
    path = tmp_path / "img.bmp"
    Image.fromarray(np.zeros((10, 20), np.uint8)).save(path)
    with pytest.raises(ImageReadError, match="declares 200 pixels, more than the limit of 150"):
        load_image(path)


def test_each_tiff_page_size_checked(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Pillow checks the first page when it opens the file; a later page has a size of its own."""
    monkeypatch.setenv("RARESIGHT_MAX_PIXELS", "150")
    path = tmp_path / "pages.tif"
    small, large = Image.fromarray(np.zeros((5, 5), np.uint8)), Image.fromarray(np.zeros((10, 20), np.uint8))
    small.save(path, save_all=True, append_images=[large])
    assert load_image(path, frame=0).width == 5
    with pytest.raises(ImageReadError, match="its TIFF header declares 20 x 10 pixels"):
        load_image(path, frame=1)


def test_raising_the_pixel_limit_lets_an_image_through(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RARESIGHT_MAX_PIXELS", "16383")
    with pytest.raises(ImageReadError, match="the DICOM header declares 128 x 128 pixels"):
        load_image(GOOD)
    monkeypatch.setenv("RARESIGHT_MAX_PIXELS", "16384")
    assert load_image(GOOD).width == 128


def test_bad_setting_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RARESIGHT_MAX_PIXELS", "lots")
    with pytest.raises(ImageReadError, match="RARESIGHT_MAX_PIXELS='lots' is not a positive whole number"):
        load_image(GOOD)


def test_memory_error_is_named_as_such(monkeypatch: pytest.MonkeyPatch) -> None:
    import core.imaging.dicom as dicom

    def exhausted(*args: object, **kwargs: object) -> None:
        raise MemoryError

    monkeypatch.setattr(dicom, "pixel_array", exhausted)
    with pytest.raises(ImageReadError, match="not enough memory to decode this image") as info:
        load_image(GOOD)
    assert "damaged" not in str(info.value)
    monkeypatch.setattr(dicom.pydicom, "dcmread", exhausted)
    with pytest.raises(ImageReadError, match="not enough memory to decode this image"):
        load_image(GOOD)


class FakePanic(BaseException):
    """Stands in for pyo3_runtime.PanicException, which derives from BaseException."""


def test_boundary_turns_base_exceptions_into_image_read_error() -> None:
    message = r"x\.dcm: image data could not be decoded \(FakePanic: index out of bounds\)"
    with pytest.raises(ImageReadError, match=message), decoder_boundary("x.dcm"):
        raise FakePanic("index out of bounds")
    for passing in (KeyboardInterrupt, SystemExit, GeneratorExit):
        with pytest.raises(passing), decoder_boundary("x.dcm"):
            raise passing()


def test_no_object_repr_or_empty_reason_in_messages(tmp_path: Path) -> None:
    path = tmp_path / "junk.png"
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4)
    with pytest.raises(ImageReadError) as info:
        load_image(path)
    assert_clear(str(info.value), path)
    text = tmp_path / "notes.tif"
    text.write_bytes(b"II*\x00" + b"garbage" * 50)
    with pytest.raises(ImageReadError) as info:
        load_image(text)
    assert_clear(str(info.value), text)


def test_unidentified_raster_says_what_is_readable(tmp_path: Path) -> None:
    path = tmp_path / "x.bmp"
    path.write_bytes(b"BM" + b"\x00" * 10)
    with pytest.raises(ImageReadError) as info:
        load_image(path)
    assert_clear(str(info.value), path)
    buffer = io.BytesIO()
    Image.fromarray(np.zeros((8, 8), np.uint8)).save(buffer, format="PNG")
    ok = tmp_path / "ok.png"
    ok.write_bytes(buffer.getvalue())
    assert load_image(ok).width == 8


def test_scan_command_refuses_dev_zero_quickly() -> None:
    if not Path("/dev/zero").exists():
        pytest.skip("no /dev/zero")
    raresight = Path(sys.executable).parent / "raresight"
    run = subprocess.run([str(raresight), "scan", "/dev/zero"], capture_output=True, text=True, timeout=60)
    assert run.returncode == 1 and "Traceback" not in run.stdout + run.stderr
    assert "FAIL  /dev/zero: is a character device" in run.stdout
