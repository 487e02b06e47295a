"""The opening and the planning sections of the report: summary, 基本情况, 现状与问题, 规划方案, 投资估算.

Each function reads the result (summary.json, the CSV tables and the GeoPackage layers, as `report.ResultData`)
and returns the words and tables of one section in the translator's language; every sentence comes from the
`report` catalogue. The outcome, tiered-care, closures and appendix sections are in `report_outcomes`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import pandas as pd

from allocopt.i18n import Translator
from allocopt.report_blocks import Cell, Numbers, Paragraph, Row, Section, Table, number_or_none

if TYPE_CHECKING:
    from allocopt.report import ResultData

WORST_TOWNSHIPS = 5
"""How many townships the 现状与问题 section lists, worst first."""

PEOPLE_RESOURCES = frozenset({"gp", "village_doctor"})
QUANTITY_KEYS: Mapping[str, str] = {
    "people": "report.quantity.people", "site": "report.quantity.site", "center": "report.quantity.center",
    "vehicle": "report.quantity.vehicle", "equipment": "report.quantity.equipment",
}
"""The phrase for a count of one resource ("全科医生38名"), by the measure word the resource takes."""
MARGINAL_COLUMNS: Mapping[str, str] = {
    "newly_covered_people": "report.column.newly_covered_people",
    "newly_covered_cases_per_year": "report.column.newly_covered_cases",
}
"""What an allocation row buys (allocations.csv, when the result holds it), with its column heading."""


def lead(result: ResultData, tr: Translator) -> tuple[str, ...]:
    """The two sentences at the top: what the plan buys for how much, and what it changes."""
    summary = result.summary
    counts = _resource_counts(result.allocations)
    if not counts:
        bought = tr("report.lead.nothing")
    else:
        bought = tr("report.lead.bought", cost=tr.yuan(summary.get("cost_yuan") or 0.0),
                    capital=tr.yuan(summary.get("capital_yuan") or 0.0),
                    annual=tr.yuan(summary.get("annual_yuan") or 0.0), items=quantities(tr, counts))
    changes = [*_indicator_changes(summary, tr), *_largest_gain(summary, tr)]
    outcome = tr("report.lead.outcome", changes=tr("report.clause_separator").join(changes)) if changes else ""
    return tuple(text for text in (bought, outcome) if text)


def notes(summary: Mapping[str, Any], tr: Translator) -> tuple[Paragraph, ...]:
    """Warnings a reader must see first: a plan not proven optimal, a synthetic region."""
    found = []
    if summary.get("status") != "optimal":
        status = tr.term("report.status", str(summary.get("status")))
        gap = number_or_none(summary.get("gap"))
        found.append(tr("report.note.not_optimal", status=status, gap=tr.share(gap, decimals=2)) if gap is not None
                     else tr("report.note.not_optimal_unknown_gap", status=status))
    if summary.get("region_synthetic"):
        found.append(tr("report.note.synthetic"))
    return tuple(Paragraph(text, note=True) for text in found)


def overview(result: ResultData, tr: Translator, *, region: str) -> Section:
    """基本情况: the region, its people and today's network by level."""
    summary, n = result.summary, Numbers(tr)
    existing = _existing(result.facilities)
    villages = len(result.demand) if result.demand is not None else None
    gp = summary.get("gp") or {}
    text = tr("report.overview.region", region=region, townships=tr.number(len(result.townships)),
              population=tr.people(float(summary.get("population") or result.townships["population"].sum())))
    if villages is not None:
        text += tr("report.overview.villages", villages=tr.number(villages))
    text += tr("report.overview.network", sites=tr.number(len(existing)),
               gps=tr.number(float(pd.to_numeric(existing.get("gps"), errors="coerce").sum())))
    if number_or_none(gp.get("per_10k_before")) is not None:
        text += tr("report.overview.gp_density", per_10k=tr.number(gp["per_10k_before"], decimals=2))
    columns = [c for c in ("gps", "village_doctors", "beds") if c in existing.columns]
    headers = {"gps": tr("report.column.gps"), "village_doctors": tr("report.column.village_doctors"),
               "beds": tr("report.column.beds")}
    rows = []
    for level, group in existing.groupby("level", sort=False):
        rows.append(Row((Cell(tr.term("common.level", str(level))), n.count(len(group)),
                         *(n.count(float(pd.to_numeric(group[c], errors="coerce").sum())) for c in columns)),
                        key=str(level)))
    table = Table("network-table", (tr("report.column.level"), tr("report.column.sites"),
                                    *(headers[c] for c in columns)), tuple(rows),
                  caption=tr("report.overview.network_caption"))
    return Section("overview", tr("report.section.overview"), (Paragraph(text), table))


