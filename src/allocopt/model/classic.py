"""Classic location models on plain cost matrices: p-median (optionally capacitated), MCLP, LSCP and p-center.

The p-median and the coverage models are built from sparse arrays: the p-median in the radius formulation (cost
levels per demand unit, see `pmedian`) after a greedy + interchange plan and the exact reductions it allows, or
in the assignment formulation when sites have capacities (solved in `pmedian_solve`); the coverage models with
demand units of identical coverage merged and dominated sites removed; the p-center as a binary search over
radii, each decided as a set cover. Results are keyed by demand and site IDs.
Objective of each model, as reported: pmedian = sum of weight x cost, mclp = covered weight, lscp = number of
open sites, pcenter = largest cost from a demand unit to its assigned site.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Any

import numpy as np
import pulp
import scipy
import scipy.sparse as sp

from allocopt.costs import CostMatrix, capacities_array, weights_array
from allocopt.errors import InfeasibleError, ScenarioError
from allocopt.model import max_cover, set_cover
from allocopt.model._lp import add_rows
from allocopt.model.capacitated import check_capacity, search_radius
from allocopt.model.heuristics import (
    center_greedy,
    coverage_greedy,
    coverage_interchange,
    covered_weight,
    greedy,
)
from allocopt.model.pmedian import FORMULATIONS
from allocopt.model.pmedian_solve import run_model, solve_pmedian
from allocopt.solve import DEFAULT_SOLVER, SolveOutcome, check_options, relative_gap

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

    For the p-median: `formulation` is the model solved ("radius" or "assignment"), `heuristic_objective` the
    value of the greedy + interchange plan (an upper bound, and the solver's starting plan), `lp_bound` the LP
    relaxation of the model as solved (a lower bound: the reductions only remove plans worse than the
    heuristic's). `build_seconds` covers heuristic, reductions and model building; `seconds` the solver runs
    (LP relaxation and MIP). The MCLP fills `heuristic_objective` (a lower bound: covered weight) and
    `lp_bound` (an upper bound) the same way, and `build_seconds`, but has no `formulation`.
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
    formulation: str = ""
    heuristic_objective: float | None = None
    lp_bound: float | None = None
    build_seconds: float = 0.0

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
            "formulation": self.formulation,
            "heuristic_objective": self.heuristic_objective,
            "lp_bound": self.lp_bound,
            "build_seconds": self.build_seconds,
        }


def p_median(
    costs: CostMatrix,
    *,
    p: int,
    weights: Mapping[str, float] | None = None,
    capacities: Mapping[str, float] | None = None,
    demands: Mapping[str, float] | None = None,
    solver: str = DEFAULT_SOLVER,
    time_limit_s: float | None = None,
    mip_gap: float | None = None,
    formulation: str = "auto",
    reduce: bool = True,
    lp_relaxation: bool = True,
) -> LocateResult:
    """Open p sites minimizing the sum of weight x cost, each demand unit served by one open site.

    With `capacities` (site id -> capacity) this is the capacitated p-median with single sourcing: the load of
    the units assigned to a site must fit its capacity, a unit's load being its entry in `demands` (as in
    OR-Library's pmedcap) or, without `demands`, its weight. `formulation` "auto" takes the radius
    formulation, which scales to large instances, unless there are capacities, which need the assignment
    formulation. Without capacities a greedy + interchange plan gives the solver its start and an upper
    bound, and with `reduce` that bound closes and opens sites (Lagrangian tests) and caps each unit's cost
    levels, all without cutting off an optimum. `lp_relaxation` solves the LP relaxation first for
    `lp_bound`, within `time_limit_s`, which then bounds relaxation and MIP together. Raises InfeasibleError
    when a demand unit reaches no site or the capacities cannot hold the demand, ScenarioError for a
    formulation that cannot hold the capacities.
    """
    check_options(time_limit_s=time_limit_s, mip_gap=mip_gap)
    _check_p(costs, p)
    if formulation not in FORMULATIONS:
        raise ScenarioError(f"unknown p-median formulation {formulation!r}; choose one of: {', '.join(FORMULATIONS)}")
    w = weights_array(costs.demand_ids, weights)
    _check_reachable(costs, np.isfinite(costs.costs), what="has a finite cost to no site")
    capacity = _capacity(costs, capacities, demands)
    load = w if demands is None else weights_array(costs.demand_ids, demands)
    if capacity is not None:
        if formulation == "radius":
            raise ScenarioError(
                "the radius formulation has no assignment variables to hold site capacities; "
                "use formulation 'assignment' or 'auto'"
            )
        check_capacity(capacity, load, p=p)
    solved = solve_pmedian(costs.costs, w, p=p, capacity=capacity, load=load, formulation=formulation,
                           reduce=reduce, lp_relaxation=lp_relaxation, solver=solver, time_limit_s=time_limit_s,
                           mip_gap=mip_gap)
    extra: dict[str, Any] = {
        "formulation": solved.model.name,
        "heuristic_objective": solved.heuristic_objective,
        "lp_bound": solved.lp_bound,
        "build_seconds": solved.build_seconds,
        "seconds": solved.solver_seconds,
    }
    if not solved.outcome.has_plan:
        return replace(_no_plan("pmedian", solved.outcome), **extra)
    choice = solved.model.assigned()
    objective = float(np.sum(w * costs.costs[np.arange(len(choice)), choice]))
    return replace(_result("pmedian", solved.outcome, costs, solved.model.opened(), objective, assignment=choice),
                   **extra)


def mclp(
    costs: CostMatrix,
    *,
    p: int,
    radius: float,
    weights: Mapping[str, float] | None = None,
    solver: str = DEFAULT_SOLVER,
    time_limit_s: float | None = None,
    mip_gap: float | None = None,
    search_cells: int = max_cover.SEARCH_CELLS,
) -> LocateResult:
    """Open p sites maximizing the weight of demand units that have an open site within `radius` (cost units).

    Demand units with the same set of sites within reach share one coverage variable; units no site reaches,
    or of zero weight, are left out of the model. Dominated sites are left out too: say site j covers a subset
    of what site k covers, k kept. An optimal plan S with j in S gives one without j that covers as much:
    S - j + k when k is not in S; S - j + l for a kept l outside S when k is in S (j adds nothing beyond k);
    and when every kept site is in S already, S covers everything any plan can, and so does the plan of all
    kept sites. So the model chooses among the kept sites only (all of them when fewer than p remain), and
    the plan is filled up to p with the first sites left out, which changes no coverage that counts.

    The LP relaxation comes first (`lp_bound`, solved by HiGHS through scipy), then an interchange plan
    (`heuristic_objective`, see `_mclp_plan`). When the plan covers as much as the bound allows, it is optimal.
    Otherwise `max_cover.search` looks for a better plan within the LP duals' bounds (up to `search_cells`,
    0 to skip it); when it finishes, its answer is exact. Either way the MIP is not run (status "optimal",
    gap 0, `solver` "highs" for the LP). Otherwise the MIP starts from the plan. `build_seconds` covers
    reductions, heuristic and model building; `seconds` the LP, the search and the MIP.
    """
    check_options(time_limit_s=time_limit_s, mip_gap=mip_gap)
    _check_p(costs, p)
    _check_radius(radius)
    started = time.perf_counter()
    w = weights_array(costs.demand_ids, weights)
    within = costs.costs <= radius
    groups, group_of = _coverage_groups(within)
    group_weight = np.bincount(group_of, weights=w, minlength=groups.shape[0])
    useful = np.flatnonzero((group_weight > 0) & (np.diff(groups.indptr) > 0))
    cover = groups[useful]
    kept = _undominated(cover)
    reach = sp.csr_matrix(cover[:, kept])
    weight = group_weight[useful]
    count = min(p, len(kept))
    relaxation = max_cover.relax(reach, weight, p=count, time_limit_s=time_limit_s)
    plan, found = _mclp_plan(reach, weight, p=count, relaxation=relaxation)
    solver_seconds = 0.0 if relaxation is None else relaxation.outcome.seconds
    extra: dict[str, Any] = {
        "heuristic_objective": found,
        "lp_bound": None if relaxation is None else relaxation.bound,
        "build_seconds": time.perf_counter() - started - solver_seconds,
    }
    exact = relaxation is not None and relaxation.bound < max_cover.improvement_threshold(found, weight)
    if relaxation is not None and not exact and search_cells > 0:
        searched = max_cover.search(
            reach, weight, p=count, relaxation=relaxation,
            threshold=max_cover.improvement_threshold(found, weight), max_cells=search_cells,
        )
        solver_seconds += searched.seconds
        exact = searched.finished
        if searched.plan is not None and searched.value is not None:
            plan, found = searched.plan, searched.value
    if relaxation is not None and exact:
        # the plan is feasible and no plan covers enough more to count (see max_cover), so it is optimal
        chosen = np.sort(kept[plan])
        outcome = replace(relaxation.outcome, objective=found, best_bound=found, gap=0.0, seconds=solver_seconds)
    else:
        run: dict[str, Any] = {"solver": solver, "time_limit_s": time_limit_s, "mip_gap": mip_gap}
        if time_limit_s is not None and solver_seconds:
            # the LP and search count against the time limit; the MIP keeps a second to hand back the start plan
            run["time_limit_s"] = max(time_limit_s - solver_seconds, 1.0)
        built = time.perf_counter()
        model, y = _mclp_model(reach, weight, p=count, start=plan)
        extra["build_seconds"] += time.perf_counter() - built
        outcome = run_model(model, warm_start=True, **run)
        outcome = replace(outcome, seconds=outcome.seconds + solver_seconds)
        if not outcome.has_plan:
            return replace(_no_plan("mclp", outcome), **extra)
        chosen = kept[_opened(y)]
    filler = np.setdiff1d(np.arange(len(costs.site_ids)), chosen)[: p - len(chosen)]
    open_sites = np.sort(np.concatenate([chosen, filler]))
    covered = np.asarray(within[:, open_sites].any(axis=1), dtype=bool)
    result = _result("mclp", outcome, costs, open_sites, float(w[covered].sum()), covered=covered)
    return replace(result, **extra)


def _mclp_model(
    reach: sp.csr_matrix, weight: np.ndarray, *, p: int, start: np.ndarray
) -> tuple[pulp.LpProblem, list[pulp.LpVariable]]:
    """The MCLP over demand groups (rows of `reach`) and sites (its columns), its variables set to the plan
    that opens the site positions `start`; returns the model and the open-site variables."""
    n_groups, m = reach.shape
    model = pulp.LpProblem("mclp", pulp.LpMaximize)
    y = [model.add_variable(f"open_{j}", cat=pulp.LpBinary) for j in range(m)]
    z = [model.add_variable(f"cover_{g}", 0, 1) for g in range(n_groups)]
    model.setObjective(pulp.LpAffineExpression(zip(z, weight.tolist(), strict=True)))
    rows = sp.hstack([sp.identity(n_groups, format="csr"), -reach], format="csr")
    add_rows(model, [*z, *y], rows, sense=pulp.LpConstraintLE, rhs=0.0, prefix="reach")
    _add(model, [(var, 1.0) for var in y], pulp.LpConstraintEQ, float(p), "count")
    is_open = np.zeros(m, dtype=bool)
    is_open[start] = True
    reached = np.asarray(reach[:, start].sum(axis=1)).ravel() > 0
    for var, value in zip([*y, *z], np.concatenate([is_open, reached]).tolist(), strict=True):
        var.varValue = float(value)
    return model, y


def _mclp_plan(
    reach: sp.csr_matrix, weight: np.ndarray, *, p: int, relaxation: max_cover.Relaxation | None
) -> tuple[np.ndarray, float]:
    """A plan of p site positions and its covered weight: the interchange started from the p largest LP
    values, and unless that reaches the LP bound, the better of it and the interchange started from the
    greedy plan. The LP start is the stronger one (on OR-Library pmed3, 4, 8 and 9 it finds the optimum where
    the greedy start stops short)."""
    best: tuple[np.ndarray, float] | None = None
    if relaxation is not None:
        plan = coverage_interchange(reach, weight, np.argsort(-relaxation.fractional, kind="stable")[:p])
        best = (plan, covered_weight(reach, weight, plan))
        if relaxation.bound < max_cover.improvement_threshold(best[1], weight):
            return best
    plan = coverage_interchange(reach, weight, coverage_greedy(reach, weight, p=p))
    greedy_plan = (plan, covered_weight(reach, weight, plan))
    return greedy_plan if best is None or greedy_plan[1] > best[1] else best


def lscp(
    costs: CostMatrix,
    *,
    radius: float,
    solver: str = DEFAULT_SOLVER,
    time_limit_s: float | None = None,
    mip_gap: float | None = None,
) -> LocateResult:
    """Open the fewest sites such that every demand unit has an open site within `radius` (cost units).

    Demand units with the same coverage share one row. A site whose covered set is a subset of a kept site's
    is left out: in any cover it can be replaced by that site, which keeps it a cover and adds no site.
    Raises InfeasibleError naming the demand units that no site reaches within the radius.
    """
    _check_radius(radius)
    within = costs.costs <= radius
    _check_reachable(costs, within, what=f"has no site within radius {radius:g}")
    groups, _ = _coverage_groups(within)
    kept = _undominated(groups)
    model, y = set_cover.cover_model(sp.csr_matrix(groups[:, kept]), name="lscp")
    outcome = run_model(model, solver=solver, time_limit_s=time_limit_s, mip_gap=mip_gap)
    if not outcome.has_plan:
        return _no_plan("lscp", outcome)
    open_sites = kept[_opened(y)]
    covered = np.asarray(within[:, open_sites].any(axis=1), dtype=bool)
    return _result("lscp", outcome, costs, open_sites, float(len(open_sites)), covered=covered)


def p_center(
    costs: CostMatrix,
    *,
    p: int,
    capacities: Mapping[str, float] | None = None,
    demands: Mapping[str, float] | None = None,
    solver: str = DEFAULT_SOLVER,
    time_limit_s: float | None = None,
    mip_gap: float | None = None,
) -> LocateResult:
    """Open p sites minimizing the largest cost from any demand unit to its nearest open site.

    The optimum is one of the matrix's costs: the smallest radius D at which p sites cover every demand unit
    within D. A binary search over the distinct costs between a lower bound (the largest of the units' nearest
    costs) and the value of a greedy plan asks `set_cover.decide_cover` at each radius, on demand units grouped
    by coverage with dominated sites left out; feasibility only grows with D, so the search is exact. With a
    time limit the search may stop early: the plan is the best proven so far (status "feasible") and
    `best_bound` the smallest radius not yet ruled out. `mip_gap` has no role (each decision is exact).
    With `capacities` (site id -> capacity) it is the capacitated p-center with single sourcing, each unit's
    load (`demands`, 1 each without) counted against its one site's capacity: see `_capacitated_center`.
    """
    check_options(time_limit_s=time_limit_s, mip_gap=mip_gap)  # mip_gap: checked, but each radius is exact
    _check_p(costs, p)
    finite = np.isfinite(costs.costs)
    _check_reachable(costs, finite, what="has a finite cost to no site")
    capacity = _capacity(costs, capacities, demands)
    if capacity is not None:
        load = weights_array(costs.demand_ids, demands)
        check_capacity(capacity, load, p=p)
        return _capacitated_center(costs, p=p, capacity=capacity, load=load, solver=solver, time_limit_s=time_limit_s)
    started = time.perf_counter()
    deadline = None if time_limit_s is None else started + time_limit_s
    nearest = float(np.min(costs.costs, axis=1).max())
    levels = np.unique(costs.costs[finite & (costs.costs >= nearest)])
    plan = center_greedy(costs.costs, p=p)
    value = float(costs.costs[:, plan].min(axis=1).max())
    low, high = 0, len(levels) - 1 if not math.isfinite(value) else int(np.searchsorted(levels, value))
    version = f"scipy {scipy.__version__}"
    if not math.isfinite(value):
        decision = _decide_radius(costs, float(levels[high]), p=p, solver=solver, deadline=deadline)
        if decision.answer == "no":
            raise InfeasibleError(f"no {p} open sites can serve every demand unit at finite cost; raise p")
        if decision.answer == "unknown" or decision.sites is None:
            return _no_plan("pcenter", SolveOutcome("not_solved", None, None, None, solver, version,
                                                    time.perf_counter() - started))
        plan, version = decision.sites, decision.solver_version
    while low < high:
        middle = (low + high) // 2
        decision = _decide_radius(costs, float(levels[middle]), p=p, solver=solver, deadline=deadline)
        version = decision.solver_version if decision.method == "mip" else version
        if decision.answer == "unknown":
            break
        if decision.answer == "yes" and decision.sites is not None:
            high, plan = middle, decision.sites
        else:
            low = middle + 1
    # a cover may use fewer than p sites: the rest go where they lower the total cost most, not first in line
    open_sites = np.sort(greedy(costs.costs, p=p, start=plan))
    choice = _nearest_open(costs, open_sites)
    objective = float(costs.costs[np.arange(len(choice)), choice].max())
    outcome = SolveOutcome(
        status="optimal" if low >= high else "feasible", objective=objective, best_bound=float(levels[low]),
        gap=None, solver=solver, solver_version=version, seconds=time.perf_counter() - started,
    )
    return _result("pcenter", outcome, costs, open_sites, objective, assignment=choice)


def _capacitated_center(
    costs: CostMatrix, *, p: int, capacity: np.ndarray, load: np.ndarray, solver: str, time_limit_s: float | None
) -> LocateResult:
    """The capacitated p-center: `capacitated.search_radius` from the uncapacitated optimum (a lower bound:
    capacities only take plans away). The assignment is the search's, which may send a unit past its nearest
    open site; sites a plan leaves over are opened where they lower the total cost most."""
    started = time.perf_counter()
    deadline = None if time_limit_s is None else started + time_limit_s
    free = p_center(costs, p=p, solver=solver, time_limit_s=time_limit_s)
    lower = free.objective if free.status == "optimal" and free.objective is not None else 0.0
    found = search_radius(costs.costs, lower=lower, p=p, capacity=capacity, loads=load, solver=solver,
                          deadline=deadline)
    if found.plan.sites is None or found.plan.assignment is None:
        return _no_plan("pcenter", SolveOutcome("not_solved", None, None, None, solver, found.plan.solver_version,
                                                time.perf_counter() - started))
    open_sites = np.sort(greedy(costs.costs, p=p, start=found.plan.sites))
    choice = found.plan.assignment
    objective = float(costs.costs[np.arange(len(choice)), choice].max())
    outcome = SolveOutcome(
        status="optimal" if found.proven else "feasible", objective=objective, best_bound=found.bound, gap=None,
        solver=solver, solver_version=found.plan.solver_version, seconds=time.perf_counter() - started,
    )
    return _result("pcenter", outcome, costs, open_sites, objective, assignment=choice)


def _capacity(
    costs: CostMatrix, capacities: Mapping[str, float] | None, demands: Mapping[str, float] | None
) -> np.ndarray | None:
    """The site capacities in site order (None without); demands without capacities are a ScenarioError."""
    if demands is not None and capacities is None:
        raise ScenarioError("demands only load site capacities; give capacities too, or leave demands out")
    return None if capacities is None else capacities_array(costs.site_ids, capacities)


def _decide_radius(
    costs: CostMatrix, radius: float, *, p: int, solver: str, deadline: float | None
) -> set_cover.CoverDecision:
    """Whether p sites cover every demand unit within `radius`, on coverage groups and undominated sites;
    the cover's sites are returned as positions in `costs.site_ids`."""
    left = None if deadline is None else deadline - time.perf_counter()
    if left is not None and left <= 0:
        return set_cover.CoverDecision("unknown", None, "time", "")
    groups, _ = _coverage_groups(costs.costs <= radius)
    kept = _undominated(groups)
    decision = set_cover.decide_cover(sp.csr_matrix(groups[:, kept]), p=p, solver=solver, time_limit_s=left)
    if decision.sites is None:
        return decision
    return replace(decision, sites=kept[decision.sites])


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


