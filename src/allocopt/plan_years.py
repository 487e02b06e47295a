"""Five-year plans: each year's problem, the multi-year solve, and the schedule and yearly figures recomputed from it.

`optimize_years` builds one problem per year (residents and expected cases of that year, `demand_years`; the
year's targets: hard milestones, and the scenario's own hard targets in the last year), solves the multi-year
MILP (`model.years`) and reads one Result per year, each the state after that year's additions measured against
today (so every figure of `optimize` exists per year). The schedule is the difference of consecutive years'
allocations; each year's spending is recomputed from it and checked against the yearly budget lines and the GP
pipeline (SolverError if the solver's plan breaks one).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from allocopt.demand_years import BaseDemand, yearly_demand
from allocopt.errors import InfeasibleError, ScenarioError, SolverError
from allocopt.model.objectives import solve_model
from allocopt.model.problem import Problem
from allocopt.model.years import build_years_model
from allocopt.model.years_explain import check_years_attainable, explain_years
from allocopt.results import Result, build_result
from allocopt.scenario import Budget, Scenario
from allocopt.solve import DEFAULT_SOLVER
from allocopt.years_settings import YearsSettings

SCHEDULE_COLUMNS = ("year", "site_id", "site_name", "level", "township_code", "resource", "quantity", "capital_yuan",
                    "annual_yuan")
_TOLERANCE = 1e-6


@dataclass(frozen=True, eq=False)
class YearsPlan:
    """A multi-year plan: `results[y]` the state after year y's additions (against today), `schedule`
    (SCHEDULE_COLUMNS: what is added in which year, its capital and its yearly running cost; negative quantities
    are retirements), `table` (years.csv: the summary figures per year), the yearly budget `limits` and GP
    `supply_gps`, where the residents of each year come from (`demand_source`), and `objective`: the discounted
    sum of the yearly weighted gaps, recomputed from the plan (the solver's first stage adds the people short of
    soft coverage milestones)."""

    years: tuple[int, ...]
    settings: YearsSettings
    results: Mapping[int, Result]
    schedule: pd.DataFrame
    table: pd.DataFrame
    limits: Mapping[str, tuple[float, ...]]
    supply_gps: Mapping[int, float]
    demand_source: str
    objective: float

    @property
    def final(self) -> Result:
        """The state at the end of the plan (what allocations.csv and townships.csv describe)."""
        return self.results[self.years[-1]]

    def to_summary(self) -> dict[str, Any]:
        """summary.json `years`: the horizon, its settings in force, and each year's figures."""
        table = self.table.replace({np.nan: None})
        return {"first": self.years[0], "last": self.years[-1], "demand_source": self.demand_source,
                "objective": self.objective,
                "budget": {f"{line}_yuan": list(limits) for line, limits in self.limits.items()},
                "carry_over": self.settings.carry_over, "discount_rate": self.settings.discount_rate,
                "retire": self.settings.retire, "per_year": table.to_dict(orient="records")}


def plan_years(scenario: Scenario, option: tuple[int, int] | None) -> tuple[YearsSettings, tuple[int, ...]]:
    """The settings and years of a multi-year run: `--years` (when given) over the scenario's `[years]`."""
    settings = scenario.years if scenario.years is not None else YearsSettings()
    if option is not None:
        settings = replace(settings, first=option[0], last=option[1])
    years = settings.horizon()
    for milestone in settings.milestones:
        if milestone.year not in years:
            raise ScenarioError(f"{scenario.source}: key 'years.milestones.{milestone.year}' lies outside the plan's "
                                f"years {years[0]}-{years[-1]}; move it or widen the range")
    if scenario.tiers is not None:
        raise ScenarioError(f"{scenario.source}: [tiers] and [years] together are not supported yet (referral loads "
                            "change with each year's residents); drop one of them")
    return settings, years