def gaps(result: ResultData, tr: Translator) -> Section:
    """现状与问题: today's gaps by service, the worst townships, and what money cannot fix."""
    summary, n = result.summary, Numbers(tr)
    blocks: list[Paragraph | Table] = list(_gap_sentences(summary, tr))
    rows = []
    for service, figures in summary["services"].items():
        rows.append(Row((Cell(tr.term("common.service", service)), n.minutes(figures.get("threshold_minutes")),
                         n.share(figures.get("covered_share_before")), n.people(figures["unserved_before"]),
                         n.people(figures.get("uncoverable_population"))), key=service))
    blocks.append(Table("gaps-table", (tr("report.column.service"), tr("report.column.threshold_minutes"),
                                       tr("report.column.covered_share_today"), tr("report.column.unserved_today"),
                                       tr("report.column.uncoverable")), tuple(rows)))
    worst = worst_townships(result.townships)
    if len(worst):
        blocks.append(Paragraph(tr("report.gaps.worst", count=tr.number(len(worst)))))
        blocks.append(_worst_table(worst, tr))
    blocks.append(Paragraph(_unfixable(summary, tr)))
    return Section("gaps", tr("report.section.gaps"), tuple(blocks))


def worst_townships(townships: pd.DataFrame, top: int = WORST_TOWNSHIPS) -> pd.DataFrame:
    """The `top` townships with the largest combined gap today (`gap_share_before`; results without it: the
    lowest primary-care coverage), worst first."""
    if "gap_share_before" in townships.columns:
        return townships.sort_values("gap_share_before", ascending=False, kind="stable").head(top)
    column = "primary_care_covered_share_before"
    return townships.sort_values(column, kind="stable").head(top) if column in townships.columns else townships[:0]


def plan(result: ResultData, tr: Translator) -> tuple[Paragraph | Table, ...]:
    """规划方案: what goes where, by resource and by township, then every site with its costs."""
    allocations, n = result.allocations, Numbers(tr)
    if allocations.empty:
        return (Paragraph(tr("report.plan.nothing")),)
    names = township_names(result.townships)
    text = tr("report.plan.text", townships=tr.number(allocations["township_code"].nunique()),
              sites=tr.number(allocations["site_id"].nunique()), cost=tr.yuan(float(allocations["cost_yuan"].sum())))
    by_resource = [Row((Cell(resource_name(tr, str(line))), n.count(float(group["quantity"].sum())),
                        n.count(group["site_id"].nunique()), n.money(float(group["cost_yuan"].sum()))),
                       key=str(line)) for line, group in allocations.groupby(line_keys(allocations), sort=False)]
    resources = Table("resources-table", (tr("report.column.resource"), tr("report.column.quantity"),
                                          tr("report.column.sites"), money_header(tr, "report.column.cost")),
                      tuple(by_resource), caption=tr("report.plan.by_resource"))
    population = dict(zip(result.townships["code"], result.townships["population"], strict=True))
    by_township = [Row((Cell(names.get(code, code)), n.people(population.get(code)),
                        Cell(placed(group, tr)), n.money(float(group["cost_yuan"].sum()))),
                       key=str(code)) for code, group in allocations.groupby("township_code", sort=False)]
    townships = Table("township-plan-table", (tr("report.column.township"), tr("report.column.population"),
                                              tr("report.column.placed"), money_header(tr, "report.column.cost")),
                      tuple(by_township), caption=tr("report.plan.by_township"))
    return Paragraph(text), resources, townships, _allocations_table(allocations, names, tr)


