"""Single-source capacitated location: whether p sites can serve every demand unit within a radius without
overloading a site, and the search over radii built on it (the capacitated p-center of `classic.p_center`)."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np

from allocopt.errors import InfeasibleError
from allocopt.model.pmedian import SiteFixing, assignment_formulation, no_fixing
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


@dataclass(frozen=True)
class CapacitatedRelaxation:
    """The best Lagrangian bound of the capacitated p-median found (see `capacitated_relaxation`), at the
    multipliers `multipliers`: each site's value v_j and table K_j(c) of best knapsack profit within capacity
    c = 0..Q_j, and the data they came from."""

    bound: float
    multipliers: np.ndarray
    values: np.ndarray
    tables: list[np.ndarray]
    weighted: np.ndarray
    loads: np.ndarray
    capacity: np.ndarray
    p: int

    def reductions(self, upper: float) -> tuple[SiteFixing, np.ndarray]:
        """The sites proven closed or open and the (unit, site) pairs left (a units x sites mask) in every
        plan of value <= `upper`.

        Site j is closed (opened) when forcing it open (closed) lifts the bound above `upper`, as in
        `pmedian.lagrangian_fixing`. Pair (i, j) is removed when the bound with x_ij = 1 does: that bound is
        at least L - v_j + f_ij (j among the p sites the relaxation opens) or L - v_(p) + f_ij (j outside),
        f_ij = c_ij - lam_i - K_j(Q_j - l_i) being at most site j's value with unit i in its knapsack.
        No plan of value <= `upper` uses what is removed.
        """
        m, p = len(self.values), self.p
        order = np.argsort(self.values, kind="stable")
        inside = np.zeros(m, dtype=bool)
        inside[order[:p]] = True
        margin = 1e-7 * max(1.0, abs(upper))
        closed = ~inside & (self.bound - self.values[order[p - 1]] + self.values > upper + margin)
        opened = np.zeros(m, dtype=bool)
        if p < m:
            opened = inside & (self.bound - self.values + self.values[order[p]] > upper + margin)
        room = np.array([len(table) - 1 for table in self.tables])
        left = np.clip(room[None, :] - self.loads[:, None], 0, None).astype(np.int64)
        rest = np.stack([self.tables[j][left[:, j]] for j in range(m)], axis=1)
        forced = self.weighted - self.multipliers[:, None] - rest
        replaced = np.where(inside, self.values, self.values[order[p - 1]])
        pairs = np.isfinite(self.weighted) & (self.loads[:, None] <= self.capacity[None, :])
        pairs &= ~(self.bound - replaced[None, :] + forced > upper + margin) & ~closed[None, :]
        return SiteFixing(closed=closed, opened=opened), pairs


def guesses(bound: float) -> list[float]:
    """Upper values to try the reductions against, in turn, when no plan is known: a reduced model whose
    optimum is at most the guess is optimal for the whole problem (a better plan would use nothing removed);
    an infeasible one says the optimum lies above the guess. Last, no guess (inf)."""
    return [bound + share * max(abs(bound), 1.0) for share in GUESS_SHARES] + [math.inf]


GUESS_SHARES = (0.003, 0.01, 0.03, 0.1)
"""Guesses of the optimum above the Lagrangian bound, as shares of it: on the Lorena-Senne instances the bound
lies within 0.2% of the optimum, on OR-Library's pmedcap (capacities 92% used) up to about 6%."""


def knapsack_values(profit: np.ndarray, load: np.ndarray, capacity: int) -> tuple[np.ndarray, np.ndarray]:
    """0-1 knapsack by dynamic programming over whole capacities: `best[c]` the largest total profit of items
    of total load <= c (c = 0..capacity), and the items of one such choice at `capacity`. Items of profit
    <= 0 are never worth taking and are skipped; loads are whole numbers >= 0."""
    best = np.zeros(capacity + 1)
    items = np.flatnonzero((profit > 0) & (load <= capacity))
    taken = np.zeros((len(items), capacity + 1), dtype=bool)
    for k, item in enumerate(items.tolist()):
        size = int(load[item])
        with_item = best[: capacity + 1 - size] + profit[item]
        better = with_item > best[size:]
        taken[k, size:] = better
        best[size:] = np.where(better, with_item, best[size:])
    chosen, room = [], capacity
    for k in range(len(items) - 1, -1, -1):
        if taken[k, room]:
            chosen.append(items[k])
            room -= int(load[items[k]])
    return best, np.asarray(chosen, dtype=np.int64)


