"""Tiered care: [tiers] settings, pre-processing, the tier families against brute force, invariants, targets."""

from __future__ import annotations

import itertools
import json
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import pytest

from allocopt.errors import DataError, InfeasibleError, ScenarioError
from allocopt.model import Problem, build_model, build_problem, solve_model
from allocopt.model.tier_data import TierInputs
from allocopt.optimize import optimize, optimize_problem
from allocopt.scenario import Scenario, scenario_from_dict, scenario_to_dict
from allocopt.services import GRASSROOTS_LEVELS, SERVICES
from allocopt.tiers import BASE_VISITS_PER_YEAR, TiersSettings, parse_tiers

INF = np.inf

# ---------------------------------------------------------------- settings


def test_an_empty_tiers_table_gives_the_defaults_and_no_table_gives_none() -> None:
    assert scenario_from_dict({}).tiers is None
    assert scenario_from_dict({"tiers": {}}).tiers == TiersSettings()
    assert TiersSettings().base_visits_per_year == BASE_VISITS_PER_YEAR


def test_settings_overlay_and_round_trip() -> None:
    scenario = scenario_from_dict({"tiers": {"referral_share": 0.05, "max_referral_minutes": 90,
                                             "fix_existing_links": True,
                                             "base_visits_per_year": {"village_clinic": 1000}}})
    tiers = scenario.tiers
    assert tiers is not None
    assert (tiers.referral_share, tiers.max_referral_minutes, tiers.fix_existing_links) == (0.05, 90.0, True)
    assert tiers.base_visits_per_year == {**BASE_VISITS_PER_YEAR, "village_clinic": 1000.0}
    assert scenario_from_dict(scenario_to_dict(scenario)).tiers == tiers
    assert "max_referral_minutes" not in scenario_to_dict(scenario_from_dict({"tiers": {}}))["tiers"]


@pytest.mark.parametrize(("table", "message"), [
    ({"referal_share": 0.1}, "unknown key 'tiers.referal_share'"),
    ({"referral_share": 1.5}, "'tiers.referral_share' must be a finite number at least 0 and at most 1"),
    ({"visits_per_gp_per_year": 0}, "'tiers.visits_per_gp_per_year' must be a finite number above 0"),
    ({"max_referral_minutes": "60"}, "'tiers.max_referral_minutes' must be a number"),
    ({"fix_existing_links": 1}, "'tiers.fix_existing_links' must be true or false"),
    ({"base_visits_per_year": {"county_hospital": 5}}, "unknown key 'tiers.base_visits_per_year.county_hospital'"),
    ({"weight_unmet_visits": 0}, "'tiers.weight_unmet_visits' must be a finite number above 0"),
])
def test_bad_settings_name_the_key(table: dict[str, Any], message: str) -> None:
    with pytest.raises(ScenarioError, match=message.replace("(", r"\(")):
        scenario_from_dict({"tiers": table}, source="plan.toml")
    with pytest.raises(ScenarioError, match="key 'tiers' must be a table"):
        parse_tiers(3)


# ---------------------------------------------------------------- a tiny problem with tiers
# Primary sites V1 (village clinic, base 2,000 visits), T1 (township center, 1 GP, base 5,000, 10 beds) and the
# candidate X; hospitals H1 (20 beds: 2,000 referrals) and H2 (10 beds: 1,000). Each demand point reaches exactly
# one primary site within the 30-minute cutoff (d5 none). Referral share 0.1; step-down: H1 sends 100 patients,
# H2 50, T1 takes 100.
SITES = ("V1", "T1", "X", "H1", "H2")
KINDS = ("existing", "existing", "candidate", "existing", "existing")
LEVELS = ("village_clinic", "township_hc", "township_hc", "county_hospital", "county_hospital")
GPS = (0, 1, 0, 0, 0)
BEDS = (0, 10, 0, 20, 10)
DEMAND = ("d1", "d2", "d3", "d4", "d5")
POPULATION = (1000.0, 1500.0, 800.0, 1200.0, 500.0)
OLD = (200.0, np.nan, 0.0, 300.0, 100.0)
MINUTES = np.array([
    # V1   T1    X     H1    H2
    [5.0, 40.0, 50.0, 60.0, 45.0],
    [35.0, 10.0, 40.0, 30.0, 70.0],
    [45.0, 25.0, 33.0, 50.0, 55.0],
    [60.0, 42.0, 8.0, 20.0, 80.0],
    [INF, 70.0, 65.0, 40.0, 90.0],
])
REFERRAL = np.array([  # sites x (H1, H2)
    [40.0, 20.0],
    [30.0, 50.0],
    [25.0, 60.0],
    [0.0, 35.0],
    [35.0, 0.0],
])
OPEN_COST = 100_000.0
GP_COST = 200_000.0  # capital plus annual
OPEN_ANNUAL = 300_000.0
TIERS = {
    "visits_per_gp_per_year": 3000, "base_visits_per_year": {"village_clinic": 2000, "township_hc": 5000},
    "referral_share": 0.1, "referral_visits_per_bed_per_year": 100, "downward_share": 0.5,
    "admissions_per_bed_per_year": 10, "downward_stay_days": 10, "spare_bed_days_per_bed_per_year": 100,
    "weight_unmet_visits": 1.0, "weight_primary_minutes": 0.01, "weight_referral_minutes": 0.05,
    "weight_downward_unplaced": 2.0, "fix_existing_links": False,  # consortium design, the what-if
}


