"""The planner's report of one result directory: maps, an Excel workbook and a self-contained HTML page.

`write_report` reads only the files docs/results.md defines (summary.json, allocations.csv, townships.csv,
result.gpkg and, after a sweep, frontier.csv; after a robust optimize, scenarios.csv) and writes its outputs as one
atomic folder: an earlier report is replaced only by a complete new one, and files allocopt did not write are kept.
The page works offline: its images are base64 data URIs, its style is inline, and a Content-Security-Policy
forbids every network request.
"""

from __future__ import annotations

import base64
import dataclasses
import html
import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from numbers import Real
from pathlib import Path
from types import MappingProxyType
from typing import Any, NamedTuple

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio

from allocopt import maps
from allocopt.errors import DataError
from allocopt.export import CSV_ENCODING, atomic_output_dir, from_spreadsheet_cell, read_manifest, write_text
from allocopt.services import service_label
from allocopt.workbook import write_workbook

SUMMARY_FILE = "summary.json"
ALLOCATIONS_FILE = "allocations.csv"
TOWNSHIPS_FILE = "townships.csv"
GEOPACKAGE_FILE = "result.gpkg"
FRONTIER_FILE = "frontier.csv"
SCENARIOS_FILE = "scenarios.csv"
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
_CONTROL_CHARACTERS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
_CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'"


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
    return ResultData(
        directory=directory,
        summary=summary,
        allocations=allocations,
        townships=townships,
        township_layer=layers["townships"],
        facilities=layers["facilities"],
        referrals=layers.get("referrals"),
        frontier=frontier,
    )


def summary_table(summary: Mapping[str, Any]) -> pd.DataFrame:
    """The run's headline figures as rows `figure, value, unit` (missing optional figures are left out)."""
    solver = summary.get("solver") or {}
    gp = summary.get("gp") or {}
    scenario = summary.get("scenario") or {}
    budget_lines = summary.get("budget") or {}
    rows: list[tuple[str, Any, str]] = [
        ("region", summary.get("region"), ""),
        ("synthetic region", summary.get("region_synthetic"), ""),
        ("scenario", scenario.get("name"), ""),
        ("scenario source", scenario.get("source"), ""),
        ("objective", summary.get("objective_name"), ""),
        ("status", summary.get("status"), ""),
        ("objective value", summary.get("objective"), ""),
        ("best bound", summary.get("best_bound"), ""),
        ("optimality gap", summary.get("gap"), "share"),
        ("solver", " ".join(str(solver[k]) for k in ("name", "version") if solver.get(k)) or None, ""),
        ("solve time", solver.get("seconds"), "s"),
        *((f"budget ({line.removesuffix('_yuan')})", value, "yuan") for line, value in budget_lines.items()),
        ("cost", summary.get("cost_yuan"), "yuan"),
        ("budget used", _ratio(summary.get("cost_yuan"), summary.get("budget_yuan")), "share"),
        ("capital cost", summary.get("capital_yuan"), "yuan"),
        ("annual cost", summary.get("annual_yuan"), "yuan"),
        ("population", summary.get("population"), "people"),
        ("GPs per 10,000 before", gp.get("per_10k_before"), "GPs per 10k"),
        ("GPs per 10,000 after", gp.get("per_10k_after"), "GPs per 10k"),
        ("GPs per 10,000 target", gp.get("target_per_10k"), "GPs per 10k"),
        ("GP shortage before", gp.get("shortage_people_before"), "people"),
        ("GP shortage after", gp.get("shortage_people_after"), "people"),
        ("GPs added", gp.get("added"), "GPs"),
        ("allocopt version", summary.get("allocopt_version"), ""),
    ]
    kept = [row for row in rows if row[1] is not None]
    return pd.DataFrame(kept, columns=["figure", "value", "unit"])


def _ratio(part: Any, whole: Any) -> float | None:
    """part / whole for two numbers with a positive whole, else None (e.g. a budget split into lines)."""
    numbers = [v for v in (part, whole) if isinstance(v, Real) and not isinstance(v, bool)]
    return float(part) / float(whole) if len(numbers) == 2 and float(whole) > 0 else None


