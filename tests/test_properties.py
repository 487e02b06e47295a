"""Property-based tests of the optimizer: every plan it returns is re-checked from first principles.

Random small problems (Problem.from_arrays) and small generated regions (generate_region through
workflow.prepare and optimize) are solved; the plan is read from Result.sites and everything is recomputed here
from the raw inputs alone (site levels and holdings, travel minutes, the scenario's numbers), without allocopt's
own recomputation: the cost against the report and the budget, eligibility of every placement, coverage per
service, GP shortage per township, the objective's value, referral loads and links with [tiers]. The gap
objective at the optimum must also be no worse than the empty plan and a random feasible plan.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from allocopt import workflow
from allocopt.errors import InfeasibleError, ScenarioError
from allocopt.generate import generate_region, write_region
from allocopt.model import Problem
from allocopt.model.tier_data import TierInputs
from allocopt.optimize import optimize_problem
from allocopt.results import Result
from allocopt.scenario import Scenario, scenario_from_dict
from allocopt.services import (
    CENTERS,
    EQUIPMENT,
    GRASSROOTS_LEVELS,
    HOSPITAL_KINDS,
    HOSPITAL_LEVELS,
    LEVELS,
    PROVIDER_DEFINITIONS,
    SERVICES,
)

PEOPLE_TOL = 1e-6
YUAN_TOL = 1e-3
PROPERTY_SETTINGS = settings(max_examples=200, deadline=None, derandomize=True,
                             suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


# ---------------------------------------------------------------- raw inputs and an independent evaluator


@dataclass(frozen=True)
class Instance:
    """The raw inputs of one run, as plain arrays: what the checks below recompute from."""

    scenario: Scenario
    demand_ids: tuple[str, ...]
    population: np.ndarray
    demand_town: tuple[str, ...]
    township_ids: tuple[str, ...]
    site_ids: tuple[str, ...]
    kind: tuple[str, ...]
    level: tuple[str, ...]
    site_town: tuple[str | None, ...]
    gps: np.ndarray
    equipment: Mapping[str, np.ndarray]
    centers: Mapping[str, np.ndarray]
    open_cost: np.ndarray
    minutes: np.ndarray
    beds: np.ndarray | None = None
    referral_minutes: np.ndarray | None = None
    """(sites x hospitals) with the hospitals the existing county and tertiary hospitals in site order."""
    consortium_lead: tuple[str, ...] | None = None
    population_65plus: np.ndarray | None = None
    village_doctors: np.ndarray | None = None
    hospital_kind: tuple[str, ...] | None = None

    def kind_of(self, j: int) -> str:
        """A hospital's kind (blank: general); "" below hospital level, where kinds do not apply."""
        if self.level[j] not in HOSPITAL_LEVELS:
            return ""
        return (self.hospital_kind[j] if self.hospital_kind else "") or "general"

    def doctors(self) -> np.ndarray:
        return self.village_doctors if self.village_doctors is not None else np.zeros(len(self.site_ids), int)

    @property
    def candidate(self) -> np.ndarray:
        return np.array([k == "candidate" for k in self.kind])

    @property
    def grassroots(self) -> np.ndarray:
        return np.array([v in GRASSROOTS_LEVELS for v in self.level])

    @property
    def hospitals(self) -> np.ndarray:
        return np.array([j for j, (v, k) in enumerate(zip(self.level, self.kind, strict=True))
                         if v in HOSPITAL_LEVELS and k == "existing"], dtype=int)

    def problem(self) -> Problem:
        tier_inputs = None
        if self.scenario.tiers is not None:
            assert self.beds is not None and self.referral_minutes is not None
            assert self.consortium_lead is not None and self.population_65plus is not None
            tier_inputs = TierInputs(referral_minutes=self.referral_minutes, site_beds=self.beds,
                                     consortium_lead=self.consortium_lead,
                                     demand_population_65plus=self.population_65plus)
        return Problem.from_arrays(
            scenario=self.scenario, demand_ids=self.demand_ids, demand_population=self.population,
            demand_township=self.demand_town, township_ids=self.township_ids, site_ids=self.site_ids,
            site_kind=self.kind, site_level=self.level, minutes=self.minutes, site_township=self.site_town,
            existing_gps=self.gps, existing_equipment=self.equipment, existing_centers=self.centers,
            open_cost_yuan=self.open_cost, tier_inputs=tier_inputs, existing_village_doctors=self.village_doctors,
            site_hospital_kind=self.hospital_kind, demand_population_65plus=self.population_65plus,
        )


@dataclass
class RawPlan:
    """Decisions per site position."""

    opened: np.ndarray
    gps: np.ndarray
    equipment: dict[str, np.ndarray]
    centers: dict[str, np.ndarray]
    doctors: np.ndarray

    @classmethod
    def empty(cls, n: int) -> RawPlan:
        return cls(np.zeros(n, bool), np.zeros(n, int), {k: np.zeros(n, int) for k in EQUIPMENT},
                   {s: np.zeros(n, bool) for s in CENTERS}, np.zeros(n, int))

    def copy(self) -> RawPlan:
        return RawPlan(self.opened.copy(), self.gps.copy(), {k: a.copy() for k, a in self.equipment.items()},
                       {s: a.copy() for s, a in self.centers.items()}, self.doctors.copy())


