"""Classic location models on plain cost matrices: p-median (optionally capacitated), MCLP, LSCP and p-center.

Every model is sparse: assignment variables only where a cost is finite, coverage rows only for pairs within the
radius, demand units with identical coverage sets merged. Results are keyed by demand and site IDs.
Objective of each model, as reported: pmedian = sum of weight x cost, mclp = covered weight, lscp = number of
open sites, pcenter = largest cost from a demand unit to its assigned site.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import numpy as np
import pulp

from allocopt.costs import CostMatrix, capacities_array, weights_array
from allocopt.errors import InfeasibleError, ScenarioError, SolverError
from allocopt.solve import DEFAULT_SOLVER, SolveOutcome, relative_gap, solve

MODELS = ("pmedian", "mclp", "lscp", "pcenter")

OBJECTIVE_MEANING: Mapping[str, str] = MappingProxyType(
    {
        "pmedian": "sum of weight x cost over demand units, each to its assigned site",
        "mclp": "total weight of demand units with an open site within the radius",
        "lscp": "number of open sites",
        "pcenter": "largest cost from a demand unit to its assigned site",
    }
)


@dataclass(frozen=True)
class LocateResult:
    """The plan a classic model chose: open sites, assignment, objective and how the solver fared.

    `assignment` maps demand id -> site id for the models that assign (pmedian, pcenter) and is empty for the
    coverage models; `covered` lists the demand ids within reach of an open site (mclp, lscp). Both are empty,
    like `sites`, when no plan was found (status "not_solved").
    """

    model: str
    status: str
    objective: float | None
    sites: tuple[str, ...]
    assignment: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    covered: tuple[str, ...] = ()
    gap: float | None = None
    solver: str = ""
    solver_version: str = ""
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready dictionary, with the meaning of the objective spelled out."""
        return {
            "model": self.model,
            "status": self.status,
            "objective": self.objective,
            "objective_meaning": OBJECTIVE_MEANING[self.model],
            "sites": list(self.sites),
            "assignment": dict(self.assignment),
            "covered": list(self.covered),
            "gap": self.gap,
            "solver": self.solver,
            "solver_version": self.solver_version,
            "seconds": self.seconds,
        }


def p_median(
    costs: CostMatrix,
    *,
    p: int,
    weights: Mapping[str, float] | None = None,
    capacities: Mapping[str, float] | None = None,
    solver: str = DEFAULT_SOLVER,
    time_limit_s: float | None = None,
    mip_gap: float | None = None,
) -> LocateResult:
    """Open p sites minimizing the sum of weight x cost, each demand unit served by one open site.

    With `capacities` (site id -> capacity in weight units) this is the capacitated p-median with single
    sourcing: the weights assigned to a site must fit its capacity. Assignment variables exist only where the
    cost is finite. Raises InfeasibleError when a demand unit reaches no site or the capacities cannot hold
    the demand.
    """
    _check_p(costs, p)
    w = weights_array(costs.demand_ids, weights)
    _check_reachable(costs, np.isfinite(costs.costs), what="has a finite cost to no site")
    capacity = None if capacities is None else capacities_array(costs.site_ids, capacities)
    if capacity is not None:
        best = float(np.sort(capacity)[::-1][:p].sum())
        if best < w.sum():
            raise InfeasibleError(
                f"the {p} largest site capacities add up to {best:g}, less than the total demand weight "
                f"{w.sum():g}; raise capacities or p"
            )
    model = pulp.LpProblem("pmedian", pulp.LpMinimize)
    y = _open_variables(model, costs)
    rows, cols = (positions.tolist() for positions in np.nonzero(np.isfinite(costs.costs)))
    cat = pulp.LpContinuous if capacity is None else pulp.LpBinary
    x = [model.add_variable(f"assign_{i}_{j}", 0, 1, cat) for i, j in zip(rows, cols, strict=True)]
    model.setObjective(
        pulp.LpAffineExpression(
            (var, w[i] * costs.costs[i, j]) for var, i, j in zip(x, rows, cols, strict=True) if w[i] != 0
        )
    )
    by_demand: list[list[pulp.LpVariable]] = [[] for _ in costs.demand_ids]
    for var, i, j in zip(x, rows, cols, strict=True):
        by_demand[i].append(var)
        _add(model, [(var, 1.0), (y[j], -1.0)], pulp.LpConstraintLE, 0.0, f"link_{i}_{j}")
    for i, assigned in enumerate(by_demand):
        _add(model, [(var, 1.0) for var in assigned], pulp.LpConstraintEQ, 1.0, f"serve_{i}")
    _add(model, [(var, 1.0) for var in y], pulp.LpConstraintEQ, float(p), "count")
    if capacity is not None:
        loads: list[list[tuple[pulp.LpVariable, float]]] = [[] for _ in costs.site_ids]
        for var, i, j in zip(x, rows, cols, strict=True):
            if w[i] != 0:
                loads[j].append((var, float(w[i])))
        for j, load in enumerate(loads):
            _add(model, [*load, (y[j], -float(capacity[j]))], pulp.LpConstraintLE, 0.0, f"capacity_{j}")
    limit = "" if capacity is None else " within the site capacities"
    outcome = _run(
        model,
        solver=solver,
        time_limit_s=time_limit_s,
        mip_gap=mip_gap,
        infeasible=f"no {p} open sites can serve every demand unit at finite cost{limit}; raise p"
        + ("" if capacity is None else " or the capacities"),
    )
    if not outcome.has_plan:
        return _no_plan("pmedian", outcome)
    open_sites = _opened(y)
    if capacity is None:
        choice = _nearest_open(costs, open_sites)
    else:
        choice = np.full(len(costs.demand_ids), -1)
        for var, i, j in zip(x, rows, cols, strict=True):
            if (var.varValue or 0.0) > 0.5:
                choice[i] = j
    objective = float(np.sum(w * costs.costs[np.arange(len(choice)), choice]))
    return _result("pmedian", outcome, costs, open_sites, objective, assignment=choice)


