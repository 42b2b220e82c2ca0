"""Plain values and errors of the PACS import: the server, a query, what a search finds, what an import did.

No network code here, so front-ends can build their forms on these without loading the client.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field
from urllib.parse import urlsplit, urlunsplit

from core.errors import RareSightError


@dataclass(frozen=True)
class PacsServer:
    """A DICOMweb server: its root URL and how to log in.

    ``password`` and ``token`` (a bearer token) are used for requests only: they are never written to
    the project, the log or the audit, and never part of :attr:`display_url` or ``repr``.
    """

    url: str  # DICOMweb root, e.g. http://127.0.0.1:8042/dicom-web
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    token: str | None = field(default=None, repr=False)
    timeout_s: float = 30.0

    def __repr__(self) -> str:  # the URL could hold user:password@
        return f"PacsServer({self.display_url!r}, username={self.username!r}, timeout_s={self.timeout_s!r})"

    @property
    def display_url(self) -> str:
        """The URL with any ``user:password@`` (and query or fragment) removed: the only form printed or stored."""
        return display_url(self.url)

    @property
    def base_url(self) -> str:
        """The URL requests go to: without credentials embedded in it, without a trailing slash."""
        return display_url(self.url)


def display_url(url: str) -> str:
    """``url`` without ``user:password@``, query or fragment, and without a trailing slash."""
    text = url.strip()
    try:
        parts = urlsplit(text)
        host = parts.hostname or ""
        port = parts.port
    except ValueError:  # a malformed port or bracket: show the scheme and what follows the last '@'
        return text.rsplit("@", 1)[-1].split("?", 1)[0].rstrip("/")
    if ":" in host:  # IPv6 literal
        host = f"[{host}]"
    netloc = host if port is None else f"{host}:{port}"
    return urlunsplit((parts.scheme, netloc, parts.path.rstrip("/"), "", ""))


@dataclass(frozen=True)
class StudyQuery:
    """QIDO-RS study search filters; None means "any"."""

    date_from: datetime.date | None = None
    date_to: datetime.date | None = None
    modality: str | None = None
    description: str | None = None  # StudyDescription, wildcard match ("*text*")
    accession: str | None = None
    limit: int = 200


@dataclass(frozen=True)
class StudyHit:
    """One study a search found.

    ``patient_name`` is for on-screen display in the import dialog only: never stored, logged, or
    put in machine-readable output.
    """

    study_uid: str
    date: datetime.date | None
    modalities: tuple[str, ...]
    description: str
    accession: str
    series: int | None
    instances: int | None
    patient_name: str = field(default="", repr=False)


@dataclass(frozen=True)
class SeriesHit:
    """One series of a study."""

    series_uid: str
    modality: str
    description: str
    number: int | None
    instances: int | None


@dataclass
class PacsImportReport:
    """What an import did.

    ``failed`` holds one reason per instance that did not decode, naming it by its instance number
    within the series (never by UID or patient name).
    """

    server: str  # display_url
    imported: int = 0  # image records added to the project
    # instances imported earlier from this server (same SOP Instance UID hash: not fetched again), and
    # instances whose image the project already had (same content, e.g. added from a file): not added twice
    duplicates: int = 0
    failed: list[str] = field(default_factory=list)


class PacsError(RareSightError):
    """A PACS search or import failed; the message names the server and what to do."""


class PacsUnreachable(PacsError):
    """Connection refused, unknown host, or the URL is not a DICOMweb root."""


class PacsAuthError(PacsError):
    """The server refused the credentials (HTTP 401 or 403)."""


class PacsTimeout(PacsError):
    """The server did not answer within the timeout."""


class PacsCancelled(PacsError):
    """``is_cancelled()`` returned True; the project is unchanged."""
