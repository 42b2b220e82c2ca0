"""What scoring says about one image: plain values, the same for the GUI, the CLI and reports."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from core.privacy.paths import from_stored, to_stored


@dataclass(frozen=True)
class NearestSupport:
    """The support example of a class closest to the image, and how similar it is (cosine)."""

    content_hash: str
    path: str
    similarity: float


@dataclass(frozen=True)
class ScoreRow:
    """One scored image.

    ``probabilities`` maps every class to its calibrated probability (they sum to 1);
    ``prediction_set`` holds the plausible classes at the run's coverage; ``none_of_these`` is
    the open-set decision: the image is unlike every class, whatever the probabilities say.
    """

    path: str
    content_hash: str
    frame: int
    predicted_class: str | None
    probabilities: dict[str, float]
    prediction_set: tuple[str, ...]
    none_of_these: bool
    nearest_support: dict[str, NearestSupport] = field(default_factory=dict)
    model_version: int = 0

    @property
    def key(self) -> str:
        """Identifies the image across runs: what resumption skips.

        The path alone: scoring makes one row per file, of the frame the file's reader picks (the
        middle frame of a multi-frame DICOM, the first page of a TIFF), recorded in ``frame``.
        """
        return self.path

    def to_json(self) -> dict[str, Any]:
        return {  # paths in their stored form: any file name, byte for byte, in valid UTF-8
            "path": to_stored(self.path),
            "content_hash": self.content_hash,
            "frame": self.frame,
            "predicted_class": self.predicted_class,
            "probabilities": {name: round(value, 6) for name, value in self.probabilities.items()},
            "prediction_set": list(self.prediction_set),
            "none_of_these": self.none_of_these,
            "nearest_support": {
                name: {"content_hash": near.content_hash, "path": to_stored(near.path), "similarity": round(near.similarity, 6)}
                for name, near in self.nearest_support.items()
            },
            "model_version": self.model_version,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ScoreRow:
        return cls(
            path=from_stored(str(data["path"])),
            content_hash=str(data["content_hash"]),
            frame=int(data["frame"]),
            predicted_class=data.get("predicted_class"),
            probabilities={str(k): float(v) for k, v in data["probabilities"].items()},
            prediction_set=tuple(str(c) for c in data["prediction_set"]),
            none_of_these=bool(data["none_of_these"]),
            nearest_support={
                str(k): NearestSupport(str(v["content_hash"]), from_stored(str(v.get("path", ""))), float(v["similarity"]))
                for k, v in data.get("nearest_support", {}).items()
            },
            model_version=int(data.get("model_version", 0)),
        )


@dataclass(frozen=True)
class ScoreError:
    """An image that could not be scored, and why (an ImageReadError message)."""

    path: str
    error: str
