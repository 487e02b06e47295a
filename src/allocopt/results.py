"""Results of an allocation run keyed by IDs: the plan, its cost, and access before and after it.

Every "after" figure is recomputed from the plan (the integer decisions) and the travel minutes, with the
same definitions as `allocopt.access`, never read back from the model's coverage variables; `build_result`
then checks that the model claimed nothing the plan does not deliver (coverage, GP staffing, travel time,
budget, hard targets) and raises SolverError if it did. Under the `gap`, `travel` and `cost` objectives the
recomputed objective equals the solver's at an optimum (the tests check this).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import pulp

from allocopt.access import ratio_array
from allocopt.ems_results import EmsResult, ems_result_from_model
from allocopt.errors import SolverError
from allocopt.indicators import INDICATORS, NATIONAL_TARGETS, region_indicators, township_indicators
from allocopt.marginal import with_contributions
from allocopt.model.allocation import AllocationModel
from allocopt.model.problem import PER_10K, Problem
from allocopt.n_minus_1 import NMinus1Result, n_minus_1_result
from allocopt.pathway_results import PathwayResult, pathway_result
from allocopt.plan import Plan, gp_shortage_people, provision
from allocopt.scenario import Budget
from allocopt.services import (
    CENTERS,
    EQUIPMENT,
    GP_SHORTAGE,
    PRIMARY_CARE,
    center_column,
)
from allocopt.solve import SolveOutcome, plan_gap, plan_status
from allocopt.tier_results import TierResult, tier_result

_RELATIVE_TOLERANCE = 1e-5
"""Slack allowed between the model's figures and the recomputed ones, relative to their scale."""

ALLOCATION_COLUMNS = ("site_id", "site_name", "level", "township_code", "resource", "quantity", "capital_yuan",
                      "annual_yuan", "cost_yuan")


@dataclass(frozen=True)
class Access:
    """Recomputed access of one state (before or after a plan): per demand point, per township, per service."""

    nearest_minutes: Mapping[str, np.ndarray]
    covered: Mapping[str, np.ndarray]
    unserved: Mapping[str, float]
    unserved_weighted: Mapping[str, float]
    township_gps: np.ndarray
    township_shortage: np.ndarray
    township_gap_share: np.ndarray
    travel_minutes: float