def costs(summary: Mapping[str, Any], allocations: pd.DataFrame, tr: Translator) -> tuple[Paragraph | Table, ...]:
    """投资估算: the plan's capital and running costs by line, against the budget."""
    n = Numbers(tr)
    total = float(summary.get("cost_yuan") or allocations["cost_yuan"].sum())
    text = tr("report.costs.text", cost=tr.yuan(total), capital=tr.yuan(summary.get("capital_yuan") or 0.0),
              annual=tr.yuan(summary.get("annual_yuan") or 0.0))
    budget = number_or_none(summary.get("budget_yuan"))
    if budget is not None and budget > 0:
        text += tr("report.costs.budget", budget=tr.yuan(budget), used=tr.share(total / budget))
    rows = [Row((Cell(resource_name(tr, str(resource))), n.money(float(group["capital_yuan"].sum())),
                 n.money(float(group["annual_yuan"].sum())), n.money(float(group["cost_yuan"].sum())),
                 n.share(float(group["cost_yuan"].sum()) / total if total > 0 else None)), key=str(resource))
            for resource, group in allocations.groupby(line_keys(allocations), sort=False)]
    footer = (Cell(tr("report.column.total")), n.money(float(allocations["capital_yuan"].sum())),
              n.money(float(allocations["annual_yuan"].sum())), n.money(float(allocations["cost_yuan"].sum())),
              n.share(1.0 if total > 0 else None))
    table = Table("costs-table", (tr("report.column.resource"), money_header(tr, "report.column.capital"),
                                  money_header(tr, "report.column.annual"), money_header(tr, "report.column.cost"),
                                  tr("report.column.cost_share")), tuple(rows), footer=footer)
    return Paragraph(text), table, *_budget_table(summary, tr)


def quantities(tr: Translator, counts: Mapping[str, float]) -> str:
    """Resource counts as a phrase ("全科医生38名、乡村医生4名"), in the order given."""
    phrases = [tr(QUANTITY_KEYS[_measure(resource)], resource=resource_name(tr, resource),
                  count=tr.number(count)) for resource, count in counts.items()]
    return tr("report.list_separator").join(phrases)


def placed(allocations: pd.DataFrame, tr: Translator) -> str:
    """What the rows of an allocation table place, as a phrase ("全科医生6名、彩超1台")."""
    return quantities(tr, _resource_counts(allocations))


def money_header(tr: Translator, key: str) -> str:
    """A money column's heading with the unit its cells use (万元 in Chinese, yuan in English)."""
    return tr("report.column.with_unit", name=tr(key), unit=tr("report.unit.money"))


def township_names(townships: pd.DataFrame) -> dict[str, str]:
    """Township code to name."""
    return dict(zip(townships["code"].astype(str), townships["name"].astype(str), strict=True))


def line_keys(allocations: pd.DataFrame) -> pd.Series:
    """Each row's line in the plan's summaries: its resource, and for opened sites also their level
    (`open_site:village_clinic`), since a new village clinic and a new township health center are different
    things to build."""
    resource = allocations["resource"].astype(str)
    return resource.where(resource != "open_site", resource + ":" + allocations["level"].astype(str))


def resource_name(tr: Translator, line: str) -> str:
    """The words for a line of `line_keys` ("新建乡镇卫生院" for `open_site:township_hc`)."""
    resource, _, level = line.partition(":")
    if resource == "open_site" and level:
        return tr("report.resource.open_site", level=tr.term("common.level", level))
    return tr.term("common.resource", resource)


def _resource_counts(allocations: pd.DataFrame) -> dict[str, float]:
    counts = allocations["quantity"].groupby(line_keys(allocations), sort=False).sum()
    return {str(line): float(quantity) for line, quantity in counts.items()}


