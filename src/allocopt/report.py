"""The planner's report of one result directory: maps, an Excel workbook and a self-contained HTML page.

`write_report` reads only the files docs/results.md defines (summary.json, allocations.csv, townships.csv,
result.gpkg and, after a sweep, frontier.csv; after a robust optimize, scenarios.csv; after a multi-year plan,
years.csv and schedule.csv) and writes its outputs as one
atomic folder: an earlier report is replaced only by a complete new one, and files allocopt did not write are kept.
The page is a plan document in the region's language (docs/results.md): `report_sections` and `report_outcomes`
build its sections, `report_page` renders them through a Jinja2 template with the CJK glyphs it uses embedded.
It works offline: images and font are data URIs, the style is inline, and a Content-Security-Policy forbids every
network request.
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import geopandas as gpd
import pandas as pd
import pyogrio
from markupsafe import Markup

from allocopt import maps, report_optional, report_outcomes, report_page, report_sections
from allocopt.errors import DataError
from allocopt.export import CSV_ENCODING, atomic_output_dir, from_spreadsheet_cell, read_manifest, write_text
from allocopt.i18n import FALLBACK_LANGUAGE, LANGUAGES, Translator, translator
from allocopt.interactive_map import InteractiveMap, interactive_map
from allocopt.report_blocks import Block, Paragraph, Section, png_figure
from allocopt.workbook import write_workbook

SUMMARY_FILE = "summary.json"
ALLOCATIONS_FILE = "allocations.csv"
TOWNSHIPS_FILE = "townships.csv"
GEOPACKAGE_FILE = "result.gpkg"
FRONTIER_FILE = "frontier.csv"
SCENARIOS_FILE = "scenarios.csv"
YEARS_FILE = "years.csv"
SCHEDULE_FILE = "schedule.csv"
CRITICAL_LINKS_LAYER = "critical_links"
CRITICAL_LINKS_MAP_FILE = "map_critical_links.png"
CRITICAL_LINKS_TOP = 10
"""How many of the ranked road lines the report maps and lists."""
REPORT_FILE = "report.html"
WORKBOOK_FILE = "plan.xlsx"
FACILITIES_MAP_FILE = "map_facilities.png"
FRONTIER_CHART_FILE = "chart_budget_gap.png"
REPORT_KIND = "report"
"""The kind of folder `write_report` writes to another --out (see `allocopt.export.MANIFEST_FILE`)."""

ALLOCATION_COLUMNS = (
    "site_id", "site_name", "level", "township_code", "resource", "quantity", "capital_yuan", "annual_yuan",
    "cost_yuan",
)
_TEXT_COLUMNS = frozenset({"code", "name", "site_id", "site_name", "township_code", "id", "level", "resource", "kind",
                           "status", "error", "primary_site_id", "lead_hospital_id", "scenario", "service"})
"""Columns of the result CSVs read as text, exactly: a name "0042", "1e3", "NA" or "null" stays that text."""


@dataclass(frozen=True)
class ResultData:
    """The contents of a result directory, as read by `read_result_dir`."""

    directory: Path
    summary: dict[str, Any]
    allocations: pd.DataFrame
    townships: pd.DataFrame
    township_layer: gpd.GeoDataFrame
    facilities: gpd.GeoDataFrame
    referrals: gpd.GeoDataFrame | None
    frontier: pd.DataFrame | None
    demand: gpd.GeoDataFrame | None = None
    years: pd.DataFrame | None = None
    schedule: pd.DataFrame | None = None
    pathways: gpd.GeoDataFrame | None = None
    """result.gpkg `pathways`: the best pathway after the plan per demand point, condition and arrival."""


@dataclass(frozen=True)
class ReportFiles:
    """What `write_report` wrote: the page, the workbook, one map per service plus the facilities map, the chart."""

    report: Path
    workbook: Path
    maps: tuple[Path, ...]
    frontier_chart: Path | None


def read_result_dir(result_dir: str | Path) -> ResultData:
    """Read and check the files of a result directory; `DataError` names the missing file, key or column."""
    directory = Path(result_dir)
    if not directory.is_dir():
        raise DataError(f"{directory}: not a result directory; pass the directory `allocopt optimize` wrote")
    summary = _read_summary(directory / SUMMARY_FILE)
    allocations = _read_csv(directory / ALLOCATIONS_FILE, ALLOCATION_COLUMNS)
    townships = _read_csv(directory / TOWNSHIPS_FILE, ("code", "name", "population"))
    layers = _read_layers(directory / GEOPACKAGE_FILE)
    frontier_path = directory / FRONTIER_FILE
    frontier = _read_csv(frontier_path, ("budget_yuan", "status")) if frontier_path.is_file() else None
    years_path, schedule_path = directory / YEARS_FILE, directory / SCHEDULE_FILE
    years = _read_csv(years_path, ("year",)) if years_path.is_file() else None
    schedule = (_read_csv(schedule_path, ("year", "resource", "quantity")) if years is not None
                and schedule_path.is_file() else None)
    return ResultData(
        directory=directory,
        summary=summary,
        allocations=allocations,
        townships=townships,
        township_layer=layers["townships"],
        facilities=layers["facilities"],
        referrals=layers.get("referrals"),
        frontier=frontier,
        demand=layers.get("demand"),
        years=years,
        schedule=schedule,
        pathways=layers.get("pathways"),
    )


def report_language(summary: Mapping[str, Any], language: str | None = None) -> str:
    """The language of the report: `language` when given, else the region's (summary.json `region.language`, or
    `region_language`), else `allocopt.i18n.FALLBACK_LANGUAGE`."""
    if language is not None:
        return language
    region = summary.get("region")
    found = region.get("language") if isinstance(region, Mapping) else summary.get("region_language")
    return found if found in LANGUAGES else FALLBACK_LANGUAGE


def primary_care_provider(summary: Mapping[str, Any]) -> str:
    """The scenario's primary-care provider rule (summary.json `scenario.settings.primary_care.provider`), which
    decides the sites the service maps mark; "staffed" (the default) for results written without it."""
    settings = (summary.get("scenario") or {}).get("settings") or {}
    return str((settings.get("primary_care") or {}).get("provider") or "staffed")


def region_name(summary: Mapping[str, Any]) -> str:
    """The region's name as its people write it (summary.json `region_title`), else its bundle name (`region`, or
    `region.name` when the region is an object)."""
    if summary.get("region_title"):
        return str(summary["region_title"])
    region = summary["region"]
    return str(region.get("name", "")) if isinstance(region, Mapping) else str(region)


def write_report(result_dir: str | Path, *, out_dir: str | Path | None = None, dpi: int = maps.DPI,
                 overwrite: bool = False, language: str | None = None) -> ReportFiles:
    """Write the maps, plan.xlsx and report.html of a result directory into `out_dir` (default: that directory).

    `language` (`zh` or `en`) defaults to the region's (`report_language`). The folder is replaced whole,
    atomically (`allocopt.export.atomic_output_dir`): into the result directory itself, an earlier report's files
    are replaced and every other file is kept; another `out_dir` must be new, empty or hold an earlier report (or
    `overwrite`), and may not hold the result directory.
    """
    source = Path(result_dir)
    if out_dir is not None and not (Path(out_dir).exists() and Path(out_dir).resolve() == source.resolve()):
        target = Path(out_dir)
        with atomic_output_dir(target, kind=REPORT_KIND, overwrite=overwrite, inputs=[source]) as staging:
            files = draw_report(source, staging, directory=source, dpi=dpi, language=language)
        return _moved(files, staging, target)
    earlier = read_manifest(source)
    carry = [name for name in earlier.files if not is_report_file(name)] if earlier is not None else []
    kind = earlier.kind if earlier is not None else REPORT_KIND
    with atomic_output_dir(source, kind=kind, overwrite=True, carry=carry) as staging:
        files = draw_report(source, staging, directory=source, dpi=dpi, language=language)
    return _moved(files, staging, source)


def is_report_file(name: str) -> bool:
    """Whether `name` (relative to a result directory) is one of the files `draw_report` writes."""
    return name in (REPORT_FILE, WORKBOOK_FILE, FACILITIES_MAP_FILE, FRONTIER_CHART_FILE,
                    *report_optional.OPTIONAL_FILES) or bool(re.fullmatch(r"map_\w+\.png", name))


def draw_report(result_dir: Path, out_dir: Path, *, directory: Path, dpi: int = maps.DPI,
                language: str | None = None) -> ReportFiles:
    """Read the result in `result_dir` and write its maps, plan.xlsx and report.html into `out_dir`, a staging
    folder of `allocopt.export.atomic_output_dir` (`write_report` is the safe entry point). `directory` is the
    result directory's final place."""
    result = dataclasses.replace(read_result_dir(result_dir), directory=directory)
    summary = result.summary
    tr = translator(report_language(summary, language))
    region, scenario = region_name(summary), str(summary["scenario"]["name"])
    service_maps: list[tuple[str, Path]] = []
    for service, values in summary["services"].items():
        figure = maps.before_after_map(result.township_layer, service, region=region, scenario=scenario,
                                       threshold_minutes=values.get("threshold_minutes"),
                                       facilities=result.facilities, provider=primary_care_provider(summary), tr=tr)
        caption = tr("report.figure.service_map", service=tr.term("common.service", service))
        service_maps.append((caption, maps.save_png(figure, out_dir / f"map_{service}.png", dpi=dpi)))
    facilities = maps.facilities_map(result.facilities, townships=result.township_layer, referrals=result.referrals,
                                     region=region, scenario=scenario, tr=tr)
    facilities_path = maps.save_png(facilities, out_dir / FACILITIES_MAP_FILE, dpi=dpi)
    chart = None
    if result.frontier is not None:
        chart_figure = maps.budget_gap_chart(result.frontier, region=region, scenario=scenario,
                                             budget_yuan=summary.get("budget_yuan"), tr=tr)
        chart = maps.save_png(chart_figure, out_dir / FRONTIER_CHART_FILE, dpi=dpi)
    workbook = write_workbook(result, out_dir / WORKBOOK_FILE, tr=tr, result_dir=result_dir)
    closures = closures_section(result_dir, out_dir, township_layer=result.township_layer, region=region,
                                scenario=scenario, dpi=dpi, tr=tr)
    drawn = {"summary": summary, "townships": result.township_layer, "region": region, "scenario": scenario,
             "dpi": dpi, "tr": tr, "read_csv": _read_csv}
    ems = report_optional.ems_section(result_dir, out_dir, **drawn)
    pathway_maps = report_optional.pathway_maps(result_dir, out_dir, **drawn)
    timeline = report_optional.timeline(result.schedule, result.years, out_dir, region=region, scenario=scenario,
                                        dpi=dpi, tr=tr)
    n_minus_1 = report_optional.n_minus_1_section(result_dir, summary, tr, _read_csv)
    interactive = interactive_map(result, tr=tr, font_family=f'"{report_page.FONT_FAMILY}", sans-serif')
    html = render_html(result, service_maps=service_maps, facilities_map=facilities_path, frontier_chart=chart,
                       closures=closures, language=tr.language, interactive=interactive, ems=ems,
                       pathway_maps=pathway_maps, timeline_chart=timeline, n_minus_1=n_minus_1)
    page = write_text(html, out_dir / REPORT_FILE)
    closures_map = (out_dir / CRITICAL_LINKS_MAP_FILE,) if closures else ()
    ems_map = (out_dir / report_optional.EMS_MAP_FILE,) if ems else ()
    return ReportFiles(report=page, workbook=workbook,
                       maps=(*(p for _, p in service_maps), facilities_path, *closures_map, *ems_map,
                             *(p for _, p in pathway_maps), *((timeline,) if timeline else ())),
                       frontier_chart=chart)


