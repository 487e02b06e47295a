"""Care pathways: times worked by hand, drip-and-ship and mother-ship, brute force over tier plans, bad input."""

from __future__ import annotations

import dataclasses
import itertools
import json
import tomllib
from dataclasses import replace
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from allocopt import workflow
from allocopt.cli import main
from allocopt.errors import ScenarioError
from allocopt.model import build_model
from allocopt.model.objectives import solve_model
from allocopt.model.problem import Problem
from allocopt.pathways import ARRIVALS, KINDS, PathwayInputs, generate, response_minutes
from allocopt.results import build_result
from allocopt.scenario import Scenario, scenario_from_dict, scenario_to_dict
from allocopt.services import SERVICES

INF = np.inf

# Four places: two villages V and W, a central township health center C with an ECG, and the county people's
# hospital H with an ECG and a cath lab (a village clinic K stands for sites that are no door).
SITES = ("K", "C", "H")
LEVELS = ("village_clinic", "township_hc", "county_hospital")
VILLAGE_MINUTES = np.array([
    #  K     C      H
    [2.0, 10.0, 110.0],   # V: far from the hospital, near C
    [30.0, 40.0, 10.0],   # W: near the hospital
])
TRANSFER_MINUTES = np.array([
    [0.0, 8.0, 108.0],
    [8.0, 0.0, 100.0],
    [108.0, 100.0, 0.0],
])
BASIC = 500_000.0 + 300_000.0
PCI = 1_000_000.0 + 900_000.0  # on top of BASIC
TELE = 50_000.0 + 20_000.0


def pathway_scenario(*, budget: float = 10_000_000.0, self_share: float = 0.0, ship_window: float = 1_580.0,
                     extra: dict[str, Any] | None = None, condition: dict[str, Any] | None = None) -> Scenario:
    """Chest pain only, as pathways; every other service weighs nothing, so the gap is the pathway term."""
    weights = {v: 0.0 for v in SERVICES} | {"gp_shortage": 0.0, "chest_pain": 1.0}
    chest_pain: dict[str, Any] = {"window_minutes": 140.0, "ship_window_minutes": ship_window,
                                  "door_in_door_out_minutes": 30.0, "self_presentation_share": self_share,
                                  **(condition or {})}
    return scenario_from_dict({
        "budget": {"total_yuan": budget},
        "cases": {"weighting": False},
        "targets": {"gp_per_10k": 0.0},
        "weights": weights,
        "eligibility": {"equipment": {k: {"levels": []} for k in ("ct", "dr", "ultrasound", "cath_lab", "ecg")}},
        "pathways": {"conditions": ["chest_pain"], "response_minutes": 20.0, "on_scene_minutes": 15.0,
                     "self_delay_minutes": 15.0, "chest_pain": chest_pain,
                     "telemedicine": {"minutes_saved": 15.0}, **(extra or {})},
    })


def pathway_problem(scenario: Scenario, *, pci_today: bool = False) -> Problem:
    return Problem.from_arrays(
        scenario=scenario, demand_ids=("V", "W"), demand_population=(1000.0, 2000.0), demand_township=("t", "t"),
        township_ids=("t",), site_ids=SITES, site_kind=("existing",) * 3, site_level=LEVELS,
        minutes=VILLAGE_MINUTES, site_hospital_kind=("", "", "general"),
        existing_equipment={"ecg": (0, 1, 1), "cath_lab": (0, 0, 1)},
        existing_centers={"chest_pain": (False, False, pci_today)},
        pathway_inputs=PathwayInputs(site_central=np.array([False, True, False]),
                                     transfer_minutes=TRANSFER_MINUTES),
    )


def rows(problem: Problem, **holds: np.ndarray) -> set[tuple[Any, ...]]:
    """The generated pathways as (point, arrival, kind, door, center, tele, first, total)."""
    data = problem.pathways
    assert data is not None
    lower, upper = data.can_hold["chest_pain"]
    pw = generate(problem, data, "chest_pain", lower=holds.get("lower", lower), upper=holds.get("upper", upper),
                  tele=holds.get("tele", data.tele_eligible))
    return {(problem.demand_ids[pw.point[k]], ARRIVALS[pw.arrival[k]], KINDS[pw.kind[k]], SITES[pw.door[k]],
             SITES[pw.center[k]], bool(pw.tele[k]), round(float(pw.first_treatment_minutes[k]), 6),
             round(float(pw.total_minutes[k]), 6)) for k in range(len(pw))}