def services_table(summary: Mapping[str, Any]) -> pd.DataFrame:
    """One row per service of summary.json: threshold, covered and unserved people before and after the plan."""
    rows = []
    for service, figures in summary["services"].items():
        rows.append(
            {
                "service": service,
                "label": service_label(service),
                "threshold_minutes": figures.get("threshold_minutes"),
                "unserved_before": figures["unserved_before"],
                "unserved_after": figures["unserved_after"],
                "covered_population_before": figures.get("covered_population_before"),
                "covered_population_after": figures.get("covered_population"),
                "covered_share_before": figures.get("covered_share_before"),
                "covered_share_after": figures.get("covered_share"),
            }
        )
    return pd.DataFrame(rows)


INDICATOR_LABELS: Mapping[str, tuple[str, str]] = MappingProxyType({
    "medical_point_15min_share": ("Residents within 15 minutes of a first-contact point", "share"),
    "gp_per_10k": ("GPs per 10,000 residents", "ratio"),
    "beds_per_1000": ("Beds per 1,000 residents", "ratio"),
    "township_hcs_per_township": ("Township health centers per township", "ratio"),
    "village_clinics_per_village": ("Village clinics per village", "ratio"),
    "staffed_village_clinics_per_village": ("Staffed village clinics per village", "ratio"),
})
"""Readable name and unit of each indicator of summary.json `indicators` (allocopt.indicators)."""


def indicators_table(summary: Mapping[str, Any]) -> pd.DataFrame:
    """One row per indicator of summary.json: before, after, the national target or reference and its source
    (no rows for results written before the indicators existed)."""
    rows = [{"indicator": name, "label": INDICATOR_LABELS.get(name, (name, ""))[0],
             "unit": INDICATOR_LABELS.get(name, ("", "ratio"))[1], "before": values.get("before"),
             "after": values.get("after"), "national": values.get("national"),
             "national_kind": values.get("national_kind"), "source": values.get("source")}
            for name, values in summary.get("indicators", {}).items()]
    return pd.DataFrame(rows, columns=["indicator", "label", "unit", "before", "after", "national", "national_kind",
                                       "source"])


def write_report(result_dir: str | Path, *, out_dir: str | Path | None = None, dpi: int = maps.DPI,
                 overwrite: bool = False) -> ReportFiles:
    """Write the maps, plan.xlsx and report.html of a result directory into `out_dir` (default: that directory).

    The folder is replaced whole, atomically (`allocopt.export.atomic_output_dir`): into the result directory
    itself, an earlier report's files are replaced and every other file is kept; another `out_dir` must be new,
    empty or hold an earlier report (or `overwrite`), and may not hold the result directory.
    """
    source = Path(result_dir)
    if out_dir is not None and not (Path(out_dir).exists() and Path(out_dir).resolve() == source.resolve()):
        target = Path(out_dir)
        with atomic_output_dir(target, kind=REPORT_KIND, overwrite=overwrite, inputs=[source]) as staging:
            files = draw_report(source, staging, directory=source, dpi=dpi)
        return _moved(files, staging, target)
    earlier = read_manifest(source)
    carry = [name for name in earlier.files if not is_report_file(name)] if earlier is not None else []
    kind = earlier.kind if earlier is not None else REPORT_KIND
    with atomic_output_dir(source, kind=kind, overwrite=True, carry=carry) as staging:
        files = draw_report(source, staging, directory=source, dpi=dpi)
    return _moved(files, staging, source)


def is_report_file(name: str) -> bool:
    """Whether `name` (relative to a result directory) is one of the files `draw_report` writes."""
    return name in (REPORT_FILE, WORKBOOK_FILE, FACILITIES_MAP_FILE, FRONTIER_CHART_FILE) or bool(
        re.fullmatch(r"map_\w+\.png", name))


