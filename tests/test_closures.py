"""Closure scenarios: parsing and bad input, road ids, closed networks, hazard zones, build-region --hazards."""

from __future__ import annotations

import json
from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
from click.testing import CliRunner
from shapely.geometry import LineString, Point, box

from allocopt.build import build_region
from allocopt.cli import main
from allocopt.closures import Closure, closed_network, hazard_zone_lines, line_factors
from allocopt.errors import DataError, ScenarioError
from allocopt.network import build_network, with_line_factors
from allocopt.regions import Region, load_region
from allocopt.scenario import load_scenario, scenario_from_dict, scenario_to_dict
from allocopt.schema import validate
from allocopt.vulnerability import vulnerability

CRS = "EPSG:32647"
ISSUE_EXAMPLE = [
    {"name": "rainy season", "weight": 0.25, "speed_factor": 0.7},
    {"name": "K12 landslide", "weight": 0.05, "roads": ["r0123", "r0124"]},
    {"name": "hazard zones", "weight": 0.1, "hazard_buffer_m": 200},
]


def test_the_three_kinds_of_closure_are_read() -> None:
    scenario = scenario_from_dict({"closures": ISSUE_EXAMPLE})
    rainy, slide, hazard = scenario.closures
    assert (rainy.speed_factor, rainy.road_classes, rainy.roads) == (0.7, (), ())
    assert (slide.weight, slide.roads, slide.speed_factor) == (0.05, ("r0123", "r0124"), 1.0)
    assert hazard.hazard_buffer_m == 200.0
    assert scenario_to_dict(scenario)["closures"] == ISSUE_EXAMPLE


def test_without_closures_the_scenario_is_unchanged() -> None:
    assert scenario_from_dict({}).closures == ()
    assert "closures" not in scenario_to_dict(scenario_from_dict({}))


@pytest.mark.parametrize(
    ("closures", "message"),
    [
        ([{"name": "a", "weight": -0.1, "speed_factor": 0.5}],
         r"\[\[closures\]\] number 1 \('a'\), key 'weight' must be at least 0 and at most 1, got -0.1"),
        ([{"name": "a", "weight": 0.6, "speed_factor": 0.5}, {"name": "b", "weight": 0.5, "roads": ["r1"]}],
         r"the weights sum to 1.1, above 1"),
        ([{"name": "a", "weight": 0.1, "roads": "r1"}], r"number 1 \('a'\), key 'roads' must be a list"),
        ([{"name": "a", "weight": 0.1, "speed_factor": 0}], r"key 'speed_factor' must be above 0"),
        ([{"name": "a", "weight": 0.1}], r"the closure changes nothing"),
        ([{"name": "a", "weight": 0.1, "speed_factor": 0.5, "road_classes": ["motorway"]}],
         r"key 'road_classes': 'motorway' is not one of expressway"),
        ([{"name": "a", "weight": 0.1, "roads": ["r1"], "closed": True}], r"unknown key 'closed'"),
        ([{"weight": 0.1, "roads": ["r1"]}], r"number 1: key 'name' must be non-empty text"),
        ([{"name": "a", "roads": ["r1"]}], r"key 'weight' is missing"),
        ([{"name": "a", "weight": 0.1, "roads": ["r1"]}, {"name": "a", "weight": 0.1, "roads": ["r2"]}],
         r"name 'a' is used twice"),
        ([{"name": "a", "weight": 0.1, "hazard_buffer_m": -5}], r"key 'hazard_buffer_m' must be at least 0"),
        ({"name": "a"}, r"key 'closures' must be a list of \[\[closures\]\] tables"),
    ],
)
def test_bad_closures_name_the_table_and_key(closures: object, message: str) -> None:
    with pytest.raises(ScenarioError, match=r"^my\.toml: .*" + message):
        scenario_from_dict({"closures": closures}, source="my.toml")


def _roads(lines: list[LineString], classes: list[str], ids: list[str] | None = None) -> gpd.GeoDataFrame:
    frame = gpd.GeoDataFrame({"road_class": classes}, geometry=lines, crs=CRS)
    if ids is not None:
        frame.insert(0, "id", ids)
    return validate(frame, "roads", source="roads.gpkg")


