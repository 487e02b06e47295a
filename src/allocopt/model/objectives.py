"""Objectives of the allocation MILP and the staged solve (equity first, then the weighted gap).

Every objective is in plain units: people (gap, equity's second stage), a share of people (equity's first
stage), population-weighted minutes (travel) or yuan (cost). `add_objective` fills `m.stages`, the
objectives solved in turn by `solve_model`; each later stage keeps the earlier ones at their found values.
Every objective but cost ends with a cost stage: plans of equal quality are common (several sites often
cover the same villages), and among them the plan should be the cheapest, not whichever the solver met first.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Protocol

import numpy as np
import pulp

from allocopt.errors import ScenarioError
from allocopt.highs import HighsSession
from allocopt.model.problem import Problem
from allocopt.services import GP_SHORTAGE
from allocopt.solve import DEFAULT_SOLVER, Progress, SolveOutcome, solve

if TYPE_CHECKING:
    from allocopt.model.allocation import AllocationModel

STAGE_TOLERANCE = 1e-6
"""Relative (and absolute) slack with which an earlier stage's value is kept in a later stage."""


def add_objective(m: AllocationModel, p: Problem) -> None:
    """Set `m.stages` for `m.objective` (the quality stages, then the cost stage) and make the first stage the
    model's objective."""
    lines = {"total": m.capital_yuan + m.annual_yuan, "capital": m.capital_yuan, "annual": m.annual_yuan}
    cost = lines[m.cost_line]
    if m.objective == "gap":
        m.stages = [gap_expression(m, p), cost]
    elif m.objective == "equity":
        m.stages = [add_equity(m, p), gap_expression(m, p), cost]
    elif m.objective == "travel":
        assert m.travel_minutes is not None, "add_travel builds the travel expression for this objective"
        m.stages = [m.travel_minutes, cost]
    else:
        m.stages = [cost]
    m.lp.setObjective(pulp.LpAffineExpression(m.stages[0]))


def gap_weights(p: Problem) -> tuple[dict[str, float], float]:
    """Service weights a_v and the GP-shortage weight a_gp, from the scenario."""
    return {v: float(p.scenario.weights[v]) for v in p.services}, float(p.scenario.weights[GP_SHORTAGE])


def gap_expression(m: AllocationModel, p: Problem) -> pulp.LpAffineExpression:
    """Weighted gap in people: sum_v a_v unserved_v + a_gp sum_t short[t], plus the tier terms (people-equivalents,
    `model.referral`) when the scenario has `[tiers]`, the ambulance term (`model.ems`) when it has `[ems]` and the
    untreated cases (`model.pathways`) with `[pathways]`."""
    weights, gp_weight = gap_weights(p)
    total = pulp.LpAffineExpression()
    for v in m.services:
        total.addInPlace(m.unserved[v] * weights[v])
    for shortage in m.shortage.values():
        total.addInPlace(shortage * gp_weight)
    if m.tiers is not None:
        total.addInPlace(m.tiers.objective)
    if m.ems is not None:
        total.addInPlace(m.ems.objective)
    if m.pathways is not None:
        total.addInPlace(m.pathways.objective)
    return total


def add_equity(m: AllocationModel, p: Problem) -> pulp.LpAffineExpression:
    """The largest township gap share z: for every township t with residents, gap_t <= z P_t W, where
    gap_t = sum_v a_v (P_t - covered people of t) + a_gp short[t] and W = sum_v a_v + a_gp.

    Returns z (the first-stage objective). Raises ScenarioError when every weight is zero.
    """
    weights, gp_weight = gap_weights(p)
    weight_sum = sum(weights.values()) + gp_weight
    if weight_sum <= 0:
        raise ScenarioError(f"{p.scenario.source}: every weight is zero, so the equity objective has nothing to "
                            "balance; give at least one service (or gp_shortage) a positive weight")
    count = len(p.township_ids)
    constants = np.zeros(count)
    terms: list[list[tuple[pulp.LpVariable, float]]] = [[] for _ in range(count)]
    unit_position = {unit: u for u, unit in enumerate(p.unit_ids)}
    for v in m.services:
        if weights[v] <= 0:
            continue
        uncovered = np.where(p.covered_now(v), 0.0, p.unit_weight[v])
        constants += weights[v] * np.bincount(p.unit_township, weights=uncovered, minlength=count)
    for (unit, v), var in m.cover.items():
        u = unit_position[unit]
        if weights[v] > 0:
            terms[p.unit_township[u]].append((var, -weights[v] * float(p.unit_weight[v][u])))
    township_position = {code: t for t, code in enumerate(p.township_ids)}
    for code, shortage in m.shortage.items():
        t = township_position[code]
        constants[t] += gp_weight * shortage.constant
        terms[t].extend((var, gp_weight * coefficient) for var, coefficient in shortage.items())
    z = m.var("max_gap_share", (), upper=None)
    for town in np.flatnonzero(p.township_population > 0):
        scale = float(p.township_population[town]) * weight_sum
        m.constrain("equity", (p.township_ids[town],), [*terms[town], (z, -scale)], pulp.LpConstraintLE,
                    -float(constants[town]))
    return pulp.LpAffineExpression([(z, 1.0)])


