"""Hostile region bundles: every broken input exits 1 with one message naming where and what to do, writes nothing.

Each case copies the tiny region, breaks it in one way and runs `validate` and `access --out` through the CLI. An
isolated village road is not an error: its demand points are reported, counted as unserved and never dropped.
A hypothesis test fuzzes region.toml values and checks that only AllocoptError escapes `load_region`.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import shutil
import warnings
import zipfile
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import geopandas as gpd
import numpy as np
import openpyxl
import pandas as pd
import pyogrio
import pytest
from click.testing import CliRunner, Result
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from shapely.geometry import LineString, Point, Polygon

from allocopt.cli import main
from allocopt.errors import AllocoptError, DataError
from allocopt.readers import read_sheet
from allocopt.regions import load_region
from allocopt.schema import MAX_POPULATION
from allocopt.workflow import default_out_dir

TINY_DIR = Path(__file__).resolve().parent / "data" / "tiny-region"

Mutation = Callable[[Path], None]


# --- mutations: each breaks a copy of the tiny region in one way ------------------------------------------------


def _empty_file(name: str) -> Mutation:
    def mutate(bundle: Path) -> None:
        (bundle / name).write_bytes(b"")

    return mutate


def _in_turn(*mutations: Mutation) -> Mutation:
    def mutate(bundle: Path) -> None:
        for mutation in mutations:
            mutation(bundle)

    return mutate


def _without_demand(bundle: Path) -> None:
    """Drop the demand layer from region.toml, so demand is derived from the townships."""
    _toml('[layers.demand]\nfile = "region.gpkg"\nsource = "hand-made"\nlicense = "CC0-1.0"\n', "")(bundle)


def _directory_instead(name: str) -> Mutation:
    def mutate(bundle: Path) -> None:
        (bundle / name).unlink()
        (bundle / name).mkdir()

    return mutate


def _append_line(name: str, line: str) -> Mutation:
    def mutate(bundle: Path) -> None:
        with (bundle / name).open("a", encoding="utf-8") as handle:
            handle.write(line + "\n")

    return mutate


def _toml(old: str, new: str, *, encoding: str = "utf-8") -> Mutation:
    """Replace `old` (which must occur once) by `new` in region.toml, written in `encoding`."""

    def mutate(bundle: Path) -> None:
        path = bundle / "region.toml"
        text = path.read_text(encoding="utf-8")
        assert text.count(old) == 1, old
        path.write_bytes(text.replace(old, new).encode(encoding))

    return mutate


def _layer(layer: str, change: Callable[[gpd.GeoDataFrame], gpd.GeoDataFrame]) -> Mutation:
    """Rewrite one GeoPackage layer through `change`."""

    def mutate(bundle: Path) -> None:
        frame = pyogrio.read_dataframe(bundle / "region.gpkg", layer=layer)
        with warnings.catch_warnings():  # writing a layer without a CRS warns; that layer is the point
            warnings.simplefilter("ignore", UserWarning)
            pyogrio.write_dataframe(change(frame), bundle / "region.gpkg", layer=layer)

    return mutate


def _cell(layer: str, column: str, row: int, value: object) -> Mutation:
    """Set one cell (0-based row) of a GeoPackage layer; the column becomes text when `value` is text."""

    def change(frame: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
        values = frame[column].astype(object if isinstance(value, str) else frame[column].dtype).tolist()
        values[row] = value
        return frame.assign(**{column: values})

    return _layer(layer, change)


def _geometry(layer: str, row: int, geometry: object) -> Mutation:
    """Replace the geometry of one row (0-based) of a GeoPackage layer."""

    def change(frame: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
        geometries = list(frame.geometry)
        geometries[row] = geometry
        return frame.set_geometry(gpd.GeoSeries(geometries, crs=frame.crs))

    return _layer(layer, change)


def _facilities(change: Callable[[pd.DataFrame], pd.DataFrame], *, encoding: str = "utf-8") -> Mutation:
    """Rewrite facilities.csv (every cell as text) through `change`, in `encoding`."""

    def mutate(bundle: Path) -> None:
        path = bundle / "facilities.csv"
        table = pd.read_csv(path, dtype=str, keep_default_na=False)
        path.write_bytes(change(table).to_csv(index=False).encode(encoding))

    return mutate


def _facility(facility_id: str, column: str, value: str) -> Mutation:
    return _facilities(lambda t: t.assign(**{column: t[column].where(t["id"] != facility_id, value)}))


BOWTIE = Polygon([(600_000, 2_870_000), (610_000, 2_880_000), (610_000, 2_870_000), (600_000, 2_880_000)])
FAR_AWAY_LON_LAT = ("116.3975", "39.9087")  # Tiananmen, Beijing: about 2,100 km from the tiny region in Yunnan

# (id, mutation, fragments the message must hold); every message must also name the file it is about.
CASES: list[tuple[str, Mutation, list[str]]] = [
    # empty and unreadable files
    ("empty-region-toml", _empty_file("region.toml"), ["region.toml", "table [region] is missing"]),
    ("empty-gpkg", _empty_file("region.gpkg"), ["region.gpkg", "layer 'townships'", "empty (0 bytes)"]),
    ("empty-csv", _empty_file("facilities.csv"), ["facilities.csv", "facilities layer", "empty (0 bytes)"]),
    ("toml-syntax", _toml("[region]\n", "[region\n"), ["region.toml", "not valid TOML", "line 1"]),
    ("toml-gbk", _toml('name = "tiny-region"', 'name = "小县"', encoding="gbk"),
     ["region.toml", "not UTF-8", "save it as UTF-8"]),
    ("region-toml-is-a-directory", _directory_instead("region.toml"), ["region.toml", "cannot be read"]),
    # geometry
    ("points-as-townships", _toml('layer = "townships"', 'layer = "demand"'),
     ["region.gpkg, layer 'demand' (townships layer), row 1", "is a Point", "polygons"]),
    ("polygons-as-roads", _layer("roads", lambda f: f.set_geometry(f.geometry.buffer(10.0))),
     ["region.gpkg, layer 'roads', row 1", "is a Polygon", "lines"]),
    ("bowtie-township", _geometry("townships", 0, BOWTIE),
     ["region.gpkg, layer 'townships', row 1", "Self-intersection", "Fix geometries"]),
    ("empty-geometry", _geometry("townships", 1, Polygon()),
     ["region.gpkg, layer 'townships', row 2", "geometry is empty"]),
    ("null-geometry", _geometry("demand", 2, None), ["region.gpkg, layer 'demand', row 3", "geometry is empty"]),
    ("empty-road", _geometry("roads", 4, LineString()), ["region.gpkg, layer 'roads', row 5", "geometry is empty"]),
    # numbers
    ("nan-population", _cell("townships", "population", 0, math.nan),
     ["region.gpkg, layer 'townships', row 1 (id '530101'), field 'population'", "empty", "required"]),
    ("inf-population", _cell("demand", "population", 3, math.inf),
     ["region.gpkg, layer 'demand', row 4 (id 'D04'), field 'population'", "infinite"]),
    ("negative-population", _cell("townships", "population", 2, -20_000.0),
     ["region.gpkg, layer 'townships', row 3 (id '530103'), field 'population'", "-20000 is below the minimum 0"]),
    ("huge-population", _cell("townships", "population", 1, 1e15),
     ["region.gpkg, layer 'townships', row 2 (id '530102'), field 'population'",
      f"above the maximum {MAX_POPULATION:g}"]),
    ("no-residents", _in_turn(_without_demand, _layer("townships", lambda f: f.assign(population=0.0))),
     ["region.gpkg, layer 'townships', field 'population'", "every township has 0 residents"]),
    ("elderly-above-population", _cell("demand", "population_65plus", 6, 80_000.0),
     ["region.gpkg, layer 'demand', row 7 (id 'D07'), field 'population_65plus'", "80000", "8000", "swapped"]),
    ("text-population", _cell("demand", "population", 0, "5 000 people"),
     ["region.gpkg, layer 'demand', row 1 (id 'D01'), field 'population'", "'5 000 people' is not a number"]),
    ("nan-text-gps", _facility("T01", "gps", "NaN"),
     ["facilities.csv, layer 'facilities', row 2 (id 'T01'), field 'gps'", "'NaN' is not a number"]),
    ("inf-text-beds", _facility("H01", "beds", "inf"),
     ["facilities.csv, layer 'facilities', row 1 (id 'H01'), field 'beds'", "infinite"]),
    ("fractional-gps", _facility("T03", "gps", "2.5"),
     ["facilities.csv, layer 'facilities', row 4 (id 'T03'), field 'gps'", "2.5 is not a whole number"]),
    ("huge-gps", _facility("T03", "gps", "1e20"),
     ["facilities.csv, layer 'facilities', row 4 (id 'T03'), field 'gps'", "above the maximum"]),
    ("text-speed", _cell("roads", "speed_kmh", 6, "fast"),
     ["region.gpkg, layer 'roads', row 7, field 'speed_kmh'", "'fast' is not a number"]),
    ("huge-speed", _cell("roads", "speed_kmh", 6, 1e9),
     ["region.gpkg, layer 'roads', row 7, field 'speed_kmh'", "above the maximum"]),
    ("zero-speed", _cell("roads", "speed_kmh", 6, 0.0),
     ["region.gpkg, layer 'roads', row 7, field 'speed_kmh'", "must be above 0 (km/h), not 0"]),
    ("negative-open-cost", _cell("candidates", "open_cost_yuan", 1, -1.0),
     ["region.gpkg, layer 'candidates', row 2 (id 'C02'), field 'open_cost_yuan'", "below the minimum"]),
    # ids
    ("duplicate-township-code", _cell("townships", "code", 1, 530101),
     ["region.gpkg, layer 'townships', field 'code'", "rows 1 and 2", "'530101'", "unique"]),
    ("null-demand-id", _cell("demand", "id", 4, None),
     ["region.gpkg, layer 'demand', row 5, field 'id'", "empty", "required"]),
    ("blank-demand-id", _cell("demand", "id", 4, "  "),
     ["region.gpkg, layer 'demand', row 5, field 'id'", "empty", "required"]),
    ("blank-township-name", _cell("townships", "name", 2, ""),
     ["region.gpkg, layer 'townships', row 3 (id '530103'), field 'name'", "empty", "township name"]),
    ("duplicate-facility-id", _facility("V02", "id", "V01"),
     ["facilities.csv, layer 'facilities', field 'id'", "rows 5 and 6", "'V01'"]),
    ("unknown-township-in-demand", _cell("demand", "township_code", 8, "530199"),
     ["region.gpkg, layer 'demand', row 9 (id 'D09'), field 'township_code'", "'530199' is not a code"]),
    # vocabularies and references
    ("unknown-level", _facility("T02", "level", "卫生院"),
     ["facilities.csv, layer 'facilities', row 3 (id 'T02'), field 'level'", "'卫生院'", "township_hc"]),
    ("unknown-road-class", _cell("roads", "road_class", 3, "lane"),
     ["region.gpkg, layer 'roads', row 4, field 'road_class'", "'lane'", "village"]),
    ("lead-not-a-hospital", _facility("V02", "consortium_lead", "T03"),
     ["facilities.csv, layer 'facilities', row 6 (id 'V02'), field 'consortium_lead'", "'T03'", "H01"]),
    ("lead-unknown", _facility("T01", "consortium_lead", "H99"),
     ["facilities.csv, layer 'facilities', row 2 (id 'T01'), field 'consortium_lead'", "'H99'"]),
    ("rename-two-to-one", _toml('x_column = "lon"', 'rename = { beds = "gps" }\nx_column = "lon"'),
     ["facilities.csv, layer 'facilities'", "column 'gps' appears more than once", "`rename`"]),
    ("rename-onto-geometry", _toml('layer = "townships"', 'layer = "townships"\nrename = { name = "geometry" }'),
     ["region.gpkg, layer 'townships'", "column 'geometry' appears more than once"]),
    ("ragged-csv", _append_line("facilities.csv", "X1,a,b,c,d,e,f,g,h,i,j,k,l,m,n,o,p,q,r,s"),
     ["facilities.csv, facilities layer", "Expected 18 fields in line 8, saw 20", "comma-separated"]),
    ("same-coordinate-columns", _toml('y_column = "lat"', 'y_column = "lon"'),
     ["facilities.csv, facilities layer", "x_column and y_column are both 'lon'"]),
    # text encodings
    ("gbk-csv", _facilities(lambda t: t, encoding="gbk"),
     ["facilities.csv", "facilities layer", "not UTF-8", "CSV UTF-8"]),
    # coordinate reference systems
    ("layer-without-crs", _layer("townships", lambda f: f.set_crs(None, allow_override=True)),
     ["region.gpkg, layer 'townships'", "no CRS", "`crs`"]),
    ("csv-metres-as-degrees", _facilities(lambda t: t.assign(lon="609600", lat="2870400")),
     ["facilities.csv, facilities layer, row 1 (and 5 more rows)", "(609600, 2.8704e+06)", "not a longitude"]),
    ("gpkg-metres-as-degrees", _layer("candidates", lambda f: f.set_crs("EPSG:4326", allow_override=True)),
     ["region.gpkg, layer 'candidates', row 1 (and 1 more row)", "not a longitude/latitude", "CRS"]),
    ("region-crs-geographic", _toml('crs = "EPSG:32647"', 'crs = "EPSG:4490"'),
     ["region.toml", "key 'region.crs'", "geographic", "metres"]),
    ("region-crs-unknown", _toml('crs = "EPSG:32647"', 'crs = "UTM47"'),
     ["region.toml", "key 'region.crs'", "'UTM47' is not a known CRS"]),
    ("region-crs-wrong-type", _toml('crs = "EPSG:32647"', "crs = 32647"),
     ["region.toml", "key 'region.crs' must be a str", "32647"]),
    ("huge-int-access-speed", _toml("access_speed_kmh = 5.0", "access_speed_kmh = 1" + "0" * 400),
     ["region.toml", "key 'network.access_speed_kmh'", "integer of 401 digits", "km/h"]),
    # places
    ("demand-far-away", _geometry("demand", 0, Point(100_000, 2_870_000)),
     ["region.gpkg, layer 'demand'", "outside every township", "'D01' (500.0 km away)"]),
    ("roads-in-another-utm-zone", _layer("roads", lambda f: f.set_crs("EPSG:32650", allow_override=True)),
     ["region.gpkg, layer 'roads'", "every road lies outside the townships' extent", "CRS"]),
    ("facility-far-away", _facilities(
        lambda t: t.assign(lon=t["lon"].where(t["id"] != "T02", FAR_AWAY_LON_LAT[0]),
                           lat=t["lat"].where(t["id"] != "T02", FAR_AWAY_LON_LAT[1]))),
     ["facilities.csv", "layer 'facilities'", "outside every township", "'T02'", "km away"]),
    ("swapped-lon-lat", _facilities(lambda t: t.assign(lon=t["lat"], lat=t["lon"])),
     ["facilities.csv, facilities layer, row 1 (and 5 more rows)", "'lon' holds longitudes"]),
]


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


@pytest.fixture
def bundle(tmp_path: Path) -> Path:
    """A writable copy of the tiny region."""
    return Path(shutil.copytree(TINY_DIR, tmp_path / "bundle"))


def assert_one_clean_error(result: Result, fragments: list[str]) -> None:
    """Exit 1, nothing on stdout, one 'Error:' line on stderr holding every fragment, no traceback."""
    assert result.exit_code == 1, result.output
    assert isinstance(result.exception, SystemExit), result.exception
    assert "Traceback" not in result.output
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.stderr
    for fragment in fragments:
        assert fragment in lines[0], f"{fragment!r} not in {lines[0]!r}"


@pytest.mark.parametrize("command", ["validate", "access"])
@pytest.mark.parametrize(("mutate", "fragments"), [case[1:] for case in CASES], ids=[case[0] for case in CASES])
def test_broken_bundle_exits_1_with_one_message_and_writes_nothing(
    runner: CliRunner, bundle: Path, tmp_path: Path, command: str, mutate: Mutation, fragments: list[str]
) -> None:
    mutate(bundle)
    out, cache = tmp_path / "out", tmp_path / "cache"
    extra = ["--out", str(out), "--cache-dir", str(cache)] if command == "access" else []
    result = runner.invoke(main, [command, str(bundle), *extra])
    assert_one_clean_error(result, fragments)
    assert not out.exists() and not cache.exists()


def test_every_case_names_the_file(bundle: Path) -> None:
    """The table itself: each case expects the file it broke (or region.toml) to be named."""
    for name, _, fragments in CASES:
        assert any(file in fragment for fragment in fragments for file in ("region.", "facilities.csv")), name


def test_csv_with_a_bom_is_accepted(runner: CliRunner, bundle: Path) -> None:
    _facilities(lambda t: t, encoding="utf-8-sig")(bundle)
    assert (bundle / "facilities.csv").read_bytes().startswith(b"\xef\xbb\xbf")
    result = runner.invoke(main, ["validate", str(bundle), "--format", "json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["facilities"] == 6


def test_region_toml_with_a_bom_is_accepted(bundle: Path) -> None:
    toml = bundle / "region.toml"
    toml.write_bytes(toml.read_text(encoding="utf-8").encode("utf-8-sig"))
    assert load_region(bundle).name == "tiny-region"


def test_population_at_the_maximum_is_accepted(bundle: Path) -> None:
    _without_demand(bundle)
    _cell("townships", "population", 1, MAX_POPULATION)(bundle)
    assert load_region(bundle).townships["population"].iloc[1] == MAX_POPULATION


# --- an isolated village road: reported, counted as unserved, never dropped -------------------------------------

ISOLATED_ROAD = LineString([(617_500, 2_879_000), (619_500, 2_879_000)])  # in 河口乡, 4 km north of the grid
ISOLATED_VILLAGE = Point(618_500, 2_879_200)  # 200 m from the isolated road, 4.2 km from the nearest grid node


def _add_isolated_village(bundle: Path) -> None:
    """A village on its own road in township 530102; 500 people move to it from D04, so totals still agree."""

    def add_road(roads: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
        row = gpd.GeoDataFrame({"road_class": ["village"], "speed_kmh": [math.nan], "oneway": [False]},
                               geometry=[ISOLATED_ROAD], crs=roads.crs)
        return pd.concat([roads, row], ignore_index=True)

    def add_village(demand: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
        moved = demand.assign(population=np.where(demand["id"] == "D04", 2_500.0, demand["population"]))
        row = gpd.GeoDataFrame({"id": ["D10"], "township_code": ["530102"], "population": [500.0],
                                "population_65plus": [100.0]}, geometry=[ISOLATED_VILLAGE], crs=demand.crs)
        return pd.concat([moved, row], ignore_index=True)

    _layer("roads", add_road)(bundle)
    _layer("demand", add_village)(bundle)


def test_validate_warns_about_a_village_on_an_isolated_road(runner: CliRunner, bundle: Path) -> None:
    _add_isolated_village(bundle)
    result = runner.invoke(main, ["validate", str(bundle)])
    assert result.exit_code == 0, result.output
    warnings = [line for line in result.output.splitlines() if "Warning" in line]
    assert len(warnings) == 1 and "1 demand points lie off the main road network" in warnings[0]
    assert warnings[0].endswith(": D10")
    facts = json.loads(runner.invoke(main, ["validate", str(bundle), "--format", "json"]).stdout)
    assert facts["demand_off_main_network"] == ["D10"] and facts["sites_off_main_network"] == []
    assert (facts["demand_points"], facts["road_components"], facts["population"]) == (10, 2, 40_000.0)


def test_access_counts_the_isolated_village_as_unreachable_and_keeps_it(
    runner: CliRunner, bundle: Path, tmp_path: Path
) -> None:
    _add_isolated_village(bundle)
    out = tmp_path / "out"
    result = runner.invoke(main, ["access", str(bundle), "--format", "json", "--out", str(out),
                                  "--cache-dir", str(tmp_path / "cache")])
    assert result.exit_code == 0, result.output
    assert "1 demand points reach no site by road: D10" in result.stderr
    summary = json.loads(result.stdout)
    assert summary["population"] == 40_000.0
    for name, service in summary["services"].items():
        # Services nobody provides today are unreachable for all; otherwise only the isolated village is.
        unreachable = 500.0 if service["providers"] else 40_000.0
        assert service["unreachable_population"] == unreachable, name
        assert service["unserved_population"] >= unreachable
        assert service["covered_population"] + service["unserved_population"] == pytest.approx(40_000.0)
    demand = pd.read_csv(out / "demand.csv", encoding="utf-8-sig", dtype={"id": str})
    assert len(demand) == 10 and "D10" in set(demand["id"])


# --- fuzzing region.toml ------------------------------------------------------------------------------------------

TOML_NUMBERS = st.one_of(
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.integers(min_value=10**300, max_value=10**400),  # TOML integers beyond the float range
    st.floats(allow_nan=True, allow_infinity=True),
)
TOML_SCALARS = st.one_of(
    TOML_NUMBERS,
    st.booleans(),
    st.text(alphabet=st.characters(codec="utf-8"), max_size=12),
    st.sampled_from(["EPSG:32647", "EPSG:4326", "region.gpkg", "facilities.csv", "roads", "lon", "village", ""]),
)
TOML_VALUES = st.one_of(
    TOML_SCALARS,
    st.recursive(
        TOML_SCALARS,
        lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(st.sampled_from(
            ["village", "lane", "lon", "code", "x", "geometry", "id"]), inner, max_size=3)),
        max_leaves=6,
    ),
)
"""Any TOML value, scalars (numbers most of all) more often than arrays and inline tables."""
REGION_KEYS = [
    ("region", "name"), ("region", "crs"), ("region", "synthetic"), ("region", "description"),
    ("network", "access_speed_kmh"), ("network", "speeds_kmh"), ("network", "speeds_kmh.village"),
    ("network", "speeds_kmh.county"),
    ("layers.facilities", "file"), ("layers.facilities", "x_column"), ("layers.facilities", "crs"),
    ("layers.facilities", "rename"), ("layers.roads", "layer"), ("layers.roads", "file"),
    ("layers.townships", "rename"), ("layers.candidates", "crs"), ("layers.demand", "layer"),
]


def toml_literal(value: object) -> str:
    """`value` as a TOML literal (inline tables and arrays nest)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf") if math.isinf(value) else repr(value)
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, list):
        return "[" + ", ".join(toml_literal(item) for item in value) + "]"
    assert isinstance(value, dict)
    return "{" + ", ".join(f"{json.dumps(k)} = {toml_literal(v)}" for k, v in value.items()) + "}"


