"""The allocation MILP against brute force on tiny problems, plus invariants, monotonicity, merging, infeasibility."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import pytest

from allocopt.errors import DataError, InfeasibleError, ScenarioError
from allocopt.model import OBJECTIVES, Problem, build_model, build_problem, solve_model
from allocopt.model.objectives import STAGE_TOLERANCE
from allocopt.optimize import optimize_problem
from allocopt.results import Result
from allocopt.scenario import Scenario, scenario_from_dict
from allocopt.services import CENTERS, EQUIPMENT, GRASSROOTS_LEVELS, LEVELS, SERVICES

INF = np.inf

# ---------------------------------------------------------------- a tiny problem with 11 integer decisions
# Sites: A village clinic without GPs, B township HC with one GP, C county hospital without CT, D county hospital
# with a CT, X and Y candidate township HCs. Only CT and stroke centers may be placed (other equipment and centers
# have no eligible level); GPs at most 2 per site.
SITES = ("A", "B", "C", "D", "X", "Y")
KINDS = ("existing", "existing", "existing", "existing", "candidate", "candidate")
LEVEL = ("village_clinic", "township_hc", "county_hospital", "county_hospital", "township_hc", "township_hc")
SITE_TOWN = ("t1", "t1", "t1", "t2", "t2", "t2")
GPS = (0, 1, 0, 0, 0, 0)
CT = (0, 0, 0, 1, 0, 0)
OPEN_COST = (0.0, 0.0, 0.0, 0.0, 900_000.0, 400_000.0)
DEMAND = ("d1", "d2", "d3", "d4", "d5", "d6")
DEMAND_TOWN = ("t1", "t1", "t1", "t2", "t2", "t2")
POPULATION = (1200.0, 800.0, 1500.0, 2500.0, 700.0, 1800.0)
MINUTES = np.array([
    #  A     B     C     D     X     Y
    [5.0, 20.0, 30.0, 90.0, 40.0, 70.0],
    [14.0, 9.0, 50.0, 70.0, 25.0, 55.0],
    [30.0, 16.0, 20.0, 65.0, 12.0, 45.0],
    [60.0, 45.0, 80.0, 10.0, 14.0, 30.0],
    [75.0, 40.0, 61.0, 35.0, 8.0, 13.0],
    [INF, 70.0, INF, 50.0, 28.0, 6.0],
])
GP_MAX = 2
THRESHOLDS = {"primary_care": 15.0, "ct": 30.0, "stroke": 60.0}
WEIGHTS = {"primary_care": 1.0, "ct": 0.5, "stroke": 2.0}
GP_WEIGHT = 0.7
GP_TARGET = 10.0  # GPs per 10,000: 1,000 people per GP
COSTS = {"gp": (50_000.0, 150_000.0), "ct": (2_000_000.0, 200_000.0), "stroke": (1_000_000.0, 300_000.0)}
OPEN_ANNUAL = 100_000.0
TRAVEL_CUTOFF = 40.0


def tiny_scenario(budget: dict[str, float], *, targets: dict[str, Any] | None = None) -> Scenario:
    """The tiny problem's scenario: only GPs, CT and stroke centers can be placed; first contact is a site with a
    GP (provider "gp"), every resident counts the same (no case weighting), as the brute force below assumes."""
    weights = {v: WEIGHTS.get(v, 0.25) for v in SERVICES} | {"gp_shortage": GP_WEIGHT}
    return scenario_from_dict({
        "budget": budget,
        "primary_care": {"provider": "gp"},
        "cases": {"weighting": False},
        "costs": {
            "gp": {"capital_yuan": COSTS["gp"][0], "annual_yuan": COSTS["gp"][1]},
            "open_site": {"annual_yuan": OPEN_ANNUAL},
            "equipment": {"ct": {"capital_yuan": COSTS["ct"][0], "annual_yuan": COSTS["ct"][1]}},
            "center": {"stroke": {"capital_yuan": COSTS["stroke"][0], "annual_yuan": COSTS["stroke"][1]}},
        },
        "targets": {"gp_per_10k": GP_TARGET, **(targets or {})},
        "thresholds_minutes": THRESHOLDS,
        "weights": weights,
        "eligibility": {
            "gp": {"levels": list(GRASSROOTS_LEVELS), "max_per_site": GP_MAX, "max_per_level": {}},
            "village_doctor": {"levels": []},
            "equipment": {
                "ct": {"levels": ["township_hc", "county_hospital"], "max_per_site": 1},
                "dr": {"levels": []}, "ultrasound": {"levels": []}, "cath_lab": {"levels": []},
                "ecg": {"levels": []},
            },
            "center": {
                "stroke": {"levels": ["county_hospital"], "requires": ["ct"]},
                "chest_pain": {"levels": []}, "trauma": {"levels": []},
            },
        },
    })


def tiny_problem(scenario: Scenario, *, merge_demand: bool = True) -> Problem:
    return Problem.from_arrays(
        scenario=scenario, demand_ids=DEMAND, demand_population=POPULATION, demand_township=DEMAND_TOWN,
        township_ids=("t1", "t2"), site_ids=SITES, site_kind=KINDS, site_level=LEVEL, minutes=MINUTES,
        site_township=SITE_TOWN, existing_gps=GPS, existing_equipment={"ct": CT}, open_cost_yuan=OPEN_COST,
        merge_demand=merge_demand,
    )


# ---------------------------------------------------------------- brute force, from first principles


@dataclass(frozen=True)
class Evaluated:
    capital: float
    annual: float
    gap: float
    coverage_gap: float
    town_gps: tuple[int, int]
    equity: float
    travel: float
    covered_share: dict[str, float]


def _plans() -> list[dict[str, Any]]:
    """Every plan the rules allow: GPs at A, B, X, Y; CT at B, C, X, Y; stroke at C, D; opening X, Y."""
    plans = []
    for gp_a, gp_b, gp_x, gp_y, ct_b, ct_c, ct_x, ct_y, st_c, st_d, open_x, open_y in itertools.product(
            range(GP_MAX + 1), range(GP_MAX + 1), range(GP_MAX + 1), range(GP_MAX + 1),
            (0, 1), (0, 1), (0, 1), (0, 1), (0, 1), (0, 1), (0, 1), (0, 1)):
        if (not open_x and (gp_x or ct_x)) or (not open_y and (gp_y or ct_y)):
            continue  # candidates receive nothing unless opened
        if st_c and not ct_c:
            continue  # a stroke center needs a CT
        plans.append({"gp": {"A": gp_a, "B": gp_b, "X": gp_x, "Y": gp_y},
                      "ct": {"B": ct_b, "C": ct_c, "X": ct_x, "Y": ct_y},
                      "stroke": {"C": st_c, "D": st_d}, "open": {"X": open_x, "Y": open_y}})
    return plans


def _evaluate(plan: dict[str, Any]) -> Evaluated:
    gp_capital, gp_annual = COSTS["gp"]
    n_gp, n_ct, n_stroke = (sum(plan[r].values()) for r in ("gp", "ct", "stroke"))
    capital = (n_gp * gp_capital + n_ct * COSTS["ct"][0] + n_stroke * COSTS["stroke"][0]
               + plan["open"]["X"] * OPEN_COST[4] + plan["open"]["Y"] * OPEN_COST[5])
    annual = (n_gp * gp_annual + n_ct * COSTS["ct"][1] + n_stroke * COSTS["stroke"][1]
              + OPEN_ANNUAL * (plan["open"]["X"] + plan["open"]["Y"]))
    is_open = {s: kind == "existing" or plan["open"][s] == 1 for s, kind in zip(SITES, KINDS, strict=True)}
    gps = {s: g + plan["gp"].get(s, 0) for s, g in zip(SITES, GPS, strict=True)}
    provides = {
        "primary_care": [is_open[s] and lv in GRASSROOTS_LEVELS and gps[s] >= 1
                         for s, lv in zip(SITES, LEVEL, strict=True)],
        "ct": [is_open[s] and c + plan["ct"].get(s, 0) >= 1 for s, c in zip(SITES, CT, strict=True)],
        "stroke": [plan["stroke"].get(s, 0) == 1 for s in SITES],
    }
    unserved_by_town = {"t1": 0.0, "t2": 0.0}
    unserved = {}
    for v, flags in provides.items():
        unserved[v] = 0.0
        for i, town in enumerate(DEMAND_TOWN):
            if not any(flags[j] and MINUTES[i, j] <= THRESHOLDS[v] for j in range(len(SITES))):
                unserved[v] += POPULATION[i]
                unserved_by_town[town] += WEIGHTS[v] * POPULATION[i]
    # Services nothing can provide leave everyone unserved at weight 0.25 each (5 of them).
    idle_weight = 0.25 * (len(SERVICES) - len(WEIGHTS))
    town_population = {t: sum(p for p, d in zip(POPULATION, DEMAND_TOWN, strict=True) if d == t)
                       for t in ("t1", "t2")}
    town_gps = tuple(sum(gps[s] for s, t in zip(SITES, SITE_TOWN, strict=True) if t == town) for town in ("t1", "t2"))
    shortage = {town: max(0.0, town_population[town] - g * 10_000 / GP_TARGET)
                for town, g in zip(("t1", "t2"), town_gps, strict=True)}
    weight_sum = sum(WEIGHTS.values()) + idle_weight + GP_WEIGHT
    shares = [(unserved_by_town[t] + idle_weight * town_population[t] + GP_WEIGHT * shortage[t])
              / (town_population[t] * weight_sum) for t in ("t1", "t2")]
    coverage_gap = sum(WEIGHTS[v] * unserved[v] for v in WEIGHTS) + idle_weight * sum(POPULATION)
    gap = coverage_gap + GP_WEIGHT * sum(shortage.values())
    travel = 0.0
    for i in range(len(DEMAND)):
        times = [MINUTES[i, j] for j in range(len(SITES)) if provides["primary_care"][j]]
        travel += POPULATION[i] * min([TRAVEL_CUTOFF, *times])
    total = sum(POPULATION)
    return Evaluated(capital, annual, gap, coverage_gap, town_gps, max(shares), travel,
                     {v: 1 - unserved[v] / total for v in unserved})


@pytest.fixture(scope="module")
def evaluated() -> list[Evaluated]:
    return [_evaluate(plan) for plan in _plans()]


def _best(evaluated: list[Evaluated], budget: float, objective: str) -> float:
    return min(getattr(e, objective) for e in evaluated if e.capital + e.annual <= budget)


BUDGETS = (0.0, 700_000.0, 2_500_000.0, 4_000_000.0, 9_000_000.0)


@pytest.mark.parametrize("budget", BUDGETS)
@pytest.mark.parametrize("objective", ["gap", "equity", "travel"])
def test_milp_optimum_equals_brute_force(evaluated: list[Evaluated], objective: str, budget: float) -> None:
    problem = tiny_problem(tiny_scenario({"total_yuan": budget}))
    model = build_model(problem, objective=objective, travel_cutoff_minutes=TRAVEL_CUTOFF)
    outcomes = solve_model(model, mip_gap=0.0)
    assert outcomes[0].status == "optimal"
    assert outcomes[0].objective == pytest.approx(_best(evaluated, budget, objective), rel=1e-6, abs=1e-6)


def test_equity_second_stage_is_the_best_gap_among_fairest_plans(evaluated: list[Evaluated]) -> None:
    budget = 4_000_000.0
    fairest = _best(evaluated, budget, "equity")
    expected = min(e.gap for e in evaluated if e.capital + e.annual <= budget and e.equity <= fairest + 1e-9)
    model = build_model(tiny_problem(tiny_scenario({"total_yuan": budget})), objective="equity")
    outcomes = solve_model(model, mip_gap=0.0)
    assert [o.status for o in outcomes] == ["optimal", "optimal", "optimal"]
    assert outcomes[1].objective == pytest.approx(expected, rel=1e-6)


def _near(value: float, best: float) -> bool:
    """Within the tolerance with which a later stage keeps an earlier one."""
    return value <= best + STAGE_TOLERANCE * max(1.0, abs(best))


@pytest.mark.parametrize("budget", BUDGETS)
@pytest.mark.parametrize("objective", ["gap", "equity", "travel"])
def test_last_stage_is_the_cheapest_plan_of_the_best_quality(
    evaluated: list[Evaluated], objective: str, budget: float
) -> None:
    best = [e for e in evaluated
            if e.capital + e.annual <= budget and _near(getattr(e, objective), _best(evaluated, budget, objective))]
    if objective == "equity":
        best = [e for e in best if _near(e.gap, min(b.gap for b in best))]
    model = build_model(tiny_problem(tiny_scenario({"total_yuan": budget})), objective=objective,
                        travel_cutoff_minutes=TRAVEL_CUTOFF)
    outcomes = solve_model(model, mip_gap=0.0)
    assert all(o.status == "optimal" for o in outcomes)
    assert outcomes[-1].objective == pytest.approx(min(e.capital + e.annual for e in best))
    # the cost stage has something to choose from: cheaper and dearer plans share the best quality
    if objective == "gap" and budget == 9_000_000.0:
        assert len({e.capital + e.annual for e in best}) > 1


def test_split_budget_matches_brute_force(evaluated: list[Evaluated]) -> None:
    capital, annual = 2_500_000.0, 450_000.0
    expected = min(e.gap for e in evaluated if e.capital <= capital and e.annual <= annual)
    model = build_model(tiny_problem(tiny_scenario({"capital_yuan": capital, "annual_yuan": annual})))
    assert solve_model(model, mip_gap=0.0)[0].objective == pytest.approx(expected, rel=1e-6)


def test_cbc_finds_the_same_optimum(evaluated: list[Evaluated]) -> None:
    budget = 4_000_000.0
    model = build_model(tiny_problem(tiny_scenario({"total_yuan": budget})))
    outcome = solve_model(model, solver="cbc", mip_gap=0.0)[0]
    assert outcome.status == "optimal"
    assert outcome.objective == pytest.approx(_best(evaluated, budget, "gap"), rel=1e-6)


def test_cost_objective_is_the_cheapest_plan_meeting_hard_targets(evaluated: list[Evaluated]) -> None:
    targets = {"min_covered_share": {"stroke": 0.6, "primary_care": 0.5}}
    expected = min(e.capital + e.annual for e in evaluated
                   if e.covered_share["stroke"] >= 0.6 and e.covered_share["primary_care"] >= 0.5)
    model = build_model(tiny_problem(tiny_scenario({"total_yuan": 0.0}, targets=targets)), objective="cost")
    assert solve_model(model, mip_gap=0.0)[0].objective == pytest.approx(expected)


def test_hard_gp_target_matches_brute_force(evaluated: list[Evaluated]) -> None:
    # At 7 GPs per 10,000, t1 (3,500 people) needs 3 GPs and t2 (5,000) needs 4; met, the shortage term is 0.
    budget = 9_000_000.0
    expected = min(e.coverage_gap for e in evaluated
                   if e.capital + e.annual <= budget and e.town_gps[0] >= 3 and e.town_gps[1] >= 4)
    scenario = tiny_scenario({"total_yuan": budget}, targets={"gp_target_hard": True, "gp_per_10k": 7.0})
    model = build_model(tiny_problem(scenario))
    assert solve_model(model, mip_gap=0.0)[0].objective == pytest.approx(expected, rel=1e-6)


def test_hard_gp_target_beyond_site_capacity_names_the_township() -> None:
    # At 10 per 10,000, t2 needs 5 GPs but only X and Y (2 each) may take GPs there.
    scenario = tiny_scenario({"total_yuan": 1e9}, targets={"gp_target_hard": True})
    with pytest.raises(InfeasibleError, match=r"township t2: 5,000 residents need 5 more GPs .* at most 4"):
        optimize_problem(tiny_problem(scenario))


def test_budget_too_small_for_hard_target_names_cost_and_budget(evaluated: list[Evaluated]) -> None:
    targets = {"min_covered_share": {"stroke": 0.9}}
    cheapest = min(e.capital + e.annual for e in evaluated if e.covered_share["stroke"] >= 0.9)
    scenario = tiny_scenario({"total_yuan": 1_000_000.0}, targets=targets)
    with pytest.raises(InfeasibleError) as caught:
        optimize_problem(tiny_problem(scenario), mip_gap=0.0)
    message = str(caught.value)
    assert f"costs at least {cheapest:,.0f} yuan" in message
    assert "the budget is 1,000,000 yuan" in message
    assert "stroke covered share >= 90.0%" in message


def test_split_budget_explanation_names_the_line_that_is_short() -> None:
    # 90% stroke coverage needs a CT and a stroke center at C plus one at D: 4,000,000 capital, 800,000 annual.
    scenario = tiny_scenario({"capital_yuan": 1_000_000.0, "annual_yuan": 5_000_000.0},
                             targets={"min_covered_share": {"stroke": 0.9}})
    with pytest.raises(InfeasibleError) as caught:
        optimize_problem(tiny_problem(scenario), mip_gap=0.0)
    message = str(caught.value)
    assert "costs at least 4,000,000 yuan of capital spending" in message
    assert "the budget is 1,000,000 yuan (budget.capital_yuan)" in message
    assert "budget.annual_yuan" not in message


def test_target_no_plan_can_meet_names_the_unreachable_point() -> None:
    # With CT placeable only at county hospitals (C may get one, D has one) and a 30-minute threshold,
    # d2 (50 and 70 minutes), d5 (61, 35) and d6 (unreachable, 50) are beyond every eligible site.
    scenario = scenario_from_dict({
        "budget": {"total_yuan": 1e9},
        "targets": {"min_covered_share": {"ct": 1.0}},
        "thresholds_minutes": THRESHOLDS,
        "eligibility": {"equipment": {"ct": {"levels": ["county_hospital"]}}},
    })
    with pytest.raises(InfeasibleError) as caught:
        optimize_problem(tiny_problem(scenario))
    message = str(caught.value)
    assert "targets.min_covered_share.ct = 1" in message
    assert "d6 (1,800 people)" in message and "d5" in message and "d1" not in message


def test_more_budget_never_gives_a_worse_gap() -> None:
    problem_at = {b: random_problem(seed=3, budget=b) for b in (0.0, 3e6, 8e6, 2e7, 6e7)}
    values = [optimize_problem(p, mip_gap=0.0).objective for _, p in sorted(problem_at.items())]
    assert all(later <= earlier + 1e-6 for earlier, later in itertools.pairwise(values))
    assert values[-1] < values[0]


@pytest.mark.parametrize("objective", ["gap", "equity"])
def test_merged_demand_gives_the_same_optimum(objective: str) -> None:
    merged = random_problem(seed=5, budget=1.5e7, duplicates=True)
    separate = random_problem(seed=5, budget=1.5e7, duplicates=True, merge_demand=False)
    assert len(merged.unit_ids) < len(separate.unit_ids) == len(separate.demand_ids)
    values = [solve_model(build_model(p, objective=objective), mip_gap=0.0)[0].objective for p in (merged, separate)]
    assert values[0] == pytest.approx(values[1], rel=1e-7)


def test_default_travel_cutoff_is_the_largest_finite_time_to_a_primary_care_site() -> None:
    # A, B, X, Y can hold primary care (grassroots levels); C and D's longer times (80, 90) do not count
    assert tiny_problem(tiny_scenario({"total_yuan": 0.0})).default_travel_cutoff() == 75.0
    unreachable = MINUTES.copy()
    unreachable[:, [0, 1, 4, 5]] = INF
    problem = Problem.from_arrays(
        scenario=tiny_scenario({"total_yuan": 0.0}), demand_ids=DEMAND, demand_population=POPULATION,
        demand_township=DEMAND_TOWN, township_ids=("t1", "t2"), site_ids=SITES, site_kind=KINDS, site_level=LEVEL,
        minutes=unreachable, site_township=SITE_TOWN, existing_gps=GPS, existing_equipment={"ct": CT},
        open_cost_yuan=OPEN_COST,
    )
    assert problem.default_travel_cutoff() == 0.0


def test_merging_keeps_townships_apart_and_maps_back() -> None:
    minutes = np.array([[5.0, 50.0], [6.0, 55.0], [5.0, 50.0], [40.0, 5.0]])
    problem = Problem.from_arrays(
        scenario=scenario_from_dict({}), demand_ids=["a", "b", "c", "d"], demand_population=[1, 2, 4, 8],
        demand_township=["t1", "t1", "t2", "t2"], township_ids=["t1", "t2"], site_ids=["s1", "s2"],
        site_kind=["existing", "existing"], site_level=["township_hc", "county_hospital"], minutes=minutes)
    # a and b share every coverage set; c has the same sets but another township; d differs.
    assert problem.unit_ids == ("a", "c", "d")
    assert problem.unit_of_demand.tolist() == [0, 0, 1, 2]
    assert problem.unit_population.tolist() == [3.0, 4.0, 8.0]


# ---------------------------------------------------------------- invariants on a random problem


def random_problem(*, seed: int, budget: float, n_demand: int = 60, n_sites: int = 24, duplicates: bool = False,
                   merge_demand: bool = True) -> Problem:
    """Random points in a 40 km square, minutes = 1.5 per km + 2, a few candidates, default costs and rules."""
    rng = np.random.default_rng(seed)
    demand_xy = rng.uniform(0, 40, size=(n_demand, 2))
    if duplicates:  # pairs of nearby points, same township: most end up with identical coverage sets
        demand_xy[1::2] = demand_xy[0::2] + rng.uniform(-0.05, 0.05, size=demand_xy[1::2].shape)
    site_xy = rng.uniform(0, 40, size=(n_sites, 2))
    minutes = 2.0 + 1.5 * np.linalg.norm(demand_xy[:, None, :] - site_xy[None, :, :], axis=2)
    minutes[minutes > 70] = INF
    n_candidates = n_sites // 6
    levels = rng.choice(LEVELS, size=n_sites, p=[0.45, 0.25, 0.1, 0.15, 0.05])
    kinds = np.array(["existing"] * (n_sites - n_candidates) + ["candidate"] * n_candidates)
    levels[kinds == "candidate"] = rng.choice(["village_clinic", "township_hc"], size=n_candidates)
    existing = kinds == "existing"
    hospital = np.isin(levels, ["county_hospital", "tertiary_hospital"])
    town_of = lambda xy: [f"t{int(x // 20)}{int(y // 20)}" for x, y in xy]  # noqa: E731
    demand_town = town_of(demand_xy)
    if duplicates:
        demand_town[1::2] = demand_town[0::2]
    return Problem.from_arrays(
        scenario=scenario_from_dict({"budget": {"total_yuan": budget}}),
        demand_ids=[f"d{i}" for i in range(n_demand)], demand_population=rng.integers(200, 3000, n_demand),
        demand_township=demand_town, township_ids=["t00", "t01", "t10", "t11"],
        site_ids=[f"s{j}" for j in range(n_sites)], site_kind=kinds, site_level=levels, minutes=minutes,
        site_township=town_of(site_xy),
        existing_gps=np.where(existing & ~hospital, rng.integers(0, 3, n_sites), 0),
        existing_equipment={"ct": existing & hospital & (rng.random(n_sites) < 0.5),
                            "dr": existing & (rng.random(n_sites) < 0.3)},
        existing_centers={"stroke": existing & hospital & (rng.random(n_sites) < 0.3)},
        open_cost_yuan=np.where(existing, 0.0, rng.uniform(5e5, 2e6, n_sites)),
        merge_demand=merge_demand,
    )


@pytest.fixture(scope="module", params=["gap", "equity", "travel"])
def solved(request: pytest.FixtureRequest) -> tuple[Problem, Result]:
    problem = random_problem(seed=11, budget=2.5e7)
    return problem, optimize_problem(problem, objective=request.param, mip_gap=0.0)


def test_plan_respects_budget(solved: tuple[Problem, Result]) -> None:
    problem, result = solved
    assert result.cost_yuan <= problem.scenario.budget.total_yuan + 1e-6
    assert result.cost_yuan == pytest.approx(result.allocations["cost_yuan"].sum())


def test_plan_honours_eligibility_and_prerequisites(solved: tuple[Problem, Result]) -> None:
    problem, result = solved
    scenario = problem.scenario
    rows = result.allocations
    level = dict(zip(problem.site_ids, problem.site_level, strict=True))
    candidates = {s for s, k in zip(problem.site_ids, problem.site_kind, strict=True) if k == "candidate"}
    opened = set(rows.loc[rows["resource"] == "open_site", "site_id"])
    assert opened <= candidates
    for row in rows.itertuples():
        if row.site_id in candidates:
            assert row.site_id in opened
        if row.resource == "gp":
            rule = scenario.gp_eligibility
        elif row.resource == "village_doctor":
            rule = scenario.village_doctor_eligibility
        elif row.resource in EQUIPMENT:
            rule = scenario.equipment_eligibility[row.resource]
        elif row.resource != "open_site":
            rule = scenario.center_eligibility[row.resource.removesuffix("_center")]
            position = problem.site_ids.index(row.site_id)
            for k in rule.requires:
                placed = ((rows["site_id"] == row.site_id) & (rows["resource"] == k)).any()
                assert problem.existing_equipment[k][position] >= 1 or placed
        else:
            continue
        assert level[row.site_id] in rule.levels
        assert row.quantity <= max(rule.limit(level[row.site_id]), 1)


def test_reported_gaps_equal_recomputed_and_solver_values(solved: tuple[Problem, Result]) -> None:
    problem, result = solved
    # First principles: providers after the plan from the allocation rows, coverage from raw minutes.
    rows = result.allocations
    added = {r: rows.loc[rows["resource"] == r].groupby("site_id")["quantity"].sum().to_dict()
             for r in ("gp", "village_doctor", "open_site", *EQUIPMENT, *(f"{s}_center" for s in CENTERS))}
    for v in SERVICES:
        flags = []
        for j, site in enumerate(problem.site_ids):
            is_open = problem.site_kind[j] == "existing" or added["open_site"].get(site, 0) == 1
            if v == "primary_care":  # a health center, or a clinic with a GP or a village doctor
                staff = (problem.existing_gps[j] + added["gp"].get(site, 0) + problem.existing_village_doctors[j]
                         + added["village_doctor"].get(site, 0))
                has = problem.site_level[j] in GRASSROOTS_LEVELS and (
                    problem.site_level[j] in ("township_hc", "community_hc") or staff >= 1)
            elif v in EQUIPMENT:
                has = problem.existing_equipment[v][j] + added[v].get(site, 0) >= 1
            else:
                has = problem.existing_centers[v][j] or added[f"{v}_center"].get(site, 0) == 1
            flags.append(bool(is_open and has))
        within = (problem.minutes[:, flags] <= problem.scenario.thresholds_minutes[v]).any(axis=1)
        assert result.unserved_after[v] == pytest.approx(problem.demand_population[~within].sum())
        assert result.demand[f"{v}_covered_after"].tolist() == within.tolist()
    if result.objective_name in ("gap", "travel"):
        assert result.objective == pytest.approx(result.stage_objectives[0], rel=1e-7)
    if result.objective_name == "equity":
        assert result.objective == pytest.approx(result.stage_objectives[0], abs=2e-6)
        assert result.weighted_gap_after == pytest.approx(result.stage_objectives[1], rel=1e-7)


def test_travel_objective_reports_unreachable_demand_instead_of_failing() -> None:
    minutes = np.array([[5.0, 30.0], [INF, INF], [12.0, 4.0]])
    problem = Problem.from_arrays(
        scenario=scenario_from_dict({"budget": {"total_yuan": 1e6}}), demand_ids=["a", "far", "c"],
        demand_population=[100, 50, 10], demand_township=["t", "t", "t"], township_ids=["t"],
        site_ids=["v1", "v2"], site_kind=["existing", "existing"], site_level=["village_clinic", "village_clinic"],
        minutes=minutes, existing_gps=[1, 0], site_township=["t", "t"])
    result = optimize_problem(problem, objective="travel", travel_cutoff_minutes=20.0, mip_gap=0.0)
    assert result.travel_unreachable == ("far",)
    # A GP at v2 (200,000 yuan) brings c from 12 to 4 minutes; far counts at the 20-minute cutoff.
    assert result.objective == pytest.approx(100 * 5 + 50 * 20 + 10 * 4)


def test_variables_are_keyed_by_ids_even_when_names_collide() -> None:
    ids = ["卫生院-1", "卫生院 1", "卫生院_1"]
    problem = Problem.from_arrays(
        scenario=scenario_from_dict({"budget": {"total_yuan": 5e5}}), demand_ids=["村/1", "村+1"],
        demand_population=[500, 700], demand_township=["t", "t"], township_ids=["t"], site_ids=ids,
        site_kind=["existing"] * 3, site_level=["village_clinic"] * 3,
        minutes=np.array([[3.0, 40.0, 40.0], [40.0, 3.0, 40.0]]), site_township=["t"] * 3)
    result = optimize_problem(problem, mip_gap=0.0)
    doctors = result.allocations.loc[result.allocations["resource"] == "village_doctor", "site_id"]
    assert set(doctors) >= {ids[0], ids[1]}
    names = [v.name for v in build_model(problem).lp.variables()]
    assert len(names) == len(set(names))


def test_every_objective_builds_and_unknown_ones_are_refused() -> None:
    problem = tiny_problem(tiny_scenario({"total_yuan": 1e6}))
    for objective in OBJECTIVES:
        assert build_model(problem, objective=objective).stages
    with pytest.raises(ScenarioError, match="unknown objective 'fairness'"):
        build_model(problem, objective="fairness")


def test_eligibility_limits_where_variables_exist() -> None:
    model = build_model(tiny_problem(tiny_scenario({"total_yuan": 1e6})))
    assert set(model.gp) == {"A", "B", "X", "Y"}
    assert set(model.eq) == {("B", "ct"), ("C", "ct"), ("X", "ct"), ("Y", "ct")}  # D has a CT already
    assert set(model.ctr) == {("C", "stroke"), ("D", "stroke")}
    assert set(model.open) == {"X", "Y"}


def test_from_arrays_rejects_inconsistent_input() -> None:
    kwargs: dict[str, Any] = {
        "scenario": scenario_from_dict({}), "demand_ids": ["a"], "demand_population": [1.0],
        "demand_township": ["t"], "township_ids": ["t"], "site_ids": ["s"], "site_kind": ["existing"],
        "site_level": ["village_clinic"], "minutes": np.array([[1.0]]),
    }
    with pytest.raises(DataError, match="demand_township: township code"):
        Problem.from_arrays(**(kwargs | {"demand_township": ["nowhere"]}))
    with pytest.raises(DataError, match="minutes: shape"):
        Problem.from_arrays(**(kwargs | {"minutes": np.ones((2, 1))}))
    with pytest.raises(DataError, match="candidate sites hold nothing"):
        Problem.from_arrays(**(kwargs | {"site_kind": ["candidate"], "existing_gps": [2]}))
    with pytest.raises(DataError, match="site_ids: duplicate"):
        Problem.from_arrays(**(kwargs | {"site_ids": ["s", "s"]}))


@dataclass(frozen=True)
class _Region:
    demand: pd.DataFrame
    townships: pd.DataFrame
    sites: pd.DataFrame


@dataclass(frozen=True)
class _Matrix:
    origin_ids: tuple[str, ...]
    destination_ids: tuple[str, ...]
    minutes: np.ndarray


def test_build_problem_aligns_the_matrix_by_id() -> None:
    sites = pd.DataFrame({
        "id": ["s1", "s2"], "name": ["一", "二"], "kind": ["existing", "candidate"],
        "level": ["village_clinic", "township_hc"], "gps": [1, 0], "open_cost_yuan": [0.0, 5e5],
        "township_code": ["t", None], **{k: [0, 0] for k in EQUIPMENT},
        **{f"{s}_center": [False, False] for s in CENTERS},
    })
    region = _Region(pd.DataFrame({"id": ["a", "b"], "township_code": ["t", "t"], "population": [10.0, 20.0]}),
                     pd.DataFrame({"code": ["t"], "name": ["镇"]}), sites)
    matrix = _Matrix(("b", "a"), ("s2", "s1"), np.array([[1.0, 2.0], [3.0, 4.0]]))
    problem = build_problem(region, matrix, scenario_from_dict({}))
    assert problem.minutes.tolist() == [[4.0, 3.0], [2.0, 1.0]]
    assert problem.site_township.tolist() == [0, -1]
    assert problem.township_names == ("镇",)
    with pytest.raises(DataError, match=r"origin ids do not match the demand ids \(missing a\)"):
        build_problem(region, _Matrix(("b",), ("s2", "s1"), np.ones((1, 2))), scenario_from_dict({}))
