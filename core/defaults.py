"""Defaults that front-ends show in their help before any model code is loaded (no heavy imports)."""

from __future__ import annotations

DEFAULT_BACKBONE = "efficientnet-lite0"
DEFAULT_COVERAGE = 0.9
