"""The project file's everyday use: create, import, label, model states, predictions, info."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from core.errors import Cancelled, ProjectError
from core.store import ModelState, PredictionRecord, Project, decode_safetensors, encode_safetensors


def test_create_open_and_reopen_keep_everything(tmp_path: Path, png_folder: Path, ct_file: Path) -> None:
    path = tmp_path / "p.raresight"
    with Project.create(path, actor="dr.a") as project:
        report = project.add_images([png_folder, ct_file], class_name="sarcoidosis")
        assert len(report.added) == 7 and report.labelled == 7 and not report.failed
    with Project.open(path) as project:
        info = project.info()
        assert (info.images, info.labelled_images, info.classes) == (7, 7, {"sarcoidosis": 7})
        ct = [r for r in project.images() if r.modality == "CT"]
        assert len(ct) == 1 and ct[0].imported_path == str(ct_file) and ct[0].size_bytes == ct_file.stat().st_size


def test_create_refuses_an_existing_file_and_a_missing_folder(tmp_path: Path) -> None:
    existing = tmp_path / "x.raresight"
    existing.write_bytes(b"precious")
    with pytest.raises(ProjectError, match="already exists"):
        Project.create(existing)
    assert existing.read_bytes() == b"precious"
    with pytest.raises(ProjectError, match="does not exist"):
        Project.create(tmp_path / "nowhere" / "x.raresight")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.raresight"]


def test_import_reports_bad_files_and_skips_duplicates(project: Project, png_folder: Path, tmp_path: Path) -> None:
    (png_folder / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n truncated")
    (png_folder / "copy.png").write_bytes((png_folder / "case_000.png").read_bytes())
    report = project.add_images([png_folder, tmp_path / "missing.dcm"])
    assert len(report.added) == 6
    assert [Path(p).name for p, _ in report.duplicates] == ["copy.png"]
    failed = {Path(p).name: message for p, message in report.failed}
    assert set(failed) == {"broken.png", "missing.dcm"} and "missing.dcm" in failed["missing.dcm"]
    assert project.add_images([png_folder / "case_001.png"]).added == []


def test_image_metadata_and_thumbnail(project: Project, ct_file: Path, mr_file: Path) -> None:
    report = project.add_images([ct_file, mr_file])
    records = {r.modality: r for r in project.images()}
    assert set(records) == {"CT", "MR"}
    assert records["CT"].format and records["CT"].rows == 128
    png = project.thumbnail(report.added[0])
    assert png is not None
    thumb = Image.open(io.BytesIO(png))
    assert thumb.format == "PNG" and max(thumb.size) <= 96


def test_embedded_copies_make_a_portable_project(project: Project, png_folder: Path) -> None:
    report = project.add_images([png_folder / "case_000.png"], embed=True)
    data = (png_folder / "case_000.png").read_bytes()
    (png_folder / "case_000.png").unlink()
    assert project.image_bytes(report.added[0]) == data
    assert project.info().embedded_images == 1
    assert project.verify() == []


def test_labels_are_rows_and_history_is_kept(project: Project, png_folder: Path) -> None:
    ids = project.add_images([png_folder]).added
    project.label(ids[:3], "normal")
    project.label(ids[:1], "sarcoidosis", note="overrides model 1")
    assert project.label(ids[:1], "sarcoidosis") is None  # no change, no step
    project.label(ids[1:2], None)
    assert project.labels() == {ids[0]: "sarcoidosis", ids[2]: "normal"}
    history = project.label_history(ids[0])
    assert [(e.class_name, e.previous_class_name, e.actor) for e in history] == [
        ("normal", None, "dr.a"),
        ("sarcoidosis", "normal", "dr.a"),
    ]
    assert history[1].note == "overrides model 1"
    assert project.info().classes == {"normal": 1, "sarcoidosis": 1}
    with pytest.raises(ProjectError, match="no image with id 999"):
        project.label([999], "normal")


def test_model_state_round_trip_without_pickle(project: Project) -> None:
    prototypes = np.arange(12, dtype=np.float32).reshape(3, 4)
    weights = encode_safetensors({"adapter.weight": np.ones((2, 4), np.float32), "adapter.bias": np.zeros(2, np.float32)})
    state = ModelState("dinov2-small", "ab" * 32, prototypes, ("a", "b", "c"), 1.7, {"a": 0.4}, {"steps": 20}, weights)
    assert project.save_model_state(state) == 1
    assert project.save_model_state(state) == 2
    loaded = project.model_state(1)
    assert loaded is not None and loaded.version == 1
    np.testing.assert_array_equal(loaded.prototypes, prototypes)
    assert loaded.prototypes.dtype == np.float32
    assert (loaded.class_names, loaded.temperature, loaded.thresholds, loaded.settings) == (("a", "b", "c"), 1.7, {"a": 0.4}, {"steps": 20})
    assert loaded.adapted_weights is not None
    np.testing.assert_array_equal(decode_safetensors(loaded.adapted_weights)["adapter.weight"], np.ones((2, 4), np.float32))
    assert project.info().model_version == 2
    assert [e.details["version"] for e in project.audit_log("adaptation")] == [1, 2]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"prototypes": np.ones((2, 4), np.float32)}, "one row per class"),
        ({"prototypes": np.full((3, 4), np.nan, np.float32)}, "NaN"),
        ({"temperature": 0.0}, "temperature"),
        ({"adapted_weights": b"\x80\x04pickle"}, "not safetensors"),
    ],
)
def test_model_state_is_validated(project: Project, change: dict[str, object], message: str) -> None:
    fields: dict[str, object] = {"prototypes": np.ones((3, 4), np.float32), "temperature": 1.0, "adapted_weights": None, **change}
    state = ModelState("b", "h", fields["prototypes"], ("a", "b", "c"), fields["temperature"], adapted_weights=fields["adapted_weights"])  # type: ignore[arg-type]
    with pytest.raises(ProjectError, match=message):
        project.save_model_state(state)
    assert project.info().model_version is None


def test_predictions_per_image_and_model_version(project: Project, png_folder: Path) -> None:
    ids = project.add_images([png_folder]).added
    with pytest.raises(ProjectError, match="no model version 1"):
        project.add_predictions(1, [])
    version = project.save_model_state(ModelState("b", "h", np.ones((2, 2), np.float32), ("a", "b")))
    records = [PredictionRecord(i, {"a": 0.8, "b": 0.2}, ("a",), "a", 0.8) for i in ids[:2]]
    records.append(PredictionRecord(ids[2], {"a": 0.5, "b": 0.5}, (), None, 0.5))
    assert project.add_predictions(version, records) == 3
    stored = project.predictions(version)
    assert [(p.image_id, p.top_class, p.prediction_set) for p in stored] == [
        (ids[0], "a", ("a",)),
        (ids[1], "a", ("a",)),
        (ids[2], None, ()),
    ]
    assert project.predictions() == stored


def test_record_event_audits_overrides_and_exports(project: Project) -> None:
    row = project.record_event("export", {"format": "csv", "rows": 12})
    assert project.audit_log("export")[-1].id == row
    with pytest.raises(ProjectError, match="use one of"):
        project.record_event("label", {})


def test_read_only_open_refuses_changes(tmp_path: Path, png_folder: Path) -> None:
    path = tmp_path / "p.raresight"
    Project.create(path).close()
    with Project.open(path, readonly=True) as project:
        assert project.info().read_only
        with pytest.raises(ProjectError, match="opened read-only"):
            project.add_images([png_folder])


def test_cancel_keeps_what_was_imported(project: Project, png_folder: Path) -> None:
    seen: list[float] = []
    with pytest.raises(Cancelled, match="saved"):
        project.add_images([png_folder], batch_size=2, progress=lambda f, _m: seen.append(f), is_cancelled=lambda: len(seen) >= 3)
    assert project.info().images == 3
