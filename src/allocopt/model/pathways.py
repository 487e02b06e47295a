"""Care-pathway families of the allocation MILP: center tiers, telemedicine terminals, pathway flows.

Notation (`allocopt.pathways`): conditions c with lower tier L and upper tier U, sites j, demand points i with
expected yearly cases n_ic and people-equivalents w_ic (`Problem.demand_weight`), a self-presentation share s_c
(arrival g: 120 with share 1 - s_c, self with s_c), pathways k of (i, c, g) within the windows, each needing a set
R_k of literals: (door, L), (door, U), (center, U), (door, terminal).

    hold[j,c,x] in {0,1}  tier x of c at j (sites not holding it today):   hold[j,c,L] >= hold[j,c,U]
                          hold[j,c,x] <= eq[j,k] for each required equipment k the site lacks, <= tele[j] where
                          the tier needs a terminal at j's level, <= open[j] for candidates
    tele[j] in {0,1}      a telemedicine terminal at j:                        tele[j] <= open[j]
    compact form (no minimum volume), for each (i, c, g):
    treated[i,c,g] in [0,1] <= sum_{e: straight to e in time} U_e + sum_{d, terminal use} y[d, E]
    y[d, E] in [0,1]      <= L_d (drip-and-ship; none for a plain transfer), <= tele[d] (terminal use),
                          <= reach[E];  reach[E] in [0,1] <= sum_{e in E} U_e, E the centers d's transfers make in
                          time for i (a prefix of the centers by transfer minutes)
    flow form (a tier of c has a minimum volume V_x):
    and[R] in [0,1]       all literals of R hold (R of two or more):           and[R] <= r for each r in R
    x[k] in [0,1]         share of (i, c, g) treated over pathway k:           sum_k x[k] <= 1, x[k] <= and[R_k]
    minimum volume:       sum_{k treated at j by x} n_ic share_g x[k] >= V_x hold[j,c,x]

With `[ems]`, a 120 pathway that needs a faster response than today's also needs staffed[S], some station of S
holding an ambulance in the plan (`model.ems_pathways`), as one more literal of its conjunction.
A literal held today is the constant 1 and leaves its rows out; y, reach and `and` variables are shared by every
point needing the same literals, so their number grows with doors x centers, not with points, and points with the
same options share one treated variable. Which center a timely transfer reaches does not change the objective, so
the compact form has no variable per point x door x center; the flow form does (volumes need it). Objective term
per condition, in people-equivalents, added to the `gap` objective:
a_c sum_i w_ic ((1 - s_c)(1 - treated[i,c,ems]) + s_c (1 - treated[i,c,self])), with treated the sum of the flows
in the flow form.
Costs: capital and annual cost of every hold and tele variable, added to the plan's cost lines.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import pulp

from allocopt.model.ems_pathways import improving_responses, staffed_var, station_levels
from allocopt.model.problem import Problem
from allocopt.pathway_settings import ConditionSettings
from allocopt.pathways import LOWER, UPPER, PathwayData, Pathways, generate

if TYPE_CHECKING:
    from allocopt.model.allocation import AllocationModel

Literal = tuple[int, str]
"""(site position, "L" | "U" | "tele")."""


@dataclass(eq=False)
class PathwayModel:
    """Variables and expressions of the pathway families, keyed by IDs.

    `hold[site, condition, tier]`, `tele[site]`, `flow[condition]` (the flow form only: one variable per generated
    pathway, aligned with `pathways[condition]`), `untreated[condition]` (weighted people-equivalents),
    `objective` their sum; `variables` and `constraints` count what the families added to the model."""

    hold: dict[tuple[str, str, str], pulp.LpVariable] = field(default_factory=dict)
    tele: dict[str, pulp.LpVariable] = field(default_factory=dict)
    pathways: dict[str, Pathways] = field(default_factory=dict)
    flow: dict[str, list[pulp.LpVariable]] = field(default_factory=dict)
    untreated: dict[str, pulp.LpAffineExpression] = field(default_factory=dict)
    objective: pulp.LpAffineExpression = field(default_factory=pulp.LpAffineExpression)
    variables: int = 0
    constraints: int = 0
    improving: np.ndarray = field(default_factory=lambda: np.zeros((0, 0)))
    staffed: dict[tuple[int, ...], pulp.LpVariable] = field(default_factory=dict)


def add_pathways(m: AllocationModel, p: Problem) -> None:
    """The pathway families, their costs added to `m.capital_yuan` and `m.annual_yuan` (nothing without
    `[pathways]`); with `[ems]`, 120 pathways also need the ambulance that makes them timely
    (`model.ems_pathways`). Call after `add_costs` and `add_ambulances`, before `add_budget`."""
    data = p.pathways
    if data is None:
        return
    pm = m.pathways = PathwayModel()
    before = (m.lp.numVariables(), m.lp.numConstraints())
    pm.improving = improving_responses(p)
    for c in data.settings.conditions:
        _add_tiers(m, p, data, c)
    for c in data.settings.conditions:
        lower, upper = data.can_hold[c.name]
        pw = generate(p, data, c.name, lower=lower, upper=upper, tele=data.tele_eligible)
        pm.pathways[c.name] = pw.take(station_levels(p, pw, c, pm.improving) >= 0)
    used_tele = {int(j) for pw in pm.pathways.values() for j in pw.door[pw.tele]}
    for j in sorted(used_tele | _tele_required(p, data)):
        _tele_var(m, p, j)
    for c in data.settings.conditions:
        _add_tier_links(m, p, data, c)
        if any(tier.min_cases_per_year > 0 for tier in c.tiers):
            _add_flows(m, p, data, c)
        else:
            _add_treated(m, p, data, c)
    _add_costs(m, p, data)
    pm.variables, pm.constraints = m.lp.numVariables() - before[0], m.lp.numConstraints() - before[1]


def _add_tiers(m: AllocationModel, p: Problem, data: PathwayData, c: ConditionSettings) -> None:
    """hold[j,c,x] at sites that may hold tier x and do not today; prerequisites and openings."""
    pm = m.pathways
    assert pm is not None
    for tier, can, now in zip(c.tiers, data.can_hold[c.name], data.holds_now[c.name], strict=True):
        for j in np.flatnonzero(can & ~now):
            site = p.site_ids[j]
            var = pm.hold[site, c.name, tier.name] = m.var("tier", (site, c.name, tier.name), upper=1, integer=True)
            for k in tier.requires:
                if (site, k) in m.eq:
                    m.constrain("tier_requires", (site, c.name, tier.name, k), [(var, 1.0), (m.eq[site, k], -1.0)],
                                pulp.LpConstraintLE, 0.0)
            if site in m.open:
                m.constrain("tier_open", (site, c.name, tier.name), [(var, 1.0), (m.open[site], -1.0)],
                            pulp.LpConstraintLE, 0.0)


def _tele_required(p: Problem, data: PathwayData) -> set[int]:
    """Sites whose possible tier designation needs a terminal."""
    level = np.asarray(p.site_level, dtype=object)
    needed: set[int] = set()
    for c in data.settings.conditions:
        for tier, can, now in zip(c.tiers, data.can_hold[c.name], data.holds_now[c.name], strict=True):
            at = np.isin(level, np.asarray(tier.telemedicine_required_at, dtype=object)) if len(level) else can
            needed |= {int(j) for j in np.flatnonzero(can & ~now & at)}
    return needed


def _tele_var(m: AllocationModel, p: Problem, j: int) -> None:
    pm = m.pathways
    assert pm is not None
    site = p.site_ids[j]
    var = pm.tele[site] = m.var("tele", (site,), upper=1, integer=True)
    if site in m.open:
        m.constrain("tele_open", (site,), [(var, 1.0), (m.open[site], -1.0)], pulp.LpConstraintLE, 0.0)


def _add_tier_links(m: AllocationModel, p: Problem, data: PathwayData, c: ConditionSettings) -> None:
    """hold[j,c,L] >= hold[j,c,U] (an upper tier holds the lower one) and hold <= tele[j] where required."""
    pm = m.pathways
    assert pm is not None
    level = np.asarray(p.site_level, dtype=object)
    for j, site in enumerate(p.site_ids):
        upper = pm.hold.get((site, c.name, c.upper.name))
        lower = pm.hold.get((site, c.name, c.lower.name))
        if upper is not None and lower is not None:
            m.constrain("tier_implies", (site, c.name), [(upper, 1.0), (lower, -1.0)], pulp.LpConstraintLE, 0.0)
        for tier in c.tiers:
            var = pm.hold.get((site, c.name, tier.name))
            if var is not None and level[j] in tier.telemedicine_required_at:
                m.constrain("tier_tele", (site, c.name, tier.name), [(var, 1.0), (pm.tele[site], -1.0)],
                            pulp.LpConstraintLE, 0.0)


def _distinct(pw: Pathways) -> Pathways:
    """One pathway per (point, arrival, literal set): the fastest (the others can never do better)."""
    keys = np.column_stack([pw.point, pw.arrival, pw.door * 3 + pw.door_tier + 1, pw.center, pw.tele])
    order = np.lexsort((pw.total_minutes, *keys.T[::-1]))
    _, first = np.unique(keys[order], axis=0, return_index=True)
    return pw.take(np.sort(order[first]))


def _literals(pw: Pathways, k: int) -> tuple[Literal, ...]:
    """The literals pathway k needs (see the module docstring)."""
    needs: list[Literal] = []
    if pw.door_tier[k] == LOWER:
        needs.append((int(pw.door[k]), "L"))
    elif pw.door_tier[k] == UPPER:
        needs.append((int(pw.door[k]), "U"))
    needs.append((int(pw.center[k]), "U"))
    if pw.tele[k]:
        needs.append((int(pw.door[k]), "tele"))
    return tuple(dict.fromkeys(needs))


def _add_flows(m: AllocationModel, p: Problem, data: PathwayData, c: ConditionSettings) -> None:
    """The flow form (a tier of c has a minimum volume): flows over the generated pathways, their availability
    rows, the untreated term and the minimum volumes."""
    pm = m.pathways
    assert pm is not None
    pw = pm.pathways[c.name] = _distinct(pm.pathways[c.name])
    share = np.array([1.0 - c.self_presentation_share, c.self_presentation_share])
    weight = p.demand_weight[c.name] * float(c.weight or 0.0)
    cases = p.demand_cases[c.name]
    shared: dict[tuple[str, ...], pulp.LpVariable | None] = {}
    flows: list[pulp.LpVariable] = []
    per_group: dict[tuple[int, int], list[pulp.LpVariable]] = {}
    objective: dict[pulp.LpVariable, float] = {}
    volume: dict[tuple[int, str], list[tuple[pulp.LpVariable, float]]] = {}
    levels = station_levels(p, pw, c, pm.improving)
    for k in range(len(pw)):
        i, g = int(pw.point[k]), int(pw.arrival[k])
        point = p.demand_ids[i]
        x = m.var("pathway", (point, c.name, str(k)), upper=1)
        flows.append(x)
        per_group.setdefault((i, g), []).append(x)
        objective[x] = -float(weight[i] * share[g])
        need = _literals(pw, k)
        staffed = staffed_var(m, p, pm.improving, i, int(levels[k]), pm.staffed)
        available = _conjunction(m, c, [*(_literal_var(m, p, data, c, literal) for literal in need), staffed],
                                 shared)
        if available is not None:
            m.constrain("pathway_open", (point, c.name, str(k)), [(x, 1.0), (available, -1.0)],
                        pulp.LpConstraintLE, 0.0)
        treated_at = [(int(pw.center[k]), "U")] + ([(int(pw.door[k]), "L")] if pw.door_tier[k] == LOWER else [])
        for key in treated_at:
            volume.setdefault(key, []).append((x, float(cases[i] * share[g])))
    for (i, g), xs in per_group.items():
        m.constrain("pathway_one", (p.demand_ids[i], c.name, ("ems", "self")[g]), [(x, 1.0) for x in xs],
                    pulp.LpConstraintLE, 1.0)
    constant = float(weight.sum())
    pm.flow[c.name] = flows
    pm.untreated[c.name] = pulp.LpAffineExpression(objective, constant=constant)
    pm.objective.addInPlace(pm.untreated[c.name])
    _add_volumes(m, p, c, volume)


def _literal_var(m: AllocationModel, p: Problem, data: PathwayData, c: ConditionSettings,
                 literal: Literal) -> pulp.LpVariable | None:
    """The variable of a literal, None when it holds today."""
    pm = m.pathways
    assert pm is not None
    j, what = literal
    site = p.site_ids[j]
    if what == "tele":
        return pm.tele[site]
    lower_now, upper_now = data.holds_now[c.name]
    if (upper_now if what == "U" else lower_now)[j]:
        return None
    tier = c.upper if what == "U" else c.lower
    return pm.hold[site, c.name, tier.name]


def _conjunction(m: AllocationModel, c: ConditionSettings, parts: list[pulp.LpVariable | None],
                 shared: dict[tuple[str, ...], pulp.LpVariable | None]) -> pulp.LpVariable | None:
    """and <= each part (None parts hold today and drop out): None when all hold today, the part itself when one
    is left, else a variable shared by every caller asking for the same parts."""
    variables = list(dict.fromkeys(part for part in parts if part is not None))
    if len(variables) <= 1:
        return variables[0] if variables else None
    key = tuple(sorted(var.name for var in variables))
    if key not in shared:
        both = shared[key] = m.var("pathway_and", (c.name, str(len(shared))), upper=1)
        for var in variables:
            m.constrain("pathway_and", (c.name, str(len(shared)), var.name), [(both, 1.0), (var, -1.0)],
                        pulp.LpConstraintLE, 0.0)
    return shared[key]


def _reach(m: AllocationModel, p: Problem, data: PathwayData, c: ConditionSettings, centers: tuple[int, ...],
           shared: dict[tuple[int, ...], pulp.LpVariable | None]) -> pulp.LpVariable | None:
    """reach <= sum of U over `centers` (one of them holds the upper tier): None when one does today, the center's
    variable for a single center, else a variable shared by every group reaching the same centers."""
    if centers not in shared:
        upper = [_literal_var(m, p, data, c, (e, "U")) for e in centers]
        if any(var is None for var in upper) or len(upper) == 1:
            shared[centers] = None if any(var is None for var in upper) else upper[0]
        else:
            reach = shared[centers] = m.var("pathway_reach", (c.name, str(len(shared))), upper=1)
            m.constrain("pathway_reach", (c.name, str(len(shared))),
                        [(reach, 1.0), *((var, -1.0) for var in upper if var is not None)], pulp.LpConstraintLE, 0.0)
    return shared[centers]


def _add_treated(m: AllocationModel, p: Problem, data: PathwayData, c: ConditionSettings) -> None:
    """The compact form (no minimum volume): one treated share per (point, arrival), bounded by its options.

    Options of (i, g): U at each center a pathway goes straight to, and per first door d (and terminal use) the
    conjunction of the door's literals with reach over the centers its transfers make in time. Which center a
    timely transfer goes to does not matter to the objective, so no variable is indexed by point, door and center:
    treated[i,g] <= sum of options, and points with the same options share one variable."""
    pm = m.pathways
    assert pm is not None
    pw = pm.pathways[c.name]
    share = np.array([1.0 - c.self_presentation_share, c.self_presentation_share])
    weight = p.demand_weight[c.name] * float(c.weight or 0.0)
    options: dict[tuple[int, int], list[pulp.LpVariable | None]] = {}
    conjunctions: dict[tuple[str, ...], pulp.LpVariable | None] = {}
    levels = station_levels(p, pw, c, pm.improving)
    direct = (pw.door == pw.center) & (pw.door_tier != LOWER)
    for q in np.flatnonzero(direct):
        i = int(pw.point[q])
        center = _literal_var(m, p, data, c, (int(pw.center[q]), "U"))
        staffed = staffed_var(m, p, pm.improving, i, int(levels[q]), pm.staffed)
        options.setdefault((i, int(pw.arrival[q])), []).append(
            center if staffed is None else _conjunction(m, c, [center, staffed], conjunctions))
    rest = np.flatnonzero(~direct)
    keys = np.column_stack([pw.point, pw.arrival, pw.door, pw.door_tier, pw.tele, levels])[rest]
    order = np.lexsort(keys.T[::-1])
    starts: list[int] = (np.flatnonzero(np.r_[True, (np.diff(keys[order], axis=0) != 0).any(axis=1)]).tolist()
                         if rest.size else [])
    reaches: dict[tuple[int, ...], pulp.LpVariable | None] = {}
    for start, stop in zip(starts, [*starts[1:], rest.size][:len(starts)], strict=True):
        group = rest[order[start:stop]]
        k = int(group[0])
        door = int(pw.door[k])
        parts = [_literal_var(m, p, data, c, (door, "L"))] if pw.door_tier[k] == LOWER else []
        if pw.tele[k]:
            parts.append(_literal_var(m, p, data, c, (door, "tele")))
        parts.append(_reach(m, p, data, c, tuple(sorted(set(pw.center[group].tolist()))), reaches))
        parts.append(staffed_var(m, p, pm.improving, int(pw.point[k]), int(levels[k]), pm.staffed))
        options.setdefault((int(pw.point[k]), int(pw.arrival[k])), []).append(
            _conjunction(m, c, parts, conjunctions))
    rows: dict[tuple[str, ...], pulp.LpVariable] = {}
    objective: dict[pulp.LpVariable, float] = {}
    constant = float(weight.sum())
    for (i, g), found in options.items():
        people = float(weight[i] * share[g])
        if any(option is None for option in found):
            constant -= people  # treated in time whatever the plan
            continue
        variables = [var for var in dict.fromkeys(found) if var is not None]
        key = tuple(sorted(var.name for var in variables))
        if key not in rows:
            treated = rows[key] = m.var("treated", (p.demand_ids[i], c.name, ("ems", "self")[g]), upper=1)
            m.constrain("treated", (p.demand_ids[i], c.name, ("ems", "self")[g]),
                        [(treated, 1.0), *((var, -1.0) for var in variables)], pulp.LpConstraintLE, 0.0)
        objective[rows[key]] = objective.get(rows[key], 0.0) - people
    pm.untreated[c.name] = pulp.LpAffineExpression(objective, constant=constant)
    pm.objective.addInPlace(pm.untreated[c.name])


def _add_volumes(m: AllocationModel, p: Problem, c: ConditionSettings,
                 volume: dict[tuple[int, str], list[tuple[pulp.LpVariable, float]]]) -> None:
    """sum of cases treated at j over its tier's flows >= V hold[j,c,x] for tiers with a minimum volume."""
    pm = m.pathways
    assert pm is not None
    for tier, code in ((c.lower, "L"), (c.upper, "U")):
        if tier.min_cases_per_year <= 0:
            continue
        for j, site in enumerate(p.site_ids):
            var = pm.hold.get((site, c.name, tier.name))
            if var is not None:
                m.constrain("tier_volume", (site, c.name, tier.name),
                            [*volume.get((j, code), []), (var, -tier.min_cases_per_year)], pulp.LpConstraintGE, 0.0)


def _add_costs(m: AllocationModel, p: Problem, data: PathwayData) -> None:
    """Capital and annual cost of every designation and terminal, added to the plan's cost lines."""
    pm = m.pathways
    assert pm is not None
    tiers = {(c.name, t.name): t for c in data.settings.conditions for t in c.tiers}
    for (_, condition, tier), var in pm.hold.items():
        m.capital_yuan.addterm(var, tiers[condition, tier].capital_yuan)
        m.annual_yuan.addterm(var, tiers[condition, tier].annual_yuan)
    tele = data.settings.telemedicine
    for var in pm.tele.values():
        m.capital_yuan.addterm(var, tele.capital_yuan)
        m.annual_yuan.addterm(var, tele.annual_yuan)
