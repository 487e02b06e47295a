"""Multi-year plans: one year equals optimize, brute force over three years, invariants recomputed from the schedule,
the value of carry-over, and bad input refused with one message and nothing written."""

from __future__ import annotations

import dataclasses
import itertools
import json
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from allocopt import workflow
from allocopt.cli import main
from allocopt.demand_years import BaseDemand, yearly_demand
from allocopt.errors import DataError, InfeasibleError, ScenarioError
from allocopt.model import Problem
from allocopt.optimize import optimize_problem
from allocopt.plan_years import SCHEDULE_COLUMNS, optimize_years, plan_years
from allocopt.scenario import Scenario, scenario_from_dict
from allocopt.services import SERVICES
from allocopt.timeline import timeline_chart
from allocopt.years_settings import DemandChange, parse_year_range

# ---------------------------------------------------------------- a tiny region: one township, three sites
# A township HC with no GP, C county hospital without CT (CT and stroke may go there), X candidate township HC.
SITES = ("A", "C", "X")
MINUTES = np.array([[5.0, 40.0, 30.0],
                    [20.0, 10.0, 25.0],
                    [50.0, 70.0, 8.0]])
POPULATION = np.array([1200.0, 900.0, 700.0])
COST = {"gp": (50_000.0, 100_000.0), "ct": (1_000_000.0, 100_000.0), "stroke": (500_000.0, 200_000.0),
        "open": (300_000.0, 100_000.0)}
GP_WEIGHT, STROKE_WEIGHT, GP_TARGET = 0.5, 1.0, 10.0
YEARS = (2026, 2027, 2028)


def tiny_scenario(budget: dict[str, Any], years: dict[str, Any] | None = None) -> Scenario:
    weights = {v: 0.0 for v in SERVICES} | {"primary_care": 1.0, "stroke": STROKE_WEIGHT, "gp_shortage": GP_WEIGHT}
    none = {"levels": []}
    data: dict[str, Any] = {
        "budget": budget, "primary_care": {"provider": "gp"}, "cases": {"weighting": False},
        "costs": {"gp": {"capital_yuan": COST["gp"][0], "annual_yuan": COST["gp"][1]},
                  "open_site": {"annual_yuan": COST["open"][1]},
                  "equipment": {"ct": {"capital_yuan": COST["ct"][0], "annual_yuan": COST["ct"][1]}},
                  "center": {"stroke": {"capital_yuan": COST["stroke"][0], "annual_yuan": COST["stroke"][1]}}},
        "targets": {"gp_per_10k": GP_TARGET},
        "thresholds_minutes": {"primary_care": 15.0, "stroke": 60.0, "ct": 60.0},
        "weights": weights,
        "eligibility": {"gp": {"levels": ["township_hc"], "max_per_site": 2, "max_per_level": {}},
                        "village_doctor": none,
                        "equipment": {"ct": {"levels": ["county_hospital"]}, "dr": none, "ultrasound": none,
                                      "cath_lab": none, "ecg": none},
                        "center": {"stroke": {"levels": ["county_hospital"], "requires": ["ct"]},
                                   "chest_pain": none, "trauma": none}},
    }
    if years is not None:
        data["years"] = years
    return scenario_from_dict(data)


def tiny_problem(scenario: Scenario) -> Problem:
    return Problem.from_arrays(
        scenario=scenario, demand_ids=("d1", "d2", "d3"), demand_population=POPULATION,
        demand_township=("t1",) * 3, township_ids=("t1",), site_ids=SITES,
        site_kind=("existing", "existing", "candidate"), site_level=("township_hc", "county_hospital", "township_hc"),
        minutes=MINUTES, site_township=("t1",) * 3, open_cost_yuan=(0.0, 0.0, COST["open"][0]))


def solve_years(budget: dict[str, Any], years: dict[str, Any]) -> Any:
    scenario = tiny_scenario(budget, {"first": YEARS[0], "last": YEARS[-1], **years})
    chosen, horizon = plan_years(scenario, None)
    return optimize_years(tiny_problem(scenario), chosen, horizon, mip_gap=0.0)


# ---------------------------------------------------------------- brute force from first principles
States = list[tuple[int, int, int, int, int]]  # gp_A, ct_C, stroke_C, open_X, gp_X


