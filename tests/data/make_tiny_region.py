"""Write the tiny test region `tests/data/tiny-region/` from the tables below; run it instead of editing the files.

Usage: python tests/data/make_tiny_region.py [output_dir]

Layout in EPSG:32647 (UTM 47N, metres): three rectangular townships over x 600000..620000, y 2860000..2880000,
three demand points in each, a road grid, six facilities written as lon/lat CSV (EPSG:4326) and two candidate sites.
The GeoPackage is written with a fixed timestamp, so reruns give identical files.

   y
 2880000 +----------------------+----------------------+
         | 530101 上江镇 12,000 | 530102 河口乡 8,000  |
 2870000 +----------------------+----------------------+
         |            530103 平坝镇 20,000              |
 2860000 +---------------------------------------------+
       600000                 610000                 620000  x
"""

from __future__ import annotations

import itertools
import sys
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pyogrio
import pyproj
from shapely.geometry import LineString, Point, box

CRS = "EPSG:32647"
OUT_DIR = Path(__file__).resolve().parent / "tiny-region"
FIXED_TIMESTAMP = "2024-01-01T00:00:00.000Z"

TOWNSHIPS = [
    # code (stored as an integer, as real exports often do), name, population, 65+, (xmin, ymin, xmax, ymax)
    (530101, "上江镇", 12_000.0, 1_800.0, (600_000, 2_870_000, 610_000, 2_880_000)),
    (530102, "河口乡", 8_000.0, 1_500.0, (610_000, 2_870_000, 620_000, 2_880_000)),
    (530103, "平坝镇", 20_000.0, 3_000.0, (600_000, 2_860_000, 620_000, 2_870_000)),
]

DEMAND = [
    # id, township_code, population, 65+, x, y  (populations add up to each township's)
    ("D01", "530101", 5_000.0, 750.0, 603_000, 2_877_000),
    ("D02", "530101", 4_000.0, 600.0, 607_000, 2_876_000),
    ("D03", "530101", 3_000.0, 450.0, 604_000, 2_872_000),
    ("D04", "530102", 3_000.0, 550.0, 613_000, 2_877_000),
    ("D05", "530102", 3_000.0, 550.0, 617_000, 2_874_000),
    ("D06", "530102", 2_000.0, 400.0, 614_000, 2_871_500),
    ("D07", "530103", 8_000.0, 1_200.0, 603_000, 2_865_000),
    ("D08", "530103", 7_000.0, 1_050.0, 610_000, 2_863_000),
    ("D09", "530103", 5_000.0, 750.0, 617_000, 2_866_000),
]

FACILITY_COLUMNS = (
    "id", "name", "level", "hospital_kind", "central", "gps", "village_doctors", "beds", "ct", "dr", "ultrasound",
    "cath_lab", "chest_pain_center", "stroke_center", "trauma_center", "consortium_lead",
)
FACILITIES = [
    # columns as FACILITY_COLUMNS, then x, y in EPSG:32647
    ("H01", "县人民医院", "county_hospital", "general", "false", 0, 0, 320, 1, 2, 3, 0, "false", "true", "false", "",
     609_600, 2_870_400),
    ("T01", "上江镇卫生院", "township_hc", "", "false", 3, 0, 40, 0, 1, 1, 0, "false", "false", "false", "H01",
     605_400, 2_875_400),
    ("T02", "河口乡卫生院", "township_hc", "", "false", 0, 0, 20, 0, 0, 1, 0, "false", "false", "false", "H01",
     615_400, 2_875_400),
    ("T03", "平坝镇卫生院", "township_hc", "", "false", 2, 0, 30, 0, 1, 0, 0, "false", "false", "false", "H01",
     610_400, 2_865_400),
    ("V01", "松林村卫生室", "village_clinic", "", "false", 1, 1, 0, 0, 0, 0, 0, "false", "false", "false", "",
     603_200, 2_877_200),
    ("V02", "新寨村卫生室", "village_clinic", "", "false", 1, 2, 0, 0, 0, 0, 0, "false", "false", "false", "H01",
     617_200, 2_866_200),
]

CANDIDATES = [
    # id, name, open_cost_yuan, level, x, y
    ("C01", "上江镇北分院", 1_500_000.0, "township_hc", 602_600, 2_877_600),
    ("C02", "平坝镇西村卫生室", 800_000.0, "village_clinic", 604_000, 2_862_600),
]