def tier_scenario(budget: float, *, tiers: dict[str, Any] | None = None, people_weights: bool = False,
                  with_tiers: bool = True) -> Scenario:
    """Only GPs and the opening of X can be bought; without `people_weights` the gap is the tier terms alone."""
    weight = 1.0 if people_weights else 0.0
    data: dict[str, Any] = {
        "budget": {"total_yuan": budget},
        "costs": {"gp": {"capital_yuan": 50_000.0, "annual_yuan": 150_000.0},
                  "open_site": {"annual_yuan": OPEN_ANNUAL}},
        "weights": {**{v: weight for v in SERVICES}, "gp_shortage": weight},
        "primary_care": {"provider": "gp"},  # the brute force counts GP sites as first contact
        "cases": {"weighting": False},
        "eligibility": {
            "gp": {"levels": list(GRASSROOTS_LEVELS), "max_per_site": 2, "max_per_level": {}},
            "village_doctor": {"levels": []},
            "equipment": {k: {"levels": []} for k in ("ct", "dr", "ultrasound", "cath_lab", "ecg")},
            "center": {s: {"levels": []} for s in ("chest_pain", "stroke", "trauma")},
        },
    }
    if with_tiers:
        data["tiers"] = {**TIERS, **(tiers or {})}
    return scenario_from_dict(data)


def tier_problem(scenario: Scenario, *, leads: tuple[str, ...] = ("H2", "H1", "", "", ""),
                 referral: np.ndarray = REFERRAL, beds: tuple[int, ...] = BEDS) -> Problem:
    return Problem.from_arrays(
        scenario=scenario, demand_ids=DEMAND, demand_population=POPULATION, demand_township=["t"] * 5,
        township_ids=["t"], site_ids=SITES, site_kind=KINDS, site_level=LEVELS, minutes=MINUTES,
        site_township=["t"] * 5, existing_gps=GPS, open_cost_yuan=[0, 0, OPEN_COST, 0, 0],
        tier_inputs=TierInputs(referral_minutes=referral, site_beds=np.array(beds, dtype=float),
                               consortium_lead=leads, demand_population_65plus=np.array(OLD)),
    )


def test_preprocessing_by_hand() -> None:
    t = tier_problem(tier_scenario(0.0)).tiers
    assert t is not None
    # d1: 800 x 6 + 200 x 12; d2: 65+ unknown, all at 6; d4: 900 x 6 + 300 x 12.
    assert t.demand_visits.tolist() == [7200.0, 9000.0, 4800.0, 9000.0, 3600.0]
    assert t.base_capacity.tolist() == [2000.0, 5000.0, 0.0, 0.0, 0.0]
    assert t.primary.tolist() == [0, 1, 2]
    assert t.cutoff_minutes == 30.0
    pairs = sorted(zip(t.pair_demand.tolist(), t.pair_site.tolist(), t.pair_minutes.tolist(), strict=True))
    assert pairs == [(0, 0, 5.0), (1, 1, 10.0), (2, 1, 25.0), (3, 2, 8.0)]
    assert t.hospitals.tolist() == [3, 4]
    assert t.referral_capacity.tolist() == [2000.0, 1000.0]
    assert t.stepdown_demand.tolist() == [100.0, 50.0]
    assert t.stepdown_capacity.tolist() == [0.0, 100.0, 0.0, 0.0, 0.0]
    # X has no lead today: before, it would go to its nearest hospital (H1, 25 minutes).
    assert t.lead_today.tolist()[:3] == [1, 0, -1] and t.lead_before.tolist()[:3] == [1, 0, 0]
    assert (t.fixed_lead == -1).all()


