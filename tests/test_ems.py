"""120 ambulances: [ems] settings, expected coverage by hand, brute force over stations and fleets, exactness when
off, bad input, the generated stations and `allocopt ems`."""

from __future__ import annotations

import dataclasses
import itertools
import json
import shutil
import tomllib
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from click.testing import CliRunner

from allocopt.cli import main
from allocopt.ems import EmsInputs, EmsSettings, parse_ems
from allocopt.ems_plan import solve_ambulances
from allocopt.ems_results import ems_result
from allocopt.errors import DataError, InfeasibleError, ScenarioError
from allocopt.model.problem import Problem
from allocopt.optimize import optimize_problem
from allocopt.regions import embedded_regions_dir, load_region
from allocopt.scenario import scenario_from_dict
from allocopt.workflow import prepare, prepared_problem

INF = np.inf
DEMAND = ["d1", "d2", "d3"]
POPULATION = [100.0, 200.0, 60.0]
STATIONS = ("A", "B")
# Drive minutes (demand x stations). With 3 dispatch minutes and a 30-minute threshold: d1 reaches A only
# (B: 43), d2 both, d3 only B (no road from A).
DRIVE = np.array([[5.0, 40.0], [20.0, 10.0], [INF, 15.0]])


def ems_problem(ems: dict[str, Any], *, budget: float, drive: np.ndarray = DRIVE,
                ambulances: tuple[int, ...] = (1, 0), candidate: tuple[bool, ...] = (False, True),
                population: list[float] = POPULATION, stations: tuple[str, ...] = STATIONS) -> Problem:
    """A problem of one demand township, one site that can get nothing, and the given stations."""
    scenario = scenario_from_dict({"budget": {"total_yuan": budget}, "ems": ems})
    n = len(population)
    return Problem.from_arrays(
        scenario=scenario, demand_ids=[f"d{i + 1}" for i in range(n)], demand_population=population,
        demand_township=["t"] * n, township_ids=["t"], site_ids=["s"], site_kind=["existing"],
        site_level=["tertiary_hospital"], minutes=np.full((n, 1), 5.0), site_township=["t"],
        ems_inputs=EmsInputs(station_ids=stations, station_names=stations, station_township=("t",) * len(stations),
                             ambulances=np.array(ambulances), candidate=np.array(candidate),
                             drive_minutes=drive),
    )


# A few hundred residents: the fleet norm would stop at today's ambulance, so these tests lift the cap.
HAND = {"busy_fraction": 0.5, "ambulance_capital_yuan": 100.0, "ambulance_annual_yuan": 0.0,
        "station_capital_yuan": 0.0, "station_annual_yuan": 0.0, "fleet_cap": "none"}


def test_settings_defaults_round_trip_and_bad_keys() -> None:
    assert parse_ems({}) == EmsSettings()
    assert parse_ems({"ambulance_capital_yuan": "80万"}).ambulance_capital_yuan == 800_000
    for table, key in (({"busy_fraction": -0.1}, "ems.busy_fraction"), ({"busy_fraction": 1.0}, "ems.busy_fraction"),
                       ({"response_threshold_minutes": 0}, "ems.response_threshold_minutes"),
                       ({"max_ambulances_per_station": 1.5}, "ems.max_ambulances_per_station"),
                       ({"fleet_norm_hard": "yes"}, "ems.fleet_norm_hard"), ({"speed": 1}, "ems.speed"),
                       ({"fleet_cap": "half"}, "ems.fleet_cap"), ({"fleet_cap": -1}, "ems.fleet_cap")):
        with pytest.raises(ScenarioError, match=key.replace(".", r"\.")):
            scenario_from_dict({"ems": table})
    assert scenario_from_dict({}).ems is None


def test_expected_coverage_and_response_by_hand() -> None:
    problem = ems_problem(HAND, budget=100.0)
    assert problem.ems_response_minutes is not None
    assert problem.ems_response_minutes.tolist() == [8.0, 23.0, INF]  # 3 + drive from A, the staffed station
    # Today A's one ambulance reaches d1 and d2: each is covered with probability 1 - 0.5.
    today = ems_result(problem, added=np.zeros(2, dtype=np.int64), opened=np.zeros(2, dtype=bool))
    assert today.expected_covered(today.before) == pytest.approx(0.5 * 100 + 0.5 * 200)
    # One ambulance at B (opened): d1 keeps 1 (0.5), d2 has 2 (0.75), d3 gets 1 (0.5): 50 + 150 + 30 = 230;
    # one more at A instead: d1 75, d2 150, d3 0 = 225. The budget buys one: B wins.
    plan = solve_ambulances(problem)
    assert plan.status == "optimal"
    assert plan.ems.added.tolist() == [0, 1] and plan.ems.opened.tolist() == [False, True]
    assert plan.ems.expected_covered(plan.ems.after) == pytest.approx(230.0)
    assert plan.ems.objective(plan.ems.after) == pytest.approx(360.0 - 230.0)
    summary = plan.ems.summary()
    assert summary["before"]["covered_population"] == 300 and summary["after"]["covered_population"] == 360
    assert summary["after"]["fleet"] == 2 and summary["fleet_norm"] == 1
    assert plan.allocations[["site_id", "resource", "quantity"]].values.tolist() == [
        ["B", "ems_station", 1], ["B", "ambulance", 1]]