@dataclass(frozen=True, eq=False)
class Result:
    """The outcome of one optimization, keyed by IDs.

    `objective` is the plan's value of the primary objective, recomputed from the plan (equity: the largest
    township gap share); `best_bound` is the solver's for that objective, `gap` the largest relative gap of
    any stage (the least-proven one, `solve.plan_gap`) and `status` follows that stage (`solve.plan_status`).
    `stage_objectives` and `stage_gaps` are the solver's values and gaps, one per stage. Tables: `allocations`
    (ALLOCATION_COLUMNS, one row per resource placed),
    `sites` (every site: `id, name, kind, level, township_code, opened, added_gps, added_<equipment>,
    new_<center>_center, cost_yuan`),
    `demand` (per original demand point: `<service>_covered_before/after`, `<service>_minutes_before/after`),
    `townships` (`<service>_covered_share_*`, `<service>_minutes_*`, `gp_*`, `gp_per_10k_*`,
    `gp_shortage_people_*`, `gap_share_*`). `uncoverable[service]` lists demand points no plan can cover;
    `travel_unreachable` those the `travel` objective could assign to no site within its cutoff. `tiers` holds
    first contact and referral before and after (TierResult) when the scenario has `[tiers]`; the `gap`
    objective then includes its terms. `weights` are the services' objective weights (0: reported, not planned
    for); `expected_cases[condition]` the yearly cases in all and covered before and after; `indicators` the
    bureau's indicators (`allocopt.indicators`) for the region, "before" and "after". `ems` holds the ambulances
    before and after (EmsResult) when the scenario has `[ems]`; `allocations` then lists new stations and
    ambulances too, and the `gap` objective includes the ambulance term.
    """

    objective_name: str
    status: str
    objective: float
    best_bound: float | None
    gap: float | None
    solver: str
    solver_version: str
    seconds: float
    time_limit_s: float | None
    mip_gap: float | None
    stage_objectives: tuple[float | None, ...]
    budget: Budget
    capital_yuan: float
    annual_yuan: float
    population: float
    gp_target_per_10k: float
    thresholds_minutes: Mapping[str, float]
    allocations: pd.DataFrame
    sites: pd.DataFrame
    demand: pd.DataFrame
    townships: pd.DataFrame
    unserved_before: Mapping[str, float]
    unserved_after: Mapping[str, float]
    weighted_gap_before: float
    weighted_gap_after: float
    travel_minutes_before: float
    travel_minutes_after: float
    travel_cutoff_minutes: float
    uncoverable: Mapping[str, tuple[str, ...]]
    travel_unreachable: tuple[str, ...]
    weights: Mapping[str, float]
    expected_cases: Mapping[str, Mapping[str, float]]
    indicators: Mapping[str, Mapping[str, float | None]]
    tiers: TierResult | None = None
    stage_gaps: tuple[float | None, ...] = ()
    ems: EmsResult | None = None
    n_minus_1: NMinus1Result | None = None
    """Who keeps each service under every single road failure, today and with the plan (`[n_minus_1]`)."""
    pathways: PathwayResult | None = None

    @property
    def cost_yuan(self) -> float:
        """Capital plus annual cost of the plan."""
        return self.capital_yuan + self.annual_yuan

    def uncoverable_population(self) -> dict[str, float]:
        """Residents of the demand points no plan can cover, per service: what money cannot fix."""
        population = self.demand.set_index("id")["population"]
        return {v: float(population.loc[list(ids)].sum()) for v, ids in self.uncoverable.items()}

    def to_summary(self) -> dict[str, Any]:
        """JSON-safe summary in the layout of docs/results.md (without region, scenario and inputs)."""
        gps = self.townships
        before, after = float(gps["gp_before"].sum()), float(gps["gp_after"].sum())
        uncoverable_population = self.uncoverable_population()
        services = {}
        for v, threshold in self.thresholds_minutes.items():
            covered_after = self.population - self.unserved_after[v]
            covered_before = self.population - self.unserved_before[v]
            services[v] = {
                "threshold_minutes": threshold,
                "covered_population": covered_after,
                "covered_share": _share(covered_after, self.population),
                "covered_population_before": covered_before,
                "covered_share_before": _share(covered_before, self.population),
                "unserved_before": self.unserved_before[v],
                "unserved_after": self.unserved_after[v],
                "uncoverable_demand_points": len(self.uncoverable[v]),
                "uncoverable_population": uncoverable_population[v],
                "weight": self.weights[v],
                **({f"expected_cases_{key}": value for key, value in self.expected_cases[v].items()}
                   if v in self.expected_cases else {}),
            }
        summary = {
            "objective_name": self.objective_name,
            "status": self.status,
            "objective": self.objective,
            "best_bound": self.best_bound,
            "gap": self.gap,
            "stage_objectives": list(self.stage_objectives),
            "stage_gaps": list(self.stage_gaps),
            "solver": {"name": self.solver, "version": self.solver_version, "seconds": self.seconds,
                       "time_limit_s": self.time_limit_s, "mip_gap": self.mip_gap},
            "budget_yuan": self.budget.total_yuan,
            "budget": {k: v for k, v in vars(self.budget).items() if v is not None},
            "cost_yuan": self.cost_yuan,
            "capital_yuan": self.capital_yuan,
            "annual_yuan": self.annual_yuan,
            "population": self.population,
            "weighted_gap_before": self.weighted_gap_before,
            "weighted_gap_after": self.weighted_gap_after,
            "max_gap_share_before": _max(gps["gap_share_before"]),
            "max_gap_share_after": _max(gps["gap_share_after"]),
            "travel": {"primary_care_mean_minutes_before": _share(self.travel_minutes_before, self.population),
                       "primary_care_mean_minutes_after": _share(self.travel_minutes_after, self.population),
                       "cutoff_minutes": self.travel_cutoff_minutes,
                       "unreachable_demand_points": len(self.travel_unreachable)},
            "gp": {"per_10k_before": _share(before * PER_10K, self.population),
                   "per_10k_after": _share(after * PER_10K, self.population),
                   "target_per_10k": self.gp_target_per_10k,
                   "shortage_people_before": float(gps["gp_shortage_people_before"].sum()),
                   "shortage_people_after": float(gps["gp_shortage_people_after"].sum()),
                   "added": int(self.allocations.loc[self.allocations["resource"] == "gp", "quantity"].sum())},
            "services": services,
            "indicators": {name: {"before": self.indicators["before"][name], "after": self.indicators["after"][name],
                                  "national": NATIONAL_TARGETS[name]["value"], "national_kind":
                                  NATIONAL_TARGETS[name]["kind"], "source": NATIONAL_TARGETS[name]["source"]}
                           for name in INDICATORS},
            "allocations": {str(r): float(q) for r, q in
                            self.allocations.groupby("resource", sort=True)["quantity"].sum().items()},
        }
        if self.tiers is not None:
            summary["tiers"] = self.tiers.summary()
        if self.ems is not None:
            summary["ems"] = self.ems.summary()
        if self.n_minus_1 is not None:
            summary["n_minus_1"] = self.n_minus_1.to_summary()
        if self.pathways is not None:
            summary["pathways"] = self.pathways.summary()
        return _json_safe(summary)


