"""Region bundles: the tiny region loads as built, every kind of bad input is a DataError saying where, lookup works."""

from __future__ import annotations

import importlib.util
import shutil
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pytest
from geopandas.testing import assert_geodataframe_equal
from shapely.geometry import LineString, Point, Polygon

from allocopt import regions
from allocopt.errors import DataError
from allocopt.readers import read_layer
from allocopt.regions import SITE_COLUMNS, list_regions, load_region, resolve_region
from allocopt.schema import ROAD_CLASSES

TINY_DIR = Path(__file__).resolve().parent / "data" / "tiny-region"
CLASS_SPEEDS_KMH = {"expressway": 100.0, "national": 70.0, "provincial": 55.0, "county": 45.0, "township": 35.0,
                    "village": 25.0}


def _tiny_tables() -> ModuleType:
    """The tables tests/data/make_tiny_region.py builds the tiny region from."""
    spec = importlib.util.spec_from_file_location("make_tiny_region", TINY_DIR.parent / "make_tiny_region.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


TINY = _tiny_tables()


@pytest.fixture(autouse=True)
def class_speeds(monkeypatch: pytest.MonkeyPatch) -> dict[str, float]:
    """Known road-class defaults, so speed filling is checked independently of the network module's values."""
    monkeypatch.setattr("allocopt.network.DEFAULT_SPEEDS_KMH", CLASS_SPEEDS_KMH)
    return CLASS_SPEEDS_KMH


@pytest.fixture
def bundle(tmp_path: Path) -> Path:
    """A writable copy of the tiny region."""
    return Path(shutil.copytree(TINY_DIR, tmp_path / "bundle"))


def edit_toml(bundle: Path, old: str, new: str) -> None:
    """Replace `old` (which must occur once) by `new` in the bundle's region.toml."""
    toml = bundle / "region.toml"
    text = toml.read_text(encoding="utf-8")
    assert text.count(old) == 1, old
    toml.write_text(text.replace(old, new), encoding="utf-8")


def edit_layer(bundle: Path, layer: str, change: Callable[[gpd.GeoDataFrame], gpd.GeoDataFrame]) -> None:
    """Rewrite one GeoPackage layer of the bundle through `change`."""
    frame = pyogrio.read_dataframe(bundle / "region.gpkg", layer=layer)
    pyogrio.write_dataframe(change(frame), bundle / "region.gpkg", layer=layer)


def edit_facilities(bundle: Path, change: Callable[[pd.DataFrame], pd.DataFrame]) -> None:
    """Rewrite the bundle's facilities.csv (all cells as text) through `change`."""
    path = bundle / "facilities.csv"
    table = pd.read_csv(path, dtype=str, keep_default_na=False)
    change(table).to_csv(path, index=False)


def load_error(bundle: Path) -> str:
    """The message of the DataError loading `bundle` raises."""
    with pytest.raises(DataError) as raised:
        load_region(bundle)
    return str(raised.value)


# --- the tiny region as built -------------------------------------------------------------------------------


def test_tiny_region_has_the_layers_it_was_built_from() -> None:
    region = load_region(TINY_DIR)
    assert region.name == "tiny-region" and region.synthetic and region.path == TINY_DIR
    assert region.crs.to_epsg() == 32647
    assert (len(region.townships), len(region.demand), len(region.facilities), len(region.candidates)) == (3, 9, 6, 2)
    assert len(region.roads) == 3 * 4 + 5 * 2  # grid rows of 4 segments, grid columns of 2
    for frame in (region.townships, region.demand, region.facilities, region.candidates, region.roads, region.sites):
        assert frame.crs == region.crs
    assert region.townships["code"].tolist() == ["530101", "530102", "530103"]
    assert region.townships["name"].tolist()[0] == "上江镇"
    assert not region.demand_derived
    assert region.demand["population"].sum() == region.townships["population"].sum() == 40_000
    assert region.access_speed_kmh == 5.0 and region.speeds_kmh == {"village": 15.0}


def test_only_the_csv_layer_is_reprojected_and_lands_where_it_was_placed() -> None:
    region = load_region(TINY_DIR)
    assert region.meta["reprojected"] == {"facilities": "EPSG:4326"}
    assert region.meta["region"]["crs"] == "EPSG:32647"
    expected = np.array([row[-2:] for row in TINY.FACILITIES], dtype=float)
    got = np.column_stack([region.facilities.geometry.x, region.facilities.geometry.y])
    assert np.abs(got - expected).max() < 0.05  # lon/lat stored to 1e-7 degrees, about a centimetre


def test_sites_get_the_code_of_the_township_holding_them() -> None:
    region = load_region(TINY_DIR)
    codes = dict(zip(region.sites["id"], region.sites["township_code"], strict=True))
    assert codes == {"H01": "530101", "T01": "530101", "T02": "530102", "T03": "530103", "V01": "530101",
                     "V02": "530103", "C01": "530101", "C02": "530103"}
    facility_columns = list(region.facilities.columns)
    assert facility_columns[facility_columns.index("consortium_lead") + 1] == "township_code"


def test_sites_are_facilities_then_candidates_with_the_contract_columns() -> None:
    region = load_region(TINY_DIR)
    sites = region.sites
    assert tuple(sites.columns) == SITE_COLUMNS
    assert sites["id"].tolist() == ["H01", "T01", "T02", "T03", "V01", "V02", "C01", "C02"]
    assert sites["kind"].tolist() == ["existing"] * 6 + ["candidate"] * 2
    assert sites["gps"].tolist() == [0, 3, 0, 2, 1, 1, 0, 0]
    assert sites["ct"].tolist() == [1, 0, 0, 0, 0, 0, 0, 0]
    assert sites["stroke_center"].tolist() == [True] + [False] * 7
    assert sites["open_cost_yuan"].tolist() == [0.0] * 6 + [1_500_000.0, 800_000.0]
    assert sites["level"].tolist()[-2:] == ["township_hc", "village_clinic"]
    assert sites["consortium_lead"].tolist() == ["", "H01", "H01", "H01", "", "H01", "", ""]
    assert sites.index.tolist() == list(range(8))


def test_road_speeds_keep_their_own_value_else_the_overridden_class_default() -> None:
    roads = load_region(TINY_DIR).roads
    assert not roads["speed_kmh"].isna().any()
    explicit = roads.geometry.apply(lambda line: tuple(line.coords) == TINY.SLOW_TOWN_SEGMENT)
    assert roads.loc[explicit, "speed_kmh"].tolist() == [40.0]
    others = roads[~explicit]
    expected = others["road_class"].map({**CLASS_SPEEDS_KMH, "village": 15.0})
    assert others["speed_kmh"].tolist() == expected.tolist()
    assert roads["oneway"].sum() == 1


def test_conftest_fixtures_give_the_tiny_region(tiny_region_path: Path, tiny_region: regions.Region) -> None:
    assert tiny_region_path == TINY_DIR
    assert tiny_region.path == TINY_DIR
    assert tiny_region.sites["id"].tolist() == ["H01", "T01", "T02", "T03", "V01", "V02", "C01", "C02"]


def test_make_tiny_region_reproduces_the_committed_files(tmp_path: Path) -> None:
    TINY.main(tmp_path)
    for name in ("region.toml", "facilities.csv"):
        assert (tmp_path / name).read_bytes() == (TINY_DIR / name).read_bytes(), name
    layers = pyogrio.list_layers(TINY_DIR / "region.gpkg").tolist()
    assert pyogrio.list_layers(tmp_path / "region.gpkg").tolist() == layers
    for layer in ("townships", "demand", "candidates", "roads"):
        written = pyogrio.read_dataframe(tmp_path / "region.gpkg", layer=layer)
        committed = pyogrio.read_dataframe(TINY_DIR / "region.gpkg", layer=layer)
        assert_geodataframe_equal(written, committed)


# --- derived demand ------------------------------------------------------------------------------------------


def test_without_demand_layer_each_township_is_one_demand_point_with_its_population(bundle: Path) -> None:
    edit_toml(bundle, '[layers.demand]\nfile = "region.gpkg"\nsource = "hand-made"\nlicense = "CC0-1.0"\n', "")
    region = load_region(bundle)
    assert region.demand_derived
    demand, townships = region.demand, region.townships
    assert demand["id"].tolist() == demand["township_code"].tolist() == townships["code"].tolist()
    assert demand["population"].tolist() == [12_000.0, 8_000.0, 20_000.0]
    assert demand["population_65plus"].tolist() == [1_800.0, 1_500.0, 3_000.0]
    assert demand["population"].sum() == townships["population"].sum()
    assert all(townships.geometry.contains(demand.geometry.set_axis(townships.index)))
    assert demand.crs == region.crs


# --- bad region.toml -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("old", "new", "fragments"),
    [
        ('synthetic = true', 'synthetic = true\nowner = "x"', ["unknown key 'region.owner'", "known keys: name"]),
        ('synthetic = true', 'synthetic = "yes"', ["key 'region.synthetic' must be a bool", "'yes'"]),
        ('crs = "EPSG:32647"\n', '', ["key 'region.crs' is missing"]),
        ('crs = "EPSG:32647"\n', 'crs = "EPSG:4326"\n', ["key 'region.crs'", "geographic"]),
        ('crs = "EPSG:32647"\n', 'crs = "EPSG:99999999"\n', ["key 'region.crs'", "not a known CRS"]),
        ('access_speed_kmh = 5.0', 'access_speed_kmh = -1.0', ["network.access_speed_kmh", "positive"]),
        ('access_speed_kmh = 5.0', 'access_speed_kmh = true', ["network.access_speed_kmh' must be a number"]),
        ('village = 15.0', 'lane = 15.0', ["network.speeds_kmh.lane", "not a road class", "village"]),
        ('village = 15.0', 'village = 0', ["network.speeds_kmh.village", "positive"]),
        ('[layers.roads]\n', '[layers.roads]\nwidth = 3\n', ["unknown key 'layers.roads.width'"]),
        ('[layers.roads]\nsource = "hand-made"\nlicense = "CC0-1.0"\n', '', ["[layers.roads] is missing", "required"]),
        ('[layers.candidates]\n', '[layers.rivers]\n', ["unknown layer table 'layers.rivers'"]),
        ('[network]\n', '[network]\nspeed = 1\n', ["unknown key 'network.speed'"]),
        ('[region]\n', '[extras]\nx = 1\n[region]\n', ["unknown key 'extras'", "known keys: region, layers"]),
        ('[region]\n', '[region\n', ["not valid TOML"]),
    ],
    ids=["unknown-key", "wrong-type", "no-crs", "geographic-crs", "unknown-crs", "negative-access-speed",
         "bool-access-speed", "unknown-road-class", "zero-speed", "unknown-layer-key", "missing-required-layer",
         "unknown-layer", "unknown-network-key", "unknown-table", "toml-syntax"],
)
def test_bad_region_toml_names_the_key(bundle: Path, old: str, new: str, fragments: list[str]) -> None:
    edit_toml(bundle, old, new)
    message = load_error(bundle)
    assert "region.toml" in message
    for fragment in fragments:
        assert fragment in message


