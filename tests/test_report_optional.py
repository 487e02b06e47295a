"""The report's optional sections: ambulances, pathway maps, the years' timeline and n-1 coverage appear exactly
when their result files exist, with the numbers of summary.json and the CSV files; the interactive map draws in
headless Chromium under the page's own Content-Security-Policy."""

from __future__ import annotations

import json
import math
import shutil
import subprocess
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pytest
from shapely.geometry import LineString, Point

import result_fixture as fx
from allocopt import report, report_optional
from allocopt.export import write_csv, write_geopackage
from allocopt.i18n import LANGUAGES, translator
from allocopt.interactive_map import map_figure
from test_report import _parse, _rows

CHROMIUM = Path("/usr/bin/chromium")
TEST_DPI = 40
CODES = list(fx.TOWNSHIPS["code"])
EMS = {"response_threshold_minutes": 30.0, "dispatch_minutes": 3.0, "busy_fraction": 0.2, "weight": 1.0,
       "fleet_norm": 5, "residents_per_ambulance_norm": 30_000.0, "fleet_norm_hard": False, "stations_opened": 1,
       "ambulances_added": 2,
       "before": {"fleet": 1, "residents_per_ambulance": 130_000.0, "covered_population": 60_000.0,
                  "covered_share": 60_000 / 130_000, "expected_coverage": 0.37, "mean_response_minutes": 41.5},
       "after": {"fleet": 3, "residents_per_ambulance": 130_000 / 3, "covered_population": 115_000.0,
                 "covered_share": 115_000 / 130_000, "expected_coverage": 0.81, "mean_response_minutes": 17.25}}
STATIONS = pd.DataFrame({"id": ["S1", "S2", "S3"],
                         "name": ["城关120急救站", "石桥急救站（候选）", "白河急救站（候选）"],
                         "township_code": [CODES[0], CODES[3], CODES[1]], "candidate": [False, True, True],
                         "opened": [True, True, False], "ambulances_before": [1, 0, 0], "added": [1, 1, 0],
                         "ambulances_after": [2, 1, 0], "residents_within_after": [85_000.0, 30_000.0, 0.0],
                         "cost_yuan": [1_500_000.0, 2_600_000.0, 0.0]})
EMS_DEMAND = pd.DataFrame({"id": [f"D{code}" for code in CODES], "township_code": CODES,
                           "population": list(fx.TOWNSHIPS["population"]),
                           "response_minutes_before": [8.0, 35.0, 40.0, math.inf],
                           "response_minutes_after": [8.0, 20.0, 25.0, 6.0]})
N_MINUS_1 = {"settings": {"services": ["primary_care"], "road_classes": ["county"], "roads": [], "mode": "soft",
                          "weight": 1.0},
             "services": {"primary_care": {"people_covered_after": 120_000.0, "people_keeping_before": 70_000.0,
                                           "people_keeping_after": 95_000.0, "segments_breaking_after": ["r2", "r7"],
                                           "people_no_plan_can_keep": 15_000.0}}}
SEGMENTS = pd.DataFrame({"service": ["primary_care"] * 3, "road_id": ["r1", "r2", "r7"],
                         "road_class": ["county"] * 3, "points_losing_before": [1, 1, 1],
                         "people_losing_before": [25_000.0, 30_000.0, 15_000.0], "points_losing_after": [0, 1, 1],
                         "people_losing_after": [0.0, 10_000.0, 15_000.0]})
PATHWAYS = pd.DataFrame({"demand_id": [f"D{code}" for code in CODES] * 2, "township_code": CODES * 2,
                         "condition": ["stroke"] * 8, "arrival": ["ems"] * 4 + ["self"] * 4,
                         "expected_cases": [3.0, 1.0, 1.0, 0.5, 1.0, 1.0, 1.0, 0.5],
                         "before_total_minutes": [100.0, 200.0, math.nan, math.nan, 60.0, 180.0, math.nan, math.nan],
                         "after_total_minutes": [80.0, 120.0, 150.0, 90.0, 40.0, 100.0, 170.0, 110.0]})