def build_result(m: AllocationModel, outcomes: Sequence[SolveOutcome], *, time_limit_s: float | None = None,
                 mip_gap: float | None = None) -> Result:
    """The Result of a solved model: the plan read from its variables and everything recomputed from it.

    Raises SolverError when the last outcome holds no plan, or when the model's figures claim more than the
    recomputed plan delivers.
    """
    if not outcomes or not outcomes[-1].has_plan:
        status = outcomes[-1].status if outcomes else "not_solved"
        raise SolverError(f"the solver returned no plan (status {status!r}); raise the time limit or the MIP gap")
    p = m.problem
    plan = Plan.from_model(m)
    cutoff = m.travel_cutoff_minutes if m.travel_cutoff_minutes is not None else p.default_travel_cutoff()
    before = recompute_access(p, Plan.empty(p), travel_cutoff_minutes=cutoff)
    after = recompute_access(p, plan, travel_cutoff_minutes=cutoff)
    ems = ems_result_from_model(m, relative_tolerance=_RELATIVE_TOLERANCE) if m.ems is not None else None

    allocations = with_contributions(p, plan, allocation_table(p, plan))
    if ems is not None:
        placed = [table for table in (allocations, ems.allocations(ALLOCATION_COLUMNS)) if len(table)]
        allocations = pd.concat(placed, ignore_index=True) if placed else allocations
    pathways = pathway_result(m, relative_tolerance=_RELATIVE_TOLERANCE) if p.pathways is not None else None
    if pathways is not None:
        placed = [table for table in (allocations, pathways.allocations) if len(table)]
        allocations = pd.concat(placed, ignore_index=True) if placed else allocations
    capital, annual = float(allocations["capital_yuan"].sum()), float(allocations["annual_yuan"].sum())
    _check_against_model(m, plan, after, capital=capital, annual=annual)
    tiers = (tier_result(m, added_gps=plan.added_gps, opened=plan.opened, solver=outcomes[0].solver,
                         relative_tolerance=_RELATIVE_TOLERANCE) if p.tiers is not None else None)
    tier_objective = tiers.after.objective if tiers is not None else 0.0
    n_minus_1 = (n_minus_1_result(p.n_minus_1, p, before=provision(p, Plan.empty(p)), after=provision(p, plan))
                 if p.n_minus_1 is not None else None)
    n_minus_1_gap = n_minus_1.gap_term(p.scenario.weights) if n_minus_1 is not None else 0.0
    ems_objective = ems.objective(ems.after) if ems is not None else 0.0
    tier_objective += pathways.after.objective if pathways is not None else 0.0
    primary = {"gap": weighted_gap(p, after) + tier_objective + ems_objective + n_minus_1_gap,
               "equity": float(np.max(after.township_gap_share, initial=0.0)),
               "travel": after.travel_minutes, "cost": _cost_line(m.cost_line, capital, annual)}
    first = outcomes[0]
    state_indicators = {
        "before": township_indicators(p, is_open=~p.is_candidate, added_gps=np.zeros(len(p.site_ids)),
                                      added_village_doctors=np.zeros(len(p.site_ids))),
        "after": township_indicators(p, is_open=~p.is_candidate | plan.opened, added_gps=plan.added_gps,
                                     added_village_doctors=plan.added_village_doctors)}
    return Result(
        objective_name=m.objective,
        status=plan_status(outcomes),
        objective=primary[m.objective],
        best_bound=first.best_bound,
        gap=plan_gap(outcomes),
        solver=first.solver,
        solver_version=first.solver_version,
        seconds=sum(o.seconds for o in outcomes),
        time_limit_s=time_limit_s,
        mip_gap=mip_gap,
        stage_objectives=tuple(o.objective for o in outcomes),
        stage_gaps=tuple(o.gap for o in outcomes),
        budget=p.scenario.budget,
        capital_yuan=capital,
        annual_yuan=annual,
        population=p.total_population,
        gp_target_per_10k=p.scenario.gp_target_per_10k,
        thresholds_minutes={v: float(p.scenario.thresholds_minutes[v]) for v in p.services},
        allocations=allocations,
        sites=_site_table(p, plan, allocations),
        demand=_demand_table(p, before, after),
        townships=_township_table(p, before, after, state_indicators),
        unserved_before=dict(before.unserved),
        unserved_after=dict(after.unserved),
        weighted_gap_before=weighted_gap(p, before),
        weighted_gap_after=weighted_gap(p, after),
        travel_minutes_before=before.travel_minutes,
        travel_minutes_after=after.travel_minutes,
        travel_cutoff_minutes=cutoff,
        uncoverable={v: _uncoverable(p, v) for v in p.services},
        travel_unreachable=m.travel_unreachable,
        weights={v: float(p.scenario.weights[v]) for v in p.services},
        expected_cases={s: {"per_year": float(cases.sum()),
                            "covered_before": float(cases[before.covered[s]].sum()),
                            "covered_after": float(cases[after.covered[s]].sum())}
                        for s, cases in p.demand_cases.items() if s in p.services},
        indicators={label: region_indicators(values, p.total_population)
                    for label, values in state_indicators.items()},
        tiers=tiers,
        ems=ems,
        n_minus_1=n_minus_1,
        pathways=pathways,
    )


