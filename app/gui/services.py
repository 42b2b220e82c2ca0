"""What the GUI asks of core, as plain functions and values (no Qt): they run in worker threads.

View-models call these through :class:`app.gui.workers.JobRunner`; they return NumPy arrays and
dataclasses, never Qt objects (a ``QImage`` is made on the GUI thread from the arrays).
"""

from __future__ import annotations

import html
import os
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
from PIL import Image

from core.errors import ImageReadError
from core.imaging import MedicalImage, Window, iter_files, load_image
from core.imaging.medical_image import full_range_window

THUMBNAIL_SIZE = 96

#: Common CT windows (centre, width in HU), offered for CT images after the file's own windows.
CT_PRESETS = (
    Window(-600.0, 1500.0, "Lung"),
    Window(40.0, 400.0, "Mediastinum / soft tissue"),
    Window(400.0, 1800.0, "Bone"),
    Window(40.0, 80.0, "Brain"),
)

#: A parenthesised aside, one level of nesting allowed: where core quotes the decoder's own words.
_ASIDE = re.compile(r"\s*\((?:[^()]|\([^()]*\))*\)")
#: Asides up to this long stay in the short reason ("(0 bytes)"); longer ones are raw decoder text.
SHORT_ASIDE = 24

#: Window/level drag: the whole value range of the image per this many screen pixels.
DRAG_PIXELS_PER_RANGE = 500.0


@dataclass(frozen=True)
class LoadedFile:
    """A readable file as the thumbnail grid shows it. thumbnail: uint8 (h, w) or (h, w, 3)."""

    path: str
    thumbnail: npt.NDArray[np.uint8]
    modality: str
    width: int
    height: int
    n_frames: int

    @property
    def name(self) -> str:
        return Path(self.path).name


@dataclass(frozen=True)
class UnreadableFile:
    """A file that could not be read: ``message`` is core's ImageReadError message."""

    path: str
    message: str

    @property
    def name(self) -> str:
        return Path(self.path).name

    @property
    def reason(self) -> str:
        """The message without the leading file path (the list already names the file)."""
        prefix = f"{self.path}: "
        return self.message[len(prefix) :] if self.message.startswith(prefix) else self.message

    @property
    def short_reason(self) -> str:
        """The reason without long raw decoder text in parentheses (that is in :attr:`details`)."""
        text = _ASIDE.sub(lambda m: m.group(0) if len(m.group(0)) <= SHORT_ASIDE else "", self.reason).strip()
        return text[:1].upper() + text[1:] if text else self.reason

    @property
    def details(self) -> str:
        """The whole message as word-wrapped rich text (a tooltip)."""
        return f"<p style='white-space: pre-wrap'>{html.escape(self.message)}</p>"


def make_thumbnail(display: npt.NDArray[np.uint8], size: int = THUMBNAIL_SIZE) -> npt.NDArray[np.uint8]:
    """Fit a display image into ``size`` x ``size``, keeping its aspect ratio.

    display: uint8 (H, W) or (H, W, 3) -> uint8 (h, w) or (h, w, 3), max(h, w) == size.
    Large images are filtered down; small ones are enlarged with nearest neighbour (no blur).
    """
    height, width = display.shape[:2]
    scale = size / max(height, width, 1)
    new_size = (max(1, round(width * scale)), max(1, round(height * scale)))
    image = Image.fromarray(np.ascontiguousarray(display))
    resample = Image.Resampling.BILINEAR if scale < 1 else Image.Resampling.NEAREST
    return np.asarray(image.resize(new_size, resample, reducing_gap=3.0 if scale < 1 else None), dtype=np.uint8)


def summarize(image: MedicalImage) -> LoadedFile:
    """The grid's entry for a loaded image (the thumbnail is made here, in the worker)."""
    return LoadedFile(
        path=image.path,
        thumbnail=make_thumbnail(image.display),
        modality=str(image.metadata.get("modality", "") or image.metadata.get("format", "")),
        width=image.width,
        height=image.height,
        n_frames=image.n_frames,
    )


def load_files(
    paths: Sequence[str | os.PathLike[str]],
    recursive: bool,
    emit: Callable[[LoadedFile | UnreadableFile], None],
    progress: Callable[[float, str], None],
    check_cancelled: Callable[[], None],
) -> tuple[int, int]:
    """Read every file under ``paths``, streaming a LoadedFile or UnreadableFile for each.

    ``check_cancelled`` raises :class:`core.errors.Cancelled` to stop between files.
    Returns (readable, unreadable) counts.
    """
    skipped: list[tuple[str, str]] = []  # FIFOs, sockets, devices inside folders: never opened
    files = list(iter_files(paths, recursive=recursive, on_skip=lambda p, reason: skipped.append((str(p), reason))))
    readable, unreadable = 0, len(skipped)
    for special, reason in skipped:
        emit(UnreadableFile(special, f"{special}: {reason}"))
    for index, path in enumerate(files):
        check_cancelled()
        try:
            image = load_image(path)
        except ImageReadError as exc:
            unreadable += 1
            emit(UnreadableFile(str(path), str(exc)))
        else:
            readable += 1
            emit(summarize(image))
        progress((index + 1) / len(files), f"Reading {index + 1} of {len(files)}: {path.name}")
    return readable, unreadable


def window_presets(image: MedicalImage) -> list[Window]:
    """Windows offered for a greyscale image: the file's own, CT presets for CT, and full range."""
    if image.is_color:
        return []
    presets = [Window(w.center, w.width, f"File: {w.name}" if w.name else "File window") for w in image.windows]
    if str(image.metadata.get("modality", "")).upper() == "CT":
        presets.extend(CT_PRESETS)
    full = full_range_window(image.pixels, image.padding_mask)
    presets.append(Window(full.center, full.width, "Full range"))
    return presets


def dragged_window(window: Window, dx: float, dy: float, value_span: float) -> Window:
    """The window after a drag of (dx, dy) screen pixels: right widens, down raises the level.

    The whole value range of the image is covered by ``DRAG_PIXELS_PER_RANGE`` pixels of drag.
    """
    step = max(value_span, 1.0) / DRAG_PIXELS_PER_RANGE
    width = max(1.0, window.width + dx * step)
    return Window(window.center + dy * step, width, "")


def describe_window(window: Window | None) -> str:
    """``W 400 / L 40`` as radiologists write it (width, then level = centre)."""
    if window is None:
        return "W/L: n/a"
    return f"W {format_value(window.width)} / L {format_value(window.center)}"


def format_value(value: float) -> str:
    """A modality value for display: whole numbers from 100 up, 3 significant digits below."""
    return f"{value:.0f}" if abs(value) >= 100 else f"{value:.3g}"
