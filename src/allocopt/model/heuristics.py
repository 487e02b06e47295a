"""Greedy construction and best-improvement interchange for the p-median and the MCLP, and the greedy plans of
the p-center search, vectorized over whole matrices.

The p-median functions work on `weighted` = weight x cost (demand units x sites, `inf` where a site cannot serve
a unit). A unit left without any finite site is charged a penalty larger than any finite plan's total, so the
search first serves every unit it can and only then lowers the cost. The MCLP functions work on a 0/1 cover
matrix (demand groups x sites) and group weights. The plans are starting points and bounds for the exact
models; they prove nothing by themselves.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp


def plan_cost(weighted: np.ndarray, sites: np.ndarray) -> float:
    """Sum over demand units of the cheapest weighted cost to an open site (`inf` when a unit has none)."""
    if len(sites) == 0:
        return float("inf")
    return float(np.min(weighted[:, sites], axis=1).sum())


def greedy(weighted: np.ndarray, *, p: int, start: np.ndarray | None = None) -> np.ndarray:
    """Open sites one at a time until p are open, each time the site that lowers the total the most
    (Kuehn-Hamburger add), from the open sites `start` (none by default).

    Returns the open site positions, `start` first, then in the order they were opened. O(p x units x sites).
    """
    penalized = _penalized(weighted)
    n, m = penalized.shape
    chosen = [] if start is None else [int(j) for j in start]
    current = np.full(n, _penalty(weighted) * 2)
    if chosen:
        np.minimum(current, penalized[:, chosen].min(axis=1), out=current)
    available = np.ones(m, dtype=bool)
    available[chosen] = False
    while len(chosen) < p:
        gain = np.maximum(current[:, None] - penalized, 0.0).sum(axis=0)
        gain[~available] = -1.0
        best = int(np.argmax(gain))
        chosen.append(best)
        available[best] = False
        np.minimum(current, penalized[:, best], out=current)
    return np.asarray(chosen, dtype=np.int64)


def interchange(weighted: np.ndarray, sites: np.ndarray, *, max_swaps: int = 10_000) -> np.ndarray:
    """Swap one open site for one closed site while that lowers the total; return the local optimum.

    Best-improvement vertex substitution (Teitz and Bart, 1968) with the swap gains of Whitaker's fast
    interchange computed for every (site in, site out) pair at once: for site j opened and open site r closed,
        delta(j, r) = sum_i [min(c_ij, d1_i) - d1_i] + sum_{i: a1_i = r} [min(c_ij, d2_i) - min(c_ij, d1_i)],
    with d1_i, d2_i the cheapest and second-cheapest open costs of unit i and a1_i its cheapest open site.
    The second sum is one sparse (open x units) by dense (units x sites) product, so a pass costs
    O(units x sites). Stops when no swap gains more than a relative 1e-12 of the total, or after `max_swaps`.
    """
    penalized = _penalized(weighted)
    n, m = penalized.shape
    open_sites = np.array(sites, dtype=np.int64)
    p = len(open_sites)
    if p == 0 or p == m:
        return open_sites
    second_fill = _penalty(weighted) * 2
    rows = np.arange(n)
    for _ in range(max_swaps):
        block = penalized[:, open_sites]
        order = np.argsort(block, axis=1)[:, :2] if p > 1 else np.zeros((n, 1), dtype=np.int64)
        nearest = order[:, 0]
        d1 = block[rows, nearest]
        d2 = block[rows, order[:, 1]] if p > 1 else np.full(n, second_fill)
        with_d1 = np.minimum(penalized, d1[:, None])
        base = (with_d1 - d1[:, None]).sum(axis=0)
        extra = np.minimum(penalized, d2[:, None]) - with_d1
        owner = sp.csr_matrix((np.ones(n), (nearest, rows)), shape=(p, n))
        delta = base[None, :] + owner @ extra
        delta[:, open_sites] = np.inf
        r, j = np.unravel_index(int(np.argmin(delta)), delta.shape)
        if not delta[r, j] < -1e-12 * max(float(d1.sum()), 1.0):
            break
        open_sites[r] = j
    return open_sites


def _penalty(weighted: np.ndarray) -> float:
    """A charge for an unserved unit larger than the total of any plan that serves every unit."""
    finite = np.where(np.isfinite(weighted), weighted, 0.0)
    return float(finite.max(axis=1, initial=0.0).sum()) + 1.0


def _penalized(weighted: np.ndarray) -> np.ndarray:
    """The weighted costs with `inf` replaced by the unserved-unit penalty (a new array)."""
    return np.where(np.isfinite(weighted), weighted, _penalty(weighted))


def covered_weight(cover: sp.csr_matrix, weights: np.ndarray, sites: np.ndarray) -> float:
    """Total weight of the rows of `cover` (demand groups x sites, 0/1) that some site in `sites` covers."""
    reached = np.asarray(cover[:, sites].sum(axis=1)).ravel() > 0
    return float(weights[reached].sum())


def coverage_greedy(cover: sp.csr_matrix, weights: np.ndarray, *, p: int) -> np.ndarray:
    """Maximal covering: open p sites one at a time, each time the site adding the most uncovered weight.

    `cover` is demand groups x sites (0/1), `weights` the weight of each group, p at most the sites. Returns
    the open site positions in the order they were opened. Each step is one sparse product.
    """
    by_site = sp.csr_matrix(cover.T)
    uncovered = np.asarray(weights, dtype=np.float64).copy()
    chosen: list[int] = []
    for _ in range(p):
        gain = by_site @ uncovered
        gain[chosen] = -1.0
        best = int(np.argmax(gain))
        chosen.append(best)
        uncovered[by_site[best].indices] = 0.0
    return np.asarray(chosen, dtype=np.int64)


def coverage_interchange(
    cover: sp.csr_matrix, weights: np.ndarray, sites: np.ndarray, *, max_swaps: int = 10_000
) -> np.ndarray:
    """Swap one open site for one closed site while that raises the covered weight; return the local optimum.

    With n_g the number of open sites covering group g, opening j and closing r changes the covered weight by
        delta(j, r) = sum_{g: n_g = 0} a_gj w_g - sum_{g: n_g = 1} a_gr w_g + sum_{g: n_g = 1, only r} a_gj w_g,
    the last sum (groups only r covers, kept by j) being one sparse (open x groups) by (groups x sites)
    product, so all pairs are scored at once. Stops when no swap gains more than a relative 1e-12 of the
    total weight, or after `max_swaps`.
    """
    csr = sp.csr_matrix(cover, dtype=np.float64)
    w = np.asarray(weights, dtype=np.float64)
    open_sites = np.array(sites, dtype=np.int64)
    n_groups, m = csr.shape
    if len(open_sites) in (0, m):
        return open_sites
    groups = np.arange(n_groups)
    tolerance = 1e-12 * max(float(np.abs(w).sum()), 1.0)
    for _ in range(max_swaps):
        block = csr[:, open_sites].toarray()
        count = block.sum(axis=1)
        alone = np.where(count == 1, w, 0.0)
        gain = csr.T @ np.where(count == 0, w, 0.0)
        loss = block.T @ alone
        owner = sp.csr_matrix((alone, (np.argmax(block, axis=1), groups)), shape=(len(open_sites), n_groups))
        delta = gain[None, :] - loss[:, None] + (owner @ csr).toarray()
        delta[:, open_sites] = -np.inf
        r, j = np.unravel_index(int(np.argmax(delta)), delta.shape)
        if not delta[r, j] > tolerance:
            break
        open_sites[r] = j
    return open_sites


def center_greedy(costs: np.ndarray, *, p: int) -> np.ndarray:
    """p-center: p site positions chosen one at a time, each the site that lowers the largest nearest cost the
    most (ties: the lower total); `costs` is demand units x sites (`inf` where a site cannot serve a unit)."""
    current = np.full(costs.shape[0], np.inf)
    chosen: list[int] = []
    for _ in range(p):
        candidate = np.minimum(current[:, None], costs)
        worst = candidate.max(axis=0)
        worst[chosen] = np.inf
        best = np.flatnonzero(worst == worst.min())
        pick = int(best[np.argmin(np.where(np.isfinite(candidate[:, best]), candidate[:, best], 0).sum(axis=0))])
        chosen.append(pick)
        current = candidate[:, pick]
    return np.asarray(chosen, dtype=np.int64)
