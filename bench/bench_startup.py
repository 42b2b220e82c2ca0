"""Start-up cost of the commands that compute nothing, against ``python -c "import torch"``.

Each command runs as a fresh process (``python -m app.cli ...``) several times; its CPU time (user +
system, from ``resource.getrusage(RUSAGE_CHILDREN)``) and wall time are recorded, and the medians
are divided by those of the baseline ``python -c "import torch"`` measured in the same run. Target
(issue 15): ``--version`` and ``project info`` at most 15 % of the baseline's CPU time.

The project for ``project info`` is the built-in demo project (it has an adapted model and its
accuracy estimate), grown to ``--images`` images with synthetic rows, as a user's project would be.

Usage::

    .venv/bin/python bench/bench_startup.py --out bench/results/startup-after.json
    # the code of another commit, with this checkout's environment:
    git worktree add /tmp/before 0271e5e
    .venv/bin/python bench/bench_startup.py --code /tmp/before --out bench/results/startup-before.json
"""

from __future__ import annotations

import argparse
import datetime
import hashlib
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
sys.path.insert(0, str(REPO / "bench"))

from bench_json import write_json  # noqa: E402

TARGET_RATIO = 0.15


def run_cpu(command: list[str], env: dict[str, str], cwd: Path) -> tuple[float, float]:
    """(CPU seconds, wall seconds) of one child process run to its end."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run(command, env=env, cwd=cwd, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(command)} exited {done.returncode}: {done.stderr[-2000:]}")
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime), wall


def code_env(code: Path) -> dict[str, str]:
    """The environment that makes ``python -m app.cli`` run the code in ``code``.

    PYTHONPATH comes before the editable install's finder, so a worktree's modules win.
    """
    env = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    env["PYTHONPATH"] = str(code)
    return env


def imported_from(code: Path, env: dict[str, str]) -> str:
    probe = "import app.cli, core.store; print(app.cli.__file__)"
    out = subprocess.run([sys.executable, "-c", probe], env=env, cwd=code, capture_output=True, text=True, check=True).stdout
    where = out.strip()
    if not Path(where).resolve().is_relative_to(code.resolve()):
        raise SystemExit(f"app.cli came from {where}, not from {code}: the measurement would be of the wrong code")
    return where


def git_state(code: Path) -> dict[str, Any]:
    """The commit of the checkout at ``code`` and whether tracked files differ from it (None, None for a copy)."""
    sys.path.insert(0, str(REPO))
    from core.evaluation.provenance import git_state as checkout_state

    commit, dirty = checkout_state(code, untracked=False)
    return {"commit": commit, "uncommitted_changes": dirty}


def make_project(folder: Path, images: int) -> Path:
    """The demo project (with its adapted model), grown to ``images`` images with synthetic rows."""
    sys.path.insert(0, str(REPO))
    from core.store import ImageRecord, Project

    demo = subprocess.run(
        [sys.executable, "-m", "app.cli", "demo", "--headless", "--out", str(folder / "demo"), "--budget-s", "2"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
    )
    if demo.returncode != 0:
        raise SystemExit(f"the demo project could not be made: {demo.stderr[-2000:]}")
    path = folder / "demo" / "demo.raresight"
    with Project.open(path, actor="bench") as project:
        extra = max(0, images - project.info().images)
        records = [
            ImageRecord(
                content_hash=hashlib.sha256(f"bench image {i}".encode()).hexdigest(),
                path=f"/data/studies/s{i // 500:04d}/img_{i:06d}.dcm",
                size_bytes=200_000,
                modality="CT",
                format="DICOM",
                rows=512,
                columns=512,
            )
            for i in range(extra)
        ]
        project.add_records(records)
    return path


def measure(commands: dict[str, list[str]], env: dict[str, str], cwd: Path, repeat: int) -> dict[str, dict[str, Any]]:
    for command in commands.values():  # warm the file cache, so no run pays for reading from disk
        run_cpu(command, env, cwd)
    samples: dict[str, list[tuple[float, float]]] = {name: [] for name in commands}
    for _ in range(repeat):  # interleaved, so that a slow spell of the machine hits every command alike
        for name, command in commands.items():
            samples[name].append(run_cpu(command, env, cwd))
    return {
        name: {
            "cpu_s_median": statistics.median(cpu for cpu, _ in runs),
            "wall_s_median": statistics.median(wall for _, wall in runs),
            "cpu_s": [round(cpu, 4) for cpu, _ in runs],
        }
        for name, runs in samples.items()
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--code", type=Path, default=REPO, help="checkout whose app/ and core/ to measure (default: this one)")
    parser.add_argument("--project", type=Path, help="project for 'project info' (default: the demo project, grown to --images)")
    parser.add_argument("--images", type=int, default=5000, help="images in the made project (default: %(default)s)")
    parser.add_argument("--repeat", type=int, default=7, help="runs per command; medians are reported (default: %(default)s)")
    parser.add_argument("--out", type=Path, required=True, help="JSON results file")
    parser.add_argument("--note", default="", help="a line kept in the JSON: what the measured code is")
    args = parser.parse_args()

    code = args.code.resolve()
    env = code_env(code)
    where = imported_from(code, env)
    with tempfile.TemporaryDirectory(prefix="bench-startup-") as temporary:
        project = args.project or make_project(Path(temporary), args.images)
        cli = [sys.executable, "-m", "app.cli"]
        commands = {
            "import torch (baseline)": [sys.executable, "-c", "import torch"],
            "raresight --version": [*cli, "--version"],
            "raresight --help": [*cli, "--help"],
            "raresight project info P": [*cli, "project", "info", str(project)],
        }
        results = measure(commands, env, code, args.repeat)
    baseline = results["import torch (baseline)"]["cpu_s_median"]
    for result in results.values():
        result["cpu_ratio_to_import_torch"] = round(result["cpu_s_median"] / baseline, 3)
    targets = ("raresight --version", "raresight project info P")
    report = {
        "bench": "startup",
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "code": {"path": str(code), "app_cli_imported_from": where, **git_state(code), "note": args.note},
        "project_images": args.images if args.project is None else None,
        "repeat": args.repeat,
        "cpu_time": "user + system seconds of the child process (resource.getrusage RUSAGE_CHILDREN); medians",
        "target": f"cpu_ratio_to_import_torch <= {TARGET_RATIO} for {', '.join(targets)}",
        "meets_target": all(results[name]["cpu_ratio_to_import_torch"] <= TARGET_RATIO for name in targets),
        "results": results,
        "machine": {"python": platform.python_version(), "platform": platform.platform(), "cpus": os.cpu_count()},
    }
    write_json(report, args.out, indent=1)
    for name, result in results.items():
        cpu, wall, ratio = result["cpu_s_median"], result["wall_s_median"], result["cpu_ratio_to_import_torch"]
        print(f"{name:28} cpu {cpu:.3f} s  wall {wall:.3f} s  ratio {ratio}")
    print(f"meets target (<= {TARGET_RATIO} of import torch): {report['meets_target']}; written {args.out}")


if __name__ == "__main__":
    main()
