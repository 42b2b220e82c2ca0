"""``raresight meta-train`` writes a backbone file that ``adapt`` then uses."""

from __future__ import annotations

import argparse
import re
from pathlib import Path

import pytest

from app.cli import build_parser, main
from core.demo import write_demo_images
from core.metatrain import read_backbone_file


@pytest.mark.slow
def test_meta_train_writes_a_backbone_file_with_a_card(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write_demo_images(tmp_path / "cells", per_class=6, size=64)
    out = tmp_path / "cells.rsbackbone"
    args = ["meta-train", str(tmp_path / "cells"), "--out", str(out), "--val-classes", "target_cell", "sickle_cell"]
    assert main([*args, "--ways", "2", "--shots", "2", "--queries", "2", "--episodes", "6"]) == 0
    card, weights = read_backbone_file(out)
    assert card["val_classes"] == ["cells/sickle_cell", "cells/target_cell"]
    assert card["episodes_run"] == 6 and card["val_ways"] == 2 and weights
    assert "2-way 2-shot accuracy" in capsys.readouterr().out
    assert main(["meta-train", str(tmp_path / "cells"), "--out", str(tmp_path / "x.pt")]) == 2


def test_help_names_only_commands_that_take_a_backbone() -> None:
    """The epilog's 'X and Y accept as --backbone' must be true of X and Y, and name no command without it."""
    commands = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction)).choices
    epilog = " ".join((commands["meta-train"].epilog or "").split())
    named = re.findall(r"'([a-z-]+)'", epilog.split("accept as --backbone")[0])
    assert named == ["eval", "adapt"]
    takes = {name for name, sub in commands.items() if any("--backbone" in a.option_strings for a in sub._actions)}
    assert set(named) <= takes and "score" not in takes