def test_inconsistent_tier_inputs_are_data_errors() -> None:
    scenario = tier_scenario(0.0)
    with pytest.raises(DataError, match="H9 is not an existing county or tertiary hospital"):
        tier_problem(scenario, leads=("H9", "", "", "", ""))
    with pytest.raises(DataError, match=r"referral minutes: shape \(5, 1\), expected \(5, 2\)"):
        tier_problem(scenario, referral=REFERRAL[:, :1])
    with pytest.raises(DataError, match="needs site beds, consortium leads"):
        Problem.from_arrays(scenario=scenario, demand_ids=DEMAND, demand_population=POPULATION,
                            demand_township=["t"] * 5, township_ids=["t"], site_ids=SITES, site_kind=KINDS,
                            site_level=LEVELS, minutes=MINUTES)


# ---------------------------------------------------------------- brute force from first principles


@dataclass(frozen=True)
class Option:
    gps: tuple[int, int, int]
    opened: bool
    leads: dict[str, int]
    cost: float
    objective: float
    share: float


def _tier_objective(gps: tuple[int, int, int], opened: bool, leads: dict[str, int], s: dict[str, Any]) -> tuple[
        float, float]:
    """Tier objective and grassroots share of a plan with its links, from first principles.

    Every demand point reaches one site, and each site refers to one hospital: the capacities are nested, so
    meeting visits in order of their value per visit (greedy) is optimal.
    """
    rho, share = 6.0, s["referral_share"]
    capacity = {"V1": 2000 + 3000 * gps[0], "T1": 5000 + 3000 * gps[1], "X": 3000 * gps[2] if opened else 0}
    hospital_left = [20.0 * s["referral_visits_per_bed_per_year"], 10.0 * s["referral_visits_per_bed_per_year"]]
    visits = {"d1": 7200.0, "d2": 9000.0, "d3": 4800.0, "d4": 9000.0, "d5": 3600.0}
    pairs = [("d1", "V1", 5.0), ("d2", "T1", 10.0), ("d3", "T1", 25.0), ("d4", "X", 8.0)]
    value = {}
    for demand, site, minutes in pairs:
        if site in leads:
            tau = REFERRAL[SITES.index(site), leads[site]]
            value[demand, site] = (s["weight_unmet_visits"] - s["weight_primary_minutes"] * minutes
                                   - s["weight_referral_minutes"] * share * tau) / rho
    met = 0.0
    objective = s["weight_unmet_visits"] * sum(visits.values()) / rho
    for (demand, site), v in sorted(value.items(), key=lambda item: -item[1]):
        if v <= 0:
            continue
        h = leads[site]
        take = min(visits[demand], capacity[site], hospital_left[h] / share if share else INF)
        capacity[site] -= take
        hospital_left[h] -= take * share
        met += take
        objective -= take * v
    stepdown = {0: 0.0, 1: 0.0}
    if "T1" in leads:
        stepdown[leads["T1"]] = 100.0
    placed = min(100.0, stepdown[0]) + min(50.0, stepdown[1])
    objective += s["weight_downward_unplaced"] * (150.0 - placed)
    return objective, met / sum(visits.values())


def _options(settings: dict[str, Any], *, fixed: dict[str, int] | None = None,
             max_minutes: float | None = None) -> list[Option]:
    options = []
    for gv, gt, opened, gx in itertools.product(range(3), range(3), (False, True), range(3)):
        if gx and not opened:
            continue
        sites = ["V1", "T1", *(["X"] if opened else [])]
        for links in itertools.product((0, 1), repeat=len(sites)):
            leads = dict(zip(sites, links, strict=True))
            if fixed and any(leads[k] != v for k, v in fixed.items()):
                continue
            if max_minutes is not None and any(REFERRAL[SITES.index(k), h] > max_minutes for k, h in leads.items()):
                continue
            cost = GP_COST * (gv + gt + gx) + (OPEN_COST + OPEN_ANNUAL) * opened
            objective, share = _tier_objective((gv, gt, gx), opened, leads, settings)
            options.append(Option((gv, gt, gx), opened, leads, cost, objective, share))
    return options