def draw_report(result_dir: Path, out_dir: Path, *, directory: Path, dpi: int = maps.DPI) -> ReportFiles:
    """Read the result in `result_dir` and write its maps, plan.xlsx and report.html into `out_dir`, a staging
    folder of `allocopt.export.atomic_output_dir` (`write_report` is the safe entry point). `directory` is the
    result directory the report names (the staging folder's final place)."""
    result = dataclasses.replace(read_result_dir(result_dir), directory=directory)
    summary = result.summary
    region, scenario = str(summary["region"]), str(summary["scenario"]["name"])
    figures: list[tuple[str, Path]] = []
    for service, values in summary["services"].items():
        figure = maps.before_after_map(
            result.township_layer, service, region=region, scenario=scenario,
            threshold_minutes=values.get("threshold_minutes"),
        )
        path = maps.save_png(figure, out_dir / f"map_{service}.png", dpi=dpi)
        figures.append((f"{service_label(service)}: travel time before and after the plan", path))
    facilities = maps.facilities_map(
        result.facilities, townships=result.township_layer, referrals=result.referrals, region=region,
        scenario=scenario,
    )
    figures.append(("Facilities and the plan's additions", maps.save_png(facilities, out_dir / FACILITIES_MAP_FILE,
                                                                          dpi=dpi)))
    chart = None
    if result.frontier is not None:
        chart_figure = maps.budget_gap_chart(
            result.frontier, region=region, scenario=scenario, budget_yuan=summary.get("budget_yuan")
        )
        chart = maps.save_png(chart_figure, out_dir / FRONTIER_CHART_FILE, dpi=dpi)
    workbook = write_workbook(_sheets(result), out_dir / WORKBOOK_FILE)
    closures = closures_section(result_dir, out_dir, township_layer=result.township_layer, region=region,
                                scenario=scenario, dpi=dpi)
    page = write_text(render_html(result, figures=figures, frontier_chart=chart, closures=closures),
                      out_dir / REPORT_FILE)
    closures_map = (out_dir / CRITICAL_LINKS_MAP_FILE,) if closures else ()
    return ReportFiles(report=page, workbook=workbook, maps=(*(p for _, p in figures), *closures_map),
                       frontier_chart=chart)


def _moved(files: ReportFiles, staging: Path, target: Path) -> ReportFiles:
    """`files`, written in `staging`, at their place in `target`."""
    def moved(path: Path) -> Path:
        return target / path.relative_to(staging)

    return ReportFiles(report=moved(files.report), workbook=moved(files.workbook),
                       maps=tuple(moved(p) for p in files.maps),
                       frontier_chart=None if files.frontier_chart is None else moved(files.frontier_chart))


def render_html(
    result: ResultData, *, figures: Sequence[tuple[str, Path]], frontier_chart: Path | None = None,
    closures: str = "",
) -> str:
    """The self-contained report page: every text escaped, every image (a PNG file) embedded as a data URI;
    `closures` is the section `closures_section` drew, if any."""
    summary = result.summary
    region, scenario = str(summary["region"]), str(summary["scenario"]["name"])
    sections = [
        f"<header><h1>{_e(region)} — {_e(scenario)}</h1>{_notes(summary)}</header>",
        _section("overview", "Overview", _summary_html(summary_table(summary))),
        _section("services", "Unserved people before and after the plan", _services_html(services_table(summary))),
        *([_section("indicators", "Indicators beside their national targets",
                    _indicators_html(indicators_table(summary)))] if summary.get("indicators") else []),
        _section("maps", "Maps", "".join(_figure_html(caption, path) for caption, path in figures)),
        _section("allocations", "What the plan places", _allocations_html(result.allocations, result.townships)),
    ]
    if result.frontier is not None and frontier_chart is not None:
        body = _figure_html("Unserved people by budget (budget sweep)", frontier_chart)
        body += _frontier_html(result.frontier)
        sections.append(_section("frontier", "Budget and gap", body))
    if closures:
        sections.append(closures)
    title = f"allocopt plan: {region} — {scenario}"
    return (
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
        f"<meta http-equiv=\"Content-Security-Policy\" content=\"{_e(_CSP)}\">\n"
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
        f"<title>{_e(title)}</title>\n<style>{_STYLE}</style>\n</head>\n<body>\n"
        + "\n".join(sections)
        + f"\n<footer>allocopt {_e(summary.get('allocopt_version', ''))} · {_e(result.directory.name)}</footer>"
        + "\n</body>\n</html>\n"
    )


