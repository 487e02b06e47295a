"""Robust optimize under closure scenarios: against brute force on tiny problems, and the command."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from allocopt.cli import main
from allocopt.closure_plan import NORMAL, _plan_of
from allocopt.model import Problem
from allocopt.model.robust import ClosureProblem, add_robust
from allocopt.optimize import optimize_problem
from allocopt.plan import Plan
from allocopt.results import recompute_access, weighted_gap
from allocopt.scenario import scenario_from_dict
from allocopt.services import GP_SHORTAGE, SERVICES

# Only CT coverage counts; the budget buys one CT (3.2 million yuan) at one of three township health centers.
SCENARIO = scenario_from_dict({
    "budget": {"total_yuan": 3_500_000.0},
    "weights": {**{s: 0.0 for s in SERVICES}, GP_SHORTAGE: 0.0, "ct": 1.0},
})
POPULATION = np.array([100.0, 200.0, 300.0, 400.0, 500.0])
SITES = ("A", "B", "C")


def _problem(minutes: np.ndarray) -> Problem:
    return Problem.from_arrays(
        scenario=SCENARIO, demand_ids=[f"d{i}" for i in range(5)], demand_population=POPULATION,
        demand_township=["t"] * 5, township_ids=["t"], site_ids=SITES, site_kind=["existing"] * 3,
        site_level=["township_hc"] * 3, minutes=minutes,
    )


def _case(seed: int) -> tuple[Problem, list[ClosureProblem]]:
    """Random minutes in normal conditions; two closure scenarios lengthen or cut some trips."""
    rng = np.random.default_rng(seed)
    normal = rng.uniform(10, 110, (5, 3))
    closures = []
    for name, weight in (("flood", 0.3), ("slide", 0.2)):
        closed = normal * rng.choice([1.0, 1.5, np.inf], size=normal.shape, p=[0.5, 0.3, 0.2])
        closures.append(ClosureProblem(name, weight, _problem(closed)))
    return _problem(normal), closures


def _gaps(problem: Problem, closures: list[ClosureProblem], ct_at: int | None) -> list[float]:
    """The weighted gap of normal conditions and of each closure with a CT placed at site `ct_at` (or none)."""
    plan = Plan.empty(problem)
    if ct_at is not None:
        plan.added_equipment["ct"][ct_at] = 1
    return [weighted_gap(p, recompute_access(p, plan, travel_cutoff_minutes=1.0))
            for p in (problem, *(c.problem for c in closures))]


@pytest.mark.parametrize("seed", range(8))
@pytest.mark.parametrize("mode", ["expected", "worst"])
def test_robust_plan_is_the_best_of_every_plan(seed: int, mode: str) -> None:
    problem, closures = _case(seed)
    weights = np.array([1.0 - sum(c.weight for c in closures), *(c.weight for c in closures)])
    choices = {site: np.array(_gaps(problem, closures, site)) for site in (None, 0, 1, 2)}

    def score(gaps: np.ndarray) -> tuple[float, ...]:
        expected = float(weights @ gaps)
        return (expected,) if mode == "expected" else (float(gaps.max()), expected)

    best = min(score(gaps) for gaps in choices.values())
    result = optimize_problem(problem, extend=lambda m: add_robust(m, closures, mode))
    plan = _plan_of(problem, result)
    placed = np.flatnonzero(plan.added_equipment["ct"])
    assert len(placed) <= 1
    found = score(choices[int(placed[0]) if len(placed) else None])
    assert found == pytest.approx(best, rel=1e-6, abs=1e-6)


def test_without_robust_the_plan_ignores_closures() -> None:
    problem, closures = _case(3)
    plain = optimize_problem(problem)
    extended = optimize_problem(problem, extend=None)
    pd.testing.assert_frame_equal(plain.allocations, extended.allocations)
    normal_best = min(_gaps(problem, closures, site)[0] for site in (None, 0, 1, 2))
    assert plain.weighted_gap_after == pytest.approx(normal_best)


REGION_SCENARIO = Path(__file__).resolve().parents[1] / "data" / "regions" / "valley-county" / "scenario.toml"
# valley-county's scenario without its [ems] table (its last): --robust plans no ambulances yet
REGION_WITHOUT_EMS = REGION_SCENARIO.read_text(encoding="utf-8").split("\n[ems]")[0] + "\n"
CLOSURES = ('[[closures]]\nname = "rainy season"\nweight = 0.25\nspeed_factor = 0.7\n\n'
            '[[closures]]\nname = "trunk slide"\nweight = 0.05\nroads = ["r0207", "r0206"]\n')


def _optimize(tmp_path: Path, *args: str, scenario: str | None = None) -> tuple[int, str, Path]:
    out = tmp_path / f"plan{len(list(tmp_path.iterdir()))}"
    command = ["optimize", "--out", str(out), "--format", "json", "--cache-dir", str(tmp_path / "cache"), *args]
    if scenario is not None:
        path = tmp_path / f"scenario{len(list(tmp_path.iterdir()))}.toml"
        path.write_text(scenario, encoding="utf-8")
        command += ["--scenario", str(path)]
    result = CliRunner().invoke(main, command)
    return result.exit_code, result.output, out


def test_closures_without_robust_give_todays_plan(tmp_path: Path) -> None:
    code, _, plain = _optimize(tmp_path)
    assert code == 0
    region_scenario = Path(__file__).resolve().parents[1] / "data" / "regions" / "valley-county" / "scenario.toml"
    code, _, with_closures = _optimize(tmp_path, scenario=region_scenario.read_text(encoding="utf-8") + CLOSURES)
    assert code == 0
    for table in ("allocations.csv", "townships.csv"):
        assert (plain / table).read_bytes() == (with_closures / table).read_bytes()
    assert not (with_closures / "scenarios.csv").exists()


def test_robust_writes_scenarios_and_the_cost_of_robustness(tmp_path: Path) -> None:
    code, output, out = _optimize(tmp_path, "--robust", "expected", scenario=REGION_WITHOUT_EMS + CLOSURES)
    assert code == 0, output
    robust = json.loads(output)["robust"]
    gaps = pd.DataFrame(robust["gaps"]).set_index("scenario")
    assert list(gaps.index) == [NORMAL, "rainy season", "trunk slide"]
    assert gaps["weight"].tolist() == pytest.approx([0.7, 0.25, 0.05])
    expected = {label: float((gaps["weight"] * gaps[label]).sum()) for label in ("robust", "plain")}
    assert expected["robust"] <= expected["plain"] * (1 + 1e-4)
    assert robust["cost_of_robustness"] == pytest.approx(gaps.loc[NORMAL, "robust"] - gaps.loc[NORMAL, "plain"])
    scenarios = pd.read_csv(out / "scenarios.csv", encoding="utf-8-sig")
    normal = scenarios[scenarios["scenario"] == NORMAL].set_index("service")
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert summary["robust"] == robust
    for service, row in normal.iterrows():
        assert row["unserved_after"] == pytest.approx(summary["services"][service]["unserved_after"])


@pytest.mark.parametrize(("args", "scenario", "message"), [
    (["--robust", "worst"], REGION_WITHOUT_EMS, "--robust needs [[closures]] in the scenario"),
    (["--robust", "worst", "--objective", "equity"], CLOSURES, "--robust plans with the gap objective"),
    (["--robust", "expected"], CLOSURES.replace("r0206", "r9999"),
     "[[closures]] number 2 ('trunk slide'), key 'roads': road id(s) 'r9999' are not in the roads layer"),
])
def test_robust_refuses_what_it_cannot_plan(tmp_path: Path, args: list[str], scenario: str | None,
                                            message: str) -> None:
    code, output, out = _optimize(tmp_path, *args, scenario=scenario)
    assert code == 1 and message in output and "Traceback" not in output
    assert not out.exists()


@pytest.mark.parametrize(("seed", "mode"), [(5, "expected"), (3, "worst")])
def test_robust_plans_differ_from_the_plain_one_where_closures_matter(seed: int, mode: str) -> None:
    # seed 5: a CT at A is best in normal conditions, at C in expectation; seed 3: at A normally, at B in the worst
    problem, closures = _case(seed)
    plain = _plan_of(problem, optimize_problem(problem)).added_equipment["ct"]
    robust = _plan_of(problem, optimize_problem(problem, extend=lambda m: add_robust(m, closures, mode)))
    assert plain.tolist() == [1, 0, 0]
    assert robust.added_equipment["ct"].tolist() == ([0, 0, 1] if mode == "expected" else [0, 1, 0])


# Primary care only: one GP (200,000 yuan) at one of three village clinics of one township, none staffed today.
GP_SCENARIO = scenario_from_dict({
    "budget": {"total_yuan": 250_000.0},
    "weights": {**{s: 0.0 for s in SERVICES}, GP_SHORTAGE: 0.0, "primary_care": 1.0},
    # GPs at clinics make first contact (provider "gp"); no village doctors
    "primary_care": {"provider": "gp"},
    "eligibility": {"gp": {"levels": ["village_clinic"]}, "village_doctor": {"levels": []}},
})


def _clinics(minutes: np.ndarray) -> Problem:
    return Problem.from_arrays(
        scenario=GP_SCENARIO, demand_ids=[f"d{i}" for i in range(5)], demand_population=POPULATION,
        demand_township=["t"] * 5, township_ids=["t"], site_ids=SITES, site_kind=["existing"] * 3,
        site_level=["village_clinic"] * 3, site_township=["t"] * 3, minutes=minutes,
    )


@pytest.mark.parametrize("seed", range(6))
def test_a_clinic_dominated_in_normal_conditions_still_counts_for_closures(seed: int) -> None:
    # In normal conditions clinic A reaches a subset of what B reaches (A is dominated); a closure cuts B off.
    rng = np.random.default_rng(seed)
    normal = rng.uniform(5, 25, (5, 3))
    normal[:, 1] = np.minimum(normal[:, 1], normal[:, 0])
    closed = normal.copy()
    closed[:, 1] = np.inf
    problem = _clinics(normal)
    closures = [ClosureProblem("slide", 0.6, _clinics(closed))]
    weights = np.array([0.4, 0.6])
    expected = {site: float(weights @ [weighted_gap(p, recompute_access(p, _one_gp(problem, site),
                                                                       travel_cutoff_minutes=1.0))
                                       for p in (problem, closures[0].problem)]) for site in range(3)}
    result = optimize_problem(problem, extend=lambda m: add_robust(m, closures, "expected"))
    placed = int(np.flatnonzero(_plan_of(problem, result).added_gps)[0])
    assert expected[placed] == pytest.approx(min(expected.values()))


def _one_gp(problem: Problem, site: int) -> Plan:
    plan = Plan.empty(problem)
    plan.added_gps[site] = 1
    return plan
