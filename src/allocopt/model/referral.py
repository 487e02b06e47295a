"""Tiered-care families of the allocation MILP: first contact, upward referral, consortium links, step-down care.

Notation (the arrays of `model.tier_data.TierData`): i demand points with V_i visits a year; j primary sites with
base capacity B_j, r visits per GP and gp[j] added GPs; pairs (i, j) within the first-contact cutoff, t_ij
minutes; h hospitals with referral capacity C_h and step-down demand D_h (patients); tau_jh referral minutes;
s the referral share; K_j step-down capacity (patients); rho visits per resident.

    fc[i,j] in [0, 1]   share of i's visits met at j:      sum_j fc[i,j] <= 1
                        first-contact capacity:             sum_i V_i fc[i,j] <= B_j + r gp[j]
    link[j,h] in {0,1}  j's consortium lead:                sum_h link[j,h] = 1 (existing j) or open[j] (candidate)
    ref[j,h] >= 0       referral visits:                    sum_h ref[j,h] = s sum_i V_i fc[i,j],
                                                            ref[j,h] <= s U_j link[j,h], sum_j ref[j,h] <= C_h
    down[j,h] >= 0      step-down patients h -> j:          down[j,h] <= K_j link[j,h], sum_j down[j,h] <= D_h
    hard target:        met = sum V_i fc[i,j] >= m sum_i V_i

U_j bounds the visits j can meet. A kept link (`fix_existing_links`) is the constant 1. Objective terms in
people-equivalents, added to the `gap` objective: a_u (sum_i V_i - met) / rho + a_p sum V_i t_ij fc[i,j] / rho
+ a_r sum tau_jh ref[j,h] / rho + a_d (sum_h D_h - sum down).

`evaluate_tiers` builds the same families for a fixed plan and fixed links (an LP) and solves it: results use it
to recompute the before and after figures from the plan alone.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import pulp

from allocopt.errors import SolverError
from allocopt.model._lp import NamedLp, NamedRows, Terms
from allocopt.model.problem import Problem
from allocopt.model.tier_data import TierData, unlinkable_reasons
from allocopt.solve import DEFAULT_SOLVER, solve

if TYPE_CHECKING:
    from allocopt.model.allocation import AllocationModel


@dataclass(eq=False)
class TierModel:
    """Variables and expressions of the tier families, keyed by IDs.

    `fc[demand, site]`, `link[site, hospital]` (free links only), `ref[site, hospital]`, `down[site, hospital]`;
    `met` (visits met at the grassroots) and `terms`, the weighted objective terms in people-equivalents
    (unmet, primary_minutes, referral_minutes, downward_unplaced), `objective` their sum.
    """

    fc: dict[tuple[str, str], pulp.LpVariable] = field(default_factory=dict)
    link: dict[tuple[str, str], pulp.LpVariable] = field(default_factory=dict)
    ref: dict[tuple[str, str], pulp.LpVariable] = field(default_factory=dict)
    down: dict[tuple[str, str], pulp.LpVariable] = field(default_factory=dict)
    met: pulp.LpAffineExpression = field(default_factory=pulp.LpAffineExpression)
    terms: dict[str, pulp.LpAffineExpression] = field(default_factory=dict)
    objective: pulp.LpAffineExpression = field(default_factory=pulp.LpAffineExpression)


def add_tiers(m: AllocationModel, p: Problem) -> None:
    """The tier families with GPs, openings and links decided by the MILP (nothing without `[tiers]`)."""
    t = p.tiers
    if t is None:
        return
    capacity: dict[int, tuple[float, Terms]] = {}
    linked: dict[int, pulp.LpVariable | None] = {}
    r = t.settings.visits_per_gp_per_year
    for j in t.primary:
        site = p.site_ids[j]
        gp = [(m.gp[site], r)] if site in m.gp else []
        capacity[int(j)] = (float(t.base_capacity[j]), gp)
        linked[int(j)] = m.open.get(site)
    m.tiers = _add_families(m, p, t, capacity=capacity, linked=linked, leads=t.fixed_lead, enforce_capacity=True)
    share = t.settings.min_grassroots_share
    if share > 0:
        m.lp.addConstraint(pulp.LpConstraint(m.tiers.met, pulp.LpConstraintGE, m.name("min_grassroots_share"),
                                             share * t.total_visits))


def _add_families(m: NamedRows, p: Problem, t: TierData, *, capacity: Mapping[int, tuple[float, Terms]],
                  linked: Mapping[int, pulp.LpVariable | None], leads: np.ndarray,
                  enforce_capacity: bool) -> TierModel:
    """First contact, referral and step-down over the sites of `capacity` (see the module docstring).

    `linked[j]` is None for a site that must be linked, else the variable it is linked with (open[j]);
    `leads[j] >= 0` fixes j's lead to that hospital.
    """
    s, rho = t.settings.referral_share, t.settings.visits_per_resident
    tm = TierModel()
    served: dict[int, Terms] = {j: [] for j in capacity}
    by_demand: dict[int, Terms] = {}
    primary_minutes: Terms = []
    for i, j, minutes in zip(t.pair_demand, t.pair_site, t.pair_minutes, strict=True):
        if j not in capacity:
            continue
        demand, site = p.demand_ids[i], p.site_ids[j]
        var = tm.fc[demand, site] = m.var("fc", (demand, site), upper=1)
        visits = float(t.demand_visits[i])
        served[j].append((var, visits))
        by_demand.setdefault(int(i), []).append((var, 1.0))
        primary_minutes.append((var, visits * float(minutes) / rho))
    for i, terms in by_demand.items():
        m.constrain("fc_one", (p.demand_ids[i],), terms, pulp.LpConstraintLE, 1.0)
    met: Terms = []
    hospital_ref: dict[int, Terms] = {}
    hospital_down: dict[int, Terms] = {}
    referral_minutes: Terms = []
    for j, (constant, variable) in capacity.items():
        site = p.site_ids[j]
        met.extend(served[j])
        if served[j]:
            m.constrain("fc_capacity", (site,), [*served[j], *((v, -c) for v, c in variable)],
                        pulp.LpConstraintLE, constant)
        options = [int(leads[j])] if leads[j] >= 0 else [int(h) for h in np.flatnonzero(t.link_allowed[j])]
        links: dict[int, pulp.LpVariable | None] = {}
        for h in options:
            hospital = p.site_ids[t.hospitals[h]]
            links[h] = None if leads[j] >= 0 else m.var("link", (site, hospital), upper=1, integer=True)
            if links[h] is not None:
                tm.link[site, hospital] = links[h]
        if leads[j] < 0:
            opener = linked[j]
            row: Terms = [(v, 1.0) for v in links.values() if v is not None]
            if opener is None:
                m.constrain("link_one", (site,), row, pulp.LpConstraintEQ, 1.0)
            else:
                m.constrain("link_one", (site,), [*row, (opener, -1.0)], pulp.LpConstraintEQ, 0.0)
        upper = min(sum(c for _, c in served[j]), constant + sum(c * (v.upBound or 0.0) for v, c in variable))
        if s > 0 and served[j] and upper > 0:
            flows: Terms = []
            for h, link in links.items():
                hospital = p.site_ids[t.hospitals[h]]
                var = tm.ref[site, hospital] = m.var("ref", (site, hospital), upper=None)
                flows.append((var, 1.0))
                hospital_ref.setdefault(h, []).append((var, 1.0))
                referral_minutes.append((var, float(t.referral_minutes[j, h]) / rho))
                if link is not None:
                    m.constrain("ref_link", (site, hospital), [(var, 1.0), (link, -s * upper)],
                                pulp.LpConstraintLE, 0.0)
            m.constrain("ref_load", (site,), [*flows, *((v, -s * c) for v, c in served[j])],
                        pulp.LpConstraintEQ, 0.0)
        stepdown = float(t.stepdown_capacity[j])
        for h, link in links.items():
            if stepdown <= 0 or t.stepdown_demand[h] <= 0:
                continue
            hospital = p.site_ids[t.hospitals[h]]
            var = tm.down[site, hospital] = m.var("down", (site, hospital), upper=stepdown)
            hospital_down.setdefault(h, []).append((var, 1.0))
            gate = link if link is not None else linked[j]  # a fixed lead still needs the site open
            if gate is not None:
                m.constrain("down_link", (site, hospital), [(var, 1.0), (gate, -stepdown)],
                            pulp.LpConstraintLE, 0.0)
    for h, terms in hospital_ref.items():
        if enforce_capacity:
            m.constrain("ref_capacity", (p.site_ids[t.hospitals[h]],), terms, pulp.LpConstraintLE,
                        float(t.referral_capacity[h]))
    for h, terms in hospital_down.items():
        m.constrain("down_capacity", (p.site_ids[t.hospitals[h]],), terms, pulp.LpConstraintLE,
                    float(t.stepdown_demand[h]))
    w = t.settings
    tm.met = pulp.LpAffineExpression(met)
    unplaced = [(v, -1.0) for terms in hospital_down.values() for v, _ in terms]
    tm.terms = {
        "unmet": pulp.LpAffineExpression([(v, -c / rho) for v, c in met], constant=t.total_visits / rho)
        * w.weight_unmet_visits,
        "primary_minutes": pulp.LpAffineExpression(primary_minutes) * w.weight_primary_minutes,
        "referral_minutes": pulp.LpAffineExpression(referral_minutes) * w.weight_referral_minutes,
        "downward_unplaced": pulp.LpAffineExpression(unplaced, constant=float(t.stepdown_demand.sum()))
        * w.weight_downward_unplaced,
    }
    tm.objective = pulp.LpAffineExpression()
    for expression in tm.terms.values():
        tm.objective.addInPlace(expression)
    return tm


# ---------------------------------------------------------------- checks before the solve


def tier_targets(p: Problem) -> list[str]:
    """The tier hard target in words (empty when none)."""
    t = p.tiers
    if t is None or t.settings.min_grassroots_share <= 0:
        return []
    return [f"grassroots share of visits >= {t.settings.min_grassroots_share:.1%}"]


def tier_limits(p: Problem, *, solver: str = DEFAULT_SOLVER) -> list[str]:
    """Tier requirements no plan meets at any cost: sites that cannot be linked, kept links that cannot work,
    a grassroots share beyond every site's largest capacity or beyond the hospitals' referral capacity."""
    t = p.tiers
    if t is None:
        return []
    hospital_ids = [p.site_ids[h] for h in t.hospitals]
    existing = ~p.is_candidate[t.primary]
    free = t.primary[existing & (t.fixed_lead[t.primary] < 0)]
    stranded = free[~t.link_allowed[free].any(axis=1)]
    reasons = unlinkable_reasons(stranded, p.site_ids, t.referral_minutes, hospital_ids,
                                 t.settings.max_referral_minutes, t.referral_capacity)
    for j in t.primary[existing & (t.fixed_lead[t.primary] >= 0)]:
        h = int(t.fixed_lead[j])
        if not t.link_allowed[j, h]:
            reasons.append(
                f"site {p.site_ids[j]} keeps its consortium lead {hospital_ids[h]} (tiers.fix_existing_links), "
                f"but that hospital has no referral capacity ({t.hospital_beds[h]:g} beds) or lies "
                f"{t.referral_minutes[j, h]:.1f} minutes away, beyond tiers.max_referral_minutes; set "
                "fix_existing_links = false or fix the lead")
    share = t.settings.min_grassroots_share
    if share > 0:
        reachable = max_grassroots_visits(p, solver=solver)
        limit = (float(t.referral_capacity.sum()) / t.settings.referral_share if t.settings.referral_share > 0
                 else np.inf)
        wanted = share * t.total_visits
        if reachable < wanted * (1 - 1e-9):
            reasons.append(
                f"tiers.min_grassroots_share = {share:g}: at most {reachable:,.0f} of {t.total_visits:,.0f} visits "
                f"a year ({reachable / t.total_visits:.1%}) can be met at grassroots sites, even with every "
                "eligible site at eligibility.gp.max_per_site GPs and every candidate open (residents farther "
                f"than {t.cutoff_minutes:g} minutes from any such site count as unmet); lower the target, raise "
                "max_per_site or tiers.first_contact_cutoff_factor, or add candidate sites")
        elif limit < wanted * (1 - 1e-9):
            reasons.append(
                f"tiers.min_grassroots_share = {share:g} means {wanted:,.0f} grassroots visits a year and "
                f"{wanted * t.settings.referral_share:,.0f} referrals, but the hospitals take at most "
                f"{t.referral_capacity.sum():,.0f} (beds x tiers.referral_visits_per_bed_per_year); lower the "
                "target or the referral share, or raise the referral capacity")
    return reasons


def max_grassroots_visits(p: Problem, *, solver: str = DEFAULT_SOLVER) -> float:
    """Most visits the grassroots could meet with every eligible site at its GP limit and every candidate open."""
    t = p.tiers
    assert t is not None, "only for problems with tiers"
    limit = p.gp_limit
    capacity = t.max_capacity(limit)
    lp = pulp.LpProblem("grassroots_upper_bound", pulp.LpMaximize)
    share = [lp.add_variable(f"a{n}", lowBound=0, upBound=1) for n in range(len(t.pair_demand))]
    lp.setObjective(pulp.lpSum(float(t.demand_visits[i]) * a for i, a in zip(t.pair_demand, share, strict=True)))
    for i in np.unique(t.pair_demand):
        lp.addConstraint(pulp.lpSum(share[n] for n in np.flatnonzero(t.pair_demand == i)) <= 1.0)
    for j in np.unique(t.pair_site):
        rows = np.flatnonzero(t.pair_site == j)
        lp.addConstraint(pulp.lpSum(float(t.demand_visits[t.pair_demand[n]]) * share[n] for n in rows)
                         <= float(capacity[j]))
    if not share:
        return 0.0
    outcome = solve(lp, solver=solver)
    if not outcome.has_plan:
        raise SolverError(f"the grassroots capacity bound could not be computed (status {outcome.status!r})")
    return float(outcome.objective or 0.0)


# ---------------------------------------------------------------- a fixed plan


@dataclass(frozen=True, eq=False)
class TierState:
    """Tier figures of one state (today, or after a plan with its links), per site, hospital and demand point.

    Site arrays: `active` (gives first contact), `lead` (hospital position, -1), `capacity_visits`,
    `met_visits`, `load_visits` (referred up), `stepdown_patients` (taken from the lead). Hospital arrays:
    `hospital_load_visits`, `hospital_stepdown_patients`. Demand arrays: `demand_met_visits`,
    `demand_minutes` (visit-weighted to the sites met at, NaN if none), `demand_site` (site meeting most of
    its visits, -1). `terms` and `objective` in people-equivalents.
    """

    active: np.ndarray
    lead: np.ndarray
    capacity_visits: np.ndarray
    met_visits: np.ndarray
    load_visits: np.ndarray
    stepdown_patients: np.ndarray
    hospital_load_visits: np.ndarray
    hospital_stepdown_patients: np.ndarray
    demand_met_visits: np.ndarray
    demand_minutes: np.ndarray
    demand_site: np.ndarray
    terms: Mapping[str, float]
    objective: float
    total_visits: float
    referral_minutes: np.ndarray

    @property
    def grassroots_share(self) -> float | None:
        """Share of all visits met at grassroots sites."""
        return float(self.met_visits.sum()) / self.total_visits if self.total_visits > 0 else None

    @property
    def mean_primary_minutes(self) -> float | None:
        """Visit-weighted minutes to the grassroots site a met visit is made at."""
        met = self.demand_met_visits
        reached = met > 0
        return float((met[reached] * self.demand_minutes[reached]).sum() / met.sum()) if reached.any() else None

    @property
    def mean_referral_minutes(self) -> float | None:
        """Load-weighted minutes from the referring site to its lead hospital."""
        load = self.load_visits
        linked = (self.lead >= 0) & (load > 0)
        if not linked.any():
            return None
        return float((load[linked] * self.referral_minutes[linked]).sum() / load[linked].sum())


def plan_leads(m: AllocationModel) -> np.ndarray:
    """Each site's lead hospital position after the solved model (-1 for sites without a lead)."""
    p, t, tm = m.problem, m.problem.tiers, m.tiers
    assert t is not None and tm is not None, "only for models with tiers"
    position = {p.site_ids[h]: k for k, h in enumerate(t.hospitals)}
    leads = np.full(len(p.site_ids), -1, dtype=np.int64)
    site_position = {site: j for j, site in enumerate(p.site_ids)}
    for (site, hospital), var in tm.link.items():
        if round(float(var.varValue or 0.0)) >= 1:
            leads[site_position[site]] = position[hospital]
    is_open = ~p.is_candidate
    for site, var in m.open.items():
        is_open[site_position[site]] = round(float(var.varValue or 0.0)) >= 1
    kept = (t.fixed_lead >= 0) & is_open
    leads[kept] = t.fixed_lead[kept]
    return leads


