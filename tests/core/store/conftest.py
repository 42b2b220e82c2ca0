"""Fixtures for the project-file tests: a project with a few labelled images, real DICOM files."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pydicom.data
import pytest

from core.store import Project
from tests.core.store.helpers import make_pngs


@pytest.fixture
def ct_file() -> Path:
    return Path(pydicom.data.get_testdata_file("CT_small.dcm"))


@pytest.fixture
def mr_file() -> Path:
    return Path(pydicom.data.get_testdata_file("MR_small.dcm"))


@pytest.fixture
def png_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "images"
    make_pngs(folder, 6)
    return folder


@pytest.fixture
def project(tmp_path: Path) -> Iterator[Project]:
    with Project.create(tmp_path / "study.raresight", actor="dr.a") as opened:
        yield opened
