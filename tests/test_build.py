"""Building a region bundle from planners' files: column and level mapping, CRS handling, checks, atomic output."""

from __future__ import annotations

import hashlib
import json
import tomllib
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from click.testing import CliRunner
from shapely.geometry import LineString, box

from allocopt import coords
from allocopt.build import build_region
from allocopt.cli import main
from allocopt.errors import DataError, OutputError
from allocopt.facility_words import level_of
from allocopt.network import build_network
from allocopt.regions import load_region

DATA = Path(__file__).parent / "data" / "build"
HELSINKI_PBF = DATA / "Helsinki.osm.pbf"
HELSINKI_GRID = DATA / "helsinki_population_grid_2020.gpkg"

# A two-township region near 117.05 E, 31.025 N (UTM zone 50N) with a road grid every 0.01 degree.
TOWNSHIP_BOXES = {"340101": (117.00, 31.00, 117.05, 31.05), "340102": (117.05, 31.00, 117.10, 31.05)}
FACILITIES = pd.DataFrame(
    {
        "编号": ["F1", "F2", "F3", "F4", "F5", "F6"],
        "名称": ["甲村卫生室", "乙镇卫生院", "丙社区中心", "县人民医院", "市一院", "丁镇卫生院"],
        "医院等级": ["村卫生室", "乡镇卫生院", "社区卫生服务中心", "县人民医院", "三级甲等", "卫生院"],
        "全科医生数": ["1", "4", "3", "12", "30", "2"],
        "经度": [117.013, 117.027, 117.035, 117.062, 117.078, 117.093],  # on the roads y = 31.02/31.03/31.04
        "纬度": [31.02, 31.03, 31.04, 31.01, 31.02, 31.03],
    }
)
CHINESE_MAP = {
    "code": "乡镇代码", "townships.name": "乡镇名称", "facilities.name": "名称", "population": "常住人口",
    "id": "编号", "level": "医院等级", "gps": "全科医生数", "lon": "经度", "lat": "纬度", "road_class": "等级",
}


def write_townships(path: Path, crs: str = "EPSG:4490") -> Path:
    """Township polygons with Chinese headers, stored in `crs` (CGCS2000 lon/lat by default)."""
    frame = gpd.GeoDataFrame(
        {"乡镇代码": list(TOWNSHIP_BOXES), "乡镇名称": ["东镇", "西镇"], "常住人口": [12000, 8000]},
        geometry=[box(*b) for b in TOWNSHIP_BOXES.values()], crs="EPSG:4326",
    )
    frame.to_crs(crs).set_crs(crs, allow_override=True).to_file(path) if crs == "EPSG:4490" \
        else frame.to_crs(crs).to_file(path)
    return path


def write_roads(path: Path, crs: str = "EPSG:4326") -> Path:
    """A road grid every 0.01 degree with Chinese road grades."""
    lines, grades = [], []
    for i, y in enumerate(np.arange(30.99, 31.065, 0.01)):
        lines.append(LineString([(116.99, y), (117.11, y)]))
        grades.append(["县道", "乡道", "村道"][i % 3])
    for x in np.arange(116.99, 117.115, 0.01):
        lines.append(LineString([(x, 30.99), (x, 31.06)]))
        grades.append("村道")
    frame = gpd.GeoDataFrame({"等级": grades}, geometry=lines, crs="EPSG:4326")
    frame.to_crs(crs).to_file(path)
    return path


def write_facilities(path: Path, table: pd.DataFrame = FACILITIES) -> Path:
    """The facility table as UTF-8 CSV (with BOM, as Excel writes it) or XLSX by the path's suffix."""
    if path.suffix == ".xlsx":
        table.to_excel(path, index=False, sheet_name="机构")
    else:
        table.to_csv(path, index=False, encoding="utf-8-sig")
    return path