def test_pathway_times_worked_by_hand() -> None:
    # Eligible: basic at C (central, ECG, a terminal possible) and H; PCI at H (cath lab). Lysis 30 min, PCI 90,
    # door-in-door-out 30, window 140 from the call, PCI after lysis within 1,580.
    problem = pathway_problem(pathway_scenario(self_share=0.3))
    assert rows(problem) == {
        # V by 120: lysis at C 20 + 15 + 10 + 30 = 75; PCI at H 20 + 15 + 10 + 30 + 100 + 90 = 265.
        ("V", "ems", "drip_and_ship", "C", "H", False, 75.0, 265.0),
        # V straight to H: first 20 + 15 + 110 + 30 = 175 > 140: never generated. V by itself to its nearest
        # door C (K is a clinic, no door): lysis 15 + 10 + 30 = 55, PCI 15 + 10 + 30 + 100 + 90 = 245.
        ("V", "self", "drip_and_ship", "C", "H", False, 55.0, 245.0),
        # A plain transfer from C (15 + 10 + 30 + 100 + 90 = 245) misses 140, even with a terminal (230).
        # W by 120 straight to H: lysis 20 + 15 + 10 + 30 = 75, PCI 20 + 15 + 10 + 90 = 135.
        ("W", "ems", "mother_ship", "H", "H", False, 75.0, 135.0),
        # W by 120 to C first: lysis 20 + 15 + 40 + 30 = 105; PCI 20 + 15 + 40 + 30 + 100 + 90 = 295.
        ("W", "ems", "drip_and_ship", "C", "H", False, 105.0, 295.0),
        # W by itself to its nearest door H: lysis 15 + 10 + 30 = 55, PCI 15 + 10 + 90 = 115.
        ("W", "self", "direct", "H", "H", False, 55.0, 115.0),
    }


def test_a_terminal_variant_exists_only_where_it_makes_the_pathway_timely() -> None:
    # A window of 72 with PCI 60: V's lysis at C (75) misses it; with a terminal at C, 20 + 15 + 10 + 15 = 60 makes
    # it, and PCI follows at 20 + 15 + 10 + 15 (door-in-door-out less the saving) + 100 + 60 = 220.
    extra = {"chest_pain": {"window_minutes": 72.0, "ship_window_minutes": 1_000.0, "door_in_door_out_minutes": 30.0,
                            "pci": {"door_to_treatment_minutes": 60.0}}}
    problem = pathway_problem(pathway_scenario(extra=extra))
    ems_v = {r for r in rows(problem) if r[:2] == ("V", "ems")}
    assert ems_v == {("V", "ems", "drip_and_ship", "C", "H", True, 60.0, 220.0)}


def solve(problem: Problem) -> Any:
    m = build_model(problem)
    outcomes = solve_model(m)
    return build_result(m, outcomes)


def after_pathway(result: Any, point: str, arrival: str = "ems") -> str:
    table = result.pathways.table
    row = table[(table["demand_id"] == point) & (table["arrival"] == arrival)].iloc[0]
    return str(row["after_pathway"])


def test_drip_and_ship_must_win_far_from_the_pci_center() -> None:
    # H is a PCI center today. V cannot reach it in time (first 175 > 140); a basic center at C, which needs a
    # terminal at a township health center, treats V at 75 and ships to H at 265 <= 1,580. Budget: C's basic
    # tier and terminal (870,000), nothing more.
    problem = pathway_problem(pathway_scenario(budget=BASIC + TELE), pci_today=True)
    result = solve(problem)
    assert set(result.allocations["resource"]) == {"chest_pain.basic", "telemedicine"}
    assert set(result.allocations["site_id"]) == {"C"}
    assert after_pathway(result, "V") == "drip_and_ship"
    assert after_pathway(result, "W") == "mother_ship"
    summary = result.pathways.summary()["conditions"]["chest_pain"]
    cases = problem.demand_cases["chest_pain"]
    assert summary["timely_cases_before"] == pytest.approx(cases[1])      # W only
    assert summary["timely_cases_after"] == pytest.approx(cases.sum())    # V and W
    # The gap objective is the untreated people: V's 1,000 before, none after.
    assert result.objective == pytest.approx(0.0, abs=1e-6)
    assert result.pathways.before.untreated["chest_pain"] == pytest.approx(1000.0)


