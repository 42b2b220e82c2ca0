"""PACS passwords and tokens in the operating system's keyring (``keyring``), never in a project or a file of ours.

Entries are kept under the service name :data:`SERVICE`, one per server and user: the account is
``user@display_url`` (``display_url`` alone for a token without a user name). Where no keyring
backend works (a headless Linux box without Secret Service, a locked keyring), remembering raises
:class:`KeyringUnavailable`, whose message says the password is used for this session only, and
recalling returns None: a front-end carries on with a prompt.
"""

from __future__ import annotations

import logging

from core.pacs.types import PacsError, display_url

log = logging.getLogger(__name__)

SERVICE = "raresight-pacs"
NO_KEYRING = "no OS keyring here; the password is used for this session only"


class KeyringUnavailable(PacsError):
    """No usable OS keyring: the secret cannot be remembered (it still works for this session)."""


def account(url: str, username: str | None) -> str:
    """The keyring account name for a server and user (the display URL: no credentials in it)."""
    shown = display_url(url)
    return f"{username}@{shown}" if username else shown


def keyring_available() -> bool:
    """True when a keyring backend that can store secrets is configured."""
    import keyring
    from keyring.backends import fail, null

    # keyring falls back to its "fail" backend when none works; "null" is chosen to switch it off
    return not isinstance(keyring.get_keyring(), fail.Keyring | null.Keyring)


def remember_secret(url: str, username: str | None, secret: str) -> None:
    """Store ``secret`` (a password or token) for the server and user; KeyringUnavailable when there is no keyring."""
    import keyring
    from keyring.errors import KeyringError

    if not keyring_available():
        raise KeyringUnavailable(f"{display_url(url)}: {NO_KEYRING}")
    try:
        keyring.set_password(SERVICE, account(url, username), secret)
    except KeyringError as exc:
        raise KeyringUnavailable(
            f"{display_url(url)}: the OS keyring refused to store the password ({type(exc).__name__}); {NO_KEYRING}"
        ) from exc


def recall_secret(url: str, username: str | None) -> str | None:
    """The stored secret for the server and user, or None (none stored, or no keyring here)."""
    import keyring
    from keyring.errors import KeyringError

    if not keyring_available():
        return None
    try:
        return keyring.get_password(SERVICE, account(url, username))
    except KeyringError:
        log.info("the OS keyring could not be read (%s); asking for the password instead", NO_KEYRING)
        return None


def forget_secret(url: str, username: str | None) -> None:
    """Remove the stored secret for the server and user; nothing happens when none is stored or there is no keyring."""
    import keyring
    from keyring.errors import KeyringError, PasswordDeleteError

    if not keyring_available():
        return
    try:
        keyring.delete_password(SERVICE, account(url, username))
    except PasswordDeleteError:
        return
    except KeyringError as exc:
        raise KeyringUnavailable(f"{display_url(url)}: the OS keyring refused to remove the password ({type(exc).__name__})") from exc