YEARS = pd.DataFrame({"year": [2026, 2027], "population": [130_000.0, 131_000.0],
                      "capital_yuan": [7_000_000.0, 2_550_000.0], "annual_yuan": [1_500_000.0, 2_650_000.0],
                      "gp_per_10k": [1.1, 1.31], "covered_share_primary_care": [0.93, 0.961]})
OPTIONAL_SECTIONS = ("ems", "years", "n-minus-1")


def _with_everything(directory: Path) -> Path:
    """The fixture result with the files of [ems], [pathways], [n_minus_1] and --years."""
    fx.write_result_dir(directory)
    path = directory / "summary.json"
    summary = json.loads(path.read_text(encoding="utf-8"))
    summary |= {"ems": EMS, "n_minus_1": N_MINUS_1}
    summary["scenario"]["settings"] = {"pathways": {"stroke": {"window_minutes": 270.0}}}
    path.write_text(json.dumps(summary), encoding="utf-8")
    write_csv(STATIONS, directory / "ems_stations.csv")
    write_csv(EMS_DEMAND, directory / "ems_demand.csv")
    write_csv(SEGMENTS, directory / "n_minus_1.csv")
    write_csv(PATHWAYS, directory / "pathways.csv")
    write_csv(YEARS, directory / "years.csv")
    write_csv(fx.ALLOCATIONS.assign(year=[2026] * 4 + [2027] * 4), directory / "schedule.csv")
    layers = fx.layers(fx.township_table(), referrals=True)
    centres = {code: layers["townships"].geometry.iloc[i].centroid for i, code in enumerate(CODES)}
    layers["ems_stations"] = gpd.GeoDataFrame(
        STATIONS[["id"]], geometry=[Point(centres[c].x + 500.0, centres[c].y) for c in STATIONS["township_code"]],
        crs=fx.CRS)
    door = layers["facilities"].geometry.iloc[0]
    layers["pathways"] = gpd.GeoDataFrame(  # the ems and self rows of a point share one line: drawn once
        PATHWAYS[["demand_id", "township_code", "condition", "arrival", "expected_cases"]],
        geometry=[LineString([layers["demand"].geometry.iloc[i % 4], door]) for i in range(len(PATHWAYS))],
        crs=fx.CRS)
    write_geopackage(layers, directory / "result.gpkg")
    return directory