class _Cell(NamedTuple):
    """A table cell: the text shown and, for numbers, the exact value (kept in a data-value attribute)."""

    text: str
    value: float | None = None


def _e(text: object) -> str:
    """`text` escaped for HTML; control characters (other than tab and newline) become U+FFFD."""
    return _CONTROL_CHARACTERS.sub("\ufffd", html.escape(str(text), quote=True))


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
    wanted = ("townships", "facilities", "referrals")
    return {name: gpd.read_file(path, layer=name, engine="pyogrio") for name in wanted if name in names}


def _sheets(result: ResultData) -> dict[str, pd.DataFrame]:
    services = services_table(result.summary).drop(columns=["label"])
    sheets = {
        "Summary": summary_table(result.summary),
        "Services": services,
        **({"Indicators": indicators_table(result.summary).drop(columns=["label"])}
           if result.summary.get("indicators") else {}),
        "Allocations": result.allocations,
        "Townships": result.townships,
    }
    if result.referrals is not None:
        sheets["Referrals"] = pd.DataFrame(result.referrals.drop(columns=result.referrals.geometry.name))
    if result.frontier is not None:
        sheets["Frontier"] = result.frontier
    return sheets


def _number(value: Any, unit: str) -> _Cell:
    """A number formatted by its unit: people and yuan as whole numbers with separators, shares as percent."""
    if isinstance(value, bool | np.bool_):
        return _Cell("yes" if value else "no")
    if not isinstance(value, Real):
        return _Cell("—" if value is None else str(value))
    number = float(value)
    if not math.isfinite(number):
        return _Cell("—")
    if unit in ("people", "yuan", "GPs"):
        text = f"{number:,.0f}"
    elif unit == "share":
        text = f"{number:.1%}"
    elif unit == "minutes":
        text = f"{number:g}"
    else:
        text = f"{number:,.2f}".rstrip("0").rstrip(".")
    return _Cell(text, number)


def _table(table_id: str, headers: Sequence[str], rows: Sequence[Sequence[_Cell]], *,
           row_keys: Sequence[str] | None = None, footer: Sequence[_Cell] | None = None) -> str:
    def cells(row: Sequence[_Cell], tag: str) -> str:
        parts = []
        for cell in row:
            if cell.value is None:
                parts.append(f"<{tag}>{_e(cell.text)}</{tag}>")
            else:
                parts.append(f"<{tag} class=\"num\" data-value=\"{cell.value!r}\">{_e(cell.text)}</{tag}>")
        return "".join(parts)

    head = "".join(f"<th>{_e(h)}</th>" for h in headers)
    body = []
    for index, row in enumerate(rows):
        key = f" data-key=\"{_e(row_keys[index])}\"" if row_keys is not None else ""
        body.append(f"<tr{key}>{cells(row, 'td')}</tr>")
    foot = f"<tfoot><tr>{cells(footer, 'th')}</tr></tfoot>" if footer is not None else ""
    return (f"<table id=\"{_e(table_id)}\"><thead><tr>{head}</tr></thead>"
            f"<tbody>{''.join(body)}</tbody>{foot}</table>")


def _section(section_id: str, heading: str, body: str) -> str:
    return f"<section id=\"{_e(section_id)}\"><h2>{_e(heading)}</h2>{body}</section>"


def _notes(summary: Mapping[str, Any]) -> str:
    """Warnings a reader must see first: a plan not proven optimal, a synthetic region."""
    notes = []
    if summary.get("status") != "optimal":
        gap = summary.get("gap")
        within = f" it is within {gap:.2%} of the best possible plan" if isinstance(gap, int | float) else ""
        notes.append(f"Solver status {summary.get('status')!s}: this plan is not proven optimal at the requested "
                     f"MIP gap;{within or ' its distance from the best plan is unknown'}.")
    if summary.get("region_synthetic"):
        notes.append("This region is synthetic: its figures illustrate the method and describe no real place.")
    return "".join(f"<p class=\"note\">{_e(note)}</p>" for note in notes)


