"""Cells of the CSV files the app writes: safe to open in a spreadsheet, and read back exactly.

A cell that starts with =, +, -, @, a tab or a carriage return is run as a formula by Excel,
LibreOffice and Google Sheets (CSV injection: a file named ``=HYPERLINK(...).png`` would be a live
link). OWASP's advice is to prefix such a cell with a single quote, which spreadsheets show as text.
A cell that itself starts with a quote gets one more, so :func:`restore` undoes :func:`neutralise`
exactly (a resumed run reads its file back). JSON Lines and Parquet are no spreadsheet's input and
keep the raw value.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
_QUOTE = "'"

T = TypeVar("T")


def neutralise(value: T) -> T | str:
    """``value`` as a CSV cell: text that a spreadsheet would run gets a leading quote; numbers pass."""
    if isinstance(value, str) and value.startswith((*FORMULA_STARTS, _QUOTE)):
        return _QUOTE + value
    return value


def restore(cell: str) -> str:
    """The value :func:`neutralise` was given, from its cell as read back."""
    return cell[1:] if cell.startswith(_QUOTE) else cell


def neutralise_row(row: Mapping[str, Any]) -> dict[str, Any]:
    return {key: neutralise(value) for key, value in row.items()}


def restore_row(row: Mapping[str, str]) -> dict[str, str]:
    return {key: restore(value) if isinstance(value, str) else value for key, value in row.items()}
