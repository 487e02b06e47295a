"""One call from a region, its travel matrix and a scenario to a Result: check, build, solve, explain, report.

Every allocation solve (optimize, sweep, batch) goes through `optimize_problem`, which starts the MILP from a
plan: the caller's (a sweep hands on the previous budget's plan) or today's network with nothing added, which
meets every constraint but the hard targets. So a time limit returns at least that plan, with its gap.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import pandas as pd

from allocopt.errors import InfeasibleError, SolverError
from allocopt.model import (
    AllocationModel,
    build_model,
    build_problem,
    check_attainable,
    explain_infeasible,
    solve_model,
)
from allocopt.model.explain import hard_targets
from allocopt.model.problem import Problem, RegionLike
from allocopt.results import Result, build_result
from allocopt.scenario import Scenario
from allocopt.services import center_column
from allocopt.solve import DEFAULT_SOLVER, Progress, SolveOutcome
from allocopt.travel import MatrixLike


@dataclass(frozen=True)
class StartPlan:
    """The integer decisions of a plan, keyed by site ID (only what it adds), to start a solve from."""

    opened: frozenset[str] = frozenset()
    added_gps: Mapping[str, int] | None = None
    added_equipment: Mapping[tuple[str, str], int] | None = None
    new_centers: frozenset[tuple[str, str]] = frozenset()
    added_village_doctors: Mapping[str, int] | None = None
    added_ambulances: Mapping[str, int] | None = None
    opened_stations: frozenset[str] = frozenset()

    @classmethod
    def from_result(cls, result: Result) -> StartPlan:
        """The decisions of `result`, read from its site table."""
        sites = result.sites
        ids = sites["id"].astype(str)
        candidate = (sites["kind"] == "candidate").to_numpy()
        equipment = {
            (site, column.removeprefix("added_")): int(count)
            for column in sites.columns
            if column.startswith("added_") and column not in _STAFF_COLUMNS
            for site, count in zip(ids, sites[column], strict=True)
            if count > 0
        }
        centers = frozenset(
            (site, center)
            for center in _centers(sites)
            for site, new in zip(ids, sites[f"new_{center_column(center)}"], strict=True)
            if new
        )
        return cls(
            opened=frozenset(ids[candidate & sites["opened"].to_numpy(dtype=bool)]),
            added_gps={site: int(n) for site, n in zip(ids, sites["added_gps"], strict=True) if n > 0},
            added_equipment=equipment,
            new_centers=centers,
            added_village_doctors=_counts(ids, sites.get("added_village_doctors")),
            added_ambulances=_ambulances(result),
            opened_stations=_opened_stations(result),
        )

    def apply(self, model: AllocationModel) -> None:
        """Set every integer decision variable of `model` to this plan's value (0 where it adds nothing)."""
        gps, equipment, doctors = self.added_gps or {}, self.added_equipment or {}, self.added_village_doctors or {}
        for site, var in model.open.items():
            var.setInitialValue(1 if site in self.opened else 0)
        for site, var in model.gp.items():
            var.setInitialValue(gps.get(site, 0))
        for key, var in model.eq.items():
            var.setInitialValue(equipment.get(key, 0))
        for key, var in model.ctr.items():
            var.setInitialValue(1 if key in self.new_centers else 0)
        for site, var in model.vd.items():
            var.setInitialValue(doctors.get(site, 0))
        if model.ems is not None:
            ambulances = self.added_ambulances or {}
            for station, var in model.ems.amb.items():
                var.setInitialValue(ambulances.get(station, 0))
            for station, var in model.ems.amb_open.items():
                var.setInitialValue(1 if station in self.opened_stations else 0)


TODAY = StartPlan()
"""Today's network with nothing added: the plan every solve starts from unless it is handed a better one."""


_STAFF_COLUMNS = ("added_gps", "added_village_doctors")
"""Site-table columns of added staff; every other `added_` column is an equipment type."""


def _counts(ids: pd.Series, counts: pd.Series | None) -> dict[str, int]:
    """Positive counts by site ID (none when the column is absent)."""
    if counts is None:
        return {}
    return {site: int(n) for site, n in zip(ids, counts, strict=True) if n > 0}


def _ambulances(result: Result) -> dict[str, int]:
    """The ambulances `result` adds per station (none without `[ems]`)."""
    if result.ems is None:
        return {}
    stations = result.ems.stations
    return _counts(stations["id"].astype(str), stations["added"])


def _opened_stations(result: Result) -> frozenset[str]:
    """The candidate 120 stations `result` opens (none without `[ems]`)."""
    if result.ems is None:
        return frozenset()
    stations = result.ems.stations
    return frozenset(stations["id"].astype(str)[stations["candidate"] & stations["opened"]])


