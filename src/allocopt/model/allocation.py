"""The allocation MILP: decisions, budget, prerequisites, provision, coverage, GP staffing and hard targets.

`build_model` reads like a table of contents: one `add_<family>(m, p)` per constraint family, each returning
early when it has nothing to do and stating its mathematics. Sets and parameters come from `Problem`; every
variable dict is keyed by IDs (site, township, demand point, merged unit named after its first demand point),
so nothing depends on the names PuLP writes (it rewrites "[", "]", "-", " " and others to "_").

Notation: j sites (C the candidates), u merged demand units with population w_u, t townships with population
P_t, v coverage services with threshold T_v and weight a_v, k equipment types, s specialty centers.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pulp
from scipy import sparse

from allocopt.choices import OBJECTIVES
from allocopt.errors import ScenarioError
from allocopt.model._lp import NamedRows, unique_name
from allocopt.model.ems import EmsModel, add_ambulances
from allocopt.model.n_minus_1 import add_n_minus_1
from allocopt.model.objectives import add_objective
from allocopt.model.pathways import PathwayModel, add_pathways
from allocopt.model.problem import PER_10K, Problem
from allocopt.model.referral import TierModel, add_tiers
from allocopt.services import CENTERS, EQUIPMENT, HEALTH_CENTER_LEVELS, PRIMARY_CARE

COST_LINES: tuple[str, ...] = ("total", "capital", "annual")
"""Which cost the `cost` objective minimizes."""

@dataclass(eq=False)
class AllocationModel(NamedRows):
    """The PuLP model and its variables and expressions keyed by IDs.

    Variables: `open[site]`, `gp[site]`, `vd[site]` (village doctors), `eq[site, equipment]`, `ctr[site, center]`,
    `has[site, service]` (for centers the same variable as `ctr`), `cover[unit, service]` (one variable for
    all units of identical coverage sets), `short[township]`,
    `assign[demand, site]`, `unassigned[demand]`. Expressions: `capital_yuan`, `annual_yuan`,
    `unserved[service]` (people, over the whole region), `shortage[township]` (people), `travel_minutes`
    (population-weighted). `tiers` holds the tier families (`model.referral`) when the scenario has `[tiers]`,
    `ems` the ambulance family (`model.ems`) when it has `[ems]`, `pathways` the care-pathway families
    (`model.pathways`) when it has `[pathways]`.
    `stages` are the objectives solved in turn (`solve_model`); `name`, `var` and `constrain` (`_lp.NamedRows`)
    add named variables and rows. The model is mutable
    while it is built and solved (PuLP stores solution values on its variables).

    `prefix` starts every variable and constraint name, so that several models (one per year of a multi-year plan,
    `model.years`) can share one `lp`; `stocks` holds every stock variable (an amount of something bought: open
    sites, staff, equipment, designations, and whatever a family creates with `var(..., integer=True)`) by its
    name without the prefix, so a model of the next year finds its predecessor by name. `budget_rows` False leaves
    the budget rows out (a multi-year plan has yearly ones instead).
    """

    problem: Problem
    objective: str
    lp: pulp.LpProblem
    services: tuple[str, ...]
    travel_cutoff_minutes: float | None = None
    cost_line: str = "total"
    open: dict[str, pulp.LpVariable] = field(default_factory=dict)
    gp: dict[str, pulp.LpVariable] = field(default_factory=dict)
    vd: dict[str, pulp.LpVariable] = field(default_factory=dict)
    eq: dict[tuple[str, str], pulp.LpVariable] = field(default_factory=dict)
    ctr: dict[tuple[str, str], pulp.LpVariable] = field(default_factory=dict)
    has: dict[tuple[str, str], pulp.LpVariable] = field(default_factory=dict)
    cover: dict[tuple[str, str], pulp.LpVariable] = field(default_factory=dict)
    short: dict[str, pulp.LpVariable] = field(default_factory=dict)
    assign: dict[tuple[str, str], pulp.LpVariable] = field(default_factory=dict)
    unassigned: dict[str, pulp.LpVariable] = field(default_factory=dict)
    capital_yuan: pulp.LpAffineExpression = field(default_factory=pulp.LpAffineExpression)
    annual_yuan: pulp.LpAffineExpression = field(default_factory=pulp.LpAffineExpression)
    unserved: dict[str, pulp.LpAffineExpression] = field(default_factory=dict)
    shortage: dict[str, pulp.LpAffineExpression] = field(default_factory=dict)
    travel_minutes: pulp.LpAffineExpression | None = None
    travel_unreachable: tuple[str, ...] = ()
    stages: list[pulp.LpAffineExpression] = field(default_factory=list)
    names: set[str] = field(default_factory=set)
    tiers: TierModel | None = None
    ems: EmsModel | None = None
    prefix: str = ""
    stocks: dict[str, pulp.LpVariable] = field(default_factory=dict)
    budget_rows: bool = True
    pathways: PathwayModel | None = None

    def name(self, family: str, *keys: str) -> str:
        """`family[key,...]` as PuLP will write it, made unique within the model, after `prefix`."""
        return self.prefix + self._base_name(family, *keys)

    def _base_name(self, family: str, *keys: str) -> str:
        return unique_name(self.names, family, *keys)

    def var(self, family: str, keys: tuple[str, ...], *, upper: float | None, integer: bool = False,
            stock: bool | None = None) -> pulp.LpVariable:
        """A new non-negative variable `family[keys]` with an optional upper bound.

        An integer variable is a stock (`stocks`: in a multi-year plan it never decreases from one year to the
        next unless the scenario allows retiring) unless `stock` is False; a continuous one only with `stock`."""
        category = pulp.LpInteger if integer else pulp.LpContinuous
        base = self._base_name(family, *keys)
        var = self.lp.add_variable(self.prefix + base, lowBound=0, upBound=upper, cat=category)
        if stock if stock is not None else integer:
            self.stocks[base] = var
        return var


def build_model(problem: Problem, *, objective: str = "gap", travel_cutoff_minutes: float | None = None,
                cost_line: str = "total", lp: pulp.LpProblem | None = None, prefix: str = "",
                budget_rows: bool = True) -> AllocationModel:
    """Build the allocation MILP of `problem` for `objective` (one of OBJECTIVES).

    `travel_cutoff_minutes` bounds the assignment pairs of the `travel` objective (default: the largest finite
    time to any possible primary-care site); `cost_line` picks what the `cost` objective minimizes. `lp`, `prefix`
    and `budget_rows` let a multi-year plan build one model per year into one shared LpProblem (`model.years`).
    Raises ScenarioError for an unknown objective or cost line.
    """
    if objective not in OBJECTIVES:
        raise ScenarioError(f"unknown objective {objective!r}; choose one of: {', '.join(OBJECTIVES)}")
    if cost_line not in COST_LINES:
        raise ScenarioError(f"unknown cost line {cost_line!r}; choose one of: {', '.join(COST_LINES)}")
    if travel_cutoff_minutes is not None and not travel_cutoff_minutes > 0:
        raise ScenarioError(f"travel cutoff must be a positive number of minutes, got {travel_cutoff_minutes!r}")
    m = AllocationModel(
        problem=problem,
        objective=objective,
        lp=lp if lp is not None else pulp.LpProblem(f"allocopt_{objective}", pulp.LpMinimize),
        services=modeled_services(problem, objective),
        travel_cutoff_minutes=travel_cutoff_minutes,
        cost_line=cost_line,
        prefix=prefix,
        budget_rows=budget_rows,
    )
    add_open(m, problem)
    add_gp(m, problem)
    add_village_doctors(m, problem)
    add_equipment(m, problem)
    add_required_equipment(m, problem)
    add_centers(m, problem)
    add_prerequisites(m, problem)
    add_costs(m, problem)
    add_ambulances(m, problem)
    add_pathways(m, problem)
    add_budget(m, problem)
    add_provision(m, problem)
    add_coverage(m, problem)
    add_coverage_targets(m, problem)
    add_gp_staffing(m, problem)
    add_travel(m, problem)
    add_tiers(m, problem)
    add_objective(m, problem)
    add_n_minus_1(m, problem)
    return m


def modeled_services(problem: Problem, objective: str) -> tuple[str, ...]:
    """Services that need coverage variables: a hard target, or (gap, equity) a positive weight."""
    scenario = problem.scenario
    weighted = objective in ("gap", "equity")
    return tuple(v for v in problem.services
                 if scenario.min_covered_share.get(v, 0.0) > 0 or (weighted and scenario.weights[v] > 0))


def add_open(m: AllocationModel, p: Problem) -> None:
    """open[j] in {0, 1} for every candidate j in C: the site opens (and may then receive resources)."""
    for j in np.flatnonzero(p.is_candidate):
        site = p.site_ids[j]
        m.open[site] = m.var("open", (site,), upper=1, integer=True)


def add_gp(m: AllocationModel, p: Problem) -> None:
    """gp[j] in {0..G_j} added GPs at eligible sites, G_j the limit at j's level (`max_per_site`, overridden by
    `max_per_level`); gp[j] <= G_j open[j] for j in C."""
    _add_staff(m, p, m.gp, "gp", p.gp_eligible, p.gp_limit)


def add_village_doctors(m: AllocationModel, p: Problem) -> None:
    """vd[j] in {0..V_j} added village doctors at eligible sites (village clinics by default), V_j the per-clinic
    limit; vd[j] <= V_j open[j] for j in C. A village doctor gives first contact (provider "staffed") but does
    not count towards the GP density."""
    _add_staff(m, p, m.vd, "vd", p.vd_eligible, p.vd_limit)


def _add_staff(m: AllocationModel, p: Problem, variables: dict[str, pulp.LpVariable], family: str,
               eligible: np.ndarray, limits: np.ndarray) -> None:
    for j in np.flatnonzero(eligible & (limits >= 1)):
        site, limit = p.site_ids[j], float(limits[j])
        variables[site] = m.var(family, (site,), upper=limit, integer=True)
        if site in m.open:
            m.constrain(f"{family}_open", (site,), [(variables[site], 1.0), (m.open[site], -limit)],
                        pulp.LpConstraintLE, 0.0)


def add_equipment(m: AllocationModel, p: Problem) -> None:
    """eq[j,k] in {0..E_k} units of k at eligible sites lacking k; eq[j,k] <= E_k open[j] for j in C."""
    for k in EQUIPMENT:
        limit = p.scenario.equipment_eligibility[k].max_per_site
        for j in np.flatnonzero(p.eq_eligible[k]):
            site = p.site_ids[j]
            var = m.eq[site, k] = m.var("eq", (site, k), upper=limit, integer=True)
            if site in m.open:
                m.constrain("eq_open", (site, k), [(var, 1.0), (m.open[site], -float(limit))],
                            pulp.LpConstraintLE, 0.0)


def add_required_equipment(m: AllocationModel, p: Problem) -> None:
    """eq[j,k] >= 1 for every site j at a level of `required_at` of k lacking k today (existing sites, and open
    candidates: eq[j,k] >= open[j]): "every township health center has a k" as a hard rule, not a coverage term.

    Raises ScenarioError when such a site may not receive k (its level or kind is not eligible for k)."""
    for k in EQUIPMENT:
        rule = p.scenario.equipment_eligibility[k]
        for j in np.flatnonzero(np.isin(np.asarray(p.site_level, dtype=object), list(rule.required_at))):
            site = p.site_ids[j]
            if p.existing_equipment[k][j] >= 1:
                continue
            if (site, k) not in m.eq:
                raise ScenarioError(
                    f"{p.scenario.source}: eligibility.equipment.{k}.required_at asks every {p.site_level[j]} for "
                    f"a {k}, but site {site} may not receive one (its level or kind is not in "
                    f"eligibility.equipment.{k}); allow it there or drop the level from required_at")
            terms = [(m.eq[site, k], 1.0)]
            if site in m.open:
                terms.append((m.open[site], -1.0))
            m.constrain("required", (site, k), terms, pulp.LpConstraintGE, 0.0 if site in m.open else 1.0)


def add_centers(m: AllocationModel, p: Problem) -> None:
    """ctr[j,s] in {0, 1}: designate center s at an eligible site not yet designated; ctr[j,s] <= open[j].

    A condition run as pathways (`[pathways]`) has tiers instead (`model.pathways`), no ctr."""
    pathway_conditions = {c.name for c in p.pathways.settings.conditions} if p.pathways is not None else set()
    for s in CENTERS:
        if s in pathway_conditions:
            continue
        for j in np.flatnonzero(p.ctr_eligible[s]):
            site = p.site_ids[j]
            var = m.ctr[site, s] = m.var("ctr", (site, s), upper=1, integer=True)
            if site in m.open:
                m.constrain("ctr_open", (site, s), [(var, 1.0), (m.open[site], -1.0)], pulp.LpConstraintLE, 0.0)


def add_prerequisites(m: AllocationModel, p: Problem) -> None:
    """x <= U eq[j,k] for each equipment k that the decision x at site j requires (U: x's upper bound).

    Applies to added GPs, equipment and center designations alike (`requires` of their eligibility rule). Only
    sites lacking k need the row (eligibility already ruled out sites that can neither have nor get k).
    """
    scenario = p.scenario
    position = {site: j for j, site in enumerate(p.site_ids)}
    decisions: list[tuple[tuple[str, ...], pulp.LpVariable, str, tuple[str, ...], int]] = [
        ((site,), var, site, scenario.gp_eligibility.requires, int(p.gp_limit[position[site]]))
        for site, var in m.gp.items()
    ]
    decisions += [((site,), var, site, scenario.village_doctor_eligibility.requires, int(p.vd_limit[position[site]]))
                  for site, var in m.vd.items()]
    for (site, k), var in m.eq.items():
        rule = scenario.equipment_eligibility[k]
        decisions.append(((site, k), var, site, rule.requires, rule.max_per_site))
    for (site, s), var in m.ctr.items():
        decisions.append(((site, s), var, site, scenario.center_eligibility[s].requires, 1))
    for keys, var, site, requires, upper in decisions:
        for k in requires:
            if (site, k) in m.eq:
                m.constrain("requires", (*keys, k), [(var, 1.0), (m.eq[site, k], -float(upper))],
                            pulp.LpConstraintLE, 0.0)


def add_costs(m: AllocationModel, p: Problem) -> None:
    """capital = sum open_cost_j open[j] + sum c_r x_r; annual = sum a_open open[j] + sum a_r x_r.

    Every decision x_r (a GP, a unit of equipment, a designation, an opening) has a capital and an annual
    unit cost; these are expressions, limited by `add_budget` and minimized by the `cost` objective.
    """
    scenario = p.scenario
    position = {site: j for j, site in enumerate(p.site_ids)}
    capital: list[tuple[pulp.LpVariable, float]] = []
    annual: list[tuple[pulp.LpVariable, float]] = []
    for site, var in m.open.items():
        capital.append((var, float(p.open_cost_yuan[position[site]])))
        annual.append((var, scenario.open_site_annual_yuan))
    for staff, cost in ((m.gp, scenario.gp_cost), (m.vd, scenario.village_doctor_cost)):
        for var in staff.values():
            capital.append((var, cost.capital_yuan))
            annual.append((var, cost.annual_yuan))
    for (_, k), var in m.eq.items():
        capital.append((var, scenario.equipment_costs[k].capital_yuan))
        annual.append((var, scenario.equipment_costs[k].annual_yuan))
    for (_, s), var in m.ctr.items():
        capital.append((var, scenario.center_costs[s].capital_yuan))
        annual.append((var, scenario.center_costs[s].annual_yuan))
    m.capital_yuan = pulp.LpAffineExpression(capital)
    m.annual_yuan = pulp.LpAffineExpression(annual)


def add_budget(m: AllocationModel, p: Problem) -> None:
    """capital + annual <= B_total, or capital <= B_capital and annual <= B_annual (the `cost` objective: none)."""
    if m.objective == "cost" or not m.budget_rows:
        return
    budget = p.scenario.budget
    limits = (("total", m.capital_yuan + m.annual_yuan, budget.total_yuan),
              ("capital", m.capital_yuan, budget.capital_yuan),
              ("annual", m.annual_yuan, budget.annual_yuan))
    for line, expression, limit in limits:
        if limit is not None:
            m.lp.addConstraint(pulp.LpConstraint(expression, pulp.LpConstraintLE, m.name("budget", line), limit))


def add_provision(m: AllocationModel, p: Problem) -> None:
    """has[j,v] in [0, 1]: site j provides v after the plan (only where j does not provide v today).

    Primary care (grassroots levels): has <= gp[j] + vd[j] (provider "staffed"; has <= gp[j] with "gp"), and
    has <= open[j] for j in C; with "staffed" a health center (staffed by its norms) needs no added staff, so a
    candidate one has only has <= open[j]. Equipment k:
    has <= eq[j,k]. Centers: has is ctr[j,s] itself. has may be continuous: each upper bound is an integer
    variable, so given the integer decisions its range is [0, 0] or [0, 1], and it only ever bounds coverage
    from above, which the objective and the hard targets push up; results recompute provision from the plan.
    """
    staffed = p.scenario.primary_care_provider == "staffed"
    for j in np.flatnonzero(p.can_provide[PRIMARY_CARE] & ~p.provides_now[PRIMARY_CARE]):
        site = p.site_ids[j]
        var = m.has[site, PRIMARY_CARE] = m.var("has", (site, PRIMARY_CARE), upper=1)
        if not (staffed and p.site_level[j] in HEALTH_CENTER_LEVELS):
            staff = [(m.gp[site], -1.0)] if site in m.gp else []
            if site in m.vd and staffed:
                staff.append((m.vd[site], -1.0))
            m.constrain("has_gp", (site,), [(var, 1.0), *staff], pulp.LpConstraintLE, 0.0)
        if site in m.open:
            m.constrain("has_open", (site,), [(var, 1.0), (m.open[site], -1.0)], pulp.LpConstraintLE, 0.0)
    for (site, k), eq in m.eq.items():
        var = m.has[site, k] = m.var("has", (site, k), upper=1)
        m.constrain("has_eq", (site, k), [(var, 1.0), (eq, -1.0)], pulp.LpConstraintLE, 0.0)
    for key, ctr in m.ctr.items():
        m.has[key] = ctr


def add_coverage(m: AllocationModel, p: Problem) -> None:
    """cover[u,v] in [0, 1] with cover[u,v] <= sum_{j: t_uj <= T_v} has[j,v]; unserved_v = sum_u w_uv (1 - cover).

    w_uv is the unit's people-equivalents for v (`Problem.unit_weight`: its residents, or for a condition with
    case weighting its expected cases scaled by the region's residents per case). Units already within T_v of a
    provider of today have cover fixed at 1 and units beyond every possible provider at 0; neither gets a
    variable. Units whose sets for v are identical (in any township) share one variable and one row: cover only
    ever bounds from below what the objective, the equity rows and the hard targets reward, so at an optimum it
    equals min(1, sum has) for every unit of the set alike. In a region of many villages and few hospitals this
    turns thousands of rows per center service into a few dozen. Primary-care rows leave out the sites
    `dominated_primary_sites` names (not under travel, tiers or n-1 coverage of primary care).
    """
    for v in m.services:
        sets = p.cover_sets[v]
        weight = p.unit_weight[v]
        covered_now = p.covered_now(v)
        has_by_site = np.array([m.has.get((site, v)) for site in p.site_ids], dtype=object)
        if v == PRIMARY_CARE and m.objective != "travel" and p.tiers is None and not _n_minus_1_counts(p, v):
            counted = ~dominated_primary_sites(p)
            sets, has_by_site = sparse.csr_array(sets[:, counted]), has_by_site[counted]
        shared: dict[bytes, pulp.LpVariable] = {}
        people: dict[pulp.LpVariable, float] = {}
        for u in np.flatnonzero(~covered_now & (np.diff(sets.indptr) > 0)):
            unit = p.unit_ids[u]
            columns = sets.indices[sets.indptr[u]:sets.indptr[u + 1]]
            var = shared.get(columns.tobytes())
            if var is None:
                var = shared[columns.tobytes()] = m.var("cover", (unit, v), upper=1)
                m.constrain("cover", (unit, v), [(var, 1.0), *((h, -1.0) for h in has_by_site[columns])],
                            pulp.LpConstraintLE, 0.0)
            m.cover[unit, v] = var
            people[var] = people.get(var, 0.0) - float(weight[u])
        constant = float(weight[~covered_now].sum())
        m.unserved[v] = pulp.LpAffineExpression(people, constant=constant)


def _n_minus_1_counts(p: Problem, v: str) -> bool:
    """Whether n-1 coverage applies to v: then every site counts (a dominated site may hold up under a failure)."""
    return p.n_minus_1 is not None and v in p.n_minus_1.services


def dominated_primary_sites(p: Problem) -> np.ndarray:
    """Sites whose GPs need not count for primary-care coverage: j is dominated by k when both are existing
    sites of one township that may get GPs with every GP prerequisite in place, k may take at least as many GPs
    and village doctors as j, and the units not covered today that j reaches within the threshold are a subset
    of those k reaches (equal sets: the lower index dominates).

    Under the gap, equity and cost objectives (no travel, no tiers) this changes no optimum: a GP counts for
    coverage, for its township's staffing and for its cost (the same everywhere), and a village doctor for
    coverage and its cost, so in any plan a dominated site's GPs and village doctors can trade places with an
    undominated dominator that has none, keeping cost and staffing and covering at least the same people. In a
    dense region most village clinics are dominated by a neighbour; leaving them out of the coverage rows removes
    most of their nonzeros and the symmetry among equal clinics.
    """
    requires = p.scenario.gp_eligibility.requires
    plain = p.gp_eligible & ~p.is_candidate & ~p.provides_now[PRIMARY_CARE]
    for k in requires:
        plain = plain & (p.existing_equipment[k] >= 1)
    reach = sparse.csr_array(p.cover_sets[PRIMARY_CARE][~p.covered_now(PRIMARY_CARE)], dtype=np.int64)
    size = np.asarray(reach.sum(axis=0)).ravel()
    shared = sparse.coo_array(reach.T @ reach)
    j, k = shared.row, shared.col
    dominated = ((shared.data == size[j]) & (size[j] > 0) & (j != k) & plain[j] & plain[k]
                 & (p.site_township[j] == p.site_township[k]) & (p.site_township[j] >= 0)
                 & (p.gp_limit[k] >= p.gp_limit[j]) & (p.vd_limit[k] >= p.vd_limit[j])
                 & ((size[k] > size[j]) | (k < j)))
    mask = np.zeros(len(p.site_ids), dtype=bool)
    mask[j[dominated]] = True
    return mask


def add_coverage_targets(m: AllocationModel, p: Problem) -> None:
    """Hard targets: unserved_v <= (1 - share_v) sum_i w_i, i.e. at least share_v of the people covered."""
    total = p.total_population
    for v, share in p.scenario.min_covered_share.items():
        if share > 0:
            m.lp.addConstraint(pulp.LpConstraint(m.unserved[v], pulp.LpConstraintLE,
                                                 m.name("min_covered_share", v), (1.0 - share) * total))


def add_gp_staffing(m: AllocationModel, p: Problem) -> None:
    """GP staffing per township t with target density d (GPs per 10,000) and f = 10,000 / d people per GP.

    Hard target: sum_{j in t} gp[j] >= ceil(P_t d / 10,000 - G_t), G_t the GPs of today. Otherwise (gap and
    equity objectives) short[t] >= P_t - f (G_t + sum_{j in t} gp[j]), short[t] >= 0: the people left without
    a GP at the target density; a constant where no GP can be added in t, absent where t meets the target.
    """
    scenario = p.scenario
    target = scenario.gp_target_per_10k
    soft = m.objective in ("gap", "equity") and not scenario.gp_target_hard
    if target <= 0 or not (scenario.gp_target_hard or soft):
        return
    people_per_gp = PER_10K / target
    gps_now = p.township_gps_now()
    township_of = dict(zip(p.site_ids, p.site_township.tolist(), strict=True))
    added: dict[int, list[pulp.LpVariable]] = {}
    for site, var in m.gp.items():
        t = township_of[site]
        if t >= 0:
            added.setdefault(t, []).append(var)
    for t, code in enumerate(p.township_ids):
        population = float(p.township_population[t])
        if scenario.gp_target_hard:
            needed = math.ceil(population * target / PER_10K - gps_now[t] - 1e-9)
            if needed > 0:
                m.constrain("gp_target", (code,), [(var, 1.0) for var in added.get(t, [])],
                            pulp.LpConstraintGE, float(needed))
            continue
        missing = population - people_per_gp * gps_now[t]
        if missing <= 0:
            continue
        if t not in added:
            m.shortage[code] = pulp.LpAffineExpression(constant=missing)
            continue
        var = m.short[code] = m.var("short", (code,), upper=None)
        m.constrain("short", (code,), [(var, 1.0), *((g, people_per_gp) for g in added[t])],
                    pulp.LpConstraintGE, missing)
        m.shortage[code] = pulp.LpAffineExpression([(var, 1.0)])


def add_travel(m: AllocationModel, p: Problem) -> None:
    """Assignment (p-median form) for the `travel` objective, over the pairs that can improve on today.

    Each demand point i with people has a time it keeps whatever the plan: b_i = min(t_i today, C), t_i today
    the time to its nearest provider of primary care today (providers stay open), C the cutoff. Only sites
    strictly closer than b_i, none of them a provider today, get a pair: sum_j x[i,j] + z_i = 1,
    x[i,j] <= has[j], travel = sum w_i t_ij x[i,j] + sum w_i b_i z_i ("unassigned": i keeps b_i). This gives
    each i min(b_i, min over open closer sites t_ij), the value of the full assignment over every pair within
    C. A point with no closer site is the constant w_i b_i, no variable; a point that reaches no site with
    primary care, today or possibly, within C is charged C as a constant and listed in `travel_unreachable`,
    so it never makes the model infeasible.
    """
    if m.objective != "travel":
        return
    possible = np.flatnonzero(p.can_provide[PRIMARY_CARE])
    today = p.provides_now[PRIMARY_CARE][possible]
    times = p.minutes[:, possible]
    cutoff = m.travel_cutoff_minutes if m.travel_cutoff_minutes is not None else p.default_travel_cutoff()
    m.travel_cutoff_minutes = cutoff
    nearest_today = times[:, today].min(axis=1) if today.any() else np.full(len(times), np.inf)
    kept_minutes = np.minimum(nearest_today, cutoff)
    people = p.demand_population
    closer = (times < kept_minutes[:, None]) & (people > 0)[:, None]
    column_has = {c: m.has[p.site_ids[possible[c]], PRIMARY_CARE] for c in np.flatnonzero(~today).tolist()}
    unreachable = (people > 0) & (nearest_today > cutoff) & ~(times <= cutoff).any(axis=1)
    objective: list[tuple[pulp.LpVariable, float]] = []
    for i in np.flatnonzero(closer.any(axis=1)):
        demand = p.demand_ids[i]
        z = m.unassigned[demand] = m.var("unassigned", (demand,), upper=1)
        row = [(z, 1.0)]
        objective.append((z, float(people[i] * kept_minutes[i])))
        for c in np.flatnonzero(closer[i]).tolist():
            site = p.site_ids[possible[c]]
            x = m.assign[demand, site] = m.var("assign", (demand, site), upper=1)
            row.append((x, 1.0))
            objective.append((x, float(people[i] * times[i, c])))
            m.constrain("assign_open", (demand, site), [(x, 1.0), (column_has[c], -1.0)], pulp.LpConstraintLE, 0.0)
        m.constrain("assign", (demand,), row, pulp.LpConstraintEQ, 1.0)
    kept = (people > 0) & ~closer.any(axis=1)
    m.travel_unreachable = tuple(p.demand_ids[i] for i in np.flatnonzero(unreachable))
    m.travel_minutes = pulp.LpAffineExpression(objective, constant=float((people * kept_minutes)[kept].sum()))