def test_mother_ship_must_win_when_pci_must_follow_within_the_window() -> None:
    # With PCI due within the 140-minute window itself, W's drip through C reaches PCI at 295 > 140, while going
    # straight to H makes 135. V cannot make it either way (265 through C, 175 to lysis straight). The plan
    # designates PCI at H (with its basic tier: 2,700,000) and no basic center at C, which would treat no one in time.
    problem = pathway_problem(pathway_scenario(ship_window=140.0))
    result = solve(problem)
    placed = set(zip(result.allocations["site_id"], result.allocations["resource"], strict=True))
    assert placed == {("H", "chest_pain.basic"), ("H", "chest_pain.pci")}
    assert result.cost_yuan == pytest.approx(BASIC + PCI)
    assert after_pathway(result, "W") == "mother_ship"
    table = result.pathways.table
    assert not table.loc[table["demand_id"] == "V", "after_within_window"].any()
    assert result.objective == pytest.approx(1000.0)  # V untreated


@pytest.mark.parametrize("minimum, pci", [(1.0, True), (1.5, False)])
def test_a_minimum_volume_keeps_a_center_that_would_treat_too_few(minimum: float, pci: bool) -> None:
    # As in the mother-ship case, PCI at H treats only W in time: 2,000 residents x (0.865 x 0.0003 + 0.135 x
    # 0.0025) = 1.194 expected cases a year. A minimum of 1.0 keeps the plan; 1.5 forbids the center, and V and W
    # (3,000 people) stay untreated.
    problem = pathway_problem(pathway_scenario(ship_window=140.0, condition={"pci": {"min_cases_per_year": minimum}}))
    assert problem.demand_cases["chest_pain"][1] == pytest.approx(1.194)
    result = solve(problem)
    placed = set(zip(result.allocations["site_id"], result.allocations["resource"], strict=True))
    assert (("H", "chest_pain.pci") in placed) is pci
    assert result.objective == pytest.approx(1000.0 if pci else 3000.0)


def test_pathways_off_builds_no_pathway_families() -> None:
    plain = pathway_problem(replace(pathway_scenario(), pathways=None))
    m = build_model(plain)
    assert m.pathways is None
    assert not any(v.name.startswith(("tier", "tele", "pathway")) for v in m.lp.variables())


@pytest.mark.parametrize("key, value, named", [
    ("response_minutes", -1.0, "pathways.response_minutes"),
    ("on_scene_minutes", 200.0, "pathways.on_scene_minutes"),
    ("chest_pain", {"pci": {"door_to_treatment_minutes": 140.0}}, "pathways.chest_pain.pci.door_to_treatment_minutes"),
    ("chest_pain", {"door_in_door_out_minutes": -5}, "pathways.chest_pain.door_in_door_out_minutes"),
    ("chest_pain", {"ship_window_minutes": 10.0}, "pathways.chest_pain.ship_window_minutes"),
    ("chest_pain", {"basic": {"levels": ["castle"]}}, "pathways.chest_pain.basic.levels"),
    ("chest_pain", {"colour": 1}, "pathways.chest_pain.colour"),
])
def test_bad_pathway_settings_name_the_key(key: str, value: Any, named: str) -> None:
    with pytest.raises(ScenarioError, match=named.replace(".", r"\.")):
        scenario_from_dict({"pathways": {key: value}})


def test_a_tier_needing_equipment_no_site_may_hold_names_the_key() -> None:
    # No site has a CT and none may get one: the default thrombolysis tier cannot exist anywhere.
    scenario = pathway_scenario(extra={"conditions": ["stroke"]})
    with pytest.raises(ScenarioError, match=r"pathways\.stroke\.thrombolysis\.requires"):
        pathway_problem(scenario)


# ---------------------------------------------------------------- brute force over every tier plan


def timely_by_hand(problem: Problem, lower: np.ndarray, upper: np.ndarray, tele: np.ndarray) -> np.ndarray:
    """Per point and arrival, whether some pathway is timely, by loops over doors and centers (the module
    docstring of allocopt.pathways, written out again)."""
    s = problem.scenario.pathways
    assert s is not None and problem.pathways is not None
    c = s.condition("chest_pain")
    ql, qu, o, saved = (c.lower.door_to_treatment_minutes, c.upper.door_to_treatment_minutes,
                        c.door_in_door_out_minutes, s.telemedicine.minutes_saved)
    lower = lower | upper
    result = np.zeros((len(problem.demand_ids), 2), dtype=bool)
    for i in range(len(problem.demand_ids)):
        starts = [(0, s.response_minutes + s.on_scene_minutes, range(len(SITES)))]
        door = problem.pathways.self_door[i]
        starts.append((1, s.self_delay_minutes, [door] if door >= 0 else []))
        for g, pre, doors in starts:
            for d in doors:
                arrive = pre + problem.minutes[i, d]
                save = saved if tele[d] else 0.0
                if upper[d] and arrive + min(ql, qu) <= c.window_minutes and arrive + qu <= c.ship_window_minutes:
                    result[i, g] = True
                for e in range(len(SITES)):
                    if e == d or not upper[e]:
                        continue
                    leave = arrive + max(o - save, 0.0) + TRANSFER_MINUTES[d, e] + qu
                    if (lower[d] and arrive + max(ql - save, 0.0) <= c.window_minutes
                            and leave <= c.ship_window_minutes):
                        result[i, g] = True
                    if g == 1 and leave <= c.window_minutes:
                        result[i, g] = True
    return result


