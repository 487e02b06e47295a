"""The later sections of the report: 预期成效, tiered care, budget sweep, road closures and the solver appendix.

Like `report_sections`, each function returns the words and tables of one section in the translator's language;
every sentence and heading comes from the `report` catalogue. Solver figures (status, gap, bound, versions, input
hashes) appear only in the appendix.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import PurePath
from typing import Any

import pandas as pd

from allocopt.i18n import Translator
from allocopt.report_blocks import Cell, Numbers, Paragraph, Row, Table, number_or_none
from allocopt.report_sections import money_header, placed

SHARE_INDICATORS = frozenset({"medical_point_15min_share"})
"""Indicators that are shares of residents (shown as percentages); the others are ratios."""

TIER_FIGURES: tuple[tuple[str, str], ...] = (
    ("grassroots_share", "share"), ("grassroots_visits", "count"), ("mean_primary_minutes", "minutes"),
    ("referral_visits", "count"), ("mean_referral_minutes", "minutes"), ("stepdown_patients", "count"),
)
"""The tiered-care figures of summary.json `tiers` shown before and after, with how each is shown."""


def indicators(summary: Mapping[str, Any], tr: Translator) -> tuple[Table, ...]:
    """Each indicator before and after the plan beside its national target or reference, and whether it is met."""
    values = summary.get("indicators") or {}
    if not values:
        return ()
    n, rows = Numbers(tr), []
    for name, figures in values.items():
        show = n.share if name in SHARE_INDICATORS else n.ratio
        after, national = number_or_none(figures.get("after")), number_or_none(figures.get("national"))
        met = ("" if after is None or national is None
               else tr("report.indicator.met") if after >= national - 1e-9 else tr("report.indicator.not_met"))
        rows.append(Row((Cell(tr.term("common.indicator", name)), show(figures.get("before")),
                         show(figures.get("after")), show(figures.get("national")),
                         Cell(tr.term("report.national_kind", str(figures.get("national_kind") or ""))),
                         Cell(met), Cell(_source(name, figures, tr))), key=name))
    headers = (tr("report.column.indicator"), tr("report.column.before"), tr("report.column.after"),
               tr("report.column.national"), tr("report.column.national_kind"), tr("report.column.met"),
               tr("report.column.source"))
    return (Table("indicators-table", headers, tuple(rows), caption=tr("report.outcomes.indicators")),)


def services(summary: Mapping[str, Any], tr: Translator) -> tuple[Table, ...]:
    """People beyond each service's threshold before and after the plan, and the yearly emergency cases reached."""
    n = Numbers(tr)
    rows = []
    for service, figures in summary["services"].items():
        before, after = figures["unserved_before"], figures["unserved_after"]
        rows.append(Row((Cell(tr.term("common.service", service)), n.minutes(figures.get("threshold_minutes")),
                         n.people(before), n.people(after), n.people(after - before),
                         n.share(figures.get("covered_share_before")), n.share(figures.get("covered_share"))),
                        key=service))
    headers = (tr("report.column.service"), tr("report.column.threshold_minutes"), tr("report.column.unserved_before"),
               tr("report.column.unserved_after"), tr("report.column.change"), tr("report.column.covered_before"),
               tr("report.column.covered_after"))
    tables = [Table("services-table", headers, tuple(rows), caption=tr("report.outcomes.services"))]
    cases = [Row((Cell(tr.term("common.service", s)), n.count(f["expected_cases_per_year"]),
                  n.count(f.get("expected_cases_covered_before")), n.count(f.get("expected_cases_covered_after"))),
                 key=s) for s, f in summary["services"].items() if "expected_cases_per_year" in f]
    if cases:
        tables.append(Table("cases-table", (tr("report.column.condition"), tr("report.column.cases_per_year"),
                                            tr("report.column.cases_reached_before"),
                                            tr("report.column.cases_reached_after")), tuple(cases),
                            caption=tr("report.outcomes.cases")))
    return tuple(tables)