def _moved(files: ReportFiles, staging: Path, target: Path) -> ReportFiles:
    """`files`, written in `staging`, at their place in `target`."""
    def moved(path: Path) -> Path:
        return target / path.relative_to(staging)

    return ReportFiles(report=moved(files.report), workbook=moved(files.workbook),
                       maps=tuple(moved(p) for p in files.maps),
                       frontier_chart=None if files.frontier_chart is None else moved(files.frontier_chart))


def render_html(result: ResultData, *, service_maps: Sequence[tuple[str, Path]] = (),
                facilities_map: Path | None = None, frontier_chart: Path | None = None,
                closures: Section | None = None, language: str | None = None,
                interactive: InteractiveMap | None = None, ems: Section | None = None,
                pathway_maps: Sequence[tuple[str, Path]] = (), timeline_chart: Path | None = None,
                n_minus_1: Section | None = None) -> str:
    """The self-contained plan document: every text escaped, every image (a PNG file) embedded as a data URI,
    the CJK glyphs it uses embedded as a font. `closures` is the section `closures_section` drew, if any;
    `interactive` the interactive map (`allocopt.interactive_map`), shown in the plan section and allowed by the
    page's CSP through its scripts' hashes. `ems`, `pathway_maps`, `timeline_chart` and `n_minus_1` are what
    `allocopt.report_optional` drew for the result, if anything."""
    summary = result.summary
    tr = translator(report_language(summary, language))
    region = region_name(summary)
    plan: list[Block] = list(report_sections.plan(result, tr))
    if facilities_map is not None:
        plan.append(png_figure(tr("report.figure.facilities"), facilities_map))
    outcomes: list[Block] = [*report_outcomes.indicators(summary, tr), *report_outcomes.services(summary, tr),
                *(png_figure(caption, path) for caption, path in service_maps)]
    costs: list[Block] = list(report_sections.costs(summary, result.allocations, tr))
    if result.frontier is not None:
        costs.append(Paragraph(tr("report.costs.frontier")))
        if frontier_chart is not None:
            costs.append(png_figure(tr("report.figure.frontier"), frontier_chart))
        costs.append(report_outcomes.frontier(result.frontier, tr))
    tiers = report_outcomes.tiers(summary, tr)
    pathways: tuple[Block, ...] = (*report_outcomes.pathways(summary, tr),
                                   *(png_figure(caption, path) for caption, path in pathway_maps))
    years: tuple[Block, ...] = (report_outcomes.years(result.years, result.schedule, tr)
                                if result.years is not None else ())
    if years and timeline_chart is not None:
        years = (*years, png_figure(tr("report.figure.timeline"), timeline_chart))
    sections = [
        report_sections.overview(result, tr, region=region),
        report_sections.gaps(result, tr),
        Section("plan", tr("report.section.plan"), tuple(plan)),
        Section("costs", tr("report.section.costs"), tuple(costs)),
        Section("outcomes", tr("report.section.outcomes"), tuple(outcomes)),
        *([Section("tiers", tr("report.section.tiers"), tiers)] if tiers else []),
        *([Section("pathways", tr("report.section.pathways"), pathways)] if pathways else []),
        *([ems] if ems is not None else []),
        *([Section("years", tr("report.section.years"), years)] if years else []),
        *([closures] if closures is not None else []),
        *([n_minus_1] if n_minus_1 is not None else []),
        Section("appendix", tr("report.section.appendix"), report_outcomes.appendix(summary, tr), appendix=True),
    ]
    page = report_page.Page(
        language=tr.language, title=tr("report.title", region=region),
        subtitle=tr("report.subtitle", scenario=str(summary["scenario"]["name"])),
        lead=report_sections.lead(result, tr), notes=report_sections.notes(summary, tr), sections=tuple(sections),
        footer=tr("report.footer", version=str(summary.get("allocopt_version", ""))),
        interactive_map=Markup(interactive.html if interactive is not None else ""),
        interactive_map_heading=tr("report.figure.interactive_map"),
        script_sources=interactive.csp_sources if interactive is not None else (),
        font_text=interactive.text if interactive is not None else "")
    return report_page.render(page)


