"""Which files of a folder or archive can be read, and why not, before a long run."""

from __future__ import annotations

import os
import stat
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from core.errors import ImageReadError
from core.imaging.limits import not_regular_reason


@dataclass(frozen=True)
class ScanResult:
    """One file's verdict. ``error`` is the ImageReadError message, or None when readable."""

    path: str
    ok: bool
    error: str | None = None
    format: str | None = None
    modality: str | None = None
    width: int | None = None
    height: int | None = None
    frames: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def iter_files(
    paths: Iterable[str | os.PathLike[str]],
    recursive: bool = False,
    on_skip: Callable[[Path, str], None] | None = None,
) -> Iterator[Path]:
    """Every file named, and every regular file in each folder named (and below it when recursive).

    A path named that is not a folder is yielded as it is, so that the caller reports it (missing,
    a FIFO ...). Inside folders, FIFOs, sockets and devices are skipped without being opened (a FIFO
    would block the reader), and ``on_skip(path, reason)`` is told why. Hidden files and folders
    (starting with '.') are skipped, in sorted order.
    """
    for raw in paths:
        path = Path(raw)
        if not path.is_dir():
            yield path
            continue
        children = path.rglob("*") if recursive else path.iterdir()
        for child in sorted(children):
            relative = child.relative_to(path).parts
            if any(part.startswith(".") for part in relative):
                continue
            if child.is_file():
                yield child
            elif on_skip is not None:
                reason = _skip_reason(child)
                if reason is not None:
                    on_skip(child, reason)


def _skip_reason(path: Path) -> str | None:
    """Why a folder entry that is not a regular file is skipped; None for folders (walked, not files)."""
    try:
        mode = path.stat().st_mode
    except OSError as exc:  # a dangling link, or no permission to look
        return f"could not be looked at ({exc.strerror or exc}), skipped"
    refusal = None if stat.S_ISDIR(mode) else not_regular_reason(mode)
    if refusal is None:
        return None
    return f"{refusal[0]} (skipped without opening it)"


def scan_file(path: str | os.PathLike[str]) -> ScanResult:
    """Decode the file completely (the middle frame) to tell whether it can be read."""
    try:
        from core.imaging.loader import load_image  # decoders load when a file is read, not to list files

        image = load_image(path)
    except ImageReadError as exc:
        return ScanResult(path=str(path), ok=False, error=str(exc))
    return ScanResult(
        path=str(path),
        ok=True,
        format=str(image.metadata.get("format", "")),
        modality=str(image.metadata.get("modality", "")),
        width=image.width,
        height=image.height,
        frames=image.n_frames,
    )


def scan_paths(
    paths: Iterable[str | os.PathLike[str]],
    recursive: bool = False,
    on_result: Callable[[ScanResult], None] | None = None,
) -> list[ScanResult]:
    """Scan every file under ``paths``; ``on_result`` is called after each file."""
    results = []

    def record(result: ScanResult) -> None:
        results.append(result)
        if on_result is not None:
            on_result(result)

    def skipped(path: Path, reason: str) -> None:
        record(ScanResult(path=str(path), ok=False, error=str(ImageReadError(path, reason, "give the image files themselves"))))

    for path in iter_files(paths, recursive, on_skip=skipped):
        record(scan_file(path))
    return results