def evaluate_tiers(p: Problem, *, added_gps: np.ndarray, opened: np.ndarray, leads: np.ndarray,
                   enforce_capacity: bool, solver: str = DEFAULT_SOLVER) -> TierState:
    """Tier figures of a fixed plan: the LP of the tier families with GPs, open sites and leads fixed.

    Active sites are existing primary sites and opened candidates; each must have a lead in `leads`. Without
    `enforce_capacity` referral loads may exceed hospital capacity (today's network as it is). Raises
    SolverError when the LP has no solution (a lead missing, or capacities a plan cannot meet).
    """
    t = p.tiers
    assert t is not None, "only for problems with tiers"
    active = np.zeros(len(p.site_ids), dtype=bool)
    active[t.primary] = True
    active &= ~p.is_candidate | opened
    missing = np.flatnonzero(active & (leads < 0))
    if missing.size:
        raise SolverError(f"site(s) {', '.join(p.site_ids[j] for j in missing[:5])} have no lead hospital")
    capacity_visits = np.where(active, t.base_capacity + added_gps * t.settings.visits_per_gp_per_year, 0.0)
    m = NamedLp(pulp.LpProblem("allocopt_tiers", pulp.LpMinimize))
    tm = _add_families(m, p, t, capacity={int(j): (float(capacity_visits[j]), []) for j in np.flatnonzero(active)},
                       linked={int(j): None for j in np.flatnonzero(active)}, leads=leads,
                       enforce_capacity=enforce_capacity)
    m.lp.setObjective(tm.objective)
    outcome = solve(m.lp, solver=solver)
    if not outcome.has_plan:
        raise SolverError(f"the tier figures of the plan could not be computed (status {outcome.status!r})")
    return _state(p, t, tm, active=active, leads=np.where(active, leads, -1), capacity_visits=capacity_visits)


