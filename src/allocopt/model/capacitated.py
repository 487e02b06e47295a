"""Single-source capacitated location: whether p sites can serve every demand unit within a radius without
overloading a site, and the search over radii built on it (the capacitated p-center of `classic.p_center`)."""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from allocopt.errors import InfeasibleError
from allocopt.model.pmedian import assignment_formulation, no_fixing
from allocopt.solve import solve


@dataclass(frozen=True)
class AssignmentDecision:
    """`answer` is "yes" (`sites` holds at most p open site positions and `assignment` the site position
    serving each demand unit), "no" (no such plan exists) or "unknown" (the time limit came first)."""

    answer: str
    sites: np.ndarray | None
    assignment: np.ndarray | None
    solver_version: str


@dataclass(frozen=True)
class RadiusSearch:
    """The best plan `search_radius` found (a "yes" decision, or "unknown" when none came in time), the
    smallest radius not ruled out (`bound`) and whether the plan's radius is proven smallest."""

    plan: AssignmentDecision
    bound: float
    proven: bool


def check_capacity(capacity: np.ndarray, load: np.ndarray, *, p: int) -> None:
    """InfeasibleError when even the p largest capacities cannot hold the total load."""
    best = float(np.sort(capacity)[::-1][:p].sum())
    if best < load.sum():
        raise InfeasibleError(
            f"the {p} largest site capacities add up to {best:g}, less than the total demand "
            f"{load.sum():g}; raise capacities or p"
        )


def search_radius(
    costs: np.ndarray,
    *,
    lower: float,
    p: int,
    capacity: np.ndarray,
    loads: np.ndarray,
    solver: str,
    deadline: float | None,
) -> RadiusSearch:
    """The smallest of the finite costs >= `lower` at which `decide_assignment` says yes: a binary search,
    exact because a plan within a radius is a plan within every larger one. The largest radius is decided
    first: "no" there raises InfeasibleError. Past `deadline` (a `time.perf_counter()` value) the search stops
    with the best plan so far."""
    levels = np.unique(costs[np.isfinite(costs) & (costs >= lower)])

    def decide(k: int) -> AssignmentDecision:
        left = None if deadline is None else deadline - time.perf_counter()
        if left is not None and left <= 0:
            return AssignmentDecision("unknown", None, None, "")
        return decide_assignment(costs, float(levels[k]), p=p, capacity=capacity, loads=loads, solver=solver,
                                 time_limit_s=left)

    low, high = 0, len(levels) - 1
    best = decide(high)
    if best.answer == "no":
        raise InfeasibleError(f"no {p} open sites can serve every demand unit within the site capacities; "
                              "raise p or the capacities")
    if best.answer == "unknown":
        return RadiusSearch(best, float(levels[0]), False)
    while low < high:
        middle = (low + high) // 2
        decision = decide(middle)
        if decision.answer == "unknown":
            break
        if decision.answer == "yes":
            high, best = middle, decision
        else:
            low = middle + 1
    return RadiusSearch(best, float(levels[low]), low >= high)


def decide_assignment(
    costs: np.ndarray,
    radius: float,
    *,
    p: int,
    capacity: np.ndarray,
    loads: np.ndarray,
    solver: str,
    time_limit_s: float | None,
) -> AssignmentDecision:
    """Whether p open sites can serve every demand unit, each from one site at cost <= `radius`, with the
    loads assigned to each site within its capacity: the single-source `assignment_formulation` restricted to
    the pairs within the radius (every unit's cap), with a zero objective, so any feasible plan answers.
    """
    n, m = costs.shape
    if not (costs <= radius).any(axis=1).all():
        return AssignmentDecision("no", None, None, "")
    model = assignment_formulation(costs, np.zeros(n), p=p, fixing=no_fixing(m), caps=np.full(n, radius),
                                   capacity=capacity, loads=loads)
    outcome = solve(model.model, solver=solver, time_limit_s=time_limit_s)
    if outcome.status == "infeasible":
        return AssignmentDecision("no", None, None, outcome.solver_version)
    if not outcome.has_plan:
        return AssignmentDecision("unknown", None, None, outcome.solver_version)
    return AssignmentDecision("yes", model.opened(), model.assigned(), outcome.solver_version)
