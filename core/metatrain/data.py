"""Meta-training data: folder-per-class datasets merged, split into class-disjoint train and validation.

Every image is run once through the frozen lower layers; training then works on the cached
activations below the upper layers (and the frozen upper outputs, the distillation targets), so an
episode costs one pass through the upper layers only.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from core.embedding import CancelToken, Embedder, EmbeddingCache, ProgressFn, load_backbone
from core.errors import RareSightError
from core.evaluation.dataset import load_folder_dataset

IntArray = npt.NDArray[np.int64]


class MetaTrainError(RareSightError):
    """Meta-training cannot start or go on; the message says what to change."""


@dataclass(frozen=True)
class MetaData:
    """All images of all datasets. ``classes`` are "dataset/class"; ``is_val`` marks validation classes."""

    files: list[Path]
    classes: list[str]
    labels: IntArray
    groups: IntArray
    is_val_class: npt.NDArray[np.bool_]
    raw: npt.NDArray[np.float32]  # (n, views, d) pooled features of the frozen backbone
    activations: npt.NDArray[np.float16]  # (n, views, c, h, w) input of the upper layers
    sources: list[dict[str, str]]

    @property
    def train_classes(self) -> list[int]:
        return [int(c) for c in np.flatnonzero(~self.is_val_class)]

    @property
    def val_classes(self) -> list[int]:
        return [int(c) for c in np.flatnonzero(self.is_val_class)]


def dataset_licence(root: Path) -> str:
    """The licence line of a dataset's README (what the model card records), or 'not stated'."""
    for name in ("README.txt", "README.md", "README"):
        readme = root / name
        if readme.is_file():
            for line in readme.read_text(encoding="utf-8", errors="replace").splitlines():
                if "licen" in line.lower():
                    return line.strip()[:300]
    return "not stated (no README with a licence line)"


def split_classes(classes: list[str], val_names: Sequence[str] | None, fraction: float, seed: int) -> npt.NDArray[np.bool_]:
    """Validation classes: those named (as 'class' or 'dataset/class'), else a random share per dataset."""
    if val_names:
        wanted = set(val_names)
        chosen = np.array([c in wanted or c.split("/", 1)[1] in wanted for c in classes])
        if not chosen.any():
            raise MetaTrainError(f"none of the --val-classes {sorted(wanted)} is a class of the datasets")
        return chosen
    rng = np.random.default_rng([seed, 7])
    chosen = np.zeros(len(classes), dtype=bool)
    by_dataset: dict[str, list[int]] = {}
    for index, name in enumerate(classes):
        by_dataset.setdefault(name.split("/", 1)[0], []).append(index)
    for members in by_dataset.values():
        count = max(2, round(fraction * len(members))) if len(members) >= 6 else 0
        chosen[rng.permutation(members)[:count]] = True
    return chosen


def load_meta_data(
    roots: Sequence[Path],
    groups: Sequence[str | None],
    val_names: Sequence[str] | None,
    val_fraction: float,
    seed: int,
    progress: ProgressFn | None = None,
    cancel: CancelToken | None = None,
) -> MetaData:
    files: list[Path] = []
    classes: list[str] = []
    labels: list[npt.NDArray[np.int64]] = []
    group_parts: list[npt.NDArray[np.int64]] = []
    sources = []
    for root, spec in zip(roots, list(groups) + [None] * (len(roots) - len(groups)), strict=False):
        ds = load_folder_dataset(Path(root), spec)
        labels.append(ds.labels + len(classes))
        group_parts.append(ds.groups + (int(np.concatenate(group_parts).max()) + 1 if group_parts else 0))
        classes += [f"{Path(root).name}/{name}" for name in ds.classes]
        files += ds.files
        sources.append({"folder": Path(root).name, "images": str(len(ds.files)), "licence": dataset_licence(Path(root))})
    is_val = split_classes(classes, val_names, val_fraction, seed)
    embedder = Embedder(load_backbone("efficientnet-lite0"), flip=True, cache=EmbeddingCache())
    emb = embedder.embed(files, activations=True, progress=progress, cancel=cancel)
    if emb.activations is None:
        raise MetaTrainError("the backbone gave no activations to train on")
    keep = np.flatnonzero(emb.ok)
    return MetaData(
        files=[files[i] for i in keep],
        classes=classes,
        labels=np.concatenate(labels)[keep],
        groups=np.concatenate(group_parts)[keep],
        is_val_class=is_val,
        raw=emb.raw[keep],
        activations=emb.activations[keep],
        sources=sources,
    )
