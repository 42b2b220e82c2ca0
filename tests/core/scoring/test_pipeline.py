"""adapt_project / load_project_model / score_images with the tiny backbone on a real project file."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from core.errors import Cancelled
from core.scoring.pipeline import ScoringError, adapt_project, load_project_model, project_backbone, score_images
from core.scoring.records import ScoreError, ScoreRow
from core.store import Project
from tests.core.embedding.tiny import COLOURS, make_image, register_tiny


@pytest.fixture
def project(tmp_path: Path) -> Project:
    register_tiny()
    folder = tmp_path / "images"
    for ci, name in enumerate(("red", "green", "blue")):
        for i in range(4):
            make_image(folder / f"{name}_{i}.png", COLOURS[name], seed=100 * ci + i)
    proj = Project.create(tmp_path / "demo.raresight")
    proj.add_images([folder])
    ids, _ = proj.find_images(sorted(folder.glob("*_[01].png")))
    for path, image_ids in ids.items():
        proj.label(image_ids, Path(path).stem.split("_")[0])
    return proj


def test_adapt_then_score_gives_the_stored_predictions(project: Project, tmp_path: Path) -> None:
    result = adapt_project(project, budget_s=1.0, backbone="tiny-test")
    assert result.version == 1 and result.predictions == 6
    model = load_project_model(project)
    unlabelled = {r.id: r.path for r in project.images() if r.id not in project.labels()}
    stored = {p.image_id: p for p in project.predictions(result.version)}
    rows = [item for item in score_images(model, list(unlabelled.values())) if isinstance(item, ScoreRow)]
    assert len(rows) == 6
    for image_id, path in unlabelled.items():
        row = next(r for r in rows if r.path == path)
        assert row.probabilities == stored[image_id].probabilities  # the GUI's numbers are the CLI's
        assert set(row.nearest_support) == {"red", "green", "blue"}
        labelled_paths = {r.path for r in project.images() if r.id in project.labels()}
        assert all(near.path in labelled_paths for near in row.nearest_support.values())
    correct = sum(r.predicted_class == Path(r.path).stem.split("_")[0] for r in rows)
    assert correct >= 5


def test_unreadable_file_is_a_score_error(project: Project, tmp_path: Path) -> None:
    adapt_project(project, budget_s=0.5, backbone="tiny-test")
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"not an image")
    items = list(score_images(load_project_model(project), [str(bad)]))
    assert isinstance(items[0], ScoreError) and "bad.png" in items[0].error


def test_no_model_and_stale_model_say_what_to_run(project: Project) -> None:
    with pytest.raises(ScoringError, match="raresight adapt"):
        load_project_model(project)
    adapt_project(project, budget_s=0.5, backbone="tiny-test")
    first_unlabelled = next(r.id for r in project.images() if r.id not in project.labels())
    project.label([first_unlabelled], "red")
    with pytest.raises(ScoringError, match="labels changed"):
        load_project_model(project)


def test_cancelled_adaptation_changes_nothing(project: Project) -> None:
    before = (project.model_state(), project.predictions(), len(project.audit_log()))
    cancel = threading.Event()
    cancel.set()
    with pytest.raises(Cancelled):
        adapt_project(project, budget_s=1.0, backbone="tiny-test", cancel=cancel)
    assert (project.model_state(), project.predictions(), len(project.audit_log())) == before


def test_re_adapting_keeps_the_projects_backbone(project: Project) -> None:
    from core.embedding import DEFAULT_BACKBONE

    assert project_backbone(project) == DEFAULT_BACKBONE  # no model yet
    adapt_project(project, budget_s=0.5, backbone="tiny-test")
    chosen = project.model_state().backbone_id
    last = project.images()[-1]
    project.label([last.id], Path(last.path).stem.split("_")[0])  # the clinician labels one more image
    adapt_project(project, budget_s=0.5)  # as the window's Adapt button does: no backbone named
    assert project.model_state().version == 2 and project.model_state().backbone_id == chosen == "tiny-test"


def test_a_missing_backbone_file_says_how_to_go_on(project: Project, tmp_path: Path) -> None:
    from dataclasses import replace

    from core.errors import ModelError

    adapt_project(project, budget_s=0.5, backbone="tiny-test")
    gone = str(tmp_path / "moved" / "team.rsbackbone") + "@" + "0" * 16
    project.save_model_state(replace(project.model_state(), backbone_id=gone, version=None))
    with pytest.raises(ModelError, match=r"put the file back, or adapt with the default one: raresight adapt .* --backbone"):
        adapt_project(project, budget_s=0.5)


def test_loading_the_model_reads_the_labels_once_not_per_image(project: Project) -> None:
    adapt_project(project, budget_s=0.2, backbone="tiny-test")
    statements: list[str] = []
    connection = project._db.conn  # SQLite's own trace of the statements run
    connection.set_trace_callback(statements.append)
    try:
        project.labels()
        one_read = sum("FROM labels" in s for s in statements)
        statements.clear()
        load_project_model(project)
    finally:
        connection.set_trace_callback(None)
    assert one_read >= 1 and sum("FROM labels" in s for s in statements) == one_read  # was twice per image


def test_adapt_reads_embedded_copies_of_missing_files(tmp_path: Path) -> None:
    register_tiny()
    folder = tmp_path / "images"
    paths = [
        make_image(folder / f"{name}_{i}.png", COLOURS[name], seed=100 * ci + i)
        for ci, name in enumerate(("red", "blue"))
        for i in range(3)
    ]
    with Project.create(tmp_path / "portable.raresight") as proj:
        proj.add_images(paths, embed=True)
        ids, _ = proj.find_images(paths[:2] + paths[3:5])
        for path, image_ids in ids.items():
            proj.label(image_ids, Path(path).stem.split("_")[0])
        for path in paths:
            path.unlink()
        result = adapt_project(proj, budget_s=0.2, backbone="tiny-test")
        assert result.predictions == 2  # the two unlabelled images, from their copies
        predicted = {p.image_id: p.top_class for p in proj.predictions(result.version)}
        truth = {r.id: Path(r.path).stem.split("_")[0] for r in proj.images() if r.id in predicted}
        assert predicted == truth
        model = load_project_model(proj)
    assert set(model.support_copies) == set(model.state.settings["support_hashes"])  # for reports' thumbnails
