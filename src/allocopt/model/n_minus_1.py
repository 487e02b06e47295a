"""n-1 coverage: a service within its threshold for every village when any one segment of a chosen set fails.

Notation (as in `model.allocation`): i demand points with people-equivalents w_iv, v services of `[n_minus_1]`
with threshold T_v, E the chosen segments, S_iv the sites that may provide v within T_v in normal conditions
and S^e_iv those still within T_v with segment e closed (`allocopt.failure_coverage`; S^e_iv is a subset of
S_iv). A row is an affected pair (i, e) with S^e_iv != S_iv. A point is *unservable* when S_iv is not empty but
some S^e_iv is: no plan can keep it, so it is reported (`FailureSets.unservable`) and never required.

hard: for every point i with people, S_iv not empty and not unservable, every single failure leaves it a
      provider: sum_{j in S^e_iv} has[j,v] >= 1 for each of its rows; a point no failure affects needs
      sum_{j in S_iv} has[j,v] >= 1 (it keeps v under every failure exactly when it has it). Sets holding a
      provider of today need no row; identical sets share one row.
soft: c[r] in [0, 1] with c[r] <= sum_{j in S^e_iv} has[j,v] per row r = (i, e) (identical sets share c);
      lost^e_v = sum_{rows (i, e)} w_iv (cover[u(i),v] - c[r]), the people covered in normal conditions who lose
      v when e fails; z_v >= lost^e_v for every e, z_v >= 0; the gap stage gains lambda sum_v a_v z_v,
      lambda = `weight` in (0, 1]. With lambda <= 1 raising cover[u,v] never lowers the gap stage (it lowers
      unserved_v by as much as it can raise any lost^e_v), so at an optimum cover and c equal min(1, sum has)
      and z_v is the people who lose v in the worst single failure, as the results recompute it.

Soft n-1 counts in the gap stage of the gap and equity objectives; the cost objective (the cheapest plan meeting
the hard targets, also used to explain an infeasible budget) leaves it out, and the travel objective refuses it.
Switched on when the problem carries failure sets (`Problem.n_minus_1`, from `[n_minus_1]`); without them the
model is exactly today's.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pulp

from allocopt.errors import ScenarioError
from allocopt.model.objectives import gap_weights
from allocopt.model.problem import Problem

if TYPE_CHECKING:
    from allocopt.model.allocation import AllocationModel


def add_n_minus_1(m: AllocationModel, p: Problem) -> None:
    """Add the hard rows or the soft worst-failure term of `[n_minus_1]` (see the module docstring)."""
    settings = p.scenario.n_minus_1
    if settings is None:
        return
    if p.n_minus_1 is None:
        raise ScenarioError(
            f"{p.scenario.source}: [n_minus_1] needs the coverage sets of each road failure, computed from the road "
            "network (workflow.prepared_problem, or failure_coverage.failure_sets); optimize --robust does not "
            "combine with [n_minus_1] yet: drop one of them"
        )
    if settings.mode == "hard":
        for v in p.n_minus_1.services:
            _add_hard(m, p, v)
        return
    if m.objective == "cost":
        return  # the cheapest plan meeting the hard targets: soft n-1 is none of them
    stage = {"gap": 0, "equity": 1}.get(m.objective)
    if stage is None:
        raise ScenarioError(f"{p.scenario.source}: [n_minus_1] mode = \"soft\" counts in the gap, which the "
                            f"{m.objective} objective does not minimize; use mode = \"hard\" or the gap objective")
    weights, _ = gap_weights(p)
    for v in p.n_minus_1.services:
        if v in m.services and weights[v] > 0:
            worst = _add_soft(m, p, v)
            m.stages[stage] = m.stages[stage] + worst * (settings.weight * weights[v])
    m.lp.setObjective(pulp.LpAffineExpression(m.stages[0]))


def _has_terms(m: AllocationModel, p: Problem, v: str, columns: np.ndarray) -> list[pulp.LpVariable] | None:
    """The has[j,v] of the sites in `columns`; None when one of them provides v today (the set is kept)."""
    if p.provides_now[v][columns].any():
        return None
    return [m.has[p.site_ids[j], v] for j in columns if (p.site_ids[j], v) in m.has]


def _add_hard(m: AllocationModel, p: Problem, v: str) -> None:
    """n_minus_1[point, service, segment]: sum_{j in S^e_iv} has[j,v] >= 1 (see the module docstring)."""
    sets = p.n_minus_1
    assert sets is not None
    rows, normal = sets.kept(p, v), p.cover_sets[v]
    required = (p.demand_population > 0) & (np.diff(normal.indptr)[p.unit_of_demand] > 0) & ~sets.unservable(p, v)
    affected = np.zeros(len(p.demand_ids), dtype=bool)
    affected[sets.point[v]] = True
    wanted: list[tuple[tuple[str, ...], np.ndarray]] = []
    for r in np.flatnonzero(required[sets.point[v]]):
        i = sets.point[v][r]
        wanted.append(((p.demand_ids[i], v, sets.segment_ids[sets.segment[v][r]]),
                       rows.indices[rows.indptr[r]:rows.indptr[r + 1]]))
    for i in np.flatnonzero(required & ~affected):
        u = p.unit_of_demand[i]
        wanted.append(((p.demand_ids[i], v, "none"), normal.indices[normal.indptr[u]:normal.indptr[u + 1]]))
    seen: set[bytes] = set()
    for keys, columns in wanted:
        terms = _has_terms(m, p, v, columns)
        key = columns.astype(np.int64).tobytes()  # one dtype: the normal and the failure sets' indices may differ
        if terms is None or key in seen:
            continue
        seen.add(key)
        m.constrain("n_minus_1", keys, [(h, 1.0) for h in terms], pulp.LpConstraintGE, 1.0)


def _add_soft(m: AllocationModel, p: Problem, v: str) -> pulp.LpAffineExpression:
    """z_v >= lost^e_v for every segment e that affects someone; returns z_v (see the module docstring).

    Rows with identical sets share one c; each lost^e_v gathers its people per unit (cover) and per set (c)
    before it becomes an expression, so that a prefecture's million affected pairs build in seconds."""
    sets = p.n_minus_1
    assert sets is not None
    point, segment = sets.point[v], sets.segment[v]
    weight, unit = p.demand_weight[v][point], p.unit_of_demand[point]
    set_of_row, kept = _shared_kept(m, p, v)
    covered_now = p.covered_now(v)
    z = m.var("n_minus_1_worst", (v,), upper=None)
    starts = np.flatnonzero(np.r_[True, segment[1:] != segment[:-1]]) if len(segment) else np.zeros(0, dtype=int)
    for start, stop in zip(starts, [*starts[1:], len(segment)], strict=True):
        terms: list[tuple[pulp.LpVariable, float]] = [(z, -1.0)]
        constant = 0.0
        for u, people in _grouped(unit[start:stop], weight[start:stop]):
            cover = 1.0 if covered_now[u] else m.cover.get((p.unit_ids[u], v), 0.0)
            if isinstance(cover, float):
                constant += cover * people
            else:
                terms.append((cover, people))
        for k, people in _grouped(set_of_row[start:stop], weight[start:stop]):
            c = kept[k]
            if isinstance(c, float):
                constant -= c * people
            elif c is not None:
                terms.append((c, -people))
        m.constrain("n_minus_1_worst", (v, sets.segment_ids[segment[start]]), terms, pulp.LpConstraintLE,
                    -constant)  # units sharing one cover variable add up (`constrain` sums the terms of a variable)
    return pulp.LpAffineExpression([(z, 1.0)])


