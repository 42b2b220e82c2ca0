"""De-identified copies of DICOM files, for the copies ``project add --embed`` stores in a project.

DICOM PS3.15 Annex E, the Basic Application Level Confidentiality Profile, applied through
``dicognito`` (MIT, pure Python, needs only pydicom>=3.0.1). It was chosen over ``deid`` because it
implements the profile's replacements itself: names (every PN), IDs, UIDs (remapped consistently,
file meta included), addresses, institution and station names, with dates and times shifted by one
offset, and it records what it did (DeidentificationMethod). ``deid`` ships no profile, only a
recipe that blanks by name pattern (it removes every element ending in "ID", UIDs included) and
pulls matplotlib into the import. What the profile removes and dicognito keeps (free-text
descriptions and comments, age, weight, private elements...) is removed here with pydicom, and the
birth date is emptied (Z in the profile) rather than shifted.

Pixel data are never touched, so the copy decodes to the same image. Text burned into the pixels
stays: the profile's Clean Pixel Data option is not applied.
"""

from __future__ import annotations

import io
import threading
import warnings
from typing import Any

from core.errors import ImageReadError

# PS3.15 Table E.1-1 attributes the profile removes (X) that dicognito leaves in place.
_REMOVE = (
    "AcquisitionComments",
    "AdditionalPatientHistory",
    "AdmittingDiagnosesDescription",
    "Allergies",
    "DerivationDescription",
    "DeviceSerialNumber",
    "EthnicGroup",
    "FrameComments",
    "IdentifyingComments",
    "ImageComments",
    "InterpretationText",
    "MedicalAlerts",
    "PatientAge",
    "PatientBirthTime",
    "PatientComments",
    "PatientSize",
    "PatientState",
    "PatientWeight",
    "PerformedProcedureStepDescription",
    "PregnancyStatus",
    "ProtocolName",
    "ReasonForStudy",
    "RequestAttributesSequence",
    "RequestedProcedureDescription",
    "SeriesDescription",
    "SmokingStatus",
    "SpecialNeeds",
    "StudyComments",
    "StudyDescription",
    "TextComments",
    "TextString",
)
# ... and those it empties (Z) that dicognito would shift or keep.
_EMPTY = ("PatientBirthDate", "PatientSex")

_lock = threading.Lock()  # dicognito's anonymizer keeps its UID map in plain dicts
_anonymizer: Any = None


def new_anonymizer() -> Any:
    """A dicognito anonymizer with its own UID map and date shift (random seed: the mapping cannot be
    recomputed from the originals). One per export, so two exports cannot be linked by their UIDs."""
    from dicognito.anonymizer import Anonymizer

    return Anonymizer()


def _anonymize(dataset: Any, anonymizer: Any = None) -> None:
    """dicognito's profile through ``anonymizer``, else one per process (the project's embedded copies):
    UIDs shared by files of one study stay shared."""
    global _anonymizer
    with _lock:
        if anonymizer is None:
            _anonymizer = _anonymizer or new_anonymizer()
            anonymizer = _anonymizer
        anonymizer.anonymize(dataset)


def _strip(dataset: Any) -> None:
    """What the profile removes or empties beyond dicognito, at every level of nesting."""
    dataset.remove_private_tags()
    for item in [dataset, *_nested(dataset)]:
        for keyword in _REMOVE:
            if keyword in item:
                delattr(item, keyword)
        for keyword in _EMPTY:
            if keyword in item:
                item[keyword].value = ""


def _nested(dataset: Any) -> list[Any]:
    items = []
    for element in dataset:
        if element.VR == "SQ":
            for item in element.value:
                items += [item, *_nested(item)]
    return items


def deidentify_dicom(data: bytes, name: str, anonymizer: Any = None) -> bytes:
    """A de-identified copy of the DICOM file ``data`` (its pixel data byte for byte the same).

    ``name`` only names the file in an error. Raises ImageReadError when the file cannot be
    de-identified: an identifiable copy is never stored in its place.
    """
    from pydicom import dcmread

    from core.privacy import ps315

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # pydicom's warnings quote element values, which can be patient data
            before = dcmread(io.BytesIO(data), force=True)
            dataset = dcmread(io.BytesIO(data), force=True)
            _anonymize(dataset, anonymizer)
            _strip(dataset)
            ps315.enforce(before, dataset)  # what dicognito leaves of the profile's table (timezone, overlays, icons ...)
            buffer = io.BytesIO()
            dataset.save_as(buffer, enforce_file_format=False)
    except Exception as exc:  # whatever a third-party parser raises on odd data, the copy is refused
        raise ImageReadError(
            name,
            f"its copy could not be de-identified ({type(exc).__name__})",
            "add it without --embed (referenced by path), or with --embed-identifiable to store it as it is",
        ) from exc
    return buffer.getvalue()