CASES = {
    "default": {},
    "tight hospitals": {"referral_visits_per_bed_per_year": 40},
    "kept links": {"fix_existing_links": True},
    "max 35 minutes": {"max_referral_minutes": 35},
    "referral minutes matter": {"weight_referral_minutes": 0.5, "weight_primary_minutes": 0.0},
}


@pytest.mark.parametrize("budget", [0.0, 450_000.0, 1_000_000.0, 3_000_000.0])
@pytest.mark.parametrize("case", list(CASES))
def test_tier_milp_equals_brute_force(case: str, budget: float) -> None:
    settings = {**TIERS, **CASES[case]}
    fixed = {"V1": 1, "T1": 0} if settings.get("fix_existing_links") else None
    options = [o for o in _options(settings, fixed=fixed, max_minutes=settings.get("max_referral_minutes"))
               if o.cost <= budget]
    model = build_model(tier_problem(tier_scenario(budget, tiers=CASES[case])))
    outcome = solve_model(model, mip_gap=0.0)[0]
    assert outcome.status == "optimal"
    assert outcome.objective == pytest.approx(min(o.objective for o in options), rel=1e-7)


def test_result_recomputes_the_solver_objective_and_links() -> None:
    problem = tier_problem(tier_scenario(1_000_000.0, tiers=CASES["referral minutes matter"]))
    result = optimize_problem(problem, mip_gap=0.0)
    assert result.tiers is not None
    assert result.objective == pytest.approx(result.stage_objectives[0], rel=1e-7)
    referrals = result.tiers.referrals.set_index("primary_site_id")
    chosen = dict(zip(referrals.index, referrals["lead_hospital_id"], strict=True))
    options = _options({**TIERS, **CASES["referral minutes matter"]})
    best = min(o.objective for o in options if o.cost <= 1_000_000.0)
    # Every plan with the found links and GPs is among the brute-force optima.
    leads = {k: ("H1", "H2").index(v) for k, v in chosen.items()}
    assert any(o.objective == pytest.approx(best, rel=1e-7) and o.leads == leads for o in options)
    assert result.tiers.referrals["lead_hospital_id_before"].tolist()[:2] == ["H2", "H1"]


def test_objective_adds_tier_terms_to_the_people_gap() -> None:
    result = optimize_problem(tier_problem(tier_scenario(1_000_000.0, people_weights=True)), mip_gap=0.0)
    assert result.tiers is not None
    assert result.objective == pytest.approx(result.weighted_gap_after + result.tiers.after.objective, rel=1e-9)
    assert result.objective == pytest.approx(result.stage_objectives[0], rel=1e-7)


def test_first_contact_splits_a_point_between_two_sites_by_hand() -> None:
    # One point of 7,000 visits within reach of A (5 minutes, 3,000 visits) and B (20 minutes, 10,000 visits).
    scenario = scenario_from_dict({"budget": {"total_yuan": 0.0}, "tiers": {
        "visits_per_resident": 7.0, "base_visits_per_year": {"village_clinic": 3000, "township_hc": 10000}}})
    problem = Problem.from_arrays(
        scenario=scenario, demand_ids=["d"], demand_population=[1000], demand_township=["t"], township_ids=["t"],
        site_ids=["A", "B", "H"], site_kind=["existing"] * 3,
        site_level=["village_clinic", "township_hc", "county_hospital"], minutes=np.array([[5.0, 20.0, 30.0]]),
        tier_inputs=TierInputs(referral_minutes=np.array([[30.0], [12.0], [0.0]]), site_beds=np.array([0, 0, 100]),
                               consortium_lead=("H", "H", ""), demand_population_65plus=np.array([np.nan])))
    result = optimize_problem(problem, mip_gap=0.0)
    assert result.tiers is not None
    row = result.tiers.first_contact.iloc[0]
    assert (row["visits"], row["met_visits_after"], row["primary_site_id_after"]) == (7000.0, 7000.0, "B")
    assert row["minutes_after"] == pytest.approx((3000 * 5 + 4000 * 20) / 7000)
    referrals = result.tiers.referrals.set_index("primary_site_id")
    assert referrals["load_visits"].tolist() == pytest.approx([210.0, 280.0])  # 7% of 3,000 and 4,000
    summary = result.to_summary()["tiers"]
    assert summary["grassroots_share_after"] == pytest.approx(1.0)
    assert summary["mean_referral_minutes_after"] == pytest.approx((210 * 30 + 280 * 12) / 490)


