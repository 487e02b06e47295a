"""Robust placement under road closures: one plan, coverage per closure scenario, the expected or the worst gap.

Notation: closure scenarios c in C with weights pi_c (sum_c pi_c <= 1; normal conditions, c = 0, take
pi_0 = 1 - sum_c pi_c), each with its own travel minutes and so its own merged units u (population w^c_u) and
coverage sets S^c_uv = {j : t^c_uj <= T_v, j may provide v}. The decisions (open, gp, eq, ctr, and the
provision has[j,v] they allow) are shared by every scenario: a plan is built once and must serve all of them.

Switched on by `add_robust` only when the scenario has `[[closures]]` and `optimize --robust` is given; without
it the model is exactly the one of `model.allocation`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pulp

from allocopt.choices import ROBUST_MODES
from allocopt.errors import ScenarioError
from allocopt.model.objectives import gap_weights
from allocopt.model.problem import Problem

if TYPE_CHECKING:
    from allocopt.model.allocation import AllocationModel


@dataclass(frozen=True, eq=False)
class ClosureProblem:
    """One closure scenario: its name, weight and the allocation problem over its travel minutes."""

    name: str
    weight: float
    problem: Problem


def add_robust(m: AllocationModel, closures: Sequence[ClosureProblem], mode: str) -> None:
    """Add the coverage of every closure scenario and replace the gap stage by the robust objective.

    expected: min pi_0 gap^0 + sum_c pi_c gap^c, then cost.
    worst:    min z  s.t.  z >= gap^c for c in {0} u C, then the expected objective, then cost.
    Every gap^c, normal conditions' gap^0 included, comes from `add_closure_coverage` with every site counted:
    the primary-care reduction of the model's own coverage (`allocation.dominated_primary_sites`) rests on one
    set of travel times and would undercount, in normal conditions, a plan placing GPs for a closure's sake.
    Only the `gap` objective without `[tiers]` has a robust form; ScenarioError otherwise.
    """
    if mode not in ROBUST_MODES:
        raise ScenarioError(f"unknown robust mode {mode!r}; choose one of: {', '.join(ROBUST_MODES)}")
    if m.objective != "gap" or m.tiers is not None:
        raise ScenarioError("--robust plans with the gap objective and without [tiers]; drop one or the other")
    if not closures:
        raise ScenarioError("--robust needs [[closures]] in the scenario: the road closure scenarios to plan for")
    normal_weight = max(0.0, 1.0 - sum(c.weight for c in closures))
    normal = ClosureProblem("normal", normal_weight, m.problem)
    gaps = [add_closure_coverage(m, c) for c in (normal, *closures)]
    expected = pulp.LpAffineExpression()
    for weight, gap in zip([normal_weight, *(c.weight for c in closures)], gaps, strict=True):
        expected.addInPlace(gap * weight)
    cost = m.stages[-1]
    if mode == "expected":
        m.stages = [expected, cost]
    else:
        m.stages = [add_worst_gap(m, gaps, ["normal", *(c.name for c in closures)]), expected, cost]
    m.lp.setObjective(pulp.LpAffineExpression(m.stages[0]))


def add_closure_coverage(m: AllocationModel, closure: ClosureProblem) -> pulp.LpAffineExpression:
    """cover_c[u,v] in [0, 1] with cover_c[u,v] <= sum_{j in S^c_uv} has[j,v] for each unit u of scenario c;
    unserved^c_v = sum_u w^c_uv (1 - cover_c[u,v]), w^c_uv the unit's people-equivalents for v (`Problem.unit_weight`).
    Units within T_v of a provider of today under c are fixed at
    1 and units beyond every possible provider at 0 (as in `add_coverage`).

    Returns gap^c = sum_v a_v unserved^c_v + a_gp sum_t short[t] (GP staffing does not depend on the roads), plus
    the untreated pathway cases of `[pathways]`, planned under normal conditions and the same in every scenario.
    """
    p = closure.problem
    weights, gp_weight = gap_weights(m.problem)
    gap = pulp.LpAffineExpression()
    for v in m.services:
        sets = p.cover_sets[v]
        covered_now = p.covered_now(v)
        has_by_site = np.array([m.has.get((site, v)) for site in p.site_ids], dtype=object)
        terms: list[tuple[pulp.LpVariable, float]] = []
        for u in np.flatnonzero(~covered_now & (np.diff(sets.indptr) > 0)):
            var = m.var("cover_closure", (closure.name, p.unit_ids[u], v), upper=1)
            providers = has_by_site[sets.indices[sets.indptr[u]:sets.indptr[u + 1]]]
            m.constrain("cover_closure", (closure.name, p.unit_ids[u], v),
                        [(var, 1.0), *((h, -1.0) for h in providers)], pulp.LpConstraintLE, 0.0)
            terms.append((var, -float(p.unit_weight[v][u])))
        unserved = pulp.LpAffineExpression(terms, constant=float(p.unit_weight[v][~covered_now].sum()))
        gap.addInPlace(unserved * weights[v])
    for shortage in m.shortage.values():
        gap.addInPlace(shortage * gp_weight)
    if m.pathways is not None:
        gap.addInPlace(m.pathways.objective)
    return gap


def add_worst_gap(m: AllocationModel, gaps: Sequence[pulp.LpAffineExpression],
                  names: Sequence[str]) -> pulp.LpAffineExpression:
    """z >= gap^c for every scenario c (normal conditions included); returns z, the worst scenario gap."""
    z = m.var("worst_gap", (), upper=None)
    for name, gap in zip(names, gaps, strict=True):
        m.lp.addConstraint(pulp.LpConstraint(gap - z, pulp.LpConstraintLE, m.name("worst_gap", name), 0.0))
    return pulp.LpAffineExpression([(z, 1.0)])
