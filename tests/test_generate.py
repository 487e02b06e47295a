"""Tests of the seeded synthetic region generator and of the committed valley-county bundle it produced."""

from __future__ import annotations

import itertools
import tomllib
from pathlib import Path
from typing import Any

import geopandas as gpd
import networkx as nx
import numpy as np
import pandas as pd
import pyogrio
import pytest
import shapely

from allocopt.errors import DataError, OutputError
from allocopt.generate import (
    CRS,
    LUSHUI_65PLUS,
    LUSHUI_POPULATION,
    GeneratedRegion,
    generate_region,
    write_region,
)
from allocopt.scenario import load_scenario
from allocopt.schema import LAYERS, ROAD_CLASSES
from allocopt.services import LEVELS

VALLEY_COUNTY = Path(__file__).resolve().parents[1] / "data" / "regions" / "valley-county"
REAL_LUSHUI_TOWNSHIPS = ("大练地", "六库", "鲁掌", "片马", "上江", "老窝", "大兴地", "称杆", "古登", "洛本卓")
DTYPES = {"str": "str", "int": "int64", "float": "float64", "bool": "bool"}


@pytest.fixture(scope="module")
def county() -> GeneratedRegion:
    return generate_region(townships=10, villages=100, seed=7)


@pytest.fixture(scope="module")
def city() -> GeneratedRegion:
    """Three valleys side by side: exercises shared edges between strips and roads over the ridges."""
    return generate_region(townships=30, villages=400, seed=11, population=900_000, area_km2=9_000)


def assert_same_layer(left: gpd.GeoDataFrame, right: gpd.GeoDataFrame) -> None:
    """Same columns, dtypes and values; geometries equal to the centimetre."""
    pd.testing.assert_frame_equal(
        pd.DataFrame(left.drop(columns="geometry")).reset_index(drop=True),
        pd.DataFrame(right.drop(columns="geometry")).reset_index(drop=True),
    )
    assert left.crs == right.crs
    assert shapely.equals_exact(left.geometry.values, right.geometry.values, tolerance=0.01).all()


def road_graph(region: GeneratedRegion) -> nx.Graph:
    """Graph on road vertices rounded to the centimetre, consecutive vertices of a line joined."""
    graph = nx.Graph()
    for line in region.roads.geometry.values:
        vertices = [tuple(v) for v in np.round(shapely.get_coordinates(line), 2)]
        graph.add_edges_from(itertools.pairwise(vertices))
    return graph


def point_keys(points: gpd.GeoSeries) -> set[tuple[float, float]]:
    return {tuple(v) for v in np.round(shapely.get_coordinates(points.values), 2)}


def test_same_seed_gives_the_same_region(county: GeneratedRegion) -> None:
    again = generate_region(townships=10, villages=100, seed=7)
    assert again.meta == county.meta and again.scenario == county.scenario
    for name, layer in county.layers().items():
        assert_same_layer(layer, again.layers()[name])


def test_other_seed_gives_another_region(county: GeneratedRegion) -> None:
    other = generate_region(townships=10, villages=100, seed=8)
    assert not np.array_equal(other.demand["population"], county.demand["population"])
    assert not shapely.equals_exact(other.demand.geometry.values, county.demand.geometry.values, 1.0).all()


@pytest.mark.parametrize(("population", "villages"), [(LUSHUI_POPULATION, 100), (12_345, 37), (1_000, 20)])
def test_populations_sum_exactly(population: int, villages: int) -> None:
    region = generate_region(townships=5, villages=villages, seed=3, population=population, candidates=2)
    demand = region.demand
    assert demand["population"].sum() == population
    assert (demand["population"] == demand["population"].round()).all() and (demand["population"] >= 0).all()
    assert demand["population_65plus"].sum() == round(population * LUSHUI_65PLUS / LUSHUI_POPULATION)
    assert (demand["population_65plus"] <= demand["population"]).all()
    by_township = demand.groupby("township_code")[["population", "population_65plus"]].sum()
    townships = region.townships.set_index("code")
    pd.testing.assert_frame_equal(by_township, townships[["population", "population_65plus"]], check_names=False)


def test_county_seat_holds_the_urban_core_share(county: GeneratedRegion) -> None:
    assert county.demand["population"].max() == 73_750  # Lushui's 2020 urban-core (城区) population


