"""plan.xlsx: the plan as a bureau prints it, in the planner's language.

Sheets, in order: a summary that opens like the report (what the plan buys for how much, each indicator before and
after beside its national target, each service's reach, the investment by item, tiered care when present), the
townships (a few named columns per township; the full table stays in townships.csv), what each item goes where
and what it buys (allocations.csv with its marginal contributions), then whichever further tables the result
holds (closure scenarios, referrals, pathways, schedule, years, the budget frontier), and a technical appendix
(solver status, gap, versions). Headers are words with units from the `workbook.*` catalogue; every number is a
numeric cell with a number format (`allocopt.xlsx`).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from allocopt.export import CSV_ENCODING, from_spreadsheet_cell
from allocopt.i18n import Translator
from allocopt.xlsx import DECIMAL_NUMBER, Sheet, Table, Text, write_sheets

if TYPE_CHECKING:
    from allocopt.report import ResultData

OPTIONAL_TABLES = ("scenarios", "referrals", "referral_hospitals", "pathways", "schedule", "years")
"""CSV files of a result directory shown, when present, each as a sheet of its own (in this order)."""

_TERM_COLUMNS: Mapping[str, str] = {"service": "common.service", "resource": "common.resource",
                                    "level": "common.level"}
"""Columns whose values are vocabulary names, shown in the planner's words."""

_INDICATOR_FORMATS: Mapping[str, str] = {"medical_point_15min_share": "0.0%"}
_RATIO_FORMAT = "0.00"
_TIER_FIGURES = (("grassroots_share", "0.0%"), ("grassroots_visits", "#,##0"), ("mean_primary_minutes", "0.0"),
                 ("referral_visits", "#,##0"), ("mean_referral_minutes", "0.0"), ("stepdown_patients", "#,##0"))
"""Tiered-care figures of summary.json `tiers` (each with `_before` and `_after`) and their number formats."""


def write_workbook(result: ResultData, path: str | Path, *, tr: Translator,
                   result_dir: str | Path | None = None) -> Path:
    """Write plan.xlsx for `result` (as `report.read_result_dir` read it) in `tr`'s language, replacing `path`
    only when complete. The optional tables (OPTIONAL_TABLES) are read from `result_dir` (default:
    `result.directory`)."""
    source = Path(result_dir) if result_dir is not None else result.directory
    names = township_names(result.townships)
    tables = optional_tables(source)
    if "referrals" not in tables and result.referrals is not None:  # a result with the layer alone
        tables = {**tables, "referrals": pd.DataFrame(result.referrals.drop(columns=result.referrals.geometry.name))}
        tables = {name: tables[name] for name in OPTIONAL_TABLES if name in tables}
    sheets = [
        summary_sheet(result.summary, result.allocations, tr),
        townships_sheet(result.townships, result.allocations, tr),
        allocations_sheet(result.allocations, names, tr),
        *(Sheet(tr(f"workbook.sheet.{name}"), [data_table(table, tr)])
          for name, table in tables.items()),
        *([Sheet(tr("workbook.sheet.frontier"), [data_table(result.frontier, tr)])]
          if result.frontier is not None else []),
        appendix_sheet(result.summary, tr),
    ]
    return write_sheets(sheets, path)


def township_names(townships: pd.DataFrame) -> dict[str, str]:
    """Township code -> name."""
    return {str(c): str(n) for c, n in zip(townships["code"], townships["name"], strict=True)}


def summary_sheet(summary: Mapping[str, Any], allocations: pd.DataFrame, tr: Translator) -> Sheet:
    """The opening: title, what the plan buys for how much, indicators, services, investment, tiered care."""
    parts: list[Text | Table] = [
        Text(tr("workbook.summary.title", region=summary.get("region_title") or summary.get("region", ""),
                scenario=(summary.get("scenario") or {}).get("name", "")), size=14),
        *(Text(sentence) for sentence in opening(summary, tr)),
    ]
    if summary.get("indicators"):
        parts += [Text(tr("workbook.summary.indicators"), bold=True), indicators_table(summary, tr)]
    parts += [Text(tr("workbook.summary.services"), bold=True), services_table(summary, tr)]
    if len(allocations):
        parts += [Text(tr("workbook.summary.investment"), bold=True), investment_table(allocations, tr)]
    if summary.get("tiers"):
        parts += [Text(tr("workbook.summary.tiers"), bold=True), *tiers_part(summary["tiers"], tr)]
    return Sheet(tr("workbook.sheet.summary"), parts)


