"""Results: allocation rows and costs, recomputed before/after figures, the model cross-check, the summary."""

from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pytest

from allocopt.access import compute_access
from allocopt.errors import SolverError
from allocopt.model import Problem, build_model, solve_model
from allocopt.optimize import optimize, optimize_problem
from allocopt.results import ALLOCATION_COLUMNS, Plan, allocation_table, build_result
from allocopt.scenario import scenario_from_dict
from allocopt.services import CENTERS, EQUIPMENT, SERVICES

INF = np.inf


def small_problem(budget: dict[str, float] | None = None, *, merge_demand: bool = True) -> Problem:
    """Two townships, four demand points (a and b alike), a clinic without GPs, a hospital, a candidate."""
    minutes = np.array([
        [10.0, 40.0, 50.0],
        [11.0, 41.0, 52.0],
        [35.0, 20.0, 8.0],
        [INF, 70.0, 12.0],
    ])
    return Problem.from_arrays(
        scenario=scenario_from_dict({"budget": budget or {"total_yuan": 5_000_000.0}}),
        demand_ids=["a", "b", "c", "d"], demand_population=[1000, 500, 2000, 1500],
        demand_township=["north", "north", "south", "south"], township_ids=["north", "south"],
        township_names=["北乡", "南镇"], site_ids=["clinic", "hospital", "new"],
        site_names=["村卫生室", "县医院", "新建点"], site_kind=["existing", "existing", "candidate"],
        site_level=["village_clinic", "county_hospital", "township_hc"], minutes=minutes,
        site_township=["north", "south", "south"], existing_gps=[0, 4, 0],
        existing_equipment={"ct": [0, 1, 0]}, existing_centers={"stroke": [False, True, False]},
        open_cost_yuan=[0.0, 0.0, 1_200_000.0], merge_demand=merge_demand,
    )


def test_allocation_rows_carry_quantities_and_costs() -> None:
    problem = small_problem()
    plan = Plan.empty(problem)
    plan.opened[2] = True
    plan.added_gps[2] = 2
    plan.added_equipment["dr"][2] = 1
    plan.new_centers["trauma"][1] = True
    rows = allocation_table(problem, plan).set_index("resource")
    assert list(allocation_table(problem, plan).columns) == list(ALLOCATION_COLUMNS)
    assert rows.loc["open_site", ["site_id", "quantity", "capital_yuan", "annual_yuan"]].tolist() == [
        "new", 1, 1_200_000.0, 300_000.0]
    assert rows.loc["gp", ["site_name", "township_code", "quantity", "capital_yuan", "annual_yuan"]].tolist() == [
        "新建点", "south", 2, 100_000.0, 300_000.0]
    assert rows.loc["dr", "cost_yuan"] == 850_000.0
    assert rows.loc["trauma_center", ["site_id", "level", "cost_yuan"]].tolist() == [
        "hospital", "county_hospital", 3_500_000.0]  # 2,000,000 capital + 1,500,000 a year (24/7 team)


@pytest.fixture(scope="module")
def result_gap():
    return optimize_problem(small_problem(), mip_gap=0.0)


def test_demand_table_is_per_original_point_after_merging(result_gap) -> None:
    problem = small_problem()
    assert len(problem.unit_ids) == 3  # a and b merged
    demand = result_gap.demand
    assert demand["id"].tolist() == ["a", "b", "c", "d"]
    assert demand["population"].tolist() == [1000, 500, 2000, 1500]
    # Before: the hospital (stroke, CT) is within 60 minutes of a, b, c; d is 70 minutes away.
    assert demand["stroke_covered_before"].tolist() == [True, True, True, False]
    assert demand["stroke_minutes_before"].tolist() == [40.0, 41.0, 20.0, 70.0]
    assert result_gap.unserved_before["stroke"] == 1500
    # Nobody has primary care today (the clinic has no GP, the hospital is not grassroots).
    assert result_gap.unserved_before["primary_care"] == 5000


def test_site_table_adds_up_to_the_allocations(result_gap) -> None:
    sites = result_gap.sites.set_index("id")
    rows = result_gap.allocations
    assert sites.index.tolist() == ["clinic", "hospital", "new"]
    assert sites["cost_yuan"].sum() == pytest.approx(rows["cost_yuan"].sum())
    assert sites["added_gps"].sum() == rows.loc[rows["resource"] == "gp", "quantity"].sum()
    assert bool(sites.loc["new", "opened"]) == ("new" in set(rows.loc[rows["resource"] == "open_site", "site_id"]))
    assert sites.loc["clinic", "opened"] and sites.loc["hospital", "opened"]


def test_gp_figures_per_township(result_gap) -> None:
    towns = result_gap.townships.set_index("code")
    # 3 GPs per 10,000: north (1,500 people, no GP) lacks 1,500; south (3,500, 4 GPs) lacks none.
    assert towns.loc["north", "gp_shortage_people_before"] == 1500
    assert towns.loc["south", "gp_shortage_people_before"] == 0
    assert towns.loc["south", "gp_per_10k_before"] == pytest.approx(4 * 10_000 / 3500)
    assert towns.loc["north", "name"] == "北乡"
    added = result_gap.allocations.loc[result_gap.allocations["resource"] == "gp"]
    north_added = added.loc[added["township_code"] == "north", "quantity"].sum()
    assert towns.loc["north", "gp_after"] == north_added
    assert towns.loc["north", "gp_shortage_people_after"] == max(0.0, 1500 - north_added * 10_000 / 3)