def _measure(resource: str) -> str:
    if resource in PEOPLE_RESOURCES:
        return "people"
    if resource.startswith("open_site"):
        return "site"
    if resource.endswith("_center") or "." in resource:  # "<condition>.<tier>": a pathway center tier
        return "center"
    return "vehicle" if resource == "ambulance" else "equipment"


def _indicator_changes(summary: Mapping[str, Any], tr: Translator) -> list[str]:
    indicators = summary.get("indicators") or {}
    changes = []
    for name, show in (("medical_point_15min_share", tr.share),
                       ("gp_per_10k", lambda v: tr.number(v, decimals=2))):
        values = indicators.get(name) or {}
        before, after = number_or_none(values.get("before")), number_or_none(values.get("after"))
        if before is None or after is None or after <= before:
            continue
        national = number_or_none(values.get("national"))
        if national is None:
            changes.append(tr("report.lead.change", indicator=tr.term("common.indicator", name),
                              before=show(before), after=show(after)))
            continue
        key = ("report.lead.change_target" if values.get("national_kind") == "target"
               else "report.lead.change_reference")
        changes.append(tr(key, indicator=tr.term("common.indicator", name), before=show(before), after=show(after),
                          national=show(national)))
    return changes


def _largest_gain(summary: Mapping[str, Any], tr: Translator) -> list[str]:
    """The service whose coverage the plan raises most, in people (primary care is told by the indicator)."""
    gains = {s: float(f["unserved_before"]) - float(f["unserved_after"]) for s, f in summary["services"].items()
             if s != "primary_care" or not summary.get("indicators")}
    if not gains or max(gains.values()) <= 0:
        return []
    service = max(gains, key=lambda s: gains[s])
    minutes = number_or_none(summary["services"][service].get("threshold_minutes"))
    return [tr("report.lead.gain", service=tr.term("common.service", service),
               minutes=tr.number(minutes or 0.0), people=tr.people(gains[service]))]


def _existing(facilities: pd.DataFrame) -> pd.DataFrame:
    return facilities[facilities["kind"] == "existing"] if "kind" in facilities.columns else facilities


def _gap_sentences(summary: Mapping[str, Any], tr: Translator) -> list[Paragraph]:
    sentences = []
    primary = summary["services"].get("primary_care")
    if primary is not None:
        sentences.append(tr("report.gaps.primary", people=tr.people(primary["unserved_before"]),
                            share=tr.share(1.0 - (number_or_none(primary.get("covered_share_before")) or 0.0)),
                            minutes=tr.number(number_or_none(primary.get("threshold_minutes")) or 0.0)))
    gp = summary.get("gp") or {}
    per_10k, target = number_or_none(gp.get("per_10k_before")), number_or_none(gp.get("target_per_10k"))
    if per_10k is not None and target is not None and per_10k < target:
        sentences.append(tr("report.gaps.gp", per_10k=tr.number(per_10k, decimals=2),
                            target=tr.number(target, decimals=2),
                            people=tr.people(number_or_none(gp.get("shortage_people_before")) or 0.0)))
    return [Paragraph("".join(sentences))] if sentences else []


def _worst_table(worst: pd.DataFrame, tr: Translator) -> Table:
    n = Numbers(tr)
    share = ("medical_point_15min_share_before" if "medical_point_15min_share_before" in worst.columns
             else "primary_care_covered_share_before")
    gap = "gap_share_before" in worst.columns
    rows = tuple(Row((Cell(str(r["name"])), n.people(r["population"]),
                      *((n.share(r["gap_share_before"]),) if gap else ()),
                      n.share(r.get(share)), n.ratio(r.get("gp_per_10k_before")),
                      n.people(r.get("gp_shortage_people_before"))), key=str(r["code"])) for _, r in worst.iterrows())
    return Table("worst-townships-table", (tr("report.column.township"), tr("report.column.population"),
                                           *((tr("report.column.gap_share"),) if gap else ()),
                                           tr("common.indicator.medical_point_15min_share"),
                                           tr("common.indicator.gp_per_10k"), tr("report.column.gp_shortage")), rows)


