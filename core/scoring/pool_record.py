"""What a model learned from the project's unlabelled images, as its settings record it and people read it.

No numpy or torch here: ``raresight project info`` reads it and must stay quick.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

POOL_SETTING = "pool_used"  # the model state's setting (core/fewshot/persistence.py): {"images": n, "method": name}


def pool_used(settings: Mapping[str, Any]) -> dict[str, Any]:
    """{"images": n, "method": name} from a model's settings; method "none" when it learned from no
    unlabelled image (turned off, none usable, or adapted before the pool existed)."""
    used = settings.get(POOL_SETTING) or {}
    images = int(used.get("images", 0))
    return {"images": images, "method": str(used.get("method", "none")) if images > 0 else "none"}


def describe_pool(settings: Mapping[str, Any]) -> str:
    """The pool as the model card, the window and the command line say it: "120 unlabelled images (soft-kmeans)", or "none"."""
    used = pool_used(settings)
    if used["images"] <= 0:
        return "none"
    return f"{used['images']} unlabelled image{'s' if used['images'] != 1 else ''} ({used['method']})"
