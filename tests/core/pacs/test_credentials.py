"""PACS passwords in the OS keyring through ``keyring``'s own plug-in API, and the clear refusal without one."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from keyring.backends import fail

from core.pacs.credentials import SERVICE, KeyringUnavailable, forget_secret, keyring_available, recall_secret, remember_secret
from tests.core.pacs.helpers import MemoryKeyring, installed_keyring


@pytest.fixture
def use_keyring() -> Iterator[MemoryKeyring]:
    memory = MemoryKeyring()
    with installed_keyring(memory):
        yield memory


@pytest.fixture
def no_keyring() -> Iterator[None]:
    with installed_keyring(fail.Keyring()):
        yield


def test_remember_recall_forget(use_keyring: MemoryKeyring) -> None:
    url = "https://pacs.example.org/dicom-web/"
    assert keyring_available()
    assert recall_secret(url, "alice") is None
    remember_secret(url, "alice", "pw-alice")
    remember_secret(url, "bob", "pw-bob")
    remember_secret(url, None, "a-token")
    assert use_keyring.entries == {
        (SERVICE, "alice@https://pacs.example.org/dicom-web"): "pw-alice",
        (SERVICE, "bob@https://pacs.example.org/dicom-web"): "pw-bob",
        (SERVICE, "https://pacs.example.org/dicom-web"): "a-token",
    }
    assert recall_secret("https://pacs.example.org/dicom-web", "alice") == "pw-alice"  # the same server, spelt without "/"
    assert recall_secret(url, None) == "a-token"
    forget_secret(url, "alice")
    forget_secret(url, "alice")  # nothing stored: nothing happens
    assert recall_secret(url, "alice") is None and recall_secret(url, "bob") == "pw-bob"


def test_a_url_with_credentials_is_stored_under_its_display_form(use_keyring: MemoryKeyring) -> None:
    remember_secret("https://alice:typed-in-url@pacs.example.org/dicom-web", "alice", "pw")
    assert [name for _, name in use_keyring.entries] == ["alice@https://pacs.example.org/dicom-web"]


def test_without_a_keyring_the_password_is_for_this_session_only(no_keyring: None) -> None:
    assert not keyring_available()
    with pytest.raises(
        KeyringUnavailable,
        match=f"^{re.escape('https://pacs.example.org/dicom-web: no OS keyring here; the password is used for this session only')}$",
    ):
        remember_secret("https://pacs.example.org/dicom-web", "alice", "pw")
    assert recall_secret("https://pacs.example.org/dicom-web", "alice") is None
    forget_secret("https://pacs.example.org/dicom-web", "alice")
