"""``raresight pacs``: search a DICOMweb server (PACS) and import series from it into a project."""

from __future__ import annotations

import argparse
import datetime
import json
import os
import signal
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any

from app.terminal_progress import TerminalProgress
from core.errors import RareSightError

if TYPE_CHECKING:
    from core.pacs import PacsServer, SeriesHit, StudyHit

PASSWORD_ENV = "RARESIGHT_PACS_PASSWORD"
TOKEN_ENV = "RARESIGHT_PACS_TOKEN"

LOGIN = f"""logging in: with --user U the password comes from ${PASSWORD_ENV}, else from the OS keyring
(stored there by an earlier --remember, or by the window's Import from PACS), else it is asked for
when a terminal is attached. A bearer token comes from ${TOKEN_ENV}. A password is never an argument
(it would stay in the shell history) and is never printed, logged or written to the project."""

SEARCH_EPILOG = f"""{LOGIN}

output: one study per line (date, modalities, series, instances, accession number, description,
study UID), or with --series the study's series; --json writes the same as JSON. Patient names are
never printed (--show-names shows them in the table, on screen only).

exit status:
  0  searched (the result may be empty)
  2  nothing found out: the server cannot be reached, refused the login, timed out, or the URL is not
     a DICOMweb root (the message names the server and says what to do)"""

