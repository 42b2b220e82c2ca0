"""A project made with ``project add --embed`` keeps working once the original files are gone."""

from __future__ import annotations

import base64
import json
import re
import shutil
from pathlib import Path

import pytest

from app.cli import main
from core.reports.build import image_png
from core.scoring.pipeline import load_project_model
from core.store import Project
from tests.core.embedding.tiny import COLOURS, make_image, register_tiny


def images(folder: Path, per_class: int, seed: int) -> dict[str, list[Path]]:
    return {
        name: [make_image(folder / f"{name}_{i}.png", COLOURS[name], seed=seed + 10 * ci + i) for i in range(per_class)]
        for ci, name in enumerate(("red", "green", "blue"))
    }


def project_with(tmp_path: Path, embed: bool) -> tuple[Path, Path]:
    """Three labelled images and one unlabelled of each class, imported from a folder that is then deleted."""
    register_tiny()
    originals = tmp_path / "originals"
    made = images(originals, 4, seed=0)
    path = tmp_path / "portable.raresight"
    flag = ["--embed"] if embed else []
    assert main(["project", "create", str(path)]) == 0
    for name, paths in made.items():
        assert main(["project", "add", str(path), *map(str, paths[:3]), "--class", name, *flag]) == 0
        assert main(["project", "add", str(path), str(paths[3]), *flag]) == 0
    return path, originals


def test_adapt_score_and_report_read_the_embedded_copies(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path, originals = project_with(tmp_path, embed=True)
    # what reports show for support examples: their real thumbnails, or a grey square for an unreadable file
    real = {base64.b64encode(image_png(str(p), 160)).decode() for p in originals.glob("*_[012].png")}
    grey = base64.b64encode(image_png(str(originals / "gone.png"), 160)).decode()
    shutil.rmtree(originals)
    capsys.readouterr()
    assert main(["adapt", str(path), "--backbone", "tiny-test", "--budget-s", "0.5"]) == 0
    assert "3 unlabelled image(s) predicted" in capsys.readouterr().out  # their copies were read too
    with Project.open(path, readonly=True) as project:
        state = project.model_state()
        assert state is not None
        # settings name support examples by content hash, never by path (issue 17); explanations name the
        # project's files, found by those hashes, not the temporary copies read in their place
        assert "support_paths" not in state.settings and str(originals) not in json.dumps(state.settings)
        model = load_project_model(project)
        assert all(p.startswith(str(originals)) for p in model.support_paths.values())
    queries = images(tmp_path / "queries", 1, seed=500)
    query_paths = [str(paths[0]) for paths in queries.values()]
    out = tmp_path / "case.html"
    assert main(["report", str(path), *query_paths, "--out", str(out)]) == 0
    html = out.read_text()
    shown = re.findall(r'<img src="data:image/png;base64,([^"]+)" alt="nearest support example of', html)
    assert len(shown) == 9 and set(shown) <= real and grey not in html  # read from the copies
    assert main(["score", str(path), str(tmp_path / "queries"), "--out", str(tmp_path / "s.csv"), "--report-dir", str(tmp_path / "r")]) == 0
    assert grey not in (tmp_path / "r" / "batch_report.html").read_text()


def test_without_copies_adapt_says_to_relink(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path, originals = project_with(tmp_path, embed=False)
    shutil.rmtree(originals)
    capsys.readouterr()
    assert main(["adapt", str(path), "--backbone", "tiny-test", "--budget-s", "0.5"]) == 2
    err = capsys.readouterr().err
    assert "9 labelled image file(s) are missing and have no copy in the project" in err
    assert f"raresight project relink {path} FOLDER" in err