def opening(summary: Mapping[str, Any], tr: Translator) -> list[str]:
    """The opening: what the plan costs, what it buys for primary care and GPs, and who stays beyond reach (and
    how many of them no eligible site can bring within the limit: what money cannot fix)."""
    cost = tr("workbook.summary.cost", cost=tr.yuan(summary.get("cost_yuan") or 0.0),
              capital=tr.yuan(summary.get("capital_yuan") or 0.0), annual=tr.yuan(summary.get("annual_yuan") or 0.0))
    budget = summary.get("budget_yuan")
    sentences = [cost + (tr("workbook.summary.budget", budget=tr.yuan(budget)) if budget is not None else "")]
    primary = (summary.get("services") or {}).get("primary_care")
    gp = summary.get("gp") or {}
    buys = []
    if primary is not None:
        before = primary.get("covered_population_before") or 0.0
        after = primary.get("covered_population") or 0.0
        buys.append(tr("workbook.summary.primary_care", minutes=tr.number(primary.get("threshold_minutes") or 0),
                       before=tr.people(before), after=tr.people(after), added=tr.people(after - before)))
    if gp.get("per_10k_after") is not None:
        buys.append(tr("workbook.summary.gp", before=tr.number(gp.get("per_10k_before") or 0.0, decimals=2),
                       after=tr.number(gp["per_10k_after"], decimals=2),
                       target=tr.number(gp.get("target_per_10k") or 0.0, decimals=2),
                       added=tr.number(gp.get("added") or 0)))
    if buys:
        sentences.append(tr("workbook.summary.buys", figures=tr("workbook.summary.separator").join(buys)))
    if primary is not None and primary.get("unserved_after"):
        minutes = tr.number(primary.get("threshold_minutes") or 0)
        uncoverable = primary.get("uncoverable_population") or 0
        sentences.append(tr("workbook.summary.beyond", people=tr.people(primary["unserved_after"]), minutes=minutes)
                         + (tr("workbook.summary.uncoverable", people=tr.people(uncoverable), minutes=minutes)
                            if uncoverable else ""))
    return sentences


def indicators_table(summary: Mapping[str, Any], tr: Translator) -> Table:
    """Each indicator before and after beside its national target (or reference), and whether the plan meets it."""
    rows, formats = [], []
    for name, values in summary["indicators"].items():
        kind = values.get("national_kind")
        after, national = values.get("after"), values.get("national")
        met = None
        if kind == "target" and after is not None and national is not None:
            met = tr("workbook.value.yes") if after >= national - 1e-9 else tr("workbook.value.no")
        rows.append({"indicator": tr.term("common.indicator", name), "before": values.get("before"), "after": after,
                     "national": national, "national_kind": tr.term("workbook.value", str(kind)), "met": met})
        formats.append(_INDICATOR_FORMATS.get(name, _RATIO_FORMAT))
    return Table(pd.DataFrame(rows), headers=_headers(tr, "indicator", "before", "after", "national", "national_kind",
                                                      "met"), row_formats=formats)


def services_table(summary: Mapping[str, Any], tr: Translator) -> Table:
    """Each service: threshold, residents within it before and after, shares, residents still beyond it."""
    rows = []
    for service, figures in (summary.get("services") or {}).items():
        rows.append({"service": tr.term("common.service", service),
                     "threshold_minutes": figures.get("threshold_minutes"),
                     "covered_population_before": figures.get("covered_population_before"),
                     "covered_population_after": figures.get("covered_population"),
                     "covered_share_before": figures.get("covered_share_before"),
                     "covered_share_after": figures.get("covered_share"),
                     "unserved_after": figures.get("unserved_after"),
                     "expected_cases_covered_after": figures.get("expected_cases_covered_after"),
                     "expected_cases_per_year": figures.get("expected_cases_per_year")})
    frame = pd.DataFrame(rows).astype({c: float for c in rows[0] if c != "service"}) if rows else pd.DataFrame()
    return Table(frame, headers=_headers(tr, *frame.columns), formats={"threshold_minutes": "0"})


