"""A fitted classifier as a project ModelState and back, with no pickle anywhere.

Everything a prediction depends on is stored, so that a model restored from a project file gives
the same numbers as the one that was fitted (the GUI and ``raresight score`` both restore it):
prototypes, temperature and the support embeddings (for explanations and leave-one-out) as
safetensors arrays; the adapted upper layers' weights when adaptation ran; the feature settings,
support-set identity and the whole calibration it predicts with (set thresholds, novelty cuts) as JSON,
so that a later edit of the shipped calibration file does not move a saved model's predictions.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import asdict
from typing import Any

import numpy as np
import torch

from core.embedding import load_backbone
from core.errors import ModelError
from core.fewshot.calibration import Calibration, calibration_id, load_calibration
from core.fewshot.classifier import PrototypicalClassifier
from core.fewshot.features import FeatureConfig
from core.store.records import ModelState
from core.store.tensors import decode_safetensors, encode_safetensors

STATE_FORMAT = 1
_ARRAYS = ("support_embeddings", "support_labels", "shots", "mean", "prototypes", "loo")
_fingerprints: dict[str, str] = {}
log = logging.getLogger(__name__)


def backbone_fingerprint(backbone_id: str) -> str:
    """SHA-256 over the backbone's weights (names and values): which weights made the embedding."""
    if backbone_id not in _fingerprints:
        digest = hashlib.sha256()
        for name, tensor in sorted(load_backbone(backbone_id).state_dict().items()):
            digest.update(name.encode())
            digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
        _fingerprints[backbone_id] = digest.hexdigest()
    return _fingerprints[backbone_id]


def to_model_state(clf: PrototypicalClassifier, settings: dict[str, Any] | None = None) -> ModelState:
    """The fitted ``clf`` as a ModelState; ``settings`` (JSON values) are stored beside it."""
    loo = clf._loo if clf._loo is not None else np.full((0, len(clf.classes_)), np.nan)
    arrays: dict[str, np.ndarray[Any, Any]] = {
        "support_embeddings": clf.support_embeddings_.astype(np.float32),
        "support_labels": clf.support_labels_.astype(np.int64),
        "shots": clf.shots_.astype(np.int64),
        "mean": np.asarray(clf._mean, dtype=np.float32),
        "prototypes": clf.prototypes_.astype(np.float32),
        "loo": np.asarray(loo, dtype=np.float64),
    }
    if clf._frozen_mean is not None:  # where "none of these" is judged (the frozen embedding)
        arrays |= {
            "frozen_mean": np.asarray(clf._frozen_mean, dtype=np.float32),
            "frozen_prototypes": clf.frozen_prototypes_.astype(np.float32),
        }
    if clf._upper is not None:
        arrays |= {f"upper.{name}": t.detach().cpu().numpy() for name, t in clf._upper.state_dict().items()}
    meta = {
        "state_format": STATE_FORMAT,
        "features": asdict(clf._config),
        "support_names": list(clf.support_names_),
        "support_hashes": list(clf.support_hashes_),
        "spread": clf._spread,
        "novelty_spread": clf._novelty_spread if clf._frozen_mean is not None else None,
        "adapted": bool(clf.adapted_),
        "centred_on_pool": bool(clf.centred_on_pool_),
        "adapt_seconds": round(float(clf.adapt_seconds_), 3),
        "adapt_mode": clf.adapt,
        "calibration": clf._calibration.to_dict(),
        "calibration_id": calibration_id(clf._calibration),
        "pool_used": dict(clf.pool_used_),  # the prototypes are refined
        **(settings or {}),
    }
    return ModelState(
        backbone_id=load_backbone(clf.backbone).backbone_id,  # canonical: a file's absolute path and hash
        backbone_weights_hash=backbone_fingerprint(clf.backbone),
        prototypes=clf.prototypes_.astype(np.float32),
        class_names=tuple(str(c) for c in clf.classes_),
        temperature=float(clf.temperature_),
        thresholds={"unknown_novelty": float(clf._calibration.unknown_cut(clf.adapted_))},  # the cut actually used
        settings=meta,
        adapted_weights=encode_safetensors(arrays),
    )