def with_values(text: str, changes: dict[tuple[str, str], object]) -> str:
    """region.toml text with each (table, key) set to a value: replaced where the key is, else added to the table."""
    lines = text.splitlines()
    for (table, key), value in changes.items():
        header = f"[{table}]"
        top, _, sub = key.partition(".")
        if sub:
            header, key = f"[{table}.{top}]", sub
        if header not in lines:
            lines.append(header)
        start = lines.index(header) + 1
        end = next((i for i in range(start, len(lines)) if lines[i].startswith("[")), len(lines))
        assignment = f"{json.dumps(key)} = {toml_literal(value)}"
        found = [i for i in range(start, end) if lines[i].split("=")[0].strip() == key]
        if found:
            lines[found[0]] = assignment
        else:
            lines.insert(end, assignment)
    return "\n".join(lines) + "\n"


@pytest.fixture(scope="module")
def fuzz_bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return Path(shutil.copytree(TINY_DIR, tmp_path_factory.mktemp("fuzz") / "bundle"))


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(changes=st.dictionaries(st.sampled_from(REGION_KEYS), st.one_of(TOML_NUMBERS, TOML_VALUES), min_size=1,
                               max_size=2))
def test_fuzzed_region_toml_raises_only_allocopt_errors(
    fuzz_bundle: Path, changes: dict[tuple[str, str], object]
) -> None:
    text = with_values((TINY_DIR / "region.toml").read_text(encoding="utf-8"), changes)
    (fuzz_bundle / "region.toml").write_text(text, encoding="utf-8")
    try:
        region = load_region(fuzz_bundle)
    except AllocoptError:
        return
    assert region.access_speed_kmh > 0 and math.isfinite(region.access_speed_kmh)
    assert region.crs.is_projected


