"""Plain values the project returns: what front-ends show, never live database rows."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # annotations only: opening a project loads no numpy
    import numpy as np
    import numpy.typing as npt


@dataclass(frozen=True)
class ClassInfo:
    """A diagnosis class: its name, a description and the colour the window shows it in."""

    id: int
    name: str
    description: str = ""
    colour: str = ""


@dataclass(frozen=True)
class ImageRecord:
    """One image (one frame of one file) as the project knows it.

    ``path`` is where the file is now (relink changes it); ``imported_path`` is where it was when
    imported, as given. ``content_hash`` is the SHA-256 of the file's bytes.
    """

    content_hash: str
    path: str
    size_bytes: int
    imported_path: str = ""
    frame: int = 0
    n_frames: int = 1
    modality: str = ""
    format: str = ""
    rows: int | None = None
    columns: int | None = None
    thumbnail_png: bytes | None = field(default=None, repr=False)
    id: int | None = None


@dataclass(frozen=True)
class LabelConflict:
    """A file imported as ``requested`` whose image the project already has labelled ``current``."""

    path: str
    image_id: int
    current: str
    requested: str


@dataclass
class ImportReport:
    """What an import did: new image ids, files already in the project, files that failed.

    An import with a class never changes an existing label silently: without ``relabel`` such files
    keep their label and are listed in ``label_conflicts``; with it they are in ``relabelled``.
    """

    added: list[int] = field(default_factory=list)
    duplicates: list[tuple[str, int]] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)
    labelled: int = 0
    label_conflicts: list[LabelConflict] = field(default_factory=list)
    relabelled: list[LabelConflict] = field(default_factory=list)


@dataclass(frozen=True)
class StepInfo:
    """One labelling step (or the undo or redo of one)."""

    id: int
    kind: str
    description: str
    n_labels: int
    target_id: int | None = None


@dataclass(frozen=True)
class UndoState:
    """What Edit > Undo and Edit > Redo would do now (None: nothing to undo or redo)."""

    undo: StepInfo | None
    redo: StepInfo | None

    @property
    def can_undo(self) -> bool:
        return self.undo is not None

    @property
    def can_redo(self) -> bool:
        return self.redo is not None


@dataclass(frozen=True)
class LabelEvent:
    """One row of an image's label history."""

    label_id: int
    image_id: int
    class_name: str | None
    previous_class_name: str | None
    step_id: int
    actor: str
    at: str
    note: str = ""


@dataclass(frozen=True, eq=False)
class ModelState:
    """The adapted model a prediction came from.

    prototypes: (n_classes, embedding_dim) float32, rows follow ``class_names``.
    adapted_weights: safetensors bytes, or None when adaptation changed no weights.
    """

    backbone_id: str
    backbone_weights_hash: str
    prototypes: npt.NDArray[np.float32]
    class_names: tuple[str, ...]
    temperature: float = 1.0
    thresholds: dict[str, float] = field(default_factory=dict)
    settings: dict[str, Any] = field(default_factory=dict)
    adapted_weights: bytes | None = field(default=None, repr=False)
    version: int | None = None
    actor: str = ""
    created_at: str = ""


@dataclass(frozen=True)
class PredictionRecord:
    """What model ``model_version`` said about one image.

    probabilities: class name -> calibrated probability. top_class None means "none of these".
    """

    image_id: int
    probabilities: dict[str, float]
    prediction_set: tuple[str, ...]
    top_class: str | None
    confidence: float
    model_version: int | None = None
    created_at: str = ""


@dataclass(frozen=True)
class Finding:
    """One thing ``verify`` found wrong. ``kind``: schema, integrity, audit, labels, model, image."""

    kind: str
    message: str
    row_id: int | None = None

    def __str__(self) -> str:
        return f"{self.kind}: {self.message}"


@dataclass(frozen=True)
class AuditHead:
    """The audit log's last row and its chain hash (SHA-256 hex): what reports and exports print."""

    row_id: int
    hash: str

    def __str__(self) -> str:
        return f"audit row {self.row_id}, chain hash {self.hash}"


@dataclass(frozen=True)
class RelinkReport:
    """Images found again in the new folder, and images still missing."""

    relinked: list[int]
    still_missing: list[int]
    files_scanned: int


@dataclass(frozen=True)
class ProjectInfo:
    """Counts a user wants to see first (``raresight project info``)."""

    path: str
    schema_version: int
    images: int
    labelled_images: int
    classes: dict[str, int]
    model_version: int | None
    embedded_images: int
    predictions: int
    audit_entries: int
    created_at: str
    read_only: bool  # how this session opened it, not a property of the file

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "schema_version": self.schema_version,
            "images": self.images,
            "labelled_images": self.labelled_images,
            "classes": dict(self.classes),
            "model_version": self.model_version,
            "embedded_images": self.embedded_images,
            "predictions": self.predictions,
            "audit_entries": self.audit_entries,
            "created_at": self.created_at,
            "opened_read_only": self.read_only,
        }
