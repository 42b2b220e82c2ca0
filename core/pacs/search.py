"""QIDO-RS searches: studies by date range, modality, description and accession number; a study's series.

Results are read from the DICOM JSON model (PS3.18 F.2) into plain values; a value the server left
out or sent malformed becomes empty (or None), never an exception.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from typing import Any

from core.pacs.client import open_client, request
from core.pacs.types import PacsServer, SeriesHit, StudyHit, StudyQuery

# DICOM JSON keys (group + element, upper-case hex) of the attributes read here.
STUDY_UID = "0020000D"
STUDY_DATE = "00080020"
MODALITIES_IN_STUDY = "00080061"
STUDY_DESCRIPTION = "00081030"
ACCESSION = "00080050"
STUDY_SERIES = "00201206"
STUDY_INSTANCES = "00201208"
PATIENT_NAME = "00100010"
SERIES_UID = "0020000E"
MODALITY = "00080060"
SERIES_DESCRIPTION = "0008103E"
SERIES_NUMBER = "00200011"
SERIES_INSTANCES = "00201209"
SOP_INSTANCE_UID = "00080018"
INSTANCE_NUMBER = "00200013"

_STUDY_FIELDS = ("StudyDate", "ModalitiesInStudy", "StudyDescription", "AccessionNumber", "PatientName")
_STUDY_COUNTS = ("NumberOfStudyRelatedSeries", "NumberOfStudyRelatedInstances")
_SERIES_FIELDS = ("Modality", "SeriesDescription", "SeriesNumber", "NumberOfSeriesRelatedInstances")


@dataclass(frozen=True)
class InstanceRef:
    """One instance of a series as QIDO-RS lists it: what WADO-RS needs to fetch it."""

    study_uid: str
    series_uid: str
    sop_uid: str
    number: int | None
    series_number: int | None


def study_filters(query: StudyQuery) -> dict[str, str]:
    """QIDO-RS match keys for ``query`` (a date range "from-to", either end open; "*text*" wildcards)."""
    filters: dict[str, str] = {}
    if query.date_from is not None or query.date_to is not None:
        start = query.date_from.strftime("%Y%m%d") if query.date_from else ""
        end = query.date_to.strftime("%Y%m%d") if query.date_to else ""
        filters["StudyDate"] = start if start == end else f"{start}-{end}"
    if query.modality:
        filters["ModalitiesInStudy"] = query.modality.strip().upper()
    if query.description:
        filters["StudyDescription"] = _wildcard(query.description)
    if query.accession:
        filters["AccessionNumber"] = query.accession.strip()
    return filters


def _wildcard(text: str) -> str:
    """``*text*`` unless ``text`` has its own wildcards; a space matches any one character ("?").

    A space must be percent-encoded in a URL, and some servers never decode the query (see
    ``client._session_class``): "?" matches the space there too.
    """
    text = " ".join(text.split())
    text = text if "*" in text or "?" in text else f"*{text}*"
    return text.replace(" ", "?")


def search_studies(server: PacsServer, query: StudyQuery) -> list[StudyHit]:
    """Studies matching ``query``, at most ``query.limit``, in the server's order.

    Raises PacsUnreachable, PacsAuthError, PacsTimeout or PacsError, naming the server.
    """
    client = open_client(server)
    found = request(
        server,
        "searching for studies",
        lambda: client.search_for_studies(
            limit=query.limit, fields=[*_STUDY_FIELDS, *_STUDY_COUNTS], search_filters=study_filters(query) or None
        ),
    )
    hits = [_study(item) for item in found if _text(item, STUDY_UID)]
    return hits[: query.limit]


def search_series(server: PacsServer, study_uid: str, *, modality: str | None = None, description: str | None = None) -> list[SeriesHit]:
    """The series of study ``study_uid``, optionally only those of ``modality`` or whose description matches."""
    filters: dict[str, str] = {}
    if modality:
        filters["Modality"] = modality.strip().upper()
    if description:
        filters["SeriesDescription"] = _wildcard(description)
    client = open_client(server)
    found = request(
        server,
        "listing the series of a study",
        lambda: client.search_for_series(study_instance_uid=study_uid, fields=list(_SERIES_FIELDS), search_filters=filters or None),
    )
    hits = [
        SeriesHit(
            series_uid=_text(item, SERIES_UID),
            modality=_text(item, MODALITY),
            description=_text(item, SERIES_DESCRIPTION),
            number=_int(item, SERIES_NUMBER),
            instances=_int(item, SERIES_INSTANCES),
        )
        for item in found
        if _text(item, SERIES_UID)
    ]
    return sorted(hits, key=lambda hit: (hit.number is None, hit.number or 0))


def list_instances(client: Any, server: PacsServer, study_uid: str, series: SeriesHit) -> list[InstanceRef]:
    """Every instance of one series (all pages), sorted by instance number."""
    found = request(
        server,
        "listing the instances of a series",
        lambda: client.search_for_instances(
            study_instance_uid=study_uid, series_instance_uid=series.series_uid, fields=["InstanceNumber"], get_remaining=True
        ),
    )
    refs = {
        _text(item, SOP_INSTANCE_UID): InstanceRef(
            study_uid, series.series_uid, _text(item, SOP_INSTANCE_UID), _int(item, INSTANCE_NUMBER), series.number
        )
        for item in found
        if _text(item, SOP_INSTANCE_UID)
    }
    return sorted(refs.values(), key=lambda ref: (ref.number is None, ref.number or 0))


def _study(item: dict[str, Any]) -> StudyHit:
    modalities = tuple(str(v) for v in _values(item, MODALITIES_IN_STUDY) if isinstance(v, str) and v)
    return StudyHit(
        study_uid=_text(item, STUDY_UID),
        date=_date(_text(item, STUDY_DATE)),
        modalities=modalities,
        description=_text(item, STUDY_DESCRIPTION),
        accession=_text(item, ACCESSION),
        series=_int(item, STUDY_SERIES),
        instances=_int(item, STUDY_INSTANCES),
        patient_name=_text(item, PATIENT_NAME),
    )


def _values(item: dict[str, Any], tag: str) -> list[Any]:
    element = item.get(tag)
    values = element.get("Value") if isinstance(element, dict) else None
    return values if isinstance(values, list) else []


def _text(item: dict[str, Any], tag: str) -> str:
    values = _values(item, tag)
    if not values:
        return ""
    first = values[0]
    if isinstance(first, dict):  # a person name: its alphabetic form, components shown with spaces
        first = first.get("Alphabetic", "")
        return " ".join(part for part in str(first).split("^") if part) if isinstance(first, str) else ""
    return str(first).strip() if isinstance(first, str | int | float) else ""


def _int(item: dict[str, Any], tag: str) -> int | None:
    values = _values(item, tag)
    try:
        return int(values[0]) if values else None
    except (TypeError, ValueError):
        return None


def _date(text: str) -> datetime.date | None:
    try:
        return datetime.datetime.strptime(text[:8], "%Y%m%d").date() if len(text) >= 8 else None
    except ValueError:
        return None
