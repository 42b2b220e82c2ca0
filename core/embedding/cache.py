"""Embeddings on disk, keyed by image content, frame, backbone and preprocessing version.

One ``.npz`` per image (``np.load(allow_pickle=False)``: no pickle anywhere), under
``$RARESIGHT_CACHE_DIR/embeddings`` or the platform's user cache folder. A damaged entry is
treated as missing and recomputed.
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
import threading
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

log = logging.getLogger(__name__)


def default_cache_dir() -> Path:
    env = os.environ.get("RARESIGHT_CACHE_DIR")
    if env:
        return Path(env)
    import platformdirs

    return Path(platformdirs.user_cache_dir("raresight", appauthor=False))


_NPY_HEADER_LOCK = threading.Lock()


@dataclass(frozen=True)
class CachedEmbedding:
    """raw: (views, d) float32 pooled features; activation: (views, c, h, w) float16 or None."""

    raw: npt.NDArray[np.float32]
    activation: npt.NDArray[np.float16] | None


class EmbeddingCache:
    """Content-addressed store of :class:`CachedEmbedding`."""

    def __init__(self, root: Path | None = None) -> None:
        self.root = (root or default_cache_dir()) / "embeddings"

    @staticmethod
    def key(content_hash: str, frame: int | None, backbone_id: str, preprocess: str) -> str:
        text = f"{content_hash}|{frame if frame is not None else '-'}|{backbone_id}|{preprocess}"
        return hashlib.sha256(text.encode()).hexdigest()

    def _path(self, key: str) -> Path:
        return self.root / key[:2] / f"{key}.npz"

    def get(self, key: str, need_activation: bool = False) -> CachedEmbedding | None:
        path = self._path(key)
        if not path.is_file():
            return None
        try:
            # np.load parses the .npy header with ast, which CPython 3.11.7 can break when decode
            # threads do it at once ("AST constructor recursion depth mismatch", gh-106905).
            with _NPY_HEADER_LOCK, np.load(path, allow_pickle=False) as data:
                raw = data["raw"].astype(np.float32)
                act = data["activation"] if "activation" in data.files else None
        except (OSError, ValueError, KeyError, zipfile.BadZipFile) as exc:
            log.warning("damaged embedding cache entry %s (%s); recomputing", path.name, exc)
            return None
        if need_activation and act is None:
            return None
        return CachedEmbedding(raw, act)

    def put(self, key: str, entry: CachedEmbedding) -> None:
        path = self._path(key)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            arrays: dict[str, npt.NDArray[np.generic]] = {"raw": entry.raw}
            if entry.activation is not None:
                arrays["activation"] = entry.activation
            # write then rename, so a crash never leaves a half-written entry behind
            fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
            with os.fdopen(fd, "wb") as fh:
                np.savez(fh, **arrays)  # type: ignore[arg-type]
            os.replace(tmp, path)
        except OSError as exc:
            log.warning("could not write the embedding cache under %s (%s); carrying on without it", self.root, exc)
