"""The coupling of 120 stations and care pathways: new stations shorten the ambulance leg of 120 pathways."""

from __future__ import annotations

import itertools
from dataclasses import replace
from typing import Any

import numpy as np
import pytest

from allocopt.ems import EmsInputs
from allocopt.model import build_model
from allocopt.model.objectives import solve_model
from allocopt.model.problem import Problem
from allocopt.pathway_results import evaluate
from allocopt.pathways import PathwayInputs
from allocopt.results import build_result
from allocopt.scenario import scenario_from_dict
from allocopt.services import SERVICES

INF = np.inf
# The county seat with the people's hospital H (a PCI center today) and the far township's central health center
# C (a basic chest pain center today: ECG, thrombolysis, transfer agreement); K a village clinic (no door).
# Villages: V in the far township, 10 minutes from C and 110 from H; W near H.
SITES = ("K", "C", "H")
VILLAGE_MINUTES = np.array([[2.0, 10.0, 110.0], [30.0, 40.0, 10.0]])
TRANSFER_MINUTES = np.array([[0.0, 8.0, 108.0], [8.0, 0.0, 100.0], [108.0, 100.0, 0.0]])
# 120 stations: A at the county seat (one ambulance today), B a candidate at C in the far township.
# Drive minutes (villages x stations).
DRIVE = np.array([[100.0, 7.0], [8.0, 40.0]])
AMBULANCE = 100.0


def coupled_problem(*, budget: float, ems: bool = True, drive: np.ndarray = DRIVE, ambulances: tuple[int, ...] = (1, 0),
                    candidate: tuple[bool, ...] = (False, True), tele_cost: float = 1e9) -> Problem:
    """Chest pain only (weights of everything else 0); ambulances weigh nothing beyond the pathways they enable."""
    weights = {v: 0.0 for v in SERVICES} | {"gp_shortage": 0.0, "chest_pain": 1.0}
    table: dict[str, Any] = {
        "budget": {"total_yuan": budget}, "cases": {"weighting": False}, "targets": {"gp_per_10k": 0.0},
        "weights": weights,
        "eligibility": {"equipment": {k: {"levels": []} for k in ("ct", "dr", "ultrasound", "cath_lab", "ecg")}},
        "pathways": {"conditions": ["chest_pain"], "on_scene_minutes": 15.0, "self_delay_minutes": 15.0,
                     "chest_pain": {"window_minutes": 140.0, "ship_window_minutes": 1_580.0,
                                    "door_in_door_out_minutes": 30.0, "self_presentation_share": 0.0},
                     "telemedicine": {"minutes_saved": 15.0, "capital_yuan": tele_cost, "annual_yuan": 0.0}},
    }
    if ems:
        table["ems"] = {"dispatch_minutes": 3.0, "weight": 0.0, "max_ambulances_per_station": 1, "fleet_cap": "none",
                        "ambulance_capital_yuan": AMBULANCE, "ambulance_annual_yuan": 0.0,
                        "station_capital_yuan": 0.0, "station_annual_yuan": 0.0}
    stations = tuple("AB"[: drive.shape[1]]) if drive.shape[1] <= 2 else tuple(f"S{j}" for j in range(drive.shape[1]))
    return Problem.from_arrays(
        scenario=scenario_from_dict(table), demand_ids=("V", "W"), demand_population=(1000.0, 2000.0),
        demand_township=("t", "t"), township_ids=("t",), site_ids=SITES, site_kind=("existing",) * 3,
        site_level=("village_clinic", "township_hc", "county_hospital"), minutes=VILLAGE_MINUTES,
        site_hospital_kind=("", "", "general"),
        existing_equipment={"ecg": (0, 1, 1), "cath_lab": (0, 0, 1)},
        existing_centers={"chest_pain": (False, True, True)},
        pathway_inputs=PathwayInputs(site_central=np.array([False, True, False]), transfer_minutes=TRANSFER_MINUTES),
        ems_inputs=EmsInputs(station_ids=stations, station_names=stations, station_township=("t",) * len(stations),
                             ambulances=np.array(ambulances), candidate=np.array(candidate), drive_minutes=drive),
    )


def solve(problem: Problem) -> Any:
    m = build_model(problem)
    return m, build_result(m, solve_model(m))


def row(result: Any, point: str) -> Any:
    table = result.pathways.table
    return table[(table["demand_id"] == point) & (table["arrival"] == "ems")].iloc[0]