def _centers(sites: pd.DataFrame) -> list[str]:
    return [
        column.removeprefix("new_").removesuffix("_center")
        for column in sites.columns
        if column.startswith("new_") and column.endswith("_center")
    ]


def optimize(region: RegionLike, matrix: MatrixLike, scenario: Scenario, *, objective: str = "gap",
             solver: str = DEFAULT_SOLVER, time_limit_s: float | None = None, mip_gap: float | None = None,
             travel_cutoff_minutes: float | None = None, site_matrix: MatrixLike | None = None,
             on_step: Callable[[str], None] | None = None) -> Result:
    """Best plan for `region` under `scenario` by `objective` (see model.OBJECTIVES), with before/after figures.

    `on_step`, when given, is told before each long step what it is about to do, and during the solve the
    seconds elapsed and the best plan's gap. A scenario with `[tiers]` needs `site_matrix`, the site x hospital
    minutes (`consortium.site_hospital_matrix`).

    Raises InfeasibleError explaining which hard target no plan meets, or what meeting them costs against the
    budget; SolverError when the solver fails or stops without a plan; DataError/ScenarioError for bad inputs.
    """
    if on_step is not None:
        on_step("Preparing the problem")
    problem = build_problem(region, matrix, scenario, site_matrix=site_matrix)
    return optimize_problem(problem, objective=objective, solver=solver, time_limit_s=time_limit_s,
                            mip_gap=mip_gap, travel_cutoff_minutes=travel_cutoff_minutes, on_step=on_step)


def optimize_problem(problem: Problem, *, objective: str = "gap", solver: str = DEFAULT_SOLVER,
                     time_limit_s: float | None = None, mip_gap: float | None = None,
                     travel_cutoff_minutes: float | None = None, start: StartPlan = TODAY,
                     on_step: Callable[[str], None] | None = None,
                     extend: Callable[[AllocationModel], None] | None = None) -> Result:
    """`optimize` for a prepared Problem, starting the solve from `start` (default: today's network); `extend`,
    when given, adds constraint families to the built model before it is solved (`model.robust.add_robust`).

    `time_limit_s` is the wall-clock limit of the whole solve, every stage included.
    """
    step = on_step or (lambda _: None)
    check_attainable(problem)
    step(f"Building the {objective} model")
    model = build_model(problem, objective=objective, travel_cutoff_minutes=travel_cutoff_minutes)
    if extend is not None:
        extend(model)
    limit = f", time limit {time_limit_s:g} s" if time_limit_s is not None else ""
    solving = (f"Solving with {solver} ({model.lp.numVariables():,} variables, "
               f"{model.lp.numConstraints():,} constraints{limit})")
    step(solving)
    start.apply(model)
    outcomes = solve_model(model, solver=solver, time_limit_s=time_limit_s, mip_gap=mip_gap, warm_start=True,
                           progress=_progress_text(f"Solving with {solver}", step) if on_step is not None else None)
    last = outcomes[-1]
    if last.status == "infeasible":
        step("Explaining why no plan fits")
        raise InfeasibleError(explain_infeasible(problem, solver=solver, time_limit_s=time_limit_s, mip_gap=mip_gap))
    if not last.has_plan:
        raise SolverError(_no_plan_message(problem, last, solver=solver, time_limit_s=time_limit_s))
    step("Recomputing access from the plan")
    return build_result(model, outcomes, time_limit_s=time_limit_s, mip_gap=mip_gap)


def _progress_text(solving: str, step: Callable[[str], None]) -> Progress:
    """Progress of a long solve as short status-line text: seconds elapsed and the best plan's gap so far."""
    def report(elapsed_s: float, gap: float | None, has_plan: bool) -> None:
        best = "no plan yet" if not has_plan else "best plan's gap not bounded yet" if gap is None else (
            f"best plan's gap {gap:.2%}")
        step(f"{solving}: {elapsed_s:,.0f} s, {best}")

    return report


def _no_plan_message(problem: Problem, last: SolveOutcome, *, solver: str, time_limit_s: float | None) -> str:
    """Why a solve ended without a plan although it started from today's network."""
    limit = f" within the time limit of {time_limit_s:g} s" if time_limit_s is not None else ""
    targets = hard_targets(problem)
    if targets:
        return (f"solver {solver!r} found no plan{limit} (status {last.status!r}), and today's network with "
                "nothing added is no fallback: it does not meet the scenario's hard targets ("
                + "; ".join(targets) + "); raise the time limit, or relax the hard targets")
    return (f"solver {solver!r} found no plan{limit} (status {last.status!r}), not even today's network it "
            "started from; raise the time limit or try the other solver")
