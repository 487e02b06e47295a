"""Exact bounds and a bounded search for maximal covering: open p sites to cover the most group weight.

The MCLP's LP relaxation gives an upper bound and, through its row duals pi_g >= 0, a bound on every single
plan S of p sites that this module computes itself (so it holds whatever the LP solver's tolerances):

    covered(S) = sum_g w_g z_g <= sum_g max(0, w_g - pi_g) + sum_{j in S} a_j,    a_j = sum_{g covered by j} pi_g,

because z_g <= 1 and z_g <= the number of open sites covering g. With the LP's optimal duals the best such
bound is the LP bound. When a plan stops short of it, `search` looks for a better plan among the p-subsets that
both this bound and the submodular bound (covered so far plus the largest single gains still to come) leave
open, level by level over whole arrays; when it finishes, its answer is exact. This is reduced-cost fixing
followed by an enumeration a MIP solver would otherwise reach through cuts and restarts, at a fraction of the
solver's fixed cost on small instances.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np
import scipy
import scipy.sparse as sp
from scipy.optimize import linprog

from allocopt.solve import SolveOutcome
from allocopt.watchdog import watched

SEARCH_CELLS = 4_000_000
"""Default work limit of `search`: partial plans times max(groups, candidate sites) held at one level. About
32 MB of gains; beyond it the search gives up and the caller runs the MIP."""

_ROUNDING = 1e-12
"""Relative allowance for floating-point rounding when a sum is compared with the search threshold."""


@dataclass(frozen=True)
class Relaxation:
    """The LP relaxation of a maximal covering problem and the plan bound its duals give.

    `outcome` reports the LP value as bound, `fractional` holds its site values, and for every plan S of p
    sites covered(S) <= `base` + sum of `site_scores` over S.
    """

    outcome: SolveOutcome
    fractional: np.ndarray
    base: float
    site_scores: np.ndarray

    @property
    def bound(self) -> float:
        """The LP bound on the covered weight of any plan."""
        return float(self.outcome.objective or 0.0)


@dataclass(frozen=True)
class SearchOutcome:
    """What `search` settled: `finished` says whether its answer is exact; then `plan` holds the site
    positions of the best plan reaching the threshold, with its covered weight `value`, or None when no plan
    reaches it. `partials` counts the partial plans scored; `seconds` the time taken."""

    finished: bool
    plan: np.ndarray | None
    value: float | None
    partials: int
    seconds: float


def relax(reach: sp.csr_matrix, weight: np.ndarray, *, p: int, time_limit_s: float | None) -> Relaxation | None:
    """Solve the LP relaxation (max sum w_g z_g, z_g <= sum of the group's y_j, sum y = p, all in [0, 1]) with
    HiGHS through scipy; None when HiGHS stops without the optimum."""
    n_groups, m = reach.shape
    started = time.perf_counter()
    if n_groups == 0:
        value, fractional, duals = 0.0, np.zeros(m), np.zeros(0)
    else:
        solution = watched(lambda: linprog(
            np.concatenate([-weight, np.zeros(m)]),
            A_ub=sp.hstack([sp.identity(n_groups, format="csr"), -reach], format="csr"),
            b_ub=np.zeros(n_groups),
            A_eq=np.concatenate([np.zeros(n_groups), np.ones(m)])[None, :],
            b_eq=[float(p)],
            bounds=(0.0, 1.0),
            method="highs",
            options={} if time_limit_s is None else {"time_limit": time_limit_s},
        ), time_limit_s=time_limit_s)
        if solution is None or solution.status != 0:
            return None
        value, fractional = -float(solution.fun), np.asarray(solution.x[n_groups:])
        duals = np.maximum(-np.asarray(solution.ineqlin.marginals), 0.0)
    outcome = SolveOutcome(
        status="optimal",
        objective=value,
        best_bound=value,
        gap=0.0,
        solver="highs",
        solver_version=f"scipy {scipy.__version__}",
        seconds=time.perf_counter() - started,
    )
    return Relaxation(
        outcome=outcome,
        fractional=fractional,
        base=float(np.maximum(weight - duals, 0.0).sum()),
        site_scores=np.asarray(sp.csc_matrix(reach).T @ duals).ravel(),
    )


def improvement_threshold(found: float, weight: np.ndarray) -> float:
    """The least covered weight that counts as better than `found`: with whole-number weights the next whole
    number (less 1e-6 for floating-point sums), otherwise `found` plus a relative 1e-9."""
    if np.array_equal(weight, np.round(weight)):
        return math.floor(found + 0.5) + 1 - 1e-6
    return found + 1e-9 * max(1.0, abs(found))


def search(
    reach: sp.csr_matrix,
    weight: np.ndarray,
    *,
    p: int,
    relaxation: Relaxation,
    threshold: float,
    max_cells: int = SEARCH_CELLS,
) -> SearchOutcome:
    """The best plan of p sites covering at least `threshold`, or proof that none does.

    Only sites j whose dual bound with the best p - 1 others (`base` + a_j + ...) reaches the threshold can be
    in such a plan. Over those, in a fixed order, plans are grown one site at a time (each site after the
    previous one, so each subset once); a partial plan is dropped when either bound on its completions falls
    below the threshold. Every plan reaching the threshold survives, so the best complete plan found is the
    optimum, and none found proves nothing reaches the threshold. Gives up (finished False) when a level would
    hold more than `max_cells` cells.
    """
    started = time.perf_counter()
    threshold -= _ROUNDING * max(1.0, abs(threshold))  # sums taken in another order may differ in the last bits
    scores = relaxation.site_scores
    candidates = _candidates(scores, relaxation.base, p=p, threshold=threshold)
    order = candidates[np.argsort(-scores[candidates], kind="stable")]
    cover = reach[:, order].toarray().astype(bool)
    weighted_cover = cover * np.asarray(weight, dtype=np.float64)[:, None]
    n_groups, n_candidates = cover.shape
    covered = np.zeros((1, n_groups), dtype=bool)
    value = np.zeros(1)
    dual_value = np.full(1, relaxation.base)
    chosen = np.zeros((1, 0), dtype=np.int64)
    ordered_scores = scores[order]
    position = np.arange(n_candidates)
    partials = 0
    for depth in range(p):
        left = p - depth
        if len(value) == 0 or left > n_candidates:
            return SearchOutcome(True, None, None, partials, time.perf_counter() - started)
        partials += len(value)
        last = chosen[:, -1] if depth else np.full(len(value), -1)
        allowed = position[None, :] > last[:, None]
        gains = np.where(allowed, (~covered).astype(np.float64) @ weighted_cover, -np.inf)
        site_scores = np.where(allowed, ordered_scores[None, :], -np.inf)
        # completions take left - 1 more sites after this one: the largest such gains and scores bound them
        reachable = (value[:, None] + gains + _top_sum(gains, left - 1)[:, None] >= threshold) & (
            dual_value[:, None] + site_scores + _top_sum(site_scores, left - 1)[:, None] >= threshold
        )
        parent, site = np.nonzero(reachable)
        if len(parent) * max(n_groups, n_candidates) > max_cells:
            return SearchOutcome(False, None, None, partials, time.perf_counter() - started)
        value = value[parent] + gains[parent, site]
        dual_value = dual_value[parent] + site_scores[parent, site]
        covered = covered[parent] | cover[:, site].T
        chosen = np.column_stack([chosen[parent], site])
    seconds = time.perf_counter() - started
    if not (value >= threshold).any():
        return SearchOutcome(True, None, None, partials, seconds)
    best = int(np.argmax(value))
    return SearchOutcome(True, np.sort(order[chosen[best]]), float(value[best]), partials, seconds)


def _candidates(scores: np.ndarray, base: float, *, p: int, threshold: float) -> np.ndarray:
    """Positions of the sites that can be in a plan reaching `threshold`: base + own score + the best p - 1
    other scores must reach it."""
    if p > len(scores):
        return np.zeros(0, dtype=np.int64)
    ranked = np.sort(scores)[::-1]
    top = float(ranked[:p].sum())
    best_with = np.where(scores >= ranked[p - 1], top, top - ranked[p - 1] + scores)
    return np.flatnonzero(base + best_with >= threshold)


def _top_sum(values: np.ndarray, k: int) -> np.ndarray:
    """Row sums of the k largest entries (0 for k = 0; -inf where a row has fewer than k finite ones)."""
    if k == 0:
        return np.zeros(values.shape[0])
    if k >= values.shape[1]:
        return values.sum(axis=1) if k == values.shape[1] else np.full(values.shape[0], -np.inf)
    return np.partition(values, values.shape[1] - k, axis=1)[:, values.shape[1] - k :].sum(axis=1)