def plan_of(result: Result, inst: Instance) -> RawPlan:
    """The decisions as Result.sites reports them, aligned with the instance's sites by ID."""
    sites = result.sites.set_index("id").loc[list(inst.site_ids)]
    opened = sites["opened"].to_numpy(bool) & inst.candidate
    return RawPlan(opened, sites["added_gps"].to_numpy(int),
                   {k: sites[f"added_{k}"].to_numpy(int) for k in EQUIPMENT},
                   {s: sites[f"new_{s}_center"].to_numpy(bool) for s in CENTERS},
                   sites["added_village_doctors"].to_numpy(int))


def plan_cost(inst: Instance, plan: RawPlan) -> tuple[float, float]:
    """(capital, annual) yuan of a plan under the scenario's unit costs."""
    sc = inst.scenario
    capital = float(inst.open_cost[plan.opened].sum()) + plan.gps.sum() * sc.gp_cost.capital_yuan
    annual = plan.opened.sum() * sc.open_site_annual_yuan + plan.gps.sum() * sc.gp_cost.annual_yuan
    capital += plan.doctors.sum() * sc.village_doctor_cost.capital_yuan
    annual += plan.doctors.sum() * sc.village_doctor_cost.annual_yuan
    for k in EQUIPMENT:
        capital += plan.equipment[k].sum() * sc.equipment_costs[k].capital_yuan
        annual += plan.equipment[k].sum() * sc.equipment_costs[k].annual_yuan
    for s in CENTERS:
        capital += plan.centers[s].sum() * sc.center_costs[s].capital_yuan
        annual += plan.centers[s].sum() * sc.center_costs[s].annual_yuan
    return float(capital), float(annual)


def within_budget(inst: Instance, capital: float, annual: float) -> bool:
    budget = inst.scenario.budget
    return all(limit is None or spent <= limit + YUAN_TOL for spent, limit in (
        (capital + annual, budget.total_yuan), (capital, budget.capital_yuan), (annual, budget.annual_yuan)))


def eligibility_violations(inst: Instance, plan: RawPlan) -> list[str]:
    """Every placement the scenario's rules forbid, in words (empty for a valid plan)."""
    sc, problems = inst.scenario, []
    is_open = ~inst.candidate | plan.opened
    for j, site in enumerate(inst.site_ids):
        placed = {"gp": plan.gps[j], "village_doctor": plan.doctors[j], **{k: plan.equipment[k][j] for k in EQUIPMENT},
                  **{s: int(plan.centers[s][j]) for s in CENTERS}}
        kind = inst.kind_of(j)
        if any(q < 0 for q in placed.values()):
            problems.append(f"{site}: negative quantity {placed}")
        if not is_open[j] and any(placed.values()):
            problems.append(f"{site}: resources at an unopened candidate")
        if plan.opened[j] and not inst.candidate[j]:
            problems.append(f"{site}: an existing site opened again")
        for staff, rule in (("gp", sc.gp_eligibility), ("village_doctor", sc.village_doctor_eligibility)):
            if placed[staff] and (inst.level[j] not in rule.levels or placed[staff] > rule.limit(inst.level[j])
                                  or (kind and kind not in rule.kinds)):
                problems.append(f"{site}: {placed[staff]} {staff} at a {inst.level[j]} ({kind})")
        for k in EQUIPMENT:
            rule = sc.equipment_eligibility[k]
            if placed[k] and (inst.level[j] not in rule.levels or placed[k] > rule.max_per_site
                              or (kind and kind not in rule.kinds)):
                problems.append(f"{site}: {placed[k]} {k} at a {inst.level[j]} ({kind})")
            if placed[k] and inst.equipment[k][j] >= 1:
                problems.append(f"{site}: a second {k}")
        for s in CENTERS:
            rule = sc.center_eligibility[s]
            if not placed[s]:
                continue
            if (inst.level[j] not in rule.levels or rule.max_per_site < 1 or inst.centers[s][j]
                    or (kind and kind not in rule.kinds)):
                problems.append(f"{site}: {s} center not allowed here")
            missing = [k for k in rule.requires if inst.equipment[k][j] + plan.equipment[k][j] < 1]
            if missing:
                problems.append(f"{site}: {s} center without its required {missing}")
    return problems


@dataclass(frozen=True)
class Figures:
    unserved: dict[str, float]
    unserved_weighted: dict[str, float]
    shortage: np.ndarray
    gap: float
    max_gap_share: float
    travel: float