@pytest.mark.parametrize("region_name", ["county", "city"])
def test_every_site_and_village_is_on_one_connected_road_network(
    region_name: str, request: pytest.FixtureRequest
) -> None:
    region: GeneratedRegion = request.getfixturevalue(region_name)
    graph = road_graph(region)
    assert nx.number_connected_components(graph) == 1
    for layer in (region.demand, region.facilities, region.candidates):
        assert point_keys(layer.geometry) <= set(graph.nodes)


def test_roads_meet_only_at_line_endpoints(county: GeneratedRegion) -> None:
    """A line's interior vertex never lands on another line: the trunk is split at every junction."""
    coords, line = shapely.get_coordinates(county.roads.geometry.values, return_index=True)
    keys = [tuple(v) for v in np.round(coords, 2)]
    first = np.r_[True, line[1:] != line[:-1]]
    last = np.r_[line[1:] != line[:-1], True]
    endpoints = {k for k, f, e in zip(keys, first, last, strict=True) if f or e}
    interior = [k for k, f, e in zip(keys, first, last, strict=True) if not (f or e)]
    assert not endpoints & set(interior)
    assert len(interior) == len(set(interior))


@pytest.mark.parametrize("region_name", ["county", "city"])
def test_townships_tile_the_area_without_overlaps(region_name: str, request: pytest.FixtureRequest) -> None:
    region: GeneratedRegion = request.getfixturevalue(region_name)
    polygons = region.townships.geometry.values
    assert shapely.is_valid(polygons).all()
    left, right = shapely.STRtree(polygons).query(polygons, predicate="intersects")
    pairs = left < right
    assert pairs.any()  # neighbours touch
    assert shapely.area(shapely.intersection(polygons[left[pairs]], polygons[right[pairs]])).sum() < 1.0
    area_km2 = region.meta["generator"]["area_km2"]
    assert shapely.area(polygons).sum() / 1e6 == pytest.approx(area_km2, rel=1e-6)
    assert shapely.union_all(polygons).area / 1e6 == pytest.approx(area_km2, rel=1e-6)


@pytest.mark.parametrize("region_name", ["county", "city"])
def test_points_lie_in_their_townships(region_name: str, request: pytest.FixtureRequest) -> None:
    region: GeneratedRegion = request.getfixturevalue(region_name)
    townships = region.townships[["code", "geometry"]]
    demand = region.demand.sjoin(townships, predicate="within")
    assert len(demand) == len(region.demand) and (demand["code"] == demand["township_code"]).all()
    for layer in (region.facilities, region.candidates):
        assert len(layer.sjoin(townships, predicate="within")) == len(layer)


def test_one_township_health_center_per_township_in_its_largest_village(city: GeneratedRegion) -> None:
    centers = city.facilities[city.facilities["level"] == "township_hc"].sjoin(
        city.townships[["code", "geometry"]], predicate="within"
    )
    assert sorted(centers["code"]) == sorted(city.townships["code"])
    assert (centers["id"] == "HC-" + centers["code"]).all()
    seats = city.demand.loc[city.demand.groupby("township_code")["population"].idxmax()]
    assert point_keys(centers.geometry) <= point_keys(city.demand.geometry)
    assert point_keys(centers.geometry) == point_keys(seats.geometry)


def test_layers_follow_the_schema(county: GeneratedRegion) -> None:
    assert county.crs.to_epsg() == 32647 and CRS == "EPSG:32647"
    for name, layer in county.layers().items():
        spec = LAYERS[name]
        given = [c for c in spec.columns if not (c.name == spec.id_column and spec.generated_id_prefix)]
        assert list(layer.columns) == [c.name for c in given] + ["geometry"]
        assert {c.name: DTYPES[c.dtype] for c in given} == {c.name: str(layer[c.name].dtype) for c in given}
        assert layer.crs == county.crs
    sites = pd.concat([county.facilities["id"], county.candidates["id"]])
    assert sites.is_unique
    assert set(county.facilities["level"]) <= set(LEVELS)
    assert set(county.candidates["level"]) == {"village_clinic"}  # one health center per township
    assert set(county.roads["road_class"]) <= set(ROAD_CLASSES)
    assert county.roads["speed_kmh"].notna().any() and county.roads["speed_kmh"].isna().any()


