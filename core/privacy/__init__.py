"""Keeping patients out of what the app writes: file names stored and shown safely, DICOM copies de-identified."""

from __future__ import annotations

from core.privacy.paths import from_stored, path_for_display, special_file_kind, special_file_message, to_stored

__all__ = ["from_stored", "path_for_display", "special_file_kind", "special_file_message", "to_stored"]