def _states() -> States:
    return [(ga, ct, sc, ox, gx) for ga, ct, sc, ox, gx in itertools.product(range(3), (0, 1), (0, 1), (0, 1), range(3))
            if (ct or not sc) and (ox or not gx)]


def _gap(state: tuple[int, ...], people: np.ndarray) -> float:
    ga, _, sc, ox, gx = state
    primary = [ga >= 1, False, ox == 1 and gx >= 1]
    stroke = [False, sc == 1, False]
    unserved_primary = sum(people[i] for i in range(3) if not any(primary[j] and MINUTES[i, j] <= 15 for j in range(3)))
    unserved_stroke = sum(people[i] for i in range(3) if not any(stroke[j] and MINUTES[i, j] <= 60 for j in range(3)))
    shortage = max(0.0, people.sum() - (ga + gx) * 10_000 / GP_TARGET)
    return unserved_primary + STROKE_WEIGHT * unserved_stroke + GP_WEIGHT * shortage


def _capital(state: tuple[int, ...]) -> float:
    ga, ct, sc, ox, gx = state
    return (ga + gx) * COST["gp"][0] + ct * COST["ct"][0] + sc * COST["stroke"][0] + ox * COST["open"][0]


def _annual(state: tuple[int, ...]) -> float:
    ga, ct, sc, ox, gx = state
    return (ga + gx) * COST["gp"][1] + ct * COST["ct"][1] + sc * COST["stroke"][1] + ox * COST["open"][1]


def brute_force(total_per_year: float, *, carry_over: bool, growth: float, gps_per_year: int) -> tuple[float, float]:
    """Least sum of yearly gaps, then least sum of yearly spending, over every monotone three-year schedule."""
    states = _states()
    best = (np.inf, np.inf)
    people = [POPULATION * (1 + growth) ** i for i in range(len(YEARS))]
    for schedule in itertools.product(states, repeat=len(YEARS)):
        if any(any(b < a for a, b in zip(before, after, strict=True))
               for before, after in itertools.pairwise(schedule)):
            continue
        if schedule[0][3] or schedule[0][2]:
            continue  # a site takes a year to build; no stroke center before its new CT has run a year
        if any(after[2] and not before[1] for before, after in itertools.pairwise(schedule)):
            continue
        previous: tuple[int, ...] = (0, 0, 0, 0, 0)
        spent, allowed, ok, cost = 0.0, 0.0, True, 0.0
        for state in schedule:
            added_gps = state[0] + state[4] - previous[0] - previous[4]
            year_spend = _capital(state) - _capital(previous) + _annual(state)
            spent, allowed = (spent + year_spend, allowed + total_per_year) if carry_over else (
                year_spend, total_per_year)
            ok = ok and added_gps <= gps_per_year and spent <= allowed + 1e-6
            cost += year_spend
            previous = state
        if ok:
            gap = sum(_gap(state, people[i]) for i, state in enumerate(schedule))
            if gap < best[0] - 1e-6 or (abs(gap - best[0]) <= 1e-6 and cost < best[1]):
                best = (gap, cost)
    return best


@pytest.mark.parametrize(("budget", "carry_over", "growth"), [
    (400_000.0, False, 0.0), (1_300_000.0, False, 0.1), (1_300_000.0, True, 0.1), (2_500_000.0, True, -0.05)])
def test_three_years_equal_brute_force(budget: float, carry_over: bool, growth: float) -> None:
    plan = solve_years({"total_yuan": budget}, {
        "carry_over": carry_over, "demand": {"growth": growth},
        "pipeline": {"local": {"yearly_quota": 1, "lead_time_years": 0}}})
    gap, cost = brute_force(budget, carry_over=carry_over, growth=growth, gps_per_year=1)
    assert plan.final.status == "optimal"
    assert plan.objective == pytest.approx(gap, rel=1e-6)
    spent = plan.table["capital_yuan"].sum() + plan.table["annual_yuan"].sum()
    assert spent == pytest.approx(cost, rel=1e-6)


# ---------------------------------------------------------------- one year is today's optimize


NO_LEAD_TIMES = {"pipeline": False, "center_lag_years": 0, "open_build_years": 0}


