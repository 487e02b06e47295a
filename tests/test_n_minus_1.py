"""n-1 coverage: a hand-made bridge, brute force over site choices with every single failure recomputed by
networkx, the option off, bad input and the command's outputs."""

from __future__ import annotations

import itertools
import json
from dataclasses import replace
from pathlib import Path

import geopandas as gpd
import networkx as nx
import numpy as np
import pandas as pd
import pytest
import shapely
from click.testing import CliRunner
from shapely.geometry import LineString

from allocopt import workflow
from allocopt.cli import main
from allocopt.errors import InfeasibleError, ScenarioError
from allocopt.failure_coverage import failure_sets
from allocopt.model import Problem, build_model
from allocopt.n_minus_1 import parse_n_minus_1
from allocopt.network import RoadNetwork, build_network, snap
from allocopt.optimize import optimize_problem
from allocopt.results import Result
from allocopt.scenario import scenario_from_dict
from allocopt.services import GP_SHORTAGE, SERVICES
from allocopt.travel import travel_times

CRS = "EPSG:32647"
TRACK_KMH = 20.0
CT_YUAN = 3_200_000.0  # capital plus one year of running cost of a CT (the defaults)
GP_YUAN = 200_000.0  # the same of a GP


def _scenario(budget_ct: int, threshold: float, n_minus_1: dict | None, service: str = "ct") -> dict:
    """Only `service` counts, within `threshold` minutes; the budget buys `budget_ct` CTs (or as many GPs, each
    making a township health center a first-contact point: provider "gp")."""
    unit_yuan = CT_YUAN if service == "ct" else GP_YUAN
    data = {"budget": {"total_yuan": budget_ct * unit_yuan + 10_000.0},
            "weights": {**{s: 0.0 for s in SERVICES}, GP_SHORTAGE: 0.0, service: 1.0},
            "thresholds_minutes": {service: threshold}, "primary_care": {"provider": "gp"}}
    return data if n_minus_1 is None else {**data, "n_minus_1": n_minus_1}


def _roads(lines: list[LineString], classes: list[str]) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame({"id": [f"r{i}" for i in range(len(lines))], "road_class": classes,
                             "speed_kmh": np.nan, "oneway": False}, geometry=lines, crs=CRS)


def _points(xy: list[tuple[float, float]] | np.ndarray) -> gpd.GeoSeries:
    return gpd.GeoSeries(shapely.points(np.asarray(xy, dtype=float)), crs=CRS)


def _problem(roads: gpd.GeoDataFrame, demand: gpd.GeoSeries, population: np.ndarray, sites: gpd.GeoSeries,
             scenario: dict) -> tuple[Problem, RoadNetwork]:
    """The CT problem over the roads, with the failure sets when the scenario has [n_minus_1]."""
    network = build_network(roads)
    demand_ids, site_ids = [f"d{i}" for i in range(len(demand))], [f"s{j}" for j in range(len(sites))]
    minutes = travel_times(network, demand, sites, origin_ids=demand_ids, destination_ids=site_ids,
                           access_speed_kmh=TRACK_KMH).minutes
    parsed = scenario_from_dict(scenario)
    problem = Problem.from_arrays(scenario=parsed, demand_ids=demand_ids, demand_population=population,
                                  demand_township=["t"] * len(demand), township_ids=["t"], site_ids=site_ids,
                                  site_kind=["existing"] * len(sites), site_level=["township_hc"] * len(sites),
                                  site_township=["t"] * len(sites), minutes=minutes)
    if parsed.n_minus_1 is None:
        return problem, network
    sets = failure_sets(network, problem, parsed.n_minus_1, roads=roads, demand=demand, sites=sites,
                        access_speed_kmh=TRACK_KMH)
    return replace(problem, n_minus_1=sets), network


def _ct_sites(result: Result, column: str = "added_ct") -> set[str]:
    return set(result.sites.loc[result.sites[column] > 0, "id"])


# The bridge. West bank: village W (1,000 people) at site A. A county road (r0, 1 km) to the bridge, the only
# crossing (r1, national, 1 km); on the east bank two parallel county roads from the bridge to village E (500
# people) at site B: a straight one (r2, 4 km, 6 min) and a bent one (r3, 2 x 2.5 km, 7.5 min).
# A to E: 1.5 + 1 + 6 = 8.5 minutes (10 without r2), within the 30-minute threshold; so is B to W.
BRIDGE_ROADS = _roads([LineString([(0, 0), (1000, 0)]), LineString([(1000, 0), (2000, 0)]),
                       LineString([(2000, 0), (6000, 0)]), LineString([(2000, 0), (4000, 1500), (6000, 0)])],
                      ["county", "national", "county", "county"])
