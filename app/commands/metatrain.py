"""``raresight meta-train``: learn to learn from folder-per-class archives; writes a backbone file."""

from __future__ import annotations

import argparse
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from app.terminal_progress import TerminalProgress

EPILOG = """The result is a backbone file (.rsbackbone: safetensors with a model card) that 'eval' and
'adapt' accept as --backbone. A project adapted with it keeps it: 'score', 'report' and the window
then use it through the project's model (they take no --backbone). A checkpoint beside it
(FILE.ckpt) lets an interrupted run resume: run the same command again. The same seed gives the
same result.

exit status: 0 written; 2 could not train (the message says why); 130 interrupted (resumable)"""


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "meta-train",
        help="meta-train the embedding on folder-per-class datasets",
        description="Episodic prototypical training of the backbone's upper layers on the classes of DATASET_DIRs, "
        "with a class-disjoint validation split, early stopping, checkpoints and resume.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("datasets", nargs="+", type=Path, metavar="DATASET_DIR", help="folders with one subfolder of images per class")
    parser.add_argument("--out", type=Path, required=True, metavar="BACKBONE_FILE", help="the backbone file to write (.rsbackbone)")
    parser.add_argument(
        "--val-classes", nargs="+", metavar="CLASS", help="validation classes (default: a quarter of each dataset's classes)"
    )
    parser.add_argument(
        "--groups",
        nargs="+",
        default=[],
        metavar="MANIFEST:COLUMN",
        help="per dataset, in order: groups (patient, smear); '-' for none (default: none, each image its own group)",
    )
    parser.add_argument("--ways", type=int, default=5, help="classes per training episode (default: %(default)s)")
    parser.add_argument(
        "--shots",
        type=int,
        default=1,
        help="support images per class in training episodes; 1 gained more than 5, also at 5-shot (default: %(default)s)",
    )
    parser.add_argument("--queries", type=int, default=10, help="query images per class in training episodes (default: %(default)s)")
    parser.add_argument("--episodes", type=int, default=3000, help="training episodes, at most (default: %(default)s)")
    parser.add_argument("--learning-rate", type=float, default=1e-4, metavar="LR", help="Adam step size (default: %(default)s)")
    parser.add_argument(
        "--distill", type=float, default=1.0, metavar="W", help="pull toward the pretrained features; 0 turns it off (default: %(default)s)"
    )
    parser.add_argument(
        "--budget-min", type=float, metavar="M", help="stop after M minutes; the checkpoint allows going on later (default: no limit)"
    )
    parser.add_argument("--device", choices=("cpu", "cuda"), default="cpu", help="where to train (default: %(default)s)")
    parser.add_argument("--seed", type=int, default=0, help="the same seed gives the same result (default: %(default)s)")
    parser.set_defaults(run=run_meta_train)


def run_meta_train(args: argparse.Namespace) -> int:
    from core.metatrain import MetaTrainConfig, load_meta_data, meta_train, write_backbone_file
    from core.metatrain.backbone_file import SUFFIX
    from core.metatrain.data import MetaTrainError

    if args.out.suffix != SUFFIX:
        raise MetaTrainError(f"{args.out}: end the backbone file name in {SUFFIX}")
    groups = [None if g in ("", "-") else g for g in args.groups]
    bar = TerminalProgress(unit="%")
    data = load_meta_data(args.datasets, groups, args.val_classes, 0.25, args.seed, progress=lambda f, m: bar(round(100 * f), 100, m))
    bar.finish()
    print(f"{len(data.files)} images, {len(data.train_classes)} training classes, {len(data.val_classes)} validation classes")
    config = MetaTrainConfig(
        ways=args.ways,
        shots=args.shots,
        queries=args.queries,
        episodes=args.episodes,
        learning_rate=args.learning_rate,
        distill=args.distill,
        seed=args.seed,
        budget_min=args.budget_min,
        device=args.device,
    )
    bar = TerminalProgress(unit="%")
    checkpoint = args.out.with_name(args.out.name + ".ckpt")
    result = meta_train(data, config, checkpoint, progress=lambda f, m: bar(round(100 * f), 100, m))
    bar.finish()
    card = {
        "base_backbone": "efficientnet-lite0",
        "trained_layers": "block 15 and head (upper layers), distilled toward the pretrained ones",
        "datasets": data.sources,
        "train_classes": [data.classes[c] for c in data.train_classes],
        "val_classes": [data.classes[c] for c in data.val_classes],
        "episodes_run": result.state.step,
        "best_step": result.state.best_step,
        "val_accuracy": round(result.state.best_accuracy, 4),
        "val_ways": result.state.val_ways,
        "val_accuracy_frozen": round(result.state.frozen_accuracy, 4),
        "val_gain_ci95": round(result.state.best_gain_ci95, 4),
        "beats_pretrained": result.state.best_step > 0,
        "config": {k: v for k, v in vars(config).items()},
        "history": result.state.history,
        "stopped_because": result.stopped_because,
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    digest = write_backbone_file(args.out, result.upper_weights, card)
    state = result.state
    if state.best_step == 0:
        print(
            f"{args.out}: no validation gain over the pretrained backbone beyond noise, so the file holds the pretrained "
            f"weights (validation {state.val_ways}-way {config.shots}-shot accuracy {state.frozen_accuracy:.3f}); "
            "keep the default backbone, or add training classes. "
            f"{result.stopped_because}; {result.seconds / 60:.1f} min"
        )
        return 0
    print(
        f"{args.out}: validation {state.val_ways}-way {config.shots}-shot accuracy {state.frozen_accuracy:.3f} (pretrained) -> "
        f"{state.best_accuracy:.3f} (meta-trained, step {state.best_step}; paired gain "
        f"{state.best_accuracy - state.frozen_accuracy:+.3f} +- {state.best_gain_ci95:.3f}); {result.stopped_because}; "
        f"{result.seconds / 60:.1f} min; weights sha256 {digest[:12]}"
    )
    return 0
