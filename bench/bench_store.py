"""Scale of the project file: import rate, open time, time to label one image, file size per image.

Images are synthetic metadata rows (a content hash, a path, a size, a modality, and a real 96 px
PNG thumbnail drawn from a pool of smooth noise images), inserted through ``Project.add_records``
with a class, so every image also gets a label row and its audit row. Decoding 100,000 real images
is the imaging benchmark's business, not this one's.

It also records what lies beside the file while it is open (the ``-wal`` size after the last import
commit) and whether the ``.raresight`` file copied alone, with the project still open, holds every
committed image: the file must be complete on its own after every commit.

Usage::

    .venv/bin/python bench/bench_store.py --images 100000 --out bench/results/store.json
"""

from __future__ import annotations

import argparse
import hashlib
import io
import os
import platform
import random
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageFilter

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

from bench_json import git_provenance, write_json  # noqa: E402

from core.store import ImageRecord, Project  # noqa: E402

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


def count_images(path: Path) -> int:
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return int(conn.execute("SELECT COUNT(*) FROM images").fetchone()[0])
    finally:
        conn.close()


def copied_alone(path: Path) -> dict[str, Any]:
    """The side files beside the open project, and how many images a copy of the file alone holds."""
    wal = Path(f"{path}-wal")
    copy_dir = Path(tempfile.mkdtemp(prefix="bench_store_copy_"))
    try:
        copy = copy_dir / path.name
        shutil.copyfile(path, copy)
        images_in_copy = count_images(copy)
    finally:
        shutil.rmtree(copy_dir, ignore_errors=True)
    return {"wal_bytes_while_open": wal.stat().st_size if wal.exists() else 0, "images_in_file_copied_alone": images_in_copy}


def small_batches_copied_alone(folder: Path, n_images: int, batch: int, pool: list[bytes]) -> dict[str, Any]:
    """Import in the batches ``raresight project add`` commits (32), copying the file alone after each."""
    path = folder / "small_batches.raresight"
    short = 0
    began = time.perf_counter()
    with Project.create(path, actor="bench") as project:
        for start in range(0, n_images, batch):
            project.add_records(synthetic_records(start, min(batch, n_images - start), pool), class_name=CLASSES[0])
            short += count_images_alone(path) < start + min(batch, n_images - start)
    seconds = time.perf_counter() - began
    for leftover in folder.glob(path.name + "*"):
        leftover.unlink()
    return {
        "images": n_images,
        "batch_size": batch,
        "commits_missing_from_file_copied_alone": short,
        "seconds_incl_copies": round(seconds, 2),
    }


def count_images_alone(path: Path) -> int:
    """Images in the project file read alone, as a copy without its -wal would hold them."""
    conn = sqlite3.connect(f"file:{path}?mode=ro&immutable=1", uri=True)
    try:
        return int(conn.execute("SELECT COUNT(*) FROM images").fetchone()[0])
    finally:
        conn.close()


def use_rollback_journal() -> None:
    """The alternative to a checkpoint after each commit, measured for comparison: a rollback journal."""
    from core.store import db

    configure = db._configure

    def rollback_journal(conn: sqlite3.Connection, readonly: bool) -> None:
        configure(conn, readonly)
        if not readonly:
            conn.execute("PRAGMA journal_mode = DELETE")

    db._configure = rollback_journal
    if hasattr(db, "checkpoint"):
        db.checkpoint = lambda conn: True


