"""Scale of the project file: import rate, open time, time to label one image, file size per image.

Images are synthetic metadata rows (a content hash, a path, a size, a modality, and a real 96 px
PNG thumbnail drawn from a pool of smooth noise images), inserted through ``Project.add_records``
with a class, so every image also gets a label row and its audit row. Decoding 100,000 real images
is the imaging benchmark's business, not this one's.

Usage::

    .venv/bin/python bench/bench_store.py --images 100000 --out bench/results/store.json
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import os
import platform
import random
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageFilter

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from core.store import ImageRecord, Project

CLASSES = ("sarcoidosis", "histiocytosis", "amyloidosis", "normal", "other")
MODALITIES = ("CT", "MR", "CR", "DX", "US")


def thumbnail_pool(count: int, seed: int) -> list[bytes]:
    """PNG thumbnails (96 x 96, greyscale) of blurred noise: about what a medical thumbnail weighs."""
    rng = np.random.default_rng(seed)
    pool = []
    for _ in range(count):
        noise = Image.fromarray(rng.integers(0, 256, (96, 96), dtype=np.uint8)).filter(ImageFilter.GaussianBlur(2))
        buffer = io.BytesIO()
        noise.save(buffer, format="PNG", optimize=True)
        pool.append(buffer.getvalue())
    return pool


def synthetic_records(start: int, count: int, pool: list[bytes]) -> list[ImageRecord]:
    records = []
    for index in range(start, start + count):
        path = f"/data/studies/s{index // 500:04d}/img_{index:06d}.dcm"
        records.append(
            ImageRecord(
                content_hash=hashlib.sha256(f"image {index}".encode()).hexdigest(),
                path=path,
                imported_path=path,
                size_bytes=200_000 + index % 50_000,
                modality=MODALITIES[index % len(MODALITIES)],
                format="DICOM",
                rows=512,
                columns=512,
                thumbnail_png=pool[index % len(pool)],
            )
        )
    return records


def timed(function: Any, repeat: int) -> list[float]:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return times


def _ms(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    return {
        "median_ms": round(statistics.median(ordered) * 1000, 3),
        "p95_ms": round(ordered[int(0.95 * (len(ordered) - 1))] * 1000, 3),
        "max_ms": round(ordered[-1] * 1000, 3),
    }


def bench_import(path: Path, n_images: int, batch: int, pool: list[bytes]) -> dict[str, Any]:
    insert_seconds = 0.0
    with Project.create(path, actor="bench") as project:
        for start in range(0, n_images, batch):
            records = synthetic_records(start, min(batch, n_images - start), pool)
            began = time.perf_counter()
            project.add_records(records, class_name=CLASSES[(start // batch) % len(CLASSES)])
            insert_seconds += time.perf_counter() - began
    return {
        "images": n_images,
        "batch_size": batch,
        "seconds": round(insert_seconds, 2),
        "images_per_s": round(n_images / insert_seconds),
        "rows_per_s": round(4 * n_images / insert_seconds),
        "rows_per_image": "image + thumbnail + label + label audit row (plus one audit row per batch)",
    }


def bench_open(path: Path, repeat: int) -> dict[str, Any]:
    def open_close() -> None:
        Project.open(path).close()

    def open_info_close() -> None:
        with Project.open(path, readonly=True) as project:
            project.info()

    return {"open_close": _ms(timed(open_close, repeat)), "open_readonly_info_close": _ms(timed(open_info_close, repeat))}


def bench_label(path: Path, n_images: int, repeat: int, seed: int) -> dict[str, Any]:
    rng = random.Random(seed)
    with Project.open(path, actor="bench") as project:
        label_times = timed(lambda: project.label([rng.randint(1, n_images)], rng.choice(CLASSES)), repeat)
        undo_times = timed(project.undo, max(repeat // 10, 5))
        redo_times = timed(project.redo, max(repeat // 10, 5))
        state_times = timed(project.undo_state, 20)
    return {
        "label_one_image": _ms(label_times),
        "undo": _ms(undo_times),
        "redo": _ms(redo_times),
        "undo_state": _ms(state_times),
        "synchronous": "FULL (every label is fsynced before the call returns)",
    }


def bench_reads(path: Path) -> dict[str, Any]:
    with Project.open(path, readonly=True) as project:
        some_id = 12345 % project.info().images + 1
        out = {
            "info": _ms(timed(project.info, 3)),
            "labels_all": _ms(timed(project.labels, 3)),
            "images_all": _ms(timed(project.images, 3)),
            "thumbnail_one": _ms(timed(lambda: project.thumbnail(some_id), 20)),
        }
        began = time.perf_counter()
        findings = project.verify(check_files=False)
        out["verify_database_s"] = round(time.perf_counter() - began, 2)
        out["verify_findings"] = len(findings)
    return out


def file_sizes(path: Path, n_images: int, pool: list[bytes]) -> dict[str, Any]:
    total = path.stat().st_size + sum(p.stat().st_size for p in path.parent.glob(path.name + "-*"))
    thumbs = sum(len(pool[i % len(pool)]) for i in range(n_images))
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        counts = {t: conn.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0] for t in ("images", "labels", "steps", "audit")}
    finally:
        conn.close()
    return {
        "file_bytes": total,
        "bytes_per_image": round(total / n_images),
        "thumbnail_bytes_per_image": round(thumbs / n_images),
        "bytes_per_image_without_thumbnails": round((total - thumbs) / n_images),
        "rows": counts,
    }


def run(n_images: int, workdir: Path | None, batch: int, repeat: int, seed: int) -> dict[str, Any]:
    root = Path(workdir or tempfile.mkdtemp(prefix="bench_store_"))
    root.mkdir(parents=True, exist_ok=True)
    path = root / "bench.raresight"
    for leftover in root.glob(path.name + "*"):
        leftover.unlink()
    pool = thumbnail_pool(64, seed)
    result: dict[str, Any] = {
        "machine": {
            "python": platform.python_version(),
            "sqlite": sqlite3.sqlite_version,
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
        },
        "import": bench_import(path, n_images, batch, pool),
    }
    result["open"] = bench_open(path, repeat=10)
    result["label"] = bench_label(path, n_images, repeat, seed)
    result["reads"] = bench_reads(path)
    result["size"] = file_sizes(path, n_images, pool)
    result["targets"] = {
        "open_under_1s": result["open"]["open_close"]["median_ms"] < 1000,
        "label_under_10ms": result["label"]["label_one_image"]["median_ms"] < 10,
    }
    result["project_file"] = str(path)
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=int, default=100_000)
    parser.add_argument("--batch", type=int, default=1000, help="images per import transaction")
    parser.add_argument("--repeat", type=int, default=200, help="label calls to time")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workdir", type=Path, help="where to write the project (default: a new temporary folder)")
    parser.add_argument("--out", type=Path, help="write the JSON result here too")
    args = parser.parse_args()
    result = run(args.images, args.workdir, args.batch, args.repeat, args.seed)
    text = json.dumps(result, indent=1)
    print(text)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
