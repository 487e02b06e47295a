"""Exact reductions of the allocation MILP: shared coverage rows and dominated primary-care sites, against brute
force from first principles."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from allocopt.model import Problem, build_model, solve_model
from allocopt.model.allocation import dominated_primary_sites
from allocopt.scenario import scenario_from_dict
from allocopt.services import PRIMARY_CARE, SERVICES

INF = np.inf
# Six village clinics without GPs, 15-minute reach (x marks a village within 15 minutes):
#        v1 v2 v3 | v4 v5 v6 v7      township
#   a    x  x     |                  t1   dominated by b (subset)
#   b    x  x  x  |                  t1
#   c          x  |                  t1   dominated by b (subset)
#   d             | x  x             t2
#   e             | x  x             t2   dominated by d (same set, higher index)
#   f          x  |       x          t2   reaches v3 of t1, but b lies in another township: not dominated
SITES = ("a", "b", "c", "d", "e", "f")
SITE_TOWN = ("t1", "t1", "t1", "t2", "t2", "t2")
VILLAGES = ("v1", "v2", "v3", "v4", "v5", "v6", "v7")
VILLAGE_TOWN = ("t1", "t1", "t1", "t2", "t2", "t2", "t2")
POPULATION = (100.0, 200.0, 400.0, 300.0, 50.0, 250.0, 80.0)
REACH = np.array([
    [1, 1, 0, 0, 0, 0, 0],
    [1, 1, 1, 0, 0, 0, 0],
    [0, 0, 1, 0, 0, 0, 0],
    [0, 0, 0, 1, 1, 0, 0],
    [0, 0, 0, 1, 1, 0, 0],
    [0, 0, 1, 0, 0, 1, 0],
], dtype=bool).T
MINUTES = np.where(REACH, 10.0, 40.0)
GP_MAX = 2
GP_WEIGHT = 0.5
PEOPLE_PER_GP = 500.0  # a target of 20 GPs per 10,000
GP_YUAN = 200_000.0  # capital plus annual


def scenario(budget: float) -> dict:
    weights = {v: 0.0 for v in SERVICES} | {PRIMARY_CARE: 1.0, "gp_shortage": GP_WEIGHT}
    # First contact by GPs alone (provider "gp"), GP_MAX at every clinic and no village doctors: the brute force
    # below places GPs only.
    return {"budget": {"total_yuan": budget}, "weights": weights, "targets": {"gp_per_10k": 20.0},
            "costs": {"gp": {"capital_yuan": 50_000.0, "annual_yuan": 150_000.0}},
            "primary_care": {"provider": "gp"},
            "eligibility": {"gp": {"levels": ["village_clinic"], "max_per_site": GP_MAX, "max_per_level": {}},
                            "village_doctor": {"levels": []}}}


def problem(budget: float) -> Problem:
    return Problem.from_arrays(
        scenario=scenario_from_dict(scenario(budget)), demand_ids=VILLAGES, demand_population=POPULATION,
        demand_township=VILLAGE_TOWN, township_ids=("t1", "t2"), site_ids=SITES, site_kind=["existing"] * 6,
        site_level=["village_clinic"] * 6, minutes=MINUTES, site_township=SITE_TOWN)


def brute_force(budget: float) -> tuple[float, float]:
    """Best weighted gap and best largest township gap share over every GP placement within the budget."""
    population = np.array(POPULATION)
    town = np.array(VILLAGE_TOWN)
    best_gap = best_share = INF
    for gps in itertools.product(range(GP_MAX + 1), repeat=len(SITES)):
        if sum(gps) * GP_YUAN > budget:
            continue
        covered = REACH[:, np.array(gps) > 0].any(axis=1)
        gap_by_town = []
        for t in ("t1", "t2"):
            in_town = town == t
            added = sum(g for g, s in zip(gps, SITE_TOWN, strict=True) if s == t)
            shortage = max(0.0, population[in_town].sum() - PEOPLE_PER_GP * added)
            gap_by_town.append(population[in_town & ~covered].sum() + GP_WEIGHT * shortage)
        best_gap = min(best_gap, sum(gap_by_town))
        share = max(g / (population[town == t].sum() * (1.0 + GP_WEIGHT))
                    for g, t in zip(gap_by_town, ("t1", "t2"), strict=True))
        best_share = min(best_share, share)
    return best_gap, best_share


def test_dominated_sites_are_the_subsets_within_a_township() -> None:
    assert [s for s, d in zip(SITES, dominated_primary_sites(problem(0.0)), strict=True) if d] == ["a", "c", "e"]


@pytest.mark.parametrize("budget", [0.0, 200_000.0, 400_000.0, 600_000.0, 1_000_000.0])
def test_optimum_with_dominated_sites_left_out_equals_brute_force(budget: float) -> None:
    best_gap, best_share = brute_force(budget)
    gap_model = build_model(problem(budget), objective="gap")
    equity_model = build_model(problem(budget), objective="equity")
    # the rows of primary care name no dominated site
    in_rows = {var.name for c in gap_model.lp.constraints() if c.name.startswith("cover") for var in c}
    assert [s for s in SITES if gap_model.has[s, PRIMARY_CARE].name in in_rows] == ["b", "d", "f"]
    assert solve_model(gap_model, mip_gap=0.0)[0].objective == pytest.approx(best_gap)
    assert solve_model(equity_model, mip_gap=0.0)[0].objective == pytest.approx(best_share, abs=1e-6)


def test_units_with_identical_sets_share_one_cover_variable_across_townships() -> None:
    minutes = np.array([[5.0, 50.0], [6.0, 55.0], [5.0, 50.0], [40.0, 5.0]])
    # provider "gp": the health center s1 has no GP, so primary care is still to be provided
    shared = Problem.from_arrays(
        scenario=scenario_from_dict({"primary_care": {"provider": "gp"}}), demand_ids=["a", "b", "c", "d"],
        demand_population=[1, 2, 4, 8],
        demand_township=["t1", "t1", "t2", "t2"], township_ids=["t1", "t2"], site_ids=["s1", "s2"],
        site_kind=["existing", "existing"], site_level=["township_hc", "county_hospital"], minutes=minutes)
    model = build_model(shared, objective="equity")
    # units a (a and b, t1) and c (t2) reach the same sites for every service: one variable, people added up
    assert model.cover["a", PRIMARY_CARE] is model.cover["c", PRIMARY_CARE]
    assert ("d", PRIMARY_CARE) not in model.cover  # no primary-care site within reach
    assert model.unserved[PRIMARY_CARE][model.cover["a", PRIMARY_CARE]] == -7.0