def figures(inst: Instance, plan: RawPlan, *, cutoff_minutes: float) -> Figures:
    """Coverage, GP shortage per township, the weighted gap, the equity share and travel, from the raw inputs."""
    sc = inst.scenario
    is_open = ~inst.candidate | plan.opened
    staff = inst.gps + plan.gps
    if sc.primary_care_provider == "staffed":  # a health center, or a clinic with a GP or a village doctor
        centers = np.array([v in ("township_hc", "community_hc") for v in inst.level])
        contact = centers | (staff + inst.doctors() + plan.doctors >= 1)
    else:
        contact = staff >= 1
    provides = {"primary_care": is_open & inst.grassroots & contact}
    for k in EQUIPMENT:
        provides[k] = is_open & (inst.equipment[k] + plan.equipment[k] >= 1)
    for s in CENTERS:
        provides[s] = is_open & (inst.centers[s] | plan.centers[s])
    town = {code: t for t, code in enumerate(inst.township_ids)}
    demand_town = np.array([town[c] for c in inst.demand_town])
    n_towns = len(inst.township_ids)
    town_pop = np.bincount(demand_town, weights=inst.population, minlength=n_towns)
    unserved, unserved_weighted, town_gap = {}, {}, np.zeros(n_towns)
    weight_of = people_equivalents(inst)
    nearest_primary = np.full(len(inst.demand_ids), np.inf)
    for v in SERVICES:
        times = inst.minutes[:, provides[v]]
        nearest = times.min(axis=1) if times.shape[1] else np.full(len(inst.demand_ids), np.inf)
        if v == "primary_care":
            nearest_primary = nearest
        beyond = nearest > sc.thresholds_minutes[v]
        unserved[v] = float(inst.population[beyond].sum())
        uncovered = np.where(beyond, weight_of[v], 0.0)
        unserved_weighted[v] = float(uncovered.sum())
        town_gap += sc.weights[v] * np.bincount(demand_town, weights=uncovered, minlength=n_towns)
    town_gps = np.zeros(n_towns)
    for j, code in enumerate(inst.site_town):
        if code:
            town_gps[town[code]] += inst.gps[j] + plan.gps[j]
    target = sc.gp_target_per_10k
    shortage = np.maximum(0.0, town_pop - town_gps * 10_000 / target) if target > 0 else np.zeros(n_towns)
    town_gap += sc.weights["gp_shortage"] * shortage
    gap = (sum(sc.weights[v] * unserved_weighted[v] for v in SERVICES)
           + sc.weights["gp_shortage"] * float(shortage.sum()))
    weight_sum = sum(sc.weights[v] for v in SERVICES) + sc.weights["gp_shortage"]
    shares = [town_gap[t] / (town_pop[t] * weight_sum) for t in range(n_towns) if town_pop[t] > 0 and weight_sum > 0]
    travel = float((inst.population * np.minimum(nearest_primary, cutoff_minutes)).sum())
    return Figures(unserved, unserved_weighted, shortage, float(gap), max(shares, default=0.0), travel)


def people_equivalents(inst: Instance) -> dict[str, np.ndarray]:
    """Weight of each demand point per service: residents, or for a condition with an incidence (case weighting
    on) its expected cases scaled so that the region's total stays its population."""
    sc, population = inst.scenario, inst.population
    weights = {v: population for v in SERVICES}
    if not sc.cases.weighting or population.sum() <= 0:
        return weights
    older = inst.population_65plus if inst.population_65plus is not None else np.full(len(population), np.nan)
    older = np.where(np.isnan(older), sc.cases.share_65plus_when_unknown * population, older)
    for condition, rate in sc.cases.incidence.items():
        cases = (population - older) * rate["under_65"] + older * rate["65_plus"]
        if cases.sum() > 0:
            weights[condition] = cases * population.sum() / cases.sum()
    return weights


def meets_hard_targets(inst: Instance, fig: Figures) -> bool:
    sc, total = inst.scenario, float(inst.population.sum())
    coverage = all(fig.unserved_weighted[v] <= (1 - share) * total + PEOPLE_TOL
                   for v, share in sc.min_covered_share.items())
    return coverage and (not sc.gp_target_hard or float(fig.shortage.sum()) <= PEOPLE_TOL)


def random_feasible_plan(inst: Instance, rng: np.random.Generator) -> RawPlan:
    """A plan built by adding random allowed placements in random order while the budget holds."""
    sc, n = inst.scenario, len(inst.site_ids)
    plan = RawPlan.empty(n)
    moves: list[tuple[str, int]] = [("gp", j) for j in range(n)] + [("village_doctor", j) for j in range(n)]
    moves += [(k, j) for k in EQUIPMENT for j in range(n)] + [(s, j) for s in CENTERS for j in range(n)]
    for index in rng.permutation(len(moves)):
        resource, j = moves[index]
        trial = plan.copy()
        if resource == "gp":
            trial.gps[j] = rng.integers(0, sc.gp_eligibility.limit(inst.level[j]) + 1)
        elif resource == "village_doctor":
            trial.doctors[j] = rng.integers(0, sc.village_doctor_eligibility.limit(inst.level[j]) + 1)
        elif resource in EQUIPMENT:
            trial.equipment[resource][j] = rng.integers(0, sc.equipment_eligibility[resource].max_per_site + 1)
        else:
            trial.centers[resource][j] = bool(rng.integers(0, 2))
        trial.opened[j] |= bool(inst.candidate[j])
        if eligibility_violations(inst, trial) or not within_budget(inst, *plan_cost(inst, trial)):
            continue
        plan = trial
    # close candidates that received nothing (opening them alone only costs)
    for j in np.flatnonzero(plan.opened):
        if not (plan.gps[j] or plan.doctors[j] or any(plan.equipment[k][j] for k in EQUIPMENT)
                or any(plan.centers[s][j] for s in CENTERS)):
            plan.opened[j] = False
    return plan


