"""The ambulance model alone (`allocopt ems`): stations and ambulances under a budget, nothing else placed.

The same family as in the allocation MILP (`model.ems.add_ambulances`) with the same budget constraint, its
objective the ambulance term and then the cheapest plan of equal coverage; a scenario without `[ems]` takes the
`[ems]` defaults. Results are recomputed from the plan (`ems_results`) and written as one atomic folder.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import pulp

from allocopt import __version__
from allocopt.ems import EmsSettings
from allocopt.ems_map import ems_station_map, save_ems_map
from allocopt.ems_results import EmsResult, ems_result_from_model
from allocopt.errors import InfeasibleError, SolverError
from allocopt.export import atomic_output_dir, write_csv, write_geopackage, write_json
from allocopt.i18n import FALLBACK_LANGUAGE, translator
from allocopt.maps import map_title
from allocopt.model.allocation import AllocationModel, add_budget
from allocopt.model.ems import add_ambulances, ems_limits
from allocopt.model.objectives import solve_model
from allocopt.model.problem import Problem
from allocopt.results import ALLOCATION_COLUMNS
from allocopt.scenario import scenario_to_dict
from allocopt.solve import DEFAULT_SOLVER, plan_gap, plan_status
from allocopt.workflow import Prepared, input_paths, prepared_problem

EMS_KIND = "ems"
"""The kind of result folder `write_ems_plan` writes."""

_TOLERANCE = 1e-5


@dataclass(frozen=True, eq=False)
class EmsPlan:
    """The ambulance plan: its recomputed figures, status, gap, solver and cost."""

    ems: EmsResult
    status: str
    gap: float | None
    solver: str
    seconds: float
    budget: dict[str, float]
    capital_yuan: float
    annual_yuan: float

    @property
    def allocations(self) -> pd.DataFrame:
        """New stations and ambulances in the columns of allocations.csv."""
        return self.ems.allocations(ALLOCATION_COLUMNS)

    def summary(self, prepared: Prepared) -> dict[str, Any]:
        """summary.json of `allocopt ems`: region, scenario, status, cost and the `ems` figures."""
        scenario = prepared.scenario
        return {
            "region": prepared.region.name,
            "region_synthetic": prepared.region.synthetic,
            "scenario": {"name": scenario.name, "source": scenario.source, "settings": scenario_to_dict(scenario)},
            "status": self.status,
            "gap": self.gap,
            "solver": {"name": self.solver, "seconds": self.seconds},
            "budget": self.budget,
            "cost_yuan": self.capital_yuan + self.annual_yuan,
            "capital_yuan": self.capital_yuan,
            "annual_yuan": self.annual_yuan,
            "ems": self.ems.summary(),
            "allocopt_version": __version__,
        }


def with_ems(prepared: Prepared) -> Prepared:
    """`prepared` with an `[ems]` table: the scenario's own, else the defaults."""
    if prepared.scenario.ems is not None:
        return prepared
    return dataclasses.replace(prepared, scenario=dataclasses.replace(prepared.scenario, ems=EmsSettings()))


def plan_ambulances(prepared: Prepared, *, solver: str | None = None, time_limit_s: float | None = None,
                    mip_gap: float | None = None) -> EmsPlan:
    """The best stations and ambulances for `prepared` under its budget, nothing else placed.

    Raises DataError when the region has no (reachable) stations, InfeasibleError when the hard fleet norm cannot
    be met within the budget, SolverError when the solver ends without a plan.
    """
    return solve_ambulances(prepared_problem(with_ems(prepared)), solver=solver, time_limit_s=time_limit_s,
                            mip_gap=mip_gap)


