"""Shared fixtures: the tiny test region of `tests/data/tiny-region/` (written by tests/data/make_tiny_region.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from allocopt.regions import Region, load_region

TINY_REGION_DIR = Path(__file__).resolve().parent / "data" / "tiny-region"


@pytest.fixture(scope="session")
def tiny_region_path() -> Path:
    """The tiny region bundle: 3 townships, 9 demand points, 6 facilities (CSV, lon/lat), 2 candidates, 22 roads."""
    return TINY_REGION_DIR


@pytest.fixture(scope="session")
def tiny_region(tiny_region_path: Path) -> Region:
    """The tiny region, loaded once per session; tests must not modify its frames in place."""
    return load_region(tiny_region_path)
