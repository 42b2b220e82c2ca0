"""Episodic evaluation: folder datasets, group-aware episode sampling, metrics, the eval runner."""

from core.evaluation.dataset import FolderDataset, load_folder_dataset
from core.evaluation.episodes import Episode, eligible_classes, sample_episodes, sample_pools
from core.evaluation.metrics import auroc, expected_calibration_error, mean_ci95
from core.evaluation.provenance import run_provenance
from core.evaluation.runner import (
    EpisodeRecord,
    EvalReport,
    EvaluationInterrupted,
    PoolResult,
    ShotResult,
    embed_dataset,
    evaluate,
    run_episode,
    summarise,
)

__all__ = [
    "Episode",
    "EpisodeRecord",
    "EvalReport",
    "EvaluationInterrupted",
    "FolderDataset",
    "PoolResult",
    "ShotResult",
    "auroc",
    "eligible_classes",
    "embed_dataset",
    "evaluate",
    "expected_calibration_error",
    "load_folder_dataset",
    "mean_ci95",
    "run_episode",
    "run_provenance",
    "sample_episodes",
    "sample_pools",
    "summarise",
]