def _unfixable(summary: Mapping[str, Any], tr: Translator) -> str:
    """Who lives beyond every site that may receive the service: no budget reaches them."""
    people = {s: number_or_none(f.get("uncoverable_population")) for s, f in summary["services"].items()}
    points = {s: number_or_none(f.get("uncoverable_demand_points")) for s, f in summary["services"].items()}
    if all(v is None for v in people.values()) and all(v is None for v in points.values()):
        return tr("report.gaps.unfixable_unknown")
    items = []
    for service, figures in summary["services"].items():
        if (people[service] or 0.0) > 0:
            items.append(tr("report.gaps.unfixable_item", service=tr.term("common.service", service),
                            minutes=tr.number(number_or_none(figures.get("threshold_minutes")) or 0.0),
                            people=tr.people(people[service] or 0.0)))
        elif people[service] is None and (points[service] or 0.0) > 0:
            items.append(tr("report.gaps.unfixable_points_item", service=tr.term("common.service", service),
                            villages=tr.number(points[service] or 0.0)))
    if not items:
        return tr("report.gaps.all_fixable")
    return tr("report.gaps.unfixable", items=tr("report.list_separator").join(items))


def _allocations_table(allocations: pd.DataFrame, names: Mapping[str, str], tr: Translator) -> Table:
    """Every row of allocations.csv with its costs and, when the result holds them, what the row buys (the people
    and yearly cases it alone brings within the threshold, given the rest of the plan)."""
    n = Numbers(tr)
    bought = [c for c in MARGINAL_COLUMNS if c in allocations.columns]
    rows = tuple(Row((Cell(str(r["site_name"])), Cell(names.get(str(r["township_code"]), str(r["township_code"]))),
                      Cell(tr.term("common.level", str(r["level"]))),
                      Cell(resource_name(tr, line)), n.count(r["quantity"]),
                      n.money(r["capital_yuan"]), n.money(r["annual_yuan"]), n.money(r["cost_yuan"]),
                      *(n.people(r[c]) if c == "newly_covered_people" else n.cases(r[c]) for c in bought)),
                     key=str(r["site_id"])) for (_, r), line in zip(allocations.iterrows(), line_keys(allocations),
                                                                    strict=True))
    footer = (Cell(tr("report.column.total")), Cell(""), Cell(""), Cell(""), Cell(""),
              *(n.money(float(allocations[c].sum())) for c in ("capital_yuan", "annual_yuan", "cost_yuan")),
              *(Cell("") for _ in bought))
    headers = (tr("report.column.site"), tr("report.column.township"), tr("report.column.level"),
               tr("report.column.resource"), tr("report.column.quantity"), money_header(tr, "report.column.capital"),
               money_header(tr, "report.column.annual"), money_header(tr, "report.column.cost"),
               *(tr(MARGINAL_COLUMNS[c]) for c in bought))
    caption = tr("report.plan.by_site") + (tr("report.plan.marginal_note") if bought else "")
    return Table("allocations-table", headers, rows, footer=footer, caption=caption)


def _budget_table(summary: Mapping[str, Any], tr: Translator) -> Sequence[Table]:
    """Each budget line (total, capital, annual) beside what the plan spends on it."""
    n = Numbers(tr)
    spent = {"total": summary.get("cost_yuan"), "capital": summary.get("capital_yuan"),
             "annual": summary.get("annual_yuan")}
    rows = []
    for name, limit in (summary.get("budget") or {}).items():
        line = str(name).removesuffix("_yuan")
        used, budget = number_or_none(spent.get(line)), number_or_none(limit)
        rows.append(Row((Cell(tr.term("report.budget_line", line)), n.money(budget), n.money(used),
                         n.share(used / budget if used is not None and budget else None)), key=line))
    if not rows:
        return ()
    return (Table("budget-table", (tr("report.column.budget_line"), money_header(tr, "report.column.budget"),
                                   money_header(tr, "report.column.spent"), tr("report.column.budget_used")),
                  tuple(rows)),)
