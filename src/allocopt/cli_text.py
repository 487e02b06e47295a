"""What the CLI prints for people, in the chosen language: a plan's headline and tables (with tiered care,
pathways and years when the result has them), today's access, the budget frontier.

Messages come from the `cli.*` catalogue; table headers from `cli.column.<name>` and service, resource and level
names from the shared vocabulary. Machine formats (`--format json|csv`) are not printed here: they keep their
stable English keys.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from allocopt._clitools import echo_table, terminal_text
from allocopt._startup import deferred

if TYPE_CHECKING:
    import pandas as pd

    from allocopt.i18n import Translator
else:  # loaded when a command prints, not for --help
    pd = deferred("pandas")

_TERM_COLUMNS: Mapping[str, str] = {"service": "common.service", "resource": "common.resource",
                                    "level": "common.level", "condition": "common.condition",
                                    "status": "cli.value.status"}
"""Columns whose values are vocabulary names, printed in the planner's words."""

_PLAN_ALLOCATION_COLUMNS = ("site_id", "site_name", "resource", "quantity", "cost_yuan", "newly_covered_people",
                            "gp_shortage_reduced_people")


def shown(table: pd.DataFrame, tr: Translator) -> pd.DataFrame:
    """`table` as people read it: vocabulary values in words, numbers written by their unit (grouped digits,
    percentages), headers from `cli.column.*` (else the name)."""
    words = table.copy()
    for column, family in _TERM_COLUMNS.items():
        if column in words.columns:
            words[column] = words[column].map(lambda v, f=family: tr.term(f, v) if isinstance(v, str) else v)
    for column in words.columns:
        if pd.api.types.is_numeric_dtype(words[column]) and not pd.api.types.is_bool_dtype(words[column]):
            words[column] = words[column].map(lambda v, c=str(column): _number_text(c, v, tr))
        else:
            words[column] = words[column].map(lambda v: "—" if v is None else v)
    return words.rename(columns=lambda c: tr(f"cli.column.{c}") if tr.has(f"cli.column.{c}") else c)


def _number_text(column: str, value: float, tr: Translator) -> str:
    """A number of a printed table, written by the unit its column name carries."""
    if pd.isna(value):
        return "—"
    if "share" in column or column == "gap":
        return tr.share(value, decimals=4 if column == "gap" else 1)
    if column == "year":
        return str(int(value))
    if column == "threshold_minutes":
        return tr.number(value)
    if "minutes" in column or "per_10k" in column or column in ("today", "robust", "plain"):
        return tr.number(value, decimals=1 if "minutes" in column else 2)
    return tr.number(value, decimals=0 if float(value).is_integer() or _WHOLE.search(column) else 2)


_WHOLE = re.compile(r"yuan|people|population|unserved|cases|quantity|visits|weighted_gap|gps")
"""Columns counted in whole units (people, yuan, items): printed without decimals."""


def gap_text(gap: float | None, tr: Translator) -> str:
    """The optimality gap as a percentage, or why it is unknown."""
    return tr("cli.plan.gap_unknown") if gap is None else tr.share(gap, decimals=4)


def echo_plan(summary: Mapping[str, Any], allocations: pd.DataFrame, target: Path, tr: Translator) -> None:
    """The plan's headline (status, cost, GPs), per-service reach, tiered care, pathways, years, the allocations."""
    status = tr.term("cli.value.status", str(summary["status"]))
    proven = "" if summary["status"] == "optimal" else tr("cli.plan.not_proven")
    region = terminal_text(summary.get("region_title") or summary["region"])
    click.echo(tr("cli.plan.heading", region=region, status=status, proven=proven,
                  objective=tr.term("cli.value.objective", str(summary["objective_name"])),
                  gap=gap_text(summary["gap"], tr)))
    budget = summary["budget_yuan"]
    cost = tr.number(summary["cost_yuan"])
    click.echo(tr("cli.plan.cost", cost=cost) if budget is None
               else tr("cli.plan.cost_of_budget", cost=cost, budget=tr.number(budget)))
    gp = summary["gp"]
    click.echo(tr("cli.plan.gp", before=tr.number(gp["per_10k_before"], decimals=2),
                  after=tr.number(gp["per_10k_after"], decimals=2), target=f"{gp['target_per_10k']:g}",
                  added=gp["added"]))
    rows = [{"service": name, "threshold_minutes": figures["threshold_minutes"],
             "unserved_before": figures["unserved_before"], "unserved_after": figures["unserved_after"],
             "covered_share_after": figures["covered_share"]} for name, figures in summary["services"].items()]
    echo_table(shown(pd.DataFrame(rows), tr))
    if summary.get("tiers"):
        click.echo("")
        click.echo(tiers_line(summary["tiers"], tr))
    if summary.get("pathways"):
        click.echo("")
        click.echo(tr("cli.plan.pathways"))
        echo_table(shown(pathways_table(summary["pathways"]), tr))
    if summary.get("years"):
        click.echo("")
        click.echo(tr("cli.plan.years"))
        echo_table(shown(years_table(summary["years"]), tr))
    if len(allocations):
        click.echo("")
        columns = [c for c in _PLAN_ALLOCATION_COLUMNS if c in allocations.columns]
        echo_table(shown(allocations[columns], tr))
    click.echo(tr("cli.plan.written", target=target))


def tiers_line(tiers: Mapping[str, Any], tr: Translator) -> str:
    """Tiered care in one sentence: the grassroots visit share against its target, referral minutes, links."""
    def share(key: str) -> str:
        value = tiers.get(key)
        return "—" if value is None else tr.share(value)

    def minutes(key: str) -> str:
        value = tiers.get(key)
        return "—" if value is None else tr.number(value, decimals=1)

    return tr("cli.plan.tiers", before=share("grassroots_share_before"), after=share("grassroots_share_after"),
              target=share("target_grassroots_share"),
              met=tr("cli.value.met") if tiers.get("meets_target_after") else tr("cli.value.not_met"),
              referral_before=minutes("mean_referral_minutes_before"),
              referral_after=minutes("mean_referral_minutes_after"), links=tiers.get("links_changed", 0))


def pathways_table(pathways: Mapping[str, Any]) -> pd.DataFrame:
    """One row per condition of summary.json `pathways`: yearly cases, those treated in time and the minutes to
    definitive treatment (mean, and 90th percentile after the plan), before and after."""
    keys = ("expected_cases_after", "timely_cases_before", "timely_cases_after", "timely_share_before",
            "timely_share_after", "mean_minutes_before", "mean_minutes_after", "p90_minutes_after")
    rows = [{"condition": condition, **{key: figures.get(key) for key in keys}}
            for condition, figures in (pathways.get("conditions") or {}).items()]
    return pd.DataFrame(rows, columns=["condition", *keys]).round(3)


def years_table(years: Mapping[str, Any]) -> pd.DataFrame:
    """One row per year of summary.json `years`: spending, GPs added, GP density, weighted gap."""
    table = pd.DataFrame(list(years.get("per_year") or []))
    columns = [c for c in ("year", "capital_yuan", "annual_yuan", "gps_added", "gp_per_10k", "weighted_gap")
               if c in table.columns]
    return table[columns].round(2)
