"""The project's unlabelled images as the adaptation's pool: which, read from where, embedded how.

The classifier may use the pool's images (never a label: they have none) to refine its prototypes
(``PrototypicalClassifier.fit(..., unlabelled=...)``). The pool is embedded here, not inside
``fit``, so that the adaptation's progress bar covers it and a cancel stops it between batches.

Caching: the embedder's disk cache (core/embedding/cache.py) keeps each image's frozen embedding
and the backbone activations below the adaptable layers, keyed by content hash, frame, backbone and
preprocessing. A second adaptation (one more label) reads the whole pool from it: no image is
decoded and no backbone layer below the adaptable ones runs again. What adaptation changes (the
upper layers) is recomputed from the cached activations, which is cheap, and must be: those layers
differ with every support set.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Sequence
from pathlib import Path

import numpy as np

from core.embedding import CancelToken, Embedder, EmbeddingCache, EmbeddingResult, ProgressFn, load_backbone
from core.embedding.embedder import subset
from core.fewshot.features import FeatureConfig
from core.scoring.embedded import readable_path
from core.store import ImageRecord, Project

log = logging.getLogger(__name__)

# At most this many unlabelled images go into the pool. Measured (bench/bench_adapt_pool.py): 500
# keep a cold-cache adaptation within the budget of 60 s and 2 GB on 2 cores; a project's
# thousands of images would only repeat the same modality at a cost that grows with every image.
POOL_CAP = 500


def choose_pool(unlabelled: Sequence[ImageRecord], cap: int = POOL_CAP) -> list[ImageRecord]:
    """Up to ``cap`` of ``unlabelled``, the lowest content hashes first.

    Deterministic (the same project gives the same pool on every machine and in any import order),
    an unbiased draw (a hash says nothing about the image), and stable: labelling one more image takes
    that one out and lets at most one new image in, so the next adaptation finds the rest cached.
    """
    return sorted(unlabelled, key=lambda r: r.content_hash)[: max(cap, 0)]


def pool_paths(project: Project, records: Sequence[ImageRecord], copies: Path) -> list[str]:
    """Readable paths of ``records`` (embedded copies written under ``copies`` for missing files).

    A file that is gone with no copy in the project is left out of the pool, never an error: the pool
    only helps. The log names such images by their number in the project, not by path (a path can
    hold a patient's name).
    """
    paths, skipped = [], []
    for record in records:
        path = readable_path(project, record, copies)
        if path is None:
            skipped.append(int(record.id or 0))
        else:
            paths.append(path)
    if skipped:
        shown = ", ".join(str(i) for i in skipped[:10]) + (f" and {len(skipped) - 10} more" if len(skipped) > 10 else "")
        log.warning(
            "%d unlabelled image(s) left out of the adaptation's pool: file missing and no copy in the project (image %s)",
            len(skipped),
            shown,
        )
    return paths


def embed_pool(
    paths: Sequence[str],
    backbone: str,
    features: FeatureConfig | None = None,
    progress: ProgressFn | None = None,
    cancel: CancelToken | None = None,
) -> EmbeddingResult:
    """The readable pool images embedded as the classifier embeds its support set (same flip, cached,
    with activations when the backbone can be adapted); unreadable ones are logged and dropped."""
    config = features or FeatureConfig()
    embedder = Embedder(backbone, flip=config.flip, cache=EmbeddingCache())
    emb = embedder.embed(list(paths), activations=load_backbone(backbone).adaptable, progress=progress, cancel=cancel)
    if emb.errors:
        log.warning("%d unlabelled image(s) could not be read and were left out of the adaptation's pool", len(emb.errors))
    return subset(emb, np.flatnonzero(emb.ok))


def unlabelled_records(images: Collection[ImageRecord], labelled: Collection[int]) -> list[ImageRecord]:
    """The project's images without a label."""
    return [r for r in images if int(r.id or 0) not in labelled]
