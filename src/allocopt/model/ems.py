"""The 120 ambulance family of the allocation MILP: ambulances at stations, new stations, expected coverage.

Notation (the arrays of `allocopt.ems.EmsData`): j stations with a_j ambulances today, at most M_j added, C the
candidate stations; g groups of demand points with the same reach set N_g (stations whose response time is within
the threshold T), w_g residents, A_g = sum_{j in N_g} a_j and U_g = sum_{j in N_g} M_j; q the busy fraction; P the
residents of the region.

    amb[j] in {0..M_j}       ambulances added at j;        amb[j] <= M_j amb_open[j] for j in C
    amb_open[j] in {0, 1}    candidate station j opens
    y[g,k] in [0, 1]         the k-th ambulance within reach of g, k = A_g+1 .. A_g+U_g:
                             sum_k y[g,k] <= sum_{j in N_g} amb[j]
    expected covered         E = sum_g w_g ((1 - q^A_g) + sum_k (1 - q) q^(k-1) y[g,k])
    fleet norm (hard)        sum_j (a_j + amb[j]) >= ceil(P / residents_per_ambulance)
    fleet cap                sum_j (a_j + amb[j]) <= max(F, sum_j a_j), F from ems.fleet_cap (default the norm)
    costs                    capital += c_a sum amb[j] + c_s sum amb_open[j]; annual likewise
    objective term           weight (P - E), people-equivalents added to the `gap` objective

A point within reach of k free-or-busy ambulances finds one free with probability 1 - q^k = sum_{l<=k} (1-q)
q^(l-1) (Daskin 1983, MEXCLP). The increments (1-q) q^(k-1) fall with k, so at an optimum the continuous y fill
in order and E is exact for the integer amb; increments of zero (q = 0 beyond the first ambulance) get no
variable. Groups merge demand points whose reach sets are equal, which changes no optimum.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import pulp

from allocopt.model.problem import Problem

if TYPE_CHECKING:
    from allocopt.model.allocation import AllocationModel


@dataclass(eq=False)
class EmsModel:
    """Variables and expressions of the ambulance family, keyed by station ID.

    `amb[station]` (ambulances added), `amb_open[station]` (candidates); `fleet` the ambulances after the plan,
    `expected_uncovered` the residents not expected to find a free ambulance in time (people), `objective` the
    weighted term of the `gap` objective, `capital_yuan` and `annual_yuan` the family's costs.
    """

    amb: dict[str, pulp.LpVariable] = field(default_factory=dict)
    amb_open: dict[str, pulp.LpVariable] = field(default_factory=dict)
    fleet: pulp.LpAffineExpression = field(default_factory=pulp.LpAffineExpression)
    expected_uncovered: pulp.LpAffineExpression = field(default_factory=pulp.LpAffineExpression)
    objective: pulp.LpAffineExpression = field(default_factory=pulp.LpAffineExpression)
    capital_yuan: pulp.LpAffineExpression = field(default_factory=pulp.LpAffineExpression)
    annual_yuan: pulp.LpAffineExpression = field(default_factory=pulp.LpAffineExpression)


def add_ambulances(m: AllocationModel, p: Problem) -> None:
    """The ambulance family (see the module docstring); nothing without `[ems]`. Its costs join the model's
    capital and annual expressions, so they fall under the same budget."""
    data = p.ems
    if data is None:
        return
    settings, inputs = data.settings, data.inputs
    e = EmsModel()
    for j in np.flatnonzero(data.max_added > 0):
        station, limit = inputs.station_ids[j], float(data.max_added[j])
        var = e.amb[station] = m.var("amb", (station,), upper=limit, integer=True)
        if inputs.candidate[j]:
            opened = e.amb_open[station] = m.var("amb_open", (station,), upper=1, integer=True)
            m.constrain("amb_open", (station,), [(var, 1.0), (opened, -limit)], pulp.LpConstraintLE, 0.0)
    by_position = {j: e.amb[inputs.station_ids[j]] for j in np.flatnonzero(data.max_added > 0)}
    q = settings.busy_fraction
    covered: list[tuple[pulp.LpVariable, float]] = []
    constant = 0.0
    names = _group_names(p, data.group_of_demand, len(data.group_stations))
    for g, stations in enumerate(data.group_stations):
        people, today = float(data.group_population[g]), int(data.group_today[g])
        constant += people * (1.0 - q ** today)
        added = [by_position[j] for j in stations if j in by_position]
        steps = [k for k in range(today + 1, today + int(data.max_added[stations].sum()) + 1)
                 if (1.0 - q) * q ** (k - 1) > 0]
        if not added or not steps or people <= 0:
            continue
        name = names[g]
        ys = [m.var("amb_cover", (name, str(k)), upper=1) for k in steps]
        m.constrain("amb_cover", (name,), [*((y, 1.0) for y in ys), *((x, -1.0) for x in added)],
                    pulp.LpConstraintLE, 0.0)
        covered.extend((y, people * (1.0 - q) * q ** (k - 1)) for y, k in zip(ys, steps, strict=True))
    e.expected_uncovered = pulp.LpAffineExpression([(y, -c) for y, c in covered],
                                                   constant=data.population - constant)
    e.objective = e.expected_uncovered * settings.weight
    e.fleet = pulp.LpAffineExpression([(x, 1.0) for x in e.amb.values()], constant=float(data.fleet_today))
    if settings.fleet_norm_hard:
        m.lp.addConstraint(pulp.LpConstraint(e.fleet, pulp.LpConstraintGE, m.name("amb_fleet_norm"),
                                             float(settings.fleet_norm(data.population))))
    cap = settings.fleet_cap_ambulances(data.population, data.fleet_today)
    if cap is not None and e.amb:
        m.lp.addConstraint(pulp.LpConstraint(e.fleet, pulp.LpConstraintLE, m.name("amb_fleet_cap"), float(cap)))
    e.capital_yuan = pulp.LpAffineExpression(
        [(x, settings.ambulance_capital_yuan) for x in e.amb.values()]
        + [(o, settings.station_capital_yuan) for o in e.amb_open.values()])
    e.annual_yuan = pulp.LpAffineExpression(
        [(x, settings.ambulance_annual_yuan) for x in e.amb.values()]
        + [(o, settings.station_annual_yuan) for o in e.amb_open.values()])
    m.capital_yuan = m.capital_yuan + e.capital_yuan
    m.annual_yuan = m.annual_yuan + e.annual_yuan
    m.ems = e


def _group_names(p: Problem, group_of_demand: np.ndarray, count: int) -> list[str]:
    """Each group is named after its first demand point."""
    first = np.full(count, -1, dtype=np.int64)
    reached = np.flatnonzero(group_of_demand >= 0)
    groups, positions = np.unique(group_of_demand[reached], return_index=True)
    first[groups] = reached[positions]
    return [p.demand_ids[i] for i in first]


def ems_targets(p: Problem) -> list[str]:
    """The fleet norm in words when the scenario makes it a hard target (else nothing)."""
    data = p.ems
    if data is None or not data.settings.fleet_norm_hard:
        return []
    return [f"ambulances >= {data.settings.fleet_norm(data.population)} (one per "
            f"{data.settings.residents_per_ambulance:,.0f} residents, ems.fleet_norm_hard)"]


def ems_limits(p: Problem) -> list[str]:
    """Why the hard fleet norm cannot be met at any cost: the stations cannot hold that many ambulances."""
    data = p.ems
    if data is None or not data.settings.fleet_norm_hard:
        return []
    needed, most = data.settings.fleet_norm(data.population), data.fleet_today + int(data.max_added.sum())
    cap = data.settings.fleet_cap_ambulances(data.population, data.fleet_today)
    if cap is not None and cap < needed:
        return [f"ems.fleet_norm_hard: the norm asks for {needed} ambulances, but ems.fleet_cap allows {cap}; "
                "raise fleet_cap or set it to \"norm\""]
    if most >= needed:
        return []
    return [f"ems.fleet_norm_hard: the norm asks for {needed} ambulances, but the {len(data.max_added)} stations "
            f"hold at most {most} (ems.max_ambulances_per_station = {data.settings.max_ambulances_per_station}); "
            "raise the limit or add candidate stations"]
