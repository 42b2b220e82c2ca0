"""The project file: images, classes, labels, model states, predictions and a hash-chained audit log.

One SQLite file per project (``*.raresight``), opened with :meth:`Project.open` or made with
:meth:`Project.create`. See ``core/store/project.py``.
"""

from core.store.project import EVENT_ACTIONS, Project, default_actor
from core.store.records import (
    AuditHead,
    ClassInfo,
    Finding,
    ImageRecord,
    ImportReport,
    LabelConflict,
    LabelEvent,
    ModelState,
    PredictionRecord,
    ProjectInfo,
    RelinkReport,
    StepInfo,
    UndoState,
)
from core.store.schema import APPLICATION_ID, SCHEMA_VERSION
from core.store.tensors import decode_npy, decode_safetensors, encode_npy, encode_safetensors

__all__ = [
    "APPLICATION_ID",
    "EVENT_ACTIONS",
    "SCHEMA_VERSION",
    "AuditHead",
    "ClassInfo",
    "Finding",
    "ImageRecord",
    "ImportReport",
    "LabelConflict",
    "LabelEvent",
    "ModelState",
    "PredictionRecord",
    "Project",
    "ProjectInfo",
    "RelinkReport",
    "StepInfo",
    "UndoState",
    "decode_npy",
    "decode_safetensors",
    "default_actor",
    "encode_npy",
    "encode_safetensors",
]