def expected_uncovered(drive: np.ndarray, population: np.ndarray, ambulances: np.ndarray, q: float,
                       threshold: float, dispatch: float) -> float:
    """Residents not expected to find a free ambulance in time, from first principles."""
    within = (dispatch + drive) <= threshold
    k = within.astype(int) @ ambulances
    return float((population * np.power(q, k)).sum())


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_brute_force_over_stations_and_fleets(seed: int) -> None:
    rng = np.random.default_rng(seed)
    drive = np.round(rng.uniform(5, 45, size=(6, 4)), 1)
    drive[rng.random(drive.shape) < 0.15] = INF
    population = np.round(rng.uniform(50, 500, size=6))
    today, candidate = np.array([1, 0, 0, 0]), np.array([False, False, True, True])
    costs = {"ambulance_capital_yuan": 100.0, "ambulance_annual_yuan": 50.0, "station_capital_yuan": 80.0,
             "station_annual_yuan": 20.0}
    settings = {"busy_fraction": 0.3, "max_ambulances_per_station": 2, "fleet_cap": "none", **costs}
    budget = 500.0
    best = INF
    for added in itertools.product(range(2), range(3), range(3), range(3)):
        x = np.array(added)
        opened = candidate & (x > 0)
        cost = 150.0 * x.sum() + 100.0 * opened.sum()
        if cost <= budget:
            best = min(best, expected_uncovered(drive, population, today + x, 0.3, 30.0, 3.0))
    problem = ems_problem(settings, budget=budget, drive=drive, ambulances=tuple(today), candidate=tuple(candidate),
                          population=list(population), stations=("A", "B", "C", "D"))
    plan = solve_ambulances(problem)
    assert plan.ems.objective(plan.ems.after) == pytest.approx(best, rel=1e-6)
    assert plan.capital_yuan + plan.annual_yuan <= budget
    # The joint MILP with nothing else to buy finds the same ambulance term.
    joint = optimize_problem(problem)
    assert joint.ems is not None
    assert joint.ems.objective(joint.ems.after) == pytest.approx(best, rel=1e-6)
    assert joint.cost_yuan <= budget


@pytest.mark.parametrize("cap, fleet", [("norm", 4), (2, 2), (0, 1), ("none", 8)])
def test_the_fleet_stops_at_the_cap(cap: str | int, fleet: int) -> None:
    # 360 residents, one ambulance per 100: the norm is 4. With money for everything (two stations of four
    # ambulances at most) the plan stops at the cap, never below today's one ambulance; without a cap it fills
    # both stations, as every ambulance adds some expected coverage.
    settings = {**HAND, "residents_per_ambulance": 100.0, "fleet_cap": cap}
    plan = solve_ambulances(ems_problem(settings, budget=1e6))
    assert int(plan.ems.after.ambulances.sum()) == fleet
    assert plan.ems.summary()["fleet_cap"] == (None if cap == "none" else max(fleet, 1))


def test_hard_fleet_norm_is_met_or_explained() -> None:
    # 360 residents, one ambulance per 100: the norm asks for 4; one is on duty, three cost 300.
    norm = {**HAND, "residents_per_ambulance": 100.0, "fleet_norm_hard": True}
    plan = solve_ambulances(ems_problem(norm, budget=300.0))
    assert int(plan.ems.after.ambulances.sum()) == 4
    with pytest.raises(InfeasibleError, match="fleet_norm_hard"):
        solve_ambulances(ems_problem(norm, budget=200.0))
    with pytest.raises(InfeasibleError, match="at most"):
        solve_ambulances(ems_problem({**norm, "max_ambulances_per_station": 1}, budget=1e6))
    with pytest.raises(InfeasibleError, match="fleet_cap allows 3"):
        solve_ambulances(ems_problem({**norm, "fleet_cap": 3}, budget=1e6))


