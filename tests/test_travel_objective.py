"""The `travel` objective's reduced assignment gives the optimum of the full one.

`add_travel` gives a demand point pairs only with sites strictly closer than what it keeps whatever the plan
(its nearest provider of today, or the cutoff). The full p-median assignment written here pairs every demand
point with every site that has or may get primary care within the cutoff; on random problems (the generator of
tests/test_properties.py, with times rounded to coarse steps so that ties are common) both models must have the
same optimal travel (tests/test_properties.py checks that the optimum is what the plan gives when recomputed).
"""

from __future__ import annotations

import dataclasses
from unittest import mock

import numpy as np
import pulp
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from allocopt.model import allocation, build_model, solve_model
from allocopt.model.allocation import AllocationModel
from allocopt.model.problem import Problem
from allocopt.services import PRIMARY_CARE
from test_properties import Instance, instances


def full_travel(m: AllocationModel, p: Problem) -> None:
    """Every pair within the cutoff C: sum_j x[i,j] + z_i = 1, x[i,j] <= has[j] where j may open, z_i at C."""
    if m.objective != "travel":
        return
    cutoff = m.travel_cutoff_minutes if m.travel_cutoff_minutes is not None else p.default_travel_cutoff()
    m.travel_cutoff_minutes = cutoff
    objective = pulp.LpAffineExpression()
    for i in np.flatnonzero(p.demand_population > 0):
        people, row = float(p.demand_population[i]), pulp.LpAffineExpression()
        z = m.var("unassigned", (p.demand_ids[i],), upper=1)
        row.addterm(z, 1.0)
        objective.addterm(z, people * cutoff)
        for j in np.flatnonzero(p.can_provide[PRIMARY_CARE] & (p.minutes[i] <= cutoff)):
            x = m.var("assign", (p.demand_ids[i], p.site_ids[j]), upper=1)
            row.addterm(x, 1.0)
            objective.addterm(x, people * float(p.minutes[i, j]))
            if not p.provides_now[PRIMARY_CARE][j]:
                m.lp += x <= m.has[p.site_ids[j], PRIMARY_CARE]
        m.lp += row == 1
    m.travel_unreachable = ()
    m.travel_minutes = objective


def _optimum(problem: Problem, cutoff: float | None) -> tuple[str, float | None, AllocationModel]:
    """Status and optimal travel (the first stage) of the allocation MILP of `problem`, and the model."""
    model = build_model(problem, objective="travel", travel_cutoff_minutes=cutoff)
    first = solve_model(model, mip_gap=0.0)[0]
    return first.status, first.objective, model


@settings(max_examples=150, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(inst=instances(), step=st.sampled_from([0.0, 10.0, 30.0]), cutoff=st.sampled_from([None, 20.0, 60.0]))
def test_reduced_travel_assignment_has_the_full_assignments_optimum(
    inst: Instance, step: float, cutoff: float | None
) -> None:
    if step:
        inst = dataclasses.replace(inst, minutes=np.round(inst.minutes / step) * step)
    status, reduced, model = _optimum(inst.problem(), cutoff)
    with mock.patch.object(allocation, "add_travel", full_travel):
        full_status, full, full_model = _optimum(inst.problem(), cutoff)
    assert status == full_status
    if status != "optimal":
        return
    assert reduced is not None and full is not None
    assert reduced == pytest.approx(full, rel=1e-9, abs=1e-6)
    assert len(model.lp.variables()) <= len(full_model.lp.variables())