def recompute_access(problem: Problem, plan: Plan, *, travel_cutoff_minutes: float) -> Access:
    """Access after `plan` from the travel minutes alone: nearest provider, coverage, GP staffing, gaps.

    Travel minutes (population-weighted, to the nearest primary-care site) count each point at most at
    `travel_cutoff_minutes`, unreachable points at the cutoff.
    """
    providers = provision(problem, plan)
    population = problem.demand_population
    nearest, covered, unserved, unserved_weighted = {}, {}, {}, {}
    for v in problem.services:
        columns = np.flatnonzero(providers[v])
        nearest[v] = (problem.minutes[:, columns].min(axis=1) if columns.size
                      else np.full(len(population), np.inf))
        covered[v] = nearest[v] <= problem.scenario.thresholds_minutes[v]
        unserved[v] = float(population[~covered[v]].sum())
        unserved_weighted[v] = float(problem.demand_weight[v][~covered[v]].sum())
    count = len(problem.township_ids)
    inside = problem.site_township >= 0
    township_gps = np.bincount(problem.site_township[inside],
                               weights=(problem.existing_gps + plan.added_gps)[inside].astype(float), minlength=count)
    shortage = gp_shortage_people(problem.township_population, township_gps, problem.scenario.gp_target_per_10k)
    weights = problem.scenario.weights
    weighted = weights[GP_SHORTAGE] * shortage
    for v in problem.services:
        weighted = weighted + weights[v] * np.bincount(problem.demand_township, weights=np.where(
            covered[v], 0.0, problem.demand_weight[v]), minlength=count)
    weight_sum = sum(weights[v] for v in problem.services) + weights[GP_SHORTAGE]
    scale = problem.township_population * weight_sum
    gap_share = np.divide(weighted, scale, out=np.zeros(count), where=scale > 0)
    primary = nearest[PRIMARY_CARE]
    travel = float((population * np.minimum(primary, travel_cutoff_minutes)).sum())
    return Access(nearest, covered, unserved, unserved_weighted, township_gps, shortage, gap_share, travel)


def weighted_gap(problem: Problem, access: Access) -> float:
    """sum_v a_v unserved_v + a_gp sum_t shortage_t, in people-equivalents (the `gap` objective's value)."""
    weights = problem.scenario.weights
    return (sum(weights[v] * access.unserved_weighted[v] for v in problem.services)
            + weights[GP_SHORTAGE] * float(access.township_shortage.sum()))


