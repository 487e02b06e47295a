"""Helsinki city centre, end to end on real data: OSM roads and health POIs, the HSY 250 m population grid.

Steps (each an `allocopt` command, printed as it runs):
1. prepare the two inputs the data lacks: district polygons (constructed: the road network's convex hull cut
   into four quarters at its centroid; Helsinki has no township layer in this data) and the facility list
   (OSM nodes tagged amenity=clinic or amenity=doctors, read from the extract with pyosmium);
2. `allocopt build-region`: roads from the extract, population apportioned from the grid to the districts;
3. `allocopt access`: today's travel times and gaps;
4. `allocopt optimize` with this example's scenario.toml (GPs and ultrasound under a budget);
5. `allocopt report`: maps, workbook and report.html of the plan.

Usage (from the repository root, with allocopt installed or PYTHONPATH=src):
    python examples/helsinki/run.py --out results/helsinki
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

import geopandas as gpd
import osmium
import pandas as pd
import shapely

from allocopt import coords, osm
from allocopt.export import write_csv, write_geopackage

HERE = Path(__file__).resolve().parent
PBF = HERE / "data" / "Helsinki.osm.pbf"
GRID = HERE / "data" / "helsinki_population_grid_2020.gpkg"
SCENARIO = HERE / "scenario.toml"

HEALTH_AMENITIES = ("clinic", "doctors")
"""OSM amenity values taken as primary-care facilities (dentists and pharmacies are left out)."""

GPS_PER_PRACTICE = 1
"""OSM records no staff counts; each clinic or doctors' practice counts as one GP, a lower bound."""

XRAY_WORD = "röntgen"
"""A facility whose name holds this Finnish word for X-ray is recorded with one DR (X-ray) unit."""


def districts(roads: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Four constructed districts: the convex hull of the road lines cut into quarters at its centroid.

    `roads` is in a metric CRS; the districts come back in the same CRS with code, name and no population
    (build-region fills it from the grid).
    """
    hull = shapely.convex_hull(shapely.union_all(roads.geometry.to_numpy()))
    west, south, east, north = hull.bounds
    centre = hull.centroid
    quarters = {
        "NW": shapely.box(west, centre.y, centre.x, north),
        "NE": shapely.box(centre.x, centre.y, east, north),
        "SW": shapely.box(west, south, centre.x, centre.y),
        "SE": shapely.box(centre.x, south, east, centre.y),
    }
    return gpd.GeoDataFrame(
        {
            "code": [f"D{i + 1}" for i in range(len(quarters))],
            "name": [f"{label} quarter (constructed)" for label in quarters],
        },
        geometry=[shapely.intersection(hull, box) for box in quarters.values()],
        crs=roads.crs,
    )


def health_facilities(pbf: Path) -> pd.DataFrame:
    """OSM nodes tagged amenity=clinic/doctors as facility rows: id, name, level, gps, dr, lon, lat (WGS84)."""
    rows = []
    for node in osmium.FileProcessor(str(pbf), osmium.osm.NODE):
        if node.tags.get("amenity") not in HEALTH_AMENITIES:
            continue
        name = node.tags.get("name", f"OSM node {node.id}")
        rows.append({
            "id": f"osm-n{node.id}",
            "name": name,
            "level": "community_hc",
            "gps": GPS_PER_PRACTICE,
            "dr": int(XRAY_WORD in name.lower()),
            "lon": node.location.lon,
            "lat": node.location.lat,
        })
    return pd.DataFrame(rows)


def allocopt(*args: str) -> str:
    """Run one allocopt command with this interpreter, echo it, and return its standard output."""
    print("$ allocopt " + " ".join(args), flush=True)
    done = subprocess.run([sys.executable, "-m", "allocopt.cli", *args], capture_output=True, text=True)
    if done.stderr:
        print(done.stderr, end="", file=sys.stderr)
    if done.returncode != 0:
        raise SystemExit(f"allocopt {args[0]} failed with exit code {done.returncode}")
    return done.stdout


def main(argv: list[str] | None = None) -> None:
    """Run the example into --out."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("results") / "helsinki", help="output directory")
    out = parser.parse_args(argv).out

    roads = osm.read_osm_roads(PBF).roads
    metric = coords.region_metric_crs(roads.geometry.to_numpy())
    write_geopackage({"districts": districts(roads.to_crs(metric))}, out / "inputs" / "districts.gpkg")
    write_csv(health_facilities(PBF), out / "inputs" / "facilities.csv")

    region, cache = out / "region", out / "cache"
    build = json.loads(allocopt(
        "build-region", str(region), "--roads", str(PBF), "--townships", str(out / "inputs" / "districts.gpkg"),
        "--facilities", str(out / "inputs" / "facilities.csv"), "--population", str(GRID),
        "--name", "helsinki-centre", "--overwrite", "--format", "json",
    ))
    print(f"Population read from the grid {build['population_read']:,.0f}: "
          f"{build['population_assigned']:,.0f} in the districts, {build['population_outside']:,.0f} outside "
          "the OSM extract (dropped)")
    print(allocopt("access", str(region), "--scenario", str(SCENARIO), "--out", str(out / "access"),
                   "--cache-dir", str(cache)), end="")
    print(allocopt("optimize", str(region), "--scenario", str(SCENARIO), "--out", str(out / "plan"),
                   "--cache-dir", str(cache)), end="")
    print(allocopt("report", str(out / "plan")), end="")


if __name__ == "__main__":
    main()