def test_facilities_match_the_design(county: GeneratedRegion) -> None:
    facilities = county.facilities.set_index("id")
    hospitals = facilities[facilities["level"] == "county_hospital"]
    assert list(hospitals.index) == ["H01", "H02", "H03"]
    assert hospitals["hospital_kind"].tolist() == ["general", "tcm", "mch"]
    assert hospitals["ct"].tolist() == [1, 0, 0] and hospitals["ecg"].min() >= 1
    assert hospitals.loc["H01", "ultrasound"] >= 1 and 300 <= hospitals.loc["H01", "beds"] <= 500
    assert hospitals.loc["H03", "beds"] < hospitals.loc["H02", "beds"] < hospitals.loc["H01", "beds"]
    centers = facilities[facilities["level"] == "township_hc"]
    assert centers["gps"].between(0, 4).all() and (centers["gps"] == 0).any()
    assert centers["beds"].between(10, 60).all() and 1 <= centers["central"].sum() <= 2
    assert centers.loc[centers["central"], ["dr", "ultrasound", "ecg"]].ge(1).all().all()
    assert centers["name"][centers["central"]].str.endswith("中心卫生院").all()
    assert set(centers["consortium_lead"]) == {"H01", "H02"}
    clinics = facilities[facilities["level"] == "village_clinic"]
    assert len(clinics) == round(0.5 * (100 - 10))
    assert clinics["gps"].between(0, 1).all() and clinics["beds"].eq(0).all()
    assert clinics["village_doctors"].between(0, 3).all() and (clinics["village_doctors"] == 0).any()
    assert facilities.loc[facilities["level"] != "village_clinic", "village_doctors"].eq(0).all()
    assert facilities["gps"].sum() == round(LUSHUI_POPULATION * 1.5 / 10_000)
    assert not facilities[["chest_pain_center", "stroke_center", "trauma_center"]].any().any()


def test_candidates_sit_in_large_remote_villages(county: GeneratedRegion) -> None:
    candidates = county.candidates
    assert len(candidates) == 8
    assert candidates["open_cost_yuan"].between(2e5, 5e5).all()
    facilities = county.facilities
    staffed = facilities[(facilities["level"] != "county_hospital")
                         & ((facilities["gps"] + facilities["village_doctors"] >= 1)
                            | (facilities["level"] == "township_hc"))]
    grassroots = facilities[facilities["level"] != "county_hospital"]
    assert not point_keys(candidates.geometry) & point_keys(grassroots.geometry)  # villages without a clinic
    assert point_keys(candidates.geometry) <= point_keys(county.demand.geometry)
    nearest_site_m = candidates.geometry.apply(lambda p: staffed.distance(p).min())
    village_nearest_m = county.demand.geometry.apply(lambda p: staffed.distance(p).min())
    assert nearest_site_m.median() > village_nearest_m.median()


def test_names_are_synthetic(county: GeneratedRegion, city: GeneratedRegion) -> None:
    for region in (county, city):
        names = pd.concat([region.townships["name"], region.facilities["name"], region.candidates["name"]])
        assert not any(real in name for name in names for real in REAL_LUSHUI_TOWNSHIPS)
        assert region.townships["name"].is_unique
        assert region.meta["region"]["synthetic"] is True
        assert "SYNTHETIC" in region.meta["region"]["description"]


def test_several_valleys_have_their_own_county_hospitals(city: GeneratedRegion) -> None:
    hospitals = city.facilities[city.facilities["level"] == "county_hospital"]
    counties = 3  # one per valley
    assert list(hospitals["id"]) == [f"H{k:02d}" for k in range(1, 3 * counties + 1)]
    assert hospitals["hospital_kind"].tolist() == ["general", "tcm", "mch"] * counties
    assert (hospitals["name"].str.endswith("县人民医院")).sum() == counties  # one people's hospital per county
    centers = city.facilities[city.facilities["level"] == "township_hc"]
    assert set(centers["consortium_lead"]) == {*hospitals.loc[hospitals["hospital_kind"] == "general", "id"], "H02"}