def _read_summary(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise DataError(f"{path}: missing; a result directory holds {SUMMARY_FILE} (run `allocopt optimize`)")
    try:
        summary = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DataError(f"{path}: not valid UTF-8 JSON ({exc}); write the result directory again") from exc
    except RecursionError:
        raise DataError(f"{path}: JSON nested too deeply to be a summary; write the result directory again") from None
    if not isinstance(summary, dict):
        raise DataError(f"{path}: expected a JSON object at the top level")
    for key in ("region", "scenario", "status", "services"):
        if key not in summary:
            raise DataError(f"{path}: key {key!r} is missing; see docs/results.md")
    if not isinstance(summary["scenario"], dict) or "name" not in summary["scenario"]:
        raise DataError(f"{path}: key 'scenario.name' is missing; see docs/results.md")
    if not isinstance(summary["services"], dict) or not summary["services"]:
        raise DataError(f"{path}: key 'services' must map each service to its figures; see docs/results.md")
    for service, figures in summary["services"].items():
        for key in ("unserved_before", "unserved_after"):
            value = figures.get(key) if isinstance(figures, dict) else None
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise DataError(f"{path}: 'services.{service}.{key}' must be a number, found {value!r}")
    return summary


def _read_csv(path: Path, required: Sequence[str]) -> pd.DataFrame:
    if not path.is_file():
        raise DataError(f"{path}: missing; see docs/results.md for the files of a result directory")
    try:
        columns = [str(c) for c in pd.read_csv(path, encoding=CSV_ENCODING, nrows=0).columns]
        text = [c for c in columns if c in _TEXT_COLUMNS]
        table = pd.read_csv(path, encoding=CSV_ENCODING, dtype=dict.fromkeys(text, str), keep_default_na=False,
                            na_values={c: [""] for c in columns if c not in _TEXT_COLUMNS})
    except (UnicodeDecodeError, pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise DataError(f"{path}: not a readable UTF-8 CSV file ({exc})") from exc
    for column in text:
        table[column] = table[column].map(from_spreadsheet_cell)
    missing = [c for c in required if c not in table.columns]
    if missing:
        raise DataError(f"{path}: missing column(s) {', '.join(missing)}; see docs/results.md")
    return table


def _read_layers(path: Path) -> dict[str, gpd.GeoDataFrame]:
    if not path.is_file():
        raise DataError(f"{path}: missing; a result directory holds {GEOPACKAGE_FILE} (run `allocopt optimize`)")
    try:
        names = {str(row[0]) for row in pyogrio.list_layers(path)}
    except pyogrio.errors.DataSourceError as exc:
        raise DataError(f"{path}: not a readable GeoPackage ({exc})") from exc
    for required in ("townships", "facilities"):
        if required not in names:
            raise DataError(f"{path}: layer {required!r} is missing; see docs/results.md")
    wanted = ("townships", "facilities", "referrals", "demand", "pathways")
    return {name: gpd.read_file(path, layer=name, engine="pyogrio") for name in wanted if name in names}


def closures_section(result_dir: Path, out_dir: Path, *, township_layer: gpd.GeoDataFrame, region: str,
                     scenario: str, dpi: int, tr: Translator) -> Section | None:
    """The road closures section of a robust plan's result directory: the map of the critical links
    (result.gpkg layer critical_links, drawn into `out_dir`), the first of them and scenarios.csv as tables.
    None for a result without closures."""
    links_path, scenarios_path = result_dir / GEOPACKAGE_FILE, result_dir / SCENARIOS_FILE
    if not scenarios_path.is_file():
        return None
    scenarios = _read_csv(scenarios_path, ("scenario", "weight", "service", "unserved_before", "unserved_after"))
    if CRITICAL_LINKS_LAYER not in {str(row[0]) for row in pyogrio.list_layers(links_path)}:
        raise DataError(f"{links_path}: layer {CRITICAL_LINKS_LAYER!r} is missing beside {SCENARIOS_FILE}; "
                        "see docs/results.md")
    links = gpd.read_file(links_path, layer=CRITICAL_LINKS_LAYER, engine="pyogrio")
    figure = maps.critical_links_map(links, roads=links, townships=township_layer, region=region, scenario=scenario,
                                     top=CRITICAL_LINKS_TOP, tr=tr)
    path = maps.save_png(figure, out_dir / CRITICAL_LINKS_MAP_FILE, dpi=dpi)
    blocks = (Paragraph(tr("report.closures.text", top=tr.number(CRITICAL_LINKS_TOP))),
              png_figure(tr("report.figure.critical_links", top=tr.number(CRITICAL_LINKS_TOP)), path),
              report_outcomes.critical_links(links.head(CRITICAL_LINKS_TOP), tr),
              report_outcomes.closure_scenarios(scenarios, tr))
    return Section("closures", tr("report.section.closures"), blocks)