# ---------------------------------------------------------------- invariants on random problems


def random_tier_problem(seed: int, *, budget: float, tiers: dict[str, Any] | None = None) -> Problem:
    """Random sites and villages in a 40 km square, two to four hospitals (one may have no beds)."""
    rng = np.random.default_rng(seed)
    n_demand, n_sites = 30, 14
    demand_xy, site_xy = rng.uniform(0, 40, (n_demand, 2)), rng.uniform(0, 40, (n_sites, 2))
    levels = rng.choice(np.array(["village_clinic", "township_hc"], dtype=object), n_sites)
    n_hospitals = int(rng.integers(2, 5))
    levels[:n_hospitals] = "county_hospital"
    kinds = np.array(["existing"] * (n_sites - 3) + ["candidate"] * 3)
    existing = kinds == "existing"
    minutes = 2.0 + 1.5 * np.linalg.norm(demand_xy[:, None] - site_xy[None], axis=2)
    between = 2.0 + 1.2 * np.linalg.norm(site_xy[:, None] - site_xy[None, :n_hospitals], axis=2)
    beds = np.where(existing, rng.integers(0, 40, n_sites), 0)
    beds[:n_hospitals] = rng.integers(50, 300, n_hospitals)
    beds[rng.integers(0, n_hospitals)] = 0 if rng.random() < 0.5 else beds[0]
    grassroots = np.isin(levels, GRASSROOTS_LEVELS)
    leads = [f"s{rng.integers(0, n_hospitals)}" if g and e and rng.random() < 0.7 else ""
             for g, e in zip(grassroots, existing, strict=True)]
    scenario = scenario_from_dict({"budget": {"total_yuan": budget},
                                   "tiers": {"referral_visits_per_bed_per_year": 60, **(tiers or {})}})
    return Problem.from_arrays(
        scenario=scenario, demand_ids=[f"d{i}" for i in range(n_demand)],
        demand_population=rng.integers(300, 3000, n_demand), demand_township=["t"] * n_demand,
        township_ids=["t"], site_ids=[f"s{j}" for j in range(n_sites)], site_kind=kinds, site_level=levels,
        minutes=minutes, site_township=["t"] * n_sites,
        existing_gps=np.where(existing & grassroots, rng.integers(0, 3, n_sites), 0),
        open_cost_yuan=np.where(existing, 0.0, 500_000.0),
        tier_inputs=TierInputs(referral_minutes=between, site_beds=beds.astype(float), consortium_lead=tuple(leads),
                               demand_population_65plus=np.where(rng.random(n_demand) < 0.3, np.nan,
                                                                 rng.integers(0, 300, n_demand))))


@pytest.mark.parametrize(("seed", "tiers"), [(1, {"fix_existing_links": False}), (2, {}),  # links kept by default
                                             (3, {"max_referral_minutes": 40, "fix_existing_links": False}),
                                             (4, {"referral_share": 0.3})])
