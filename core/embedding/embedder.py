"""Batched embedding with decoding in parallel threads, cached by image content.

    emb = Embedder("efficientnet-lite0").embed(paths)      # EmbeddingResult
    emb.raw            # (n, views, d) float32 pooled stage features, views = original [+ h-flip]
    emb.activations    # (n, views, c, h, w) float16 below the adaptable layers, when asked for

Decoding (file read, DICOM/PNG decode, resize) runs on a small thread pool while the model runs
on the calling thread, so the two overlap. Unreadable files do not stop the batch: they are
listed in ``errors`` and their rows are NaN.
"""

from __future__ import annotations

import hashlib
import logging
import os
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import numpy.typing as npt
import torch

from core.embedding.backbones import DEFAULT_BACKBONE, FeatureBackbone, load_backbone
from core.embedding.cache import CachedEmbedding, EmbeddingCache
from core.embedding.preprocess import PREPROCESS_VERSION, to_model_input
from core.embedding.progress import CancelToken, ProgressFn, check_cancel, report
from core.errors import ImageReadError
from core.imaging import MedicalImage, load_image, read_file_bytes

log = logging.getLogger(__name__)

ImageLike = str | os.PathLike[str] | MedicalImage


@dataclass
class EmbeddingResult:
    """raw: (n, views, d) float32 (NaN rows for failures); activations: (n, views, c, h, w) float16 or None."""

    raw: npt.NDArray[np.float32]
    activations: npt.NDArray[np.float16] | None
    names: list[str]
    content_hashes: list[str]
    errors: dict[int, str] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.names)

    @property
    def ok(self) -> npt.NDArray[np.bool_]:
        return np.array([i not in self.errors for i in range(len(self.names))], dtype=bool)


@dataclass
class _Prepared:
    index: int
    name: str
    content_hash: str
    frame: int | None
    tensor: npt.NDArray[np.float32] | None
    cached: CachedEmbedding | None
    error: str | None = None


