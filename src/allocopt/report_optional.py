"""The report's sections for what a result holds only under some scenario sections: ambulances (`[ems]`), maps of
the care pathways (`[pathways]`), the timeline of a multi-year plan (`--years`) and n-1 coverage (`[n_minus_1]`).

Each function reads its files of the result directory (docs/results.md), draws its figure into the report folder
and returns the words, tables and figures of its section in the translator's language; a result without those
files gets no section (None or nothing), so the page shows exactly what the result holds.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio

from allocopt import maps
from allocopt.ems_map import ems_station_map, save_ems_map
from allocopt.errors import DataError
from allocopt.i18n import Translator
from allocopt.map_frame import metric
from allocopt.report_blocks import Block, Cell, Numbers, Paragraph, Row, Section, Table, png_figure
from allocopt.report_sections import money_header
from allocopt.timeline import save_timeline

EMS_STATIONS_FILE = "ems_stations.csv"
EMS_DEMAND_FILE = "ems_demand.csv"
EMS_MAP_FILE = "ems_map.png"
PATHWAYS_FILE = "pathways.csv"
TIMELINE_FILE = "timeline.png"
N_MINUS_1_FILE = "n_minus_1.csv"
N_MINUS_1_TOP = 10
"""How many of the road segments that still break a service the report lists."""
OPTIONAL_FILES = (EMS_MAP_FILE, TIMELINE_FILE)
"""The figures of this module whose names `allocopt.report.is_report_file` does not match by pattern."""

CsvReader = Callable[[Path, Sequence[str]], pd.DataFrame]
"""`allocopt.report`'s checked CSV reader (path, required columns)."""


def ems_section(directory: Path, out_dir: Path, *, summary: Mapping[str, Any], townships: gpd.GeoDataFrame,
                region: str, scenario: str, dpi: int, tr: Translator, read_csv: CsvReader) -> Section | None:
    """Ambulances: the fleet and response figures before and after, the map of response minutes and stations
    (ems_map.png) and the stations the plan staffs. None for a result without ems_stations.csv."""
    stations_path = directory / EMS_STATIONS_FILE
    if not stations_path.is_file():
        return None
    figures = summary.get("ems")
    if not isinstance(figures, Mapping):
        raise DataError(f"{directory / 'summary.json'}: key 'ems' is missing beside {EMS_STATIONS_FILE}; "
                        "see docs/results.md")
    stations = read_csv(stations_path, ("id", "name", "ambulances_before", "added", "ambulances_after"))
    demand = read_csv(directory / EMS_DEMAND_FILE, ("id", "population", "response_minutes_before",
                                                    "response_minutes_after"))
    layers = _layers(directory / "result.gpkg", ("demand", "ems_stations"))
    crs = metric(townships, layer="townships").crs
    figure = ems_station_map(metric(townships, layer="townships"), metric(layers["demand"], layer="demand", crs=crs),
                             metric(layers["ems_stations"], layer="ems_stations", crs=crs), demand_figures=demand,
                             station_figures=stations, summary=figures,
                             title=maps.map_title(tr, region, scenario, tr("maps.ems.title")), tr=tr)
    path = save_ems_map(figure, out_dir / EMS_MAP_FILE, dpi=dpi)
    blocks: tuple[Block, ...] = (
        Paragraph(tr("report.ems.text", minutes=f"{float(figures['response_threshold_minutes']):g}",
                     norm=tr.number(float(figures["residents_per_ambulance_norm"])),
                     fleet=tr.number(float(figures["fleet_norm"])))),
        _ems_figures(figures, tr), png_figure(tr("report.figure.ems"), path), _ems_stations(stations, tr))
    return Section("ems", tr("report.section.ems"), blocks)


def _ems_figures(figures: Mapping[str, Any], tr: Translator) -> Table:
    n = Numbers(tr)
    shows = (("fleet", n.count), ("residents_per_ambulance", n.people), ("covered_population", n.people),
             ("covered_share", n.share), ("expected_coverage", n.share), ("mean_response_minutes", n.minutes))
    rows = tuple(Row((Cell(tr.term("report.ems_figure", name)), show(figures["before"].get(name)),
                      show(figures["after"].get(name))), key=name) for name, show in shows)
    return Table("ems-table", (tr("report.column.figure"), tr("report.column.before"), tr("report.column.after")),
                 rows)


def _ems_stations(stations: pd.DataFrame, tr: Translator) -> Table:
    """The stations with ambulances after the plan, those it adds to first."""
    n = Numbers(tr)
    staffed = stations[stations["ambulances_after"] > 0].sort_values(["added", "ambulances_after"], ascending=False,
                                                                     kind="stable")
    rows = tuple(Row((Cell(str(r["name"])), n.count(r["ambulances_before"]), n.count(r["added"]),
                      n.count(r["ambulances_after"]), n.people(r.get("residents_within_after")),
                      n.money(r.get("cost_yuan"))), key=str(r["id"])) for _, r in staffed.iterrows())
    headers = (tr("report.column.station"), tr("report.column.ambulances_before"), tr("report.column.added"),
               tr("report.column.ambulances_after"), tr("report.column.residents_within"),
               money_header(tr, "report.column.cost"))
    return Table("ems-stations-table", headers, rows, caption=tr("report.ems.stations"))