# --- inputs that leave the bundle, hang, or never end ---------------------------------------------------------

SECRET = "s3cr3t-cell-value"


def _outside_csv(bundle: Path) -> Path:
    """A facilities-like CSV beside the bundle whose only cell is a secret, as a file an attacker points at."""
    outside = bundle.parent / "outside"
    outside.mkdir(exist_ok=True)
    (outside / "x.csv").write_text(f"lon,lat,password\n100.05,25.99,{SECRET}\n", encoding="utf-8")
    return outside / "x.csv"


@pytest.mark.parametrize("reference", ["relative", "absolute", "symlink"])
def test_layer_paths_leave_the_bundle(runner: CliRunner, bundle: Path, reference: str) -> None:
    """A layer file outside the bundle is refused without reading it, so no cell of it reaches a message."""
    outside = _outside_csv(bundle)
    if reference == "symlink":
        (bundle / "facilities.csv").unlink()
        (bundle / "facilities.csv").symlink_to(outside)
    else:
        file = "../outside/x.csv" if reference == "relative" else str(outside)
        _toml('file = "facilities.csv"', f"file = {json.dumps(file)}")(bundle)
    result = runner.invoke(main, ["validate", str(bundle)])
    assert_one_clean_error(result, ["region.toml", "layers.facilities.file", "outside the bundle directory",
                                    "outside_bundle = true"])
    assert SECRET not in result.output and "password" not in result.output


