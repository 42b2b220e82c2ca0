"""The DICOMweb client for one server, and its failures translated into errors a user can act on.

``dicomweb-client`` speaks QIDO-RS and WADO-RS over ``requests``; this module makes its session
(HTTP Basic or a bearer token), and turns what ``requests`` and the client raise into
:class:`PacsError` subclasses whose message names the server (its display URL, never the password)
and says what to do.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

from core.pacs.types import PacsAuthError, PacsError, PacsServer, PacsTimeout, PacsUnreachable

if TYPE_CHECKING:
    from dicomweb_client.api import DICOMwebClient

log = logging.getLogger(__name__)

#: A request the server answers with "busy, try later" (429, 503) is tried this often, waiting
#: RETRY_WAIT_S, then twice that, between tries. A refused connection or a timeout is not retried:
#: the user hears at once (a timeout tried again would keep them waiting several times over).
RETRY_ATTEMPTS = 3
RETRY_WAIT_S = 0.5
BUSY = frozenset({429, 503})

T = TypeVar("T")


def open_client(server: PacsServer) -> DICOMwebClient:
    """A client for ``server``; raises PacsUnreachable for a URL that is not http(s)://host[:port]/path."""
    from dicomweb_client.api import DICOMwebClient

    # The client logs every UID it asks for at INFO: UIDs are identifiers (PS3.15), so only its
    # warnings may reach the application's log.
    logging.getLogger("dicomweb_client").setLevel(logging.WARNING)
    session = _session_class()()
    session.trust_env = False  # no proxy or .netrc from the environment: the archive is reached directly
    if server.token:
        session.headers["Authorization"] = f"Bearer {server.token}"
    elif server.username is not None:
        session.auth = (server.username, server.password or "")
    try:
        client = DICOMwebClient(server.base_url, session=session, timeout=(min(server.timeout_s, 10.0), server.timeout_s))
    except ValueError as exc:
        raise PacsUnreachable(
            f"{server.display_url}: not a DICOMweb address ({exc}); give the server's DICOMweb root, "
            "e.g. http://pacs.example.org:8042/dicom-web"
        ) from exc
    client.set_http_retry_params(retry=False)  # its retrying library would retry refused connections and timeouts too
    return client


def request(server: PacsServer, doing: str, call: Callable[[], T]) -> T:
    """``call()`` with failures translated (see :func:`translated`), retried while the server says it is busy."""
    for attempt in range(RETRY_ATTEMPTS):
        try:
            with translated(server, doing):
                return call()
        except PacsError as exc:
            if _status(exc.__cause__) not in BUSY or attempt == RETRY_ATTEMPTS - 1:
                raise
            log.info("the server is busy (HTTP %s); trying again", _status(exc.__cause__))
            time.sleep(RETRY_WAIT_S * 2**attempt)
    raise AssertionError("unreachable")  # the loop returns or raises


def _status(exc: BaseException | None) -> int | None:
    response = getattr(exc, "response", None)
    status = getattr(response, "status_code", None)
    return status if isinstance(status, int) else None


def _session_class() -> Any:
    """A ``requests.Session`` that sends the QIDO-RS wildcards ``*`` and ``?`` as they are.

    The client percent-encodes every query value; RFC 3986 allows ``*`` and ``?`` unencoded in a
    query, and some servers never decode the query (Orthanc 1.10 with its DICOMweb plugin 1.7, as in
    Debian 12) and so would match a literal "%2A" instead of any text.
    """
    import requests  # loaded with the client, not when the package is imported

    class LiteralWildcards(requests.Session):  # type: ignore[misc]
        def send(self, request: Any, **kwargs: Any) -> Any:
            if request.url and "?" in request.url:
                path, query = request.url.split("?", 1)
                for encoded, plain in (("%2A", "*"), ("%2a", "*"), ("%3F", "?"), ("%3f", "?")):
                    query = query.replace(encoded, plain)
                request.url = f"{path}?{query}"
            return super().send(request, **kwargs)

    return LiteralWildcards


@contextlib.contextmanager
def translated(server: PacsServer, doing: str) -> Iterator[None]:
    """Run a request: what ``requests`` or the client raise comes out as a PacsError naming the server."""
    import requests

    try:
        yield
    except requests.exceptions.HTTPError as exc:
        _http_error(server, doing, _status(exc) or 0, exc)
    except requests.exceptions.Timeout as exc:
        raise PacsTimeout(
            f"{server.display_url}: no answer within {server.timeout_s:g} s while {doing}; "
            "the server may be busy: try again later, or ask its administrator"
        ) from exc
    except requests.exceptions.ConnectionError as exc:
        raise PacsUnreachable(
            f"{server.display_url}: cannot connect while {doing} ({_reason(exc)}); "
            "check the address and port, that the server is running, and the network"
        ) from exc
    except requests.exceptions.JSONDecodeError as exc:
        raise PacsUnreachable(
            f"{server.display_url}: the answer is not DICOMweb while {doing}; check that the URL is the server's DICOMweb root"
        ) from exc
    except requests.exceptions.RequestException as exc:
        raise PacsError(f"{server.display_url}: the connection failed while {doing} ({_reason(exc)}); try again") from exc
    except ValueError as exc:  # the client refusing what the server sent (not multipart, a malformed UID)
        raise PacsError(
            f"{server.display_url}: unexpected answer while {doing} ({type(exc).__name__}); check that the URL is a DICOMweb root, "
            "or ask the server's administrator"
        ) from exc


def _http_error(server: PacsServer, doing: str, status: int, exc: Exception) -> NoReturn:
    where = server.display_url
    if status in (401, 403):
        who = f"user {server.username!r}" if server.username else ("the token" if server.token else "no credentials")
        raise PacsAuthError(
            f"{where}: refused access while {doing} (HTTP {status}, with {who}); check the user name and password (or token)"
        ) from exc
    if status == 404:
        raise PacsUnreachable(f"{where}: not found (HTTP 404) while {doing}; check that the URL is the server's DICOMweb root") from exc
    if status in (408, 504):
        raise PacsTimeout(f"{where}: timed out (HTTP {status}) while {doing}; try again later") from exc
    raise PacsError(f"{where}: the server answered HTTP {status} while {doing}; try again later, or ask its administrator") from exc


def _reason(exc: Exception) -> str:
    """A short reason without the URL (which could carry credentials) or a long chain of wrappers."""
    text = str(exc)
    for marker in ("Connection refused", "Name or service not known", "nodename nor servname", "Connection reset", "Remote end closed"):
        if marker in text:
            return marker.lower()
    return type(exc).__name__