def year_problems(problem: Problem, population_65plus: np.ndarray | None, settings: YearsSettings,
                  years: tuple[int, ...], *, bundle: Path | None) -> tuple[dict[int, Problem], str]:
    """One problem per year: its residents (`demand_years`) and its targets. A year's hard targets are its hard
    milestones, and in the last year also the scenario's own; a milestone's GP density (hard or soft) replaces
    `targets.gp_per_10k` that year. Budgets are left to the yearly rows."""
    share = problem.scenario.cases.share_65plus_when_unknown
    older = (np.full(len(problem.demand_ids), np.nan) if population_65plus is None
             else np.asarray(population_65plus, dtype=float))
    older = np.where(np.isnan(older), share * problem.demand_population, older)
    base = BaseDemand(problem.township_ids, problem.demand_township, problem.demand_population, older)
    demand, source = yearly_demand(base, years, settings.demand, bundle=bundle)
    milestones = {m.year: m for m in settings.milestones}
    scenario = problem.scenario
    problems = {}
    for y in years:
        last = y == years[-1]
        shares = dict(scenario.min_covered_share) if last else {}
        target, hard = scenario.gp_target_per_10k, scenario.gp_target_hard and last
        milestone = milestones.get(y)
        if milestone is not None:
            if milestone.hard:
                shares.update(milestone.min_covered_share)
            if milestone.gp_per_10k is not None:
                target, hard = milestone.gp_per_10k, milestone.hard
        year_scenario = replace(scenario, budget=Budget(), min_covered_share=shares, gp_target_per_10k=target,
                                gp_target_hard=hard, years=None)
        problems[y] = replace(problem.with_population(demand[y].population, demand[y].population_65plus),
                              scenario=year_scenario)
    return problems, source


def optimize_years(problem: Problem, settings: YearsSettings, years: tuple[int, ...], *,
                   population_65plus: np.ndarray | None = None, bundle: Path | None = None, objective: str = "gap",
                   solver: str = DEFAULT_SOLVER, time_limit_s: float | None = None, mip_gap: float | None = None,
                   on_step: Callable[[str], None] | None = None) -> YearsPlan:
    """The best multi-year plan (see the module docstring). Raises InfeasibleError explaining which milestone or
    target no plan meets in time, SolverError when the solve gives no plan."""
    step = on_step or (lambda _: None)
    problems, source = year_problems(problem, population_65plus, settings, years, bundle=bundle)
    check_years_attainable(problems, settings)
    step(f"Building the {objective} model over {years[0]}-{years[-1]}")
    limits = settings.yearly_limits(years, vars(problem.scenario.budget))
    ym = build_years_model(problems, settings, limits, objective=objective)
    for model in ym.models.values():
        for var in model.stocks.values():
            var.setInitialValue(0)
    step(f"Solving with {solver} ({ym.lp.numVariables():,} variables, {ym.lp.numConstraints():,} constraints)")
    outcomes = solve_model(ym, solver=solver, time_limit_s=time_limit_s, mip_gap=mip_gap, warm_start=True)
    if outcomes[-1].status == "infeasible":
        step("Explaining why no plan fits")
        raise InfeasibleError(explain_years(problems, settings, limits, solver=solver, time_limit_s=time_limit_s,
                                            mip_gap=mip_gap))
    if not outcomes[-1].has_plan:
        raise SolverError(f"solver {solver!r} found no multi-year plan (status {outcomes[-1].status!r}); raise the "
                          "time limit or relax the milestones")
    step("Recomputing each year from the plan")
    results = {y: build_result(ym.models[y], outcomes, time_limit_s=time_limit_s, mip_gap=mip_gap) for y in years}
    schedule = schedule_table(results, years)
    limits = limits if objective != "cost" else {}
    table = years_table(results, schedule, problems, limits, ym.supply_gps)
    check_schedule(table, limits, settings, ym.supply_gps)
    discount = {y: ym.discount(y) for y in years}
    return YearsPlan(years=years, settings=settings, results=results, schedule=schedule, table=table,
                     limits=limits, supply_gps=dict(ym.supply_gps), demand_source=source,
                     objective=float(sum(discount[y] * results[y].objective for y in years)))