def solve_ambulances(problem: Problem, *, solver: str | None = None, time_limit_s: float | None = None,
                     mip_gap: float | None = None) -> EmsPlan:
    """`plan_ambulances` for a problem whose scenario has `[ems]`."""
    limits = ems_limits(problem)
    if limits:
        raise InfeasibleError("no plan can meet the hard targets at any cost:\n- " + "\n- ".join(limits))
    m = AllocationModel(problem=problem, objective="gap", lp=pulp.LpProblem("allocopt_ems", pulp.LpMinimize),
                        services=())
    add_ambulances(m, problem)
    add_budget(m, problem)
    assert m.ems is not None, "the problem has [ems]"
    m.stages = [m.ems.objective, m.capital_yuan + m.annual_yuan]
    m.lp.setObjective(pulp.LpAffineExpression(m.stages[0]))
    for var in (*m.ems.amb.values(), *m.ems.amb_open.values()):
        var.setInitialValue(0)
    outcomes = solve_model(m, solver=solver or DEFAULT_SOLVER, time_limit_s=time_limit_s, mip_gap=mip_gap,
                           warm_start=True)
    last = outcomes[-1]
    if last.status == "infeasible":
        raise InfeasibleError(_fleet_message(m))
    if not last.has_plan:
        raise SolverError(f"solver {last.solver!r} found no ambulance plan (status {last.status!r}); raise the "
                          "time limit")
    ems = ems_result_from_model(m, relative_tolerance=_TOLERANCE)
    table = ems.allocations(ALLOCATION_COLUMNS)
    budget = problem.scenario.budget
    return EmsPlan(ems=ems, status=plan_status(outcomes), gap=plan_gap(outcomes), solver=outcomes[0].solver,
                   seconds=sum(o.seconds for o in outcomes),
                   budget={k: v for k, v in vars(budget).items() if v is not None},
                   capital_yuan=float(table["capital_yuan"].sum()), annual_yuan=float(table["annual_yuan"].sum()))


def _fleet_message(m: AllocationModel) -> str:
    """Why no ambulance plan fits: the hard fleet norm costs more than the budget allows."""
    data = m.problem.ems
    assert data is not None, "the problem has [ems]"
    settings = data.settings
    missing = settings.fleet_norm(data.population) - data.fleet_today
    least = missing * (settings.ambulance_capital_yuan + settings.ambulance_annual_yuan)
    return (f"ems.fleet_norm_hard: the norm of one ambulance per {settings.residents_per_ambulance:,.0f} residents "
            f"asks for {missing} more ambulances, at least {least:,.0f} yuan (capital plus a year of crews), more "
            "than the budget allows; raise the budget or set fleet_norm_hard = false")


def write_ems_plan(prepared: Prepared, plan: EmsPlan, out_dir: str | Path, *, overwrite: bool = False) -> Path:
    """Write summary.json, allocations.csv, ems_stations.csv, ems_demand.csv, result.gpkg and ems_map.png (in
    English, the fallback language)."""
    region, tr = prepared.region, translator(FALLBACK_LANGUAGE)
    assert region.ems_stations is not None, "an ambulance plan has stations"
    stations = region.ems_stations[["id", "geometry"]].merge(plan.ems.stations, on="id", how="left")
    demand = region.demand[["id", "geometry"]].merge(plan.ems.demand, on="id", how="left")
    with atomic_output_dir(out_dir, kind=EMS_KIND, overwrite=overwrite, inputs=input_paths(prepared)) as staging:
        write_json(plan.summary(prepared), staging / "summary.json")
        write_csv(plan.allocations, staging / "allocations.csv")
        write_csv(plan.ems.stations, staging / "ems_stations.csv")
        write_csv(plan.ems.demand, staging / "ems_demand.csv")
        write_geopackage({"ems_stations": stations, "demand": demand}, staging / "result.gpkg")
        save_ems_map(ems_station_map(region.townships, region.demand, region.ems_stations,
                                     demand_figures=plan.ems.demand, station_figures=plan.ems.stations,
                                     summary=plan.ems.summary(),
                                     title=map_title(tr, region.name, prepared.scenario.name, tr("maps.ems.title"))),
                     staging / "ems_map.png")
    return Path(out_dir)
