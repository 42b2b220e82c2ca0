"""Folder-per-class archives: ``ROOT/<class name>/<images, in any subfolders>`` as (file, class) pairs.

Many teaching collections and exports arrive this way; importing them should keep the class.
Hidden files and folders (starting with '.') are skipped, and so are class folders without an
image file. Files directly in ``ROOT`` have no class (``loose``).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from core.imaging import DICOM_SUFFIXES, RASTER_SUFFIXES

IMAGE_SUFFIXES = frozenset(s.lower() for s in (*DICOM_SUFFIXES, *RASTER_SUFFIXES))


@dataclass(frozen=True)
class ClassFolders:
    """What :func:`find_class_folders` found under ``root``.

    files: class name (the subfolder's name) -> its image files, sorted; classes in name order.
    loose: image files directly in ``root`` (no class).
    """

    root: Path
    files: dict[str, list[Path]] = field(default_factory=dict)
    loose: list[Path] = field(default_factory=list)

    @property
    def classes(self) -> list[str]:
        return list(self.files)

    @property
    def pairs(self) -> list[tuple[Path, str]]:
        """(file, class name) for every file in a class folder, class by class."""
        return [(path, name) for name, paths in self.files.items() for path in paths]

    def counts(self) -> dict[str, int]:
        """Class name -> number of image files."""
        return {name: len(paths) for name, paths in self.files.items()}


def looks_like_image(path: Path) -> bool:
    """A visible file with an image suffix, or none (DICOM files often have no suffix)."""
    return not path.name.startswith(".") and (path.suffix.lower() in IMAGE_SUFFIXES or path.suffix == "")


def find_class_folders(root: str | os.PathLike[str]) -> ClassFolders:
    """The class subfolders of ``root`` that hold image files (at any depth below them).

    An empty result (``files == {}``) means ``root`` is not a folder-per-class archive,
    or not a folder at all.
    """
    base = Path(root)
    if not base.is_dir():
        return ClassFolders(base)
    files: dict[str, list[Path]] = {}
    loose: list[Path] = []
    for child in sorted(base.iterdir()):
        if child.name.startswith("."):
            continue
        if child.is_dir():
            members = _images_below(child)
            if members:
                files[child.name] = members
        elif child.is_file() and looks_like_image(child):
            loose.append(child)
    return ClassFolders(base, files, loose)


def _images_below(folder: Path) -> list[Path]:
    found = []
    for path in sorted(folder.rglob("*")):
        hidden = any(part.startswith(".") for part in path.relative_to(folder).parts)
        if not hidden and path.is_file() and looks_like_image(path):
            found.append(path)
    return found