@pytest.mark.parametrize("objective", ["gap", "equity", "travel"])
@pytest.mark.parametrize("budget", [0.0, 700_000.0, 1_600_000.0, 5_000_000.0])
def test_one_year_equals_optimize_on_the_tiny_region(budget: float, objective: str) -> None:
    scenario = tiny_scenario({"total_yuan": budget}, {"first": 2026, "last": 2026, **NO_LEAD_TIMES})
    chosen, horizon = plan_years(scenario, None)
    plan = optimize_years(tiny_problem(scenario), chosen, horizon, objective=objective)
    today = optimize_problem(tiny_problem(scenario), objective=objective)
    pd.testing.assert_frame_equal(plan.final.allocations, today.allocations)
    assert plan.final.objective == today.objective
    assert plan.final.stage_objectives == today.stage_objectives


def test_one_year_equals_optimize_on_valley_county() -> None:
    prepared = workflow.prepare("valley-county", cache_dir=workflow.default_cache_dir())
    today = workflow.optimize(prepared)
    scenario = scenario_from_dict({"budget": {"total_yuan": 30_000_000.0}, "years": NO_LEAD_TIMES},
                                  source=prepared.scenario.source)
    assert scenario.budget == prepared.scenario.budget
    plan = workflow.optimize_years(dataclasses.replace(prepared, scenario=dataclasses.replace(
        prepared.scenario, years=scenario.years)), years=(2026, 2026))
    pd.testing.assert_frame_equal(plan.final.allocations, today.allocations)
    pd.testing.assert_frame_equal(plan.final.townships, today.townships)
    figures, expected = plan.final.to_summary(), today.to_summary() | {"budget_yuan": None, "budget": {}}
    for summary in (figures, expected):
        summary["solver"].pop("seconds")
    assert figures == expected


# ---------------------------------------------------------------- invariants recomputed from the schedule


def _unit_costs(resource: str) -> tuple[float, float]:
    return {"gp": COST["gp"], "ct": COST["ct"], "stroke_center": COST["stroke"], "open_site": COST["open"]}[resource]


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(capital=st.lists(st.integers(0, 15), min_size=3, max_size=3),
       annual=st.integers(0, 20), quota=st.integers(0, 3), lead=st.integers(0, 3), carry_over=st.booleans(),
       enrolled=st.integers(0, 2))
def test_schedule_respects_stock_budgets_pipeline_and_lead_times(capital: list[int], annual: int, quota: int,
                                                                  lead: int, carry_over: bool,
                                                                  enrolled: int) -> None:
    capital_yuan = [c * 100_000.0 for c in capital]
    annual_yuan = annual * 50_000.0
    plan = solve_years({"capital_yuan": 1.0, "annual_yuan": 1.0}, {
        "carry_over": carry_over,
        "budget": {"capital_yuan": capital_yuan, "annual_yuan": annual_yuan},
        "pipeline": {"local": {"yearly_quota": quota, "lead_time_years": lead, "enrolled_yearly": enrolled}}})
    schedule = plan.schedule
    assert (schedule["quantity"] > 0).all(), "without retiring, stock never decreases"
    stock: dict[tuple[str, str], int] = {}
    spent_capital = 0.0
    for index, year in enumerate(YEARS):
        rows = schedule[schedule["year"] == year]
        capital_spent = sum(_unit_costs(r)[0] * q for r, q in zip(rows["resource"], rows["quantity"], strict=True))
        for key, q in zip(zip(rows["site_id"], rows["resource"], strict=True), rows["quantity"], strict=True):
            stock[key] = stock.get(key, 0) + int(q)
        running = sum(_unit_costs(resource)[1] * q for (_, resource), q in stock.items())
        spent_capital = spent_capital + capital_spent if carry_over else capital_spent
        allowed = sum(capital_yuan[:index + 1]) if carry_over else capital_yuan[index]
        assert spent_capital <= allowed + 1e-6
        assert running <= annual_yuan + 1e-6
        gps = int(rows.loc[rows["resource"] == "gp", "quantity"].sum())
        assert gps <= (quota if index >= lead else enrolled)
        assert "open_site" not in set(rows["resource"]) or index >= 1
        if "stroke_center" in set(rows["resource"]):
            earlier = schedule[(schedule["year"] < year) & (schedule["resource"] == "ct")]
            assert len(earlier), "a stroke center comes a year after its CT at the earliest"


# ---------------------------------------------------------------- waiting pays: carry-over