@pytest.fixture
def inputs(tmp_path: Path) -> dict[str, Path]:
    """Townships (CGCS2000 GeoPackage), roads (GeoJSON), facilities (CSV), all with Chinese headers."""
    return {
        "townships": write_townships(tmp_path / "乡镇.gpkg"),
        "roads": write_roads(tmp_path / "roads.geojson"),
        "facilities": write_facilities(tmp_path / "医疗机构.csv"),
    }


def facility_lonlat(bundle: Path) -> dict[str, tuple[float, float]]:
    """Facility id -> (lon, lat) of a built bundle."""
    facilities = load_region(bundle).facilities.to_crs("EPSG:4326")
    return {i: (g.x, g.y) for i, g in zip(facilities["id"], facilities.geometry, strict=True)}


def test_build_with_chinese_headers_and_level_words(tmp_path, inputs):
    report = build_region(tmp_path / "county", **inputs, column_map=CHINESE_MAP, name="示例县")
    region = load_region(tmp_path / "county")
    assert region.name == "示例县" and not region.synthetic
    assert region.crs.to_epsg() == 32650 and report.crs == "EPSG:32650"
    facilities = region.facilities.set_index("id")
    assert facilities["level"].to_dict() == {
        "F1": "village_clinic", "F2": "township_hc", "F3": "community_hc", "F4": "county_hospital",
        "F5": "tertiary_hospital", "F6": "township_hc",
    }
    assert facilities["gps"].tolist() == [1, 4, 3, 12, 30, 2]
    assert facilities["township_code"].tolist() == ["340101"] * 3 + ["340102"] * 3
    assert set(region.roads["road_class"]) == {"county", "township", "village"}
    assert region.townships.set_index("code")["population"].to_dict() == {"340101": 12000, "340102": 8000}
    assert region.demand_derived
    assert (report.population_read, report.population_assigned, report.population_outside) == (20000, 20000, 0)
    assert report.counts == {"townships": 2, "demand": 0, "facilities": 6, "candidates": 0, "roads": 21}
    assert report.warnings == ()
    assert np.allclose(list(facility_lonlat(tmp_path / "county")["F2"]), [117.027, 31.03], atol=1e-7)
    build_network(region.roads)  # the roads form a usable network


def test_sources_and_report_are_recorded(tmp_path, inputs):
    report = build_region(tmp_path / "county", **inputs, column_map=CHINESE_MAP)
    meta = tomllib.loads((tmp_path / "county" / "region.toml").read_text(encoding="utf-8"))
    assert meta["region"]["synthetic"] is False and meta["region"]["crs"] == "EPSG:32650"
    digest = hashlib.sha256(inputs["facilities"].read_bytes()).hexdigest()
    assert meta["layers"]["facilities"]["source"] == f"医疗机构.csv (sha256 {digest})"
    assert report.sources["facilities"] == {"file": "医疗机构.csv", "sha256": digest,
                                            "license": report.sources["facilities"]["license"]}
    saved = json.loads((tmp_path / "county" / "build-report.json").read_text(encoding="utf-8"))
    assert saved["counts"] == report.counts and saved["crs"] == "EPSG:32650"


@pytest.mark.parametrize("suffix", [".xlsx", ".geojson"])
def test_facilities_from_excel_or_point_layer(tmp_path, inputs, suffix):
    if suffix == ".xlsx":
        pytest.importorskip("openpyxl")
    path = tmp_path / f"医疗机构{suffix}"
    column_map = dict(CHINESE_MAP)
    if suffix == ".geojson":
        points = gpd.points_from_xy(FACILITIES["经度"], FACILITIES["纬度"], crs="EPSG:4326")
        gpd.GeoDataFrame(FACILITIES.drop(columns=["经度", "纬度"]), geometry=points).to_file(path)
        del column_map["lon"], column_map["lat"]  # a point layer has geometry, no coordinate columns
    inputs["facilities"] = path if suffix == ".geojson" else write_facilities(path)
    build_region(tmp_path / "county", **inputs, column_map=column_map)
    assert np.allclose(list(facility_lonlat(tmp_path / "county")["F5"]), [117.078, 31.02], atol=1e-7)