class StagedModel(Protocol):
    """What `solve_model` needs of a model: its LpProblem, its stages and a way to name new rows."""

    lp: pulp.LpProblem
    stages: list[pulp.LpAffineExpression]

    def name(self, family: str, *keys: str) -> str: ...


MIN_STAGE_S = 0.5
"""A later stage is skipped when less than this is left of the time limit: the earlier stage's plan stands."""


def solve_model(m: StagedModel, *, solver: str = DEFAULT_SOLVER, time_limit_s: float | None = None,
                mip_gap: float | None = None, warm_start: bool = False,
                progress: Progress | None = None) -> tuple[SolveOutcome, ...]:
    """Solve the stages of `m` in turn and return one outcome per stage (the last holds the plan).

    Before each later stage the earlier objective is held at its found value (plus STAGE_TOLERANCE) and the
    earlier plan is handed over as a warm start; with `warm_start` the first stage starts from the plan the
    variables hold too. `time_limit_s` is the wall-clock limit of the whole solve: the stages share one
    deadline, and a later stage that has no time left, or ends without a plan, leaves the earlier stage's plan
    (its outcome is then "feasible" with an unknown gap). Stops at the first stage without a plan. `progress`
    is told the seconds since the solve began and the gap of the current stage's best plan. Solution values
    stay on the model's variables. With HiGHS the stages share one solver instance (`highs.HighsSession`): a
    later stage loads its one added row and its objective, not the whole model again.
    """
    began = time.monotonic()
    session = HighsSession()
    deadline = None if time_limit_s is None else began + time_limit_s
    outcomes: list[SolveOutcome] = []
    for index, stage in enumerate(m.stages):
        left_s = None if deadline is None else deadline - time.monotonic()
        if index:
            if left_s is not None and left_s < MIN_STAGE_S:
                outcomes.append(_skipped(stage, outcomes[-1]))
                break
            earlier = m.stages[index - 1]
            found = float(pulp.value(earlier))
            slack = STAGE_TOLERANCE * max(1.0, abs(found))
            m.lp.addConstraint(pulp.LpConstraint(pulp.LpAffineExpression(earlier), pulp.LpConstraintLE,
                                                 m.name("stage_keep", str(index)), found + slack))
            m.lp.setObjective(pulp.LpAffineExpression(stage))
        elapsed = None if progress is None else _since(began, progress)
        earlier_plan = [(var, var.varValue) for var in m.lp.variables()] if index else []
        outcome = solve(m.lp, solver=solver, time_limit_s=None if left_s is None else max(left_s, MIN_STAGE_S),
                        mip_gap=mip_gap, warm_start=warm_start or index > 0, progress=elapsed, session=session)
        if index and not outcome.has_plan:
            for var, value in earlier_plan:
                var.varValue = value
            outcomes.append(_skipped(stage, outcomes[-1]))
            break
        outcomes.append(outcome)
        if not outcome.has_plan:
            break
    return tuple(outcomes)


def _since(began: float, progress: Progress) -> Progress:
    """`progress` with the seconds counted from `began` (the start of the whole solve), not of the stage."""
    return lambda _stage_s, gap, has_plan: progress(time.monotonic() - began, gap, has_plan)


def _skipped(stage: pulp.LpAffineExpression, earlier: SolveOutcome) -> SolveOutcome:
    """The outcome of a stage the time limit left no room for, or that found no plan: the earlier plan, not
    proven for this stage."""
    return SolveOutcome(status="feasible", objective=float(pulp.value(stage)), best_bound=None, gap=None,
                        solver=earlier.solver, solver_version=earlier.solver_version, seconds=0.0)