def test_waiting_a_year_is_optimal_with_carry_over() -> None:
    """700,000 yuan of capital a year never buys the 1,000,000 yuan CT without carry-over; with it, the county
    saves in 2026 and buys the CT in 2027 (and the stroke center, whose CT has then run a year, in 2028)."""
    years = {"budget": {"capital_yuan": 700_000.0, "annual_yuan": 10_000_000.0}, "pipeline": False}
    without = solve_years({"total_yuan": 1.0}, {**years, "carry_over": False})
    with_carry = solve_years({"total_yuan": 1.0}, {**years, "carry_over": True})
    assert "ct" not in set(without.schedule["resource"])
    rows = with_carry.schedule.set_index("resource")
    assert rows.loc["ct", "year"] == 2027
    assert rows.loc["stroke_center", "year"] == 2028
    assert with_carry.table.loc[0, "capital_yuan"] < 700_000.0, "2026 leaves capital unspent to carry it over"
    assert with_carry.objective < without.objective


# ---------------------------------------------------------------- bad input: one message, nothing written


@pytest.fixture
def bundle(tmp_path: Path, tiny_region_path: Path) -> Path:
    target = tmp_path / "tiny"
    shutil.copytree(tiny_region_path, target)
    return target


def _run(args: list[str]) -> Any:
    return CliRunner().invoke(main, ["optimize", *args])


@pytest.mark.parametrize(("years", "words"), [("2030:2026", "reversed"), ("", "START:END"), ("20x6:2030", "START")])
def test_bad_year_range_is_refused(tmp_path: Path, years: str, words: str) -> None:
    result = _run(["--years", years, "--out", str(tmp_path / "out")])
    assert result.exit_code == 1
    assert words in result.output and "--years" in result.output
    assert not (tmp_path / "out").exists()


def _projection(bundle: Path, *, drop: tuple[str, int] | None = None) -> None:
    rows = [(code, year, band, total * share)
            for code, total in (("530101", 12000), ("530102", 8000), ("530103", 20000))
            for year in (2026, 2027) for band, share in (("under_65", 0.8), ("65_plus", 0.2))
            if (code, year) != drop]
    pd.DataFrame(rows, columns=["township_code", "year", "age_band", "population"]).to_csv(
        bundle / "projection.csv", index=False)


def test_projection_missing_a_township_year_is_refused(bundle: Path, tmp_path: Path) -> None:
    _projection(bundle, drop=("530102", 2027))
    result = _run([str(bundle), "--years", "2026:2027", "--out", str(tmp_path / "out")])
    assert result.exit_code == 1, result.output
    assert "projection.csv" in result.output and "530102" in result.output and "2027" in result.output
    assert not (tmp_path / "out").exists()


