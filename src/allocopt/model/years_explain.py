"""Why a multi-year plan has no feasible schedule: a year's targets no plan meets at any cost, a GP milestone the
pipeline cannot staff in time, or the least cost of the milestones against the yearly budgets.

As `model.explain` does for one year: `check_years_attainable` is cheap and runs before the solve;
`explain_years` runs after the solver reports infeasibility and solves the multi-year `cost` model (the targets
and lead times without the budgets).
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np

from allocopt.errors import InfeasibleError
from allocopt.model.explain import check_attainable, hard_targets
from allocopt.model.objectives import solve_model
from allocopt.model.problem import PER_10K, Problem
from allocopt.model.years import build_years_model
from allocopt.solve import DEFAULT_SOLVER
from allocopt.years_settings import Milestone, YearsSettings


def check_years_attainable(problems: Mapping[int, Problem], settings: YearsSettings) -> None:
    """Raise InfeasibleError naming each year's targets no plan meets at any cost, and GP targets that need more
    GPs by a year than the pipeline supplies up to it."""
    milestones = {m.year: m for m in settings.milestones if m.hard}
    reasons = []
    for y, problem in problems.items():
        try:
            check_attainable(problem)
        except InfeasibleError as exc:
            lines = [line.removeprefix("- ") for line in str(exc).splitlines()[1:]]
            reasons += [f"year {y}: {_milestone_keys(line, milestones.get(y))}" for line in lines]
    reasons += _pipeline_limits(problems, settings)
    if reasons:
        raise InfeasibleError("no plan can meet the targets of every year at any cost:\n- " + "\n- ".join(reasons))


def _milestone_keys(reason: str, milestone: Milestone | None) -> str:
    """A reason about a year's hard targets, naming the milestone's keys where the milestone set them."""
    if milestone is None:
        return reason
    key = f"years.milestones.{milestone.year}"
    if milestone.min_covered_share:
        reason = reason.replace("targets.min_covered_share", f"{key}.min_covered_share")
    if milestone.gp_per_10k is not None:
        reason = reason.replace("targets.gp_per_10k", f"{key}.gp_per_10k")
    return reason


def _pipeline_limits(problems: Mapping[int, Problem], settings: YearsSettings) -> list[str]:
    streams = settings.streams()
    years = sorted(problems)
    if not streams:
        return []
    population = problems[years[0]].total_population
    supplied = 0
    reasons = []
    for index, y in enumerate(years):
        supplied += math.floor(sum(s.supply(index, population) for s in streams) + 1e-9)
        scenario = problems[y].scenario
        if not scenario.gp_target_hard or scenario.gp_target_per_10k <= 0:
            continue
        p = problems[y]
        need = np.ceil(p.township_population * scenario.gp_target_per_10k / PER_10K - p.township_gps_now() - 1e-9)
        needed = int(np.maximum(need, 0).sum())
        if needed > supplied:
            reasons.append(
                f"year {y}: {scenario.gp_target_per_10k:g} GPs per 10,000 in every township needs {needed} more GPs, "
                f"but the pipeline supplies at most {supplied} by then ({', '.join(s.name for s in streams)}); raise "
                "years.pipeline.<stream>.yearly_quota, shorten lead times, or lower or soften the milestone "
                f"(years.milestones.{y}.gp_per_10k, hard = false)")
    return reasons


def explain_years(problems: Mapping[int, Problem], settings: YearsSettings,
                  limits: Mapping[str, tuple[float, ...]], *, solver: str = DEFAULT_SOLVER,
                  time_limit_s: float | None = None, mip_gap: float | None = None) -> str:
    """What meeting every year's targets in time costs at least, against the sum of the yearly budget lines."""
    years = sorted(problems)
    targets = sorted({f"{y}: {t}" for y in years for t in hard_targets(problems[y])})
    if not targets:
        return ("the plan sets no hard target or milestone, so adding nothing should be feasible; the solver "
                "reported infeasibility, which points to a numerical problem: try the other solver")
    wanted = "; ".join(targets)
    found = []
    for line, values in limits.items():
        ym = build_years_model(problems, settings, limits, objective="cost", cost_line=line, discounted=False)
        outcome = solve_model(ym, solver=solver, time_limit_s=time_limit_s, mip_gap=mip_gap)[-1]
        least = outcome.best_bound if outcome.best_bound is not None else outcome.objective
        if outcome.status == "infeasible":
            return (f"no schedule meets the targets ({wanted}) in time whatever the budget: the lead times "
                    "(years.center_lag_years, years.open_build_years) or the GP pipeline (years.pipeline) leave "
                    "too little time; move the milestones later or shorten the lead times")
        if least is not None:
            found.append((line, least, sum(values)))
    over = [(line, least, allowed) for line, least, allowed in found if least > allowed * (1 + 1e-9)]
    if over:
        return "; ".join(f"meeting the targets ({wanted}) costs at least {least:,.0f} yuan of {line} spending over "
                         f"{years[0]}-{years[-1]}; the yearly budget lines allow {allowed:,.0f} (years.budget."
                         f"{line}_yuan)" for line, least, allowed in over) + ". Raise the budget or relax the targets"
    shown = ", ".join(f"{least:,.0f} yuan of {line} spending (budgets {allowed:,.0f} in all)"
                      for line, least, allowed in found)
    return (f"meeting the targets ({wanted}) costs at least {shown} over the plan, within the budgets in all, but "
            "not within each year's lines in time: spend comes too early for the yearly budgets. Set "
            "years.carry_over = true, move budget to the early years, or move the milestones later")
