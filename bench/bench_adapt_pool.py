"""Adapt with a pool of 500 unlabelled images on 2 cores: seconds (cold and warm cache) and peak memory.

    .venv/bin/python bench/bench_adapt_pool.py --out bench/results/adapt-pool.json

A project as a clinician has it: 5 labelled images of each of 4 classes of a development domain
(rbc-morphology by default) and 500 unlabelled images drawn from all its classes (labelled or not,
as a real project's are). Each configuration runs in its own child process (its peak RSS is its
own), with its own empty embedding cache: the cold adapt, then one more label and the warm adapt
(the second adapt after one more label). "without pool" is the same project adapted with
``use_unlabelled=False``: the baseline, measured in the same run, interleaved with the pool's runs.
Wall seconds, CPU seconds (less swayed by other work on the machine) and the phases (embedding the
pool, fitting, predicting) from the progress messages. Targets (issue 16): <= 60 s and
<= 2 GB peak for the adapt with the pool.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

from bench_json import emit, git_provenance  # noqa: E402

DEFAULT_DATA = REPO.parent / "shared" / "data" / "rbc-morphology"
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")


def class_folders(data: Path) -> dict[str, list[Path]]:
    return {
        d.name: sorted(p for p in d.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        for d in sorted(data.iterdir())
        if d.is_dir() and not d.name.startswith(".")
    }


def build_project(path: Path, data: Path, classes: int, shots: int, pool: int, seed: int) -> dict[str, Any]:
    """The project file: ``shots`` labelled per class of the first ``classes`` classes, ``pool`` unlabelled from all."""
    from core.store import Project

    rng = random.Random(seed)
    folders = class_folders(data)
    labelled = {name: rng.sample(files, shots) for name, files in list(folders.items())[:classes]}
    taken = {p for files in labelled.values() for p in files}
    rest = [p for files in folders.values() for p in files if p not in taken]
    unlabelled = rng.sample(rest, pool)
    with Project.create(path) as project:
        project.add_images([*taken, *unlabelled])
        for name, files in labelled.items():
            ids, _ = project.find_images(files)
            project.label([i for found in ids.values() for i in found], name)
    return {"labelled_classes": list(labelled), "labelled_per_class": shots, "unlabelled": len(unlabelled), "domain": data.name}


def one_configuration(project_path: Path, use_unlabelled: bool, method: str, budget_s: float) -> dict[str, Any]:
    """Cold adapt, one more label, warm adapt; in this (child) process, so ru_maxrss is this configuration's."""
    import torch

    torch.set_num_threads(2)
    from core.scoring.pipeline import adapt_project
    from core.store import Project

    out: dict[str, Any] = {}
    with Project.open(project_path) as project:
        for run in ("cold", "warm"):
            if run == "warm":  # the clinician labels one more image: the first unlabelled one gets its folder's class
                labels = project.labels()
                classes = set(labels.values())
                record = next(r for r in project.images() if r.id not in labels and Path(r.path).parent.name in classes)
                project.label([int(record.id or 0)], Path(record.path).parent.name)
            stamps: dict[str, float] = {}

            def progress(fraction: float, message: str, stamps: dict[str, float] = stamps) -> None:
                stage = "pool" if message.startswith("unlabelled images:") else "predict" if message.startswith("scored") else "fit"
                stamps.setdefault(stage + "_first", time.perf_counter())
                stamps[stage + "_last"] = time.perf_counter()

            cpu, start = _cpu_seconds(), time.perf_counter()
            result = adapt_project(project, budget_s=budget_s, use_unlabelled=use_unlabelled, pool_method=method, progress=progress)
            end = time.perf_counter()
            pool_end = stamps.get("pool_last", start)
            out[run] = {
                "seconds": round(end - start, 2),
                "cpu_seconds": round(_cpu_seconds() - cpu, 2),  # less swayed than wall time by other work on the machine
                # from the progress messages: embedding the pool, then fitting (support set, adaptation), then predicting
                "phases_seconds": {
                    "pool_embedding": round(pool_end - start, 2),
                    "fit": round(stamps.get("predict_first", end) - pool_end, 2),
                    "predicting": round(end - stamps.get("predict_first", end), 2),
                },
                "adaptation_seconds": round(result.seconds, 2),
                "adapted": result.adapted,
                "predictions": result.predictions,
                "pool_used": result.pool_used,
            }
    out["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)  # Linux: kB
    return out


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def child(args: argparse.Namespace) -> int:
    result = one_configuration(args.child, args.use_unlabelled == "yes", args.method, args.budget_s)
    print(json.dumps(result))
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="a folder-per-class development domain")
    parser.add_argument("--classes", type=int, default=4)
    parser.add_argument("--shots", type=int, default=5)
    parser.add_argument("--pool", type=int, default=500)
    parser.add_argument("--budget-s", type=float, default=20.0, help="adaptation budget, as the window's Adapt")
    parser.add_argument("--method", default="", help="pool method (default: the classifier's default, else soft-kmeans)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--repeats", type=int, default=2, help="runs of each configuration, interleaved")
    parser.add_argument("--out", type=Path)
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--use-unlabelled", choices=("yes", "no"), default="yes", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        return child(args)

    report: dict[str, Any] = {
        "command": " ".join([Path(sys.executable).name, *sys.argv]),
        "git": git_provenance(REPO),
    }
    if not args.data.is_dir():
        report["skipped"] = f"{args.data} does not exist: the development domains are not beside this checkout"
        emit(report, args.out, indent=1)
        return 0
    if not args.method:
        from core.fewshot.classifier import DEFAULT_POOL_METHOD

        args.method = DEFAULT_POOL_METHOD if DEFAULT_POOL_METHOD != "none" else "soft-kmeans"
    from core.scoring.pool import POOL_CAP

    report |= {"torch_threads": 2, "cpu_count": os.cpu_count(), "pool_cap": POOL_CAP, "method": args.method, "budget_s": args.budget_s}
    load_before = os.getloadavg()[0]
    runs: dict[str, list[dict[str, Any]]] = {"without_pool": [], "with_pool": []}
    for repeat in range(args.repeats):  # interleaved, so both configurations share the machine's load
        for name, use in (("without_pool", "no"), ("with_pool", "yes")):
            with tempfile.TemporaryDirectory(prefix="bench-adapt-pool-") as tmp:
                project = Path(tmp) / f"{name}.raresight"
                report["project"] = build_project(project, args.data, args.classes, args.shots, args.pool, args.seed)
                env = {**os.environ, "RARESIGHT_CACHE_DIR": str(Path(tmp) / "cache")}  # each starts cold
                command = [sys.executable, __file__, "--child", str(project), "--use-unlabelled", use, "--method", args.method]
                command += ["--budget-s", str(args.budget_s)]
                load = os.getloadavg()[0]
                done = subprocess.run(command, env=env, capture_output=True, text=True, check=True)
                runs[name].append({"repeat": repeat, "load_average_1min_before": load, **json.loads(done.stdout.strip().splitlines()[-1])})

    def best(name: str, run: str, key: str) -> float:  # the least disturbed of the repeats
        return float(min(r[run][key] for r in runs[name]))

    peak = max(r["peak_rss_mb"] for r in runs["with_pool"])
    worst_best = max(best("with_pool", "cold", "seconds"), best("with_pool", "warm", "seconds"))
    report |= {
        "load_average_1min": {"before": load_before, "after": os.getloadavg()[0]},
        "runs": runs,
        "best_seconds": {name: {run: best(name, run, "seconds") for run in ("cold", "warm")} for name in runs},
        "best_cpu_seconds": {name: {run: best(name, run, "cpu_seconds") for run in ("cold", "warm")} for name in runs},
        "with_over_without_cpu": {
            run: round(best("with_pool", run, "cpu_seconds") / best("without_pool", run, "cpu_seconds"), 3) for run in ("cold", "warm")
        },
        "targets": {"seconds_max": 60, "peak_rss_mb_max": 2048, "met": worst_best <= 60 and peak <= 2048},
    }
    emit(report, args.out, indent=1)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
