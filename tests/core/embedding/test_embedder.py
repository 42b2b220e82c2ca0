"""Embedding with the tiny backbone: caching by content, unreadable files, cancel and progress."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest

from core.embedding import Embedder, EmbeddingCache, subset
from core.errors import Cancelled
from core.imaging import load_image
from tests.core.embedding.tiny import COLOURS, TinyBackbone, make_image


@pytest.fixture
def images(tmp_path: Path) -> list[Path]:
    return [make_image(tmp_path / f"img{i}.png", COLOURS["red"], seed=i) for i in range(5)]


def test_embeds_and_caches_by_content(tmp_path: Path, images: list[Path]) -> None:
    backbone = TinyBackbone()
    cache = EmbeddingCache(tmp_path / "cache")
    first = Embedder(backbone, flip=True, cache=cache, batch_size=2).embed(images, activations=True)
    assert first.raw.shape == (5, 2, backbone.dim)
    assert first.activations is not None and first.activations.shape == (5, 2, 8, 8, 8)
    assert not first.errors and first.ok.all()
    calls = []
    original = backbone.lower
    backbone.lower = lambda x: calls.append(1) or original(x)  # type: ignore[method-assign]
    copy = tmp_path / "copy.png"
    copy.write_bytes(images[0].read_bytes())  # same content, other name: still a cache hit
    second = Embedder(backbone, flip=True, cache=cache).embed([*images, copy], activations=True)
    assert calls == []
    np.testing.assert_allclose(second.raw[:5], first.raw)
    np.testing.assert_allclose(second.raw[5], first.raw[0])
    assert list((tmp_path / "cache").rglob("*.npz"))


def test_flip_off_gives_one_view_and_medical_images_are_accepted(images: list[Path]) -> None:
    emb = Embedder(TinyBackbone(), flip=False).embed([load_image(p) for p in images[:2]])
    assert emb.raw.shape[1] == 1 and emb.activations is None


def test_unreadable_file_is_reported_not_raised(tmp_path: Path, images: list[Path]) -> None:
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"\x89PNG\r\n\x1a\nnot really")
    emb = Embedder(TinyBackbone()).embed([images[0], broken, images[1]])
    assert list(emb.errors) == [1] and "broken.png" in emb.errors[1]
    assert np.isnan(emb.raw[1]).all() and not np.isnan(emb.raw[0]).any()
    assert subset(emb, [1, 2]).errors == {0: emb.errors[1]}


def test_damaged_cache_entry_is_recomputed(tmp_path: Path, images: list[Path]) -> None:
    cache = EmbeddingCache(tmp_path / "cache")
    Embedder(TinyBackbone(), cache=cache).embed(images[:1])
    for entry in (tmp_path / "cache").rglob("*.npz"):
        entry.write_bytes(b"garbage")
    emb = Embedder(TinyBackbone(), cache=cache).embed(images[:1])
    assert not np.isnan(emb.raw).any()


def test_progress_and_cancel(images: list[Path]) -> None:
    seen: list[float] = []
    Embedder(TinyBackbone(), batch_size=2).embed(images, progress=lambda f, m: seen.append(f))
    assert seen[-1] == 1.0 and seen == sorted(seen)
    stop = threading.Event()
    stop.set()
    with pytest.raises(Cancelled):
        Embedder(TinyBackbone(), batch_size=2).embed(images, cancel=stop)