# ---------------------------------------------------------------- checks of one result


def check_result(inst: Instance, result: Result) -> RawPlan:
    """Every property of a returned plan, recomputed from the raw inputs; returns the plan."""
    plan = plan_of(result, inst)
    assert eligibility_violations(inst, plan) == []
    capital, annual = plan_cost(inst, plan)
    assert result.capital_yuan == pytest.approx(capital, abs=YUAN_TOL)
    assert result.annual_yuan == pytest.approx(annual, abs=YUAN_TOL)
    assert float(result.allocations["cost_yuan"].sum()) == pytest.approx(capital + annual, abs=YUAN_TOL)
    assert within_budget(inst, capital, annual)
    after = figures(inst, plan, cutoff_minutes=result.travel_cutoff_minutes)
    before = figures(inst, RawPlan.empty(len(inst.site_ids)), cutoff_minutes=result.travel_cutoff_minutes)
    for v in SERVICES:
        assert result.unserved_after[v] == pytest.approx(after.unserved[v], abs=PEOPLE_TOL), v
        assert result.unserved_before[v] == pytest.approx(before.unserved[v], abs=PEOPLE_TOL), v
    shortage = result.townships.set_index("code").loc[list(inst.township_ids), "gp_shortage_people_after"]
    np.testing.assert_allclose(shortage.to_numpy(float), after.shortage, atol=PEOPLE_TOL)
    assert result.weighted_gap_after == pytest.approx(after.gap, abs=1e-6 * max(1.0, after.gap))
    assert result.travel_minutes_after == pytest.approx(after.travel, rel=1e-9, abs=1e-6)
    assert meets_hard_targets(inst, after)
    expected = {"gap": after.gap, "equity": after.max_gap_share, "travel": after.travel}[result.objective_name]
    if result.tiers is None or result.objective_name != "gap":
        assert result.objective == pytest.approx(expected, rel=1e-7, abs=1e-7)
    if result.tiers is not None:
        check_tiers(inst, plan, result)
    return plan


def check_tiers(inst: Instance, plan: RawPlan, result: Result) -> None:
    """Each active primary site has exactly one lead hospital it may link to; loads within every capacity."""
    assert result.tiers is not None and inst.beds is not None and inst.referral_minutes is not None
    tier_settings = inst.scenario.tiers
    assert tier_settings is not None
    referrals = result.tiers.referrals
    hospitals = inst.hospitals
    hospital_ids = [inst.site_ids[h] for h in hospitals]
    sc = inst.scenario
    staffed = sc.primary_care_provider == "staffed"

    def eligible(rule: Any) -> np.ndarray:
        return np.array([v in rule.levels and rule.limit(v) >= 1 and inst.kind_of(j) in ("", *rule.kinds)
                         for j, v in enumerate(inst.level)])

    # A grassroots site is a first-contact site of the tiers when it has visits today or could give first
    # contact: GPs may be added, or (provider "staffed") it is a health center or may take village doctors.
    centers = np.array([v in ("township_hc", "community_hc") for v in inst.level])
    could = eligible(sc.gp_eligibility) | (staffed & (centers | eligible(sc.village_doctor_eligibility)))
    existing = ~inst.candidate
    base = np.array([tier_settings.base_visits_per_year.get(v, 0.0) for v in inst.level])
    primary = inst.grassroots & ((existing & ((base > 0) | (inst.gps > 0))) | could)
    active = primary & (existing | plan.opened)
    assert referrals["primary_site_id"].is_unique
    assert set(referrals["primary_site_id"]) == {inst.site_ids[j] for j in np.flatnonzero(active)}
    assert referrals["lead_hospital_id"].isin(hospital_ids).all()
    position = {site: j for j, site in enumerate(inst.site_ids)}
    leading = {lead for lead in (inst.consortium_lead or ()) if lead}
    may_lead = np.array([inst.kind_of(h) in tier_settings.lead_kinds or inst.site_ids[h] in leading
                         for h in hospitals])
    capacity = np.where(may_lead, inst.beds[hospitals] * tier_settings.referral_visits_per_bed_per_year, 0.0)
    load = np.zeros(len(hospitals))
    for row in referrals.itertuples():
        j, h = position[row.primary_site_id], hospital_ids.index(row.lead_hospital_id)
        minutes = inst.referral_minutes[j, h]
        assert math.isfinite(minutes) and capacity[h] > 0
        if tier_settings.max_referral_minutes is not None:
            assert minutes <= tier_settings.max_referral_minutes
        if tier_settings.fix_existing_links and inst.consortium_lead and inst.consortium_lead[j]:
            assert row.lead_hospital_id == inst.consortium_lead[j]
        site_capacity = max(base[j] if existing[j] else 0.0, inst.gps[j] * tier_settings.visits_per_gp_per_year) \
            + plan.gps[j] * tier_settings.visits_per_gp_per_year
        assert row.met_visits <= site_capacity * (1 + 1e-7) + 1e-6
        load[h] += tier_settings.referral_share * row.met_visits
    assert (load <= capacity * (1 + 1e-7) + 1e-6).all()
    reported = result.tiers.hospitals.set_index("hospital_id").loc[hospital_ids, "load_visits_after"]
    np.testing.assert_allclose(reported.to_numpy(float), load, rtol=1e-7, atol=1e-6)


