"""The p-median as solved: the heuristic start, the exact reductions it allows, the capacitated bound's guesses,
then the LP relaxation and the MIP; and `run_model`, the solve every classic model shares.

`classic.p_median` checks the inputs and turns positions into IDs; the formulations are in `pmedian`, the
capacitated bound in `capacitated`. This flow is a module of its own because it builds on both, and
`capacitated` builds on `pmedian`.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pulp

from allocopt.errors import InfeasibleError, SolverError
from allocopt.model.capacitated import capacitated_relaxation, guesses
from allocopt.model.heuristics import greedy, interchange, plan_cost
from allocopt.model.pmedian import (
    Formulation,
    SiteFixing,
    assignment_formulation,
    cost_caps,
    lagrangian_bound,
    lagrangian_fixing,
    no_fixing,
    radius_formulation,
)
from allocopt.solve import SolveOutcome, solve


@dataclass(frozen=True)
class PMedianSolve:
    """The solved formulation and how the solve went: `heuristic_objective` is the start plan's value (None
    without one), `lp_bound` the LP relaxation's (None when not solved to optimality); `build_seconds` covers
    heuristic, reductions and model building, `solver_seconds` the solver runs."""

    outcome: SolveOutcome
    model: Formulation
    heuristic_objective: float | None
    lp_bound: float | None
    build_seconds: float
    solver_seconds: float


def solve_pmedian(
    c: np.ndarray,
    w: np.ndarray,
    *,
    p: int,
    capacity: np.ndarray | None,
    load: np.ndarray,
    formulation: str,
    reduce: bool,
    lp_relaxation: bool,
    solver: str,
    time_limit_s: float | None,
    mip_gap: float | None,
) -> PMedianSolve:
    """Solve the p-median on costs `c` (demand units x sites) and weights `w`, inputs checked already (see
    `classic.p_median`). With `capacity` and `reduce`, the capacitated Lagrangian bound's guesses: each solve
    keeps only the plans within a guessed value, and a plan above the guess is solved again from, against its
    own value, which proves it or beats it."""
    started = time.perf_counter()
    deadline = None if time_limit_s is None else started + time_limit_s
    plan: np.ndarray | None = None
    assignment: np.ndarray | None = None
    relaxation = None
    if capacity is None:
        plan, fixing, caps = _plan_and_reductions(c, w, p=p, reduce=reduce)
    else:
        fixing, caps = no_fixing(c.shape[1]), np.full(c.shape[0], np.inf)
        if reduce:
            weighted = _weighted(c, w)
            start = interchange(weighted, greedy(weighted, p=p))
            relaxation = capacitated_relaxation(weighted, load, capacity, p=p, start=start)
    build = radius_formulation if capacity is None and formulation != "assignment" else assignment_formulation
    options: dict[str, Any] = {"capacity": capacity, "loads": load} if build is assignment_formulation else {}
    limit = "" if capacity is None else " within the site capacities"
    run: dict[str, Any] = {
        "solver": solver,
        "mip_gap": mip_gap,
        "infeasible": f"no {p} open sites can serve every demand unit at finite cost{limit}; raise p"
        + ("" if capacity is None else " or the capacities"),
    }
    uppers = [math.inf] if relaxation is None else guesses(relaxation.bound)
    solver_seconds = 0.0
    while True:
        upper = uppers.pop(0)
        if relaxation is not None and math.isfinite(upper):
            fixing, options["pair_mask"] = relaxation.reductions(upper)
        model = build(c, w, p=p, fixing=fixing, caps=caps, **options)
        solving = time.perf_counter()
        guessed = math.isfinite(upper) and plan is None
        try:
            outcome, relaxed = _solve_pmedian(model, plan, assignment, deadline=deadline, lp_relaxation=lp_relaxation,
                                              **run)
        except InfeasibleError:
            if not guessed:
                raise
            solver_seconds += time.perf_counter() - solving
            continue  # no plan within the guess: the optimum lies above it
        solver_seconds += time.perf_counter() - solving
        if not (outcome.status == "optimal" and math.isfinite(upper) and outcome.objective is not None
                and outcome.objective > upper + 1e-9 * max(1.0, abs(upper))):
            break
        # a plan above the guess: reduce against its value and solve again from it, which proves it or beats it
        plan, assignment = model.opened(), model.assigned()
        uppers = [outcome.objective]
    if relaxation is not None and math.isfinite(upper) and outcome.best_bound is not None:
        # every plan of value <= upper is in the reduced model, so min(its bound, upper) bounds them all
        outcome = replace(outcome, best_bound=min(outcome.best_bound, upper))
    served = None if plan is None else (
        c[:, plan].min(axis=1) if assignment is None else c[np.arange(len(assignment)), assignment])
    return PMedianSolve(
        outcome=outcome,
        model=model,
        heuristic_objective=None if served is None else float(np.sum(w * served)),
        lp_bound=None if relaxed is None or relaxed.status != "optimal" else relaxed.objective,
        build_seconds=time.perf_counter() - started - solver_seconds,
        solver_seconds=solver_seconds,
    )


def _solve_pmedian(
    model: Formulation,
    plan: np.ndarray | None,
    assignment: np.ndarray | None,
    *,
    deadline: float | None,
    lp_relaxation: bool,
    **run: Any,
) -> tuple[SolveOutcome, SolveOutcome | None]:
    """The LP relaxation (with `lp_relaxation`) and the MIP from the start plan, within the time left before
    `deadline`; the MIP keeps at least a second to hand back the start plan."""
    left = None if deadline is None else max(deadline - time.perf_counter(), 1.0)
    relaxed = _relaxation(model, time_limit_s=left, **run) if lp_relaxation else None
    if plan is not None:
        model.start(plan, assignment) if assignment is not None else model.start(plan)
    left = None if deadline is None else max(deadline - time.perf_counter(), 1.0)
    return run_model(model.model, warm_start=plan is not None, time_limit_s=left, **run), relaxed


def _weighted(c: np.ndarray, w: np.ndarray) -> np.ndarray:
    """weight x cost, `inf` where the cost is."""
    return np.where(np.isfinite(c), w[:, None] * np.where(np.isfinite(c), c, 0.0), np.inf)


def _plan_and_reductions(
    c: np.ndarray, w: np.ndarray, *, p: int, reduce: bool
) -> tuple[np.ndarray | None, SiteFixing, np.ndarray]:
    """The greedy + interchange plan (None when it leaves a unit unserved) and, with `reduce`, the sites it
    proves closed or open and each unit's cost cap (see `pmedian`); without, no fixing and no caps.

    With `reduce` the sites that the Lagrangian relaxation opens start a second interchange, and the better
    of the two plans is the bound the fixing tests use.
    """
    weighted = _weighted(c, w)
    plan = interchange(weighted, greedy(weighted, p=p))
    if not math.isfinite(plan_cost(weighted, plan)):
        return None, no_fixing(c.shape[1]), np.full(c.shape[0], np.inf)
    if not reduce:
        return plan, no_fixing(c.shape[1]), np.full(c.shape[0], np.inf)
    relaxation = lagrangian_bound(weighted, p=p, upper_bound=plan_cost(weighted, plan))
    plan = min(plan, interchange(weighted, relaxation.sites), key=lambda sites: plan_cost(weighted, sites))
    fixing = lagrangian_fixing(weighted, relaxation, p=p, upper_bound=plan_cost(weighted, plan))
    return plan, fixing, cost_caps(c, p=p, fixing=fixing)


def _relaxation(model: Formulation, **run: Any) -> SolveOutcome:
    """Solve the LP relaxation of the model (integer variables made continuous, then restored)."""
    categories = [var.cat for var in model.integer_vars]
    for var in model.integer_vars:
        var.cat = pulp.LpContinuous
    try:
        return run_model(model.model, **run)
    finally:
        for var, category in zip(model.integer_vars, categories, strict=True):
            var.cat = category


def run_model(
    model: pulp.LpProblem,
    *,
    solver: str,
    time_limit_s: float | None,
    mip_gap: float | None,
    infeasible: str | None = None,
    warm_start: bool = False,
) -> SolveOutcome:
    """Solve (from the variables' current values with `warm_start`); an infeasible model raises
    InfeasibleError with the given message, or SolverError when the model cannot be infeasible (nor ever
    unbounded) and the solver says so all the same."""
    outcome = solve(model, solver=solver, time_limit_s=time_limit_s, mip_gap=mip_gap, warm_start=warm_start)
    if outcome.status == "infeasible" and infeasible is not None:
        raise InfeasibleError(infeasible)
    if outcome.status in ("infeasible", "unbounded"):
        raise SolverError(f"solver {solver!r} reported the {model.name} model {outcome.status}, which it cannot be")
    return outcome