def pathway_maps(directory: Path, out_dir: Path, *, summary: Mapping[str, Any], townships: gpd.GeoDataFrame,
                 region: str, scenario: str, dpi: int, tr: Translator,
                 read_csv: CsvReader) -> list[tuple[str, Path]]:
    """Per pathway condition, the map of case-weighted mean minutes to definitive treatment by township, before
    and after, in the shared classes of `allocopt.map_frame` around the condition's time window. Empty for a
    result without pathways.csv."""
    path = directory / PATHWAYS_FILE
    if not path.is_file():
        return []
    table = read_csv(path, ("township_code", "condition", "expected_cases", "before_total_minutes",
                            "after_total_minutes"))
    settings = ((summary.get("scenario") or {}).get("settings") or {}).get("pathways") or {}
    drawn = []
    for condition, rows in table.groupby("condition", sort=False):
        name = str(condition)
        layer = townships[["code", "name", "geometry"]].copy()
        for when in ("before", "after"):
            minutes = _township_minutes(rows, f"{when}_total_minutes")
            layer[f"{name}_minutes_{when}"] = layer["code"].astype(str).map(minutes).astype(float)
        window = (settings.get(name) or {}).get("window_minutes")
        what = tr("maps.pathway.title", condition=tr.term("common.condition", name))
        figure = maps.before_after_map(layer, name, region=region, scenario=scenario, threshold_minutes=window,
                                       what=what, legend_title=_window_title(tr, window), tr=tr)
        drawn.append((tr("report.figure.pathway_map", condition=tr.term("common.condition", name)),
                      maps.save_png(figure, out_dir / f"map_pathway_{name}.png", dpi=dpi)))
    return drawn


def _window_title(tr: Translator, window_minutes: float | None) -> str:
    return (tr("maps.pathway.legend_window", minutes=f"{window_minutes:g}") if window_minutes is not None
            else tr("maps.pathway.legend"))


def _township_minutes(rows: pd.DataFrame, column: str) -> pd.Series:
    """Per township code, the case-weighted mean of `column` over the rows with a pathway (NaN without one)."""
    minutes = pd.to_numeric(rows[column], errors="coerce").to_numpy(dtype=float)
    cases = pd.to_numeric(rows["expected_cases"], errors="coerce").fillna(0.0).to_numpy(dtype=float)
    reached = np.isfinite(minutes) & (cases > 0)
    frame = pd.DataFrame({"code": rows["township_code"].astype(str).to_numpy()[reached],
                          "weighted": minutes[reached] * cases[reached], "cases": cases[reached]})
    sums = frame.groupby("code")[["weighted", "cases"]].sum()
    return sums["weighted"] / sums["cases"]


def timeline(schedule: pd.DataFrame | None, years: pd.DataFrame | None, out_dir: Path, *, region: str,
             scenario: str, dpi: int, tr: Translator) -> Path | None:
    """timeline.png of a multi-year plan (years.csv and schedule.csv), None for a single-year result."""
    if schedule is None or years is None:
        return None
    title = maps.map_title(tr, region, scenario, tr("report.figure.timeline"))
    return save_timeline(schedule, years, out_dir / TIMELINE_FILE, title=title, tr=tr, dpi=dpi)


def n_minus_1_section(directory: Path, summary: Mapping[str, Any], tr: Translator,
                      read_csv: CsvReader) -> Section | None:
    """n-1 coverage: per service the residents keeping it under any single road failure before and after, and
    the road segments whose failure still breaks it. None for a result without n_minus_1.csv."""
    path = directory / N_MINUS_1_FILE
    if not path.is_file():
        return None
    services = ((summary.get("n_minus_1") or {}).get("services")) or {}
    if not services:
        raise DataError(f"{directory / 'summary.json'}: key 'n_minus_1' is missing beside {N_MINUS_1_FILE}; "
                        "see docs/results.md")
    segments = read_csv(path, ("service", "road_id", "road_class", "people_losing_before", "people_losing_after"))
    n = Numbers(tr)
    rows = tuple(Row((Cell(tr.term("common.service", service)), n.people(f.get("people_covered_after")),
                      n.people(f.get("people_keeping_before")), n.people(f.get("people_keeping_after")),
                      n.count(len(f.get("segments_breaking_after") or ())), n.people(f.get("people_no_plan_can_keep"))),
                     key=service) for service, f in services.items())
    headers = (tr("report.column.service"), tr("report.column.covered_people_after"),
               tr("report.column.keeping_before"), tr("report.column.keeping_after"),
               tr("report.column.segments_breaking"), tr("report.column.no_plan_can_keep"))
    breaking = segments[segments["people_losing_after"] > 0].sort_values("people_losing_after", ascending=False,
                                                                         kind="stable").head(N_MINUS_1_TOP)
    worst = tuple(Row((Cell(tr.term("common.service", str(r["service"]))), Cell(str(r["road_id"])),
                       Cell(tr.term("report.road_class", str(r["road_class"]))), n.people(r["people_losing_before"]),
                       n.people(r["people_losing_after"])), key=f"{r['service']}/{r['road_id']}")
                  for _, r in breaking.iterrows())
    blocks: list[Block] = [Paragraph(tr("report.n_minus_1.text")), Table("n-minus-1-table", headers, rows)]
    if worst:
        blocks.append(Table("n-minus-1-segments-table",
                            (tr("report.column.service"), tr("report.column.road"), tr("report.column.road_class"),
                             tr("report.column.losing_before"), tr("report.column.losing_after")), worst,
                            caption=tr("report.n_minus_1.segments", top=tr.number(N_MINUS_1_TOP))))
    return Section("n-minus-1", tr("report.section.n_minus_1"), tuple(blocks))


def _layers(path: Path, names: Sequence[str]) -> dict[str, gpd.GeoDataFrame]:
    present = {str(row[0]) for row in pyogrio.list_layers(path)}
    missing = [name for name in names if name not in present]
    if missing:
        raise DataError(f"{path}: layer {missing[0]!r} is missing; see docs/results.md")
    return {name: gpd.read_file(path, layer=name, engine="pyogrio") for name in names}
