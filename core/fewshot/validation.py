"""Checks on a support set before fitting: clear errors and warnings, never a traceback."""

from __future__ import annotations

import logging
import warnings
from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence

import numpy as np
import numpy.typing as npt

from core.embedding import EmbeddingResult
from core.errors import RareSightError

log = logging.getLogger(__name__)


class SupportSetError(RareSightError):
    """The support set cannot define a classifier (no class, one class, conflicting images ...)."""


class SupportSetWarning(UserWarning):
    """Something in the support set was skipped or looks wrong, but fitting could go on."""


def check_labels(n_items: int, labels: Sequence[object]) -> list[str]:
    """Labels as non-empty strings, one per item, at least two classes."""
    if n_items != len(labels):
        raise SupportSetError(f"{n_items} support examples but {len(labels)} labels; give one class label per example")
    if n_items == 0:
        raise SupportSetError("no support examples; add at least one example to each of two or more classes")
    out = []
    for i, label in enumerate(labels):
        text = "" if label is None else str(label).strip()
        if not text:
            raise SupportSetError(f"support example {i + 1} has an empty class name; name its class")
        out.append(text)
    classes = sorted(set(out))
    if len(classes) < 2:
        raise SupportSetError(f"only one class ({classes[0]!r}); add examples of at least one other class to compare against")
    return out


def check_empty_classes(mapping: Mapping[str, Sequence[object]]) -> None:
    empty = [name for name, items in mapping.items() if len(items) == 0]
    if empty:
        raise SupportSetError(
            f"class(es) with no support examples: {', '.join(map(repr, empty))}; add at least one image to each, or remove them"
        )


def drop_unreadable(emb: EmbeddingResult, labels: list[str]) -> tuple[npt.NDArray[np.int64], list[str]]:
    """Indices of readable support examples; warns for each unreadable one, errors if a class empties."""
    keep = np.flatnonzero(emb.ok)
    for _, message in sorted(emb.errors.items()):
        warnings.warn(f"support example skipped, unreadable: {message}", SupportSetWarning, stacklevel=3)
    before = Counter(labels)
    after = Counter(labels[i] for i in keep)
    lost = [c for c in before if after[c] == 0]
    if lost:
        files = "; ".join(emb.errors[i] for i in sorted(emb.errors))
        raise SupportSetError(f"class(es) {', '.join(map(repr, lost))} have no readable support example left ({files})")
    if len(after) < 2:
        raise SupportSetError("fewer than two classes have a readable support example; fix or replace the unreadable files")
    return keep, [labels[i] for i in keep]


def check_duplicates(emb: EmbeddingResult, labels: list[str]) -> None:
    """The same image (same content, or identical embedding) in two classes is an error; twice in one, a warning."""
    keys = [h if h else np.asarray(emb.raw[i]).tobytes().hex()[:64] for i, h in enumerate(emb.content_hashes)]
    where: dict[str, set[str]] = defaultdict(set)
    names: dict[str, list[str]] = defaultdict(list)
    for key, label, name in zip(keys, labels, emb.names, strict=True):
        where[key].add(label)
        names[key].append(name)
    for key, classes in where.items():
        if len(classes) > 1:
            raise SupportSetError(
                f"the same image ({', '.join(names[key])}) is a support example of several classes "
                f"({', '.join(sorted(classes))}); keep it in one"
            )
        if len(names[key]) > 1:
            warnings.warn(
                f"the same image appears {len(names[key])} times in class {next(iter(classes))!r} ({', '.join(names[key])})",
                SupportSetWarning,
                stacklevel=3,
            )
