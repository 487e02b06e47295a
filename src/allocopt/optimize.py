"""One call from a region, its travel matrix and a scenario to a Result: check, build, solve, explain, report."""

from __future__ import annotations

from collections.abc import Callable

from allocopt.errors import InfeasibleError, SolverError
from allocopt.model import build_model, build_problem, check_attainable, explain_infeasible, solve_model
from allocopt.model.problem import Problem, RegionLike
from allocopt.results import Result, build_result
from allocopt.scenario import Scenario
from allocopt.solve import DEFAULT_SOLVER
from allocopt.travel import MatrixLike


def optimize(region: RegionLike, matrix: MatrixLike, scenario: Scenario, *, objective: str = "gap",
             solver: str = DEFAULT_SOLVER, time_limit_s: float | None = None, mip_gap: float | None = None,
             travel_cutoff_minutes: float | None = None, site_matrix: MatrixLike | None = None,
             on_step: Callable[[str], None] | None = None) -> Result:
    """Best plan for `region` under `scenario` by `objective` (see model.OBJECTIVES), with before/after figures.

    `on_step`, when given, is told before each long step what it is about to do. A scenario with `[tiers]` needs
    `site_matrix`, the site x hospital minutes (`consortium.site_hospital_matrix`).

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
                     travel_cutoff_minutes: float | None = None,
                     on_step: Callable[[str], None] | None = None) -> Result:
    """`optimize` for a prepared Problem (tests, sweeps that reuse one problem)."""
    step = on_step or (lambda _: None)
    check_attainable(problem)
    step(f"Building the {objective} model")
    model = build_model(problem, objective=objective, travel_cutoff_minutes=travel_cutoff_minutes)
    limit = f", time limit {time_limit_s:g} s" if time_limit_s is not None else ""
    step(f"Solving with {solver} ({model.lp.numVariables():,} variables, "
         f"{model.lp.numConstraints():,} constraints{limit})")
    outcomes = solve_model(model, solver=solver, time_limit_s=time_limit_s, mip_gap=mip_gap)
    last = outcomes[-1]
    if last.status == "infeasible":
        step("Explaining why no plan fits")
        raise InfeasibleError(explain_infeasible(problem, solver=solver, time_limit_s=time_limit_s, mip_gap=mip_gap))
    if not last.has_plan:
        limit = f" within the time limit of {time_limit_s:g} s" if time_limit_s is not None else ""
        raise SolverError(f"solver {solver!r} found no plan{limit} (status {last.status!r}); raise the time limit "
                          "or try the other solver")
    step("Recomputing access from the plan")
    return build_result(model, outcomes, time_limit_s=time_limit_s, mip_gap=mip_gap)
