"""p-median formulations (radius and assignment) and the exact reductions that shrink them.

Both formulations are built from numpy/scipy arrays and handed to PuLP one row per expression (see `_lp.add_rows`).
The radius formulation (Elloumi 2010, in its telescoped form) has one variable per distinct cost level of a
demand unit instead of one per demand-site pair; the assignment formulation keeps x_ij and is the one that
can carry site capacities. The reductions remove sites and cost levels that no plan at least as good as a known
plan can use, so the optimum is never cut off.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pulp
import scipy.sparse as sp

from allocopt.model._lp import add_rows

FORMULATIONS = ("auto", "radius", "assignment")


@dataclass(frozen=True)
class LagrangianBound:
    """The best Lagrangian lower bound found, its multipliers (one per demand unit) and the p sites that the
    relaxed problem opens at those multipliers (a good start for a local search)."""

    bound: float
    multipliers: np.ndarray
    sites: np.ndarray


@dataclass(frozen=True)
class SiteFixing:
    """Sites proven closed or open in every plan no worse than a known plan; boolean masks over the sites."""

    closed: np.ndarray
    opened: np.ndarray


@dataclass(frozen=True)
class Formulation:
    """A built p-median model: the PuLP problem, its open-site variables and how to write a start plan.

    `sites` are the site positions that have an open variable (`open_vars`, same order); sites left out are
    proven closed. `integer_vars` are the variables to relax for the LP bound. `start(plan)` sets every
    variable of the model to the values of the plan that opens the site positions `plan` (the assignment
    formulation also takes the site serving each unit); `assigned()` gives, after a solve, the site position
    serving each demand unit.
    """

    name: str
    model: pulp.LpProblem
    sites: np.ndarray
    open_vars: list[pulp.LpVariable]
    integer_vars: list[pulp.LpVariable]
    start: Callable[..., None]
    assigned: Callable[[], np.ndarray]

    def opened(self) -> np.ndarray:
        """Positions of the sites open in the solved model."""
        return self.sites[_is_set(self.open_vars)]


def no_fixing(n_sites: int) -> SiteFixing:
    """The empty reduction: no site closed or opened."""
    return SiteFixing(closed=np.zeros(n_sites, dtype=bool), opened=np.zeros(n_sites, dtype=bool))


def lagrangian_bound(weighted: np.ndarray, *, p: int, upper_bound: float, iterations: int = 1_000) -> LagrangianBound:
    """Lower bound on the p-median by Lagrangian relaxation and subgradient steps (Beasley 1985, 1993).

    Relaxing "each unit assigned once" with multipliers lam_i gives, for weighted costs c_ij (weight x cost),
        L(lam) = sum_i lam_i + (sum of the p smallest rho_j),   rho_j = sum_i min(0, c_ij - lam_i),
    a lower bound on every plan. Steps move lam along the subgradient 1 - (times unit i is served in the
    relaxed solution), scaled by the distance to `upper_bound`; the scale halves after 20 steps without a
    better bound, and the search stops when the scale is below 1e-4 or the bound reaches `upper_bound`.
    """
    m = weighted.shape[1]
    lam = weighted.min(axis=1)
    best_bound, best_lam = -np.inf, lam.copy()
    step_scale, stall = 2.0, 0
    for _ in range(iterations):
        reduced = np.minimum(weighted - lam[:, None], 0.0)
        rho = reduced.sum(axis=0)
        chosen = np.argpartition(rho, p - 1)[:p] if p < m else np.arange(m)
        bound = float(lam.sum() + rho[chosen].sum())
        if bound > best_bound + 1e-12 * max(1.0, abs(bound)):
            best_bound, best_lam, stall = bound, lam.copy(), 0
        else:
            stall += 1
            if stall >= 20:
                step_scale, stall = step_scale / 2, 0
        if best_bound >= upper_bound - 1e-9 * max(1.0, abs(upper_bound)) or step_scale < 1e-4:
            break
        subgradient = 1.0 - (reduced[:, chosen] < 0).sum(axis=1)
        norm = float(subgradient @ subgradient)
        if norm == 0:
            break
        lam = lam + step_scale * (upper_bound - bound) / norm * subgradient
    rho = np.minimum(weighted - best_lam[:, None], 0.0).sum(axis=0)
    sites = np.sort(np.argsort(rho, kind="stable")[:p])
    return LagrangianBound(bound=float(best_lam.sum() + rho[sites].sum()), multipliers=best_lam, sites=sites)


def lagrangian_fixing(weighted: np.ndarray, relaxation: LagrangianBound, *, p: int, upper_bound: float) -> SiteFixing:
    """Close and open sites by the Lagrangian bound (Beasley's reduction tests).

    At the multipliers of `relaxation`, forcing site j open (closed) changes the bound to L - rho_(p) + rho_j
    (L - rho_j + rho_(p+1)), rho_(k) the k-th smallest rho, because the relaxed problem then takes j plus the
    p-1 best others (the p best others). When that forced bound exceeds `upper_bound`, the value of a known
    plan, every plan with j open (closed) costs more than the known plan, so every optimal plan has j closed
    (open): fixing it cuts off no optimum. A relative margin of 1e-7 keeps rounding from fixing a site whose
    forced bound only ties the known plan.
    """
    m = weighted.shape[1]
    rho = np.minimum(weighted - relaxation.multipliers[:, None], 0.0).sum(axis=0)
    order = np.argsort(rho, kind="stable")
    inside = np.zeros(m, dtype=bool)
    inside[order[:p]] = True
    bound = float(relaxation.multipliers.sum() + rho[order[:p]].sum())
    margin = 1e-7 * max(1.0, abs(upper_bound))
    closed = ~inside & (bound - rho[order[p - 1]] + rho > upper_bound + margin)
    opened = np.zeros(m, dtype=bool)
    if p < m:
        opened = inside & (bound - rho + rho[order[p]] > upper_bound + margin)
    return SiteFixing(closed=closed, opened=opened)


def cost_caps(costs: np.ndarray, *, p: int, fixing: SiteFixing) -> np.ndarray:
    """For each demand unit, a cost that its cheapest open site never exceeds in any plan the fixing allows.

    Two facts, each true of every such plan: (1) p of the m' sites not proven closed are open, so at least one
    of any m' - p + 1 of them is open, in particular one of the unit's m' - p + 1 cheapest (Elloumi 2010);
    (2) every site proven open is open. The cap is the smaller of the (m' - p + 1)-th smallest cost over the
    sites not closed and the cheapest cost to a site proven open. `inf` where neither bounds the unit.
    """
    available = costs[:, ~fixing.closed]
    kth = available.shape[1] - p
    cap = np.partition(available, kth, axis=1)[:, kth]
    if fixing.opened.any():
        cap = np.minimum(cap, costs[:, fixing.opened].min(axis=1))
    return cap


def radius_formulation(
    costs: np.ndarray, weights: np.ndarray, *, p: int, fixing: SiteFixing, caps: np.ndarray
) -> Formulation:
    """The radius formulation of Elloumi (2010) with levels above each unit's cap removed.

    For unit i let D_i^0 < ... < D_i^K be its distinct costs to the available sites, up to `caps[i]`, and
    z_i^k (k < K) = 1 when i's cheapest open site costs at least D_i^(k+1). Elloumi's rows
        z_i^k + sum_{j: c_ij <= D_i^k} y_j >= 1
    are written telescoped: z_i^0 + sum_{c_ij = D^0} y_j >= 1, z_i^k - z_i^(k-1) + sum_{c_ij = D^k} y_j >= 0,
    and -z_i^(K-1) + sum_{c_ij = D^K} y_j >= 0. Summing the first k+1 of them gives Elloumi's row k, and for
    integer y the minimal z_i^k = [no open site costs at most D^k] satisfies them all, so both describe the
    same plans with the same LP bound, but each pair (i, j) now appears in one row instead of every row above
    its level (on pmed6 70 thousand nonzeros instead of 1.5 million, MIP 19 s instead of 177 s). The rows of a
    unit add up to "some site within the cap is open", which holds in every allowed plan (see `cost_caps`),
    whatever the weights. Objective: sum_i w_i (D_i^0 + sum_k (D_i^(k+1) - D_i^k) z_i^k).
    """
    sites = np.flatnonzero(~fixing.closed)
    sub = costs[:, sites]
    n, m = sub.shape
    order = np.argsort(sub, axis=1, kind="stable")
    ordered = np.take_along_axis(sub, order, axis=1)
    kept = np.isfinite(ordered) & (ordered <= caps[:, None])
    first = np.ones((n, 1), dtype=bool)
    new_level = kept & np.concatenate([first, ordered[:, 1:] != ordered[:, :-1]], axis=1)
    level_of = np.cumsum(new_level, axis=1) - 1
    counts = new_level.sum(axis=1)
    row_start = np.concatenate([[0], np.cumsum(counts)])
    z_start = np.concatenate([[0], np.cumsum(counts - 1)])
    n_rows, n_z = int(row_start[-1]), int(z_start[-1])
    level_values = ordered[new_level]
    unit_of_level = np.repeat(np.arange(n), counts)
    k_of_level = np.arange(n_rows) - row_start[unit_of_level]
    is_last = k_of_level == counts[unit_of_level] - 1

    ii, pos = np.nonzero(kept)
    y_rows = row_start[ii] + level_of[ii, pos]
    y_cols = order[ii, pos]
    plus_rows = np.flatnonzero(~is_last)
    minus_rows = np.flatnonzero(k_of_level > 0)
    z_of_row = z_start[unit_of_level] + k_of_level
    matrix = sp.csr_matrix(
        (
            np.concatenate([np.ones(len(y_rows)), np.ones(len(plus_rows)), -np.ones(len(minus_rows))]),
            (
                np.concatenate([y_rows, plus_rows, minus_rows]),
                np.concatenate([y_cols, m + z_of_row[plus_rows], m + z_of_row[minus_rows] - 1]),
            ),
        ),
        shape=(n_rows, m + n_z),
    )
    steps = (np.diff(level_values) * weights[unit_of_level[:-1]])[~is_last[:-1]] if n_rows else np.zeros(0)

    model = pulp.LpProblem("pmedian", pulp.LpMinimize)
    y = _open_variables(model, sites, fixing)
    z = [model.add_variable(f"above_{t}", 0, 1) for t in range(n_z)]
    constant = float(np.dot(weights, level_values[row_start[:-1]]))
    model.setObjective(pulp.LpAffineExpression(zip(z, steps.tolist(), strict=True), constant=constant))
    rhs = np.zeros(n_rows)
    rhs[row_start[:-1]] = 1.0
    add_rows(model, [*y, *z], matrix, sense=pulp.LpConstraintGE, rhs=rhs, prefix="level")
    add_rows(model, y, sp.csr_matrix(np.ones((1, m))), sense=pulp.LpConstraintEQ, rhs=float(p), prefix="count")

    def start(plan: np.ndarray) -> None:
        is_open = np.isin(sites, plan)
        nearest = np.where(is_open[None, :], sub, np.inf).min(axis=1)
        # z_i^k = 1 when level k + 1 of unit i is at or below the plan's cost of unit i
        z_values = level_values[plus_rows + 1] <= nearest[unit_of_level[plus_rows]]
        for var, value in zip(y, is_open.tolist(), strict=True):
            var.varValue = float(value)
        for var, value in zip(z, z_values.tolist(), strict=True):
            var.varValue = float(value)

    return Formulation("radius", model, sites, y, list(y), start, lambda: _nearest(costs, sites[_is_set(y)]))


def assignment_formulation(
    costs: np.ndarray,
    weights: np.ndarray,
    *,
    p: int,
    fixing: SiteFixing,
    caps: np.ndarray,
    capacity: np.ndarray | None = None,
    loads: np.ndarray | None = None,
    pair_mask: np.ndarray | None = None,
) -> Formulation:
    """The classic assignment formulation: x_ij for each finite pair within the unit's cap (and allowed by
    `pair_mask`, a units x sites mask, when given), x_ij <= y_j, sum_j x_ij = 1, sum_j y_j = p, and with
    `capacity` single sourcing (binary x) and sum_i l_i x_ij <= Q_j y_j, the load l_i from `loads` (default:
    the weights).

    Without capacities x may stay continuous: for integer y the cheapest choice is the nearest open site.
    `start(plan, assignment)` writes the plan with each unit at its nearest open site, or at the site
    positions `assignment` gives (a plan within the capacities).
    """
    sites = np.flatnonzero(~fixing.closed)
    sub = costs[:, sites]
    n, m = sub.shape
    allowed = np.isfinite(sub) & (sub <= caps[:, None])
    ii, jj = np.nonzero(allowed if pair_mask is None else allowed & pair_mask[:, sites])
    pairs = len(ii)
    model = pulp.LpProblem("pmedian", pulp.LpMinimize)
    y = _open_variables(model, sites, fixing)
    cat = pulp.LpContinuous if capacity is None else pulp.LpBinary
    x = [model.add_variable(f"assign_{i}_{j}", 0, 1, cat) for i, j in zip(ii.tolist(), sites[jj].tolist(), strict=True)]
    cost = weights[ii] * sub[ii, jj]
    model.setObjective(pulp.LpAffineExpression((var, c) for var, c in zip(x, cost.tolist(), strict=True) if c != 0))
    columns = [*y, *x]
    serve = sp.csr_matrix((np.ones(pairs), (ii, m + np.arange(pairs))), shape=(n, m + pairs))
    add_rows(model, columns, serve, sense=pulp.LpConstraintEQ, rhs=1.0, prefix="serve")
    link = sp.csr_matrix(
        (
            np.concatenate([np.ones(pairs), -np.ones(pairs)]),
            (np.concatenate([np.arange(pairs)] * 2), np.concatenate([m + np.arange(pairs), jj])),
        ),
        shape=(pairs, m + pairs),
    )
    add_rows(model, columns, link, sense=pulp.LpConstraintLE, rhs=0.0, prefix="link")
    add_rows(model, y, sp.csr_matrix(np.ones((1, m))), sense=pulp.LpConstraintEQ, rhs=float(p), prefix="count")
    if capacity is not None:
        loads = sp.csr_matrix(
            (
                np.concatenate([(weights if loads is None else loads)[ii], -capacity[sites]]),
                (np.concatenate([jj, np.arange(m)]), np.concatenate([m + np.arange(pairs), np.arange(m)])),
            ),
            shape=(m, m + pairs),
        )
        add_rows(model, columns, loads, sense=pulp.LpConstraintLE, rhs=0.0, prefix="capacity")

    def start(plan: np.ndarray, assignment: np.ndarray | None = None) -> None:
        is_open = np.isin(sites, plan)
        if assignment is None:
            serving = np.argmin(np.where(is_open[None, :], sub, np.inf), axis=1)
        else:
            serving = np.searchsorted(sites, assignment)
        for var, value in zip(y, is_open.tolist(), strict=True):
            var.varValue = float(value)
        for var, value in zip(x, (serving[ii] == jj).tolist(), strict=True):
            var.varValue = float(value)

    def assigned() -> np.ndarray:
        if capacity is None:
            return _nearest(costs, sites[_is_set(y)])
        choice = np.full(n, -1, dtype=np.int64)
        taken = _is_set(x)
        choice[ii[taken]] = sites[jj[taken]]
        return choice

    integer = list(y) if capacity is None else [*y, *x]
    return Formulation("assignment", model, sites, y, integer, start, assigned)


def _is_set(variables: list[pulp.LpVariable]) -> np.ndarray:
    """Mask of the binary variables that are 1 in the solved model."""
    return np.asarray([(var.varValue or 0.0) > 0.5 for var in variables], dtype=bool)


def _nearest(costs: np.ndarray, open_sites: np.ndarray) -> np.ndarray:
    """For each demand unit the position of its cheapest open site."""
    return open_sites[np.argmin(costs[:, open_sites], axis=1)]


def _open_variables(model: pulp.LpProblem, sites: np.ndarray, fixing: SiteFixing) -> list[pulp.LpVariable]:
    """One binary open_j per site position in `sites`, fixed to 1 where the fixing proved the site open."""
    return [model.add_variable(f"open_{j}", int(fixing.opened[j]), 1, pulp.LpBinary) for j in sites.tolist()]