def test_projection_drives_the_yearly_residents(bundle: Path, tmp_path: Path) -> None:
    _projection(bundle)
    result = _run([str(bundle), "--years", "2026:2027", "--out", str(tmp_path / "out"), "--format", "json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output)
    assert summary["years"]["demand_source"] == "projection projection.csv"
    assert [row["population"] for row in summary["years"]["per_year"]] == pytest.approx([40000.0, 40000.0])
    schedule = pd.read_csv(tmp_path / "out" / "schedule.csv")
    assert list(schedule.columns[:2]) == ["year", "site_id"]


@pytest.mark.parametrize(("table", "key"), [
    ("[years.demand]\ngrowth = -1.0\n", "years.demand.growth"),
    ("[years.demand.growth_by_township]\n530102 = -1.0\n", "years.demand.growth_by_township.530102"),
    ("[years.pipeline.conversion]\nyearly_quota = -2\n", "years.pipeline.conversion.yearly_quota"),
    ("[years.budget]\ncapital_yuan = [1e6, 2e6]\n", "years.budget.capital_yuan"),
    ("[years.milestones.2035]\ngp_per_10k = 4\n", "years.milestones.2035"),
])
def test_bad_years_settings_name_the_key(bundle: Path, tmp_path: Path, table: str, key: str) -> None:
    scenario = tmp_path / "scenario.toml"
    scenario.write_text(table, encoding="utf-8")
    result = _run([str(bundle), "--scenario", str(scenario), "--years", "2026:2028", "--out", str(tmp_path / "out")])
    assert result.exit_code == 1, result.output
    assert key in result.output
    assert "Traceback" not in result.output
    assert not (tmp_path / "out").exists()


def test_parse_year_range() -> None:
    assert parse_year_range("2026:2030") == (2026, 2030)
    assert parse_year_range("2026") == (2026, 2026)
    with pytest.raises(ScenarioError, match="reversed"):
        parse_year_range("2030:2026")
    with pytest.raises((ScenarioError, DataError)):
        parse_year_range("2026:2027:2028")


# ---------------------------------------------------------------- milestones: met, or explained


def test_hard_milestone_beyond_the_pipeline_is_explained() -> None:
    with pytest.raises(InfeasibleError, match=r"year 2027: 10 GPs per 10,000 .* needs 3 more GPs.*pipeline supplies "
                                              r"at most 2 by then.*years.milestones.2027"):
        solve_years({"total_yuan": 5e6}, {"pipeline": {"local": {"yearly_quota": 1, "lead_time_years": 0}},
                                          "milestones": {"2027": {"gp_per_10k": 10.0, "hard": True}}})


def test_hard_milestone_before_its_lead_time_is_explained() -> None:
    """A stroke center needs a new CT that has run a year, so 2026 cannot cover anyone for stroke whatever the
    budget."""
    with pytest.raises(InfeasibleError, match="lead times"):
        solve_years({"total_yuan": 5e6}, {"pipeline": False,
                                          "milestones": {"2026": {"min_covered_share": {"stroke": 0.5}}}})


def test_hard_milestone_over_budget_says_what_it_costs() -> None:
    with pytest.raises(InfeasibleError, match=r"costs at least 1,500,000 yuan of capital spending over 2026-2028; "
                                              r"the yearly budget lines allow 1,200,000"):
        solve_years({"total_yuan": 1.0}, {
            "pipeline": False, "budget": {"capital_yuan": 400_000.0, "annual_yuan": 5e6},
            "milestones": {"2028": {"min_covered_share": {"stroke": 0.5}}}})


def test_hard_milestone_is_met_in_its_year() -> None:
    plan = solve_years({"total_yuan": 3e6}, {"pipeline": False, "milestones": {
        "2027": {"min_covered_share": {"primary_care": 0.65}}}})
    shares = plan.table.set_index("year")["covered_share_primary_care"]
    assert shares[2027] >= 0.65 - 1e-9


def test_unreachable_milestone_names_its_key() -> None:
    with pytest.raises(InfeasibleError, match=r"year 2027: years.milestones.2027.min_covered_share.primary_care = "
                                              r"0.9: at most 1,900 of 2,800 people"):
        solve_years({"total_yuan": 3e6}, {"pipeline": False, "milestones": {
            "2027": {"min_covered_share": {"primary_care": 0.9}}}})


def test_soft_milestone_counts_the_people_short() -> None:
    """Soft: the budget of 2026 cannot reach 90% primary care (the candidate X opens in 2027), the plan stands
    and the shortfall is counted in the objective."""
    plan = solve_years({"total_yuan": 3e6}, {"pipeline": False, "milestones": {
        "2026": {"min_covered_share": {"primary_care": 0.65}, "hard": False}}})
    covered = plan.table.set_index("year")["covered_share_primary_care"]
    assert covered[2026] < 0.65
    assert plan.final.status == "optimal"
    first = plan.results[2026]
    short = 0.65 * first.population - (first.population - first.unserved_after["primary_care"])
    assert plan.final.stage_objectives[0] == pytest.approx(plan.objective + short, rel=1e-6)


# ---------------------------------------------------------------- retiring and discounting


def test_retiring_refunds_nothing_and_is_recorded() -> None:
    """With retiring allowed and a running-cost line that falls, the plan must give up stock in the last year:
    the schedule shows a negative quantity with no capital, and the running cost falls with it."""
    plan = solve_years({"total_yuan": 1.0}, {
        "retire": True, "pipeline": False,
        "budget": {"capital_yuan": 2e6, "annual_yuan": [400_000.0, 400_000.0, 100_000.0]}})
    retired = plan.schedule[plan.schedule["quantity"] < 0]
    assert len(retired)
    assert (retired["capital_yuan"] == 0).all()
    assert (retired["annual_yuan"] < 0).all()
    assert plan.table["annual_yuan"].iloc[-1] <= 100_000.0 + 1e-6


def test_discounting_weighs_later_years_less() -> None:
    plain = solve_years({"total_yuan": 1e6}, {"pipeline": False})
    discounted = solve_years({"total_yuan": 1e6}, {"pipeline": False, "discount_rate": 0.5})
    gaps = plain.table["weighted_gap"].to_numpy()
    assert plain.objective == pytest.approx(gaps.sum())
    weights = 1.5 ** -np.arange(3)
    assert discounted.objective == pytest.approx(float((discounted.table["weighted_gap"].to_numpy() * weights).sum()))


# ---------------------------------------------------------------- sweep and compare on multi-year plans


def test_sweep_phases_each_budget(bundle: Path, tmp_path: Path) -> None:
    scenario = tmp_path / "years.toml"
    scenario.write_text("[years]\nfirst = 2026\nlast = 2027\n", encoding="utf-8")
    out = tmp_path / "sweep"
    result = CliRunner().invoke(main, ["sweep", str(bundle), "--scenario", str(scenario), "--budgets",
                                       "0:4000000:3", "--out", str(out)])
    assert result.exit_code == 0, result.output
    frontier = pd.read_csv(out / "frontier.csv")
    assert list(frontier["status"]) == ["optimal"] * 3
    gaps = frontier["weighted_gap"].to_numpy()
    assert (np.diff(gaps) <= 1e-6).all(), "a larger yearly budget never leaves a larger gap over the plan"
    summaries = sorted((out / "summaries").glob("*.json"))
    assert all(json.loads(path.read_text(encoding="utf-8"))["years"]["first"] == 2026 for path in summaries)


def test_sweep_refuses_fixed_yearly_budgets(bundle: Path, tmp_path: Path) -> None:
    scenario = tmp_path / "years.toml"
    scenario.write_text("[years]\nfirst = 2026\nlast = 2027\n[years.budget]\ntotal_yuan = 1e6\n", encoding="utf-8")
    result = CliRunner().invoke(main, ["sweep", str(bundle), "--scenario", str(scenario), "--budgets",
                                       "0:4000000:3", "--out", str(tmp_path / "sweep")])
    assert result.exit_code == 1
    assert "[years.budget]" in result.output
    assert not (tmp_path / "sweep").exists()


def test_compare_reads_a_multi_year_plan_as_its_last_year(bundle: Path, tmp_path: Path) -> None:
    for name, years in (("one", "2026:2026"), ("three", "2026:2028")):
        result = _run([str(bundle), "--years", years, "--out", str(tmp_path / name)])
        assert result.exit_code == 0, result.output
    result = CliRunner().invoke(main, ["compare", str(tmp_path / "one"), str(tmp_path / "three"), "--format", "json"])
    assert result.exit_code == 0, result.output
    rows = json.loads(result.output)
    assert rows[1]["gps_added"] >= rows[0]["gps_added"]


def test_outputs_of_a_multi_year_plan(bundle: Path, tmp_path: Path) -> None:
    out = tmp_path / "plan"
    result = _run([str(bundle), "--years", "2026:2028", "--out", str(out), "--report"])
    assert result.exit_code == 0, result.output
    schedule = pd.read_csv(out / "schedule.csv")
    assert list(schedule.columns) == list(SCHEDULE_COLUMNS)
    years = pd.read_csv(out / "years.csv")
    assert list(years["year"]) == [2026, 2027, 2028]
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert [row["year"] for row in summary["years"]["per_year"]] == [2026, 2027, 2028]
    allocations = pd.read_csv(out / "allocations.csv")
    totals = schedule.groupby(["site_id", "resource"])["quantity"].sum()
    assert totals.to_dict() == allocations.groupby(["site_id", "resource"])["quantity"].sum().to_dict(), \
        "the schedule adds up to the last year's allocations"
    assert years["capital_yuan"].sum() == pytest.approx(allocations["capital_yuan"].sum())
    assert (out / "timeline.png").stat().st_size > 0
    assert "years-table" in (out / "report.html").read_text(encoding="utf-8"), "the report shows the year-by-year plan"


def test_timeline_chart_has_spending_and_indicators() -> None:
    plan = solve_years({"total_yuan": 2e6}, {"pipeline": False})
    figure = timeline_chart(plan.schedule, plan.table, title="tiny")
    titles = [ax.get_title() for ax in figure.axes]
    assert "Spending per year" in titles and "Indicators after each year" in titles


# ---------------------------------------------------------------- residents year by year


def _base() -> BaseDemand:
    return BaseDemand(township_ids=("t1", "t2"), demand_township=np.array([0, 0, 1]),
                      population=np.array([600.0, 400.0, 2000.0]), population_65plus=np.array([120.0, 80.0, 100.0]))


def test_cohort_shift_by_hand() -> None:
    """t1: 1,000 residents, 20% aged 65+; growth -10% a year and the 65+ share up 5 points a year: in the second
    year 900 residents, 25% of them 65+ (225), spread 60:40 over its points as today."""
    change = DemandChange(growth=-0.1, ageing=0.05, growth_by_township={"t2": 0.0})
    demand, source = yearly_demand(_base(), (2026, 2027), change, bundle=None)
    assert source == "cohort shift"
    np.testing.assert_allclose(demand[2026].population, [600.0, 400.0, 2000.0])
    np.testing.assert_allclose(demand[2027].population, [540.0, 360.0, 2000.0])
    np.testing.assert_allclose(demand[2027].population_65plus, [135.0, 90.0, 200.0])


def test_default_ageing_raises_expected_strokes() -> None:
    scenario = tiny_scenario({"total_yuan": 0.0}, {"first": 2026, "last": 2030, "pipeline": False})
    plan = solve_years_scenario(scenario)
    cases = plan.table["expected_cases_stroke"].to_numpy()
    assert (np.diff(cases) > 0).all()
    assert plan.table["population"].nunique() == 1


def solve_years_scenario(scenario: Scenario) -> Any:
    chosen, horizon = plan_years(scenario, None)
    return optimize_years(tiny_problem(scenario), chosen, horizon)


def test_projection_rows_are_checked(tmp_path: Path) -> None:
    good = "township_code,year,age_band,population\n" + "".join(
        f"{t},{y},{b},100\n" for t in ("t1", "t2") for y in (2026, 2027) for b in ("under_65", "65_plus"))
    for bad, words in ((good + "t9,2026,under_65,5\n", "row 10: township_code 't9'"),
                       (good.replace("t2,2027,65_plus,100", "t2,2027,65_plus,-3"), "row 9: population '-3'"),
                       (good.replace("t1,2026,65_plus", "t1,2026,old"), "row 3: age_band 'old'"),
                       (good + "t1,2026,under_65,7\n", "row 10: a second row")):
        (tmp_path / "projection.csv").write_text(bad, encoding="utf-8")
        with pytest.raises(DataError, match=words):
            yearly_demand(_base(), (2026, 2027), DemandChange(), bundle=tmp_path)
    (tmp_path / "projection.csv").write_text(good, encoding="utf-8")
    demand, _ = yearly_demand(_base(), (2026, 2027), DemandChange(), bundle=tmp_path)
    np.testing.assert_allclose(demand[2027].population, [120.0, 80.0, 200.0])
    np.testing.assert_allclose(demand[2027].population_65plus, [60.0, 40.0, 100.0])


def test_ageing_out_of_range_names_the_key() -> None:
    with pytest.raises(ScenarioError, match=r"years\.demand\.ageing_by_township\.t2"):
        yearly_demand(_base(), (2026, 2030), DemandChange(ageing_by_township={"t2": -0.02}), bundle=None)


def test_a_family_added_later_is_phased_without_years_code(tmp_path: Path) -> None:
    """The ambulance family ([ems]) knows nothing of years: its integer decisions are stocks, its costs count in
    the yearly budgets, and each year's ambulance groups follow that year's residents."""
    scenario = tmp_path / "ems.toml"
    scenario.write_text("[ems]\n[years]\nfirst = 2026\nlast = 2027\n[years.demand]\ngrowth = 0.05\n",
                        encoding="utf-8")
    out = tmp_path / "plan"
    result = _run(["--scenario", str(scenario), "--out", str(out)])
    assert result.exit_code == 0, result.output
    schedule = pd.read_csv(out / "schedule.csv")
    assert (schedule["quantity"] > 0).all()
    assert {"ambulance", "ems_station"} & set(schedule["resource"])
    years = pd.read_csv(out / "years.csv")
    spent = years["capital_yuan"] + years["annual_yuan"]
    assert (spent <= 30_000_000.0 * (1 + 1e-9)).all()
    assert years["population"].iloc[1] == pytest.approx(years["population"].iloc[0] * 1.05)