def test_directory_without_region_toml_is_not_a_bundle(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"region\.toml: not found"):
        load_region(tmp_path)


# --- bad layer files -----------------------------------------------------------------------------------------


def _write_text(bundle: Path, name: str, text: str, encoding: str = "utf-8") -> None:
    (bundle / name).write_bytes(text.encode(encoding))


def test_missing_file(bundle: Path) -> None:
    edit_toml(bundle, 'file = "facilities.csv"', 'file = "clinics.csv"')
    message = load_error(bundle)
    assert "clinics.csv" in message and "facilities layer" in message and "does not exist" in message


def test_empty_file(bundle: Path) -> None:
    _write_text(bundle, "facilities.csv", "")
    message = load_error(bundle)
    assert "facilities.csv" in message and "facilities layer" in message and "empty" in message


def test_text_in_a_geopackage(bundle: Path) -> None:
    _write_text(bundle, "region.gpkg", "id,name\n1,a\n")
    message = load_error(bundle)
    assert "region.gpkg, layer 'townships'" in message and "GeoPackage" in message and "QGIS" in message


def test_missing_layer_lists_the_layers_present(bundle: Path) -> None:
    edit_toml(bundle, 'layer = "townships"', 'layer = "towns"')
    message = load_error(bundle)
    assert "region.gpkg, layer 'towns' (townships layer)" in message
    for layer in ("townships", "demand", "candidates", "roads"):
        assert layer in message.split("layers present:")[1]