def test_summary_is_json_safe_and_consistent(result_gap) -> None:
    summary = result_gap.to_summary()
    json.dumps(summary, allow_nan=False)
    assert set(summary["services"]) == set(SERVICES)
    for figures in summary["services"].values():
        assert figures["covered_population"] + figures["unserved_after"] == pytest.approx(5000)
        assert figures["unserved_after"] <= figures["unserved_before"]
    assert summary["budget_yuan"] == 5_000_000.0
    assert summary["cost_yuan"] == pytest.approx(result_gap.allocations["cost_yuan"].sum())
    assert summary["cost_yuan"] <= 5_000_000.0
    assert summary["objective"] == pytest.approx(summary["weighted_gap_after"])
    assert summary["status"] == "optimal" and summary["objective_name"] == "gap"
    assert summary["gp"]["added"] == int(result_gap.allocations.query("resource == 'gp'")["quantity"].sum())


def test_uncoverable_population_counts_the_residents_no_site_can_reach(result_gap) -> None:
    services = result_gap.to_summary()["services"]
    # d (1,500 people) is 70 minutes from the hospital, the only site that may hold a stroke center or a cath lab.
    for service in ("stroke", "chest_pain", "cath_lab"):
        assert services[service]["uncoverable_demand_points"] == 1
        assert services[service]["uncoverable_population"] == 1500
        assert services[service]["unserved_after"] >= 1500
    # Every point is within 15 minutes of the clinic (a village doctor) or the candidate (GPs).
    assert services["primary_care"]["uncoverable_population"] == 0


def test_split_budget_summary() -> None:
    result = optimize_problem(small_problem({"capital_yuan": 1_000_000.0, "annual_yuan": 400_000.0}), mip_gap=0.0)
    summary = result.to_summary()
    assert summary["budget_yuan"] is None
    assert summary["budget"] == {"capital_yuan": 1_000_000.0, "annual_yuan": 400_000.0}
    assert result.capital_yuan <= 1_000_000.0 and result.annual_yuan <= 400_000.0


def test_equity_result_reports_the_largest_share_it_minimized() -> None:
    result = optimize_problem(small_problem(), objective="equity", mip_gap=0.0)
    assert result.objective == pytest.approx(result.townships["gap_share_after"].max())
    assert result.objective == pytest.approx(result.stage_objectives[0], abs=2e-6)
    assert result.to_summary()["max_gap_share_after"] == pytest.approx(result.objective)


def test_a_model_that_claims_coverage_the_plan_lacks_is_caught() -> None:
    problem = small_problem({"total_yuan": 0.0})
    model = build_model(problem)
    outcomes = solve_model(model)
    assert build_result(model, outcomes).cost_yuan == 0.0
    for var in model.cover.values():
        var.varValue = 1.0  # nothing was placed, so nobody new is covered
    with pytest.raises(SolverError, match="does not deliver what the model claims"):
        build_result(model, outcomes)


def test_no_plan_is_a_solver_error() -> None:
    model = build_model(small_problem())
    with pytest.raises(SolverError, match="no plan"):
        build_result(model, ())


# ---------------------------------------------------------------- end to end on the tiny region


@dataclass(frozen=True)
class _Matrix:
    origin_ids: tuple[str, ...]
    destination_ids: tuple[str, ...]
    minutes: np.ndarray


def _tiny_matrix(region) -> _Matrix:
    """Straight-line minutes at 30 km/h plus 3, reversed column order (so alignment by ID is exercised)."""
    demand, sites = region.demand, region.sites.iloc[::-1]
    dx = demand.geometry.x.to_numpy()[:, None] - sites.geometry.x.to_numpy()[None, :]
    dy = demand.geometry.y.to_numpy()[:, None] - sites.geometry.y.to_numpy()[None, :]
    minutes = 3.0 + np.hypot(dx, dy) / 1000.0 * 2.0
    return _Matrix(tuple(demand["id"]), tuple(sites["id"]), minutes)


def test_before_figures_match_the_access_report(tiny_region) -> None:
    matrix = _tiny_matrix(tiny_region)
    # The access report counts people; with case weighting off the result's gap shares count people too.
    scenario = scenario_from_dict({"budget": {"total_yuan": 8_000_000.0}, "cases": {"weighting": False}})
    result = optimize(tiny_region, matrix, scenario, mip_gap=0.0)
    report = compute_access(tiny_region, matrix, scenario)
    towns = result.townships.set_index("code")
    expected = report.townships.set_index("code")
    for v in SERVICES:
        assert np.allclose(towns[f"{v}_covered_share_before"], expected[f"covered_share_{v}"])
        pd.testing.assert_series_equal(result.demand[f"{v}_covered_before"],
                                       report.demand[f"covered_{v}"], check_names=False)
    assert np.allclose(towns["gp_shortage_people_before"], expected["gp_shortage_people"])
    assert np.allclose(towns["gap_share_before"], expected["gap_share"])
    assert result.status == "optimal" and result.cost_yuan <= 8_000_000.0
    assert result.weighted_gap_after <= result.weighted_gap_before
    resources = set(result.allocations["resource"])
    assert resources <= {"open_site", "gp", "village_doctor", *EQUIPMENT, *(f"{s}_center" for s in CENTERS)}
