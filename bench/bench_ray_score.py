"""``raresight score --engine ray`` against ``--engine local``: throughput, driver overhead, worker memory.

One adapted project and N generated images (cached under /tmp), then, in the same run and in this
order, each as the real command in a subprocess with its own empty embedding cache:

    local            raresight score P IMAGES --out local.parquet
    ray, 1 worker    raresight score P IMAGES --out DIR --engine ray --workers 1   (starts a local Ray instance)
    ray, 2 workers   raresight score P IMAGES --out DIR --engine ray --workers 2

Recorded per run: wall time and images/s (process start to exit: everything a user waits for), the
ratio to local, the load average before and after (other work on the machine shows there), the
peak resident memory of the local process (os.wait4) or of each Ray worker (each actor reports its
own ru_maxrss), and the driver overhead of a Ray run: starting Ray, and the time to the first shard
(actors start, import torch and load the model). The Ray rows are checked against the local rows.

    .venv/bin/python bench/bench_ray_score.py --images 5000 --out bench/results/ray-score.json
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

from bench_json import emit, git_provenance, write_json  # noqa: E402

RARESIGHT = Path(sys.executable).parent / "raresight"
SUPPORT_PER_CLASS = 6


def make_images(folder: Path, count: int, size: int) -> Path:
    """``count`` synthetic cell PNGs of ``size`` pixels, made once and kept (a marker file says complete)."""
    import numpy as np
    from PIL import Image

    from core.demo import DEMO_CLASSES, render_cell

    done = folder / ".complete"
    if done.exists():
        return folder
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for index in range(count):
        kind = DEMO_CLASSES[index % len(DEMO_CLASSES)]
        Image.fromarray(render_cell(kind, rng, size)).save(folder / f"{index:05d}_{kind.replace(' ', '_')}.png")
    done.write_text(str(count))
    return folder


def run_measured(command: list[str], env: dict[str, str]) -> dict[str, Any]:
    """Run ``command``: wall seconds, exit code, load average around it, and the child's own peak resident
    memory from ``os.wait4`` (not mixed with earlier children's, as RUSAGE_CHILDREN would be)."""
    load_before = os.getloadavg()
    start = time.perf_counter()
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        child = subprocess.Popen(command, env=env, stdout=out, stderr=err, text=True)
        _, status, usage = os.wait4(child.pid, 0)
        wall = time.perf_counter() - start
        child.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        out_text, err_text = out.read(), err.read()
    return {
        "seconds": round(wall, 2),
        "code": child.returncode,
        "driver_peak_rss_mb": round(usage.ru_maxrss / 1024, 1),
        "driver_cpu_s": round(usage.ru_utime + usage.ru_stime, 1),  # local: all the work; ray: the driver's share
        "stdout_tail": out_text[-300:],
        "stderr_ray_lines": [line for line in err_text.splitlines() if line.startswith("ray:")],
        "loadavg_before": [round(x, 2) for x in load_before],
        "loadavg_after": [round(x, 2) for x in os.getloadavg()],
        "_stderr": err_text,
    }


def ray_figures(stderr: str) -> dict[str, Any]:
    """What the command printed about Ray: start, first shard, each worker's peak memory."""
    started = re.search(r"ray: \S+ .*? in ([0-9.]+) s; (\d+) worker\(s\), ([0-9.]+) CPU", stderr)
    first = re.search(r"ray: first shard after ([0-9.]+) s; peak memory per worker (\d+) MB \(([0-9, ]+)\)", stderr)
    if not started or not first:
        raise SystemExit(f"the ray run did not report its figures; its stderr:\n{stderr[-2000:]}")
    return {
        "ray_start_s": float(started.group(1)),
        "workers": int(started.group(2)),
        "cpus_per_worker": float(started.group(3)),
        "first_shard_s": float(first.group(1)),
        "worker_peak_rss_mb": [float(x) for x in first.group(3).split(",")],
    }


def compare(local: Path, shards: Path) -> dict[str, Any]:
    """Rows per path: how many differ at all, and the largest difference of a float column."""
    import pyarrow.dataset as ds
    import pyarrow.parquet as pq

    a = {r["path"]: r for r in pq.read_table(local).to_pylist()}
    b = {r["path"]: r for r in ds.dataset(shards, format="parquet").to_table().to_pylist()}
    worst, differ, other = 0.0, 0, 0
    for path, row in a.items():
        theirs = b.get(path)
        if theirs is None:
            other += 1
            continue
        differ += row != theirs
        for column, value in row.items():
            if isinstance(value, float) and isinstance(theirs[column], float):
                worst = max(worst, abs(value - theirs[column]))
            elif value != theirs[column]:
                other += 1
    return {"rows_local": len(a), "rows_ray": len(b), "rows_not_identical": differ, "max_float_diff": worst, "non_float_mismatches": other}


def setup_project(work: Path, env: dict[str, str]) -> Path:
    """A project adapted to SUPPORT_PER_CLASS labelled demo images per class (not among the scored ones)."""
    from core.demo import write_demo_images

    project = work / "bench.raresight"
    if project.exists():
        project.unlink()
    support = write_demo_images(work / "support", per_class=SUPPORT_PER_CLASS, seed=99, size=128)
    subprocess.run([str(RARESIGHT), "project", "create", str(project)], env=env, check=True, capture_output=True)
    for kind, paths in support.items():
        add = [str(RARESIGHT), "project", "add", str(project), *map(str, paths), "--class", kind]
        subprocess.run(add, env=env, check=True, capture_output=True)
    subprocess.run([str(RARESIGHT), "adapt", str(project), "--budget-s", "5"], env=env, check=True, capture_output=True)
    return project


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=int, default=5000)
    parser.add_argument("--size", type=int, default=256, help="image side in pixels (default %(default)s)")
    parser.add_argument("--batch-size", type=int, default=256, help="files per shard (default %(default)s)")
    parser.add_argument("--work", type=Path, default=Path("/tmp/raresight-bench-ray"))
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()

    work = args.work
    images = make_images(work / f"images-{args.images}-{args.size}", args.images, args.size)
    base = {**os.environ, "RARESIGHT_DATA_DIR": str(work / "data"), "RARESIGHT_LOG_DIR": str(work / "logs")}
    base["RARESIGHT_CONFIG_DIR"] = str(work / "config")
    project = setup_project(work, {**base, "RARESIGHT_CACHE_DIR": str(work / "cache-setup")})

    runs: dict[str, Any] = {}
    outputs = {"local": work / "local.parquet", "ray_1_worker": work / "ray-1", "ray_2_workers": work / "ray-2"}
    for name, out in outputs.items():
        shutil.rmtree(out, ignore_errors=True) if out.is_dir() else out.unlink(missing_ok=True)
        cache = work / f"cache-{name}"
        shutil.rmtree(cache, ignore_errors=True)  # every run embeds every image: no run reads another's cache
        command = [str(RARESIGHT), "score", str(project), str(images), "--out", str(out)]
        if name != "local":
            command += ["--engine", "ray", "--workers", name.split("_")[1], "--batch-size", str(args.batch_size)]
        print(f"{name}: {' '.join(command[1:])}", file=sys.stderr)
        result = run_measured(command, {**base, "RARESIGHT_CACHE_DIR": str(cache)})
        stderr = result.pop("_stderr")
        if result["code"] != 0:
            raise SystemExit(f"{name} failed ({result['code']}):\n{stderr[-3000:]}")
        result["images_per_s"] = round(args.images / result["seconds"], 2)
        if name != "local":
            result |= ray_figures(stderr)
            result["rows_vs_local"] = compare(outputs["local"], out)
        runs[name] = result
        print(f"{name}: {result['seconds']} s, {result['images_per_s']} images/s", file=sys.stderr)
        if args.out:  # what is measured so far, in case a later run is cut short
            write_json({"bench": "ray-score", "partial": True, "images": args.images, "runs": runs}, args.out)

    local_rate = runs["local"]["images_per_s"]
    for name in ("ray_1_worker", "ray_2_workers"):
        runs[name]["ratio_to_local"] = round(runs[name]["images_per_s"] / local_rate, 3)
    two = runs["ray_2_workers"]
    per_worker = (args.images / max(two["seconds"] - two["first_shard_s"], 1e-9)) / two["workers"]
    report = {
        "bench": "ray-score",
        "command": " ".join([Path(sys.executable).name, *sys.argv]),
        **git_provenance(REPO),
        "machine": {"cpus": os.cpu_count(), "python": sys.version.split()[0]},
        "images": args.images,
        "image_size": args.size,
        "batch_size": args.batch_size,
        "runs": runs,
        "targets": {
            "ray_2_workers_ratio_to_local_min": 0.8,
            "ray_2_workers_ratio_to_local": two["ratio_to_local"],
            "worker_peak_rss_mb_max": 1536,
            "worker_peak_rss_mb": max(max(runs[n]["worker_peak_rss_mb"]) for n in ("ray_1_worker", "ray_2_workers")),
        },
        "projection": {
            "per_worker_images_per_s": round(per_worker, 2),
            "driver_overhead_s": round(two["first_shard_s"], 2),
            "note": "steady state of the 2-worker run (after its first shard) per worker, at 1 CPU each",
        },
    }
    emit(report, args.out)


if __name__ == "__main__":
    main()