BRIDGE_POINTS = _points([(0, 0), (6000, 0)])
BRIDGE_POPULATION = np.array([1000.0, 500.0])


def _bridge(budget_ct: int, n_minus_1: dict | None) -> Result:
    problem, _ = _problem(BRIDGE_ROADS, BRIDGE_POINTS, BRIDGE_POPULATION, BRIDGE_POINTS,
                          _scenario(budget_ct, 30.0, n_minus_1))
    return optimize_problem(problem)


def test_hard_n_minus_1_puts_a_second_ct_beyond_the_bridge() -> None:
    plain = _bridge(2, None)
    assert len(_ct_sites(plain)) == 1 and plain.unserved_after["ct"] == 0  # one CT covers both banks
    hard = _bridge(2, {"mode": "hard", "services": ["ct"]})
    assert _ct_sites(hard) == {"s0", "s1"}
    summary = hard.n_minus_1.summary["ct"]
    assert summary["points_keeping_after"] == 2 and summary["people_keeping_after"] == 1500
    assert summary["points_keeping_before"] == 0 and summary["points_no_plan_can_keep"] == []
    assert hard.n_minus_1.table.empty  # no CT today, and nobody loses the two CTs in any failure


def test_soft_n_minus_1_with_one_ct_keeps_the_larger_bank() -> None:
    # One CT: at A, the bridge failing cuts E (500 people); at B it cuts W (1,000): soft n-1 chooses A.
    soft = _bridge(1, {"services": ["ct"]})
    assert _ct_sites(soft) == {"s0"}
    assert soft.objective == pytest.approx(500.0)  # nobody unserved, 500 lose CT in the worst failure
    # r2 fails: E reaches A by r3 in 10 minutes, so only the bridge and the road to it break the CT's reach.
    assert soft.n_minus_1.table.set_index("road_id")["people_losing_after"].to_dict() == {"r0": 500.0, "r1": 500.0}
    # With two CTs it buys the second: nobody loses CT in any single failure.
    assert _ct_sites(_bridge(2, {"services": ["ct"]})) == {"s0", "s1"}


def test_primary_care_counts_every_site_under_n_minus_1() -> None:
    # GPs instead of CTs, and the east bank the larger (1,000 people at B, 500 at A). Both sites reach both banks,
    # so the plain model counts only the first of the two (B is dominated: `dominated_primary_sites`); with n-1 on
    # primary care every site counts, and the one GP goes to B: the bridge failing then cuts only A's 500.
    scenario = _scenario(1, 30.0, {"services": ["primary_care"]}, "primary_care")
    problem, _ = _problem(BRIDGE_ROADS, BRIDGE_POINTS, BRIDGE_POPULATION[::-1].copy(), BRIDGE_POINTS, scenario)
    result = optimize_problem(problem)
    assert _ct_sites(result, "added_gps") == {"s1"}
    assert result.objective == pytest.approx(500.0)


def test_an_unaffordable_hard_target_is_explained_with_soft_n_minus_1_on() -> None:
    scenario = {**_scenario(0, 30.0, {"services": ["ct"]}), "targets": {"min_covered_share": {"ct": 1.0}}}
    problem, _ = _problem(BRIDGE_ROADS, BRIDGE_POINTS, BRIDGE_POPULATION, BRIDGE_POINTS, scenario)
    with pytest.raises(InfeasibleError, match="costs at least 3,200,000 yuan; the budget is 10,000 yuan"):
        optimize_problem(problem)


def test_only_the_chosen_segments_fail() -> None:
    # Only the east bank's straight road may fail: E keeps A by the bent road, so one CT is enough.
    hard = _bridge(2, {"mode": "hard", "services": ["ct"], "roads": ["r2"]})
    assert len(_ct_sites(hard)) == 1
    assert hard.n_minus_1.summary["ct"]["points_keeping_after"] == 2