def bench_import(path: Path, n_images: int, batch: int, pool: list[bytes]) -> dict[str, Any]:
    insert_seconds = 0.0
    with Project.create(path, actor="bench") as project:
        for start in range(0, n_images, batch):
            records = synthetic_records(start, min(batch, n_images - start), pool)
            began = time.perf_counter()
            project.add_records(records, class_name=CLASSES[(start // batch) % len(CLASSES)])
            insert_seconds += time.perf_counter() - began
        alone = copied_alone(path)
    return {
        "images": n_images,
        "batch_size": batch,
        "seconds": round(insert_seconds, 2),
        "images_per_s": round(n_images / insert_seconds),
        "rows_per_s": round(4 * n_images / insert_seconds),
        "rows_per_image": "image + thumbnail + label + label audit row (plus one audit row per batch)",
        "after_last_commit": alone,
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
        synchronous = {1: "NORMAL", 2: "FULL"}.get(int(project._db.conn.execute("PRAGMA synchronous").fetchone()[0]), "?")
    return {
        "label_one_image": _ms(label_times),
        "undo": _ms(undo_times),
        "redo": _ms(redo_times),
        "undo_state": _ms(state_times),
        "synchronous": synchronous,
        "syncs": "every label is fsynced before the call returns (WAL at COMMIT with FULL; WAL then file in the checkpoint)",
    }


#: The label-commit variants compared on one open project: (journal mode, synchronous, checkpoint, anchor).
COMMIT_VARIANTS = {
    "as_before_wal_sync_full_no_checkpoint": ("WAL", 2, False, False),
    "wal_sync_normal_checkpoint": ("WAL", 1, True, False),
    "wal_sync_normal_checkpoint_anchor": ("WAL", 1, True, True),
    "rollback_journal_delete_sync_normal": ("DELETE", 1, False, False),
    "rollback_journal_delete_sync_full": ("DELETE", 2, False, False),
}


def bench_commit_variants(path: Path, n_images: int, rounds: int, seed: int) -> dict[str, Any] | None:
    """A label's cost under each way of keeping the file whole, interleaved on one open project.

    Each round runs every variant in turn (one untimed label first, to settle what the variant before
    left), so a busy machine's slow spells and slow fsyncs fall on every variant alike. None when this
    checkout does not checkpoint after commits (the store before the change).
    """
    from core.store import db

    if not checkpoints_after_commit():
        return None
    rng = random.Random(seed)
    real_checkpoint = db.checkpoint
    times: dict[str, list[float]] = {name: [] for name in COMMIT_VARIANTS}
    with Project.open(path, actor="bench") as project:
        anchor, conn = project._db.after_commit, project._db.conn

        def label() -> None:
            project.label([rng.randint(1, n_images)], rng.choice(CLASSES))

        try:
            for _ in range(rounds):
                for name, (journal, synchronous, checkpoint, anchored) in COMMIT_VARIANTS.items():
                    conn.execute(f"PRAGMA journal_mode = {journal}")
                    conn.execute(f"PRAGMA synchronous = {synchronous}")
                    db.checkpoint = real_checkpoint if checkpoint else (lambda conn: True)
                    project._db.after_commit = anchor if anchored else None
                    label()
                    times[name] += timed(label, 4)
        finally:
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA synchronous = NORMAL")
            db.checkpoint, project._db.after_commit = real_checkpoint, anchor
    return {name: _ms(values) for name, values in times.items()}


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


def checkpoints_after_commit() -> bool:
    from core.store import db

    return getattr(db.checkpoint, "__module__", "") == "core.store.db" if hasattr(db, "checkpoint") else False


def journal_mode(folder: Path) -> str:
    """The journal mode a freshly opened project uses (what this checkout's store sets)."""
    probe = folder / "journal_probe.raresight"
    with Project.create(probe, actor="bench") as project:
        mode = str(project._db.conn.execute("PRAGMA journal_mode").fetchone()[0])
    for leftover in folder.glob(probe.name + "*"):
        leftover.unlink()
    return mode


def run(n_images: int, workdir: Path | None, batch: int, repeat: int, seed: int) -> dict[str, Any]:
    root = Path(workdir or tempfile.mkdtemp(prefix="bench_store_"))
    root.mkdir(parents=True, exist_ok=True)
    path = root / "bench.raresight"
    for leftover in root.glob(path.name + "*"):
        leftover.unlink()
    pool = thumbnail_pool(64, seed)
    result: dict[str, Any] = {
        "command": " ".join([Path(sys.executable).name, *sys.argv]),
        "git": git_provenance(REPO),
        "journal": {"mode": journal_mode(path.parent), "checkpoint_after_each_commit": checkpoints_after_commit()},
        "machine": {
            "python": platform.python_version(),
            "sqlite": sqlite3.sqlite_version,
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
        },
        "import": bench_import(path, n_images, batch, pool),
    }
    result["small_batches"] = small_batches_copied_alone(root, min(n_images, 3200), 32, pool)
    result["open"] = bench_open(path, repeat=10)
    result["label"] = bench_label(path, n_images, repeat, seed)
    result["label_by_commit_variant"] = bench_commit_variants(path, n_images, rounds=max(repeat // 8, 4), seed=seed)
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
    parser.add_argument(
        "--rollback-journal", action="store_true", help="measure the alternative: journal_mode DELETE instead of WAL + checkpoint"
    )
    args = parser.parse_args()
    if args.rollback_journal:
        use_rollback_journal()
    result = run(args.images, args.workdir, args.batch, args.repeat, args.seed)
    print(write_json(result, args.out, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
