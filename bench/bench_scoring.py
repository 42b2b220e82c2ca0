"""Batch scoring throughput and memory.

1. Throughput: images scored per second by the scoring pipeline (decode, embed, classify, explain)
   against the backbone's bare forward pass over the same images, already decoded and resized, in
   the same process (the limit for this machine). Both with the model's views (flip TTA doubles
   the forward passes) and with a single view.
2. Memory: resident memory while scoring N images into a CSV file, sampled every 0.2 s: the peak,
   and the resident size at 10 %, 50 % and 100 % of the run (it must not grow with N).

    .venv/bin/python bench/bench_scoring.py --images 10000 --out bench/results/scoring.json
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

from bench_json import emit  # noqa: E402

from core.demo import DEMO_CLASSES, render_cell  # noqa: E402
from core.embedding import load_backbone  # noqa: E402
from core.embedding.preprocess import to_model_input  # noqa: E402
from core.imaging import load_image  # noqa: E402
from core.scoring.output import open_sink  # noqa: E402
from core.scoring.pipeline import load_project_model, score_images  # noqa: E402
from core.scoring.records import ScoreRow  # noqa: E402
from core.store import Project  # noqa: E402


def rss_mb() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def make_images(folder: Path, count: int, size: int) -> list[Path]:
    rng = np.random.default_rng(0)
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for index in range(count):
        kind = DEMO_CLASSES[index % len(DEMO_CLASSES)]
        path = folder / f"{index:05d}_{kind.replace(' ', '_')}.png"
        Image.fromarray(render_cell(kind, rng, size)).save(path)
        paths.append(path)
    return paths


def adapted_project(root: Path, images: list[Path], budget_s: float) -> Path:
    """Five labelled examples per class, adapted in another process: this one only scores, as the CLI does."""
    path = root / "bench.raresight"
    with Project.create(path) as project:
        project.add_images(images[: 5 * len(DEMO_CLASSES)])
        for kind in DEMO_CLASSES:
            ids, _ = project.find_images([p for p in images[: 5 * len(DEMO_CLASSES)] if kind.replace(" ", "_") in p.name])
            project.label([i for found in ids.values() for i in found], kind)
    raresight = Path(sys.executable).parent / "raresight"
    subprocess.run([str(raresight), "adapt", str(path), "--budget-s", str(budget_s)], check=True, capture_output=True)
    return path


def bare_forward(paths: list[Path], views: int, batch: int = 32) -> float:
    """Images per second through lower + upper on pre-decoded inputs (decode excluded)."""
    backbone = load_backbone("efficientnet-lite0")
    inputs = np.stack([to_model_input(load_image(p).display, backbone.input_size) for p in paths])
    start = time.perf_counter()
    with torch.inference_mode():
        for i in range(0, len(inputs), batch):
            x = torch.from_numpy(inputs[i : i + batch])
            for view in [x, torch.flip(x, dims=[3])][:views]:
                _low, act = backbone.lower(view)
                backbone.upper(act)
    return len(paths) / (time.perf_counter() - start)


def pipeline_rate(model: object, paths: list[Path]) -> float:
    start = time.perf_counter()
    rows = [r for r in score_images(model, [str(p) for p in paths]) if isinstance(r, ScoreRow)]  # type: ignore[arg-type]
    assert len(rows) == len(paths)
    return len(paths) / (time.perf_counter() - start)


def memory_run(model: object, paths: list[Path], out: Path) -> dict[str, float]:
    samples: list[tuple[float, float]] = []
    done = [0]
    stop = threading.Event()

    def sample() -> None:
        while not stop.is_set():
            samples.append((done[0] / len(paths), rss_mb()))
            time.sleep(0.2)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    sink = open_sink(out, model.classes)  # type: ignore[attr-defined]
    pending: list[ScoreRow] = []
    start = time.perf_counter()
    for item in score_images(model, [str(p) for p in paths]):  # type: ignore[arg-type]
        done[0] += 1
        if isinstance(item, ScoreRow):
            pending.append(item)
        if len(pending) >= 32:
            sink.append(pending)
            pending = []
    sink.append(pending)
    sink.close()
    seconds = time.perf_counter() - start
    stop.set()
    sampler.join()

    def at(fraction: float) -> float:
        return next((mb for f, mb in samples if f >= fraction), samples[-1][1])

    return {
        "images": len(paths),
        "seconds": round(seconds, 1),
        "images_per_second": round(len(paths) / seconds, 1),
        "peak_rss_mb": round(max(mb for _, mb in samples), 1),
        "rss_mb_at_10pct": round(at(0.1), 1),
        "rss_mb_at_50pct": round(at(0.5), 1),
        "rss_mb_at_100pct": round(at(1.0), 1),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=10_000, help="images for the memory run")
    parser.add_argument("--throughput-images", type=int, default=256)
    parser.add_argument("--size", type=int, default=224, help="side of the generated images, pixels")
    parser.add_argument("--budget-s", type=float, default=20.0)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        os.environ["RARESIGHT_CACHE_DIR"] = str(root / "cache")
        images = make_images(root / "images", max(args.images, args.throughput_images) + 25, args.size)
        with Project.open(adapted_project(root, images, args.budget_s), readonly=True) as project:
            model = load_project_model(project)
        rss_before = rss_mb()
        sample = images[25 : 25 + args.throughput_images]
        views = 2 if model.classifier._config.flip else 1
        bare_views = bare_forward(sample, views)
        bare_single = bare_forward(sample, 1)
        os.environ["RARESIGHT_CACHE_DIR"] = str(root / "cache-throughput")  # nothing cached: real work
        rate = pipeline_rate(model, sample)
        os.environ["RARESIGHT_CACHE_DIR"] = str(root / "cache-memory")
        memory = memory_run(model, images[25 : 25 + args.images], root / "scores.csv")
    report = {
        "benchmark": "scoring",
        "torch_threads": torch.get_num_threads(),
        "input_size": 224,
        "image_side": args.size,
        "views": views,
        "adapted": bool(model.classifier.adapted_),
        "throughput": {
            "images": args.throughput_images,
            "pipeline_images_per_second": round(rate, 1),
            "bare_forward_same_views_images_per_second": round(bare_views, 1),
            "bare_forward_single_view_images_per_second": round(bare_single, 1),
            "ratio_to_bare_forward_same_views": round(rate / bare_views, 3),
            "ratio_to_bare_forward_single_view": round(rate / bare_single, 3),
        },
        "memory": {"rss_mb_before_scoring": round(rss_before, 1), **memory},
    }
    emit(report, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