def allocation_table(problem: Problem, plan: Plan) -> pd.DataFrame:
    """One row per resource placed at a site (ALLOCATION_COLUMNS), costs per row."""
    scenario = problem.scenario
    towns = [problem.township_ids[t] if t >= 0 else "" for t in problem.site_township]
    items: list[tuple[str, np.ndarray, np.ndarray, np.ndarray]] = [
        ("open_site", plan.opened.astype(np.int64), problem.open_cost_yuan,
         np.full(len(problem.site_ids), scenario.open_site_annual_yuan)),
        ("gp", plan.added_gps, *_unit_costs(len(problem.site_ids), scenario.gp_cost)),
        ("village_doctor", plan.added_village_doctors,
         *_unit_costs(len(problem.site_ids), scenario.village_doctor_cost)),
        *((k, plan.added_equipment[k], *_unit_costs(len(problem.site_ids), scenario.equipment_costs[k]))
          for k in EQUIPMENT),
        *((center_column(s), plan.new_centers[s].astype(np.int64),
           *_unit_costs(len(problem.site_ids), scenario.center_costs[s])) for s in CENTERS),
    ]
    rows = []
    for resource, quantity, capital, annual in items:
        for j in np.flatnonzero(quantity > 0):
            q = int(quantity[j])
            row_capital = float(capital[j]) * (1 if resource == "open_site" else q)
            row_annual = float(annual[j]) * q
            rows.append((problem.site_ids[j], problem.site_names[j], problem.site_level[j], towns[j], resource, q,
                         row_capital, row_annual, row_capital + row_annual))
    return pd.DataFrame(rows, columns=list(ALLOCATION_COLUMNS)).astype(
        {"quantity": np.int64, "capital_yuan": float, "annual_yuan": float, "cost_yuan": float})


def _unit_costs(n: int, cost: Any) -> tuple[np.ndarray, np.ndarray]:
    return np.full(n, cost.capital_yuan), np.full(n, cost.annual_yuan)


def _site_table(p: Problem, plan: Plan, allocations: pd.DataFrame) -> pd.DataFrame:
    table: dict[str, Any] = {
        "id": list(p.site_ids),
        "name": list(p.site_names),
        "kind": list(p.site_kind),
        "level": list(p.site_level),
        "township_code": [p.township_ids[t] if t >= 0 else "" for t in p.site_township],
        "opened": ~p.is_candidate | plan.opened,
        "added_gps": plan.added_gps,
        "added_village_doctors": plan.added_village_doctors,
        **{f"added_{k}": plan.added_equipment[k] for k in EQUIPMENT},
        **{f"new_{center_column(s)}": plan.new_centers[s] for s in CENTERS},
    }
    cost = allocations.groupby("site_id")["cost_yuan"].sum()
    table["cost_yuan"] = cost.reindex(list(p.site_ids), fill_value=0.0).to_numpy(dtype=float)
    return pd.DataFrame(table)


def _demand_table(p: Problem, before: Access, after: Access) -> pd.DataFrame:
    table: dict[str, Any] = {
        "id": list(p.demand_ids),
        "township_code": [p.township_ids[t] for t in p.demand_township],
        "population": p.demand_population,
    }
    for v in p.services:
        for label, state in (("before", before), ("after", after)):
            table[f"{v}_covered_{label}"] = state.covered[v]
            table[f"{v}_minutes_{label}"] = state.nearest_minutes[v]
    return pd.DataFrame(table)