def test_swapped_columns_beyond_90_degrees_are_read_the_other_way(tmp_path, inputs):
    swapped = FACILITIES.rename(columns={"经度": "纬度", "纬度": "经度"})
    inputs["facilities"] = write_facilities(tmp_path / "swapped.csv", swapped)
    report = build_region(tmp_path / "county", **inputs, column_map=CHINESE_MAP)
    assert any("look swapped" in w and "beyond ±90" in w for w in report.warnings)
    assert np.allclose(list(facility_lonlat(tmp_path / "county")["F4"]), [117.062, 31.01], atol=1e-7)


def test_gcj02_offset_is_detected_and_undone(tmp_path):
    # Township and road files in UTM (not lon/lat, so GCJ-02 never applies to them); facilities from a web map.
    gcj_lon, gcj_lat = coords.gcj02_from_wgs84(FACILITIES["经度"], FACILITIES["纬度"])
    web = FACILITIES.assign(经度=gcj_lon, 纬度=gcj_lat)
    inputs = {"townships": write_townships(tmp_path / "t.gpkg", crs="EPSG:32650"),
              "roads": write_roads(tmp_path / "r.gpkg", crs="EPSG:32650"),
              "facilities": write_facilities(tmp_path / "amap.csv", web)}
    declared_wgs = build_region(tmp_path / "as-wgs84", **inputs, column_map=CHINESE_MAP)
    warning = next(w for w in declared_wgs.warnings if "GCJ-02" in w)
    medians = [float(m) for m in __import__("re").findall(r"(\d+) m", warning)]
    assert medians[0] > 150 and medians[1] < 5  # as read vs after the GCJ-02 inverse (parallels bend in UTM)
    assert "--source-crs gcj02" in warning

    declared_gcj = build_region(tmp_path / "as-gcj02", **inputs, column_map=CHINESE_MAP, source_crs="gcj02")
    assert not any("GCJ-02" in w for w in declared_gcj.warnings)
    assert any("converted from GCJ-02" in n for n in declared_gcj.notes)
    positions = facility_lonlat(tmp_path / "as-gcj02")
    expected = FACILITIES.set_index("编号")[["经度", "纬度"]]
    for facility_id, (lon, lat) in positions.items():
        assert lon == pytest.approx(expected.loc[facility_id, "经度"], abs=1e-6)
        assert lat == pytest.approx(expected.loc[facility_id, "纬度"], abs=1e-6)


def test_facilities_outside_the_region_are_named(tmp_path, inputs):
    outside = pd.concat([FACILITIES, pd.DataFrame({
        "编号": ["NEAR", "FAR"], "名称": ["边界诊所", "邻县医院"], "医院等级": ["诊所", "县医院"],
        "全科医生数": ["1", "5"],
        "经度": [117.102, 117.13], "纬度": [31.02, 31.02],  # 190 m and 2.9 km east of the boundary
    })])
    inputs["facilities"] = write_facilities(tmp_path / "f.csv", outside)
    report = build_region(tmp_path / "county", **inputs, column_map=CHINESE_MAP)
    warning = next(w for w in report.warnings if "outside every township" in w)
    assert "'NEAR' (0.19 km)" in warning and "'FAR' (2.86 km)" in warning
    assert "the 1 farther than 500 m were left out" in warning
    region = load_region(tmp_path / "county")
    assert "NEAR" in set(region.facilities["id"]) and "FAR" not in set(region.facilities["id"])
    assert region.facilities.set_index("id").loc["NEAR", "township_code"] == "340102"