class Embedder:
    """Turns images into pooled multi-stage embeddings with one backbone.

    Parameters
    ----------
    backbone: registry name, ``torchvision:<arch>``, or a loaded :class:`FeatureBackbone`.
    flip: also embed the horizontally flipped image (test-time augmentation; 2x the compute).
    cache: an :class:`EmbeddingCache`, or None for no disk cache.
    batch_size: images per forward pass. Small batches in channels-last layout keep the depthwise
        convolutions in cache: on 2 cores, batch 4 channels-last ran 3-4x faster than batch 16-32
        contiguous (bench/bench_fewshot.py --throughput).
    num_threads: ``torch.set_num_threads`` for inference (None leaves torch's default).
    decode_workers: threads decoding files ahead of the model.
    """

    def __init__(
        self,
        backbone: str | FeatureBackbone = DEFAULT_BACKBONE,
        *,
        flip: bool = False,
        cache: EmbeddingCache | None = None,
        batch_size: int = 4,
        num_threads: int | None = None,
        decode_workers: int = 2,
    ) -> None:
        self.backbone = load_backbone(backbone) if isinstance(backbone, str) else backbone
        self.flip = flip
        self.cache = cache
        self.batch_size = batch_size
        self.decode_workers = decode_workers
        if num_threads is not None:
            torch.set_num_threads(num_threads)

    @property
    def views(self) -> int:
        return 2 if self.flip else 1

    @property
    def preprocess_id(self) -> str:
        return f"p{PREPROCESS_VERSION}-s{self.backbone.input_size}-v{self.views}"

    def embed(
        self,
        items: Sequence[ImageLike],
        *,
        activations: bool = False,
        progress: ProgressFn | None = None,
        cancel: CancelToken | None = None,
    ) -> EmbeddingResult:
        """Embed ``items`` (paths or MedicalImage); cached entries are not decoded again."""
        n = len(items)
        raw = np.full((n, self.views, self.backbone.dim), np.nan, dtype=np.float32)
        acts: npt.NDArray[np.float16] | None = None
        names = [_name(item) for item in items]
        hashes = [""] * n
        errors: dict[int, str] = {}
        done = 0
        with ThreadPoolExecutor(max_workers=max(1, self.decode_workers), thread_name_prefix="raresight-decode") as pool:
            # keep a bounded window of decodes in flight ahead of the model
            window = max(2 * self.batch_size, 8)
            futures: dict[int, Future[_Prepared]] = {}
            next_submit = 0
            batch: list[_Prepared] = []
            for i in range(n):
                while next_submit < n and next_submit < i + window:
                    futures[next_submit] = pool.submit(self._prepare, next_submit, items[next_submit], activations)
                    next_submit += 1
                prep = futures.pop(i).result()
                hashes[i] = prep.content_hash
                if prep.error is not None:
                    errors[i] = prep.error
                    done += 1
                elif prep.cached is not None:
                    acts = self._store(raw, acts, i, prep.cached, activations)
                    done += 1
                else:
                    batch.append(prep)
                if len(batch) >= self.batch_size or (i == n - 1 and batch):
                    check_cancel(cancel, "embedding")
                    for prep_b, entry in zip(batch, self._forward(batch, activations), strict=True):
                        acts = self._store(raw, acts, prep_b.index, entry, activations)
                        if self.cache is not None:
                            self.cache.put(self._key(prep_b), entry)
                    done += len(batch)
                    batch = []
                    report(progress, done / max(n, 1), f"embedded {done} of {n} images")
        report(progress, 1.0, f"embedded {n} images")
        return EmbeddingResult(raw, acts, names, hashes, errors)

    def _key(self, prep: _Prepared) -> str:
        return EmbeddingCache.key(prep.content_hash, prep.frame, self.backbone.backbone_id, self.preprocess_id)

    def _prepare(self, index: int, item: ImageLike, need_activation: bool) -> _Prepared:
        """Runs on a decode thread: hash, cache look-up, and decode + preprocess on a miss."""
        name = _name(item)
        try:
            if isinstance(item, MedicalImage):
                image: MedicalImage | None = item
                content_hash, frame = item.content_hash, item.frame
            else:
                image = None
                content_hash, frame = hashlib.sha256(read_file_bytes(item)).hexdigest(), None
            prep = _Prepared(index, name, content_hash, frame, None, None)
            if self.cache is not None:
                prep.cached = self.cache.get(self._key(prep), need_activation)
                if prep.cached is not None:
                    return prep
            if image is None:
                image = load_image(item)  # type: ignore[arg-type]
            prep.tensor = to_model_input(image.display, self.backbone.input_size)
            return prep
        except ImageReadError as exc:
            return _Prepared(index, name, "", None, None, None, error=str(exc))

    def _forward(self, batch: list[_Prepared], need_activation: bool) -> list[CachedEmbedding]:
        x = torch.from_numpy(np.stack([p.tensor for p in batch if p.tensor is not None]))
        x = x.contiguous(memory_format=torch.channels_last)
        views = [x, torch.flip(x, dims=[3])] if self.flip else [x]
        raws, acts = [], []
        with torch.inference_mode():
            for v in views:
                low, act = self.backbone.lower(v)
                raws.append(torch.cat([low, self.backbone.upper(act)], dim=1).numpy())
                acts.append(act.to(torch.float16).numpy())
        raw = np.stack(raws, axis=1).astype(np.float32)
        act_arr = np.stack(acts, axis=1)
        return [CachedEmbedding(raw[j], act_arr[j] if self.backbone.adaptable else None) for j in range(len(batch))]

    def _store(
        self,
        raw: npt.NDArray[np.float32],
        acts: npt.NDArray[np.float16] | None,
        i: int,
        entry: CachedEmbedding,
        want: bool,
    ) -> npt.NDArray[np.float16] | None:
        raw[i] = entry.raw
        if want and entry.activation is not None:
            if acts is None:
                acts = np.zeros((raw.shape[0], *entry.activation.shape), dtype=np.float16)
            acts[i] = entry.activation
        return acts


def _name(item: ImageLike) -> str:
    if isinstance(item, MedicalImage):
        return Path(item.path).name
    return Path(item).name


def subset(result: EmbeddingResult, index: npt.NDArray[np.int64] | Sequence[int]) -> EmbeddingResult:
    """Rows ``index`` of ``result`` (errors re-indexed)."""
    idx = np.asarray(index, dtype=np.int64)
    position = {int(old): new for new, old in enumerate(idx)}
    return EmbeddingResult(
        raw=result.raw[idx],
        activations=None if result.activations is None else result.activations[idx],
        names=[result.names[i] for i in idx],
        content_hashes=[result.content_hashes[i] for i in idx],
        errors={position[i]: msg for i, msg in result.errors.items() if i in position},
    )
