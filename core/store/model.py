"""Adapted model states (one numbered version each) and the predictions each version made.

Arrays are stored as ``.npy`` bytes (prototypes) or safetensors bytes (adapted weights), never as
pickles. The audit row of each version records SHA-256 hashes of those bytes, so ``verify`` can tell
whether a stored model was changed afterwards.
Settings name support examples by content hash only: a path (often named after the patient) would
stay in the file and its audit log for good, so ``save`` drops the ``support_paths`` that models
saved before recorded; ``load`` still reads them from older projects.
All functions expect the caller to hold the right transaction.
"""

from __future__ import annotations

import hashlib
import json
import math
import sqlite3
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from core.errors import ProjectError
from core.store import audit
from core.store.records import Finding, ModelState, PredictionRecord
from core.store.tensors import decode_npy, encode_npy, validate_safetensors

if TYPE_CHECKING:
    import numpy as np


#: Settings that named files by path; never written again (see the module docstring).
PATH_SETTINGS = frozenset({"support_paths"})


def _without_paths(settings: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in settings.items() if key not in PATH_SETTINGS}


def _sha(data: bytes | None) -> str | None:
    return None if data is None else hashlib.sha256(data).hexdigest()


def _validate(state: ModelState) -> np.ndarray[Any, np.dtype[np.float32]]:
    import numpy as np  # loaded when a model is written, not whenever a project opens

    prototypes = np.asarray(state.prototypes, dtype=np.float32)
    if prototypes.ndim != 2 or prototypes.shape[0] != len(state.class_names):
        raise ProjectError(
            "model state: prototypes must be (n_classes, dim) with one row per class; "
            f"got shape {prototypes.shape} for {len(state.class_names)} classes"
        )
    if not np.isfinite(prototypes).all():
        raise ProjectError("model state: prototypes contain NaN or infinite values; the adaptation failed, run it again")
    if not (math.isfinite(state.temperature) and state.temperature > 0):
        raise ProjectError(f"model state: temperature must be a positive number, got {state.temperature}")
    if state.adapted_weights is not None:
        validate_safetensors(state.adapted_weights)
    return prototypes


def save(conn: sqlite3.Connection, state: ModelState, actor: str) -> int:
    """Store a new model version (the next number) and audit it as an adaptation. Returns the version."""
    prototypes = _validate(state)
    version = int(conn.execute("SELECT COALESCE(MAX(version), 0) + 1 FROM model_versions").fetchone()[0])
    blob = encode_npy(prototypes)
    thresholds = audit.canonical_json({str(k): float(v) for k, v in state.thresholds.items()})
    settings = audit.canonical_json(_without_paths(state.settings))
    at = audit.now()
    conn.execute(
        "INSERT INTO model_versions (version, backbone_id, backbone_weights_hash, adapted_weights, prototypes, class_names, temperature, "
        "thresholds, settings, actor, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            version,
            state.backbone_id,
            state.backbone_weights_hash,
            state.adapted_weights,
            blob,
            json.dumps(list(state.class_names)),
            float(state.temperature),
            thresholds,
            settings,
            actor,
            at,
        ),
    )
    details = {
        "version": version,
        "backbone_id": state.backbone_id,
        "backbone_weights_hash": state.backbone_weights_hash,
        "adapted_weights_sha256": _sha(state.adapted_weights),
        "prototypes_sha256": _sha(blob),
        "class_names": list(state.class_names),
        "temperature": float(state.temperature),
        "thresholds": json.loads(thresholds),
        "settings": json.loads(settings),
    }
    audit.append(conn, actor, "adaptation", details, at)
    return version


def latest_version(conn: sqlite3.Connection) -> int | None:
    row = conn.execute("SELECT MAX(version) FROM model_versions").fetchone()
    return None if row[0] is None else int(row[0])


def load(conn: sqlite3.Connection, version: int | None = None) -> ModelState | None:
    """Model ``version`` (the latest when None), or None when there is none."""
    version = latest_version(conn) if version is None else version
    if version is None:
        return None
    row = conn.execute(
        "SELECT backbone_id, backbone_weights_hash, adapted_weights, prototypes, class_names, temperature, thresholds, settings, actor, "
        "created_at FROM model_versions WHERE version = ?",
        (version,),
    ).fetchone()
    if row is None:
        return None
    return ModelState(
        backbone_id=row[0],
        backbone_weights_hash=row[1],
        adapted_weights=None if row[2] is None else bytes(row[2]),
        prototypes=decode_npy(bytes(row[3])).astype("float32", copy=False),
        class_names=tuple(json.loads(row[4])),
        temperature=float(row[5]),
        thresholds=json.loads(row[6]),
        settings=json.loads(row[7]),
        version=version,
        actor=row[8],
        created_at=row[9],
    )