def test_non_utf8_csv_says_to_save_as_utf8(bundle: Path) -> None:
    text = (bundle / "facilities.csv").read_text(encoding="utf-8")
    _write_text(bundle, "facilities.csv", text, encoding="gbk")
    message = load_error(bundle)
    assert "facilities.csv" in message and "facilities layer" in message and "save it as UTF-8" in message


def test_csv_with_bom_is_read(bundle: Path) -> None:
    text = (bundle / "facilities.csv").read_text(encoding="utf-8")
    _write_text(bundle, "facilities.csv", text, encoding="utf-8-sig")
    assert load_region(bundle).facilities["id"].tolist()[0] == "H01"


@pytest.mark.parametrize(
    ("change", "fragments"),
    [
        (lambda t: t.assign(lon=t["lon"].where(t["id"] != "T02", "east")), ["row 3, field 'lon'", "'east'"]),
        (lambda t: t.assign(lat=t["lat"].where(t["id"] != "V01", "")), ["row 5, field 'lat'", "empty"]),
        (lambda t: t.rename(columns={"lon": "x", "lat": "y"}), ["coordinate column 'lon' is missing", "x_column"]),
        (lambda t: t.assign(lon=t["lat"], lat=t["lon"]), ["row 1 (and 5 more rows)", "not a longitude/latitude"]),
    ],
    ids=["non-numeric-coordinate", "empty-coordinate", "no-coordinate-columns", "swapped-coordinates"],
)
def test_bad_csv_coordinates_name_the_row(
    bundle: Path, change: Callable[[pd.DataFrame], pd.DataFrame], fragments: list[str]
) -> None:
    edit_facilities(bundle, change)
    message = load_error(bundle)
    assert message.startswith(f"{bundle / 'facilities.csv'}, facilities layer")
    for fragment in fragments:
        assert fragment in message