IMPORT_EPILOG = f"""{LOGIN}

Every instance of the chosen series is fetched first into a temporary folder, then decoded and added
in one go as embedded, de-identified copies (DICOM PS3.15 basic profile, pixel data unchanged).
Instances imported earlier from the same server are skipped. The project records the server and
each instance's UID only as SHA-256 hashes.

exit status:
  0  imported (or every instance was already in the project)
  1  imported, but some instances did not decode (each named by its instance number with the reason)
  2  nothing imported: the server cannot be reached, refused the login, timed out, or the study is not
     there; the project is unchanged (the message names the server and says what to do)
  130  interrupted (Ctrl-C): nothing was added to the project"""


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "pacs",
        help="search a PACS (DICOMweb) and import series from it",
        description="Search a hospital archive over DICOMweb (QIDO-RS) and import series from it (WADO-RS).",
        epilog=LOGIN,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    search = actions.add_parser(
        "search",
        help="list the studies matching the filters (or a study's series)",
        description="List the studies on the server that match every filter given (or, with --series, the series of one study).",
        epilog=SEARCH_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _server_arguments(search)
    search.add_argument("--from", dest="date_from", type=_date, metavar="YYYY-MM-DD", help="studies on or after this date")
    search.add_argument("--to", dest="date_to", type=_date, metavar="YYYY-MM-DD", help="studies on or before this date")
    search.add_argument("--modality", metavar="M", help="studies with a series of this modality (CT, MR, CR ...)")
    search.add_argument("--description", metavar="TEXT", help="study description containing TEXT (* and ? are wildcards)")
    search.add_argument("--accession", metavar="A", help="accession number")
    search.add_argument("--series", metavar="STUDY_UID", help="list the series of this study instead of studies")
    search.add_argument("--limit", type=_positive, default=200, metavar="N", help="at most N studies (default %(default)s)")
    output = search.add_mutually_exclusive_group()
    output.add_argument("--json", action="store_true", help="JSON instead of a table (never with patient names)")
    output.add_argument("--show-names", action="store_true", help="add the patient name to the table (on screen only)")
    search.set_defaults(run=run_search)

    add = actions.add_parser(
        "import",
        help="import a study's series into a project",
        description="Import the series of one study (all of them, or those given with --series) into PROJECT.",
        epilog=IMPORT_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add.add_argument("project", type=Path, metavar="PROJECT", help="the project file (.raresight)")
    _server_arguments(add)
    add.add_argument("--study", required=True, metavar="UID", help="the Study Instance UID ('raresight pacs search' lists them)")
    add.add_argument("--series", nargs="+", metavar="UID", help="only these series (default: every series of the study)")
    add.add_argument("--class", dest="class_name", metavar="C", help="label the imported images as class C (default: unlabelled)")
    add.set_defaults(run=run_import)


def _server_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("url", metavar="URL", help="the server's DICOMweb root, e.g. http://pacs.example.org:8042/dicom-web")
    parser.add_argument("--user", metavar="U", help="log in as U (password: see below)")
    parser.add_argument("--remember", action="store_true", help="keep the password typed at the prompt in the OS keyring")
    parser.add_argument("--timeout", type=float, default=30.0, metavar="S", help="seconds to wait for each answer (default %(default)s)")


def _date(text: str) -> datetime.date:
    try:
        return datetime.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date; write it as YYYY-MM-DD") from None


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be 1 or more, not {value}")
    return value


def server_from(args: argparse.Namespace, prompt: Callable[[str], str] | None = None) -> PacsServer:
    """The server and its credentials: token or password from the environment, the keyring, or a prompt."""
    from urllib.parse import urlsplit

    from core.pacs import PacsServer
    from core.pacs.credentials import KeyringUnavailable, recall_secret, remember_secret

    shown = PacsServer(args.url).display_url
    try:
        parts = urlsplit(args.url)
        in_url_user, in_url_password = parts.username, parts.password
    except ValueError:
        in_url_user = in_url_password = None
    if in_url_password:
        raise RareSightError(
            f"{shown}: the URL holds a password, which would stay in the shell history; remove it and set ${PASSWORD_ENV}, "
            "or let the prompt ask"
        )
    user = args.user or in_url_user
    if token := os.environ.get(TOKEN_ENV):
        return PacsServer(args.url, username=user, token=token, timeout_s=args.timeout)
    if user is None:
        return PacsServer(args.url, timeout_s=args.timeout)
    password = os.environ.get(PASSWORD_ENV) or recall_secret(args.url, user)
    if password is None:
        ask = prompt or _prompt()
        if ask is None:
            raise RareSightError(
                f"{shown}: no password for user {user!r}; set ${PASSWORD_ENV}, or run this in a terminal to be asked for it"
            )
        password = ask(f"Password for {user} at {shown}: ")
        if args.remember:
            try:
                remember_secret(args.url, user, password)
            except KeyringUnavailable as exc:
                print(f"raresight: {exc}", file=sys.stderr)
    return PacsServer(args.url, username=user, password=password, timeout_s=args.timeout)


def _prompt() -> Callable[[str], str] | None:
    """getpass when a terminal is attached (it reads from the terminal, not from a pipe), else None."""
    if not sys.stdin.isatty():
        return None
    import getpass

    return getpass.getpass


def run_search(args: argparse.Namespace) -> int:
    from core.pacs import StudyQuery, search_series, search_studies

    server = server_from(args)
    if args.series:
        series = search_series(server, args.series, modality=args.modality, description=args.description)
        _print_series(series, args.json)
        return 0
    query = StudyQuery(args.date_from, args.date_to, args.modality, args.description, args.accession, args.limit)
    studies = search_studies(server, query)
    _print_studies(studies, args.json, args.show_names)
    if not args.json:
        print(f"{len(studies)} study(ies) on {server.display_url}", file=sys.stderr)
    return 0


def _print_studies(studies: list[StudyHit], as_json: bool, names: bool) -> None:
    if as_json:
        rows = [
            {
                "study_uid": s.study_uid,
                "date": s.date.isoformat() if s.date else None,
                "modalities": list(s.modalities),
                "description": s.description,
                "accession": s.accession,
                "series": s.series,
                "instances": s.instances,
            }
            for s in studies
        ]
        print(json.dumps(rows, indent=1, ensure_ascii=False))
        return
    header = ["date", "modalities", "series", "instances", "accession", "description", "study UID"] + (["patient"] if names else [])
    table = [
        [
            s.date.isoformat() if s.date else "-",
            "/".join(s.modalities) or "-",
            _count(s.series),
            _count(s.instances),
            s.accession or "-",
            s.description or "-",
            s.study_uid,
        ]
        + ([s.patient_name or "-"] if names else [])
        for s in studies
    ]
    _print_table(header, table)


def _print_series(series: list[SeriesHit], as_json: bool) -> None:
    if as_json:
        rows = [
            {"series_uid": s.series_uid, "number": s.number, "modality": s.modality, "description": s.description, "instances": s.instances}
            for s in series
        ]
        print(json.dumps(rows, indent=1, ensure_ascii=False))
        return
    table = [[_count(s.number), s.modality or "-", _count(s.instances), s.description or "-", s.series_uid] for s in series]
    _print_table(["number", "modality", "instances", "description", "series UID"], table)


def _count(value: int | None) -> str:
    return "-" if value is None else str(value)


def _print_table(header: list[str], rows: list[list[str]]) -> None:
    from core.privacy.paths import path_for_display  # control characters in server text must not drive the terminal

    cells = [[path_for_display(c) for c in row] for row in [header, *rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    for row in cells:
        print("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())


def run_import(args: argparse.Namespace) -> int:
    from core.pacs import PacsCancelled, import_from_pacs
    from core.store import Project

    with Project.open(args.project) as project:
        server = server_from(args)
        bar = TerminalProgress(unit="instances", log_every=10.0)
        with _first_interrupt_cancels() as cancelled:
            try:
                report = import_from_pacs(
                    project,
                    server,
                    args.study,
                    args.series,
                    class_name=args.class_name,
                    progress=lambda done, total: bar(done, total, "retrieved"),
                    is_cancelled=cancelled,
                )
            except PacsCancelled as exc:
                bar.finish()
                print(f"raresight: {exc}", file=sys.stderr)
                return 130
        bar.finish()
    for reason in report.failed:
        print(f"failed: {reason}", file=sys.stderr)
    print(
        f"{report.server}: {report.imported} image(s) imported, {report.duplicates} already in the project, "
        f"{len(report.failed)} did not decode"
    )
    if report.failed:
        return 1 if report.imported or report.duplicates else 2
    return 0


@contextmanager
def _first_interrupt_cancels() -> Iterator[Callable[[], bool]]:
    """The first Ctrl-C asks the import to stop at its next step (nothing is added); a second one stops at once."""
    flag: list[bool] = []

    def on_interrupt(signum: int, frame: FrameType | None) -> None:
        if flag:
            raise KeyboardInterrupt
        flag.append(True)
        print("\nraresight: stopping; nothing will be added (Ctrl-C again to stop at once)", file=sys.stderr)

    try:
        previous = signal.signal(signal.SIGINT, on_interrupt)
    except ValueError:  # not the main thread (tests calling main() from a worker): Ctrl-C keeps its default
        yield lambda: False
        return
    try:
        yield lambda: bool(flag)
    finally:
        signal.signal(signal.SIGINT, previous)