def capacitated_relaxation(
    weighted: np.ndarray, loads: np.ndarray, capacity: np.ndarray, *, p: int, start: np.ndarray,
    iterations: int = 600,
) -> CapacitatedRelaxation | None:
    """Lower bound on the capacitated p-median by Lagrangian relaxation of the assignment rows. With
    multipliers lam_i on "unit i served once" and weighted costs c_ij,

        L(lam) = sum_i lam_i + (sum of the p smallest v_j),
        v_j = -max { sum_i (lam_i - c_ij) x_i : sum_i l_i x_i <= Q_j, x binary },

    one 0-1 knapsack per site, bounds every plan from below, at least as well as the LP relaxation (the
    knapsacks keep single sourcing and whole capacities). Subgradient steps as in `pmedian.lagrangian_bound`,
    towards the value of the sites `start` filled greedily (`_fill_estimate`), or 1% above the best bound
    once that passes it. None when a load or capacity is not a whole number (the knapsacks need them).
    """
    if not (_whole(loads) and _whole(capacity)):
        return None
    n, m = weighted.shape
    room = np.minimum(capacity, loads.sum()).astype(np.int64)
    lam = weighted.min(axis=1)
    best_bound, best_lam, scale, stall = -np.inf, lam.copy(), 2.0, 0
    estimate = _fill_estimate(weighted, loads, capacity, start)
    for _ in range(iterations):
        values, chosen = _site_values(weighted, lam, loads, room)
        sites = np.argpartition(values, p - 1)[:p] if p < m else np.arange(m)
        bound = float(lam.sum() + values[sites].sum())
        if bound > best_bound + 1e-12 * max(1.0, abs(bound)):
            best_bound, best_lam, stall = bound, lam.copy(), 0
        else:
            stall += 1
            if stall >= 30:
                scale, stall = scale / 2, 0
        served = np.bincount(np.concatenate([chosen[j] for j in sites.tolist()]), minlength=n)
        subgradient = 1.0 - served
        norm = float(subgradient @ subgradient)
        if norm == 0 or scale < 1e-3:
            break
        target = max(estimate, best_bound + 0.01 * max(abs(best_bound), 1.0))
        lam = lam + scale * (target - bound) / norm * subgradient
    tables = [knapsack_values(best_lam - weighted[:, j], loads, int(room[j]))[0] for j in range(m)]
    values = np.asarray([-table[-1] for table in tables])
    bound = float(best_lam.sum() + np.sort(values)[:p].sum())
    return CapacitatedRelaxation(bound, best_lam, values, tables, weighted, loads, capacity, p)


def _site_values(
    weighted: np.ndarray, lam: np.ndarray, loads: np.ndarray, room: np.ndarray
) -> tuple[np.ndarray, list[np.ndarray]]:
    """v_j (minus each site's best knapsack at multipliers `lam`) and the units each knapsack takes; a site
    whose profitable units all fit takes them all without the dynamic programme."""
    profit = lam[:, None] - weighted
    worth = profit > 0
    fits = np.where(worth, loads[:, None], 0.0).sum(axis=0) <= room
    values = -np.where(worth, profit, 0.0).sum(axis=0)
    chosen = [np.flatnonzero(worth[:, j]) for j in range(weighted.shape[1])]
    for j in np.flatnonzero(~fits).tolist():
        best, chosen[j] = knapsack_values(profit[:, j], loads, int(room[j]))
        values[j] = -best[-1]
    return values, chosen


def _fill_estimate(weighted: np.ndarray, loads: np.ndarray, capacity: np.ndarray, sites: np.ndarray) -> float:
    """An estimate of the optimum for the subgradient steps: units in decreasing load, each to its cheapest of
    `sites` with room left (or its cheapest of them when none has room, so not always a plan)."""
    left = capacity[sites].astype(np.float64)
    block = np.where(np.isfinite(weighted[:, sites]), weighted[:, sites], np.nan)
    total = 0.0
    for i in np.argsort(-loads, kind="stable").tolist():
        row = np.where(left >= loads[i], block[i], np.nan)
        pick = int(np.nanargmin(row)) if not np.isnan(row).all() else int(np.nanargmin(block[i]))
        left[pick] -= loads[i]
        total += float(block[i, pick])
    return total


def _whole(values: np.ndarray) -> bool:
    """Whether every value is a whole number (within 1e-9)."""
    return bool(np.all(np.abs(values - np.round(values)) <= 1e-9))