@pytest.fixture(scope="module")
def full(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _with_everything(tmp_path_factory.mktemp("full") / "result")


@pytest.fixture(scope="module")
def pages(full: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, report.ReportFiles]:
    out = tmp_path_factory.mktemp("pages")
    return {language: report.write_report(full, out_dir=out / language, language=language, dpi=TEST_DPI)
            for language in LANGUAGES}


def _section_ids(path: Path) -> list[str]:
    return [attrs.get("id") or "" for tag, attrs in _parse(path).tags if tag == "section"]


def test_a_result_without_the_files_has_none_of_the_sections(tmp_path: Path) -> None:
    files = report.write_report(fx.write_result_dir(tmp_path / "plain"), dpi=TEST_DPI)
    assert not set(OPTIONAL_SECTIONS) & set(_section_ids(files.report))
    names = {path.name for path in files.report.parent.iterdir()}
    assert not names & {"ems_map.png", "timeline.png"} and not [n for n in names if n.startswith("map_pathway_")]


@pytest.mark.parametrize("language", LANGUAGES)
def test_each_section_appears_with_its_files(pages: dict[str, report.ReportFiles], language: str) -> None:
    files = pages[language]
    assert set(OPTIONAL_SECTIONS) <= set(_section_ids(files.report))
    names = {path.name for path in files.maps}
    assert {"ems_map.png", "timeline.png", "map_pathway_stroke.png"} <= names
    assert all((files.report.parent / name).stat().st_size > 0 for name in names)
    tr = translator(language)
    text = files.report.read_text(encoding="utf-8")
    for key in ("report.figure.ems", "report.figure.timeline"):
        assert tr(key) in text
    assert tr("report.figure.pathway_map", condition=tr.term("common.condition", "stroke")) in text


def test_the_ambulance_figures_are_those_of_summary_json(pages: dict[str, report.ReportFiles]) -> None:
    page = _parse(pages["zh"].report)
    figures = _rows(page, "ems-table")
    for name in ("fleet", "covered_population", "covered_share", "expected_coverage", "mean_response_minutes"):
        assert [float(cell[1]) for cell in figures[name][1:3]] == [EMS["before"][name], EMS["after"][name]]
    stations = _rows(page, "ems-stations-table")
    assert list(stations) == ["S1", "S2"]  # staffed after the plan, the closed candidate left out
    assert [float(cell[1]) for cell in stations["S2"][1:4]] == [0.0, 1.0, 1.0]


def test_n_minus_1_lists_each_service_and_the_segments_still_breaking_it(pages: dict[str, report.ReportFiles]) -> None:
    page = _parse(pages["en"].report)
    row = _rows(page, "n-minus-1-table")["primary_care"]
    figures = N_MINUS_1["services"]["primary_care"]
    assert [float(cell[1]) for cell in row[1:6]] == [figures["people_covered_after"], figures["people_keeping_before"],
                                                     figures["people_keeping_after"], 2.0,
                                                     figures["people_no_plan_can_keep"]]
    segments = _rows(page, "n-minus-1-segments-table")
    assert list(segments) == ["primary_care/r7", "primary_care/r2"]  # r1 no longer breaks it; most residents first
    assert float(segments["primary_care/r7"][4][1]) == 15_000.0


def test_pathway_minutes_per_township_are_case_weighted_over_cases_with_a_pathway() -> None:
    minutes = report_optional._township_minutes(PATHWAYS, "before_total_minutes")
    assert minutes.to_dict() == {CODES[0]: (3 * 100.0 + 1 * 60.0) / 4, CODES[1]: (200.0 + 180.0) / 2}


def test_report_dir_redraws_the_optional_figures_in_place(tmp_path: Path) -> None:
    directory = _with_everything(tmp_path / "result")
    report.write_report(directory, dpi=TEST_DPI)
    (directory / "timeline.png").write_bytes(b"stale")  # as an earlier optimize --report wrote it
    report.write_report(directory, dpi=TEST_DPI)
    assert (directory / "timeline.png").read_bytes().startswith(b"\x89PNG")
    assert (directory / "ems_map.png").read_bytes().startswith(b"\x89PNG")


def test_the_interactive_map_switches_each_condition_s_pathways_on_and_off(full: Path) -> None:
    tr = translator("zh")
    figure = map_figure(report.read_result_dir(full), tr=tr)
    traces = [t for t in figure.data if t.name == tr("maps.interactive.pathways", condition="卒中中心")]
    assert len(traces) == 1 and traces[0].visible == "legendonly"
    assert list(traces[0].x).count(None) == len(CODES)  # four distinct lines (each ends in a break), one path


@pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium (apt-get install chromium)")
def test_chromium_draws_the_interactive_map_under_the_page_policy(pages: dict[str, report.ReportFiles],
                                                                 tmp_path: Path) -> None:
    page = pages["zh"].report
    assert "script-src &#x27;sha256-" in page.read_text(encoding="utf-8")
    profile = tmp_path / "profile"
    completed = subprocess.run(
        [str(CHROMIUM), "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--no-first-run", f"--user-data-dir={profile}",
         "--virtual-time-budget=15000", "--dump-dom", page.as_uri()],
        capture_output=True, text=True, timeout=180, check=False,
    )
    shutil.rmtree(profile, ignore_errors=True)
    assert 'id="allocopt-interactive-map"' in completed.stdout
    assert 'data-ready="true"' in completed.stdout, completed.stderr[-2000:]  # set once Plotly drew the figure
    assert "main-svg" in completed.stdout
