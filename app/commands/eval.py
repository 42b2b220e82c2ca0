"""``raresight eval``: episodic few-shot evaluation on a folder-per-class dataset."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

EPILOG = (
    "DATASET_DIR holds one subfolder of images (or DICOM files) per class. With --groups, support and "
    "query images of an episode never share a group (patient, smear). Exit status: 0 done, 2 bad input "
    "or the JSON file could not be written."
)


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "eval",
        help="measure few-shot accuracy, calibration and coverage on a labelled dataset",
        description="Episodic N-way K-shot evaluation of the few-shot classifier.",
        epilog=EPILOG,
    )
    parser.add_argument("dataset", type=Path, metavar="DATASET_DIR")
    parser.add_argument("--ways", type=int, default=5, help="classes per episode (capped at the classes with enough images)")
    parser.add_argument("--shots", type=int, nargs="+", default=[1, 5], help="support examples per class, one run each")
    parser.add_argument("--queries", type=int, default=15, help="query images per class (fewer where a class has fewer)")
    parser.add_argument("--episodes", type=int, default=300)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--backbone", default=None, help="backbone name (default: efficientnet-lite0)")
    parser.add_argument("--adapt", choices=["auto", "none", "always"], default="auto", help="on-device adaptation")
    parser.add_argument("--groups", default=None, metavar="MANIFEST.csv:COLUMN", help="group column for group-aware episodes")
    parser.add_argument("--coverage", type=float, default=0.9, help="target coverage of the prediction sets")
    parser.add_argument("--json", type=Path, metavar="FILE", help="write the results to FILE")
    parser.add_argument("--quiet", "-q", action="store_true", help="no progress lines")
    parser.set_defaults(run=run_eval)


def _check(args: argparse.Namespace) -> str | None:
    if args.ways < 2:
        return "--ways must be at least 2"
    if any(s < 1 for s in args.shots):
        return "--shots must be at least 1"
    if args.queries < 1 or args.episodes < 1:
        return "--queries and --episodes must be at least 1"
    if not 0.0 < args.coverage < 1.0:
        return "--coverage must be between 0 and 1"
    return None


def run_eval(args: argparse.Namespace) -> int:
    from core.embedding import DEFAULT_BACKBONE
    from core.evaluation import evaluate

    problem = _check(args)
    if problem:
        print(f"raresight eval: {problem}", file=sys.stderr)
        return 2
    last = [-1]

    def progress(fraction: float, message: str) -> None:
        percent = int(fraction * 100)
        if not args.quiet and percent != last[0] and percent % 5 == 0:
            last[0] = percent
            print(f"[{percent:3d}%] {message}", file=sys.stderr, flush=True)

    report = evaluate(
        args.dataset,
        ways=args.ways,
        shots=args.shots,
        queries=args.queries,
        episodes=args.episodes,
        seed=args.seed,
        backbone=args.backbone or DEFAULT_BACKBONE,
        adapt=args.adapt,
        groups=args.groups,
        coverage=args.coverage,
        progress=progress,
    )
    for r in report.results:
        print(
            f"{r.ways}-way {r.shots}-shot, {r.episodes} episodes: accuracy {100 * r.accuracy:.1f} +- {100 * r.accuracy_ci95:.1f} %, "
            f"ECE {r.ece:.3f} (uncalibrated {r.ece_uncalibrated:.3f}), {100 * args.coverage:.0f}% sets cover {100 * r.set_coverage:.1f} % "
            f"with {r.set_size:.2f} classes, open-set AUROC {_or_dash(r.open_set_auroc)}, adaptation {r.adapt_seconds:.1f} s; "
            f"estimated accuracy {100 * r.estimated_accuracy:.1f} % (error {100 * r.estimate_abs_error:.1f} points, "
            f"bias {100 * r.estimate_signed_error:+.1f})"
        )
    if args.json is not None:
        try:
            args.json.write_text(json.dumps(report.to_dict(), indent=1, allow_nan=False) + "\n", encoding="utf-8")
        except OSError as exc:
            print(f"raresight eval: could not write {args.json}: {exc.strerror or exc}", file=sys.stderr)
            return 2
    return 0


def _or_dash(value: float) -> str:
    """An AUROC for the summary line; '-' when there was no class left out to measure it on."""
    return "-" if value != value else f"{value:.3f}"