def tiers(summary: Mapping[str, Any], tr: Translator) -> tuple[Paragraph | Table, ...]:
    """Tiered care (医共体): first contact at the grassroots and referral to the lead hospitals, before and after."""
    figures = summary.get("tiers")
    if not figures:
        return ()
    n = Numbers(tr)
    show = {"share": n.share, "count": n.count, "minutes": n.minutes}
    rows = tuple(Row((Cell(tr.term("report.tier_figure", name)), show[kind](figures.get(f"{name}_before")),
                      show[kind](figures.get(f"{name}_after"))), key=name) for name, kind in TIER_FIGURES)
    target, after = number_or_none(figures.get("target_grassroots_share")), figures.get("grassroots_share_after")
    words = []
    if target is not None:
        key = "report.tiers.meets_target" if figures.get("meets_target_after") else "report.tiers.misses_target"
        words.append(tr(key, target=tr.share(target), after=tr.share(after) if number_or_none(after) is not None
                        else "—"))
    words.append(tr("report.tiers.links", changed=tr.number(figures.get("links_changed") or 0),
                    over=tr.number(figures.get("hospitals_over_capacity_before") or 0)))
    table = Table("tiers-table", (tr("report.column.figure"), tr("report.column.before"), tr("report.column.after")),
                  rows)
    return Paragraph("".join(words)), table


def frontier(table: pd.DataFrame, tr: Translator) -> Table:
    """The budget sweep: people beyond each service's threshold at each budget."""
    n = Numbers(tr)
    columns = [c for c in table.columns if c.endswith("_unserved")]
    rows = tuple(Row((n.money(r["budget_yuan"]), Cell(tr.term("report.status", str(r["status"]))),
                      *(n.people(r[c]) for c in columns)))
                 for _, r in table.sort_values("budget_yuan").iterrows())
    headers = (money_header(tr, "report.column.budget"),
               tr("report.column.status"),
               *(tr("report.column.unserved_service", service=tr.term("common.service", c.removesuffix("_unserved")))
                 for c in columns))
    return Table("frontier-table", headers, rows)


def critical_links(links: pd.DataFrame, tr: Translator) -> Table:
    """The road lines whose closure strands the most residents, with the residents stranded per service."""
    n = Numbers(tr)
    columns = [c for c in links.columns if c.startswith("residents_") and c != "residents_most"]
    rows = tuple(Row((n.count(r["rank"]), Cell(str(r["id"])), Cell(tr.term("report.road_class", str(r["road_class"]))),
                      n.ratio(r["length_km"]), *(n.people(r[c]) for c in columns)), key=str(r["id"]))
                 for _, r in links.iterrows())
    headers = (tr("report.column.rank"), tr("report.column.road"), tr("report.column.road_class"),
               tr("report.column.length_km"),
               *(tr("report.column.stranded", service=tr.term("common.service", c.removeprefix("residents_")))
                 for c in columns))
    return Table("critical-links-table", headers, rows)


def closure_scenarios(scenarios: pd.DataFrame, tr: Translator) -> Table:
    """Each closure scenario: people beyond each service's threshold today, with the plan and the plain plan."""
    n = Numbers(tr)
    plain = "unserved_after_plain" in scenarios.columns
    figures = ["unserved_before", "unserved_after", *(["unserved_after_plain"] if plain else [])]
    rows = tuple(Row((Cell(str(r["scenario"])), n.share(r["weight"]),
                      Cell(tr.term("common.service", str(r["service"]))), n.minutes(r.get("threshold_minutes")),
                      *(n.people(r[c]) for c in figures)),
                     key=f"{r['scenario']}/{r['service']}") for _, r in scenarios.iterrows())
    headers = (tr("report.column.scenario"), tr("report.column.weight"), tr("report.column.service"),
               tr("report.column.threshold_minutes"), tr("report.column.unserved_today"),
               tr("report.column.unserved_after"), *((tr("report.column.unserved_plain"),) if plain else ()))
    return Table("scenarios-table", headers, rows)