def _state(p: Problem, t: TierData, tm: TierModel, *, active: np.ndarray, leads: np.ndarray,
           capacity_visits: np.ndarray) -> TierState:
    site_position = {site: j for j, site in enumerate(p.site_ids)}
    demand_position = {d: i for i, d in enumerate(p.demand_ids)}
    n_sites, n_demand = len(p.site_ids), len(p.demand_ids)
    met_site, met_demand, minutes_sum = np.zeros(n_sites), np.zeros(n_demand), np.zeros(n_demand)
    best = np.full(n_demand, -1, dtype=np.int64)
    best_visits = np.zeros(n_demand)
    pair_minutes = {(int(i), int(j)): float(x) for i, j, x in zip(t.pair_demand, t.pair_site, t.pair_minutes,
                                                                  strict=True)}
    for (demand, site), var in tm.fc.items():
        i, j = demand_position[demand], site_position[site]
        visits = max(0.0, float(var.varValue or 0.0)) * float(t.demand_visits[i])
        met_site[j] += visits
        met_demand[i] += visits
        minutes_sum[i] += visits * pair_minutes[i, j]
        if visits > best_visits[i] + 1e-9:
            best[i], best_visits[i] = j, visits
    load = met_site * t.settings.referral_share
    hospital_load = np.bincount(leads[leads >= 0], weights=load[leads >= 0], minlength=len(t.hospitals))
    hospital_position = {p.site_ids[h]: k for k, h in enumerate(t.hospitals)}
    stepdown_site, stepdown_hospital = np.zeros(n_sites), np.zeros(len(t.hospitals))
    for (site, hospital), var in tm.down.items():
        value = max(0.0, float(var.varValue or 0.0))
        stepdown_site[site_position[site]] += value
        stepdown_hospital[hospital_position[hospital]] += value
    minutes = np.full(n_sites, np.nan)
    linked = leads >= 0
    minutes[linked] = t.referral_minutes[np.flatnonzero(linked), leads[linked]]
    terms = {name: _value(expression) for name, expression in tm.terms.items()}
    with np.errstate(invalid="ignore", divide="ignore"):
        demand_minutes = np.where(met_demand > 0, minutes_sum / met_demand, np.nan)
    return TierState(
        active=active, lead=leads, capacity_visits=capacity_visits, met_visits=met_site, load_visits=load,
        stepdown_patients=stepdown_site, hospital_load_visits=hospital_load,
        hospital_stepdown_patients=stepdown_hospital, demand_met_visits=met_demand, demand_minutes=demand_minutes,
        demand_site=best, terms=terms,
        objective=_value(tm.objective),
        total_visits=t.total_visits, referral_minutes=minutes,
    )


def _value(expression: pulp.LpAffineExpression) -> float:
    """The expression at the solved values (its constant when it has no variables)."""
    value = pulp.value(expression) if expression.keys() else expression.constant
    return float(value or 0.0)