def test_grid_population_with_a_straddling_cell(tmp_path, inputs):
    # Four 0.02-degree cells: one in each township, one straddling the border, one half beyond the east edge.
    cells = gpd.GeoDataFrame(
        {"cell": ["g1", "g2", "g3", "g4"], "人口": [1000.0, 2000.0, 3000.0, 4000.0]},
        geometry=[box(117.01, 31.01, 117.03, 31.03), box(117.04, 31.01, 117.06, 31.03),
                  box(117.07, 31.01, 117.09, 31.03), box(117.09, 31.02, 117.11, 31.04)],
        crs="EPSG:4326",
    )
    cells.to_file(tmp_path / "grid.gpkg")
    report = build_region(tmp_path / "county", **inputs, population=tmp_path / "grid.gpkg",
                          column_map={**CHINESE_MAP, "population.population": "人口", "population.id": "cell"})
    region = load_region(tmp_path / "county")
    assert report.population_read == pytest.approx(10000.0)
    assert report.population_assigned + report.population_outside == pytest.approx(10000.0)
    assert report.population_outside == pytest.approx(2000.0, rel=1e-3)  # half of g4, area in UTM
    by_code = region.townships.set_index("code")["population"]
    assert by_code["340101"] == pytest.approx(2000.0, rel=1e-3)  # g1 + half of g2
    assert by_code["340102"] == pytest.approx(6000.0, rel=1e-3)  # half of g2 + g3 + half of g4
    assert sorted(region.demand["id"]) == ["g1", "g2-340101", "g2-340102", "g3", "g4"]
    assert any("2,000.0 people in 1 grid-cell units" in w for w in report.warnings)
    assert any("township layer states 20,000 people" in w for w in report.warnings)


def test_point_population_from_csv(tmp_path, inputs):
    villages = pd.DataFrame({"村": ["v1", "v2", "v3"], "人口": ["500", "700", "900"],
                             "经度": [117.02, 117.07, 117.2], "纬度": [31.02, 31.02, 31.02]})
    villages.to_csv(tmp_path / "villages.csv", index=False)
    report = build_region(tmp_path / "county", **inputs, population=tmp_path / "villages.csv",
                          column_map={**CHINESE_MAP, "population.population": "人口", "population.id": "村"})
    region = load_region(tmp_path / "county")
    assert region.demand.set_index("id")["population"].to_dict() == {"v1": 500.0, "v2": 700.0}
    assert (report.population_read, report.population_assigned, report.population_outside) == (2100, 1200, 900)
    assert any("900.0 people in 1 point units" in w and "'v3'" in w for w in report.warnings)


def test_helsinki_real_roads_grid_and_swapped_facilities(tmp_path):
    pytest.importorskip("osmium")
    townships = gpd.GeoDataFrame({"code": ["W", "E"], "name": ["West", "East"]},
                                 geometry=[box(24.935, 60.164, 24.944, 60.179), box(24.944, 60.164, 24.953, 60.179)],
                                 crs="EPSG:4326")
    townships.to_file(tmp_path / "townships.geojson")
    # Longitude and latitude swapped: both columns hold values within +-90, only the extent tells.
    facilities = pd.DataFrame({"id": ["h1", "h2", "h3"], "name": ["A", "B", "C"], "level": ["community_hc"] * 3,
                               "lon": [60.170, 60.168, 60.175], "lat": [24.940, 24.946, 24.950]})
    facilities.to_csv(tmp_path / "f.csv", index=False)
    report = build_region(tmp_path / "helsinki", roads=HELSINKI_PBF, townships=tmp_path / "townships.geojson",
                          facilities=tmp_path / "f.csv", population=HELSINKI_GRID)
    assert report.crs == "EPSG:32635"
    assert any("look swapped" in w and "swapped 100%" in w for w in report.warnings)
    assert report.counts["roads"] == 878
    assert report.population_read == pytest.approx(71724.0)
    assert report.population_assigned + report.population_outside == pytest.approx(71724.0)
    assert 0 < report.population_assigned < 71724.0 / 2
    region = load_region(tmp_path / "helsinki")
    assert region.demand["population"].sum() == pytest.approx(report.population_assigned)
    assert region.townships["population"].sum() == pytest.approx(report.population_assigned)
    lonlat = region.facilities.to_crs("EPSG:4326").geometry
    assert np.allclose(lonlat.x, [24.940, 24.946, 24.950]) and np.allclose(lonlat.y, [60.170, 60.168, 60.175])
    network = build_network(region.roads)
    assert network.n_edges > 1000