def test_a_station_in_the_far_township_makes_the_stemi_pathway_timely() -> None:
    # Today V's ambulance comes from A: 3 + 100 = 103 minutes; lysis at C would start 103 + 15 (on scene) + 10 + 30
    # (door to needle) = 158 > 140, so V is not treated in time (W is: 3 + 8 + 15 + 10 + 30 = 66 at H). V's
    # fastest pathway today goes straight to H: lysis at 103 + 15 + 110 + 30 = 258, PCI at 103 + 15 + 110 + 90 = 318
    # (through C: 103 + 15 + 10 + 30 + 100 + 90 = 348). An ambulance at B (3 + 7 = 10) gives lysis at C at
    # 10 + 15 + 10 + 30 = 65 and PCI at H at 10 + 15 + 10 + 30 (door in, door out) + 100 + 90 = 255 <= 1,580.
    # Budget: one ambulance (100 yuan).
    _, result = solve(coupled_problem(budget=AMBULANCE))
    assert result.ems.opened.tolist() == [False, True]
    v = row(result, "V")
    assert not v["before_within_window"]
    assert v["before_response_minutes"] == pytest.approx(103.0)
    assert v["before_pathway"] == "mother_ship"
    assert v["before_first_treatment_minutes"] == pytest.approx(258.0)
    assert v["before_total_minutes"] == pytest.approx(318.0)
    assert v["after_within_window"] and v["after_pathway"] == "drip_and_ship"
    assert v["after_response_minutes"] == pytest.approx(10.0)
    assert v["after_first_treatment_minutes"] == pytest.approx(65.0)
    assert v["after_total_minutes"] == pytest.approx(255.0)
    assert result.pathways.before.untreated["chest_pain"] == pytest.approx(1000.0)
    assert result.objective == pytest.approx(0.0, abs=1e-6)
    # Without the money for the ambulance, the model claims nothing for V.
    _, poor = solve(coupled_problem(budget=AMBULANCE - 1))
    assert not row(poor, "V")["after_within_window"]
    assert poor.objective == pytest.approx(1000.0)


def test_a_station_that_improves_too_little_adds_no_level() -> None:
    # B 80 minutes from V: 3 + 80 + 15 + 10 + 30 = 138 <= 140 is timely. At 98 minutes B still answers faster than
    # A (101 < 103), but not fast enough even with a terminal at C (101 + 15 + 10 + 15 = 141 > 140): the model
    # neither claims V nor adds a coupling variable.
    near = DRIVE.copy()
    near[0, 1] = 80.0
    m, result = solve(coupled_problem(budget=AMBULANCE, drive=near))
    assert row(result, "V")["after_within_window"]
    far = DRIVE.copy()
    far[0, 1] = 98.0
    m, result = solve(coupled_problem(budget=AMBULANCE, drive=far))
    assert not any(v.name.startswith("amb_staffed") for v in m.lp.variables())
    assert result.objective == pytest.approx(1000.0)


def test_without_ems_the_pathways_keep_todays_response() -> None:
    # [pathways] alone: no coupling variable, V keeps today's 103 minutes whatever the budget.
    m, result = solve(coupled_problem(budget=1e9, ems=False))
    assert not any(v.name.startswith(("amb", "amb_staffed")) for v in m.lp.variables())
    assert row(result, "V")["after_response_minutes"] == pytest.approx(103.0)
    assert result.objective == pytest.approx(1000.0)


@pytest.mark.parametrize("seed", range(8))
def test_milp_matches_brute_force_over_station_choices(seed: int) -> None:
    # Three candidate stations at random drive minutes, a terminal at C (saves 15 minutes) as another choice, and
    # a budget of none to three items: the MILP's untreated people equal the best over every affordable choice,
    # each evaluated from the plan alone.
    rng = np.random.default_rng(seed)
    drive = np.column_stack([[100.0, 8.0], rng.uniform(60.0, 120.0, size=(2, 3))])
    tele_cost = float(rng.choice([AMBULANCE, 2 * AMBULANCE]))
    budget = float(rng.choice([0, 1, 2, 3])) * AMBULANCE
    problem = coupled_problem(budget=budget, drive=drive, ambulances=(1, 0, 0, 0),
                              candidate=(False, True, True, True), tele_cost=tele_cost)
    _, result = solve(problem)
    data, ems = problem.pathways, problem.ems
    assert data is not None and ems is not None
    best = INF
    for choice in itertools.product((0, 1), repeat=4):
        stations, tele_at_c = np.array([0, *choice[:3]]), choice[3]
        if stations.sum() * AMBULANCE + tele_at_c * tele_cost > budget + 1e-9:
            continue
        response = ems.inputs.nearest_staffed_minutes(ems.settings, ems.inputs.ambulances + stations)
        state = evaluate(replace(problem, ems_response_minutes=response), data, data.holds_now,
                         np.array([False, bool(tele_at_c), False]))
        best = min(best, state.objective)
    assert result.pathways.after.objective == pytest.approx(best, abs=1e-6)
    assert result.objective == pytest.approx(best, abs=1e-6)
