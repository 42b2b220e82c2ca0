"""Folder-per-class datasets: ``DATASET_DIR/<class>/<image>``, optional groups from a manifest."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from core.errors import ProjectError
from core.imaging import DICOM_SUFFIXES, RASTER_SUFFIXES

IMAGE_SUFFIXES = frozenset(s.lower() for s in (*DICOM_SUFFIXES, *RASTER_SUFFIXES))


@dataclass(frozen=True)
class FolderDataset:
    """files: (n,) paths; labels: (n,) int codes into ``classes``; groups: (n,) int codes (one per file without groups)."""

    root: Path
    files: list[Path]
    classes: list[str]
    labels: npt.NDArray[np.int64]
    groups: npt.NDArray[np.int64]
    empty_classes: tuple[str, ...] = ()  # class folders without an image file: named, not silently dropped

    def __len__(self) -> int:
        return len(self.files)


def _is_image(path: Path) -> bool:
    return path.is_file() and not path.name.startswith(".") and (path.suffix.lower() in IMAGE_SUFFIXES or path.suffix == "")


def load_folder_dataset(root: Path, groups: str | None = None) -> FolderDataset:
    """Read a folder-per-class dataset.

    groups: ``"manifest.csv:column"`` (path relative to ``root`` or absolute) naming, for each
    file (column ``file``, relative to ``root``), the group it belongs to (patient, smear ...).
    Files the manifest does not list are their own group.
    """
    root = Path(root)
    if not root.is_dir():
        raise ProjectError(f"{root}: not a folder; give a folder with one subfolder of images per class")
    class_dirs = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    files: list[Path] = []
    labels: list[int] = []
    classes: list[str] = []
    empty: list[str] = []
    for class_dir in class_dirs:
        members = sorted(p for p in class_dir.rglob("*") if _is_image(p))
        if not members:
            empty.append(class_dir.name)
            continue
        classes.append(class_dir.name)
        files += members
        labels += [len(classes) - 1] * len(members)
    if not classes:
        raise ProjectError(f"{root}: no class folders with images found; expected {root}/<class name>/<images>")
    group_names = _read_groups(root, files, groups) if groups else [str(f) for f in files]
    _, group_codes = np.unique(np.array(group_names, dtype=object).astype(str), return_inverse=True)
    return FolderDataset(root, files, classes, np.array(labels, dtype=np.int64), group_codes.astype(np.int64), tuple(empty))


def _read_groups(root: Path, files: list[Path], spec: str) -> list[str]:
    manifest_name, sep, column = spec.rpartition(":")
    if not sep or not manifest_name or not column:
        raise ProjectError(f"--groups {spec!r}: expected MANIFEST.csv:COLUMN, e.g. manifest.csv:patientid")
    manifest = Path(manifest_name)
    if not manifest.is_absolute():
        manifest = root / manifest
    try:
        with manifest.open(newline="", encoding="utf-8") as fh:
            reader = csv.DictReader(fh)
            fields = reader.fieldnames or []
            if "file" not in fields or column not in fields:
                raise ProjectError(f"{manifest}: needs columns 'file' and {column!r}; it has {', '.join(fields)}")
            mapping = {row["file"].replace("\\", "/"): row[column] for row in reader}
    except OSError as exc:
        raise ProjectError(f"{manifest}: cannot read the groups manifest ({exc.strerror or exc})") from exc
    out = []
    for f in files:
        rel = f.relative_to(root).as_posix()
        value = mapping.get(rel)
        out.append(f"{column}={value}" if value not in (None, "") else f"file={rel}")
    return out