def from_model_state(state: ModelState) -> PrototypicalClassifier:
    """A classifier that predicts exactly as the one ``state`` was made from."""
    meta = state.settings
    if meta.get("state_format") != STATE_FORMAT or state.adapted_weights is None:
        raise ModelError(f"model version {state.version} was saved in an unknown format; adapt the project again")
    if backbone_fingerprint(state.backbone_id) != state.backbone_weights_hash:
        raise ModelError(
            f"model version {state.version} was adapted with other {state.backbone_id} weights than the ones installed; "
            "adapt the project again"
        )
    arrays = decode_safetensors(state.adapted_weights)
    missing = [name for name in _ARRAYS if name not in arrays]
    if missing:
        raise ModelError(f"model version {state.version} lacks {', '.join(missing)}; adapt the project again")
    clf = PrototypicalClassifier(state.backbone_id, adapt=meta.get("adapt_mode", "auto"))
    features = meta["features"]
    clf._config = FeatureConfig(tuple(features["blocks"]), bool(features["sqrt"]), bool(features["flip"]), bool(features["centre"]))
    clf._calibration = _stored_calibration(state)
    clf.classes_ = np.array(state.class_names, dtype=object)
    clf.support_labels_ = arrays["support_labels"].astype(np.int64)
    clf.support_names_ = list(meta["support_names"])
    clf.support_hashes_ = list(meta["support_hashes"])
    clf.shots_ = arrays["shots"].astype(np.int64)
    clf._mean = arrays["mean"]
    clf.support_embeddings_ = arrays["support_embeddings"]
    clf.prototypes_ = arrays["prototypes"]
    clf._loo = arrays["loo"] if len(arrays["loo"]) else None
    clf.temperature_ = float(state.temperature)
    clf._spread = float(meta["spread"])
    # states saved before novelty moved to the frozen embedding keep judging it where they did
    frozen = "frozen_mean" in arrays and "frozen_prototypes" in arrays and meta.get("novelty_spread") is not None
    clf._frozen_mean = arrays["frozen_mean"] if frozen else None
    if frozen:
        clf.frozen_prototypes_ = arrays["frozen_prototypes"]
        clf._novelty_spread = float(meta["novelty_spread"])
    clf.adapted_ = bool(meta["adapted"])
    clf.centred_on_pool_ = bool(meta.get("centred_on_pool", False))
    clf.adapt_seconds_ = float(meta.get("adapt_seconds", 0.0))
    clf.pool_used_ = dict(meta.get("pool_used") or {"images": 0, "method": "none"})  # the stored prototypes already used it
    clf._upper = _restore_upper(state.backbone_id, arrays) if clf.adapted_ else None
    return clf


def _stored_calibration(state: ModelState) -> Calibration:
    """The calibration ``state`` was fitted with; today's shipped one for states saved before it was stored."""
    stored = state.settings.get("calibration")
    if stored is None:
        log.warning(
            "model version %s predates stored calibrations: its set thresholds and 'none of these' cut follow the "
            "calibration installed now; adapt the project again to freeze them",
            state.version,
        )
        return load_calibration(state.backbone_id)
    if not isinstance(stored, dict):
        raise ModelError(f"model version {state.version} has a malformed stored calibration; adapt the project again")
    try:
        return Calibration.from_dict(stored)
    except (ModelError, AttributeError) as exc:  # AttributeError: a nested entry that is not an object
        raise ModelError(f"model version {state.version} has a malformed stored calibration ({exc}); adapt the project again") from exc


def _restore_upper(backbone_id: str, arrays: dict[str, Any]) -> torch.nn.Module:
    import copy

    upper = copy.deepcopy(load_backbone(backbone_id).upper_module())
    prefix = "upper."
    weights = {name.removeprefix(prefix): torch.from_numpy(np.array(value)) for name, value in arrays.items() if name.startswith(prefix)}
    try:
        upper.load_state_dict(weights, strict=True)
    except RuntimeError as exc:
        raise ModelError(f"the adapted weights do not fit {backbone_id}: {exc}; adapt the project again") from exc
    upper.eval().requires_grad_(False)
    return upper