def _summary_html(table: pd.DataFrame) -> str:
    rows = [[_Cell(str(r.figure)), _number(r.value, str(r.unit)), _Cell(str(r.unit))]
            for r in table.itertuples(index=False)]
    return _table("summary-table", ("figure", "value", "unit"), rows)


def _services_html(table: pd.DataFrame) -> str:
    headers = ("service", "threshold (min)", "unserved before", "unserved after", "change", "covered before",
               "covered after")
    rows = []
    for r in table.itertuples(index=False):
        rows.append([
            _Cell(str(r.label)),
            _number(r.threshold_minutes, "minutes"),
            _number(r.unserved_before, "people"),
            _number(r.unserved_after, "people"),
            _number(r.unserved_after - r.unserved_before, "people"),
            _number(r.covered_share_before, "share"),
            _number(r.covered_share_after, "share"),
        ])
    return _table("services-table", headers, rows, row_keys=list(table["service"]))


def _indicators_html(table: pd.DataFrame) -> str:
    headers = ("indicator", "before", "after", "national", "", "source")
    rows = [[_Cell(str(r.label)), _number(r.before, str(r.unit)), _number(r.after, str(r.unit)),
             _number(r.national, str(r.unit)), _Cell(str(r.national_kind or "")), _Cell(str(r.source or ""))]
            for r in table.itertuples(index=False)]
    return _table("indicators-table", headers, rows, row_keys=list(table["indicator"]))


def _allocations_html(allocations: pd.DataFrame, townships: pd.DataFrame) -> str:
    if allocations.empty:
        return "<p>The plan places nothing.</p>"
    names = dict(zip(townships["code"], townships["name"], strict=True))
    headers = ("site", "township", "level", "resource", "quantity", "capital (yuan)", "annual (yuan)",
               "cost (yuan)")
    rows = []
    for r in allocations.itertuples(index=False):
        rows.append([
            _Cell(str(r.site_name)),
            _Cell(str(names.get(r.township_code, r.township_code))),
            _Cell(str(r.level).replace("_", " ")),
            _Cell(str(r.resource).replace("_", " ")),
            _number(r.quantity, ""),
            _number(r.capital_yuan, "yuan"),
            _number(r.annual_yuan, "yuan"),
            _number(r.cost_yuan, "yuan"),
        ])
    total = [_Cell("total"), _Cell(""), _Cell(""), _Cell(""), _Cell("")]
    total += [_number(float(allocations[c].sum()), "yuan") for c in ("capital_yuan", "annual_yuan", "cost_yuan")]
    return _table("allocations-table", headers, rows, row_keys=list(allocations["site_id"]), footer=total)


def _frontier_html(frontier: pd.DataFrame) -> str:
    services = [c for c in frontier.columns if c.endswith("_unserved")]
    headers = ("budget (yuan)", "status", "gap", *(service_label(c.removesuffix("_unserved")) for c in services))
    rows = []
    for _, r in frontier.sort_values("budget_yuan").iterrows():
        rows.append([
            _number(r["budget_yuan"], "yuan"),
            _Cell(str(r["status"])),
            _number(r.get("gap"), "share"),
            *(_number(r[c], "people") for c in services),
        ])
    return _table("frontier-table", headers, rows)


def _figure_html(caption: str, path: Path) -> str:
    encoded = base64.b64encode(path.read_bytes()).decode("ascii")
    return (f"<figure><img src=\"data:image/png;base64,{encoded}\" alt=\"{_e(caption)}\">"
            f"<figcaption>{_e(caption)}</figcaption></figure>")