def test_pbf_without_drivable_roads_writes_nothing(tmp_path, inputs):
    osmium = pytest.importorskip("osmium")
    writer = osmium.SimpleWriter(str(tmp_path / "paths.osm.pbf"))
    writer.add_node(osmium.osm.mutable.Node(id=1, location=(117.02, 31.02)))
    writer.add_node(osmium.osm.mutable.Node(id=2, location=(117.03, 31.02)))
    writer.add_way(osmium.osm.mutable.Way(id=1, nodes=[1, 2], tags={"highway": "footway"}))
    writer.close()
    inputs["roads"] = tmp_path / "paths.osm.pbf"
    without_road_class = {k: v for k, v in CHINESE_MAP.items() if k != "road_class"}
    with pytest.raises(DataError, match="no drivable road"):
        build_region(tmp_path / "county", **inputs, column_map=without_road_class)
    assert not (tmp_path / "county").exists()
    assert not list(tmp_path.glob(".county*"))


def test_failed_build_leaves_existing_bundle_unchanged(tmp_path, inputs):
    out = tmp_path / "county"
    out.mkdir()
    (out / "region.toml").write_text("earlier bundle", encoding="utf-8")
    (out / "allocopt-manifest.json").write_text('{"kind": "region", "files": ["region.toml"]}', encoding="utf-8")
    bad = FACILITIES.assign(医院等级=["村卫生室", "卫生院", "药店", "县医院", "三级", "卫生院"])
    inputs["facilities"] = write_facilities(tmp_path / "bad.csv", bad)
    with pytest.raises(DataError, match="'药店' name no facility level"):
        build_region(out, **inputs, column_map=CHINESE_MAP, overwrite=True)
    assert sorted(p.name for p in out.iterdir()) == ["allocopt-manifest.json", "region.toml"]
    assert (out / "region.toml").read_text(encoding="utf-8") == "earlier bundle"
    assert not list(tmp_path.glob(".county*"))


def test_existing_bundle_needs_overwrite(tmp_path, inputs):
    out = tmp_path / "county"
    out.mkdir()
    (out / "keep.txt").write_text("x", encoding="utf-8")
    with pytest.raises(OutputError, match="overwrite"):
        build_region(out, **inputs, column_map=CHINESE_MAP)
    build_region(out, **inputs, column_map=CHINESE_MAP, overwrite=True)
    assert sorted(p.name for p in out.iterdir()) == ["allocopt-manifest.json", "build-report.json", "keep.txt",
                                                      "region.gpkg", "region.toml"]
    assert (out / "keep.txt").read_text(encoding="utf-8") == "x"  # --overwrite never deletes the user's files
    with pytest.raises(OutputError, match="holds an earlier region result; pass --overwrite"):
        build_region(out, **inputs, column_map=CHINESE_MAP)


@pytest.mark.parametrize(
    ("column_map", "message"),
    [({**CHINESE_MAP, "hospital_grade": "医院等级"}, "'hospital_grade' is not a bundle field"),
     ({**CHINESE_MAP, "gps": "医生数"}, "no input file has a column '医生数'"),
     ({**CHINESE_MAP, "townships.name": "名称"}, "no townships file has a column '名称'"),
     ({**CHINESE_MAP, "hospitals.name": "名称"}, "'hospitals' is not an input of this build")],
)
def test_column_map_mistakes_are_named(tmp_path, inputs, column_map, message):
    with pytest.raises(DataError, match=message):
        build_region(tmp_path / "county", **inputs, column_map=column_map)


