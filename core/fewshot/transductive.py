"""Prototypes refined with a pool of unlabelled images of the same project (transductive inference).

Everything here is NumPy on the task's embedding (centred, unit length), so a pool of hundreds costs
milliseconds; the classifier does the centring. A project's pool is class-imbalanced and holds images
of classes nobody labelled: before a method refines prototypes, the classifier leaves out pool images
judged "none of these" (novelty above the calibrated cut, in the frozen embedding) and, with
``min_confidence``, those no class claims firmly, so an unknown class cannot drag a prototype.

Methods (``POOL_METHODS``; the classifier's default, ``centre``, was chosen leave-one-domain-out in
bench/lodo_pool.py):
- ``none``: the pool is ignored.
- ``centre``: the task embedding is centred on the mean of the support set and the pool (all of it:
  a mean needs no labels, and a hundred images estimate the domain's centre better than five).
- ``soft-kmeans``: a few rounds of soft k-means seeded by the support prototypes; pool images count
  by their responsibility at the task's temperature, at a fixed weight per image relative to a
  labelled one (Ren et al. 2018).
- ``bd-cspn``: prototype rectification (Liu et al. 2020): the pool is shifted onto the support set's
  mean (the bias between the two), then each prototype is the mean of its support examples and the
  pool images pseudo-labelled to it, weighted by a softmax over cosine similarities.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from core.fewshot.calibration import softmax
from core.fewshot.features import l2
from core.fewshot.pool_methods import POOL_METHODS, REFINING_METHODS

FloatArray = npt.NDArray[np.float32]
__all__ = ["POOL_METHODS", "REFINING_METHODS", "PoolSettings", "centres_on_pool", "confident", "refine_prototypes"]


@dataclass(frozen=True)
class PoolSettings:
    """How a method uses the pool; defaults chosen leave-one-domain-out (bench/lodo_pool.py)."""

    iterations: int = 3  # soft k-means rounds
    pool_weight: float = 0.5  # of one pool image against one labelled support example (soft k-means)
    sharpness: float = 10.0  # inverse temperature of BD-CSPN's cosine softmax (the paper's epsilon)
    novelty_factor: float = 1.0  # pool images with novelty above factor * the "none of these" cut are left out
    centre: bool = True  # refining methods also centre the task embedding on the support set and pool together
    rescale_temperature: bool = True  # centred on the pool, scale the temperature as the prototype distances moved
    min_confidence: float = 0.0  # pool images whose top class probability (support prototypes) is lower are left out


def centres_on_pool(method: str, settings: PoolSettings) -> bool:
    """Whether ``method`` centres the task embedding on the support set and the pool (not the support alone)."""
    return method == "centre" or (method in REFINING_METHODS and settings.centre)


def neg_sq_dist(q: FloatArray, prototypes: FloatArray) -> npt.NDArray[np.float64]:
    """Minus squared distance of each query (n, d) to each prototype (k, d): (n, k)."""
    d = (q * q).sum(1)[:, None] - 2 * q @ prototypes.T + (prototypes**2).sum(1)[None, :]
    return -np.asarray(d, dtype=np.float64)


def confident(pool: FloatArray, prototypes: FloatArray, temperature: float, settings: PoolSettings) -> npt.NDArray[np.bool_]:
    """(m,) which pool images are confident enough to refine prototypes: an image between classes (or of
    none of them) would pull prototypes together."""
    top = softmax(neg_sq_dist(pool, prototypes) / temperature).max(axis=1)
    out: npt.NDArray[np.bool_] = top >= settings.min_confidence
    return out


def refine_prototypes(
    method: str,
    support: FloatArray,
    codes: npt.NDArray[np.int64],
    prototypes: FloatArray,
    pool: FloatArray,
    temperature: float,
    settings: PoolSettings | None = None,
) -> FloatArray:
    """Prototypes (k, d) refined with ``pool`` (m, d), the inliers only; ``support`` (n, d) with class
    codes ``codes`` in 0..k-1; ``temperature`` of the logits ``-squared distance``. Never sees pool labels."""
    if method not in POOL_METHODS:
        raise ValueError(f"unknown pool method {method!r}; choose one of {', '.join(POOL_METHODS)}")
    if method not in REFINING_METHODS or len(pool) == 0:
        return prototypes
    s = settings or PoolSettings()
    if method == "soft-kmeans":
        return _soft_kmeans(support, codes, prototypes, pool, temperature, s)
    return _bd_cspn(support, codes, prototypes, pool, s)


def _soft_kmeans(
    support: FloatArray, codes: npt.NDArray[np.int64], prototypes: FloatArray, pool: FloatArray, temperature: float, s: PoolSettings
) -> FloatArray:
    k = len(prototypes)
    sums = np.stack([support[codes == c].sum(axis=0) for c in range(k)]).astype(np.float64)
    counts = np.bincount(codes, minlength=k).astype(np.float64)
    protos = prototypes.astype(np.float64)
    for _ in range(s.iterations):
        r = softmax(neg_sq_dist(pool, protos.astype(np.float32)) / temperature)  # (m, k) responsibilities
        protos = (sums + s.pool_weight * r.T @ pool) / (counts + s.pool_weight * r.sum(axis=0))[:, None]
    return protos.astype(np.float32)


def _bd_cspn(support: FloatArray, codes: npt.NDArray[np.int64], prototypes: FloatArray, pool: FloatArray, s: PoolSettings) -> FloatArray:
    shifted = pool + (support.mean(axis=0) - pool.mean(axis=0))  # intra-domain bias between support and pool
    x = np.concatenate([support, shifted]).astype(np.float32)
    w = softmax(s.sharpness * (l2(x) @ l2(prototypes).T).astype(np.float64))  # (n + m, k)
    labels = np.concatenate([codes, w[len(support) :].argmax(axis=1)])
    out = np.empty_like(prototypes)
    for c in range(len(prototypes)):
        rows = labels == c
        weight = w[rows, c]
        out[c] = (weight[:, None] * x[rows]).sum(axis=0) / weight.sum()
    return out
