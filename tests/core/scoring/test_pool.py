"""adapt_project learns from the project's unlabelled images: a real project file, real images, the tiny backbone."""

from __future__ import annotations

import logging
import threading
from pathlib import Path

import numpy as np
import pytest
from torch import Tensor

from core.embedding import register_backbone
from core.embedding.backbones import _LOADED
from core.errors import Cancelled
from core.fewshot import PrototypicalClassifier
from core.scoring.pipeline import adapt_project
from core.scoring.pool import POOL_CAP, choose_pool
from core.scoring.pool_record import describe_pool
from core.store import Project
from tests.core.embedding.tiny import COLOURS, TINY, TinyBackbone, make_image

METHOD = "soft-kmeans"  # any method that uses the pool; which one is the default is core/fewshot's measurement


class CountingTiny(TinyBackbone):
    """The tiny backbone, counting the images its lower layers (what the disk cache saves) are run on."""

    images_seen = 0

    def lower(self, x: Tensor) -> tuple[Tensor, Tensor]:
        CountingTiny.images_seen += int(x.shape[0])
        return super().lower(x)


@pytest.fixture
def project(tmp_path: Path) -> Project:
    """Three classes, two labelled and four unlabelled images each."""
    register_backbone(TINY, CountingTiny)
    _LOADED.pop(TINY, None)
    folder = tmp_path / "images"
    for ci, name in enumerate(("red", "green", "blue")):
        for i in range(6):
            make_image(folder / f"{name}_{i}.png", COLOURS[name], seed=100 * ci + i)
    proj = Project.create(tmp_path / "pool.raresight")
    proj.add_images([folder])
    ids, _ = proj.find_images(sorted(folder.glob("*_[01].png")))
    for path, image_ids in ids.items():
        proj.label(image_ids, Path(path).stem.split("_")[0])
    return proj


def _unlabelled(project: Project) -> list[str]:
    labels = project.labels()
    return [r.path for r in project.images() if r.id not in labels]


def _prototypes(project: Project) -> np.ndarray:
    from core.fewshot.persistence import from_model_state

    return from_model_state(project.model_state()).prototypes_


def test_adapt_learns_from_the_unlabelled_images_and_says_so(project: Project) -> None:
    messages: list[tuple[float, str]] = []
    adapt_project(project, budget_s=0.2, backbone=TINY, pool_method=METHOD, progress=lambda f, m: messages.append((f, m)))
    used = project.model_state().settings["pool_used"]
    assert used["method"] == METHOD and 0 < used["images"] <= 12
    assert describe_pool(project.model_state().settings) == f"{used['images']} unlabelled images ({METHOD})"
    with_pool = _prototypes(project)
    adapt_project(project, budget_s=0.2, backbone=TINY, use_unlabelled=False)
    assert not np.allclose(with_pool, _prototypes(project))  # the pool moved the prototypes
    # the progress bar covers embedding the pool, and never goes back
    assert any(m.startswith("unlabelled images: embedded") for _, m in messages)
    fractions = [f for f, _ in messages]
    assert fractions == sorted(fractions) and fractions[-1] == pytest.approx(1.0)


def test_turned_off_it_is_the_support_set_alone(project: Project) -> None:
    adapt_project(project, budget_s=0.2, backbone=TINY, pool_method=METHOD, use_unlabelled=False)
    state = project.model_state()
    assert state.settings["pool_used"] == {"images": 0, "method": "none"}
    assert describe_pool(state.settings) == "none"
    labels = project.labels()
    support = [(r.path, labels[r.id]) for r in sorted(project.images(), key=lambda r: r.id) if r.id in labels]
    alone = PrototypicalClassifier(TINY, adapt="auto", adapt_seconds=0.2).fit([p for p, _ in support], [c for _, c in support])
    stored = {p.image_id: p.probabilities for p in project.predictions(state.version)}
    paths = {r.id: r.path for r in project.images() if r.id not in labels}
    expected = alone.predict_proba([paths[i] for i in sorted(paths)])
    got = np.array([[stored[i][str(c)] for c in alone.classes_] for i in sorted(paths)])
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)


def test_missing_files_are_left_out_of_the_pool_without_their_names(project: Project, caplog: pytest.LogCaptureFixture) -> None:
    gone = _unlabelled(project)[:2]
    for path in gone:
        Path(path).unlink()
    with caplog.at_level(logging.WARNING, logger="core.scoring.pool"):
        result = adapt_project(project, budget_s=0.2, backbone=TINY, pool_method=METHOD)
    assert result.predictions == 10  # the twelve unlabelled images less the two gone
    assert project.model_state().settings["pool_used"]["images"] <= 10
    assert "2 unlabelled image(s) left out of the adaptation's pool" in caplog.text
    assert not any(Path(path).name in caplog.text for path in gone)  # a file name can hold a patient's name


def test_a_second_adapt_after_one_more_label_runs_no_image_through_the_backbone_again(project: Project) -> None:
    CountingTiny.images_seen = 0
    adapt_project(project, budget_s=0.2, backbone=TINY, pool_method=METHOD)
    first = CountingTiny.images_seen
    assert first >= 18  # every image of the project, once (support, pool, predictions share the cache)
    newly = next(r for r in project.images() if r.id not in project.labels())
    project.label([newly.id], Path(newly.path).stem.split("_")[0])
    CountingTiny.images_seen = 0
    adapt_project(project, budget_s=0.2, backbone=TINY, pool_method=METHOD)
    assert CountingTiny.images_seen == 0  # support set, pool and predictions all read from the embedding cache
    assert project.model_state().version == 2


def test_cancel_while_embedding_the_pool_keeps_the_previous_model(
    project: Project, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    adapt_project(project, budget_s=0.2, backbone=TINY, pool_method=METHOD)

    def saved() -> tuple[object, ...]:
        state = project.model_state()
        return state.version, state.prototypes.tobytes(), project.predictions(), len(project.audit_log())

    before = saved()
    monkeypatch.setenv("RARESIGHT_CACHE_DIR", str(tmp_path / "cold-cache"))  # the pool must really be embedded
    cancel = threading.Event()

    def progress(fraction: float, message: str) -> None:
        if message.startswith("unlabelled images: embedded"):
            cancel.set()  # as the window's Cancel does, from another thread, while the pool is embedded

    with pytest.raises(Cancelled, match="embedding"):
        adapt_project(project, budget_s=0.2, backbone=TINY, pool_method=METHOD, progress=progress, cancel=cancel)
    assert saved() == before


def test_the_pool_is_capped_by_content_hash_whatever_the_order(project: Project) -> None:
    records = [r for r in project.images() if r.id not in project.labels()]
    chosen = choose_pool(records, cap=5)
    assert [r.content_hash for r in chosen] == sorted(r.content_hash for r in records)[:5]
    assert choose_pool(records[::-1], cap=5) == chosen
    assert len(choose_pool(records)) == min(len(records), POOL_CAP)
