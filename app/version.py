"""The installed package's version, for ``--version`` and the About box (no other imports)."""

from __future__ import annotations


def package_version() -> str:
    from importlib.metadata import PackageNotFoundError, version  # 20 ms: only for --version and the About box

    try:
        return version("raresight")
    except PackageNotFoundError:
        return "0+unknown"