def test_unmapped_required_column_suggests_map_option(tmp_path, inputs):
    with pytest.raises(DataError, match="--map FIELD=COLUMN"):
        build_region(tmp_path / "county", **inputs, column_map={k: v for k, v in CHINESE_MAP.items() if k != "code"})


def test_roads_far_from_the_region_are_refused(tmp_path, inputs):
    far = gpd.GeoDataFrame({"等级": ["县道"]}, geometry=[LineString([(118.0, 32.0), (118.1, 32.0)])], crs="EPSG:4326")
    far.to_file(tmp_path / "far.geojson")
    inputs["roads"] = tmp_path / "far.geojson"
    with pytest.raises(DataError, match="none of its 1 road lines comes within 10 km"):
        build_region(tmp_path / "county", **inputs, column_map=CHINESE_MAP)


@pytest.mark.parametrize(
    ("word", "level"),
    [("村卫生室", "village_clinic"), (" 乡镇卫生院 ", "township_hc"), ("社区卫生服务中心", "community_hc"),
     ("县人民医院", "county_hospital"), ("二级甲等", "county_hospital"), ("三级甲等", "tertiary_hospital"),
     ("市人民医院", "tertiary_hospital"), ("一级", "township_hc"), ("Township_HC", "township_hc"),
     ("药店", None), (None, None)],
)
def test_level_words(word, level):
    assert level_of(word) == level


def test_inputs_are_not_modified(tmp_path, inputs):
    before = {k: hashlib.sha256(p.read_bytes()).hexdigest() for k, p in inputs.items()}
    build_region(tmp_path / "county", **inputs, column_map=CHINESE_MAP)
    assert {k: hashlib.sha256(p.read_bytes()).hexdigest() for k, p in inputs.items()} == before
    assert shapely.get_num_geometries(gpd.read_file(inputs["townships"]).geometry.to_numpy()).tolist() == [1, 1]


def test_candidates_with_costs(tmp_path, inputs):
    sites = pd.DataFrame({"点位": ["C1", "C2"], "名称": ["新卫生院", "新诊所"], "造价": ["1500000", "200000"],
                          "经度": [117.045, 117.085], "纬度": [31.01, 31.04], "医院等级": ["乡镇卫生院", "村卫生室"]})
    sites.to_csv(tmp_path / "候选点.csv", index=False)
    report = build_region(tmp_path / "county", **inputs, candidates=tmp_path / "候选点.csv",
                          column_map={**CHINESE_MAP, "candidates.id": "点位", "candidates.name": "名称",
                                      "open_cost_yuan": "造价"})
    region = load_region(tmp_path / "county")
    candidates = region.candidates.set_index("id")
    assert candidates["open_cost_yuan"].to_dict() == {"C1": 1_500_000.0, "C2": 200_000.0}
    assert candidates["level"].to_dict() == {"C1": "township_hc", "C2": "village_clinic"}
    assert report.counts["candidates"] == 2
    assert region.sites["id"].tolist() == ["F1", "F2", "F3", "F4", "F5", "F6", "C1", "C2"]


def test_raster_population_in_another_crs(tmp_path, inputs):
    rasterio = pytest.importorskip("rasterio")
    from rasterio.transform import from_origin

    # 0.025-degree cells over both townships: the 2 x 4 cells have their centres inside, 10 people each.
    values = np.full((2, 4), 10.0)
    with rasterio.open(tmp_path / "pop.tif", "w", driver="GTiff", height=2, width=4, count=1, dtype="float64",
                       crs="EPSG:4326", transform=from_origin(117.0, 31.05, 0.025, 0.025)) as out:
        out.write(values, 1)
    inputs["townships"] = write_townships(tmp_path / "utm.gpkg", crs="EPSG:32650")
    report = build_region(tmp_path / "county", **inputs, population=tmp_path / "pop.tif", column_map=CHINESE_MAP)
    assert any("townships were reprojected to the raster's CRS" in w for w in report.warnings)
    assert (report.population_read, report.population_assigned, report.population_outside) == (80.0, 80.0, 0.0)
    region = load_region(tmp_path / "county")
    assert region.townships.set_index("code")["population"].to_dict() == {"340101": 40.0, "340102": 40.0}
    assert len(region.demand) == 8


