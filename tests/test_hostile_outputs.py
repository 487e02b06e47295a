"""Hostile names in outputs: formulas, mathtext, numeric-looking text, control characters, Unicode normalisation.

Names are text end to end (docs/results.md, "Names in outputs"): CSV cells round-trip exactly through
`from_spreadsheet_cell`, xlsx cells are text cells holding the name with XML-illegal control characters replaced by
U+FFFD, the GeoPackage holds the name exactly, report.html shows it HTML-escaped (control characters as U+FFFD),
maps draw it literally, and the terminal shows control characters as escapes.
"""

from __future__ import annotations

import csv
import html
import re
import shutil
from collections.abc import Sequence
from pathlib import Path

import geopandas as gpd
import openpyxl
import pandas as pd
import pyogrio
import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from plotly.offline import get_plotlyjs

from allocopt import maps
from allocopt.cli import main
from allocopt.export import from_spreadsheet_cell, write_csv, write_geopackage
from allocopt.i18n import translator
from allocopt.regions import load_region
from allocopt.report import read_result_dir, render_html, write_report
from allocopt.workbook import write_workbook
from allocopt.xlsx import xlsx_text

TINY_DIR = Path(__file__).resolve().parent / "data" / "tiny-region"

FACILITY_NAMES = {
    "H01": '=HYPERLINK("http://example.invalid/x","click")',
    "T01": "=cmd|' /C calc'!A0",
    "T02": "$\\frac{1}{0}$ \x1b[31mred",
    "T03": "0042",
    "V01": "NA",
    "V02": "null\x07",
}
TOWNSHIP_NAMES = {"530101": "1e3", "530102": "$x$ \x0b tab", "530103": "+SUM(A1)\u202eevil"}
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
_HTML_CONTROLS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def _named_bundle(tmp_path: Path) -> Path:
    """The tiny region with the hostile facility and township names."""
    bundle = tmp_path / "bundle"
    shutil.copytree(TINY_DIR, bundle)
    facilities = pd.read_csv(bundle / "facilities.csv", dtype=str, keep_default_na=False)
    facilities["name"] = facilities["id"].map(FACILITY_NAMES)
    facilities.to_csv(bundle / "facilities.csv", index=False)
    townships = pyogrio.read_dataframe(bundle / "region.gpkg", layer="townships")
    townships["name"] = townships["code"].astype(str).map(TOWNSHIP_NAMES)
    pyogrio.write_dataframe(townships, bundle / "region.gpkg", layer="townships")
    return bundle


