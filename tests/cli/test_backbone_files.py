"""Meta-trained backbone files (.rsbackbone) register themselves with the backbone lookup, and every
front-end that resolves a backbone name accepts one: each runs in a fresh interpreter, where nothing
but the command itself can have registered the loader. Also: the two import cycles stay gone."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import grimp
import pytest

from core.demo import write_demo_images
from core.embedding.backbones import EfficientNetLite0Features
from core.metatrain import write_backbone_file
from core.store import Project

COMMAND = "import sys\nfrom app.cli import main\nsys.exit(main(sys.argv[1:]))\n"


def _raresight(*args: str | Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    argv = [sys.executable, "-c", COMMAND, *map(str, args)]
    return subprocess.run(argv, capture_output=True, text=True, cwd=cwd, timeout=600, check=False)


@pytest.fixture(scope="module")
def backbone_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A valid backbone file: EfficientNet-Lite0's own upper layers, as meta-train would write them."""
    path = tmp_path_factory.mktemp("backbone") / "team.rsbackbone"
    weights = {name: tensor.numpy().copy() for name, tensor in EfficientNetLite0Features().top.state_dict().items()}
    write_backbone_file(path, weights, {"base_backbone": "efficientnet-lite0"})
    return path


@pytest.fixture(scope="module")
def cells(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("cells")
    write_demo_images(folder, per_class=3, size=48)
    return folder


def test_without_registration_the_lookup_does_not_know_backbone_files(backbone_file: Path) -> None:
    """The control: the core lookup alone (no core.metatrain imported) refuses the file."""
    probe = f"from core.embedding import load_backbone\nload_backbone({str(backbone_file)!r})\n"
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode != 0 and "unknown backbone" in done.stderr


@pytest.mark.slow
def test_adapt_then_score_and_report_use_the_file(backbone_file: Path, cells: Path, tmp_path: Path) -> None:
    project = tmp_path / "p.raresight"
    with Project.create(project) as opened:
        for kind in sorted(p.name for p in cells.iterdir())[:2]:
            opened.add_images([cells / kind], class_name=kind)
    adapted = _raresight("adapt", project, "--backbone", backbone_file, "--budget-s", "0.5", cwd=tmp_path)
    assert adapted.returncode == 0, adapted.stderr
    with Project.open(project, readonly=True) as opened:
        state = opened.model_state()
    assert state is not None and state.backbone_id.startswith(f"{backbone_file.resolve()}@")
    image = next(iter(sorted(cells.rglob("*.png"))))
    scored = _raresight("score", project, image, "--out", tmp_path / "out.csv", cwd=tmp_path)  # the stored PATH@hash
    assert scored.returncode == 0, scored.stderr
    reported = _raresight("report", project, image, "--out", tmp_path / "r.html", cwd=tmp_path)
    assert reported.returncode == 0, reported.stderr


@pytest.mark.slow
def test_eval_uses_the_file(backbone_file: Path, cells: Path, tmp_path: Path) -> None:
    out = tmp_path / "eval.json"
    args = ("--ways", "2", "--shots", "1", "--queries", "1", "--episodes", "2", "--backbone", backbone_file, "--json", out)
    done = _raresight("eval", cells, *args, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert str(backbone_file.resolve()) in out.read_text()


def test_no_import_cycles_between_embedding_and_metatrain_nor_gui_and_cli() -> None:
    graph = grimp.build_graph("core", "app")
    assert graph.find_shortest_chain(importer="core.embedding.backbones", imported="core.metatrain.backbone_file") is None
    assert not graph.find_shortest_chains(importer="core.embedding", imported="core.metatrain")
    assert graph.find_shortest_chain(importer="app.gui.main_window", imported="app.cli") is None