def _township_table(p: Problem, before: Access, after: Access,
                    indicators: Mapping[str, Mapping[str, np.ndarray]]) -> pd.DataFrame:
    count = len(p.township_ids)
    population = p.township_population

    def per_township(values: np.ndarray) -> np.ndarray:
        return np.bincount(p.demand_township, weights=values, minlength=count)

    table: dict[str, Any] = {"code": list(p.township_ids), "name": list(p.township_names), "population": population}
    for v in p.services:
        for label, state in (("before", before), ("after", after)):
            covered = per_township(np.where(state.covered[v], p.demand_population, 0.0))
            table[f"{v}_covered_share_{label}"] = ratio_array(covered, population)
        for label, state in (("before", before), ("after", after)):
            minutes = state.nearest_minutes[v]
            reachable = np.isfinite(minutes)
            reached = per_township(np.where(reachable, p.demand_population, 0.0))
            total = per_township(np.where(reachable, p.demand_population * minutes, 0.0))
            table[f"{v}_minutes_{label}"] = ratio_array(total, reached)
    for label, state in (("before", before), ("after", after)):
        table[f"gp_{label}"] = state.township_gps
    for label, state in (("before", before), ("after", after)):
        table[f"gp_per_10k_{label}"] = ratio_array(state.township_gps * PER_10K, population)
    for label, state in (("before", before), ("after", after)):
        table[f"gp_shortage_people_{label}"] = state.township_shortage
    for label, state in (("before", before), ("after", after)):
        table[f"gap_share_{label}"] = state.township_gap_share
    for name in INDICATORS:
        if name != "gp_per_10k":  # already above
            for label in ("before", "after"):
                table[f"{name}_{label}"] = indicators[label][name]
    return pd.DataFrame(table)


def _check_against_model(m: AllocationModel, plan: Plan, after: Access, *, capital: float, annual: float) -> None:
    """Raise SolverError when the model claims more than the recomputed plan delivers."""
    p = m.problem
    people_tolerance = _RELATIVE_TOLERANCE * max(1.0, p.total_population)
    problems = []
    for v in m.services:
        claimed = float(pulp.value(m.unserved[v]))
        if claimed < after.unserved_weighted[v] - people_tolerance:
            problems.append(f"{v}: the model counts {claimed:,.1f} people(-equivalents) unserved, the plan leaves "
                            f"{after.unserved_weighted[v]:,.1f}")
    township = {code: t for t, code in enumerate(p.township_ids)}
    for code, expression in m.shortage.items():
        claimed = float(pulp.value(expression))
        actual = float(after.township_shortage[township[code]])
        if claimed < actual - people_tolerance:
            problems.append(f"township {code}: the model counts a GP shortage of {claimed:,.1f} people, the plan "
                            f"leaves {actual:,.1f}")
    if p.scenario.gp_target_hard and float(after.township_shortage.sum()) > people_tolerance:
        problems.append("the hard GP target is not met by the plan")
    for v, share in p.scenario.min_covered_share.items():
        if p.total_population - after.unserved_weighted[v] < share * p.total_population - people_tolerance:
            problems.append(f"{v}: the plan covers less than the hard target of {share:.1%}")
    if m.travel_minutes is not None:
        claimed = float(pulp.value(m.travel_minutes))
        if claimed < after.travel_minutes - _RELATIVE_TOLERANCE * max(1.0, abs(after.travel_minutes)):
            problems.append(f"travel: the model counts {claimed:,.1f} person-minutes, the plan gives "
                            f"{after.travel_minutes:,.1f}")
    if m.objective != "cost":
        budget = p.scenario.budget
        for line, spent, limit in (("total", capital + annual, budget.total_yuan),
                                   ("capital", capital, budget.capital_yuan), ("annual", annual, budget.annual_yuan)):
            if limit is not None and spent > limit * (1 + _RELATIVE_TOLERANCE) + 1.0:
                problems.append(f"the plan spends {spent:,.0f} yuan against a {line} budget of {limit:,.0f}")
    if problems:
        raise SolverError("the solver's plan does not deliver what the model claims (report this as a bug): "
                          + "; ".join(problems))


def _uncoverable(p: Problem, service: str) -> tuple[str, ...]:
    coverable_unit = np.diff(p.cover_sets[service].indptr) > 0
    return tuple(p.demand_ids[i] for i in np.flatnonzero(~coverable_unit[p.unit_of_demand]))


def _cost_line(line: str, capital: float, annual: float) -> float:
    return {"total": capital + annual, "capital": capital, "annual": annual}[line]


def _share(numerator: float, denominator: float) -> float | None:
    return numerator / denominator if denominator > 0 else None


def _max(values: pd.Series) -> float | None:
    finite = values[np.isfinite(values)]
    return float(finite.max()) if len(finite) else None


def _json_safe(value: Any) -> Any:
    """Plain Python values with NaN and infinities as None."""
    if isinstance(value, Mapping):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value
