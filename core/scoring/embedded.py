"""Images of a project read from the copies stored inside it (``project add --embed``) when the files are gone.

A portable project keeps working without its original files: adaptation, predictions and the
support examples shown in reports read the embedded copy of any image whose file is missing.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from core.errors import ProjectError
from core.imaging import MedicalImage, load_image
from core.store import ImageRecord, Project


def copy_out(data: bytes, name: str, content_hash: str, folder: Path) -> str:
    """Write an embedded copy as ``folder/<hash prefix>/<its file name>``; returns the path.

    The original file name is kept: the readers check its extension, and explanations show it.
    """
    target = folder / content_hash[:16] / Path(name).name
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(data)
    return str(target)


def readable_path(project: Project, record: ImageRecord, folder: Path) -> str | None:
    """The image's file, else its embedded copy written under ``folder``; None when there is neither."""
    if Path(record.path).is_file() or record.id is None:
        return record.path
    try:
        data = project.image_bytes(record.id)  # the embedded copy when there is one, else the file
    except ProjectError:
        return None
    return copy_out(data, record.path, record.content_hash, folder)


def load_copy(data: bytes, name: str, content_hash: str) -> MedicalImage:
    """An embedded copy decoded as its file would be (raises ImageReadError as ``load_image`` does)."""
    with tempfile.TemporaryDirectory(prefix="raresight-copy-") as folder:
        return load_image(copy_out(data, name, content_hash, Path(folder)))