def test_a_shared_file_outside_the_bundle_is_read_by_opt_in_hashed_and_never_quoted(
    runner: CliRunner, bundle: Path, tmp_path: Path
) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    shutil.move(bundle / "facilities.csv", shared / "facilities.csv")
    _toml('file = "facilities.csv"', 'file = "../shared/facilities.csv"\noutside_bundle = true')(bundle)
    out = tmp_path / "plan"
    result = runner.invoke(main, ["optimize", str(bundle), "--budget", "3000000", "--out", str(out),
                                  "--cache-dir", str(tmp_path / "cache")])
    assert result.exit_code == 0, result.output
    hashes = json.loads((out / "summary.json").read_text(encoding="utf-8"))["inputs"]["region_files"]
    expected = hashlib.sha256((shared / "facilities.csv").read_bytes()).hexdigest()
    assert hashes["../shared/facilities.csv"] == expected
    (shared / "facilities.csv").write_text(  # with the facility-type columns, so no defaults warning comes first
        f"id,name,level,hospital_kind,central,village_doctors,lon,lat\nX1,{SECRET},no_such_level,,,,100.05,25.99\n",
        encoding="utf-8")
    result = runner.invoke(main, ["validate", str(bundle)])
    assert_one_clean_error(result, ["facilities.csv", "outside the bundle", "details are withheld"])
    assert SECRET not in result.output and "no_such_level" not in result.output