def investment_table(allocations: pd.DataFrame, tr: Translator) -> Table:
    """Quantity and cost by item, with a total line."""
    by_item = allocations.groupby("resource", sort=False)[["quantity", "capital_yuan", "annual_yuan", "cost_yuan"]]
    table = by_item.sum().reset_index()
    total = pd.DataFrame([{"resource": tr("workbook.value.total"), "quantity": np.nan,
                           **table[["capital_yuan", "annual_yuan", "cost_yuan"]].sum().to_dict()}])
    table["resource"] = table["resource"].map(lambda r: tr.term("common.resource", str(r)))
    frame = pd.concat([table, total], ignore_index=True)
    return Table(frame, headers=_headers(tr, *frame.columns), formats={"quantity": "#,##0"})


def tiers_part(tiers: Mapping[str, Any], tr: Translator) -> list[Text | Table]:
    """Tiered care before and after: grassroots visit share against its target, first-contact and referral."""
    rows = [{"figure": tr(f"workbook.tiers.{name}"), "before": tiers.get(f"{name}_before"),
             "after": tiers.get(f"{name}_after")} for name, _ in _TIER_FIGURES]
    target = tiers.get("target_grassroots_share")
    parts: list[Text | Table] = []
    if target is not None:
        meets = tr("workbook.value.yes") if tiers.get("meets_target_after") else tr("workbook.value.no")
        parts.append(Text(tr("workbook.tiers.target", target=tr.share(target), meets=meets)))
    table = Table(pd.DataFrame(rows).astype({"before": float, "after": float}),
                  headers=_headers(tr, "figure", "before", "after"), row_formats=[fmt for _, fmt in _TIER_FIGURES])
    return [*parts, table]


_TOWNSHIP_COLUMNS = ("name", "code", "population", "primary_care_covered_share_before",
                     "primary_care_covered_share_after", "primary_care_minutes_after", "gp_before", "gp_after",
                     "gp_per_10k_after", "gp_shortage_people_after")


def townships_sheet(townships: pd.DataFrame, allocations: pd.DataFrame, tr: Translator) -> Sheet:
    """One printable row per township: people, primary care, GPs, and what the plan places there at what cost."""
    table = townships[[c for c in _TOWNSHIP_COLUMNS if c in townships.columns]].copy()
    codes = allocations["township_code"].astype(str)
    placed = allocations.groupby([codes, "resource"], sort=False)["quantity"].sum().reset_index()
    placed["item"] = [tr("workbook.item", resource=tr.term("common.resource", str(r)), quantity=q)
                      for r, q in zip(placed["resource"], placed["quantity"], strict=True)]
    listed = placed.groupby("township_code", sort=False)["item"].agg(tr("workbook.item_separator").join)
    table["plan_items"] = table["code"].astype(str).map(listed).fillna("")
    table["plan_cost_yuan"] = table["code"].astype(str).map(
        allocations.groupby(codes)["cost_yuan"].sum()).fillna(0.0)
    return Sheet(tr("workbook.sheet.townships"), [Table(table, headers=_headers(tr, *table.columns),
                                                        formats={"gp_before": "#,##0", "gp_after": "#,##0"})])


def allocations_sheet(allocations: pd.DataFrame, names: Mapping[str, str], tr: Translator) -> Sheet:
    """What goes where, what it costs and what it buys (its marginal contribution, when the result has it);
    the township by name (its code stays in allocations.csv)."""
    table = allocations.assign(township_name=allocations["township_code"].astype(str).map(names).fillna(""))
    first = ["site_name", "site_id", "township_name", "level"]
    table = table[[*first, *(c for c in table.columns if c not in (*first, "township_code"))]]
    return Sheet(tr("workbook.sheet.allocations"), [data_table(table, tr)])


