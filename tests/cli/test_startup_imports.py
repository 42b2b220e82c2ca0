"""Commands that compute nothing load no model stack: each runs in a fresh interpreter, and the modules
it leaves loaded are checked (how long they take is measured by bench/bench_startup.py, not here)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pydicom.data
import pytest

from tests.cli.test_project_cli import _adapted
from tests.core.store.helpers import make_pngs

HEAVY = ("torch", "torchvision", "sklearn", "matplotlib")

PROBE = """
import contextlib, io, json, sys
from app.cli import main
with contextlib.redirect_stdout(io.StringIO()):
    try:
        code = main(json.loads(sys.argv[1]))
    except SystemExit as exc:  # --help and --version end in argparse's exit
        code = exc.code
loaded = sorted({name.split(".")[0] for name in sys.modules} & set(json.loads(sys.argv[2])))
print(json.dumps({"code": code, "loaded": loaded}))
"""


def _loaded_after(argv: list[str], cwd: Path, modules: tuple[str, ...] = HEAVY) -> tuple[int, list[str]]:
    done = subprocess.run(
        [sys.executable, "-c", PROBE, json.dumps(argv), json.dumps(modules)], capture_output=True, text=True, cwd=cwd, timeout=120
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.splitlines()[-1])
    return result["code"], result["loaded"]


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A project with an adapted model (and its stored accuracy estimate), and a folder to scan."""
    root = tmp_path_factory.mktemp("startup")
    _adapted(root, unlabelled_per_class=2)
    folder = root / "to_scan"
    make_pngs(folder, 2)
    shutil.copy(pydicom.data.get_testdata_file("CT_small.dcm"), folder / "ct.dcm")
    return root


def _light_commands(root: Path) -> list[list[str]]:
    project = str(root / "p.raresight")
    new = str(root / "new.raresight")
    image = str(root / "labelled" / "red_0.png")
    return [
        ["--version"],
        ["--help"],
        ["project", "--help"],
        ["scan", "--help"],
        ["project", "create", new],
        ["project", "info", project],
        ["project", "info", project, "--json"],
        ["project", "label", project, "--class", "green", image],
        ["project", "undo", project],
        ["project", "redo", project],
        ["project", "undo", project],
        ["project", "verify", project],
        ["project", "verify", "--quick", project],
        ["project", "relink", project, str(root / "labelled")],
        ["scan", "-r", str(root / "to_scan")],
    ]


def test_commands_that_compute_nothing_import_no_model_stack(workspace: Path) -> None:
    for argv in _light_commands(workspace):
        code, loaded = _loaded_after(argv, workspace)
        assert code in (0, 1), argv
        assert loaded == [], f"raresight {' '.join(argv[:2])} loaded {loaded}"


def test_version_help_and_project_info_load_not_even_numpy(workspace: Path) -> None:
    """bench/bench_startup.py's figure rests on this: importing numpy alone costs 0.1-0.2 s of CPU."""
    project = str(workspace / "p.raresight")
    for argv in (["--version"], ["--help"], ["project", "info", project], ["project", "info", project, "--json"]):
        code, loaded = _loaded_after(argv, workspace, ("numpy", "PIL", "pydicom"))
        assert code == 0, argv
        assert loaded == [], f"raresight {' '.join(argv[:2])} loaded {loaded}"


def test_the_probe_sees_the_model_stack_when_a_command_loads_it(workspace: Path) -> None:
    """The control: 'report' needs torch and matplotlib, and the probe reports them."""
    argv = ["report", str(workspace / "p.raresight"), str(workspace / "labelled" / "red_0.png"), "--out", str(workspace / "r.html")]
    _, loaded = _loaded_after(argv, workspace)
    assert {"torch", "matplotlib"} <= set(loaded)


def test_each_command_parser_alone_is_the_one_the_whole_parser_has() -> None:
    """A known command builds only its own module's parser: the name-to-module map must stay true."""
    import argparse

    from app.cli import COMMAND_MODULES, build_parser

    def commands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
        return next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction)).choices

    whole = commands(build_parser())
    assert set(whole) == set(COMMAND_MODULES)
    for name in COMMAND_MODULES:
        alone = commands(build_parser([name, "--help"]))
        assert list(alone) == [name]
        assert alone[name].format_help() == whole[name].format_help()
