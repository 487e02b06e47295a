"""Set covering decisions: can `p` sites cover every demand group? Cheap answers first, a MIP last.

`cover` is a 0/1 CSR matrix (demand groups x sites, every group covered by at least one site). A greedy cover
with at most p sites answers yes; an LP bound above p answers no (any cover has at least ceil(LP) sites);
only between the two does a MIP decide. The p-center search (`classic.p_center`) asks this at each radius.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pulp
import scipy
import scipy.sparse as sp
from scipy.optimize import linprog

from allocopt.model._lp import add_rows
from allocopt.solve import DEFAULT_SOLVER, solve
from allocopt.watchdog import watched

_LP_TOLERANCE = 1e-6
"""Allowance for the LP solver's tolerance before its bound is rounded up."""


@dataclass(frozen=True)
class CoverDecision:
    """`answer` is "yes" (`sites` holds a cover of at most p site positions), "no" (none exists) or "unknown"
    (the time limit came first); `method` says what settled it: greedy, lp or mip."""

    answer: str
    sites: np.ndarray | None
    method: str
    solver_version: str


def greedy_cover(cover: sp.csr_matrix) -> np.ndarray:
    """A cover: open the site covering the most uncovered groups until every group is covered (Chvatal).
    Returns site positions in the order opened."""
    by_site = sp.csr_matrix(cover.T, dtype=np.float64)
    uncovered = np.ones(cover.shape[0])
    chosen: list[int] = []
    while uncovered.any():
        gain = by_site @ uncovered
        best = int(np.argmax(gain))
        if gain[best] <= 0:
            raise ValueError("a demand group has no site; every row of `cover` needs one")
        chosen.append(best)
        uncovered[by_site[best].indices] = 0.0
    return np.asarray(chosen, dtype=np.int64)


def cover_model(cover: sp.csr_matrix, *, name: str) -> tuple[pulp.LpProblem, list[pulp.LpVariable]]:
    """The set covering MILP: fewest sites (binary `open_j`, one per column) with every row covered."""
    model = pulp.LpProblem(name, pulp.LpMinimize)
    y = [model.add_variable(f"open_{j}", cat=pulp.LpBinary) for j in range(cover.shape[1])]
    model.setObjective(pulp.LpAffineExpression((var, 1.0) for var in y))
    add_rows(model, y, cover, sense=pulp.LpConstraintGE, rhs=1.0, prefix="reach")
    return model, y


def decide_cover(
    cover: sp.csr_matrix, *, p: int, solver: str = DEFAULT_SOLVER, time_limit_s: float | None = None
) -> CoverDecision:
    """Whether at most p sites cover every row of `cover`, with such a cover when they do."""
    version = f"scipy {scipy.__version__}"
    greedy = greedy_cover(cover)
    if len(greedy) <= p:
        return CoverDecision("yes", greedy, "greedy", version)
    n_groups, m = cover.shape
    relaxed = watched(lambda: linprog(
        np.ones(m), A_ub=-cover, b_ub=-np.ones(n_groups), bounds=(0.0, 1.0), method="highs",
        options={} if time_limit_s is None else {"time_limit": time_limit_s},
    ), time_limit_s=time_limit_s)
    if relaxed is not None and relaxed.status == 0 and math.ceil(float(relaxed.fun) - _LP_TOLERANCE) > p:
        return CoverDecision("no", None, "lp", version)
    model, y = cover_model(cover, name="cover_decision")
    model.addConstraint(pulp.LpConstraint(pulp.LpAffineExpression((var, 1.0) for var in y),
                                          pulp.LpConstraintLE, "at_most_p", float(p)))
    outcome = solve(model, solver=solver, time_limit_s=time_limit_s, mip_gap=None)
    if outcome.status == "infeasible":
        return CoverDecision("no", None, "mip", outcome.solver_version)
    if outcome.has_plan:
        sites = np.asarray([j for j, var in enumerate(y) if (var.varValue or 0.0) > 0.5], dtype=np.int64)
        return CoverDecision("yes", sites, "mip", outcome.solver_version)
    return CoverDecision("unknown", None, "mip", outcome.solver_version)
