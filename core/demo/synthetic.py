"""Synthetic red-cell-like images, plainly marked as synthetic.

Five visually distinct shapes loosely modelled on blood-smear morphology. They exist so the demo
and the tests have images with real visual structure without shipping anyone's data. Every image
carries a "SYNTHETIC" mark and its file name starts with ``synthetic_``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import numpy.typing as npt
from PIL import Image, ImageDraw

DEMO_CLASSES = ("discocyte", "elliptocyte", "target cell", "echinocyte", "sickle cell")

Mask = npt.NDArray[np.float32]


def _grid(size: int) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.float32]]:
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    return yy, xx


def _soft(distance: npt.NDArray[np.float32]) -> Mask:
    """Inside (distance < 0) -> 1, outside -> 0, with a one-pixel soft edge."""
    result: Mask = np.clip(0.5 - distance, 0.0, 1.0).astype(np.float32)
    return result


def _cell_masks(kind: str, rng: np.random.Generator, size: int) -> tuple[Mask, Mask]:
    """(body, pallor): where the cell is, and where its paler centre is."""
    yy, xx = _grid(size)
    cy, cx = size / 2 + rng.normal(0, size * 0.04, 2)
    radius = size * rng.uniform(0.27, 0.33)
    angle = rng.uniform(0, np.pi)
    u = (xx - cx) * np.cos(angle) + (yy - cy) * np.sin(angle)
    v = -(xx - cx) * np.sin(angle) + (yy - cy) * np.cos(angle)
    r = np.hypot(u, v)
    zeros = np.zeros_like(r)
    if kind == "discocyte":
        return _soft(r - radius), _soft(r - radius * 0.45) * 0.8
    if kind == "elliptocyte":
        ratio = rng.uniform(0.45, 0.6)
        e = np.hypot(u, v / ratio)
        return _soft(e - radius), _soft(e - radius * 0.4) * 0.5
    if kind == "target cell":
        ring = _soft(r - radius * 0.55) - _soft(r - radius * 0.3)
        return _soft(r - radius), np.clip(ring, 0, 1) * 0.9
    if kind == "echinocyte":
        spikes = int(rng.integers(10, 16))
        theta = np.arctan2(v, u)
        edge = radius * (0.88 + 0.14 * np.maximum(np.cos(spikes * theta), 0) ** 3)
        return _soft(r - edge), _soft(r - radius * 0.35) * 0.3
    if kind == "sickle cell":
        outer = _soft(r - radius)
        inner = _soft(np.hypot(u - radius * 0.55, v) - radius * 0.85)
        body = np.clip(outer - inner, 0, 1)
        return body.astype(np.float32), zeros
    raise ValueError(f"unknown demo class {kind!r}; choose from {DEMO_CLASSES}")


def render_cell(kind: str, rng: np.random.Generator, size: int = 96) -> npt.NDArray[np.uint8]:
    """One synthetic cell image: (size, size, 3) uint8 RGB with a 'SYNTHETIC' mark."""
    body, pallor = _cell_masks(kind, rng, size)
    background = np.array([236, 214, 218], np.float32) + rng.normal(0, 4, 3)
    stain = np.array([196, 92, 108], np.float32) + rng.normal(0, 8, 3)
    density = body * (1.0 - 0.55 * pallor)
    image = background * (1 - density[..., None]) + stain * density[..., None]
    image += rng.normal(0, 5, image.shape)
    rgb = np.clip(image, 0, 255).astype(np.uint8)
    canvas = Image.fromarray(rgb)
    ImageDraw.Draw(canvas).text((2, size - 11), "SYNTHETIC", fill=(120, 120, 120))
    return np.asarray(canvas, dtype=np.uint8)


def write_demo_images(folder: Path, per_class: int = 12, seed: int = 0, size: int = 96) -> dict[str, list[Path]]:
    """Write ``per_class`` PNGs per demo class into ``folder/<class>/``; returns the paths by class."""
    rng = np.random.default_rng(seed)
    written: dict[str, list[Path]] = {}
    for kind in DEMO_CLASSES:
        class_folder = folder / kind.replace(" ", "_")
        class_folder.mkdir(parents=True, exist_ok=True)
        paths = []
        for index in range(per_class):
            path = class_folder / f"synthetic_{kind.replace(' ', '_')}_{index:03d}.png"
            Image.fromarray(render_cell(kind, rng, size)).save(path)
            paths.append(path)
        written[kind] = paths
    return written
