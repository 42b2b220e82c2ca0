"""Seconds per ``raresight eval`` episode, frozen against adapted, and what a default run would take.

    .venv/bin/python bench/eval_episode_cost.py --out bench/results/eval-episode-cost.json

The figure behind the default of ``eval --adapt``: generated demo images (5 classes, no data
needed), the real default backbone, torch on 2 threads, the default 5-way 15-query episodes.
Each episode's wall time is read from the runner's progress callback, in one process, so the
frozen and adapted figures share the machine's load at the time.
"""

from __future__ import annotations

import argparse
import itertools
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

from bench_json import emit, git_provenance  # noqa: E402


def episode_seconds(dataset: Path, shots: int, episodes: int, adapt: str) -> list[float]:
    """Wall seconds of each episode, from the runner's per-episode progress (the model is loaded before)."""
    from core.evaluation import evaluate

    stamps: list[float] = []

    def episode_progress(done: int, total: int, message: str) -> None:
        stamps.append(time.perf_counter())

    evaluate(dataset, ways=5, shots=(shots,), queries=15, episodes=episodes, adapt=adapt, episode_progress=episode_progress)  # type: ignore[arg-type]
    return [b - a for a, b in itertools.pairwise(stamps)]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frozen-episodes", type=int, default=20)
    parser.add_argument("--adapted-episodes", type=int, default=4)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    import torch

    from core.demo.synthetic import write_demo_images

    torch.set_num_threads(2)
    load_before = os.getloadavg()[0]  # other work on the machine slows adaptation far more than frozen episodes
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["RARESIGHT_CACHE_DIR"] = str(Path(tmp) / "cache")
        write_demo_images(Path(tmp) / "data", per_class=21)
        frozen_1 = episode_seconds(Path(tmp) / "data", 1, args.frozen_episodes, "none")
        frozen_5 = episode_seconds(Path(tmp) / "data", 5, args.frozen_episodes, "none")
        adapted_5 = episode_seconds(Path(tmp) / "data", 5, args.adapted_episodes, "auto")
    mean = {name: sum(v) / len(v) for name, v in (("frozen_1shot", frozen_1), ("frozen_5shot", frozen_5), ("adapted_5shot", adapted_5))}
    default_episodes = 300
    report: dict[str, Any] = {
        "command": " ".join([Path(sys.executable).name, *sys.argv]),
        "git": git_provenance(REPO),
        "torch_threads": 2,
        "cpu_count": os.cpu_count(),
        "load_average_1min": {"before": load_before, "after": os.getloadavg()[0]},
        "seconds_per_episode": mean,
        "adapted_over_frozen_5shot": mean["adapted_5shot"] / mean["frozen_5shot"],
        # shots 1 and 5, 300 episodes each: what each --adapt choice costs in episodes alone
        "default_run_minutes": {
            "none": default_episodes * (mean["frozen_1shot"] + mean["frozen_5shot"]) / 60,
            "auto": default_episodes * (mean["frozen_1shot"] + mean["adapted_5shot"]) / 60,
        },
        "episodes_measured": {"frozen": args.frozen_episodes, "adapted": args.adapted_episodes},
    }
    emit(report, args.out, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