@pytest.mark.parametrize("name", ["../../x", "/etc/cron.d/x", "..", "a/../../b"])
def test_a_region_name_used_as_default_output_stays_in_results(name: str) -> None:
    target = default_out_dir(name, now=datetime(2026, 1, 2, 3, 4, 5))
    assert target.parent == Path("results") and ".." not in target.parts and not target.name.startswith(".")
    assert target.name.endswith("-20260102-030405")


def _fifo(path: Path) -> None:
    path.unlink(missing_ok=True)
    os.mkfifo(path)


def _command_for(target: str, bundle: Path, tmp_path: Path) -> list[str]:
    """The command whose input `target` is, with that input made a FIFO or a symlink to /dev/zero first."""
    scenario, costs = tmp_path / "scenario.toml", tmp_path / "costs.csv"
    paths = {"layer": bundle / "facilities.csv", "region.toml": bundle / "region.toml", "scenario": scenario,
             "costs": costs}
    commands = {
        "layer": ["validate", str(bundle)],
        "region.toml": ["validate", str(bundle)],
        "scenario": ["access", str(bundle), "--scenario", str(scenario)],
        "costs": ["locate", "pmedian", "--costs", str(costs), "-p", "1"],
    }
    return [*commands[target], str(paths[target])]


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="POSIX FIFOs")
@pytest.mark.parametrize("kind", ["fifo", "dev-zero"])
@pytest.mark.parametrize("target", ["layer", "region.toml", "scenario", "costs"])
def test_hangs_and_unbounded_reads(runner: CliRunner, bundle: Path, tmp_path: Path, target: str, kind: str) -> None:
    """A FIFO or a symlink to /dev/zero where a file belongs is refused at once (reading either never ends)."""
    *command, path = _command_for(target, bundle, tmp_path)
    if kind == "fifo":
        _fifo(Path(path))
    else:
        Path(path).unlink(missing_ok=True)
        Path(path).symlink_to("/dev/zero")
        if target == "layer":  # else refused as a file outside the bundle, before its type is looked at
            _toml('file = "facilities.csv"', 'file = "facilities.csv"\noutside_bundle = true')(bundle)
    result = runner.invoke(main, command)
    described = "a named pipe (FIFO)" if kind == "fifo" else "a character device"
    assert_one_clean_error(result, [Path(path).name, f"it is {described}, not a regular file"])