def test_roads_without_ids_get_them_from_their_row_numbers() -> None:
    lines = [LineString([(0, 0), (1000, 0)]), LineString([(1000, 0), (2000, 0)]), LineString([(2000, 0), (3000, 0)])]
    assert _roads(lines, ["county"] * 3)["id"].tolist() == ["r0001", "r0002", "r0003"]
    assert _roads(lines, ["county"] * 3, ["K12", "", "7"])["id"].tolist() == ["K12", "r0002", "7"]
    with pytest.raises(DataError, match=r"rows 1 and 2 both have id 'r0002'"):
        _roads(lines, ["county"] * 3, ["r0002", "", "x"])


def test_closing_the_fastest_of_two_parallel_roads_uses_the_other() -> None:
    # 6 km between the same two nodes: a national road (60 km/h, 6 min) and a winding village road
    # (2 x 5 km at 20 km/h, 30 min); a 40 km/h county road (3 km, 4.5 min) beyond.
    roads = _roads([LineString([(0, 0), (6000, 0)]), LineString([(0, 0), (3000, 4000), (6000, 0)]),
                    LineString([(6000, 0), (9000, 0)])], ["national", "village", "county"])
    network = build_network(roads)

    def minutes(net):
        return net.minutes_csr.toarray()[0, 1]

    assert minutes(network) == pytest.approx(6.0)
    assert minutes(closed_network(network, Closure("slide", 0.1, roads=("r0001",)), roads, None)) == \
        pytest.approx(30.0)
    slowed = closed_network(network, Closure("rain", 0.1, speed_factor=0.5, road_classes=("county",)), roads, None)
    assert minutes(slowed) == pytest.approx(6.0) and slowed.minutes_csr.toarray()[1, 2] == pytest.approx(9.0)
    both = with_line_factors(network, np.array([0.0, 0.0, 1.0]))
    assert both.minutes_csr.toarray()[0, 1] == 0.0 and both.component[0] != both.component[1]
    assert np.array_equal(both.node_xy, network.node_xy) and np.array_equal(both.core, network.core)


def test_hazard_zones_close_the_lines_within_their_buffer() -> None:
    roads = _roads([LineString([(0, 0), (1000, 0)]), LineString([(0, 500), (1000, 500)]),
                    LineString([(0, 2000), (1000, 2000)])], ["county"] * 3)
    hazards = validate(gpd.GeoDataFrame({"kind": ["landslide", "flood"]},
                                        geometry=[Point(500, 150), box(0, 1700, 100, 1750)], crs=CRS),
                       "hazards", source="hazards.gpkg")
    lines = hazard_zone_lines(roads, hazards, 160.0)
    assert {zone: rows.tolist() for zone, rows in lines.items()} == {"h0001": [0], "h0002": []}
    assert hazard_zone_lines(roads, hazards, 360.0)["h0001"].tolist() == [0, 1]
    assert hazard_zone_lines(roads, hazards, 260.0)["h0002"].tolist() == [2]
    closure = Closure("hazards", 0.1, hazard_buffer_m=200.0)
    assert line_factors(closure, roads, hazards).tolist() == [0.0, 1.0, 1.0]
    with pytest.raises(DataError, match=r"hazards layer is in .*4326.*project it to the region CRS"):
        hazard_zone_lines(roads, hazards.to_crs("EPSG:4326"), 100.0)


def test_a_closure_checks_its_roads_and_hazards_against_the_region(tiny_region: Region) -> None:
    roads = tiny_region.roads
    assert roads["id"].iloc[0] == "r0001"
    unknown = Closure("slide", 0.1, roads=("r0001", "nope"), label="[[closures]] number 2 ('slide')", source="s.toml")
    with pytest.raises(ScenarioError, match=r"^s\.toml: \[\[closures\]\] number 2 \('slide'\), key 'roads': road "
                                            r"id\(s\) 'nope' are not in the roads layer"):
        line_factors(unknown, roads, None)
    with pytest.raises(ScenarioError, match=r"key 'hazard_buffer_m': the region has no hazards layer"):
        line_factors(Closure("h", 0.1, hazard_buffer_m=10.0), roads, tiny_region.hazards)