def test_capacities_are_never_exceeded(seed: int, tiers: dict[str, Any]) -> None:
    problem = random_tier_problem(seed, budget=4e6, tiers=tiers)
    result = optimize_problem(problem, mip_gap=0.0)
    t, tier = problem.tiers, result.tiers
    assert t is not None and tier is not None
    referrals, hospitals = tier.referrals, tier.hospitals.set_index("hospital_id")
    added = result.sites.set_index("id")["added_gps"]
    for row in referrals.itertuples():
        j = problem.site_ids.index(row.primary_site_id)
        assert row.first_contact_capacity_visits == pytest.approx(
            t.base_capacity[j] + added[row.primary_site_id] * t.settings.visits_per_gp_per_year)
        assert row.met_visits <= row.first_contact_capacity_visits + 1e-6
        assert row.load_visits == pytest.approx(row.met_visits * t.settings.referral_share)
        assert row.lead_hospital_id in hospitals.index
        assert hospitals.loc[row.lead_hospital_id, "beds"] > 0 or row.load_visits == pytest.approx(0.0)
        if t.settings.max_referral_minutes is not None:
            assert row.travel_minutes <= t.settings.max_referral_minutes
        if row.fixed:
            assert row.lead_hospital_id == row.lead_hospital_id_before
        assert row.stepdown_patients <= row.stepdown_capacity_patients + 1e-6
    opened = set(result.allocations.loc[result.allocations["resource"] == "open_site", "site_id"])
    primary = {problem.site_ids[j] for j in t.primary if problem.site_kind[j] == "existing"} | opened
    assert set(referrals["primary_site_id"]) == primary  # exactly one lead per site giving first contact
    load = referrals.groupby("lead_hospital_id")["load_visits"].sum()
    for hospital, value in load.items():
        assert value <= hospitals.loc[hospital, "capacity_visits"] * (1 + 1e-7) + 1e-6
        assert hospitals.loc[hospital, "load_visits_after"] == pytest.approx(value)
    assert (hospitals["stepdown_patients_after"] <= hospitals["stepdown_demand_patients"] + 1e-6).all()
    first = tier.first_contact
    assert (first["met_visits_after"] <= first["visits"] + 1e-6).all()
    assert first["met_visits_after"].sum() == pytest.approx(referrals["met_visits"].sum())
    summary = result.to_summary()["tiers"]
    assert summary["grassroots_visits_after"] == pytest.approx(referrals["met_visits"].sum())
    json.dumps(result.to_summary(), allow_nan=False)


# ---------------------------------------------------------------- the grassroots target and referral limits


def test_grassroots_target_met_when_affordable() -> None:
    target = 0.5
    options = [o for o in _options(TIERS) if o.share >= target - 1e-12]
    cheapest = min(o.cost for o in options)
    result = optimize_problem(tier_problem(tier_scenario(cheapest, tiers={"min_grassroots_share": target})),
                              mip_gap=0.0)
    assert result.tiers is not None and result.tiers.after.grassroots_share is not None
    assert result.tiers.after.grassroots_share >= target - 1e-9
    assert result.to_summary()["tiers"]["min_grassroots_share"] == target


def test_grassroots_target_beyond_the_budget_says_what_it_costs() -> None:
    target = 0.5
    cheapest = min(o.cost for o in _options(TIERS) if o.share >= target - 1e-12)
    scenario = tier_scenario(cheapest - 100_000.0, tiers={"min_grassroots_share": target})
    with pytest.raises(InfeasibleError) as caught:
        optimize_problem(tier_problem(scenario), mip_gap=0.0)
    message = str(caught.value)
    assert f"costs at least {cheapest:,.0f} yuan" in message
    assert "grassroots share of visits >= 50.0%" in message


def test_grassroots_target_no_plan_reaches_names_the_ceiling() -> None:
    # Everything bought: V1 7,200 of 8,000, T1 11,000, X 6,000 -> 24,200 of 33,600 visits (72.0%).
    scenario = tier_scenario(1e9, tiers={"min_grassroots_share": 0.8, "referral_share": 0.0})
    with pytest.raises(InfeasibleError, match=r"at most 24,200 of 33,600 visits a year \(72.0%\)"):
        optimize_problem(tier_problem(scenario))
    # With 7% referred and 3,000 referrals of hospital capacity, at most 42,857 visits: the target of 0.65 is
    # within the sites' reach but not the hospitals'.
    scenario = tier_scenario(1e9, tiers={"min_grassroots_share": 0.7, "referral_share": 0.15})
    with pytest.raises(InfeasibleError, match="hospitals take at most 3,000"):
        optimize_problem(tier_problem(scenario))


def test_a_site_without_a_hospital_within_the_limit_is_named() -> None:
    scenario = tier_scenario(0.0, tiers={"max_referral_minutes": 22})
    with pytest.raises(InfeasibleError, match=r"T1 \(nearest hospital H1, 30.0 minutes\)") as caught:
        optimize_problem(tier_problem(scenario))
    assert "V1" not in str(caught.value)  # V1 reaches H2 in 20 minutes