def _shared_kept(m: AllocationModel, p: Problem, v: str
                 ) -> tuple[np.ndarray, list[pulp.LpVariable | float | None]]:
    """The set of each row (an index into the list) and per distinct set its c (`_kept`)."""
    sets = p.n_minus_1
    assert sets is not None
    rows = sets.kept(p, v)
    index: dict[bytes, int] = {}
    kept: list[pulp.LpVariable | float | None] = []
    set_of_row = np.empty(rows.shape[0], dtype=np.int64)
    for r in range(rows.shape[0]):
        columns = rows.indices[rows.indptr[r]:rows.indptr[r + 1]]
        key = columns.tobytes()
        if key not in index:
            index[key] = len(kept)
            i, e = int(sets.point[v][r]), int(sets.segment[v][r])
            kept.append(_kept(m, p, v, columns, (p.demand_ids[i], v, sets.segment_ids[e])))
        set_of_row[r] = index[key]
    return set_of_row, kept


def _grouped(keys: np.ndarray, weights: np.ndarray) -> list[tuple[int, float]]:
    """(key, summed weight) per distinct key, in key order."""
    distinct, inverse = np.unique(keys, return_inverse=True)
    return list(zip(distinct.tolist(), np.bincount(inverse, weights=weights).tolist(), strict=True))


def _kept(m: AllocationModel, p: Problem, v: str, columns: np.ndarray,
          keys: tuple[str, ...]) -> pulp.LpVariable | float | None:
    """c[r] <= sum_{j in set} has[j,v]: a variable, 1.0 when a provider of today is in the set, None when the
    set can hold no provider."""
    terms = _has_terms(m, p, v, columns)
    if terms is None:
        return 1.0
    if not terms:
        return None
    c = m.var("n_minus_1_kept", keys, upper=1)
    m.constrain("n_minus_1_kept", keys, [(c, 1.0), *((h, -1.0) for h in terms)], pulp.LpConstraintLE, 0.0)
    return c
