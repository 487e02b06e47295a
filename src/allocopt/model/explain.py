"""Why a scenario has no feasible plan: targets no plan meets at any cost, or the least cost of meeting them.

`check_attainable` is cheap and runs before any solve: it finds hard targets that no plan can meet however
large the budget (people beyond every eligible site's threshold, townships that cannot hold enough GPs).
`explain_infeasible` runs after the solver reports infeasibility: it solves the `cost` model (the hard targets
without the budget) and compares its proven lower bound with the budget.
"""

from __future__ import annotations

import math

import numpy as np

from allocopt.errors import InfeasibleError
from allocopt.model.allocation import build_model
from allocopt.model.ems import ems_limits, ems_targets
from allocopt.model.objectives import solve_model
from allocopt.model.problem import PER_10K, Problem
from allocopt.model.referral import tier_limits, tier_targets
from allocopt.solve import DEFAULT_SOLVER

_SHOWN = 5


def hard_targets(problem: Problem) -> list[str]:
    """The scenario's hard targets in words (empty when it has none)."""
    scenario = problem.scenario
    targets = [f"{v} covered share >= {share:.1%} (within {scenario.thresholds_minutes[v]:g} minutes)"
               for v, share in scenario.min_covered_share.items() if share > 0]
    if scenario.gp_target_hard and scenario.gp_target_per_10k > 0:
        targets.append(f"GP density >= {scenario.gp_target_per_10k:g} per 10,000 residents in every township")
    n_minus_1 = scenario.n_minus_1
    if n_minus_1 is not None and n_minus_1.mode == "hard":
        targets.append(f"{', '.join(n_minus_1.services)} kept within threshold under any single failure of the "
                       "chosen roads ([n_minus_1] mode = \"hard\")")
    return [*targets, *tier_targets(problem), *ems_targets(problem)]


def check_attainable(problem: Problem) -> None:
    """Raise InfeasibleError naming every hard target that no plan can meet at any cost, with the numbers."""
    reasons = [*_coverage_limits(problem), *_gp_limits(problem), *tier_limits(problem), *ems_limits(problem)]
    if reasons:
        raise InfeasibleError("no plan can meet the hard targets at any cost:\n- " + "\n- ".join(reasons))


def _coverage_limits(problem: Problem) -> list[str]:
    scenario = problem.scenario
    total = problem.total_population
    reasons = []
    for v, share in scenario.min_covered_share.items():
        if share <= 0:
            continue
        coverable_unit = np.diff(problem.cover_sets[v].indptr) > 0
        coverable = float(problem.unit_weight[v][coverable_unit].sum())
        if coverable >= share * total - 1e-9 * max(total, 1.0):
            continue
        beyond = np.flatnonzero(~coverable_unit[problem.unit_of_demand] & (problem.demand_population > 0))
        beyond = beyond[np.argsort(-problem.demand_population[beyond], kind="stable")]
        shown = ", ".join(f"{problem.demand_ids[i]} ({problem.demand_population[i]:,.0f} people)"
                          for i in beyond[:_SHOWN])
        more = f" and {len(beyond) - _SHOWN} more" if len(beyond) > _SHOWN else ""
        reasons.append(
            f"targets.min_covered_share.{v} = {share:g}: at most {coverable:,.0f} of {total:,.0f} people "
            f"({coverable / total:.1%}) live within {scenario.thresholds_minutes[v]:g} minutes of a site that has "
            f"or may get {v}; demand points beyond every eligible site: {shown}{more}. Lower the target, raise "
            f"thresholds_minutes.{v}, or add eligible sites (candidates, eligibility levels)"
        )
    return reasons


def _gp_limits(problem: Problem) -> list[str]:
    scenario = problem.scenario
    target = scenario.gp_target_per_10k
    if not scenario.gp_target_hard or target <= 0:
        return []
    inside = problem.gp_eligible & (problem.site_township >= 0)
    capacity = np.bincount(problem.site_township[inside], weights=problem.gp_limit[inside].astype(float),
                           minlength=len(problem.township_ids))
    gps_now = problem.township_gps_now()
    reasons = []
    for t, code in enumerate(problem.township_ids):
        needed = math.ceil(problem.township_population[t] * target / PER_10K - gps_now[t] - 1e-9)
        if needed > capacity[t]:
            reasons.append(
                f"township {code}: {problem.township_population[t]:,.0f} residents need {needed} more GPs for "
                f"{target:g} per 10,000 (it has {gps_now[t]:g}), but its eligible sites take at most "
                f"{int(capacity[t])} (eligibility.gp.max_per_site and max_per_level); lower targets.gp_per_10k, set "
                "targets.gp_target_hard = false, or widen eligibility.gp"
            )
    return reasons


def explain_infeasible(problem: Problem, *, solver: str = DEFAULT_SOLVER, time_limit_s: float | None = None,
                       mip_gap: float | None = None) -> str:
    """Why the budget cannot pay for the hard targets: the least cost of meeting them against each budget line.

    Solves the `cost` model once per limited budget line; "at least" figures are the solver's proven lower
    bounds. Call `check_attainable` first: it covers targets that no budget can meet.
    """
    targets = hard_targets(problem)
    if not targets:
        return ("the scenario sets no hard target, so the empty plan should be feasible; the solver reported "
                "infeasibility, which points to a numerical problem: try the other solver")
    wanted = " and ".join(targets)
    budget = problem.scenario.budget
    lines = (("total", budget.total_yuan), ("capital", budget.capital_yuan), ("annual", budget.annual_yuan))
    least = {line: _least_cost(problem, line, solver=solver, time_limit_s=time_limit_s, mip_gap=mip_gap)
             for line, limit in lines if limit is not None}
    limits = {line: limit for line, limit in lines if limit is not None}
    over = [line for line, cost in least.items() if cost is not None and cost > limits[line] * (1 + 1e-9)]
    if over:
        return "; ".join(
            f"meeting {wanted} costs at least {least[line]:,.0f} yuan{_line_word(line)}; "
            f"the budget is {limits[line]:,.0f} yuan (budget.{line}_yuan)" for line in over
        ) + ". Raise the budget or relax the targets"
    found = ", ".join(f"{cost:,.0f} yuan{_line_word(line)} (budget {limits[line]:,.0f})"
                      for line, cost in least.items() if cost is not None)
    if len(limits) > 1:
        return (f"meeting {wanted} costs at least {found} when each budget line is taken alone, but no single plan "
                "fits every line at once. Raise a budget line or relax the targets")
    return (f"the solver found no plan meeting {wanted} within the budget, although the least cost found is "
            f"{found or 'unknown'}; try a longer time limit or the other solver")


def _least_cost(problem: Problem, line: str, *, solver: str, time_limit_s: float | None,
                mip_gap: float | None) -> float | None:
    """Proven lower bound on the `line` cost of meeting the hard targets (None when the solve gave nothing)."""
    model = build_model(problem, objective="cost", cost_line=line)
    outcome = solve_model(model, solver=solver, time_limit_s=time_limit_s, mip_gap=mip_gap)[-1]
    if outcome.best_bound is not None:
        return outcome.best_bound
    return outcome.objective


def _line_word(line: str) -> str:
    return "" if line == "total" else f" of {line} spending"