# ---------------------------------------------------------------- random problems


def _subset(draw: st.DrawFn, items: tuple[str, ...]) -> list[str]:
    return draw(st.lists(st.sampled_from(items), unique=True, max_size=len(items)))


@st.composite
def scenarios(draw: st.DrawFn, *, tiers: bool) -> dict[str, Any]:
    """A scenario table over every key the model reads, with random budgets, costs, rules and weights."""
    money = st.sampled_from([0.0, 50_000.0, 120_000.0, 300_000.0, 700_000.0, 1_500_000.0, 2_600_000.0])
    cost = st.fixed_dictionaries({"capital_yuan": money, "annual_yuan": money})
    budget_kind = draw(st.sampled_from(["total", "split", "capital"]))
    amount = st.sampled_from([0.0, 400_000.0, 1_000_000.0, 2_500_000.0, 6_000_000.0, 15_000_000.0])
    budget = ({"total_yuan": draw(amount)} if budget_kind == "total"
              else {"capital_yuan": draw(amount), "annual_yuan": draw(amount)} if budget_kind == "split"
              else {"capital_yuan": draw(amount)})
    targets: dict[str, Any] = {"gp_per_10k": draw(st.sampled_from([0.0, 1.5, 3.0, 10.0, 25.0]))}
    if not tiers and draw(st.integers(0, 4)) == 0:
        targets["min_covered_share"] = {draw(st.sampled_from(SERVICES)): draw(st.sampled_from([0.2, 0.5, 0.9]))}
    if not tiers and draw(st.integers(0, 5)) == 0:
        targets["gp_target_hard"] = True
    table: dict[str, Any] = {
        "budget": budget,
        "costs": {"gp": draw(cost), "village_doctor": draw(cost), "open_site": {"annual_yuan": draw(money)},
                  "equipment": {k: draw(cost) for k in EQUIPMENT}, "center": {s: draw(cost) for s in CENTERS}},
        "targets": targets,
        "thresholds_minutes": {v: draw(st.sampled_from([5.0, 15.0, 30.0, 45.0, 60.0, 90.0])) for v in SERVICES},
        "weights": {v: draw(st.sampled_from([0.0, 0.5, 1.0, 2.0])) for v in (*SERVICES, "gp_shortage")},
        "primary_care": {"provider": draw(st.sampled_from(PROVIDER_DEFINITIONS))},
        "cases": {"weighting": draw(st.booleans())},
        "eligibility": {
            "gp": {"levels": _subset(draw, LEVELS), "max_per_site": draw(st.integers(0, 3)),
                   "max_per_level": {v: draw(st.integers(0, 2)) for v in _subset(draw, LEVELS)},
                   "kinds": _subset(draw, HOSPITAL_KINDS)},
            "village_doctor": {"levels": _subset(draw, LEVELS), "max_per_site": draw(st.integers(0, 2))},
            "equipment": {k: {"levels": _subset(draw, LEVELS), "max_per_site": draw(st.integers(0, 2)),
                              "kinds": _subset(draw, HOSPITAL_KINDS)}
                          for k in EQUIPMENT},
            "center": {s: {"levels": _subset(draw, LEVELS), "max_per_site": 1, "kinds": _subset(draw, HOSPITAL_KINDS),
                           "requires": draw(st.lists(st.sampled_from(EQUIPMENT), unique=True, max_size=2))}
                       for s in CENTERS},
        },
    }
    if tiers:
        table["tiers"] = {"referral_share": draw(st.sampled_from([0.0, 0.07, 0.3])),
                          "referral_visits_per_bed_per_year": draw(st.sampled_from([5.0, 100.0])),
                          "visits_per_gp_per_year": draw(st.sampled_from([1_000.0, 4_000.0])),
                          "fix_existing_links": draw(st.booleans())}
    return table


