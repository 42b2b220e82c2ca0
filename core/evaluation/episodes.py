"""Episodic sampler: N-way K-shot tasks with queries, an unknown class, and group awareness.

With groups (patient, smear), no query shares a group with any support image of its episode, so
a model cannot score by recognising the patient. Deterministic for a seed.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from core.errors import ProjectError

IntArray = npt.NDArray[np.int64]


@dataclass(frozen=True)
class Episode:
    """Indices into the dataset. ``support_labels``/``query_labels`` are dataset class codes."""

    classes: IntArray  # (ways,)
    support: IntArray  # (ways * shots,)
    support_labels: IntArray
    query: IntArray  # (n_query,)
    query_labels: IntArray
    unknown: IntArray  # (n_unknown,) queries from a held-out class (open-set), may be empty
    unknown_class: int


def eligible_classes(labels: IntArray, groups: IntArray, shots: int) -> list[int]:
    """Classes whose images can fill ``shots`` from some groups and still leave another group for queries."""
    out = []
    for c in np.unique(labels[labels >= 0]):
        _, sizes = np.unique(groups[labels == c], return_counts=True)
        if len(sizes) >= 2 and sizes.sum() - sizes.min() >= shots:
            out.append(int(c))
    return out


def ineligibility(labels: IntArray, groups: IntArray, shots: int, n_classes: int, grouped: bool) -> dict[int, str]:
    """Why each class code in ``range(n_classes)`` not in :func:`eligible_classes` cannot serve ``shots``-shot episodes.

    grouped: whether ``groups`` come from a manifest (patients, smears); without one each image
    is its own group, and the rule reduces to "at least shots + 1 images".
    """
    eligible = set(eligible_classes(labels, groups, shots))
    out: dict[int, str] = {}
    for c in range(n_classes):
        if c in eligible:
            continue
        _, sizes = np.unique(groups[labels == c], return_counts=True)
        n = int(sizes.sum())
        if n == 0:
            out[c] = "no usable image (each is unreadable, or the same image is also in another class folder)"
        elif not grouped:
            out[c] = f"{n} usable image(s); {shots}-shot episodes need {shots + 1} ({shots} support + 1 query)"
        elif len(sizes) < 2:
            out[c] = f"all {n} usable image(s) are in one group; support and queries must come from different groups"
        else:
            spare = n - int(sizes.min())
            out[c] = (
                f"{n} usable image(s) in {len(sizes)} groups: leaving its smallest group for queries, "
                f"{spare} remain for {shots} support images"
            )
    return out


def _split_class(rng: np.random.Generator, idx: IntArray, groups: IntArray, shots: int) -> tuple[IntArray, set[int]] | None:
    """Support indices drawn whole-group-first in random order, and the groups they used."""
    group_ids = rng.permutation(np.unique(groups[idx]))
    support: list[int] = []
    used: set[int] = set()
    for g in group_ids:
        members = rng.permutation(idx[groups[idx] == g])
        support += members[: shots - len(support)].tolist()
        used.add(int(g))
        if len(support) == shots:
            break
    if len(support) < shots or len(used) == len(group_ids):
        return None
    return np.array(support, dtype=np.int64), used


def sample_episode(
    rng: np.random.Generator,
    labels: IntArray,
    groups: IntArray,
    classes: list[int],
    ways: int,
    shots: int,
    queries: int,
    open_set: bool = True,
) -> Episode:
    """One episode; queries per class are at most ``queries`` (fewer when a class has fewer left)."""
    want = ways + (1 if open_set and len(classes) > ways else 0)
    for _ in range(100):
        chosen = rng.choice(np.array(classes), size=want, replace=False)
        splits = [_split_class(rng, np.flatnonzero(labels == c), groups, shots) for c in chosen[:ways]]
        if all(s is not None for s in splits):
            break
    else:
        raise ProjectError(f"could not draw a {ways}-way {shots}-shot episode with disjoint groups; use fewer shots or ways")
    used = set().union(*(s[1] for s in splits if s is not None))
    support = np.concatenate([s[0] for s in splits if s is not None])
    support_labels = np.repeat(chosen[:ways], shots)
    query_parts, query_labels = [], []
    for c in chosen[:ways]:
        pool = np.flatnonzero((labels == c) & ~np.isin(groups, list(used)))
        q = rng.permutation(pool)[:queries]
        query_parts.append(q)
        query_labels.append(np.full(len(q), c))
    unknown = np.zeros(0, dtype=np.int64)
    unknown_class = -1
    if want > ways:
        unknown_class = int(chosen[ways])
        pool = np.flatnonzero((labels == unknown_class) & ~np.isin(groups, list(used)))
        unknown = rng.permutation(pool)[:queries].astype(np.int64)
    return Episode(
        classes=chosen[:ways].astype(np.int64),
        support=support.astype(np.int64),
        support_labels=support_labels.astype(np.int64),
        query=np.concatenate(query_parts).astype(np.int64),
        query_labels=np.concatenate(query_labels).astype(np.int64),
        unknown=unknown,
        unknown_class=unknown_class,
    )


def sample_episodes(
    labels: IntArray, groups: IntArray, ways: int, shots: int, queries: int, episodes: int, seed: int, open_set: bool = True
) -> tuple[int, list[Episode]]:
    """(effective ways, episodes). Ways is capped at the number of eligible classes."""
    classes = eligible_classes(labels, groups, shots)
    if len(classes) < 2:
        raise ProjectError(
            f"only {len(classes)} class(es) have {shots} images outside at least one other group; "
            f"need two or more for {shots}-shot episodes"
        )
    ways = min(ways, len(classes))
    rng = np.random.default_rng([seed, ways, shots, queries])
    return ways, [sample_episode(rng, labels, groups, classes, ways, shots, queries, open_set) for _ in range(episodes)]


def sample_pool(rng: np.random.Generator, labels: IntArray, groups: IntArray, ep: Episode, size: int, alpha: float = 1.0) -> IntArray:
    """An episode's pool of up to ``size`` unlabelled images, as a project's would be: class proportions
    drawn from a Dirichlet(``alpha``) over every class of the dataset (imbalanced, and holding classes
    outside the episode), none of them a support image, a query, or from a group of the support set."""
    taken = np.concatenate([ep.support, ep.query, ep.unknown])
    free = (labels >= 0) & ~np.isin(groups, groups[ep.support]) & ~np.isin(np.arange(len(labels)), taken)
    classes = np.unique(labels[free])
    if size <= 0 or len(classes) == 0:
        return np.zeros(0, dtype=np.int64)
    counts = rng.multinomial(size, rng.dirichlet(np.full(len(classes), alpha)))
    chosen: list[int] = []
    for c, n in zip(classes, counts, strict=True):
        chosen += rng.permutation(np.flatnonzero(free & (labels == c)))[:n].tolist()
    short = size - len(chosen)  # classes with fewer images than drawn: fill from the rest
    if short > 0:
        rest = np.setdiff1d(np.flatnonzero(free), chosen)
        chosen += rng.permutation(rest)[:short].tolist()
    return np.sort(np.array(chosen, dtype=np.int64))


def sample_pools(labels: IntArray, groups: IntArray, episodes: list[Episode], size: int, seed: int, alpha: float = 1.0) -> list[IntArray]:
    """One pool per episode, from a generator of its own: the episodes are those drawn without pools."""
    rng = np.random.default_rng([seed, size, 7919])
    return [sample_pool(rng, labels, groups, ep, size, alpha) for ep in episodes]