def test_source_crs_does_not_override_a_declared_crs(tmp_path, inputs):
    inputs["townships"] = write_townships(tmp_path / "utm.gpkg", crs="EPSG:32650")
    report = build_region(tmp_path / "county", **inputs, column_map=CHINESE_MAP, source_crs="cgcs2000")
    assert any("utm.gpkg: the file declares EPSG:32650" in w for w in report.warnings)
    assert report.crs == "EPSG:32650" and report.counts["facilities"] == 6


def test_facilities_all_outside_are_refused(tmp_path, inputs):
    # Degrees read as metres of a projected CRS put every facility thousands of kilometres away.
    with pytest.raises(DataError, match="none of the 6 facilities lies in the townships"):
        build_region(tmp_path / "county", **inputs, column_map=CHINESE_MAP, source_crs="EPSG:4547")
    assert not (tmp_path / "county").exists()


@pytest.mark.parametrize(("lon", "lat"), [("longitude", "latitude"), ("lng", "lat"), ("Lon", "LAT"), ("x", "y"),
                                          ("经度", "纬度"), (" Longitude ", "Latitude")])
@pytest.mark.parametrize("suffix", [".csv", ".xlsx"])
def test_common_coordinate_column_names_are_recognised(tmp_path, inputs, lon, lat, suffix):
    table = FACILITIES.rename(columns={"经度": lon, "纬度": lat})
    inputs["facilities"] = write_facilities(tmp_path / f"facilities{suffix}", table)
    without_coordinates = {k: v for k, v in CHINESE_MAP.items() if k not in ("lon", "lat")}
    report = build_region(tmp_path / "county", **inputs, column_map=without_coordinates)
    assert np.allclose(facility_lonlat(tmp_path / "county")["F4"], (117.062, 31.01), atol=1e-7)
    assert f"facilities{suffix}: coordinates read from columns {lon.strip()!r} and {lat.strip()!r}" in report.notes


def test_coordinate_columns_prefer_explicit_names_to_x_and_y():
    assert coords.coordinate_columns(["X", "Y", "经度", "纬度"]) == ("经度", "纬度")
    assert coords.coordinate_columns(["LNG", "Lat", "x"]) == ("LNG", "Lat")
    assert coords.coordinate_columns(["east", "north"]) == (None, None)


def test_missing_coordinates_name_the_recognised_columns(tmp_path, inputs):
    pytest.importorskip("openpyxl")
    table = FACILITIES.rename(columns={"经度": "东经", "纬度": "北纬"})
    inputs["facilities"] = write_facilities(tmp_path / "facilities.xlsx", table)
    without_coordinates = {k: v for k, v in CHINESE_MAP.items() if k not in ("lon", "lat")}
    with pytest.raises(DataError, match=r"'lon' is missing.*Name it one of lon, longitude, lng, long, 经度, x, or "
                                        r"map it with --map lon="):
        build_region(tmp_path / "county", **inputs, column_map=without_coordinates)


def test_one_column_fills_two_fields(tmp_path, inputs):
    frame = gpd.read_file(inputs["townships"]).drop(columns=["乡镇代码"])
    frame.to_file(tmp_path / "names-only.gpkg")
    inputs["townships"] = tmp_path / "names-only.gpkg"
    column_map = {**{k: v for k, v in CHINESE_MAP.items() if k != "code"}, "townships.code": "乡镇名称"}
    build_region(tmp_path / "county", **inputs, column_map=column_map)
    townships = load_region(tmp_path / "county").townships
    assert townships["code"].tolist() == townships["name"].tolist() == ["东镇", "西镇"]
    assert load_region(tmp_path / "county").facilities["township_code"].tolist() == ["东镇"] * 3 + ["西镇"] * 3