def mclp(
    costs: CostMatrix,
    *,
    p: int,
    radius: float,
    weights: Mapping[str, float] | None = None,
    solver: str = DEFAULT_SOLVER,
    time_limit_s: float | None = None,
    mip_gap: float | None = None,
) -> LocateResult:
    """Open p sites maximizing the weight of demand units that have an open site within `radius` (cost units).

    Demand units with the same set of sites within reach share one coverage variable; units no site reaches
    are left out of the model and stay uncovered.
    """
    _check_p(costs, p)
    _check_radius(radius)
    w = weights_array(costs.demand_ids, weights)
    within = costs.costs <= radius
    model = pulp.LpProblem("mclp", pulp.LpMaximize)
    y = _open_variables(model, costs)
    objective_terms: list[tuple[pulp.LpVariable, float]] = []
    for g, (sites, members) in enumerate(_coverage_groups(within)):
        weight = float(w[members].sum())
        if not sites or weight == 0:
            continue
        z = model.add_variable(f"cover_{g}", 0, 1)
        objective_terms.append((z, weight))
        _add(model, [(z, 1.0), *((y[j], -1.0) for j in sites)], pulp.LpConstraintLE, 0.0, f"reach_{g}")
    model.setObjective(pulp.LpAffineExpression(objective_terms))
    _add(model, [(var, 1.0) for var in y], pulp.LpConstraintEQ, float(p), "count")
    outcome = _run(model, solver=solver, time_limit_s=time_limit_s, mip_gap=mip_gap)
    if not outcome.has_plan:
        return _no_plan("mclp", outcome)
    open_sites = _opened(y)
    covered = np.asarray(within[:, open_sites].any(axis=1), dtype=bool)
    return _result("mclp", outcome, costs, open_sites, float(w[covered].sum()), covered=covered)


def lscp(
    costs: CostMatrix,
    *,
    radius: float,
    solver: str = DEFAULT_SOLVER,
    time_limit_s: float | None = None,
    mip_gap: float | None = None,
) -> LocateResult:
    """Open the fewest sites such that every demand unit has an open site within `radius` (cost units).

    Raises InfeasibleError naming the demand units that no site reaches within the radius.
    """
    _check_radius(radius)
    within = costs.costs <= radius
    _check_reachable(costs, within, what=f"has no site within radius {radius:g}")
    model = pulp.LpProblem("lscp", pulp.LpMinimize)
    y = _open_variables(model, costs)
    model.setObjective(pulp.LpAffineExpression((var, 1.0) for var in y))
    for g, (sites, _members) in enumerate(_coverage_groups(within)):
        _add(model, [(y[j], 1.0) for j in sites], pulp.LpConstraintGE, 1.0, f"reach_{g}")
    outcome = _run(model, solver=solver, time_limit_s=time_limit_s, mip_gap=mip_gap)
    if not outcome.has_plan:
        return _no_plan("lscp", outcome)
    open_sites = _opened(y)
    covered = np.asarray(within[:, open_sites].any(axis=1), dtype=bool)
    return _result("lscp", outcome, costs, open_sites, float(len(open_sites)), covered=covered)


