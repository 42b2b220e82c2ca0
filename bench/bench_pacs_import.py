"""``raresight pacs import`` of a 100-instance study from a local Orthanc: wall time and peak memory.

Starts Debian's Orthanc on a free loopback port (as the tests do, ``tests/orthanc.py``), uploads one
study of one series made from pydicom's CT_small.dcm (128 x 128, 16-bit) with new UIDs for every
instance, then runs the command in a child process per repeat, each into a new project. Measured:
wall time of the child, its peak resident memory (``resource.getrusage(RUSAGE_CHILDREN).ru_maxrss``,
read after each child: the maximum over the children so far, so repeats report the largest), the
project file size, and a second import of the same study (every instance skipped as a duplicate).

Usage::

    .venv/bin/python bench/bench_pacs_import.py --instances 100 --out bench/results/pacs-import.json
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

from bench_json import git_provenance, write_json  # noqa: E402

from core.store import Project  # noqa: E402
from tests.core.pacs.helpers import make_study  # noqa: E402
from tests.orthanc import start_orthanc  # noqa: E402

CLI = [sys.executable, "-c", "import sys; from app.cli import main; sys.exit(main())"]


def run_import(project: Path, url: str, study_uid: str) -> dict[str, Any]:
    """One ``raresight pacs import`` in a child process: its wall time, exit code, last line and peak RSS so far."""
    started = time.perf_counter()
    done = subprocess.run(
        [*CLI, "pacs", "import", str(project), url, "--study", study_uid],
        capture_output=True,
        text=True,
        cwd=REPO,
        env={k: v for k, v in os.environ.items() if not k.startswith("RARESIGHT_PACS_")},
        timeout=600,
    )
    wall = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"raresight pacs import failed ({done.returncode}): {done.stderr.strip()}")
    peak_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss  # KiB on Linux
    return {"wall_s": round(wall, 3), "output": done.stdout.strip(), "peak_rss_children_mib": round(peak_kib / 1024, 1)}


def run(instances: int, repeat: int, workdir: Path) -> dict[str, Any]:
    server = start_orthanc(workdir / "orthanc")
    try:
        study = make_study(workdir / "study", [["CT_small.dcm"] * instances], date="20240101", description="bench", accession="BENCH-1")
        started = time.perf_counter()
        server.upload(study.files)
        upload_s = time.perf_counter() - started
        runs, again = [], None
        for index in range(repeat):
            project = workdir / f"p{index}.raresight"
            Project.create(project).close()
            runs.append(run_import(project, server.url, study.uid))
            with Project.open(project, readonly=True) as opened:
                images = opened.info().images
            if images != instances:
                raise SystemExit(f"expected {instances} images in the project, found {images}")
            if index == 0:
                again = run_import(project, server.url, study.uid)
        size = (workdir / "p0.raresight").stat().st_size
    finally:
        server.stop()
    walls = [r["wall_s"] for r in runs]
    return {
        "bench": "pacs-import",
        "command": " ".join([Path(sys.executable).name, *sys.argv]),
        "git": git_provenance(REPO),
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count(), "platform": platform.platform()},
        "server": "Orthanc (Debian package) with its DICOMweb plugin, on 127.0.0.1",
        "study": {
            "instances": instances,
            "series": 1,
            "source": "pydicom CT_small.dcm (128 x 128, 16-bit, uncompressed), new UIDs per instance",
            "bytes": sum(f.stat().st_size for f in study.files),
            "upload_s": round(upload_s, 3),
        },
        "what": "wall time of the whole child process (Python start, imports, search, retrieve, decode, "
        "de-identify, one transaction); peak RSS = ru_maxrss of the children (the largest child so far)",
        "import": {
            "repeat": repeat,
            "wall_s_median": round(statistics.median(walls), 3),
            "wall_s": walls,
            "per_instance_ms_median": round(1000 * statistics.median(walls) / instances, 2),
            "peak_rss_mib": max(r["peak_rss_children_mib"] for r in runs),
            "output": runs[0]["output"],
        },
        "second_import_all_duplicates": again,
        "project_file_bytes": size,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--instances", type=int, default=100)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench_pacs_") as tmp:
        print(write_json(run(args.instances, args.repeat, Path(tmp)), args.out))


if __name__ == "__main__":
    main()