@pytest.fixture(scope="module")
def hostile_result(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`optimize --report` on the tiny region with hostile names."""
    tmp_path = tmp_path_factory.mktemp("hostile-names")
    out = tmp_path / "plan"
    result = CliRunner().invoke(main, ["optimize", str(_named_bundle(tmp_path)), "--budget", "3000000", "--out",
                                       str(out), "--report", "--cache-dir", str(tmp_path / "cache")])
    assert result.exit_code == 0, (result.output, result.exception)
    return out


def _csv_rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8-sig", newline="") as handle:
        return list(csv.DictReader(handle))


def test_formula_injection(hostile_result: Path) -> None:
    """No cell of plan.xlsx is a formula; no text cell of a CSV starts a formula; names come back exactly."""
    book = openpyxl.load_workbook(hostile_result / "plan.xlsx")
    types = {cell.data_type for sheet in book.worksheets for row in sheet.iter_rows() for cell in row
             if cell.value is not None}
    assert types <= {"s", "n", "b"}, types
    names = [cell.value for cell in book["Allocations"]["A"][1:]]
    assert names and all(isinstance(name, str) for name in names)
    assert set(names) <= {xlsx_text(name) for name in FACILITY_NAMES.values()}
    for file, column in (("allocations.csv", "site_name"), ("townships.csv", "name")):
        cells = [row[column] for row in _csv_rows(hostile_result / file)]
        assert not [cell for cell in cells if cell.startswith(FORMULA_STARTS)], (file, cells)
        assert {from_spreadsheet_cell(cell) for cell in cells} <= {*FACILITY_NAMES.values(), *TOWNSHIP_NAMES.values()}
    townships = {row["code"]: from_spreadsheet_cell(row["name"]) for row in _csv_rows(hostile_result / "townships.csv")}
    assert townships == TOWNSHIP_NAMES


def test_names_that_break_or_change_outputs(hostile_result: Path) -> None:
    """Mathtext, control characters and numeric-looking names: every output is written and shows the name as
    text ("0042" is not 42.0, "NA" is not empty, "1e3" is not 1000.0)."""
    book = openpyxl.load_workbook(hostile_result / "plan.xlsx")
    sheet = book["Townships"]
    header = [cell.value for cell in sheet[1]]
    shown = {row[header.index("Code")]: row[header.index("Township")] for row in sheet.iter_rows(min_row=2,
                                                                                                  values_only=True)}
    assert shown == {code: xlsx_text(name) for code, name in TOWNSHIP_NAMES.items()}
    assert shown["530101"] == "1e3" and "\ufffd" in shown["530102"]
    page = (hostile_result / "report.html").read_text(encoding="utf-8")
    allocations = _csv_rows(hostile_result / "allocations.csv")
    shown_names = [from_spreadsheet_cell(row["site_name"]) for row in allocations]
    shown_names += [TOWNSHIP_NAMES[row["township_code"]] for row in allocations]
    assert shown_names
    for name in shown_names:
        assert _HTML_CONTROLS.sub("\ufffd", html.escape(name, quote=True)) in page, name
    plotly_js = get_plotlyjs()  # the bundle holds two raw control characters in string literals (PNG, PSD magic)
    assert page.count(plotly_js) == 1 and not _HTML_CONTROLS.search(page.replace(plotly_js, ""))
    layer = gpd.read_file(hostile_result / "result.gpkg", layer="townships")
    assert dict(zip(layer["code"], layer["name"], strict=True)) == TOWNSHIP_NAMES
    assert sorted(p.name for p in hostile_result.glob("map_*.png"))  # the maps were drawn despite "$x$"


def test_terminal_escape_sequences_are_shown_escaped(tmp_path: Path) -> None:
    bundle = tmp_path / "bundle"
    shutil.copytree(TINY_DIR, bundle)
    toml = (bundle / "region.toml").read_text(encoding="utf-8")
    (bundle / "region.toml").write_text(toml.replace('name = "tiny-region"', 'name = "tiny\\u001b[2J\\u202eregion"'),
                                        encoding="utf-8")
    result = CliRunner().invoke(main, ["validate", str(bundle)])
    assert result.exit_code == 0, result.output
    assert "\x1b" not in result.output and "\u202e" not in result.output
    assert "Region tiny\\x1b[2J\\u202eregion is valid" in result.stdout
    facilities = (bundle / "facilities.csv").read_text(encoding="utf-8")
    (bundle / "facilities.csv").write_text(facilities.replace("T01,", "H01\x1b[2J,").replace("T02,", "H01\x1b[2J,"),
                                           encoding="utf-8")
    result = CliRunner().invoke(main, ["validate", str(bundle)])
    assert result.exit_code == 1 and "\x1b" not in result.output
    assert "id 'H01\\x1b[2J'" in result.stderr


def test_ids_differing_only_in_unicode_normalisation_are_one_id(tmp_path: Path) -> None:
    """An NFD township code in the demand layer refers to the NFC code of the townships layer; two facility ids
    that differ only in normalisation collide, and the message says why."""
    bundle = tmp_path / "bundle"
    shutil.copytree(TINY_DIR, bundle)
    composed, decomposed = "530101\u00e9", "530101e\u0301"
    for layer, column, value in (("townships", "code", composed), ("demand", "township_code", decomposed)):
        frame = pyogrio.read_dataframe(bundle / "region.gpkg", layer=layer)
        frame[column] = frame[column].astype(str).replace("530101", value)
        pyogrio.write_dataframe(frame, bundle / "region.gpkg", layer=layer)
    region = load_region(bundle)
    assert composed in set(region.townships["code"]) and set(region.demand["township_code"]) >= {composed}
    facilities = (bundle / "facilities.csv").read_text(encoding="utf-8")
    (bundle / "facilities.csv").write_text(facilities.replace("T01,", "T\u00e9,").replace("T02,", "Te\u0301,"),
                                           encoding="utf-8")
    result = CliRunner().invoke(main, ["validate", str(bundle)])
    assert result.exit_code == 1, result.output
    assert "rows 2 and 3 both have id 'T\u00e9'" in result.stderr and "Unicode normalisation" in result.stderr


# --- fuzz: names from the whole Unicode range through every output --------------------------------------------

TRICKY = ['=HYPERLINK("x")', "=cmd|' /C calc'!A0", "+1", "-1", "@SUM(A1)", "\t=1", "\r=1", "'=1", "''", "'",
          "$x$", "$\\frac{1}{0}$", "\\", "0042", "1e3", "-0", "null", "NA", "nan", "None", "True", " ",
          "\u202eabc", "\u200fשלום", "\x1b[31m", "a\x0bb", "\x7f\x85\x9b", "乡\u0301", "\U0010fffd"]
NAME = st.one_of(
    st.sampled_from(TRICKY),
    st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), min_size=1, max_size=10),
    st.builds(lambda a, b: a + b, st.sampled_from(TRICKY), st.text(max_size=4)),
).map(lambda text: text.replace("\x00", "") or "x")
"""Any Unicode text but NUL (GDAL ends text at NUL) and lone surrogates (not encodable as UTF-8)."""


@pytest.fixture(scope="module")
def plain_result(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A result directory of the tiny region, renamed in place by each fuzz example."""
    tmp_path = tmp_path_factory.mktemp("plain")
    out = tmp_path / "plan"
    result = CliRunner().invoke(main, ["optimize", str(TINY_DIR), "--budget", "3000000", "--out", str(out),
                                       "--cache-dir", str(tmp_path / "cache")])
    assert result.exit_code == 0, result.output
    return out


def _renamed_copy(result_dir: Path, target: Path, names: Sequence[str]) -> dict[str, str]:
    """Copy `result_dir` to `target` with township i named names[i]; returns {code: name}."""
    if target.exists():
        shutil.rmtree(target)
    shutil.copytree(result_dir, target)
    townships = pd.read_csv(target / "townships.csv", encoding="utf-8-sig", dtype={"code": str})
    named = {code: names[i % len(names)] for i, code in enumerate(townships["code"])}
    write_csv(townships.assign(name=townships["code"].map(named)), target / "townships.csv")
    layers = {layer: gpd.read_file(target / "result.gpkg", layer=layer) for layer in pyogrio.list_layers(
        target / "result.gpkg")[:, 0]}
    layers["townships"] = layers["townships"].assign(name=layers["townships"]["code"].map(named))
    write_geopackage(layers, target / "result.gpkg")
    return named


def _check_outputs(directory: Path, named: dict[str, str]) -> None:
    rows = _csv_rows(directory / "townships.csv")
    assert {row["code"]: from_spreadsheet_cell(row["name"]) for row in rows} == named
    assert not [row["name"] for row in rows if row["name"].startswith(FORMULA_STARTS)]
    layer = gpd.read_file(directory / "result.gpkg", layer="townships")
    assert dict(zip(layer["code"], layer["name"], strict=True)) == named
    sheet = openpyxl.load_workbook(directory / "plan.xlsx")["Townships"]
    header = [cell.value for cell in sheet[1]]
    cells = {row[header.index("Code")].value: row[header.index("Township")] for row in sheet.iter_rows(min_row=2)}
    assert {code: cell.value for code, cell in cells.items()} == {c: xlsx_text(n) for c, n in named.items()}
    assert {cell.data_type for cell in cells.values()} == {"s"}
    page = (directory / "report.html").read_text(encoding="utf-8")
    for row in _csv_rows(directory / "allocations.csv"):  # the report names the townships that receive something
        assert _HTML_CONTROLS.sub("\ufffd", html.escape(named[row["township_code"]], quote=True)) in page
    assert (directory / "map_facilities.png").read_bytes().startswith(b"\x89PNG")


def _map_labels(directory: Path) -> set[str]:
    """The township labels maps.access_map draws (matplotlib Text objects, before rendering)."""
    townships = gpd.read_file(directory / "result.gpkg", layer="townships")
    figure = maps.before_after_map(townships, "primary_care", region="r", scenario="s")
    return {text.get_text() for ax in figure.axes for text in ax.texts}


def _quick_report(directory: Path) -> None:
    """plan.xlsx, report.html and the facilities map as `write_report` makes them, without the service maps."""
    result = read_result_dir(directory)
    write_workbook(result, directory / "plan.xlsx", tr=translator("en"))
    figure = maps.facilities_map(result.facilities, townships=result.township_layer, region="r", scenario="s")
    png = maps.save_png(figure, directory / "map_facilities.png", dpi=20)
    (directory / "report.html").write_text(render_html(result, facilities_map=png), encoding="utf-8")


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(names=st.lists(NAME, min_size=3, max_size=3))
def test_fuzzed_names_round_trip_through_every_output(plain_result: Path, tmp_path: Path, names: list[str]) -> None:
    named = _renamed_copy(plain_result, tmp_path / "renamed", names)
    _quick_report(tmp_path / "renamed")
    _check_outputs(tmp_path / "renamed", named)
    assert set(named.values()) <= _map_labels(tmp_path / "renamed")


@pytest.mark.slow
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(names=st.lists(NAME, min_size=3, max_size=3))
def test_many_fuzzed_names_round_trip_through_every_output(plain_result: Path, tmp_path: Path,
                                                           names: list[str]) -> None:
    named = _renamed_copy(plain_result, tmp_path / "renamed", names)
    write_report(tmp_path / "renamed", dpi=20)
    _check_outputs(tmp_path / "renamed", named)
