"""Atomic writers: complete results or none, earlier results intact on failure."""

from __future__ import annotations

import json
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pyogrio
import pytest
from shapely.geometry import Point

from allocopt.errors import OutputError
from allocopt.export import atomic_output_dir, write_csv, write_geopackage, write_json


def test_csv_has_bom_and_round_trips_chinese(tmp_path: Path) -> None:
    path = write_csv(pd.DataFrame({"name": ["上江镇", "六库"], "population": [1, 2]}), tmp_path / "t.csv")
    assert path.read_bytes().startswith(b"\xef\xbb\xbf")
    assert pd.read_csv(path, encoding="utf-8-sig")["name"].tolist() == ["上江镇", "六库"]


def test_json_refuses_nan(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        write_json({"x": float("nan")}, tmp_path / "s.json")
    assert not (tmp_path / "s.json").exists()
    assert list(tmp_path.iterdir()) == []
    write_json({"名": 1}, tmp_path / "s.json")
    assert json.loads((tmp_path / "s.json").read_text(encoding="utf-8")) == {"名": 1}


def test_geopackage_layers(tmp_path: Path) -> None:
    points = gpd.GeoDataFrame({"id": ["a"]}, geometry=[Point(0, 0)], crs="EPSG:32647")
    empty = points.iloc[0:0]
    path = write_geopackage({"facilities": points, "referrals": empty}, tmp_path / "r.gpkg")
    assert sorted(pyogrio.list_layers(path)[:, 0]) == ["facilities", "referrals"]


def test_output_dir_replaced_only_when_complete(tmp_path: Path) -> None:
    out = tmp_path / "result"
    with atomic_output_dir(out) as staging:
        (staging / "a.txt").write_text("first", encoding="utf-8")
    assert (out / "a.txt").read_text(encoding="utf-8") == "first"

    with pytest.raises(KeyboardInterrupt), atomic_output_dir(out) as staging:
        (staging / "a.txt").write_text("half", encoding="utf-8")
        raise KeyboardInterrupt
    assert (out / "a.txt").read_text(encoding="utf-8") == "first"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["result"]

    with atomic_output_dir(out) as staging:
        (staging / "b.txt").write_text("second", encoding="utf-8")
    assert sorted(p.name for p in out.iterdir()) == ["b.txt"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["result"]


def test_unwritable_parent_is_an_output_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x", encoding="utf-8")
    with pytest.raises(OutputError, match="writable"), atomic_output_dir(blocker / "out"):
        pass


def test_written_files_are_not_private(tmp_path: Path) -> None:
    with atomic_output_dir(tmp_path / "out") as staging:
        write_csv(pd.DataFrame({"a": [1]}), staging / "a.csv")
    assert (tmp_path / "out").stat().st_mode & 0o044 == 0o044
    assert (tmp_path / "out" / "a.csv").stat().st_mode & 0o044 == 0o044