def test_shapefile_without_prj_needs_a_crs(bundle: Path) -> None:
    roads = pyogrio.read_dataframe(bundle / "region.gpkg", layer="roads")
    pyogrio.write_dataframe(roads, bundle / "roads.shp")
    (bundle / "roads.prj").unlink()
    edit_toml(bundle, '[layers.roads]\n', '[layers.roads]\nfile = "roads.shp"\n')
    message = load_error(bundle)
    assert "roads.shp" in message and "roads layer" in message and ".prj" in message and "`crs`" in message
    edit_toml(bundle, 'file = "roads.shp"\n', 'file = "roads.shp"\ncrs = "EPSG:32647"\n')
    assert len(load_region(bundle).roads) == 22


def test_geojson_layer_in_another_crs_is_reprojected(bundle: Path) -> None:
    candidates = pyogrio.read_dataframe(bundle / "region.gpkg", layer="candidates").to_crs("EPSG:4326")
    pyogrio.write_dataframe(candidates, bundle / "candidates.geojson")
    edit_toml(bundle, '[layers.candidates]\nfile = "region.gpkg"', '[layers.candidates]\nfile = "candidates.geojson"')
    region = load_region(bundle)
    assert region.meta["reprojected"] == {"facilities": "EPSG:4326", "candidates": "EPSG:4326"}
    expected = np.array([row[-2:] for row in TINY.CANDIDATES], dtype=float)
    got = np.column_stack([region.candidates.geometry.x, region.candidates.geometry.y])
    assert np.abs(got - expected).max() < 0.01