@pytest.mark.parametrize("budget", [0.0, BASIC + TELE, PCI + BASIC, PCI + 2 * BASIC + TELE, 10_000_000.0])
@pytest.mark.parametrize("ship_window", [140.0, 1_580.0])
@pytest.mark.parametrize("form", ["compact", "flows"])
def test_milp_matches_brute_force_over_every_tier_plan(budget: float, ship_window: float, form: str) -> None:
    # A minimum volume too small to bind switches chest pain to the flow form (one variable per pathway).
    volume = {"pci": {"min_cases_per_year": 1e-9}} if form == "flows" else {}
    problem = pathway_problem(pathway_scenario(budget=budget, self_share=0.4, ship_window=ship_window,
                                               condition=volume))
    share = np.array([0.6, 0.4])
    people = problem.demand_population
    best = (np.inf, np.inf)
    # Decisions: basic at C and H, PCI at H, a terminal at K and C (K is no door, so it never helps).
    for basic_c, basic_h, pci_h, tele_k, tele_c in itertools.product((0, 1), repeat=5):
        if pci_h > basic_h or basic_c > tele_c:  # PCI holds basic; basic at a township center needs a terminal
            continue
        cost = (basic_c + basic_h) * BASIC + pci_h * PCI + (tele_k + tele_c) * TELE
        if cost > budget:
            continue
        timely = timely_by_hand(problem, np.array([False, bool(basic_c), bool(basic_h)]),
                                np.array([False, False, bool(pci_h)]), np.array([bool(tele_k), bool(tele_c), False]))
        untreated = float((people[:, None] * share[None, :] * ~timely).sum())
        best = min(best, (untreated, cost))
    result = solve(problem)
    assert result.objective == pytest.approx(best[0], abs=1e-6)
    assert result.cost_yuan == pytest.approx(best[1])


# ---------------------------------------------------------------- valley-county with and without pathways

# The default plan of valley-county's scenario without [pathways], as the main branch computed it before the
# pathway model existed (commit f125f11): objective, cost and every allocation row.
RING_OBJECTIVE = 191_478.58802408664
RING_COST_YUAN = 29_955_000.0
RING_ALLOCATIONS = {
    ("H01", "cath_lab", 1), ("H01", "chest_pain_center", 1), ("H01", "stroke_center", 1),
    ("H01", "trauma_center", 1), ("HC-T01", "gp", 6), ("HC-T02", "gp", 4), ("HC-T03", "gp", 2),
    ("HC-T03", "ultrasound", 1), ("HC-T04", "ecg", 1), ("HC-T04", "gp", 3), ("HC-T05", "gp", 2),
    ("HC-T06", "gp", 3), ("HC-T07", "gp", 10), ("HC-T09", "gp", 5), ("HC-T10", "gp", 3),
    ("NEW-V078", "open_site", 1), ("NEW-V078", "village_doctor", 1), ("NEW-V090", "open_site", 1),
    ("NEW-V090", "village_doctor", 1), ("NEW-V098", "open_site", 1), ("NEW-V098", "village_doctor", 1),
    ("VC-V100", "village_doctor", 1),
}


@pytest.fixture(scope="module")
def valley(tmp_path_factory: pytest.TempPathFactory) -> workflow.Prepared:
    return workflow.prepare("valley-county", cache_dir=tmp_path_factory.mktemp("cache"))


def test_valley_without_pathways_is_exactly_the_ring_plan(valley: workflow.Prepared) -> None:
    assert valley.scenario.pathways is not None  # the region's own scenario turns them on
    path = Path(valley.scenario.source)
    settings = tomllib.loads(path.read_text(encoding="utf-8"))
    del settings["pathways"], settings["ems"]  # the ring plan of today, without ambulances
    ring = dataclasses.replace(valley, scenario=scenario_from_dict(settings, source=str(path)),
                               transfer_matrix=None)
    result = workflow.optimize(ring)
    assert result.pathways is None
    assert result.objective == RING_OBJECTIVE
    assert result.cost_yuan == RING_COST_YUAN
    rows = set(zip(result.allocations["site_id"], result.allocations["resource"],
                   result.allocations["quantity"].astype(int), strict=True))
    assert rows == RING_ALLOCATIONS


