"""``raresight eval``: episodic few-shot evaluation on a folder-per-class dataset."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from core.fewshot.pool_methods import POOL_METHODS

EPILOG = """DATASET_DIR holds one subfolder of images (or DICOM files) per class. With --groups, support and
query images of an episode never share a group (patient, smear). A class with too few usable images
(or groups) for a shot count is left out of its episodes, and named, with the reason, on stderr and
in the JSON ("dropped_classes"). A metric that cannot be measured is null in the JSON, with
"<metric>_reason" beside it.

Progress: on a terminal one line with rate and ETA, redrawn every episode; in a pipe or log file a
line every --progress-every seconds. Ctrl-C keeps what finished: the summary of the finished shot
counts (and of the interrupted one's finished episodes, marked partial) is printed and written to
--json with "interrupted": true.

exit status: 0 done; 2 bad input or the JSON file could not be written; 130 interrupted"""

ADAPT_HELP = (
    "on-device adaptation of the upper layers. none: the frozen embedding, milliseconds an episode, so a default "
    "run takes about as long as embedding the dataset. auto: adapts where every class has 5 or more shots, as the "
    "app does (about +4 accuracy points on the rbc and chest development sets), at 6 s per 5-shot episode on 2 idle "
    "cores and 18 s on busy ones: 300 episodes take 30 to 90 min (bench/eval_episode_cost.py), so use it with "
    "fewer --episodes. always: adapts every episode (default: %(default)s)"
)


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "eval",
        help="measure few-shot accuracy, calibration and coverage on a labelled dataset",
        description="Episodic N-way K-shot evaluation of the few-shot classifier.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("dataset", type=Path, metavar="DATASET_DIR")
    parser.add_argument(
        "--ways", type=int, default=5, help="classes per episode, capped at the classes with enough images (default: %(default)s)"
    )
    parser.add_argument("--shots", type=int, nargs="+", default=[1, 5], help="support examples per class, one run each (default: 1 5)")
    parser.add_argument(
        "--queries", type=int, default=15, help="query images per class, fewer where a class has fewer (default: %(default)s)"
    )
    parser.add_argument("--episodes", type=int, default=300, help="episodes per shot count (default: %(default)s)")
    parser.add_argument("--seed", type=int, default=0, help="the same seed draws the same episodes (default: %(default)s)")
    parser.add_argument("--backbone", default=None, help="backbone name or .rsbackbone file (default: efficientnet-lite0)")
    parser.add_argument("--adapt", choices=["auto", "none", "always"], default="none", help=ADAPT_HELP)
    parser.add_argument(
        "--groups",
        default=None,
        metavar="MANIFEST.csv:COLUMN",
        help="group column for group-aware episodes (default: none, each image its own group)",
    )
    parser.add_argument(
        "--unlabelled",
        type=int,
        default=0,
        metavar="N",
        help="also run every episode with a pool of N unlabelled images (class-imbalanced, with classes outside the "
        "episode, none a support image, a query or of a support image's group) and report the paired gain; the "
        "engine never reads the pool's labels. 0: no pool (default: %(default)s)",
    )
    parser.add_argument(
        "--pool-method",
        choices=POOL_METHODS,
        default=None,
        help="how the engine uses the pool (default: the engine's, measured in bench/lodo_pool.py)",
    )
    parser.add_argument("--coverage", type=float, default=0.9, help="target coverage of the prediction sets (default: %(default)s)")
    parser.add_argument("--json", type=Path, metavar="FILE", help="write the results to FILE (default: none, summary on stdout only)")
    parser.add_argument(
        "--progress-every",
        type=float,
        default=10.0,
        metavar="SECONDS",
        help="when stderr is not a terminal, a progress line at most every SECONDS; 0: every episode (default: %(default)s)",
    )
    parser.add_argument("--quiet", "-q", action="store_true", help="no progress lines (default: off)")
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
    if args.progress_every < 0:
        return "--progress-every must be 0 or more"
    if args.unlabelled < 0:
        return "--unlabelled must be 0 or more"
    if args.pool_method is not None and args.unlabelled == 0:
        return "--pool-method needs --unlabelled N (a pool to use)"
    return None


def run_eval(args: argparse.Namespace) -> int:
    import core.metatrain.backbone_file  # noqa: F401  (registers .rsbackbone files with load_backbone)
    from app.terminal_progress import TerminalProgress
    from core.embedding import DEFAULT_BACKBONE
    from core.evaluation import EvaluationInterrupted, evaluate
    from core.evaluation.runner import EMBED_SHARE

    problem = _check(args)
    if problem:
        print(f"raresight eval: {problem}", file=sys.stderr)
        return 2
    shown = False if args.quiet else None
    embedding = TerminalProgress(unit="%", enabled=shown, log_every=args.progress_every)
    episodes = TerminalProgress(unit="episodes", enabled=shown, log_every=args.progress_every)
    in_episodes = [False]

    def progress(fraction: float, message: str) -> None:
        if not in_episodes[0]:
            embedding(round(100 * min(fraction / EMBED_SHARE, 1.0)), 100, message)

    def episode_progress(done: int, total: int, message: str) -> None:
        if not in_episodes[0]:
            in_episodes[0] = True
            embedding.finish()
        episodes(done, total, message)

    try:
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
            episode_progress=episode_progress,
            unlabelled=args.unlabelled,
            pool_method=args.pool_method,
        )
    except EvaluationInterrupted as exc:
        report = exc.report
    finally:
        embedding.finish()
        episodes.finish()
    return _print_and_write(report, args)


def _print_and_write(report: Any, args: argparse.Namespace) -> int:
    """The summary on stdout, dropped classes and an interruption on stderr, then the JSON file."""
    for r in report.results:
        print(_summary_line(r, args.coverage))
        _print_pool(r, args.coverage)
    partial = report.partial_result
    if partial is not None:
        print(f"{_summary_line(partial, args.coverage)} [partial: interrupted after {partial.episodes} of {args.episodes} episodes]")
        _print_pool(partial, args.coverage)
    for line in _dropped_lines(report):
        print(f"raresight eval: {line}", file=sys.stderr)
    if report.interrupted:
        finished = ", ".join(f"{r.shots}-shot" for r in report.results) or "no shot count"
        stopped = "" if partial is None else f"; {partial.shots}-shot partial ({partial.episodes} of {args.episodes} episodes)"
        print(f"raresight eval: interrupted; finished: {finished}{stopped}", file=sys.stderr)
    if args.json is not None:
        if report.interrupted and not report.results and partial is None:
            print(f"raresight eval: no episode finished; {args.json} not written", file=sys.stderr)
        else:
            try:
                args.json.write_text(json.dumps(report.to_dict(), indent=1, allow_nan=False) + "\n", encoding="utf-8")
            except OSError as exc:
                print(f"raresight eval: could not write {args.json}: {exc.strerror or exc}", file=sys.stderr)
                return 130 if report.interrupted else 2
    return 130 if report.interrupted else 0


def _summary_line(r: Any, coverage: float) -> str:
    return (
        f"{r.ways}-way {r.shots}-shot, {r.episodes} episodes: accuracy {100 * r.accuracy:.1f} +- {_or_dash(100 * r.accuracy_ci95, 1)} %, "
        f"ECE {r.ece:.3f} (uncalibrated {r.ece_uncalibrated:.3f}), {100 * coverage:.0f}% sets cover {100 * r.set_coverage:.1f} % "
        f"with {r.set_size:.2f} classes, open-set AUROC {_or_dash(r.open_set_auroc)}, adaptation {r.adapt_seconds:.1f} s; "
        f"estimated accuracy {100 * r.estimated_accuracy:.1f} % (error {100 * r.estimate_abs_error:.1f} points, "
        f"bias {100 * r.estimate_signed_error:+.1f})"
    )


def _print_pool(r: Any, coverage: float) -> None:
    """The same episodes with their pools: the paired gain, then the summary with the pool."""
    p = r.pool
    if p is None:
        return
    print(
        f"  with a pool of {p.unlabelled} unlabelled ({p.method}, {p.images_used:.0f} used): "
        f"accuracy {100 * p.result.accuracy:.1f} %, gain {100 * p.gain:+.1f} +- {_or_dash(100 * p.gain_ci95, 1)} points (paired); "
        + _summary_line(p.result, coverage)
    )


def _dropped_lines(report: Any) -> list[str]:
    """One line per class and reason, naming the shot counts it was left out of."""
    shots_of: dict[tuple[str, str], list[int]] = {}
    results = [*report.results, *([report.partial_result] if report.partial_result is not None else [])]
    for r in results:
        for name, reason in r.dropped_classes.items():
            shots_of.setdefault((name, reason), []).append(r.shots)
    return [
        f"class {name!r} left out of the {', '.join(str(k) for k in ks)}-shot episodes: {reason}" for (name, reason), ks in shots_of.items()
    ]


def _or_dash(value: float, digits: int = 3) -> str:
    """A figure for the summary line; '-' where it could not be measured (the JSON says why)."""
    return "-" if value != value else f"{value:.{digits}f}"
