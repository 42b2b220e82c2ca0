"""Meta-trained backbone files: the base backbone's upper layers, retrained, plus a model card.

The file is safetensors (no pickle): the upper module's weights as arrays, and the model card as
JSON in the header's metadata. Loading it gives a :class:`FeatureBackbone` that ``eval``, ``score``,
the GUI and the project file accept like a built-in one; its id is the file's absolute path, and
the project records the weights' hash, so a changed file is noticed.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import torch

from core.embedding.backbones import BACKBONE_CARD_KEY, EfficientNetLite0Features, register_backbone_loader
from core.errors import ModelError, ProjectError
from core.store.tensors import decode_safetensors, encode_safetensors, safetensors_metadata

SUFFIX = ".rsbackbone"
CARD_KEY = BACKBONE_CARD_KEY
DELTA = "float16 difference to efficientnet-lite0"


def write_backbone_file(path: Path, upper_weights: Mapping[str, npt.NDArray[Any]], card: Mapping[str, Any]) -> str:
    """Write the file atomically; returns the SHA-256 of the weights (recorded in the card too)."""
    digest = weights_hash(upper_weights)
    data = encode_safetensors(dict(upper_weights), {CARD_KEY: json.dumps({**card, "weights_sha256": digest}, sort_keys=True)})
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_bytes(data)
    temporary.replace(path)
    return digest


def weights_hash(weights: Mapping[str, npt.NDArray[Any]]) -> str:
    digest = hashlib.sha256()
    for name in sorted(weights):
        digest.update(name.encode())
        digest.update(np.ascontiguousarray(weights[name]).tobytes())
    return digest.hexdigest()


def read_backbone_file(path: Path) -> tuple[dict[str, Any], dict[str, npt.NDArray[Any]]]:
    """(model card, upper weights); a clear ModelError for anything that is not such a file."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ModelError(f"{path}: cannot read the backbone file ({exc.strerror}); check the path") from exc
    try:
        arrays = decode_safetensors(data)
        card = json.loads(safetensors_metadata(data)[CARD_KEY])
    except (ProjectError, ValueError, KeyError, TypeError) as exc:
        raise ModelError(f"{path}: not a RareSight backbone file ({exc}); use a file written by 'raresight meta-train'") from exc
    if not isinstance(card, dict) or card.get("base_backbone") != "efficientnet-lite0":
        raise ModelError(f"{path}: the backbone file names no supported base backbone; use a file written by 'raresight meta-train'")
    if weights_hash(arrays) != card.get("weights_sha256"):
        raise ModelError(f"{path}: the weights do not match the hash in the model card: the file is damaged")
    return card, arrays


class MetaTrainedLite0(EfficientNetLite0Features):
    """EfficientNet-Lite0 whose upper layers (or, with ``trained_layers: all`` in the card, every layer) come
    from a meta-trained backbone file."""

    def __init__(self, path: Path) -> None:
        super().__init__()
        card, arrays = read_backbone_file(path)
        whole = card.get("trained_layers") == "all"
        if whole and card.get("stored_as") == DELTA:  # float16 differences of the layers that changed: a third of the size
            weights = self.with_differences(arrays)
        else:
            weights = {name: torch.from_numpy(np.array(value)) for name, value in arrays.items()}
        try:
            if whole:  # every layer retrained: the whole network's state (BatchNorm batch counters excepted)
                missing, unexpected = self.net.load_state_dict(weights, strict=False)
                if unexpected or any(not name.endswith("num_batches_tracked") for name in missing):
                    raise RuntimeError(f"missing {missing[:3]}, unexpected {unexpected[:3]}")
            else:
                self.top.load_state_dict(weights, strict=True)
        except RuntimeError as exc:
            part = "network" if whole else "upper layers"
            raise ModelError(f"{path}: the weights do not fit EfficientNet-Lite0's {part} ({exc})") from exc
        # Path and weights hash: embeddings cached for one file are never reused for another.
        self.backbone_id = f"{path.resolve()}@{card['weights_sha256'][:16]}"
        self.card = card
        self.eval().requires_grad_(False)


def is_backbone_file(name: str) -> bool:
    return name.endswith(SUFFIX)


def names_backbone_file(name: str) -> bool:
    """Whether a backbone name is a meta-trained file: ``PATH.rsbackbone`` or ``PATH.rsbackbone@<hash prefix>``."""
    return name.partition("@")[0].endswith(SUFFIX)


def load_backbone_file(name: str) -> MetaTrainedLite0:
    """A meta-trained backbone file, ``PATH`` or ``PATH@<weights sha256 prefix>`` (as projects record it)."""
    path, _, expected = name.partition("@")
    backbone = MetaTrainedLite0(Path(path))
    if expected and not backbone.card["weights_sha256"].startswith(expected):
        raise ModelError(f"{path}: the backbone file changed since it was used here (weights hash differs); use the original file")
    return backbone


def register_backbone_files() -> None:
    """Let every backbone lookup (``load_backbone``, ``--backbone``, a project's stored model) accept backbone files.

    Done when this module is imported; front-ends that resolve backbone names call it explicitly.
    """
    register_backbone_loader(names_backbone_file, load_backbone_file)


register_backbone_files()