def test_valley_with_pathways_reports_what_it_claims(valley: workflow.Prepared) -> None:
    result = workflow.optimize(valley)
    cases = workflow.prepared_problem(valley).demand_cases
    assert result.status == "optimal"
    summary = result.pathways.summary()["conditions"]
    assert set(summary) == {"chest_pain", "stroke", "trauma"}
    for condition, figures in summary.items():
        assert figures["timely_cases_after"] >= figures["timely_cases_before"], condition
        assert figures["expected_cases_after"] == pytest.approx(float(cases[condition].sum()))
        assert sum(figures["pathways_after"].values()) == pytest.approx(figures["expected_cases_after"])
    # The objective is the ring services' and GP staffing's gap plus the untreated pathway cases plus the residents
    # not expected to find a free ambulance in time (the region's scenario has [ems] too).
    assert result.ems is not None
    assert result.objective == pytest.approx(result.weighted_gap_after + result.pathways.after.objective
                                             + result.ems.objective(result.ems.after))
    assert result.cost_yuan <= 30_000_000.0 + 1e-6



def test_pathway_settings_round_trip_through_the_summary_layout() -> None:
    scenario = scenario_from_dict({"weights": {"stroke": 2.0},
                                   "pathways": {"stroke": {"thrombectomy": {"min_cases_per_year": 30}}}})
    assert scenario.weights["stroke"] == 0.0                        # the ring term is reported only
    assert scenario.pathways is not None
    assert scenario.pathways.condition("stroke").weight == 2.0      # and its weight moves to the pathways
    again = scenario_from_dict(scenario_to_dict(scenario))
    assert again.pathways == scenario.pathways and again.weights == scenario.weights


def test_a_ring_target_on_a_pathway_condition_is_refused() -> None:
    with pytest.raises(ScenarioError, match=r"targets\.min_covered_share\.stroke"):
        scenario_from_dict({"targets": {"min_covered_share": {"stroke": 0.5}}, "pathways": {}})


def test_optimize_writes_pathways_csv_and_layer(tmp_path: Path) -> None:
    out = tmp_path / "plan"
    result = CliRunner().invoke(main, ["optimize", "--out", str(out), "--cache-dir", str(tmp_path / "cache")])
    assert result.exit_code == 0, result.output
    table = pd.read_csv(out / "pathways.csv", encoding="utf-8-sig", keep_default_na=False)
    assert len(table) == 100 * 3 * 2  # valley-county's points x conditions x arrivals
    timely = table["after_within_window"].astype(str) == "True"
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))["pathways"]["conditions"]
    for condition, figures in summary.items():
        rows = table["condition"] == condition
        assert table.loc[rows & timely, "expected_cases"].sum() == pytest.approx(figures["timely_cases_after"])
    layer = gpd.read_file(out / "result.gpkg", layer="pathways")
    assert len(layer) == len(table)
    drawn = layer[layer["after_pathway"] != "none"]
    assert (drawn.geometry.geom_type == "LineString").all() and not drawn.geometry.is_empty.any()


def test_bad_pathway_settings_write_nothing(tmp_path: Path) -> None:
    scenario = tmp_path / "bad.toml"
    scenario.write_text("[pathways.trauma]\ndoor_in_door_out_minutes = 90\n", encoding="utf-8")
    out = tmp_path / "plan"
    result = CliRunner().invoke(main, ["optimize", "--scenario", str(scenario), "--out", str(out)])
    assert result.exit_code != 0
    assert "pathways.trauma.door_in_door_out_minutes" in result.output
    assert not out.exists()


def test_ambulance_response_comes_from_the_stations_when_the_region_has_them(valley: workflow.Prepared) -> None:
    problem = workflow.prepared_problem(valley)
    settings = valley.scenario.pathways
    assert settings is not None
    if problem.ems_response_minutes is None:  # a region without an ems_stations layer: the scenario's default
        assert (response_minutes(problem, settings) == settings.response_minutes).all()
        return
    assert response_minutes(problem, settings) == pytest.approx(problem.ems_response_minutes)
    bare = dataclasses.replace(problem, ems_response_minutes=None)
    assert (response_minutes(bare, settings) == settings.response_minutes).all()