def test_file_crs_must_agree_with_the_stated_crs(bundle: Path) -> None:
    edit_toml(bundle, '[layers.roads]\n', '[layers.roads]\ncrs = "EPSG:4326"\n')
    message = load_error(bundle)
    assert "region.gpkg, layer 'roads'" in message and "EPSG:32647" in message and "differs" in message


def test_wrong_geometry_type_names_the_first_row(bundle: Path) -> None:
    edit_toml(bundle, 'layer = "townships"', 'layer = "demand"')
    message = load_error(bundle)
    assert "region.gpkg, layer 'demand' (townships layer), row 1" in message and "Point" in message


def test_empty_geometry_names_the_row(bundle: Path) -> None:
    edit_layer(bundle, "roads", lambda f: f.set_geometry([*f.geometry[:4], LineString(), *f.geometry[5:]]))
    message = load_error(bundle)
    assert "region.gpkg, layer 'roads', row 5" in message and "empty" in message


def test_invalid_township_polygon_suggests_make_valid(bundle: Path) -> None:
    bowtie = Polygon([(600_000, 2_870_000), (610_000, 2_880_000), (610_000, 2_870_000), (600_000, 2_880_000)])
    edit_layer(bundle, "townships", lambda f: f.set_geometry([bowtie, *f.geometry[1:]]))
    message = load_error(bundle)
    assert "region.gpkg, layer 'townships', row 1" in message and "Self-intersection" in message
    assert "make_valid" in message


@pytest.mark.parametrize(
    ("change", "fragments"),
    [
        (lambda t: t.assign(gps=t["gps"].where(t["id"] != "T02", "three")),
         ["row 3 (id 'T02'), field 'gps'", "'three' is not a number"]),
        (lambda t: t.assign(beds=t["beds"].where(t["id"] != "V02", "-4")), ["row 6 (id 'V02'), field 'beds'", "-4"]),
        (lambda t: t.assign(id=t["id"].where(t["id"] != "V02", "V01")), ["field 'id'", "rows 5 and 6", "'V01'"]),
        (lambda t: t.assign(id=t["id"].where(t["id"] != "V02", "")), ["row 6, field 'id'", "empty"]),
        (lambda t: t.assign(level=t["level"].where(t["id"] != "H01", "hospital")),
         ["row 1 (id 'H01'), field 'level'", "county_hospital, tertiary_hospital"]),
        (lambda t: t.assign(stroke_center=t["stroke_center"].where(t["id"] != "H01", "Y!")),
         ["row 1 (id 'H01'), field 'stroke_center'", "'y!'"]),
        (lambda t: t.drop(columns="level"),
         ["required column 'level'", "columns present: id, name, hospital_kind, central, gps"]),
        (lambda t: t.assign(consortium_lead=t["consortium_lead"].where(t["id"] != "V02", "T01")),
         ["row 6 (id 'V02'), field 'consortium_lead'", "'T01'", "use one of: H01"]),
    ],
    ids=["non-numeric", "negative", "duplicate-id", "empty-id", "level", "bool", "missing-column",
         "consortium-lead"],
)
def test_bad_facility_values_name_file_layer_row_and_field(
    bundle: Path, change: Callable[[pd.DataFrame], pd.DataFrame], fragments: list[str]
) -> None:
    edit_facilities(bundle, change)
    message = load_error(bundle)
    assert message.startswith(f"{bundle / 'facilities.csv'}, layer 'facilities'")
    for fragment in fragments:
        assert fragment in message


