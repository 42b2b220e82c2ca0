"""A tiny deterministic backbone and generated images, so model tests run in milliseconds."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torch import Tensor, nn

from core.embedding import FeatureBackbone, register_backbone
from core.embedding.backbones import _LOADED

TINY = "tiny-test"


class _TinyUpper(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(8, 16, 3, padding=1)

    def forward(self, x: Tensor) -> Tensor:
        return torch.flatten(F.adaptive_avg_pool2d(F.relu(self.conv(x)), 1), 1)


class TinyBackbone(FeatureBackbone):
    """(n, 3, 32, 32) -> pooled 8 ('s16b') + 16 ('head'); activation (n, 8, 8, 8)."""

    backbone_id = TINY
    input_size = 32
    layout = (("s16b", 8), ("head", 16))
    n_lower = 8
    adaptable = True

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.stem = nn.Conv2d(3, 8, 3, stride=4, padding=1)
        self.top = _TinyUpper()
        self.eval().requires_grad_(False)

    def lower(self, x: Tensor) -> tuple[Tensor, Tensor]:
        act = F.relu(self.stem(x))
        return torch.flatten(F.adaptive_avg_pool2d(act, 1), 1), act

    def upper(self, activation: Tensor) -> Tensor:
        return self.top(activation)  # type: ignore[no-any-return]

    def upper_module(self) -> nn.Module:
        return self.top


def register_tiny() -> str:
    register_backbone(TINY, TinyBackbone)
    _LOADED.pop(TINY, None)
    return TINY


COLOURS = {"red": (200, 40, 40), "green": (40, 180, 60), "blue": (50, 60, 210), "grey": (128, 128, 128)}


def make_image(path: Path, colour: tuple[int, int, int], seed: int, size: int = 40, grey: bool = False) -> Path:
    """A noisy image of one dominant colour with a random bright square: same class, different images."""
    rng = np.random.default_rng(seed)
    img = np.clip(np.array(colour)[None, None, :] + rng.normal(0, 25, (size, size, 3)), 0, 255)
    x, y = rng.integers(0, size - 10, 2)
    img[y : y + 10, x : x + 10] = 255
    arr = img.astype(np.uint8)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(arr.mean(axis=2).astype(np.uint8) if grey else arr).save(path)
    return path


def make_dataset(root: Path, per_class: int = 6, classes: tuple[str, ...] = ("red", "green", "blue"), groups: int = 3) -> Path:
    """Folder-per-class dataset plus a manifest.csv with a 'patient' column (``groups`` per class)."""
    lines = ["file,patient"]
    for ci, name in enumerate(classes):
        for i in range(per_class):
            rel = f"{name}/img_{i:02d}.png"
            make_image(root / rel, COLOURS[name], seed=1000 * ci + i)
            lines.append(f"{rel},{name}-p{i % groups}")
    (root / "manifest.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return root