def p_center(
    costs: CostMatrix,
    *,
    p: int,
    solver: str = DEFAULT_SOLVER,
    time_limit_s: float | None = None,
    mip_gap: float | None = None,
) -> LocateResult:
    """Open p sites minimizing the largest cost from any demand unit to its nearest open site.

    Formulation over the sorted distinct cost levels D_0 < D_1 < ... (Elloumi, Labbe and Pochet, 2004):
    u_k = 1 when the largest cost is at least D_k; minimize D_0 + sum_k (D_k - D_{k-1}) u_k subject to
    u_k + sum_{j: c_ij < D_k} y_j >= 1. D_0 is the lower bound max_i min_j c_ij, and for each demand unit only
    the rows where its set of nearer sites changes are kept (u is monotone, so the others are implied).
    """
    _check_p(costs, p)
    finite = np.isfinite(costs.costs)
    _check_reachable(costs, finite, what="has a finite cost to no site")
    lower = float(np.min(costs.costs, axis=1).max())
    levels = np.unique(costs.costs[finite & (costs.costs > lower)])
    model = pulp.LpProblem("pcenter", pulp.LpMinimize)
    y = _open_variables(model, costs)
    u = [model.add_variable(f"above_{k}", cat=pulp.LpBinary) for k in range(len(levels))]
    steps = np.diff(np.concatenate(([lower], levels)))
    model.setObjective(pulp.LpAffineExpression(zip(u, steps.tolist(), strict=True), constant=lower))
    _add(model, [(var, 1.0) for var in y], pulp.LpConstraintEQ, float(p), "count")
    for k in range(len(u) - 1):
        _add(model, [(u[k], 1.0), (u[k + 1], -1.0)], pulp.LpConstraintGE, 0.0, f"monotone_{k}")
    for i, row in enumerate(costs.costs):
        reachable = np.flatnonzero(np.isfinite(row))
        _add(model, [(y[j], 1.0) for j in reachable], pulp.LpConstraintGE, 1.0, f"serve_{i}")
        for value in np.unique(row[reachable]):
            if value <= lower:
                continue
            k = int(np.searchsorted(levels, value))
            nearer = np.flatnonzero(row < value)
            _add(model, [(u[k], 1.0), *((y[j], 1.0) for j in nearer)], pulp.LpConstraintGE, 1.0, f"level_{i}_{k}")
    outcome = _run(
        model,
        solver=solver,
        time_limit_s=time_limit_s,
        mip_gap=mip_gap,
        infeasible=f"no {p} open sites can serve every demand unit at finite cost; raise p",
    )
    if not outcome.has_plan:
        return _no_plan("pcenter", outcome)
    open_sites = _opened(y)
    choice = _nearest_open(costs, open_sites)
    objective = float(costs.costs[np.arange(len(choice)), choice].max())
    return _result("pcenter", outcome, costs, open_sites, objective, assignment=choice)


def _check_p(costs: CostMatrix, p: int) -> None:
    """p must be a whole number between 1 and the number of sites."""
    if isinstance(p, bool) or not isinstance(p, int | np.integer) or not 1 <= p <= len(costs.site_ids):
        raise ScenarioError(f"p must be a whole number from 1 to the {len(costs.site_ids)} sites, got {p!r}")


def _check_radius(radius: float) -> None:
    """The radius must be a finite number >= 0, in the units of the costs."""
    if not np.isfinite(radius) or radius < 0:
        raise ScenarioError(f"radius must be a finite number >= 0 in the units of the costs, got {radius!r}")