def test_no_station_reachable_is_one_data_error() -> None:
    with pytest.raises(DataError, match=r"ems_stations.*no station is reachable"):
        ems_problem(HAND, budget=100.0, drive=np.full((3, 2), INF))
    with pytest.raises(DataError, match="field 'ambulances'"):
        ems_problem(HAND, budget=100.0, ambulances=(-1, 0))


@pytest.fixture(scope="module")
def valley() -> Any:
    return prepare("valley-county")


def test_ems_off_reproduces_the_plan_without_stations(valley: Any) -> None:
    # valley-county's scenario without [ems] and [pathways], whose pathways take the stations' response times on
    # purpose
    settings = tomllib.loads(Path(valley.scenario.source).read_text(encoding="utf-8"))
    del settings["pathways"], settings["ems"]
    valley = dataclasses.replace(valley, scenario=scenario_from_dict(settings, source=valley.scenario.source),
                                 transfer_matrix=None)
    problem = prepared_problem(valley)
    assert problem.ems is None and problem.ems_response_minutes is not None
    without = dataclasses.replace(valley, region=dataclasses.replace(valley.region, ems_stations=None),
                                  ems_matrix=None)
    bare = prepared_problem(without)
    assert bare.ems_response_minutes is None
    with_layer, plain = optimize_problem(problem), optimize_problem(bare)
    assert with_layer.ems is None
    pd.testing.assert_frame_equal(with_layer.allocations, plain.allocations)
    pd.testing.assert_frame_equal(with_layer.townships, plain.townships)
    first, second = with_layer.to_summary(), plain.to_summary()
    first["solver"].pop("seconds"), second["solver"].pop("seconds")
    assert first == second and "ems" not in first


def test_joint_plan_reports_ambulances(valley: Any) -> None:
    scenario = dataclasses.replace(valley.scenario, ems=EmsSettings())
    result = optimize_problem(prepared_problem(dataclasses.replace(valley, scenario=scenario)))
    assert result.ems is not None
    ambulances = result.allocations[result.allocations["resource"] == "ambulance"]
    assert int(ambulances["quantity"].sum()) == int(result.ems.added.sum())
    summary = result.to_summary()["ems"]
    assert summary["after"]["expected_covered_population"] >= summary["before"]["expected_covered_population"]
    assert result.cost_yuan <= 30_000_000 + 1


def test_generated_stations_are_plausible(valley: Any) -> None:
    stations = valley.region.ems_stations.set_index("id")
    facilities = valley.region.facilities.set_index("id")
    center = stations.loc["EMS-H01"]
    assert facilities.loc["H01", "hospital_kind"] == "general" and center["ambulances"] >= 2
    assert center.geometry.equals(facilities.loc["H01"].geometry)
    health_centers = stations.drop(index="EMS-H01")
    central = facilities.loc[health_centers.index.str.removeprefix("EMS-"), "central"].to_numpy()
    assert (health_centers["candidate"].to_numpy() == ~central).all()
    assert (health_centers["ambulances"].to_numpy() == central.astype(int)).all()


def copy_bundle(tmp_path: Path) -> Path:
    root = embedded_regions_dir()
    assert root is not None
    return Path(shutil.copytree(root / "valley-county", tmp_path / "county"))


def test_negative_ambulances_name_the_layer_and_write_nothing(tmp_path: Path) -> None:
    bundle = copy_bundle(tmp_path)
    stations = gpd.read_file(bundle / "region.gpkg", layer="ems_stations")
    stations.loc[1, "ambulances"] = -2
    stations.to_file(bundle / "region.gpkg", layer="ems_stations", driver="GPKG")
    out = tmp_path / "out"
    result = CliRunner().invoke(main, ["ems", str(bundle), "--out", str(out)])
    assert result.exit_code == 1
    assert "layer 'ems_stations'" in result.output and "field 'ambulances'" in result.output
    assert not out.exists()


def test_negative_busy_fraction_names_the_key_and_writes_nothing(tmp_path: Path) -> None:
    scenario = tmp_path / "s.toml"
    scenario.write_text("[ems]\nbusy_fraction = -0.2\n", encoding="utf-8")
    out = tmp_path / "out"
    for command in (["ems"], ["optimize"]):
        result = CliRunner().invoke(main, [*command, "--scenario", str(scenario), "--out", str(out)])
        assert result.exit_code == 1 and "ems.busy_fraction" in result.output
        assert not out.exists()