def test_write_region_writes_a_bundle_and_refuses_to_overwrite(county: GeneratedRegion, tmp_path: Path) -> None:
    out = write_region(county, tmp_path / "bundle")
    assert sorted(p.name for p in out.iterdir()) == ["README.md", "allocopt-manifest.json", "region.gpkg",
                                                      "region.toml", "scenario.toml"]
    meta = tomllib.loads((out / "region.toml").read_text(encoding="utf-8"))
    assert meta == county.meta
    assert meta["region"]["crs"] == "EPSG:32647"
    assert set(meta["layers"]) == {"townships", "demand", "facilities", "candidates", "roads", "ems_stations"}
    assert all(meta["layers"][k]["source"] and meta["layers"][k]["license"] for k in meta["layers"])
    assert [row[0] for row in pyogrio.list_layers(out / "region.gpkg")] == list(meta["layers"])
    for name, layer in county.layers().items():
        assert_same_layer(gpd.read_file(out / "region.gpkg", layer=name, engine="pyogrio"), layer)
    scenario = load_scenario(out / "scenario.toml")
    assert scenario.budget.total_yuan == 30_000_000.0
    with pytest.raises(OutputError, match="holds an earlier region result; pass --overwrite"):
        write_region(county, out)
    again = write_region(county, tmp_path / "again")
    for text in ("region.toml", "scenario.toml", "README.md"):
        assert (again / text).read_bytes() == (out / text).read_bytes()
    write_region(generate_region(townships=2, villages=4, seed=1, candidates=0), out, overwrite=True)
    assert "candidates" not in [row[0] for row in pyogrio.list_layers(out / "region.gpkg")]


@pytest.mark.parametrize(
    ("arguments", "key"),
    [
        ({"townships": 0, "villages": 5}, "townships"),
        ({"townships": 5, "villages": 4}, "villages"),
        ({"townships": 2, "villages": 10, "population": 9}, "population"),
        ({"townships": 2, "villages": 10, "area_km2": 0.0}, "area_km2"),
        ({"townships": 2, "villages": 10, "candidates": 9}, "candidates"),
        ({"townships": 2, "villages": 10, "share_65plus": 1.2}, "share_65plus"),
    ],
)
def test_bad_arguments_are_refused(arguments: dict[str, Any], key: str) -> None:
    with pytest.raises(DataError, match=key):
        generate_region(seed=1, **arguments)


def test_prefecture_scale_generates() -> None:
    region = generate_region(townships=100, villages=5_000, seed=5, population=4_000_000, area_km2=20_000)
    assert len(region.townships) == 100 and len(region.demand) == 5_000
    assert region.demand["population"].sum() == 4_000_000
    assert region.facilities["level"].value_counts()["township_hc"] == 100
    graph = road_graph(region)
    assert nx.number_connected_components(graph) == 1
    assert point_keys(region.demand.geometry) <= set(graph.nodes)


def test_committed_valley_county_equals_a_fresh_generation(tmp_path: Path) -> None:
    meta = tomllib.loads((VALLEY_COUNTY / "region.toml").read_text(encoding="utf-8"))
    arguments = {k: v for k, v in meta["generator"].items() if k != "module"}
    fresh = generate_region(name=meta["region"]["name"], **arguments)
    assert fresh.meta == meta and meta["region"]["synthetic"] is True
    assert (arguments["townships"], arguments["villages"], arguments["candidates"]) == (10, 100, 8)
    for name, layer in fresh.layers().items():
        assert_same_layer(gpd.read_file(VALLEY_COUNTY / "region.gpkg", layer=name, engine="pyogrio"), layer)
    written = write_region(fresh, tmp_path / "valley-county")
    for text in ("region.toml", "README.md"):
        assert (written / text).read_bytes() == (VALLEY_COUNTY / text).read_bytes()
    # valley-county's own scenario turns care pathways and ambulances on (docs/pathways.md, docs/ems.md): the
    # generated one plus [pathways] and [ems].
    pathways = (b"\n[pathways]  # chest pain, stroke and trauma as care pathways with center tiers "
                b"(defaults: docs/pathways.md)\n"
                b"\n[ems]  # 120 stations and ambulances in the same plan; 120 pathways use the response of the "
                b"plan's stations (defaults: docs/ems.md)\n")
    assert (VALLEY_COUNTY / "scenario.toml").read_bytes() == (written / "scenario.toml").read_bytes() + pathways


def test_committed_valley_county_loads() -> None:
    regions = pytest.importorskip("allocopt.regions")
    region = regions.load_region(VALLEY_COUNTY)
    assert region.synthetic and region.crs.to_epsg() == 32647
    assert len(region.demand) == 100 and region.demand["population"].sum() == LUSHUI_POPULATION
    assert len(region.sites) == 58 + 8