def test_a_kept_link_to_a_hospital_without_beds_is_refused() -> None:
    scenario = tier_scenario(0.0, tiers={"fix_existing_links": True})
    with pytest.raises(InfeasibleError, match="site V1 keeps its consortium lead H2"):
        optimize_problem(tier_problem(scenario, beds=(0, 10, 0, 20, 0)))


# ---------------------------------------------------------------- tiers off: exactly as before


def _same_result(first: Any, second: Any) -> None:
    for table in ("allocations", "sites", "demand", "townships"):
        pd.testing.assert_frame_equal(getattr(first, table), getattr(second, table))
    assert first.objective == second.objective and first.stage_objectives == second.stage_objectives
    summary = first.to_summary()
    summary["solver"].pop("seconds")
    other = second.to_summary()
    other["solver"].pop("seconds")
    assert summary == other and "tiers" not in summary


@pytest.mark.parametrize("objective", ["gap", "equity", "travel"])
def test_without_tiers_the_problem_model_and_result_are_unchanged(objective: str) -> None:
    scenario = tier_scenario(1_000_000.0, people_weights=True, with_tiers=False)
    with_inputs = tier_problem(scenario)
    plain = Problem.from_arrays(
        scenario=scenario, demand_ids=DEMAND, demand_population=POPULATION, demand_township=["t"] * 5,
        township_ids=["t"], site_ids=SITES, site_kind=KINDS, site_level=LEVELS, minutes=MINUTES,
        site_township=["t"] * 5, existing_gps=GPS, open_cost_yuan=[0, 0, OPEN_COST, 0, 0])
    assert with_inputs.tiers is None
    models = [build_model(p, objective=objective) for p in (with_inputs, plain)]
    assert models[0].tiers is None
    assert [v.name for v in models[0].lp.variables()] == [v.name for v in models[1].lp.variables()]
    assert [c.name for c in models[0].lp.constraints()] == [c.name for c in models[1].lp.constraints()]
    _same_result(*(optimize_problem(p, objective=objective, mip_gap=0.0) for p in (with_inputs, plain)))


@dataclass(frozen=True)
class _Matrix:
    origin_ids: tuple[str, ...]
    destination_ids: tuple[str, ...]
    minutes: np.ndarray


def _straight_line(origins: pd.DataFrame, destinations: pd.DataFrame) -> _Matrix:
    """3 minutes plus 2 minutes per km of straight line."""
    dx = origins.geometry.x.to_numpy()[:, None] - destinations.geometry.x.to_numpy()[None, :]
    dy = origins.geometry.y.to_numpy()[:, None] - destinations.geometry.y.to_numpy()[None, :]
    return _Matrix(tuple(origins["id"]), tuple(destinations["id"]), 3.0 + np.hypot(dx, dy) / 1000.0 * 2.0)


def test_tiny_region_without_tiers_is_unchanged_and_with_tiers_reports_referrals(tiny_region) -> None:
    sites = tiny_region.sites
    matrix = _straight_line(tiny_region.demand, sites)
    site_matrix = _straight_line(sites, sites[sites["level"] == "county_hospital"])
    scenario = scenario_from_dict({"budget": {"total_yuan": 8_000_000.0}})
    plain = optimize(tiny_region, matrix, scenario, mip_gap=0.0)
    _same_result(plain, optimize(tiny_region, matrix, scenario, mip_gap=0.0, site_matrix=site_matrix))
    tiered = optimize(tiny_region, matrix, scenario_from_dict({"budget": {"total_yuan": 8_000_000.0}, "tiers": {}}),
                      mip_gap=0.0, site_matrix=site_matrix)
    assert tiered.tiers is not None
    referrals = tiered.tiers.referrals
    assert set(referrals["lead_hospital_id"]) == {"H01"}  # the only hospital
    assert referrals.loc[referrals["primary_site_id"] == "T01", "lead_hospital_id_before"].item() == "H01"
    summary = tiered.to_summary()["tiers"]
    assert summary["grassroots_share_after"] >= summary["grassroots_share_before"]
    # 65+ residents visit 12 times a year, the others 6.
    population, old = tiny_region.demand["population"].sum(), tiny_region.demand["population_65plus"].sum()
    assert summary["visits_per_year"] == pytest.approx((population - old) * 6 + old * 12)
    with pytest.raises(DataError, match="needs site-to-hospital travel times"):
        build_problem(tiny_region, matrix, scenario_from_dict({"tiers": {}}))