def _coverage_groups(within: np.ndarray) -> tuple[sp.csr_matrix, np.ndarray]:
    """Demand units grouped by their set of sites within reach: a (groups x sites) 0/1 CSR matrix of each
    group's sites and, for each demand unit, its group."""
    _, first, group_of = np.unique(np.packbits(within, axis=1), axis=0, return_index=True, return_inverse=True)
    return sp.csr_matrix(within[first], dtype=np.float64), np.asarray(group_of).ravel()


def _undominated(cover: sp.csr_matrix) -> np.ndarray:
    """Positions of the sites whose covered set (a column of `cover`) is no subset of another kept site's.

    Site j is dropped when some k covers a strict superset of j's set, or the same set with k < j (so one of
    identical columns stays). This order is strict and the sites are finite, so each dropped site has a
    kept site covering all it covers. Subsets come from the column overlaps cover^T cover: j's set lies in
    k's when their overlap equals j's size. An empty column is a subset of any other.
    """
    counts = sp.csc_matrix(cover, dtype=np.int64)
    size = np.asarray(counts.sum(axis=0)).ravel()
    overlap = (counts.T @ counts).tocoo()
    j, k = overlap.row, overlap.col
    inside = (j != k) & (overlap.data == size[j]) & ((size[k] > size[j]) | (k < j))
    dominated = np.zeros(len(size), dtype=bool)
    dominated[j[inside]] = True
    empty = size == 0
    dominated |= empty if not empty.all() else np.arange(len(size)) > 0
    return np.flatnonzero(~dominated)


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
