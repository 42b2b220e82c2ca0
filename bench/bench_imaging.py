"""Images read per second: 512x512 CT DICOM files and a folder of 200 PNGs.

Each figure comes with a baseline run in the same process over the same files: bare decoding
(pydicom ``dcmread(...).pixel_array``; Pillow ``Image.open`` + ``np.asarray``). ``ratio`` is
RareSight's rate over the baseline's: what the viewer pipeline (modality LUT, window, hashing,
metadata) costs on top of decoding.

    .venv/bin/python bench/bench_imaging.py --out bench/results/imaging.json
"""

from __future__ import annotations

import argparse
import platform
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pydicom
import pydicom.data
from PIL import Image

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

from bench_json import emit  # noqa: E402

from core.imaging import load_image  # noqa: E402

SHARED_DICOM = REPO.parent / "shared" / "data" / "dicom"


def ct_512_files() -> list[Path]:
    """512x512 CT files bundled in pydicom, plus those of ../shared/data/dicom when present."""
    roots = [Path(pydicom.data.__file__).parent / "test_files"]
    if SHARED_DICOM.is_dir():
        roots.append(SHARED_DICOM)
    found = []
    for root in roots:
        for path in sorted(root.rglob("*.dcm")):
            try:
                ds = pydicom.dcmread(path, stop_before_pixels=True)
                pydicom.dcmread(path).pixel_array  # noqa: B018 - only files that decode at all
            except Exception:  # noqa: BLE001 - skip what cannot be decoded
                continue
            if ds.get("Modality") == "CT" and ds.get("Rows") == 512 and ds.get("Columns") == 512:
                found.append(path)
    return found


def make_pngs(folder: Path, count: int = 200, size: int = 512) -> list[Path]:
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:size, 0:size]
    base = (127 + 100 * np.sin(xx / 37.0) * np.cos(yy / 23.0)).astype(np.float32)
    paths = []
    for index in range(count):
        image = np.clip(base + rng.normal(0, 12, base.shape), 0, 255).astype(np.uint8)
        path = folder / f"image_{index:03d}.png"
        Image.fromarray(image).save(path)
        paths.append(path)
    return paths


def rate(read: Callable[[Path], object], files: list[Path], min_reads: int) -> dict[str, float]:
    """Reads per second over ``files``, repeated until at least ``min_reads`` reads."""
    rounds = max(1, -(-min_reads // len(files)))
    read(files[0])  # warm caches and imports
    start = time.perf_counter()
    for _ in range(rounds):
        for path in files:
            read(path)
    seconds = time.perf_counter() - start
    return {"reads": rounds * len(files), "seconds": round(seconds, 4), "images_per_second": round(rounds * len(files) / seconds, 1)}


def bare_pydicom(path: Path) -> object:
    return pydicom.dcmread(path).pixel_array


def bare_pillow(path: Path) -> object:
    with Image.open(path) as image:
        return np.asarray(image)


def compare(
    name: str, files: list[Path], ours: Callable[[Path], object], baseline: Callable[[Path], object], min_reads: int
) -> dict[str, object]:
    base = rate(baseline, files, min_reads)
    mine = rate(ours, files, min_reads)
    return {
        "set": name,
        "files": len(files),
        "raresight": mine,
        "baseline": base,
        "ratio": round(mine["images_per_second"] / base["images_per_second"], 3),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, help="write the JSON here too")
    parser.add_argument("--min-reads", type=int, default=200)
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    results = []
    cts = ct_512_files()
    if cts:
        results.append(compare("ct_512", cts, load_image, bare_pydicom, args.min_reads))
        uncompressed = [p for p in cts if not pydicom.dcmread(p, stop_before_pixels=True).file_meta.TransferSyntaxUID.is_compressed]
        if uncompressed:
            results.append(compare("ct_512_uncompressed", uncompressed, load_image, bare_pydicom, args.min_reads))
    with tempfile.TemporaryDirectory() as folder:
        pngs = make_pngs(Path(folder))
        results.append(compare("png_512_grey_x200", pngs, load_image, bare_pillow, args.min_reads))
    report = {
        "benchmark": "imaging",
        "machine": {"python": platform.python_version(), "cpus": __import__("os").cpu_count()},
        "ct_files": [p.name for p in cts],
        "results": results,
    }
    emit(report, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