def test_ems_command_writes_its_folder(tmp_path: Path) -> None:
    out = tmp_path / "plan"
    result = CliRunner().invoke(main, ["ems", "--budget", "5M", "--format", "json", "--out", str(out)])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output)
    assert summary["cost_yuan"] <= 5_000_000
    assert summary["ems"]["after"]["fleet"] == summary["ems"]["before"]["fleet"] + summary["ems"]["ambulances_added"]
    assert {"summary.json", "allocations.csv", "ems_stations.csv", "ems_demand.csv", "result.gpkg",
            "ems_map.png"} <= {p.name for p in out.iterdir()}
    stations = pd.read_csv(out / "ems_stations.csv")
    assert (stations["ambulances_after"] == stations["ambulances_before"] + stations["added"]).all()



def test_a_region_without_stations_is_refused_by_name(tiny_region_path: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = CliRunner().invoke(main, ["ems", str(tiny_region_path), "--out", str(out)])
    assert result.exit_code == 1 and "ems_stations" in result.output and "build-region --ems" in result.output
    assert not out.exists()


def test_optimize_with_ems_writes_the_station_tables(tmp_path: Path) -> None:
    scenario = tmp_path / "s.toml"
    scenario.write_text("[budget]\ntotal_yuan = 30000000\n[ems]\n", encoding="utf-8")
    out = tmp_path / "plan"
    result = CliRunner().invoke(main, ["optimize", "--scenario", str(scenario), "--out", str(out)])
    assert result.exit_code == 0, result.output
    allocations = pd.read_csv(out / "allocations.csv")
    stations = pd.read_csv(out / "ems_stations.csv")
    added = allocations.loc[allocations["resource"] == "ambulance"].set_index("site_id")["quantity"]
    assert added.to_dict() == stations.loc[stations["added"] > 0].set_index("id")["added"].to_dict()
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert summary["ems"]["after"]["fleet"] == int(stations["ambulances_after"].sum())
    assert "ems_stations" in gpd.list_layers(out / "result.gpkg")["name"].tolist()


def test_a_plan_restarts_from_its_ambulances() -> None:
    from allocopt.optimize import StartPlan

    problem = ems_problem(HAND, budget=100.0)
    result = optimize_problem(problem)
    start = StartPlan.from_result(result)
    assert start.added_ambulances == {"B": 1} and start.opened_stations == frozenset({"B"})


def test_stations_no_demand_point_reaches_are_refused_end_to_end(tmp_path: Path) -> None:
    # Every station moves onto a short road of its own, 10 km from any other road or village: the stations
    # snap to it, the villages do not, and no route joins them.
    bundle = copy_bundle(tmp_path)
    gpkg = bundle / "region.gpkg"
    roads = gpd.read_file(gpkg, layer="roads")
    island = shapely.LineString([(491_592.0, 2_840_363.0), (491_892.0, 2_840_363.0)])
    extra = gpd.GeoDataFrame({"road_class": ["village"], "speed_kmh": [np.nan], "oneway": [False]},
                             geometry=[island], crs=roads.crs)
    pd.concat([roads, extra], ignore_index=True).to_file(gpkg, layer="roads", driver="GPKG")
    stations = gpd.read_file(gpkg, layer="ems_stations")
    stations = stations.set_geometry(gpd.GeoSeries([island.interpolate(0.1 * k, normalized=True)
                                                    for k in range(len(stations))], crs=stations.crs))
    stations.to_file(gpkg, layer="ems_stations", driver="GPKG")
    scenario = tmp_path / "s.toml"
    scenario.write_text("[ems]\n", encoding="utf-8")
    for command in (["ems", str(bundle)], ["optimize", str(bundle), "--scenario", str(scenario)]):
        out = tmp_path / "out"
        result = CliRunner().invoke(main, [*command, "--out", str(out), "--cache-dir", str(tmp_path / "cache")])
        assert result.exit_code == 1, result.output
        assert "layer 'ems_stations'" in result.output and "no station is reachable" in result.output
        assert not out.exists()


def test_station_township_codes_and_candidates_are_checked(tmp_path: Path) -> None:
    bundle = copy_bundle(tmp_path)
    gpkg = bundle / "region.gpkg"
    original = gpd.read_file(gpkg, layer="ems_stations")
    for column, value, field in (("township_code", "T99", "township_code"), ("ambulances", 2, "ambulances")):
        stations = original.copy()
        stations.loc[1, column] = value  # row 2 is a candidate
        stations.to_file(gpkg, layer="ems_stations", driver="GPKG")
        with pytest.raises(DataError, match=rf"layer 'ems_stations', row 2 \(id 'EMS-HC-T01'\), field '{field}'"):
            load_region(bundle)
    original.assign(township_code="").to_file(gpkg, layer="ems_stations", driver="GPKG")
    filled = load_region(bundle).ems_stations
    assert filled is not None and filled["township_code"].tolist() == original["township_code"].tolist()