def _check_reachable(costs: CostMatrix, reach: np.ndarray, *, what: str) -> None:
    """InfeasibleError naming every demand unit whose row of `reach` is all False."""
    stranded = [costs.demand_ids[i] for i in np.flatnonzero(~reach.any(axis=1))]
    if stranded:
        shown = ", ".join(repr(i) for i in stranded[:20])
        more = f" and {len(stranded) - 20} more" if len(stranded) > 20 else ""
        raise InfeasibleError(
            f"{len(stranded)} demand unit(s) {what}: {shown}{more}; add sites that reach them or drop them"
        )


def _open_variables(model: pulp.LpProblem, costs: CostMatrix) -> list[pulp.LpVariable]:
    """One binary open_j per site, in the order of `costs.site_ids`."""
    return [model.add_variable(f"open_{j}", cat=pulp.LpBinary) for j in range(len(costs.site_ids))]


def _add(
    model: pulp.LpProblem, terms: Iterable[tuple[pulp.LpVariable, float]], sense: int, rhs: float, name: str
) -> None:
    """Add the row sum(terms) <sense> rhs, built directly from (variable, coefficient) pairs."""
    model.addConstraint(pulp.LpConstraint(pulp.LpAffineExpression(terms), sense, name, rhs))


def _coverage_groups(within: np.ndarray) -> list[tuple[tuple[int, ...], np.ndarray]]:
    """Demand units grouped by their set of sites within reach: (site positions, member row positions)."""
    groups: dict[tuple[int, ...], list[int]] = {}
    for i, row in enumerate(within):
        groups.setdefault(tuple(np.flatnonzero(row).tolist()), []).append(i)
    return [(sites, np.asarray(members)) for sites, members in groups.items()]


def _run(
    model: pulp.LpProblem,
    *,
    solver: str,
    time_limit_s: float | None,
    mip_gap: float | None,
    infeasible: str | None = None,
) -> SolveOutcome:
    """Solve; an infeasible model raises InfeasibleError with the given message, or SolverError when the
    model cannot be infeasible (nor ever unbounded) and the solver says so all the same."""
    outcome = solve(model, solver=solver, time_limit_s=time_limit_s, mip_gap=mip_gap)
    if outcome.status == "infeasible" and infeasible is not None:
        raise InfeasibleError(infeasible)
    if outcome.status in ("infeasible", "unbounded"):
        raise SolverError(f"solver {solver!r} reported the {model.name} model {outcome.status}, which it cannot be")
    return outcome


def _opened(y: list[pulp.LpVariable]) -> np.ndarray:
    """Positions of the open sites in the solved plan."""
    return np.asarray([j for j, var in enumerate(y) if (var.varValue or 0.0) > 0.5], dtype=np.int64)


def _nearest_open(costs: CostMatrix, open_sites: np.ndarray) -> np.ndarray:
    """For each demand unit the position of its cheapest open site."""
    return open_sites[np.argmin(costs.costs[:, open_sites], axis=1)]


def _no_plan(name: str, outcome: SolveOutcome) -> LocateResult:
    """A result for a run that stopped before finding any plan."""
    return LocateResult(
        model=name,
        status=outcome.status,
        objective=None,
        sites=(),
        gap=None,
        solver=outcome.solver,
        solver_version=outcome.solver_version,
        seconds=outcome.seconds,
    )


def _result(
    name: str,
    outcome: SolveOutcome,
    costs: CostMatrix,
    open_sites: np.ndarray,
    objective: float,
    *,
    assignment: np.ndarray | None = None,
    covered: np.ndarray | None = None,
) -> LocateResult:
    """Turn positions back into IDs; the gap is recomputed against the objective as reported."""
    mapping = (
        {}
        if assignment is None
        else {costs.demand_ids[i]: costs.site_ids[j] for i, j in enumerate(assignment.tolist())}
    )
    return LocateResult(
        model=name,
        status=outcome.status,
        objective=objective,
        sites=tuple(costs.site_ids[j] for j in open_sites.tolist()),
        assignment=MappingProxyType(mapping),
        covered=() if covered is None else tuple(costs.demand_ids[i] for i in np.flatnonzero(covered).tolist()),
        gap=relative_gap(objective, outcome.best_bound),
        solver=outcome.solver,
        solver_version=outcome.solver_version,
        seconds=outcome.seconds,
    )
