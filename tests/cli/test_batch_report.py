"""``score --report-dir``: the batch summary counts every scored image; the cases shown are labelled a subset."""

from __future__ import annotations

import csv
import re
from collections import Counter
from pathlib import Path

import pytest

from app.cli import main
from tests.core.embedding.tiny import COLOURS, make_image, register_tiny

AMBIGUOUS = (130, 110, 50)  # between red and green: the model is unsure of these


@pytest.fixture
def batch(tmp_path: Path) -> tuple[Path, Path]:
    """A project adapted to red, green and blue; a batch of 52 red-green blends and 4 plain blue images."""
    register_tiny()
    support = tmp_path / "support"
    path = tmp_path / "p.raresight"
    assert main(["project", "create", str(path)]) == 0
    for ci, name in enumerate(("red", "green", "blue")):
        files = [str(make_image(support / f"{name}_{i}.png", COLOURS[name], seed=10 * ci + i)) for i in range(3)]
        assert main(["project", "add", str(path), *files, "--class", name]) == 0
    assert main(["adapt", str(path), "--backbone", "tiny-test", "--budget-s", "0.5"]) == 0
    queries = tmp_path / "queries"
    for i in range(52):
        make_image(queries / f"blend_{i:02d}.png", AMBIGUOUS, seed=1000 + i)
    for i in range(4):
        make_image(queries / f"zz_blue_{i}.png", COLOURS["blue"], seed=2000 + i)
    return path, queries


def predicted(row: dict[str, str]) -> str:
    return "none of these" if row["none_of_these"] == "True" else row["predicted_class"]


def test_summary_counts_the_whole_batch(batch: tuple[Path, Path], tmp_path: Path) -> None:
    project, queries = batch
    out, reports = tmp_path / "scores.csv", tmp_path / "reports"
    assert main(["score", str(project), str(queries), "--out", str(out), "--report-dir", str(reports)]) == 0
    rows = list(csv.DictReader(out.open(newline="")))
    whole = Counter(predicted(r) for r in rows)
    least_certain = sorted(
        range(len(rows)),
        key=lambda i: (rows[i]["none_of_these"] != "True", max(float(rows[i][f"p_{c}"]) for c in ("red", "green", "blue")), i),
    )
    shown = least_certain[:50]
    outside_only = {predicted(rows[i]) for i in least_certain[50:]} - {predicted(rows[i]) for i in shown}
    assert outside_only, "the batch should have a prediction found only among the images not shown"

    html = (reports / "batch_report.html").read_text()
    assert "RareSight batch report (56 images; 50 least certain shown)" in html
    table = html[html.index("Batch summary: all 56 images in scores.csv") : html.index("</table>", html.index("Batch summary"))]
    counted = {name: int(n) for name, n in re.findall(r"<tr><td>([^<]+)</td><td>(\d+)</td>", table)}
    assert counted == {**dict.fromkeys(("red", "green", "blue", "none of these"), 0), **whole}  # every class, even at 0
    assert sum(counted.values()) == 56
    assert "Cases: 50 of 56 shown" in html and "the 50 least certain of the 56 images" in html
    # cases are numbered by their row in scores.csv, least certain first; no file name is shown
    labels = re.findall(r"<code>(Case \d+)</code>", html)
    assert labels == [f"Case {i + 1}" for i in shown]
    assert "blend_" not in html and "zz_blue" not in html


def test_identifiers_name_cases_by_file_name(batch: tuple[Path, Path], tmp_path: Path) -> None:
    project, queries = batch
    reports = tmp_path / "reports"
    command = ["score", str(project), str(queries), "--out", str(tmp_path / "s.parquet"), "--report-dir", str(reports), "--identifiers"]
    assert main(command) == 0
    html = (reports / "batch_report.html").read_text()
    assert len(re.findall(r"<code>blend_\d\d\.png</code>", html)) + len(re.findall(r"<code>zz_blue_\d\.png</code>", html)) == 50
    assert str(queries) not in html  # the file name, not the whole path