def _random_case(seed: int) -> tuple[gpd.GeoDataFrame, gpd.GeoSeries, np.ndarray, gpd.GeoSeries]:
    rng = np.random.default_rng(seed)
    corners = rng.uniform(0, 8_000, (14, 2))
    lines, classes = [], []
    for start, end in [(a, b) for a in range(14) for b in range(a + 1, 14) if rng.random() < 0.22]:
        lines.append(LineString([corners[start], corners[end]]))
        classes.append(str(rng.choice(["national", "county", "village"])))
    roads = _roads(lines, classes)
    demand, sites = _points(rng.uniform(0, 8_000, (12, 2))), _points(rng.uniform(0, 8_000, (5, 2)))
    return roads, demand, rng.integers(10, 1000, 12).astype(float), sites


def _nx_minutes(network: RoadNetwork, roads_closed: set[int], demand: gpd.GeoSeries,
                sites: gpd.GeoSeries) -> np.ndarray:
    """Demand x site minutes by networkx on the road pieces of every line not in `roads_closed`."""
    graph = nx.DiGraph()
    graph.add_nodes_from(range(network.n_nodes))
    pieces = network.segments
    for s, t, minutes, line in zip(pieces.source, pieces.target, pieces.minutes, pieces.line, strict=True):
        if int(line) in roads_closed:
            continue
        if not graph.has_edge(s, t) or graph[s][t]["minutes"] > minutes:
            graph.add_edge(int(s), int(t), minutes=float(minutes))
    origin, destination = snap(network, demand, access_speed_kmh=TRACK_KMH), snap(network, sites,
                                                                                    access_speed_kmh=TRACK_KMH)
    out = np.full((len(demand), len(sites)), np.inf)
    for i in range(len(demand)):
        reach = nx.single_source_dijkstra_path_length(graph, int(origin.node[i]), weight="minutes")
        for j in range(len(sites)):
            if int(destination.node[j]) in reach:
                out[i, j] = origin.access_minutes[i] + reach[int(destination.node[j])] + destination.access_minutes[j]
    return out


def _brute_force(roads: gpd.GeoDataFrame, demand: gpd.GeoSeries, population: np.ndarray, sites: gpd.GeoSeries,
                 threshold: float, budget_ct: int, mode: str, weight: float) -> dict[frozenset[int], float | None]:
    """Every choice of CT sites within the budget: its objective (gap, plus for soft the weight times the people
    losing CT in the worst single failure of a national or county road), None where hard n-1 is not met."""
    network = build_network(roads)
    failing = [row for row, c in enumerate(roads["road_class"]) if c in ("national", "county")]
    normal = _nx_minutes(network, set(), demand, sites) <= threshold
    failed = [_nx_minutes(network, {row}, demand, sites) <= threshold for row in failing]
    required = (population > 0) & normal.any(axis=1) & np.all([f.any(axis=1) for f in failed], axis=0)
    out: dict[frozenset[int], float | None] = {}
    for size in range(budget_ct + 1):
        for chosen in map(list, itertools.combinations(range(len(sites)), size)):
            covered = normal[:, chosen].any(axis=1)
            kept = [f[:, chosen].any(axis=1) for f in failed]
            gap = float(population[~covered].sum())
            if mode == "hard":
                ok = all((k | ~required).all() for k in kept) and (covered | ~required).all()
                out[frozenset(chosen)] = gap if ok else None
            else:
                worst = max((float(population[covered & ~k].sum()) for k in kept), default=0.0)
                out[frozenset(chosen)] = gap + weight * worst
    return out


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize(("mode", "weight"), [("hard", 1.0), ("soft", 1.0), ("soft", 0.4)])
@pytest.mark.parametrize("service", ["ct", "primary_care"])
def test_n_minus_1_plan_is_the_best_of_every_choice(seed: int, mode: str, weight: float, service: str) -> None:
    # primary care: GPs at sites of one township, where the plain model leaves dominated sites out of coverage
    roads, demand, population, sites = _random_case(seed)
    threshold, budget_ct = 16.0, 3 if mode == "hard" else 2
    settings = {"mode": mode, "services": [service], "road_classes": ["national", "county"]}
    if mode == "soft":
        settings["weight"] = weight
    if not set(roads["road_class"]) >= {"national", "county"}:
        pytest.skip("the random graph lacks a road class")
    values = _brute_force(roads, demand, population, sites, threshold, budget_ct, mode, weight)
    problem, _ = _problem(roads, demand, population, sites, _scenario(budget_ct, threshold, settings, service))
    feasible = [v for v in values.values() if v is not None]
    if not feasible:
        with pytest.raises(InfeasibleError, match=r"\[n_minus_1\] mode = \"hard\""):
            optimize_problem(problem)
        return
    best = min(feasible)
    result = optimize_problem(problem)
    chosen = frozenset(int(site[1:]) for site in _ct_sites(result, "added_ct" if service == "ct" else "added_gps"))
    assert values[chosen] is not None
    assert values[chosen] == pytest.approx(best, abs=1e-6)
    assert result.objective == pytest.approx(best, abs=1e-6)