def load_settings(conn: sqlite3.Connection, version: int | None = None) -> tuple[int, dict[str, Any]] | None:
    """The version and settings of model ``version`` (the latest when None) without its arrays, or None."""
    version = latest_version(conn) if version is None else version
    if version is None:
        return None
    row = conn.execute("SELECT settings FROM model_versions WHERE version = ?", (version,)).fetchone()
    return None if row is None else (version, json.loads(row[0]))


def add_predictions(conn: sqlite3.Connection, version: int, records: Sequence[PredictionRecord], actor: str) -> int:
    """Store what model ``version`` said about each image; audited as one row. Returns the count."""
    if conn.execute("SELECT 1 FROM model_versions WHERE version = ?", (version,)).fetchone() is None:
        raise ProjectError(f"no model version {version} in the project; save the model state before its predictions")
    at = audit.now()
    rows = [
        (
            r.image_id,
            version,
            audit.canonical_json({k: float(v) for k, v in r.probabilities.items()}),
            json.dumps(list(r.prediction_set)),
            r.top_class,
            float(r.confidence),
            at,
        )
        for r in records
    ]
    conn.executemany(
        "INSERT INTO predictions (image_id, model_version, probabilities, prediction_set, top_class, confidence, created_at) "
        "VALUES (?, ?, ?, ?, ?, ?, ?)",
        rows,
    )
    digest = hashlib.sha256(audit.canonical_json([list(r[:6]) for r in rows]).encode()).hexdigest()
    audit.append(
        conn, actor, "predictions", {"model_version": version, "count": len(rows), "image_ids": [r[0] for r in rows], "sha256": digest}, at
    )
    return len(rows)


def predictions(conn: sqlite3.Connection, version: int | None = None) -> list[PredictionRecord]:
    """The latest prediction of model ``version`` (the latest version when None) per image."""
    version = latest_version(conn) if version is None else version
    if version is None:
        return []
    rows = conn.execute(
        "SELECT image_id, probabilities, prediction_set, top_class, confidence, created_at FROM predictions "
        "WHERE id IN (SELECT MAX(id) FROM predictions WHERE model_version = ? GROUP BY image_id) ORDER BY image_id",
        (version,),
    ).fetchall()
    return [PredictionRecord(int(r[0]), json.loads(r[1]), tuple(json.loads(r[2])), r[3], float(r[4]), version, r[5]) for r in rows]


def check(conn: sqlite3.Connection) -> list[Finding]:
    """Model versions whose stored values no longer match what their audit row recorded."""
    recorded = {}
    for (text,) in conn.execute("SELECT details FROM audit WHERE action = 'adaptation'"):
        details = json.loads(text)
        recorded[int(details["version"])] = details
    findings = []
    rows = conn.execute(
        "SELECT version, backbone_id, backbone_weights_hash, adapted_weights, prototypes, class_names, temperature, thresholds, settings "
        "FROM model_versions ORDER BY version"
    )
    for version, backbone, weights_hash, weights, blob, names, temperature, thresholds, settings in rows:
        details = recorded.pop(int(version), None)
        if details is None:
            findings.append(Finding("model", f"model version {version} has no adaptation row in the audit log", int(version)))
            continue
        stored = {
            "backbone_id": backbone,
            "backbone_weights_hash": weights_hash,
            "adapted_weights_sha256": _sha(_as_bytes(weights)),
            "prototypes_sha256": _sha(_as_bytes(blob)),
            "class_names": json.loads(names),
            "temperature": temperature,
            "thresholds": json.loads(thresholds),
            "settings": json.loads(settings),
        }
        if any(details.get(key) != value for key, value in stored.items()):
            findings.append(
                Finding("model", f"model version {version} was changed after it was saved (it differs from its audit row)", int(version))
            )
    for version in sorted(recorded):
        findings.append(Finding("model", f"model version {version} recorded in the audit log is missing (it was deleted)", version))
    return findings


def _as_bytes(value: object) -> bytes | None:
    if value is None:
        return None
    if isinstance(value, str):  # a blob someone overwrote with text
        return value.encode("utf-8", "surrogateescape")
    return bytes(value) if isinstance(value, bytes | bytearray | memoryview) else str(value).encode()
