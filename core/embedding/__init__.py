"""Embeddings: backbones (a small registry), preprocessing, batched embedding, disk cache."""

from core.embedding.backbones import (
    DEFAULT_BACKBONE,
    FeatureBackbone,
    available_backbones,
    load_backbone,
    register_backbone,
)
from core.embedding.cache import CachedEmbedding, EmbeddingCache, default_cache_dir
from core.embedding.embedder import Embedder, EmbeddingResult, ImageLike, subset
from core.embedding.preprocess import PREPROCESS_VERSION, to_model_input
from core.embedding.progress import CancelToken, ProgressFn, check_cancel

__all__ = [
    "DEFAULT_BACKBONE",
    "PREPROCESS_VERSION",
    "CachedEmbedding",
    "CancelToken",
    "Embedder",
    "EmbeddingCache",
    "EmbeddingResult",
    "FeatureBackbone",
    "ImageLike",
    "ProgressFn",
    "available_backbones",
    "check_cancel",
    "default_cache_dir",
    "load_backbone",
    "register_backbone",
    "subset",
    "to_model_input",
]