def schedule_table(results: Mapping[int, Result], years: tuple[int, ...]) -> pd.DataFrame:
    """What each year adds (or retires): consecutive years' allocations differenced per site and resource."""
    keys = ["site_id", "site_name", "level", "township_code", "resource"]
    rows = []
    previous = pd.DataFrame(columns=[*keys, "quantity", "capital_yuan", "annual_yuan"])
    for y in years:
        current = results[y].allocations[[*keys, "quantity", "capital_yuan", "annual_yuan"]]
        merged = current.merge(previous, on=keys, how="outer", suffixes=("", "_before")).fillna(
            {"quantity": 0, "quantity_before": 0, "capital_yuan": 0.0, "capital_yuan_before": 0.0,
             "annual_yuan": 0.0, "annual_yuan_before": 0.0})
        change = merged["quantity"] - merged["quantity_before"]
        merged = merged[change != 0].assign(quantity=change[change != 0])
        merged["capital_yuan"] = np.where(merged["quantity"] > 0,
                                          merged["capital_yuan"] - merged["capital_yuan_before"], 0.0)
        merged["annual_yuan"] = merged["annual_yuan"] - merged["annual_yuan_before"]
        rows.append(merged.assign(year=y)[list(SCHEDULE_COLUMNS)])
        previous = current
    table = pd.concat(rows, ignore_index=True) if rows else pd.DataFrame(columns=list(SCHEDULE_COLUMNS))
    return table.astype({"year": np.int64, "quantity": np.int64, "capital_yuan": float, "annual_yuan": float})


def years_table(results: Mapping[int, Result], schedule: pd.DataFrame, problems: Mapping[int, Problem],
                limits: Mapping[str, tuple[float, ...]], supply: Mapping[int, float]) -> pd.DataFrame:
    """years.csv: per year its residents, spending against each budget line, GPs added against the pipeline, and
    the summary's figures (gap, GP density, covered shares, indicators) after that year's additions."""
    rows = []
    for index, (y, result) in enumerate(results.items()):
        summary = result.to_summary()
        added = schedule[schedule["year"] == y]
        p = problems[y]
        row: dict[str, Any] = {
            "year": y, "population": p.total_population,
            "capital_yuan": float(added["capital_yuan"].sum()), "annual_yuan": result.annual_yuan,
            **{f"budget_{line}_yuan": values[index] for line, values in limits.items()},
            "gps_added": int(added.loc[added["resource"] == "gp", "quantity"].sum()),
            "gps_supply": supply.get(y),
            "gp_per_10k": summary["gp"]["per_10k_after"],
            "weighted_gap": result.weighted_gap_after,
            **{f"expected_cases_{s}": float(cases.sum()) for s, cases in p.demand_cases.items()},
            **{f"covered_share_{v}": figures["covered_share"] for v, figures in summary["services"].items()},
            **{f"indicator_{name}": figures["after"] for name, figures in summary["indicators"].items()},
        }
        rows.append(row)
    return pd.DataFrame(rows)


def check_schedule(table: pd.DataFrame, limits: Mapping[str, tuple[float, ...]], settings: YearsSettings,
                   supply: Mapping[int, float]) -> None:
    """Raise SolverError when the recomputed yearly spending breaks a budget line or GPs added exceed the pipeline."""
    problems = []
    spent = {"capital": table["capital_yuan"].to_numpy(), "annual": table["annual_yuan"].to_numpy()}
    spent["total"] = spent["capital"] + spent["annual"]
    for line, values in limits.items():
        allowed = np.asarray(values)
        used = spent[line]
        if settings.carry_over and line != "annual":
            used, allowed = np.cumsum(used), np.cumsum(allowed)
        over = np.flatnonzero(used > allowed * (1 + _TOLERANCE) + 1.0)
        problems += [f"{line} spending {used[i]:,.0f} yuan by {table['year'].iloc[i]} against {allowed[i]:,.0f}"
                     for i in over]
    for y, limit in supply.items():
        added = int(table.loc[table["year"] == y, "gps_added"].iloc[0])
        if added > limit + _TOLERANCE:
            problems.append(f"{added} GPs added in {y}, the pipeline supplies {limit:.1f}")
    if problems:
        raise SolverError("the solver's multi-year plan breaks its limits (report this as a bug): "
                          + "; ".join(problems))
