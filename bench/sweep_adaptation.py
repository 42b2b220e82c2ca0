"""Paired sweep of adaptation settings: gain over the frozen embedding on the same episodes.

    .venv/bin/python bench/sweep_adaptation.py --shots 5 --episodes 60 \\
        --config '{"max_steps": 20, "lr": 1e-3, "trainable": []}' --config '{"max_steps": 80, "lr": 1e-3, "trainable": []}'

Each config sets ``core.fewshot.adaptation`` for the run (``trainable`` [] = block 15 and the
head); adaptation is forced on at any shot count. Prints one JSON line per dataset and config.
Data: ../shared/data (never copied into the repository); skipped with a message without it.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any, Literal

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from core.embedding import EmbeddingResult  # noqa: E402
from core.evaluation import Episode, FolderDataset, load_folder_dataset, run_episode, sample_episodes  # noqa: E402
from core.evaluation.runner import _remap, embed_dataset  # noqa: E402
from core.fewshot import PrototypicalClassifier, adaptation  # noqa: E402

DATASETS = {"rbc-morphology": "manifest.csv:source_smear", "chest-xray-findings": "manifest.csv:patientid"}


def accuracies(ds: FolderDataset, emb: EmbeddingResult, eps: list[Episode], adapt: Literal["none", "always"]) -> tuple[Any, float]:
    start = time.perf_counter()
    out = []
    for i, ep in enumerate(eps):
        record = run_episode(PrototypicalClassifier(adapt=adapt, random_state=i), emb, ds, ep, 0.9)
        out.append(float((record.logits.argmax(1) == record.targets).mean()))
    return np.array(out), (time.perf_counter() - start) / max(len(eps), 1)


SETTINGS = {"max_steps": "MAX_STEPS", "lr": "LEARNING_RATE", "trainable": "TRAINABLE"}


def with_config(config: dict[str, Any]) -> dict[str, Any]:
    """Set the adaptation module's settings named in ``config``; returns the old values to restore."""
    saved = {attr: getattr(adaptation, attr) for attr in SETTINGS.values()}
    for key, value in config.items():
        setattr(adaptation, SETTINGS[key], tuple(value) if key == "trainable" else value)
    return saved


def restore(saved: dict[str, Any]) -> None:
    for attr, value in saved.items():
        setattr(adaptation, attr, value)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data")
    parser.add_argument("--shots", type=int, default=5)
    parser.add_argument("--episodes", type=int, default=60)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--config", action="append", default=[], help="JSON: max_steps, lr, trainable")
    args = parser.parse_args()
    if not args.data.is_dir():
        print(f"sweep_adaptation: skipped, no datasets at {args.data}", file=sys.stderr)
        return 0
    for name, groups in DATASETS.items():
        ds = load_folder_dataset(args.data / name, groups)
        emb, _ = embed_dataset(ds, "efficientnet-lite0", activations=True)
        readable = np.flatnonzero(emb.ok)
        _, eps = sample_episodes(ds.labels[readable], ds.groups[readable], 5, args.shots, 15, args.episodes, args.seed)
        eps = [_remap(ep, readable) for ep in eps]
        frozen, _ = accuracies(ds, emb, eps, "none")
        print(json.dumps({"dataset": name, "shots": args.shots, "frozen": float(frozen.mean())}), flush=True)
        for text in args.config:
            saved = with_config(json.loads(text))
            try:
                adapted, seconds = accuracies(ds, emb, eps, "always")
            finally:
                restore(saved)
            gain = adapted - frozen
            row = {"dataset": name, "config": json.loads(text), "accuracy": float(adapted.mean()), "gain": float(gain.mean())}
            row |= {"gain_ci95": float(1.96 * gain.std() / np.sqrt(len(gain))), "seconds_per_episode": seconds}
            print(json.dumps(row), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