def appendix_sheet(summary: Mapping[str, Any], tr: Translator) -> Sheet:
    """Solver details, kept out of the opening: status, gap, bound, solver, time, versions."""
    solver = summary.get("solver") or {}
    gap = summary.get("gap")
    rows: list[tuple[str, Any, str]] = [
        ("objective_name", tr.term("workbook.value.objective", str(summary.get("objective_name"))), "@"),
        ("status", tr.term("workbook.value.status", str(summary.get("status"))), "@"),
        ("gap", tr("workbook.value.unknown") if gap is None else gap, "0.0000%"),
        ("objective", summary.get("objective"), DECIMAL_NUMBER),
        ("best_bound", summary.get("best_bound"), DECIMAL_NUMBER),
        ("solver", " ".join(str(solver[k]) for k in ("name", "version") if solver.get(k)), "@"),
        ("seconds", solver.get("seconds"), "0.00"),
        ("allocopt_version", str(summary.get("allocopt_version", "")), "@"),
    ]
    frame = pd.DataFrame([(tr(f"workbook.appendix.{key}"), value) for key, value, _ in rows],
                         columns=["figure", "value"])
    return Sheet(tr("workbook.sheet.appendix"), [Table(frame, headers=_headers(tr, "figure", "value"),
                                                       row_formats=[fmt for _, _, fmt in rows])])


def data_table(table: pd.DataFrame, tr: Translator) -> Table:
    """A result table with headers in words (where the catalogue has them) and vocabulary values translated."""
    shown = table.copy()
    for column, family in _TERM_COLUMNS.items():
        if column in shown.columns:
            shown[column] = shown[column].map(lambda v, f=family: tr.term(f, str(v)) if isinstance(v, str) else v)
    for column in shown.columns:
        if pd.api.types.is_bool_dtype(shown[column]):
            shown[column] = shown[column].map(lambda v: tr("workbook.value.yes") if v else tr("workbook.value.no"))
    return Table(shown, headers=_headers(tr, *shown.columns))


def optional_tables(directory: Path) -> dict[str, pd.DataFrame]:
    """The OPTIONAL_TABLES present in `directory`, read with identifiers and names kept as text."""
    tables = {}
    for name in OPTIONAL_TABLES:
        path = directory / f"{name}.csv"
        if path.is_file():
            tables[name] = _read_table(path)
    return tables


def _read_table(path: Path) -> pd.DataFrame:
    """A result CSV: every column that is not wholly numeric stays text, as written (codes keep leading zeros)."""
    raw = pd.read_csv(path, encoding=CSV_ENCODING, dtype=str, keep_default_na=False)
    table = pd.DataFrame(index=raw.index)
    for column in raw.columns:
        text = raw[column].map(from_spreadsheet_cell)
        filled = text[text != ""]
        numbers = pd.to_numeric(text.where(text != ""), errors="coerce")
        keeps_text = numbers[filled.index].isna().any() or filled.str.match(r"0\d").any()
        is_flag = filled.isin(["True", "False"]).all() and len(filled) > 0
        table[column] = filled.reindex(text.index).eq("True") if is_flag else (text if keeps_text else numbers)
    return table


def _headers(tr: Translator, *columns: str) -> dict[str, str]:
    """Column -> its header in words (`workbook.column.<name>`; for `covered_share_<service>`,
    `expected_cases_<service>` and `indicator_<name>` the service's or indicator's words), the name itself where
    the catalogue has none."""
    return {c: _header(tr, c) for c in map(str, columns)}


def _header(tr: Translator, column: str) -> str:
    if tr.has(f"workbook.column.{column}"):
        return tr(f"workbook.column.{column}")
    for prefix, key in (("covered_share_", "workbook.column.covered_share_of"),
                        ("expected_cases_", "workbook.column.expected_cases_of")):
        service = column.removeprefix(prefix)
        if service != column and tr.has(f"common.service.{service}"):
            return tr(key, service=tr.term("common.service", service))
    indicator = column.removeprefix("indicator_")
    if indicator != column and tr.has(f"common.indicator.{indicator}"):
        return tr(f"common.indicator.{indicator}")
    return column