@st.composite
def instances(draw: st.DrawFn, *, tiers: bool = False) -> Instance:
    """A random problem: a few townships, 5-20 demand points, 3-8 sites of random levels, kinds and holdings."""
    n_towns, n_demand, n_sites = draw(st.integers(1, 3)), draw(st.integers(5, 20)), draw(st.integers(3, 8))
    kinds = draw(st.lists(st.sampled_from(["existing", "existing", "candidate"]), min_size=n_sites,
                          max_size=n_sites))
    levels = draw(st.lists(st.sampled_from(LEVELS), min_size=n_sites, max_size=n_sites))
    if tiers:  # at least one existing general hospital with beds, reachable from every site
        kinds[0], levels[0] = "existing", draw(st.sampled_from(HOSPITAL_LEVELS))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    existing = np.array([k == "existing" for k in kinds])
    towns = tuple(f"t{t}" for t in range(n_towns))
    site_ids = tuple(f"s-{j}" for j in range(n_sites))
    minutes = np.round(rng.uniform(0.0, 120.0, size=(n_demand, n_sites)), 1)
    minutes[rng.random(minutes.shape) < 0.15] = np.inf
    table = draw(scenarios(tiers=tiers))
    inst = Instance(
        scenario=scenario_from_dict(table),
        demand_ids=tuple(f"d{i}" for i in range(n_demand)),
        population=rng.integers(0, 3_000, size=n_demand).astype(float),
        demand_town=tuple(towns[t] for t in rng.integers(0, n_towns, size=n_demand)),
        township_ids=towns,
        site_ids=site_ids,
        kind=tuple(kinds),
        level=tuple(levels),
        site_town=tuple(None if rng.random() < 0.1 else towns[rng.integers(0, n_towns)] for _ in range(n_sites)),
        gps=np.where(existing, rng.integers(0, 4, size=n_sites), 0),
        village_doctors=np.where(existing, rng.integers(0, 3, size=n_sites), 0),
        hospital_kind=tuple("general" if tiers and j == 0 else str(k)
                            for j, k in enumerate(rng.choice(["", *HOSPITAL_KINDS], size=n_sites))),
        population_65plus=np.where(rng.random(n_demand) < 0.2, np.nan, 0.0),
        equipment={k: np.where(existing & (rng.random(n_sites) < 0.3), 1, 0) for k in EQUIPMENT},
        centers={s: existing & (rng.random(n_sites) < 0.15) for s in CENTERS},
        # existing sites carry an opening cost too: it must never be charged
        open_cost=np.round(rng.uniform(0.0, 2_000_000.0, size=n_sites), -3),
        minutes=minutes,
    )
    older = np.floor(inst.population * rng.uniform(0, 0.5, n_demand))
    inst = dataclasses.replace(inst, population_65plus=np.where(np.isnan(inst.population_65plus), np.nan, older))
    if not tiers:
        return inst
    hospitals = inst.hospitals
    # as in a loaded region, candidates have no beds and no consortium lead
    beds = np.where(np.isin(np.asarray(levels), HOSPITAL_LEVELS), rng.integers(20, 300, size=n_sites),
                    rng.integers(0, 40, size=n_sites)).astype(float) * existing
    referral = np.round(rng.uniform(5.0, 150.0, size=(n_sites, len(hospitals))), 1)
    referral[rng.random(referral.shape) < 0.2] = np.inf
    referral[:, 0] = np.round(rng.uniform(5.0, 150.0, size=n_sites), 1)  # hospital 0 reachable from every site
    hospital_ids = [site_ids[h] for h in hospitals]
    leads = tuple("" if rng.random() < 0.4 or not existing[j]
                  else hospital_ids[int(rng.choice(np.flatnonzero(np.isfinite(referral[j]) & (beds[hospitals] > 0))))]
                  for j in range(n_sites))
    return dataclasses.replace(inst, beds=beds, referral_minutes=referral, consortium_lead=leads)


def _solve(inst: Instance, objective: str) -> Result | None:
    """The optimal plan, or None after checking that an infeasibility verdict is not contradicted."""
    try:
        return optimize_problem(inst.problem(), objective=objective, mip_gap=0.0)
    except InfeasibleError:
        n = len(inst.site_ids)
        empty = figures(inst, RawPlan.empty(n), cutoff_minutes=60.0)
        assert not meets_hard_targets(inst, empty), "infeasible, yet today's network meets every hard target"
        rng = np.random.default_rng(0)
        for _ in range(5):
            plan = random_feasible_plan(inst, rng)
            assert not meets_hard_targets(inst, figures(inst, plan, cutoff_minutes=60.0)), \
                "infeasible, yet a random plan within budget meets every hard target"
        return None


@PROPERTY_SETTINGS
@given(inst=instances(), objective=st.sampled_from(["gap", "equity", "travel"]))
def test_random_problem_plans_check_out(inst: Instance, objective: str) -> None:
    weights = inst.scenario.weights
    if objective == "equity" and not any(weights[v] > 0 for v in (*SERVICES, "gp_shortage")):
        with pytest.raises(ScenarioError, match="every weight is zero"):
            optimize_problem(inst.problem(), objective=objective)
        return
    result = _solve(inst, objective)
    if result is not None:
        assert result.status == "optimal"
        check_result(inst, result)