def appendix(summary: Mapping[str, Any], tr: Translator) -> tuple[Table, ...]:
    """How the plan was computed: objective, solver status, gap and bound, versions and the inputs' hashes."""
    n = Numbers(tr)
    solver = summary.get("solver") or {}
    scenario = summary.get("scenario") or {}
    source = scenario.get("source")
    name = tr.term("report.objective", str(summary.get("objective_name") or ""))
    rows = [
        ("scenario", n.text(scenario.get("name"))),
        ("scenario_file", n.text(PurePath(str(source)).name if source and source != "defaults"
                                 else tr("report.appendix.defaults"))),
        ("objective", n.text(name)),
        ("status", n.text(tr.term("report.status", str(summary.get("status"))))),
        ("objective_value", n.exact(summary.get("objective"))),
        ("best_bound", n.exact(summary.get("best_bound"))),
        ("gap", n.exact(summary.get("gap"))),
        ("mip_gap", n.exact(solver.get("mip_gap"))),
        ("time_limit", n.seconds(solver.get("time_limit_s"))),
        ("solver", n.text(" ".join(str(solver[k]) for k in ("name", "version") if solver.get(k)) or None)),
        ("solve_seconds", n.seconds(solver.get("seconds"))),
        ("allocopt_version", n.text(summary.get("allocopt_version"))),
    ]
    table = Table("solver-table", (tr("report.column.figure"), tr("report.column.value")),
                  tuple(Row((Cell(tr.term("report.appendix", key)), cell), key=key) for key, cell in rows))
    inputs = summary.get("inputs") or {}
    hashes = {**(inputs.get("region_files") or {})}
    if not hashes:
        return (table,)
    files = Table("inputs-table", (tr("report.column.file"), tr("report.column.sha256")),
                  tuple(Row((Cell(PurePath(str(f)).name), Cell(str(h))), key=str(f)) for f, h in hashes.items()),
                  caption=tr("report.appendix.inputs"))
    return table, files


def _source(name: str, figures: Mapping[str, Any], tr: Translator) -> str:
    """The source of an indicator's national value, from the catalogue (the summary's English text otherwise)."""
    key = f"report.indicator_source.{name}"
    return tr(key) if tr.has(key) else str(figures.get("source") or "")


def pathways(summary: Mapping[str, Any], tr: Translator) -> tuple[Table, ...]:
    """Care pathways (summary.json `pathways`): per condition, before and after the plan, the yearly cases treated
    within their time window and the mean and 90th-percentile minutes to definitive treatment (a row per condition
    and state, keyed `<condition>/<before|after>`, so that the table stays narrow enough to print)."""
    conditions = (summary.get("pathways") or {}).get("conditions") or {}
    if not conditions:
        return ()
    n = Numbers(tr)
    rows = tuple(Row((Cell(tr.term("common.condition", str(name))), Cell(tr(f"report.column.{when}")),
                      n.count(f.get(f"expected_cases_{when}", f.get("expected_cases_after"))),
                      n.count(f.get(f"timely_cases_{when}")), n.share(f.get(f"timely_share_{when}")),
                      n.minutes(_rounded(f.get(f"mean_minutes_{when}"))),
                      n.minutes(_rounded(f.get(f"p90_minutes_{when}")))), key=f"{name}/{when}")
                 for name, f in conditions.items() for when in ("before", "after"))
    headers = (tr("report.column.condition"), tr("report.column.plan_state"), tr("report.column.cases_per_year"),
               tr("report.column.timely_cases"), tr("report.column.timely_share"),
               tr("report.column.treatment_minutes"), tr("report.column.p90_minutes"))
    return (Table("pathways-table", headers, rows),)


def years(table: pd.DataFrame, schedule: pd.DataFrame | None, tr: Translator) -> tuple[Paragraph | Table, ...]:
    """The multi-year plan (years.csv, schedule.csv): what comes in which year, its spending, and the GP density
    and 15-minute circle reached by the end of each year."""
    n = Numbers(tr)
    by_year = ({int(year): group for year, group in schedule.groupby("year")} if schedule is not None else {})
    share = next((c for c in ("indicator_medical_point_15min_share", "covered_share_primary_care")
                  if c in table.columns), None)
    rows = []
    for _, r in table.sort_values("year").iterrows():
        year = int(r["year"])
        items = by_year.get(year)
        what = "" if items is None or items.empty else placed(items, tr)
        rows.append(Row((Cell(tr("report.years.year", year=str(year))), n.people(r.get("population")), Cell(what),
                         n.money(r.get("capital_yuan")), n.money(r.get("annual_yuan")), n.ratio(r.get("gp_per_10k")),
                         n.share(r.get(share) if share else None)), key=str(year)))
    headers = (tr("report.column.year"), tr("report.column.population"), tr("report.column.placed"),
               money_header(tr, "report.column.capital"), money_header(tr, "report.column.annual"),
               tr("common.indicator.gp_per_10k"), tr("common.indicator.medical_point_15min_share"))
    return Paragraph(tr("report.years.text", count=tr.number(len(rows)))), Table("years-table", headers, tuple(rows))


def _rounded(value: object) -> float | None:
    """Minutes to one decimal (means of many cases: more digits only suggest precision)."""
    number = number_or_none(value)
    return None if number is None else round(number, 1)