GRID_X = (600_000, 605_000, 610_000, 615_000, 620_000)
GRID_Y = (2_865_000, 2_870_000, 2_875_000)
ROW_CLASS = {2_865_000: "township", 2_870_000: "national", 2_875_000: "township"}
COLUMN_CLASS = {600_000: "provincial", 605_000: "village", 610_000: "county", 615_000: "village", 620_000: "provincial"}
SLOW_TOWN_SEGMENT = ((605_000, 2_870_000), (610_000, 2_870_000))  # national road through the county seat: 40 km/h
ONEWAY_SEGMENT = ((615_000, 2_870_000), (615_000, 2_875_000))  # one-way northbound village road

REGION_TOML = """\
[region]
name = "tiny-region"
description = "Hand-made three-township test bundle (written by tests/data/make_tiny_region.py)"
crs = "EPSG:32647"
synthetic = true
calibration = "none: small enough to compute answers by hand"

[layers.townships]
file = "region.gpkg"
layer = "townships"
source = "hand-made"
license = "CC0-1.0"

[layers.demand]
file = "region.gpkg"
source = "hand-made"
license = "CC0-1.0"

[layers.facilities]
file = "facilities.csv"
x_column = "lon"
y_column = "lat"
crs = "EPSG:4326"
source = "hand-made"
license = "CC0-1.0"

[layers.candidates]
file = "region.gpkg"
source = "hand-made"
license = "CC0-1.0"

[layers.roads]
source = "hand-made"
license = "CC0-1.0"

[network]
access_speed_kmh = 5.0

[network.speeds_kmh]
village = 15.0
"""


def road_segments() -> gpd.GeoDataFrame:
    """The road grid, one line per segment between neighbouring grid nodes."""
    rows = []
    for y in GRID_Y:
        for x0, x1 in itertools.pairwise(GRID_X):
            ends = ((x0, y), (x1, y))
            speed = 40.0 if ends == SLOW_TOWN_SEGMENT else float("nan")
            rows.append((ROW_CLASS[y], speed, False, LineString(ends)))
    for x in GRID_X:
        for y0, y1 in itertools.pairwise(GRID_Y):
            ends = ((x, y0), (x, y1))
            rows.append((COLUMN_CLASS[x], float("nan"), ends == ONEWAY_SEGMENT, LineString(ends)))
    return gpd.GeoDataFrame(rows, columns=["road_class", "speed_kmh", "oneway", "geometry"], crs=CRS)


def main(out_dir: Path) -> None:
    """Write region.toml, region.gpkg and facilities.csv into `out_dir`."""
    out_dir.mkdir(parents=True, exist_ok=True)
    gpkg = out_dir / "region.gpkg"
    gpkg.unlink(missing_ok=True)
    townships = gpd.GeoDataFrame(
        [(code, name, pop, old, box(*bounds)) for code, name, pop, old, bounds in TOWNSHIPS],
        columns=["code", "name", "population", "population_65plus", "geometry"], crs=CRS,
    )
    demand = gpd.GeoDataFrame(
        [(*row[:4], Point(row[4], row[5])) for row in DEMAND],
        columns=["id", "township_code", "population", "population_65plus", "geometry"], crs=CRS,
    )
    candidates = gpd.GeoDataFrame(
        [(*row[:4], Point(row[4], row[5])) for row in CANDIDATES],
        columns=["id", "name", "open_cost_yuan", "level", "geometry"], crs=CRS,
    )
    pyogrio.set_gdal_config_options({"OGR_CURRENT_DATE": FIXED_TIMESTAMP})
    try:
        for layer, frame in (("townships", townships), ("demand", demand), ("candidates", candidates),
                             ("roads", road_segments())):
            pyogrio.write_dataframe(frame, gpkg, layer=layer, driver="GPKG")
    finally:
        pyogrio.set_gdal_config_options({"OGR_CURRENT_DATE": None})

    to_lonlat = pyproj.Transformer.from_crs(CRS, "EPSG:4326", always_xy=True)
    facilities = pd.DataFrame([row[:-2] for row in FACILITIES], columns=list(FACILITY_COLUMNS))
    lon, lat = to_lonlat.transform([row[-2] for row in FACILITIES], [row[-1] for row in FACILITIES])
    facilities["lon"], facilities["lat"] = lon, lat
    facilities.to_csv(out_dir / "facilities.csv", index=False, float_format="%.7f", lineterminator="\n")
    (out_dir / "region.toml").write_text(REGION_TOML, encoding="utf-8")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else OUT_DIR)