def test_an_input_over_the_size_limit_names_the_override(runner: CliRunner, bundle: Path) -> None:
    result = runner.invoke(main, ["validate", str(bundle)], env={"ALLOCOPT_MAX_INPUT_MB": "0.0001"})
    assert_one_clean_error(result, ["region.gpkg", "more than the 0.0 MB read at most", "$ALLOCOPT_MAX_INPUT_MB"])
    oversized = bundle / "region.toml"
    oversized.write_text(oversized.read_text(encoding="utf-8") + "#" * 1_100_000 + "\n", encoding="utf-8")
    result = runner.invoke(main, ["validate", str(bundle)])
    assert_one_clean_error(result, ["region.toml", "more than the 1.0 MB", "$ALLOCOPT_MAX_SETTINGS_MB"])
    assert runner.invoke(main, ["validate", str(bundle)], env={"ALLOCOPT_MAX_SETTINGS_MB": "2"}).exit_code == 0


def _workbook(path: Path, *, far_cell: bool = False) -> Path:
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["id", "name", "lon", "lat"])
    sheet.append(["H01", "县医院", 100.09, 25.95])
    if far_cell:
        sheet["XFD1048576"] = "x"
    book.save(path)
    return path


def test_a_workbook_with_one_far_cell_is_refused_by_its_used_range(tmp_path: Path) -> None:
    path = _workbook(tmp_path / "far.xlsx", far_cell=True)
    assert path.stat().st_size < 10_000
    with pytest.raises(DataError, match=r"far.xlsx: the first sheet's used range \(A1:XFD1048576\) spans "
                                        r"17,179,869,184 cells"):
        read_sheet(path)
    table = read_sheet(_workbook(tmp_path / "plain.xlsx"))
    assert table.to_dict("records") == [{"id": "H01", "name": "县医院", "lon": "100.09", "lat": "25.95"}]