@pytest.mark.parametrize("seed", [1, 2])
def test_failure_sets_match_networkx_per_segment(seed: int) -> None:
    # two services of different thresholds (CT within 16 minutes, DR within 9) share the searches
    roads, demand, population, sites = _random_case(seed)
    settings = {"services": ["ct", "dr"], "road_classes": ["national", "county"]}
    scenario = _scenario(2, 16.0, settings)
    scenario["thresholds_minutes"]["dr"] = 9.0
    problem, network = _problem(roads, demand, population, sites, scenario)
    sets = problem.n_minus_1
    assert sets.searches <= sets.full_recompute_searches
    normal = _nx_minutes(network, set(), demand, sites)
    failed = {row: _nx_minutes(network, {row}, demand, sites) for row, c in enumerate(roads["road_class"])
              if c in ("national", "county")}
    for service, threshold in (("ct", 16.0), ("dr", 9.0)):
        kept = sets.kept(problem, service)
        found = {(int(i), sets.segment_ids[e]): frozenset(kept[[r]].indices)
                 for r, (i, e) in enumerate(zip(sets.point[service], sets.segment[service], strict=True))}
        expected = {}
        for row, minutes in failed.items():
            lost = (normal <= threshold) & (minutes > threshold)
            for i in np.flatnonzero(lost.any(axis=1)):
                expected[int(i), roads["id"][row]] = frozenset(np.flatnonzero(minutes[i] <= threshold))
        assert found == expected and expected


@pytest.mark.parametrize(("table", "message"), [
    ({"mode": "maybe"}, "[n_minus_1], key 'mode': 'maybe' is not one of hard, soft"),
    ({"services": ["xray"]}, "[n_minus_1], key 'services': 'xray' is not one of"),
    ({"road_classes": ["motorway"]}, "[n_minus_1], key 'road_classes': 'motorway' is not one of"),
    ({"weight": 1.5}, "[n_minus_1], key 'weight' must be a number above 0 and at most 1"),
    ({"mode": "hard", "weight": 0.5}, "key 'weight' applies to mode = \"soft\" only"),
    ({"road_classes": []}, "no segment may fail"),
    ({"segments": []}, "unknown key 'segments'"),
])
def test_bad_sections_name_the_key(table: dict, message: str) -> None:
    with pytest.raises(ScenarioError) as caught:
        parse_n_minus_1(table)
    assert message in str(caught.value)


def test_the_section_defaults() -> None:
    settings = parse_n_minus_1({})
    assert settings.services == SERVICES and settings.mode == "soft" and settings.weight == 1.0
    assert settings.failing_classes == ("national", "provincial", "county")
    assert parse_n_minus_1({"roads": ["r1"]}).failing_classes == ()


REGION_SCENARIO = Path(__file__).resolve().parents[1] / "data" / "regions" / "valley-county" / "scenario.toml"


def _optimize(tmp_path: Path, extra: str | None, output_format: str = "json") -> tuple[int, str, Path]:
    out = tmp_path / f"plan{len(list(tmp_path.iterdir()))}"
    command = ["optimize", "--out", str(out), "--format", output_format, "--cache-dir", str(tmp_path / "cache"),
               "--lang", "en"]
    if extra is not None:
        path = tmp_path / f"scenario{len(list(tmp_path.iterdir()))}.toml"
        path.write_text(REGION_SCENARIO.read_text(encoding="utf-8") + extra, encoding="utf-8")
        command += ["--scenario", str(path)]
    result = CliRunner().invoke(main, command)
    return result.exit_code, result.output, out