def _tiny_copy_with_hazards(tiny: Path, tmp_path: Path, hazards: gpd.GeoDataFrame) -> Path:
    bundle = tmp_path / "tiny"
    bundle.mkdir(parents=True)
    for item in tiny.iterdir():
        (bundle / item.name).write_bytes(item.read_bytes())
    hazards.to_file(bundle / "hazards.gpkg", layer="hazards")
    with (bundle / "region.toml").open("a", encoding="utf-8") as toml:
        toml.write('\n[layers.hazards]\nfile = "hazards.gpkg"\nsource = "test"\nlicense = "CC0"\n')
    return bundle


def test_a_bundle_hazards_layer_is_read_and_checked(tiny_region_path: Path, tiny_region: Region,
                                                     tmp_path: Path) -> None:
    centre = tiny_region.townships.geometry.union_all().centroid
    inside = gpd.GeoDataFrame({"id": ["slide-1"]}, geometry=[centre], crs=tiny_region.crs).to_crs("EPSG:4326")
    region = load_region(_tiny_copy_with_hazards(tiny_region_path, tmp_path / "a", inside))
    assert region.hazards is not None and region.hazards["id"].tolist() == ["slide-1"]
    assert region.hazards.crs.equals(region.crs)
    far = gpd.GeoDataFrame({"id": ["far"]}, geometry=[Point(centre.x + 500_000, centre.y)], crs=tiny_region.crs)
    with pytest.raises(DataError, match=r"hazards\.gpkg, layer 'hazards': every hazard zone lies outside the "
                                        r"townships' extent"):
        load_region(_tiny_copy_with_hazards(tiny_region_path, tmp_path / "b", far))


def test_build_region_reads_hazards(tmp_path: Path) -> None:
    from test_build import CHINESE_MAP, write_facilities, write_roads, write_townships

    hazards = tmp_path / "滑坡.geojson"
    gpd.GeoDataFrame({"kind": ["landslide"]}, geometry=[Point(117.03, 31.02).buffer(0.002)],
                     crs="EPSG:4326").to_file(hazards)
    build_region(tmp_path / "county", townships=write_townships(tmp_path / "t.gpkg"),
                 roads=write_roads(tmp_path / "r.geojson"), facilities=write_facilities(tmp_path / "f.csv"),
                 hazards=hazards, column_map=CHINESE_MAP)
    region = load_region(tmp_path / "county")
    assert region.hazards is not None and region.hazards["id"].tolist() == ["h0001"]
    assert region.hazards["kind"].tolist() == ["landslide"]
    closed = line_factors(Closure("slide", 0.1, hazard_buffer_m=50.0), region.roads, region.hazards)
    assert 0 < (closed == 0).sum() < len(closed)


def test_ranking_hazard_zones_matches_closing_them_as_a_scenario(tiny_region_path: Path, tiny_region: Region,
                                                                 tmp_path: Path) -> None:
    runner = CliRunner()
    no_layer = runner.invoke(main, ["vulnerability", str(tiny_region_path), "--hazard-buffer-m", "100",
                                    "--cache-dir", str(tmp_path / "cache")])
    assert no_layer.exit_code == 1 and "the region has no hazards layer" in no_layer.output
    # one zone on the middle of the most critical road line
    ranked = vulnerability(tiny_region, build_network(tiny_region.roads), load_scenario(None)).table
    assert ranked["residents_most"].iloc[0] > 0
    road = tiny_region.roads.set_index("id").geometry[ranked["id"].iloc[0]]
    zone = gpd.GeoDataFrame({"id": ["slide"]}, geometry=[road.interpolate(0.5, normalized=True)],
                            crs=tiny_region.crs)
    bundle = _tiny_copy_with_hazards(tiny_region_path, tmp_path, zone)
    scenario = tmp_path / "s.toml"
    scenario.write_text('[[closures]]\nname = "slide"\nweight = 0.1\nhazard_buffer_m = 300\n', encoding="utf-8")
    result = runner.invoke(main, ["vulnerability", str(bundle), "--scenario", str(scenario), "--hazard-buffer-m",
                                  "300", "--format", "json", "--cache-dir", str(tmp_path / "cache")])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    [link] = data["links"]
    assert (link["id"], link["kind"]) == ("slide", "hazard zone")
    for row in data["scenarios"]:
        assert link["services"][row["service"]]["residents"] == pytest.approx(
            row["unserved_after"] - row["unserved_before"])
    assert any(row["unserved_after"] > row["unserved_before"] for row in data["scenarios"])