# --- bad input that used to report itself as a bug (exit 70) --------------------------------------------------

NESTED_TOML = "x = " + "[" * 5000 + "]" * 5000 + "\n"


def _xlsx_with(path: Path, part: str, data: bytes | None) -> Path:
    """A copy of a plain workbook with one zip member replaced by `data` (None: removed)."""
    source = _workbook(path.with_suffix(".source.xlsx"))
    with zipfile.ZipFile(source) as original, zipfile.ZipFile(path, "w") as copy:
        for item in original.infolist():
            if item.filename != part:
                copy.writestr(item, original.read(item.filename))
        if data is not None:
            copy.writestr(part, data)
    return path


BILLION_LAUGHS = (b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
                  + b"".join(b'<!ENTITY lol%d "%s">' % (i, (b"&lol%d;" % (i - 1) if i > 1 else b"&lol;") * 10)
                             for i in range(1, 10))
                  + b']><worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>'
                  b'<row r="1"><c r="A1" t="inlineStr"><is><t>&lol9;</t></is></c></row></sheetData></worksheet>')
"""A worksheet whose one cell expands to 10^9 characters ("billion laughs")."""


@pytest.mark.parametrize("case", ["nested-region-toml", "nested-scenario", "dev-zero-scenario", "nested-summary",
                                  "billion-laughs-xlsx", "workbook-less-xlsx", "huge-generated-region"])