def test_cli_map_one_column_to_code_and_name(tmp_path, inputs):
    frame = gpd.read_file(inputs["townships"]).drop(columns=["乡镇代码", "乡镇名称"])
    frame.assign(id=["东镇", "西镇"]).to_file(tmp_path / "ids.gpkg")
    facility_map = [f"--map={k}={v}" for k, v in CHINESE_MAP.items() if k not in ("code", "townships.name")]
    result = CliRunner().invoke(main, [
        "build-region", str(tmp_path / "county"), "--roads", str(inputs["roads"]), "--townships",
        str(tmp_path / "ids.gpkg"), "--facilities", str(inputs["facilities"]), "--map", "code=id", "--map", "name=id",
        *facility_map])
    assert result.exit_code == 0, result.output
    townships = load_region(tmp_path / "county").townships
    assert townships["code"].tolist() == townships["name"].tolist() == ["东镇", "西镇"]


def test_hospital_kinds_central_centers_and_village_doctors_from_chinese_files(tmp_path, inputs):
    table = FACILITIES.assign(
        名称=["甲村卫生室", "乙镇中心卫生院", "丙社区中心", "县中医医院", "市妇幼保健院", "丁镇卫生院"],
        乡村医生=["2", "0", "0", "0", "0", "0"])
    inputs["facilities"] = write_facilities(tmp_path / "facilities.xlsx", table)
    report = build_region(tmp_path / "county", **inputs, column_map={**CHINESE_MAP, "village_doctors": "乡村医生"})
    facilities = load_region(tmp_path / "county").facilities.set_index("id")
    # Kinds from the names of the two hospitals (F4 TCM, F5 maternal and child health); none below hospitals.
    assert facilities["hospital_kind"].to_dict() == {"F1": "", "F2": "", "F3": "", "F4": "tcm", "F5": "mch", "F6": ""}
    assert facilities["central"].tolist() == [False, True, False, False, False, False]
    assert facilities["village_doctors"].tolist() == [2, 0, 0, 0, 0, 0]
    assert any("hospital kinds read from names (2 of 2 hospitals" in note for note in report.notes)
    table["类别"] = ["", "", "", "中西医结合医院", "综合", ""]
    inputs["facilities"] = write_facilities(tmp_path / "typed.xlsx", table)
    with pytest.raises(DataError, match=r"'综合' name no hospital kind; use one of general, tcm, mch, specialty.*"
                                        r"--map hospital_kind=COLUMN"):
        build_region(tmp_path / "typed", **inputs, column_map={**CHINESE_MAP, "hospital_kind": "类别"})


def test_build_reads_ems_stations_and_fills_township_codes(tmp_path, inputs):
    stations = pd.DataFrame({"编号": ["S1", "S2"], "站名": ["东镇急救站", "西镇急救站（候选）"], "救护车": [2, 0],
                             "候选": ["否", "是"], "经度": [117.027, 117.093], "纬度": [31.03, 31.03]})
    stations["候选"] = stations["候选"].map({"否": "false", "是": "true"})
    path = tmp_path / "stations.csv"
    stations.to_csv(path, index=False, encoding="utf-8-sig")
    mapping = {**CHINESE_MAP, "ems_stations.name": "站名", "ambulances": "救护车", "candidate": "候选"}
    report = build_region(tmp_path / "county", **inputs, ems=path, column_map=mapping)
    assert report.counts["ems_stations"] == 2
    region = load_region(tmp_path / "county")
    assert region.ems_stations is not None
    table = region.ems_stations.set_index("id")
    assert table["township_code"].to_dict() == {"S1": "340101", "S2": "340102"}
    assert table["ambulances"].tolist() == [2, 0] and table["candidate"].tolist() == [False, True]
