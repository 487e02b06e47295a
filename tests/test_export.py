"""Atomic writers (complete results or none, earlier results intact on failure) and the TOML writer."""

from __future__ import annotations

import json
import math
import tomllib
from pathlib import Path
from typing import Any

import geopandas as gpd
import pandas as pd
import pyogrio
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from shapely.geometry import Point

from allocopt.errors import OutputError
from allocopt.export import atomic_output_dir, toml_text, write_csv, write_geopackage, write_json


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


def test_toml_text_layout_escaping_and_comments() -> None:
    data = {
        "title": "top",
        "region": {"name": '上江 "河谷"\n第二行\t\x01\x7f\\', "synthetic": True, "count": -3, "share": 0.25,
                   "ids": ["a", 1, [2.5, False]], "rename": {"编号": "id"}, "budget": {"total_yuan": 3e7}},
        "empty": {},
        "parent": {"child": {"x": 1}},
        "key with space": {"inline": [{"a": 1}, {}]},
    }
    text = toml_text(data, header="Line one\nline two", comments={"region.count": "negative on purpose"})
    assert text == (
        "# Line one\n# line two\n\n"
        'title = "top"\n\n'
        "[region]\n"
        'name = "上江 \\"河谷\\"\\n第二行\\t\\u0001\\u007f\\\\"\n'
        "synthetic = true\n"
        "count = -3  # negative on purpose\n"
        "share = 0.25\n"
        'ids = ["a", 1, [2.5, false]]\n\n'
        "[region.rename]\n"
        '"编号" = "id"\n\n'
        "[region.budget]\n"
        "total_yuan = 30000000.0\n\n"
        "[empty]\n\n"
        "[parent.child]\n"
        "x = 1\n\n"
        '["key with space"]\n'
        "inline = [{a = 1}, {}]\n"
    )
    assert tomllib.loads(text) == data


def test_toml_text_writes_infinity_and_refuses_what_toml_cannot_hold() -> None:
    infinite = {"t": {"hi": math.inf, "lo": -math.inf}}
    assert tomllib.loads(toml_text(infinite)) == infinite
    assert math.isnan(tomllib.loads(toml_text({"t": {"x": math.nan}}))["t"]["x"])
    with pytest.raises(TypeError, match=r"t\.when"):
        toml_text({"t": {"when": None}})
    with pytest.raises(ValueError, match=r"t\.big"):
        toml_text({"t": {"big": 2**63}})
    with pytest.raises(ValueError, match="surrogate"):
        toml_text({"t": {"s": "\ud800"}})


_KEYS = st.text(max_size=8)
_SCALARS = (st.text(max_size=20) | st.booleans() | st.integers(min_value=-(2**63), max_value=2**63 - 1)
            | st.floats(allow_nan=False))
_VALUES = st.recursive(_SCALARS, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_KEYS, inner, max_size=4),
                       max_leaves=20)


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(_KEYS, _VALUES, max_size=5))
def test_toml_text_round_trips_through_tomllib(data: dict[str, Any]) -> None:
    text = toml_text(data, header="round trip")
    assert tomllib.loads(text) == data
    assert toml_text(json.loads(json.dumps(data)), header="round trip") == text