@pytest.mark.parametrize(("extra", "message"), [
    ('\n[n_minus_1]\nroads = ["r0001", "r9999"]\n', "[n_minus_1], key 'roads': road id(s) 'r9999' are not in the"),
    ('\n[n_minus_1]\nroad_classes = ["expressway"]\n',
     "[n_minus_1], key 'road_classes': no road of class 'expressway' in the roads layer"),
    ('\n[n_minus_1]\nmode = "always"\n', "[n_minus_1], key 'mode'"),
])
def test_bad_input_names_the_key_and_writes_nothing(tmp_path: Path, extra: str, message: str) -> None:
    code, output, out = _optimize(tmp_path, extra)
    assert code != 0 and message in output and output.count("[n_minus_1]") == 1
    assert not out.exists()


def test_robust_and_travel_refuse_what_they_cannot_plan(tmp_path: Path) -> None:
    closures = '\n[[closures]]\nname = "slide"\nweight = 0.1\nroads = ["r0001"]\n'
    path = tmp_path / "robust.toml"
    region = REGION_SCENARIO.read_text(encoding="utf-8").split("\n[ems]")[0] + "\n"  # --robust plans no ambulances
    path.write_text(region + closures + "\n[n_minus_1]\n", encoding="utf-8")
    for args, message in ((["--robust", "expected"], "optimize --robust does not combine with [n_minus_1] yet"),
                          (["--objective", "travel"], "use mode = \"hard\" or the gap objective")):
        out = tmp_path / "plan"
        result = CliRunner().invoke(main, ["optimize", "--scenario", str(path), "--out", str(out), *args,
                                           "--cache-dir", str(tmp_path / "cache")])
        assert result.exit_code != 0 and message in result.output
        assert not out.exists()


def test_with_the_option_off_the_model_is_todays(tmp_path: Path) -> None:
    prepared = workflow.prepare("valley-county", cache_dir=tmp_path / "cache")
    assert prepared.scenario.n_minus_1 is None
    problem = workflow.prepared_problem(prepared)
    assert problem.n_minus_1 is None
    model = build_model(problem)
    assert not [c for c in model.lp.constraints() if c.name.startswith("n_minus_1")]
    assert not [v for v in model.lp.variables() if v.name.startswith("n_minus_1")]
    code, output, out = _optimize(tmp_path, None)
    assert code == 0 and "n_minus_1" not in json.loads(output)
    assert not (out / "n_minus_1.csv").exists()


def test_valley_county_writes_the_n_minus_1_figures(tmp_path: Path) -> None:
    code, output, out = _optimize(tmp_path, '\n[n_minus_1]\nroad_classes = ["national", "county"]\n'
                                            'services = ["primary_care", "stroke"]\n', output_format="table")
    assert code == 0, output
    assert "Residents keeping each service under any single road failure" in output and "people_keeping_after" in output
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))["n_minus_1"]
    assert summary["settings"]["mode"] == "soft"
    table = pd.read_csv(out / "n_minus_1.csv", encoding="utf-8-sig")
    layer = gpd.read_file(out / "result.gpkg", layer="n_minus_1")
    assert list(layer["road_id"]) == list(table["road_id"]) and layer.geometry.notna().all()
    assert set(table["service"]) <= {"primary_care", "stroke"}
    for service, figures in summary["services"].items():
        assert figures["points_keeping_after"] <= figures["points_covered_after"]
        assert figures["people_keeping_after"] <= figures["people_covered_after"]
        breaking = table[(table["service"] == service) & (table["points_losing_after"] > 0)]
        assert sorted(breaking["road_id"]) == sorted(figures["segments_breaking_after"])


def test_hard_rows_are_one_per_distinct_set(tmp_path: Path) -> None:
    path = tmp_path / "hard.toml"
    path.write_text(REGION_SCENARIO.read_text(encoding="utf-8") + '\n[n_minus_1]\nmode = "hard"\n'
                    'road_classes = ["national", "county"]\nservices = ["primary_care"]\n', encoding="utf-8")
    prepared = workflow.prepare("valley-county", scenario_path=path, cache_dir=tmp_path / "cache")
    model = build_model(workflow.prepared_problem(prepared))
    rows = [frozenset(var.name for var in c) for c in model.lp.constraints() if c.name.startswith("n_minus_1")]
    assert rows and len(rows) == len(set(rows))