def test_rename_maps_source_columns_to_spec_columns(bundle: Path) -> None:
    edit_facilities(bundle, lambda t: t.rename(columns={"gps": "全科医生", "id": "编号"}))
    edit_toml(bundle, 'crs = "EPSG:4326"\n', 'crs = "EPSG:4326"\nrename = { "全科医生" = "gps", "编号" = "id" }\n')
    assert load_region(bundle).facilities["gps"].tolist() == [0, 3, 0, 2, 1, 1]
    edit_toml(bundle, '"编号" = "id"', '"ID" = "id"')
    message = load_error(bundle)
    assert "layers.facilities.rename.ID" in message and "has no column 'ID'" in message


# --- cross-layer checks --------------------------------------------------------------------------------------


def _move_candidate(bundle: Path, x: float, y: float) -> None:
    edit_layer(bundle, "candidates", lambda f: f.set_geometry([f.geometry[0], Point(x, y)], crs=f.crs))


def test_point_just_outside_takes_the_nearest_township(bundle: Path) -> None:
    _move_candidate(bundle, 621_000 - 600, 2_875_000)  # 400 m east of 河口乡
    assert load_region(bundle).candidates["township_code"].tolist() == ["530101", "530102"]


def test_point_far_outside_every_township_is_named(bundle: Path) -> None:
    _move_candidate(bundle, 620_000 + 1_500, 2_875_000)
    message = load_error(bundle)
    assert "region.gpkg, layer 'candidates'" in message and "'C02' (1.5 km away)" in message


def test_point_on_a_shared_boundary_takes_the_first_township(bundle: Path) -> None:
    _move_candidate(bundle, 610_000, 2_875_000)
    assert load_region(bundle).candidates["township_code"].tolist() == ["530101", "530101"]


def test_demand_with_an_unknown_township_code(bundle: Path) -> None:
    edit_layer(bundle, "demand", lambda f: f.assign(township_code=f["township_code"].where(f["id"] != "D05", "9")))
    message = load_error(bundle)
    assert "region.gpkg, layer 'demand', row 5 (id 'D05'), field 'township_code': '9'" in message


@pytest.mark.parametrize(("extra_people", "loads"), [(199.0, True), (201.0, False)])
def test_demand_total_must_match_townships_within_half_a_percent(
    bundle: Path, extra_people: float, loads: bool
) -> None:
    edit_layer(bundle, "demand", lambda f: f.assign(population=f["population"] + extra_people * (f["id"] == "D01")))
    if loads:
        assert load_region(bundle).demand["population"].sum() == 40_000 + extra_people
    else:
        message = load_error(bundle)
        assert "layer 'demand', field 'population'" in message and "40,201" in message and "40,000" in message


def test_facility_and_candidate_ids_must_differ(bundle: Path) -> None:
    edit_layer(bundle, "candidates", lambda f: f.assign(id=["C01", "T02"]))
    message = load_error(bundle)
    assert "layer 'candidates', field 'id': id 'T02'" in message and "facilities.csv" in message


def test_required_layer_without_features(bundle: Path) -> None:
    edit_layer(bundle, "roads", lambda f: f.iloc[:0])
    message = load_error(bundle)
    assert "region.gpkg, layer 'roads'" in message and "no features" in message


# --- reading layers directly ---------------------------------------------------------------------------------


def test_read_layer_of_a_multi_layer_file_needs_a_layer_name() -> None:
    with pytest.raises(DataError, match=r"holds 4 layers .*townships.*name one with `layer`"):
        read_layer(TINY_DIR / "region.gpkg", layer=None, geometry="polygon")


def test_read_layer_keeps_csv_cells_as_text() -> None:
    frame = read_layer(TINY_DIR / "facilities.csv", layer=None, geometry="point")
    assert frame.crs.to_epsg() == 4326
    assert frame["gps"].tolist() == ["0", "3", "0", "2", "1", "1"]
    assert "lon" not in frame and "lat" not in frame