@PROPERTY_SETTINGS
@given(inst=instances(), seed=st.integers(0, 2**32 - 1))
def test_gap_optimum_beats_the_empty_and_a_random_plan(inst: Instance, seed: int) -> None:
    result = _solve(inst, "gap")
    if result is None:
        return
    check_result(inst, result)
    cutoff = result.travel_cutoff_minutes
    n = len(inst.site_ids)
    candidates = [RawPlan.empty(n), random_feasible_plan(inst, np.random.default_rng(seed))]
    for plan in candidates:
        assert eligibility_violations(inst, plan) == []
        assert within_budget(inst, *plan_cost(inst, plan))
        other = figures(inst, plan, cutoff_minutes=cutoff)
        if meets_hard_targets(inst, other):
            assert result.objective <= other.gap + 1e-6 * max(1.0, other.gap)


@settings(max_examples=100, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(inst=instances(tiers=True))
def test_random_problem_with_tiers_links_every_primary_site_within_capacity(inst: Instance) -> None:
    result = optimize_problem(inst.problem(), objective="gap", mip_gap=0.0)
    assert result.status == "optimal" and result.tiers is not None
    check_result(inst, result)


def test_evaluator_on_a_hand_computed_case() -> None:
    # Two demand points, a clinic with one GP 10 minutes from the first, a candidate 5 minutes from the second.
    scenario = scenario_from_dict({
        "budget": {"total_yuan": 1e6}, "targets": {"gp_per_10k": 10.0},
        "costs": {"gp": {"capital_yuan": 1.0, "annual_yuan": 2.0}, "open_site": {"annual_yuan": 30.0}},
        "weights": {v: 0.0 for v in SERVICES} | {"primary_care": 1.0, "gp_shortage": 2.0},
    })
    inst = Instance(scenario=scenario, demand_ids=("a", "b"), population=np.array([600.0, 900.0]),
                    demand_town=("t", "t"), township_ids=("t",), site_ids=("c", "x"),
                    kind=("existing", "candidate"), level=("village_clinic", "township_hc"), site_town=("t", "t"),
                    gps=np.array([1, 0]), equipment={k: np.zeros(2, int) for k in EQUIPMENT},
                    centers={s: np.zeros(2, bool) for s in CENTERS}, open_cost=np.array([7.0, 100.0]),
                    minutes=np.array([[10.0, 40.0], [20.0, 5.0]]))
    plan = RawPlan.empty(2)
    none = figures(inst, plan, cutoff_minutes=30.0)
    # b is 20 minutes from the clinic (threshold 15): 900 unserved; 1,500 people need 1.5 GPs at 10 per 10,000
    assert none.unserved["primary_care"] == 900.0 and none.shortage.tolist() == [500.0]
    assert none.gap == 900.0 + 2 * 500.0 and none.travel == 600 * 10 + 900 * 20
    plan.opened[1], plan.gps[1] = True, 1
    assert plan_cost(inst, plan) == (100.0 + 1.0, 30.0 + 2.0)
    after = figures(inst, plan, cutoff_minutes=30.0)
    assert after.unserved["primary_care"] == 0.0 and after.shortage.tolist() == [0.0] and after.gap == 0.0
    plan.gps[0] = 11  # above the default of 10 per site
    assert eligibility_violations(inst, plan) == ["c: 11 gp at a village_clinic ()"]
    result = optimize_problem(inst.problem(), objective="gap", mip_gap=0.0)
    assert check_result(inst, result).opened.tolist() == [False, True]
    assert result.objective == 0.0


# ---------------------------------------------------------------- small generated regions


def instance_of(prepared: workflow.Prepared) -> Instance:
    """The raw arrays of a prepared region, aligned with its travel matrices by ID."""
    region = prepared.region
    demand, sites = region.demand, region.sites
    rows = [prepared.matrix.origin_ids.index(i) for i in demand["id"]]
    cols = [prepared.matrix.destination_ids.index(i) for i in sites["id"]]
    site_ids = tuple(str(i) for i in sites["id"])
    inst = Instance(
        scenario=prepared.scenario,
        demand_ids=tuple(str(i) for i in demand["id"]),
        population=demand["population"].to_numpy(float),
        demand_town=tuple(str(c) for c in demand["township_code"]),
        township_ids=tuple(str(c) for c in region.townships["code"]),
        site_ids=site_ids,
        kind=tuple(sites["kind"]),
        level=tuple(sites["level"]),
        site_town=tuple(None if pd.isna(c) or c == "" else str(c) for c in sites["township_code"]),
        gps=sites["gps"].to_numpy(int),
        equipment={k: sites[k].to_numpy(int) for k in EQUIPMENT},
        centers={s: sites[f"{s}_center"].to_numpy(bool) for s in CENTERS},
        open_cost=sites["open_cost_yuan"].to_numpy(float),
        minutes=np.asarray(prepared.matrix.minutes)[np.ix_(rows, cols)],
        beds=sites["beds"].to_numpy(float),
        village_doctors=sites["village_doctors"].to_numpy(int),
        hospital_kind=tuple(str(k) for k in sites["hospital_kind"]),
        population_65plus=demand["population_65plus"].to_numpy(float),
    )
    if prepared.site_matrix is None:
        return inst
    hospitals = inst.hospitals
    site_matrix = prepared.site_matrix
    referral = np.asarray(site_matrix.minutes)[np.ix_(
        [site_matrix.origin_ids.index(i) for i in site_ids],
        [site_matrix.destination_ids.index(site_ids[h]) for h in hospitals])]
    leads = tuple("" if pd.isna(v) else str(v) for v in sites["consortium_lead"])
    return dataclasses.replace(inst, referral_minutes=referral, consortium_lead=leads)


@settings(max_examples=15, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(seed=st.integers(0, 10_000), townships=st.integers(1, 3), villages=st.integers(5, 14),
       candidates=st.integers(0, 3), budget=st.sampled_from([0.0, 1e6, 4e6, 12e6]),
       objective=st.sampled_from(["gap", "equity", "travel"]), tiers=st.booleans())
def test_generated_region_plans_check_out(tmp_path_factory: pytest.TempPathFactory, seed: int, townships: int,
                                          villages: int, candidates: int, budget: float, objective: str,
                                          tiers: bool) -> None:
    bundle = tmp_path_factory.mktemp("region") / "r"
    villages = max(villages, townships)
    without_clinic = (villages - townships) - round(0.5 * (villages - townships))  # candidates are new clinics
    write_region(generate_region(townships=townships, villages=villages, seed=seed,
                                 candidates=min(candidates, without_clinic)), bundle)
    scenario_path = None
    if tiers:
        scenario_path = bundle.parent / "tiers.toml"
        scenario_path.write_text(f"[budget]\ntotal_yuan = {budget}\n[tiers]\n", encoding="utf-8")
    prepared = workflow.prepare(bundle, scenario_path=scenario_path)
    if not tiers:
        prepared = dataclasses.replace(prepared, scenario=prepared.scenario.with_budget(budget))
    result = workflow.optimize(prepared, objective=objective, mip_gap=0.0)
    assert result.status == "optimal"
    inst = instance_of(prepared)
    plan = check_result(inst, result)
    if objective == "gap" and not tiers:
        empty = figures(inst, RawPlan.empty(len(inst.site_ids)), cutoff_minutes=result.travel_cutoff_minutes)
        assert result.objective <= empty.gap + 1e-6 * max(1.0, empty.gap)
    assert plan.gps.sum() == result.to_summary()["gp"]["added"]


# ---------------------------------------------------------------- defects the properties found (model/, reported)


def _one_site_instance(level: str, table: dict[str, Any], **holdings: Any) -> Instance:
    """One demand point of 1,000 people 10 minutes from one existing site."""
    equipment = {k: np.array([holdings.get(k, 0)]) for k in EQUIPMENT}
    return Instance(scenario=scenario_from_dict(table), demand_ids=("d",), population=np.array([1_000.0]),
                    demand_town=("t",), township_ids=("t",), site_ids=("s",), kind=("existing",), level=(level,),
                    site_town=("t",), gps=np.array([1]), equipment=equipment,
                    centers={s: np.zeros(1, bool) for s in CENTERS}, open_cost=np.zeros(1),
                    minutes=np.array([[10.0]]))


def test_center_max_per_site_zero_forbids_the_center() -> None:
    inst = _one_site_instance("county_hospital", {
        "budget": {"total_yuan": 1e9},
        "eligibility": {"center": {"chest_pain": {"levels": ["county_hospital"], "max_per_site": 0,
                                                  "requires": []}}},
    })
    check_result(inst, optimize_problem(inst.problem(), objective="gap", mip_gap=0.0))


def test_equipment_requires_is_honoured() -> None:
    inst = _one_site_instance("county_hospital", {
        "budget": {"total_yuan": 1e9},
        "eligibility": {"equipment": {"ct": {"levels": ["county_hospital"], "requires": ["dr"]},
                                      "dr": {"levels": []}}},
    })
    result = optimize_problem(inst.problem(), objective="gap", mip_gap=0.0)
    assert result.sites["added_ct"].tolist() == [0]


def test_unopened_candidate_with_a_fixed_lead_takes_no_stepdown_patients() -> None:
    table = {"budget": {"total_yuan": 0.0}, "tiers": {"fix_existing_links": True}}
    inst = Instance(scenario=scenario_from_dict(table), demand_ids=("d",), population=np.array([1_000.0]),
                    demand_town=("t",), township_ids=("t",), site_ids=("h", "x"), kind=("existing", "candidate"),
                    level=("county_hospital", "township_hc"), site_town=("t", "t"), gps=np.array([0, 0]),
                    equipment={k: np.zeros(2, int) for k in EQUIPMENT},
                    centers={s: np.zeros(2, bool) for s in CENTERS}, open_cost=np.array([0.0, 1e6]),
                    minutes=np.array([[10.0, 5.0]]), beds=np.array([100.0, 10.0]),
                    referral_minutes=np.array([[0.0], [20.0]]), consortium_lead=("", "h"),
                    population_65plus=np.array([np.nan]))
    result = optimize_problem(inst.problem(), objective="gap", mip_gap=0.0)
    assert result.sites["opened"].tolist() == [True, False]