def closures_section(result_dir: Path, out_dir: Path, *, township_layer: gpd.GeoDataFrame, region: str,
                     scenario: str, dpi: int) -> str:
    """The road closures section of a robust plan's result directory: the map of the critical links
    (result.gpkg layer critical_links, drawn into `out_dir`), the first of them and scenarios.csv as tables.
    Empty for a result without closures."""
    links_path, scenarios_path = result_dir / GEOPACKAGE_FILE, result_dir / SCENARIOS_FILE
    if not scenarios_path.is_file():
        return ""
    scenarios = _read_csv(scenarios_path, ("scenario", "weight", "service", "unserved_before", "unserved_after"))
    if CRITICAL_LINKS_LAYER not in {str(row[0]) for row in pyogrio.list_layers(links_path)}:
        raise DataError(f"{links_path}: layer {CRITICAL_LINKS_LAYER!r} is missing beside {SCENARIOS_FILE}; "
                        "see docs/results.md")
    links = gpd.read_file(links_path, layer=CRITICAL_LINKS_LAYER, engine="pyogrio")
    figure = maps.critical_links_map(links, roads=links, townships=township_layer, region=region, scenario=scenario,
                                     top=CRITICAL_LINKS_TOP)
    caption = f"The {CRITICAL_LINKS_TOP} road lines whose closure strands the most residents (today's sites)"
    body = _figure_html(caption, maps.save_png(figure, out_dir / CRITICAL_LINKS_MAP_FILE, dpi=dpi))
    body += _critical_links_html(links.head(CRITICAL_LINKS_TOP)) + _scenarios_html(scenarios)
    return _section("closures", "Road closures", body)


def _critical_links_html(links: pd.DataFrame) -> str:
    services = [c for c in links.columns if c.startswith("residents_") and c != "residents_most"]
    headers = ("rank", "road line", "class", "length (km)",
               *(service_label(c.removeprefix("residents_")) for c in services))
    rows = [[_number(r["rank"], ""), _Cell(str(r["id"])), _Cell(str(r["road_class"])), _number(r["length_km"], ""),
             *(_number(r[c], "people") for c in services)] for _, r in links.iterrows()]
    return _table("critical-links-table", headers, rows, row_keys=[str(i) for i in links["id"]])


def _scenarios_html(scenarios: pd.DataFrame) -> str:
    plain = "unserved_after_plain" in scenarios.columns
    headers = ("scenario", "weight", "service", "threshold (min)", "unserved today", "unserved with the plan",
               *(("unserved with the plain plan",) if plain else ()))
    figures = ["unserved_before", "unserved_after", *(["unserved_after_plain"] if plain else [])]
    rows = [[_Cell(str(r["scenario"])), _number(r["weight"], "share"), _Cell(service_label(str(r["service"]))),
             _number(r.get("threshold_minutes"), "minutes"), *(_number(r[c], "people") for c in figures)]
            for _, r in scenarios.iterrows()]
    return _table("scenarios-table", headers, rows, row_keys=[f"{r.scenario}/{r.service}" for r in
                                                               scenarios.itertuples(index=False)])


_STYLE = """
body{font-family:system-ui,-apple-system,"Segoe UI","Noto Sans CJK SC","Microsoft YaHei","PingFang SC",sans-serif;
margin:0 auto;max-width:1100px;padding:1.5rem;color:#222;line-height:1.45}
h1{font-size:1.6rem;margin-bottom:.3rem}h2{font-size:1.25rem;border-bottom:1px solid #ccc;padding-bottom:.2rem;
margin-top:2rem}
table{border-collapse:collapse;margin:.5rem 0;font-size:.9rem}
th,td{border:1px solid #ddd;padding:.25rem .6rem;text-align:left}thead th{background:#f2f2f2}
td.num,th.num{text-align:right;font-variant-numeric:tabular-nums}tfoot th{background:#fafafa}
figure{margin:1rem 0}figure img{max-width:100%;height:auto;border:1px solid #eee}
figcaption{font-size:.85rem;color:#555}
.note{background:#fff4e0;border-left:4px solid #f0a030;padding:.4rem .8rem}
footer{margin-top:2rem;font-size:.8rem;color:#777}
"""
