"""Images from a hospital archive over DICOMweb: QIDO-RS to search, WADO-RS to retrieve.

>>> server = PacsServer("http://127.0.0.1:8042/dicom-web", username="me", password=secret)
>>> hits = search_studies(server, StudyQuery(modality="CT", date_from=datetime.date(2024, 1, 1)))
>>> report = import_from_pacs(project, server, hits[0].study_uid)

The client library (``dicomweb-client``) is imported inside the functions, so importing this package
stays light. Retrieved instances become embedded, de-identified copies in the project, all in one
transaction; the project records the server and each SOP Instance UID only as SHA-256 hashes.
"""

from core.pacs.importer import import_from_pacs
from core.pacs.search import search_series, search_studies
from core.pacs.types import (
    PacsAuthError,
    PacsCancelled,
    PacsError,
    PacsImportReport,
    PacsServer,
    PacsTimeout,
    PacsUnreachable,
    SeriesHit,
    StudyHit,
    StudyQuery,
)

__all__ = [
    "PacsAuthError",
    "PacsCancelled",
    "PacsError",
    "PacsImportReport",
    "PacsServer",
    "PacsTimeout",
    "PacsUnreachable",
    "SeriesHit",
    "StudyHit",
    "StudyQuery",
    "import_from_pacs",
    "search_series",
    "search_studies",
]
