"""What an evaluation ran on: enough to tell whether two runs drew the same episodes with the same model.

prov = run_provenance(Path("data/rbc"), seed=0, queries=15, ways=5, shots=(1, 5), episodes=300,
                      groups=None, coverage=0.9, backbone="efficientnet-lite0", adapt="auto")
prov["git_sha"]   # None when the code does not run from a git checkout (installed from a wheel)

bench/compare_evals.py pairs two runs' per-episode accuracies only when these values agree.
"""

from __future__ import annotations

import logging
import subprocess
from collections.abc import Sequence
from importlib import metadata
from pathlib import Path
from typing import Any

import core
from core.embedding import load_backbone
from core.fewshot import calibration
from core.fewshot.persistence import backbone_fingerprint

log = logging.getLogger(__name__)

GIT_TIMEOUT_S = 5.0
# The folder that holds the ``core`` package: a git checkout's root when run from source.
SOURCE_ROOT = Path(core.__file__).resolve().parent.parent


def run_provenance(
    dataset_dir: Path,
    *,
    seed: int,
    queries: int,
    ways: int,
    shots: Sequence[int],
    episodes: int,
    groups: str | None,
    coverage: float,
    backbone: str,
    adapt: str,
) -> dict[str, Any]:
    """JSON values that pin down an evaluation run; ``ways`` is the number requested, before capping."""
    sha, dirty = git_state(SOURCE_ROOT)
    prov: dict[str, Any] = {
        "dataset": str(Path(dataset_dir).resolve()),
        "seed": seed,
        "queries": queries,
        "ways": ways,
        "shots": [int(k) for k in shots],
        "episodes": episodes,
        "groups": groups,
        "coverage": coverage,
        "backbone_id": load_backbone(backbone).backbone_id,
        "backbone_weights_hash": backbone_fingerprint(backbone),
        "adapt": adapt,
    }
    cal_id = _calibration_id(backbone)
    if cal_id is not None:
        prov["calibration_id"] = cal_id
    return prov | {"raresight_version": _version(), "git_sha": sha, "git_dirty": dirty}


def git_state(root: Path, untracked: bool = True) -> tuple[str | None, bool | None]:
    """(HEAD's SHA, uncommitted changes?) of the git checkout rooted at ``root``; (None, None) if it is not one.

    ``untracked`` False leaves untracked files out of "changes" (a bench writing its own results).

    ``root`` must be the checkout's top level: an installed package inside some other repository
    (a virtual environment in a project folder) must not report that repository's commit.
    """
    top = _git(root, "rev-parse", "--show-toplevel")
    if top is None or Path(top).resolve() != root.resolve():
        return None, None
    sha = _git(root, "rev-parse", "HEAD")
    if sha is None:
        return None, None
    status = _git(root, "status", "--porcelain", *([] if untracked else ["--untracked-files=no"]))
    return sha, None if status is None else bool(status)


def _git(root: Path, *args: str) -> str | None:
    """Stripped stdout of ``git -C root args``, or None if git is missing, fails or hangs."""
    try:
        done = subprocess.run(["git", "-C", str(root), *args], capture_output=True, text=True, timeout=GIT_TIMEOUT_S, check=False)
    except (OSError, subprocess.SubprocessError) as exc:
        log.debug("git %s in %s: %s", args[0], root, exc)
        return None
    return done.stdout.strip() if done.returncode == 0 else None


def _calibration_id(backbone: str) -> str | None:
    """Which calibration the classifier loads for ``backbone``, where the calibration module can say."""
    # calibration_id is newer than some checkouts of the calibration module
    identify = getattr(calibration, "calibration_id", None)
    if identify is None:
        return None
    return str(identify(calibration.load_calibration(backbone)))


def _version() -> str | None:
    try:
        return metadata.version("raresight")
    except metadata.PackageNotFoundError:
        return None