def test_read_layer_csv_holds_points_only() -> None:
    with pytest.raises(DataError, match="can only hold points"):
        read_layer(TINY_DIR / "facilities.csv", layer=None, geometry="polygon", label="townships")


# --- finding regions -----------------------------------------------------------------------------------------


def _embedded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, names: list[str]) -> Path:
    """A directory of embedded regions holding copies of the tiny region under `names`."""
    root = tmp_path / "regions"
    for name in names:
        shutil.copytree(TINY_DIR, root / name)
        toml = root / name / "region.toml"
        toml.write_text(toml.read_text(encoding="utf-8").replace("Hand-made", f"{name}:"), encoding="utf-8")
    (root / "not-a-bundle").mkdir()
    monkeypatch.setattr(regions, "embedded_regions_dir", lambda: root)
    return root


def test_list_regions_lists_bundles_with_their_description(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = _embedded(tmp_path, monkeypatch, ["beta", "alpha"])
    infos = list_regions()
    assert [info.name for info in infos] == ["alpha", "beta"]
    assert infos[0].description.startswith("alpha:") and infos[0].synthetic and infos[0].path == root / "alpha"


def test_resolve_region_by_name_path_or_region_toml(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = _embedded(tmp_path, monkeypatch, ["alpha"])
    assert resolve_region("alpha") == root / "alpha"
    assert resolve_region(TINY_DIR) == TINY_DIR
    assert resolve_region(str(TINY_DIR / "region.toml")) == TINY_DIR
    assert load_region("alpha").path == root / "alpha"
    with pytest.raises(DataError, match=r"'gamma' is neither .* \(embedded: alpha\)"):
        resolve_region("gamma")
    with pytest.raises(DataError, match=r"embedded: alpha"):
        resolve_region("not-a-bundle")


def test_no_embedded_directory_means_no_regions(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(regions, "embedded_regions_dir", lambda: None)
    assert list_regions() == []
    with pytest.raises(DataError, match=r"embedded: none"):
        resolve_region("valley-county")


def test_embedded_regions_of_the_source_checkout() -> None:
    checkout = Path(regions.__file__).resolve().parents[2] / "data" / "regions"
    if not (checkout / "valley-county" / "region.toml").is_file():
        pytest.skip("data/regions/valley-county is not generated yet")
    assert regions.embedded_regions_dir() == checkout
    assert "valley-county" in [info.name for info in list_regions()]
    assert resolve_region("valley-county") == checkout / "valley-county"
    region = load_region("valley-county")
    assert region.crs.is_projected and region.synthetic
    assert set(region.sites["township_code"]) <= set(region.townships["code"])
    assert set(region.demand["township_code"]) <= set(region.townships["code"])
    total = region.townships["population"].sum()
    assert abs(region.demand["population"].sum() - total) <= regions.POPULATION_TOLERANCE * total


def test_every_road_class_has_a_default_speed_in_the_network_module(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.undo()
    from allocopt.network import DEFAULT_SPEEDS_KMH

    assert set(DEFAULT_SPEEDS_KMH) == set(ROAD_CLASSES)


@pytest.mark.parametrize(("typed", "meant"), [("vally-county", "valley-county"), ("Valley_County", "valley-county"),
                                              ("valley-countyy", "valley-county"), ("alfa", "alpha")])
def test_a_mistyped_region_name_gets_a_suggestion(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, typed: str,
                                                  meant: str) -> None:
    _embedded(tmp_path, monkeypatch, ["alpha", "valley-county"])
    with pytest.raises(DataError, match=rf"\(embedded: alpha, valley-county\); did you mean {meant}\? Otherwise"):
        resolve_region(typed)


def test_an_unlike_region_name_gets_no_suggestion(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _embedded(tmp_path, monkeypatch, ["alpha", "valley-county"])
    with pytest.raises(DataError) as raised:
        resolve_region("province")
    assert "did you mean" not in str(raised.value)