def test_bad_input_that_reports_itself_as_a_bug(runner: CliRunner, bundle: Path, tmp_path: Path, case: str) -> None:
    """Each input exits 1 with one message naming the file (it used to exit 70 asking for a bug report)."""
    scenario = tmp_path / "scenario.toml"
    if case == "nested-region-toml":
        _append_line("region.toml", "[generator]\n" + NESTED_TOML)(bundle)
        command, fragments = ["validate", str(bundle)], ["region.toml", "nested too deeply"]
    elif case == "nested-scenario":
        scenario.write_text(NESTED_TOML, encoding="utf-8")
        command, fragments = ["access", str(bundle), "--scenario", str(scenario)], ["scenario.toml", "too deeply"]
    elif case == "dev-zero-scenario":
        command, fragments = ["access", str(bundle), "--scenario", "/dev/zero"], ["/dev/zero", "not a regular file"]
    elif case == "nested-summary":
        (tmp_path / "result").mkdir()
        (tmp_path / "result" / "summary.json").write_text("[" * 100_000 + "]" * 100_000, encoding="utf-8")
        command, fragments = ["report", str(tmp_path / "result")], ["summary.json", "nested too deeply"]
    elif case == "huge-generated-region":
        command = ["generate-region", str(tmp_path / "gen"), "--townships", "3", "--villages", "2000000000",
                   "--population", "3000000000", "--seed", "1"]
        fragments = ["villages must be at most 20,000"]
    else:
        data = BILLION_LAUGHS if case == "billion-laughs-xlsx" else None
        part = "xl/worksheets/sheet1.xml" if data is not None else "xl/workbook.xml"
        path = _xlsx_with(tmp_path / "facilities.xlsx", part, data)
        with pytest.raises(DataError, match="cannot be read as an Excel workbook") as caught:
            read_sheet(path)
        assert "facilities.xlsx" in str(caught.value)
        return
    assert_one_clean_error(runner.invoke(main, command), fragments)


def test_running_out_of_memory_exits_5_with_one_line(runner: CliRunner, bundle: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    def exhausted(*args: object, **kwargs: object) -> None:
        raise MemoryError

    monkeypatch.setattr("allocopt.workflow.build_network", exhausted)
    result = runner.invoke(main, ["access", str(bundle)])
    assert result.exit_code == 5, result.output
    assert result.stderr.count("\n") == 1 and "out of memory" in result.stderr and "Traceback" not in result.output


def test_optimize_warns_of_demand_and_sites_the_roads_do_not_connect(
    runner: CliRunner, bundle: Path, tmp_path: Path
) -> None:
    """As access does: the isolated village reaches no site; the plan is still written."""
    _add_isolated_village(bundle)
    result = runner.invoke(main, ["optimize", str(bundle), "--budget", "3000000", "--out", str(tmp_path / "plan"),
                                  "--cache-dir", str(tmp_path / "cache")])
    assert result.exit_code == 0, result.output
    assert result.stderr.splitlines() == ["Warning: 1 demand points reach no site by road: D10"]
    assert (tmp_path / "plan" / "summary.json").is_file()


def test_optimize_warns_of_a_site_no_demand_point_reaches(runner: CliRunner, bundle: Path, tmp_path: Path) -> None:
    def add_road(roads: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
        row = gpd.GeoDataFrame({"road_class": ["village"], "speed_kmh": [math.nan], "oneway": [False]},
                               geometry=[ISOLATED_ROAD], crs=roads.crs)
        return pd.concat([roads, row], ignore_index=True)

    def add_candidate(candidates: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
        row = candidates.iloc[[0]].assign(id="C99", name="孤岛", geometry=[ISOLATED_VILLAGE])
        return pd.concat([candidates, row], ignore_index=True)

    _layer("roads", add_road)(bundle)
    _layer("candidates", add_candidate)(bundle)
    result = runner.invoke(main, ["optimize", str(bundle), "--budget", "3000000", "--out", str(tmp_path / "plan"),
                                  "--cache-dir", str(tmp_path / "cache")])
    assert result.exit_code == 0, result.output
    assert result.stderr.splitlines() == [
        "Warning: 1 sites are reached by no demand point by road, so the plan cannot use them: C99"]


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="POSIX FIFOs")
def test_a_planners_table_that_is_a_fifo_is_refused_by_build_region(runner: CliRunner, tmp_path: Path) -> None:
    fifo = tmp_path / "facilities.csv"
    os.mkfifo(fifo)
    gpkg = str(TINY_DIR / "region.gpkg")
    result = runner.invoke(main, ["build-region", str(tmp_path / "county"), "--roads", gpkg, "--townships", gpkg,
                                  "--facilities", str(fifo)])
    assert_one_clean_error(result, ["facilities.csv", "facilities file cannot be read: it is a named pipe (FIFO)"])
    assert not (tmp_path / "county").exists()
