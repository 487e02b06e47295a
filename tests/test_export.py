"""Atomic writers (complete results or none, earlier results intact on failure) and the TOML writer."""

from __future__ import annotations

import errno
import json
import math
import os
import shutil
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

from allocopt import __version__, export
from allocopt.errors import OutputError
from allocopt.export import (
    MANIFEST_FILE,
    Manifest,
    atomic_output_dir,
    check_output_dir,
    read_manifest,
    toml_text,
    write_csv,
    write_geopackage,
    write_json,
)


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
    with atomic_output_dir(out, kind="test") as staging:
        (staging / "a.txt").write_text("first", encoding="utf-8")
    assert (out / "a.txt").read_text(encoding="utf-8") == "first"

    with pytest.raises(KeyboardInterrupt), atomic_output_dir(out, kind="test") as staging:
        (staging / "a.txt").write_text("half", encoding="utf-8")
        raise KeyboardInterrupt
    assert (out / "a.txt").read_text(encoding="utf-8") == "first"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["result"]

    with atomic_output_dir(out, kind="test") as staging:
        (staging / "b.txt").write_text("second", encoding="utf-8")
    assert sorted(p.name for p in out.iterdir()) == ["allocopt-manifest.json", "b.txt"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["result"]


def test_the_manifest_names_the_kind_version_and_every_file_written(tmp_path: Path) -> None:
    with atomic_output_dir(tmp_path / "out", kind="sweep") as staging:
        write_json({"x": 1}, staging / "summaries" / "budget-0.json")
        write_csv(pd.DataFrame({"a": [1]}), staging / "frontier.csv")
    manifest = json.loads((tmp_path / "out" / MANIFEST_FILE).read_text(encoding="utf-8"))
    assert manifest == {"kind": "sweep", "allocopt_version": __version__,
                        "files": ["frontier.csv", "summaries/budget-0.json"]}
    assert read_manifest(tmp_path / "out") == Manifest("sweep", __version__,
                                                       ("frontier.csv", "summaries/budget-0.json"))


def _write(directory: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        (directory / name).parent.mkdir(parents=True, exist_ok=True)
        (directory / name).write_text(text, encoding="utf-8")


def _contents(directory: Path) -> dict[str, str]:
    return {p.relative_to(directory).as_posix(): p.read_text(encoding="utf-8")
            for p in sorted(directory.rglob("*")) if p.is_file() and p.name != MANIFEST_FILE}


FOREIGN = {"budget-2025.docx": "the user's", "notes/内部.txt": "kept", "summaries/mine.txt": "mine too"}


def test_an_earlier_result_of_the_same_kind_is_replaced_and_every_other_file_kept(tmp_path: Path) -> None:
    out = tmp_path / "plan"
    with atomic_output_dir(out, kind="optimize") as staging:
        _write(staging, {"summary.json": "old", "gone.csv": "old", "summaries/budget-1.json": "old"})
    _write(out, FOREIGN)
    inode = (out / "budget-2025.docx").stat().st_ino
    with atomic_output_dir(out, kind="optimize") as staging:
        _write(staging, {"summary.json": "new", "summaries/budget-2.json": "new"})
    assert _contents(out) == {**FOREIGN, "summary.json": "new", "summaries/budget-2.json": "new"}
    assert (out / "budget-2025.docx").stat().st_ino == inode  # the same file, not a copy
    assert read_manifest(out) is not None
    assert read_manifest(out).files == ("summaries/budget-2.json", "summary.json")  # type: ignore[union-attr]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["plan"]


def test_a_folder_with_other_files_is_refused_unless_overwrite_which_keeps_them(tmp_path: Path) -> None:
    out = tmp_path / "mydocs"
    _write(out, FOREIGN)
    with pytest.raises(OutputError, match=r"mydocs: is not empty and holds files allocopt did not write "
                                          r"\(budget-2025.docx, notes, summaries\).*--overwrite"):
        check_output_dir(out, kind="optimize")
    with pytest.raises(OutputError, match="--overwrite"), atomic_output_dir(out, kind="optimize") as staging:
        pytest.fail("not reached")
    assert _contents(out) == FOREIGN
    with atomic_output_dir(out, kind="optimize", overwrite=True) as staging:
        _write(staging, {"summary.json": "new"})
    assert _contents(out) == {**FOREIGN, "summary.json": "new"}
    with atomic_output_dir(out, kind="optimize") as staging:  # now an earlier result of the same kind
        _write(staging, {"summary.json": "newer"})
    assert _contents(out) == {**FOREIGN, "summary.json": "newer"}


def test_overwrite_never_replaces_a_file_allocopt_did_not_write(tmp_path: Path) -> None:
    out = tmp_path / "mydocs"
    _write(out, {"summary.json": "the user's own", "other.txt": "x"})
    with pytest.raises(OutputError, match=r"summary\.json there was not written by allocopt"), \
            atomic_output_dir(out, kind="optimize", overwrite=True) as staging:
        _write(staging, {"summary.json": "new"})
    assert _contents(out) == {"summary.json": "the user's own", "other.txt": "x"}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mydocs"]


def test_another_kind_of_result_needs_overwrite(tmp_path: Path) -> None:
    out = tmp_path / "out"
    with atomic_output_dir(out, kind="access") as staging:
        _write(staging, {"access.json": "a", "townships.csv": "access"})
    with pytest.raises(OutputError, match="holds an earlier allocopt access result, not a optimize result"):
        check_output_dir(out, kind="optimize")
    with atomic_output_dir(out, kind="optimize", overwrite=True) as staging:
        _write(staging, {"townships.csv": "plan"})
    assert _contents(out) == {"townships.csv": "plan"}


def test_replace_earlier_false_needs_overwrite_for_the_same_kind(tmp_path: Path) -> None:
    out = tmp_path / "bundle"
    with atomic_output_dir(out, kind="region", replace_earlier=False) as staging:
        _write(staging, {"region.toml": "one"})
    with pytest.raises(OutputError, match="holds an earlier region result; pass --overwrite"):
        check_output_dir(out, kind="region", replace_earlier=False)
    with atomic_output_dir(out, kind="region", overwrite=True, replace_earlier=False) as staging:
        _write(staging, {"region.toml": "two"})
    assert _contents(out) == {"region.toml": "two"}


@pytest.mark.parametrize("overwrite", [False, True])
def test_current_directory_inputs_and_bundles_are_refused_even_with_overwrite(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, overwrite: bool) -> None:
    bundle = tmp_path / "vc"
    _write(bundle, {"region.toml": "[region]", "data/roads.csv": "x"})
    monkeypatch.chdir(bundle / "data")
    cases = {".": "is the current directory", str(bundle): "holds the current directory",
             str(tmp_path): "holds the current directory"}
    for out, message in cases.items():
        with pytest.raises(OutputError, match=message):
            check_output_dir(out, kind="optimize", overwrite=overwrite)
    monkeypatch.chdir(tmp_path)
    with pytest.raises(OutputError, match=r"vc: is an input of this run \(.*vc\); choose another folder"):
        check_output_dir(bundle, kind="optimize", overwrite=overwrite, inputs=[bundle])
    with pytest.raises(OutputError, match="holds an input of this run"):
        check_output_dir(tmp_path / "vc", kind="report", overwrite=overwrite, inputs=[bundle / "data" / "roads.csv"])
    with pytest.raises(OutputError, match="is a region bundle"):
        check_output_dir(bundle, kind="optimize", overwrite=overwrite)
    with pytest.raises(OutputError, match="is a file, not a folder"):
        check_output_dir(bundle / "region.toml", kind="optimize", overwrite=overwrite)
    check_output_dir(bundle / "results" / "plan", kind="optimize", overwrite=overwrite, inputs=[bundle])
    assert _contents(bundle) == {"region.toml": "[region]", "data/roads.csv": "x"}


def test_a_folder_that_cannot_be_read_is_an_output_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "locked"
    _write(out, FOREIGN)

    def refuse(self: Path) -> None:
        raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(self))

    monkeypatch.setattr(Path, "iterdir", refuse)  # as for a folder without read permission (root ignores modes)
    with pytest.raises(OutputError, match=r"locked: could not write results \(Permission denied\)"):
        check_output_dir(out, kind="optimize")


def test_staging_and_retired_folders_of_killed_runs_are_cleaned_up(tmp_path: Path) -> None:
    out = tmp_path / "plan"
    with atomic_output_dir(out, kind="optimize") as staging:
        _write(staging, {"summary.json": "complete"})
    stale = tmp_path / ".plan.k1ll3d_x.partial"
    _write(stale, {"summary.json": "half"})
    live = tmp_path / ".plan.l1ve.partial"
    _write(live, {"summary.json": "being written"})
    held = export._lock(live)  # a run still writing holds its staging folder
    other = tmp_path / ".plan-2.x.partial"
    _write(other, {"a": "another target's"})
    try:
        with atomic_output_dir(out, kind="optimize") as staging:
            _write(staging, {"summary.json": "new"})
    finally:
        export._unlock(held)
    assert sorted(p.name for p in tmp_path.iterdir()) == [".plan-2.x.partial", ".plan.l1ve.partial", "plan"]
    assert _contents(out) == {"summary.json": "new"}


def test_a_run_killed_between_its_two_moves_is_put_back(tmp_path: Path) -> None:
    out = tmp_path / "plan"
    with atomic_output_dir(out, kind="optimize") as staging:
        _write(staging, {"summary.json": "complete"})
    _write(out, {"mine.txt": "the user's"})
    retired = tmp_path / ".plan.old-0123"
    out.rename(retired)  # killed after moving the earlier result aside, before moving the new one in
    with pytest.raises(OutputError, match="refused on purpose"), atomic_output_dir(out, kind="optimize"):
        raise OutputError("refused on purpose")
    assert _contents(out) == {"summary.json": "complete", "mine.txt": "the user's"}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["plan"]


def test_a_retired_folder_keeps_files_made_during_the_swap(tmp_path: Path) -> None:
    out = tmp_path / "plan"
    with atomic_output_dir(out, kind="optimize") as staging:
        _write(staging, {"summary.json": "complete"})
    retired = tmp_path / ".plan.old-0123"
    shutil.copytree(out, retired)
    _write(retired, {"saved-late.txt": "made while the new result moved in"})
    with atomic_output_dir(out, kind="optimize") as staging:
        _write(staging, {"summary.json": "new"})
    assert _contents(out) == {"summary.json": "new", "saved-late.txt": "made while the new result moved in"}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["plan"]


def test_carried_files_stay_part_of_the_result(tmp_path: Path) -> None:
    out = tmp_path / "plan"
    with atomic_output_dir(out, kind="optimize") as staging:
        _write(staging, {"summary.json": "plan", "report.html": "old report"})
    with atomic_output_dir(out, kind="optimize", carry=["summary.json", "missing.csv"]) as staging:
        _write(staging, {"report.html": "new report"})
    assert _contents(out) == {"summary.json": "plan", "report.html": "new report"}
    assert read_manifest(out).files == ("report.html", "summary.json")  # type: ignore[union-attr]


def test_unwritable_parent_is_an_output_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x", encoding="utf-8")
    with pytest.raises(OutputError, match="writable"), atomic_output_dir(blocker / "out", kind="test"):
        pass


def test_written_files_are_not_private(tmp_path: Path) -> None:
    with atomic_output_dir(tmp_path / "out", kind="test") as staging:
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
