"""Writes a small, complete result directory following docs/results.md, for the report, map and workbook tests.

Four 5 km square townships in a 2 x 2 grid (UTM zone 49N, 10 km across), Chinese names, eight sites (one
county hospital, three township health centers, two village clinics, two candidate sites of which one is opened),
every service of `allocopt.services.SERVICES`. The summary's per-service figures are computed from the township
table, so the files agree with one another the way a real run's do.
"""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
from shapely.geometry import LineString, Point, box

from allocopt.export import write_csv, write_geopackage, write_json
from allocopt.services import SERVICES

CRS = "EPSG:32649"
X0_M = 500_000.0
Y0_M = 3_400_000.0
SIDE_M = 5_000.0
GP_TARGET_PER_10K = 3.0
BUDGET_YUAN = 15_000_000.0
REGION = "valley-county"
SCENARIO = "2025 基层医疗规划"

TOWNSHIPS = pd.DataFrame(
    {
        "code": ["420101", "420102", "420103", "420104"],
        "name": ["城关镇", "白河乡", "青山镇", "石桥乡"],
        "population": [60_000.0, 25_000.0, 30_000.0, 15_000.0],
        "col": [0, 1, 0, 1],
        "row": [0, 0, 1, 1],
    }
)

THRESHOLDS_MINUTES = {
    "primary_care": 15.0, "chest_pain": 60.0, "stroke": 60.0, "trauma": 60.0,
    "ct": 60.0, "dr": 30.0, "ultrasound": 30.0, "cath_lab": 60.0, "ecg": 30.0,
}

NAN = float("nan")
MINUTES = {  # service: (before, after), one value per township in TOWNSHIPS order; NaN = unreachable
    "primary_care": ([8.0, 22.0, 14.0, 35.0], [8.0, 12.0, 14.0, 9.0]),
    "chest_pain": ([NAN, NAN, NAN, NAN], [5.0, 18.0, 20.0, 25.0]),
    "stroke": ([5.0, 18.0, 20.0, 25.0], [5.0, 18.0, 20.0, 25.0]),
    "trauma": ([5.0, 18.0, 20.0, 25.0], [5.0, 18.0, 20.0, 25.0]),
    "ct": ([5.0, 18.0, 20.0, 25.0], [5.0, 18.0, 20.0, 25.0]),
    "dr": ([5.0, 40.0, 20.0, 45.0], [5.0, 8.0, 20.0, 30.0]),
    "ultrasound": ([5.0, 18.0, 35.0, 25.0], [5.0, 18.0, 6.0, 25.0]),
    "cath_lab": ([NAN, NAN, NAN, NAN], [5.0, 18.0, 20.0, 75.0]),
    "ecg": ([5.0, 25.0, 20.0, 40.0], [5.0, 25.0, 20.0, 12.0]),
}

GPS = ([6, 3, 2, 1], [8, 4, 2, 3])  # GPs per township before and after

_SITE_COLUMNS = (
    "id", "name", "kind", "level", "township_code", "opened", "x_km", "y_km", "gps", "beds", "ct", "dr",
    "ultrasound", "cath_lab", "chest_pain_center", "stroke_center", "trauma_center", "added_gps", "added_ct",
    "added_dr", "added_ultrasound", "added_cath_lab", "new_chest_pain_center", "new_stroke_center",
    "new_trauma_center", "cost_yuan",
)
"""Site columns of a result written before ECGs were equipment; `ecg` and `added_ecg` are appended below."""
SITES = pd.DataFrame.from_records(
    [
        ("H1", "县人民医院", "existing", "county_hospital", "420101", True, 2.5, 2.5, 0, 400, 1, 2, 3, 0,
         False, True, True, 0, 0, 0, 0, 1, True, False, False, 8_000_000.0),
        ("THC1", "城关镇卫生院", "existing", "township_hc", "420101", True, 1.0, 4.0, 6, 40, 0, 1, 1, 0,
         False, False, False, 2, 0, 0, 0, 0, False, False, False, 600_000.0),
        ("THC2", "白河乡卫生院", "existing", "township_hc", "420102", True, 7.5, 2.0, 3, 30, 0, 0, 1, 0,
         False, False, False, 1, 0, 1, 0, 0, False, False, False, 1_100_000.0),
        ("THC3", "青山镇卫生院", "existing", "township_hc", "420103", True, 2.0, 7.5, 2, 20, 0, 1, 0, 0,
         False, False, False, 0, 0, 0, 1, 0, False, False, False, 400_000.0),
        ("VC1", "石桥村卫生室", "existing", "village_clinic", "420104", True, 8.0, 8.0, 1, 0, 0, 0, 0, 0,
         False, False, False, 0, 0, 0, 0, 0, False, False, False, 0.0),
        ("VC2", "河口村卫生室", "existing", "village_clinic", "420102", True, 9.0, 4.0, 0, 0, 0, 0, 0, 0,
         False, False, False, 0, 0, 0, 0, 0, False, False, False, 0.0),
        ("C1", "石桥乡新卫生院", "candidate", "township_hc", "420104", True, 7.0, 7.0, 0, 0, 0, 0, 0, 0,
         False, False, False, 2, 0, 0, 0, 0, False, False, False, 2_100_000.0),
        ("C2", "白河乡南站点", "candidate", "township_hc", "420102", False, 6.0, 0.5, 0, 0, 0, 0, 0, 0,
         False, False, False, 0, 0, 0, 0, 0, False, False, False, 0.0),
    ],
    columns=_SITE_COLUMNS,
).assign(ecg=[2, 1, 1, 0, 0, 0, 0, 0], added_ecg=0)

ALLOCATIONS = pd.DataFrame.from_records(
    [
        ("H1", "县人民医院", "county_hospital", "420101", "cath_lab", 1, 6_000_000.0, 500_000.0),
        ("H1", "县人民医院", "county_hospital", "420101", "chest_pain_center", 1, 1_000_000.0, 500_000.0),
        ("THC1", "城关镇卫生院", "township_hc", "420101", "gp", 2, 0.0, 600_000.0),
        ("THC2", "白河乡卫生院", "township_hc", "420102", "gp", 1, 0.0, 300_000.0),
        ("THC2", "白河乡卫生院", "township_hc", "420102", "dr", 1, 700_000.0, 100_000.0),
        ("THC3", "青山镇卫生院", "township_hc", "420103", "ultrasound", 1, 350_000.0, 50_000.0),
        ("C1", "石桥乡新卫生院", "township_hc", "420104", "open_site", 1, 1_500_000.0, 0.0),
        ("C1", "石桥乡新卫生院", "township_hc", "420104", "gp", 2, 0.0, 600_000.0),
    ],
    columns=["site_id", "site_name", "level", "township_code", "resource", "quantity", "capital_yuan",
             "annual_yuan"],
).assign(cost_yuan=lambda t: t["capital_yuan"] + t["annual_yuan"])

REFERRALS = (("THC1", "H1"), ("THC2", "H1"), ("THC3", "H1"), ("C1", "H1"))

FRONTIER_BUDGETS_YUAN = (5_000_000.0, 10_000_000.0, 15_000_000.0, 20_000_000.0)


def township_table() -> pd.DataFrame:
    """The townships.csv table: code, name, population, per-service shares and minutes, GP figures."""
    table = TOWNSHIPS[["code", "name", "population"]].copy()
    for service in SERVICES:
        threshold = THRESHOLDS_MINUTES[service]
        for when, minutes in zip(("before", "after"), MINUTES[service], strict=True):
            values = np.asarray(minutes)
            table[f"{service}_covered_share_{when}"] = np.where(values <= threshold, 1.0, 0.0)
        for when, minutes in zip(("before", "after"), MINUTES[service], strict=True):
            table[f"{service}_minutes_{when}"] = minutes
    population = table["population"].to_numpy()
    for when, gps in zip(("before", "after"), GPS, strict=True):
        table[f"gp_{when}"] = gps
    for when, gps in zip(("before", "after"), GPS, strict=True):
        table[f"gp_per_10k_{when}"] = np.asarray(gps) / population * 10_000.0
    for when, gps in zip(("before", "after"), GPS, strict=True):
        table[f"gp_shortage_people_{when}"] = np.maximum(
            0.0, population - np.asarray(gps) * 10_000.0 / GP_TARGET_PER_10K
        )
    return table


def summary(townships: pd.DataFrame, *, scenario_name: str = SCENARIO) -> dict[str, object]:
    """The summary.json content, its per-service and GP figures computed from `townships`."""
    population = float(townships["population"].sum())
    services: dict[str, dict[str, float]] = {}
    for service in SERVICES:
        covered_before = float((townships["population"] * townships[f"{service}_covered_share_before"]).sum())
        covered_after = float((townships["population"] * townships[f"{service}_covered_share_after"]).sum())
        services[service] = {
            "threshold_minutes": THRESHOLDS_MINUTES[service],
            "covered_population": covered_after,
            "covered_share": covered_after / population,
            "covered_population_before": covered_before,
            "covered_share_before": covered_before / population,
            "unserved_before": population - covered_before,
            "unserved_after": population - covered_after,
        }
    capital = float(ALLOCATIONS["capital_yuan"].sum())
    annual = float(ALLOCATIONS["annual_yuan"].sum())
    gps_before, gps_after = float(sum(GPS[0])), float(sum(GPS[1]))
    return {
        "region": REGION,
        "region_synthetic": True,
        "scenario": {"name": scenario_name, "source": "defaults", "settings": {"budget": {"total_yuan": BUDGET_YUAN}}},
        "objective_name": "gap",
        "status": "optimal",
        "objective": 81_234.5,
        "best_bound": 81_234.5,
        "gap": 0.0,
        "solver": {"name": "highs", "version": "1.7.2", "seconds": 0.8, "time_limit_s": None, "mip_gap": 0.0001},
        "budget_yuan": BUDGET_YUAN,
        "budget": {"total_yuan": BUDGET_YUAN},
        "cost_yuan": capital + annual,
        "capital_yuan": capital,
        "annual_yuan": annual,
        "population": population,
        "gp": {
            "per_10k_before": gps_before / population * 10_000.0,
            "per_10k_after": gps_after / population * 10_000.0,
            "target_per_10k": GP_TARGET_PER_10K,
            "shortage_people_before": float(townships["gp_shortage_people_before"].sum()),
            "shortage_people_after": float(townships["gp_shortage_people_after"].sum()),
            "added": int(gps_after - gps_before),
        },
        "services": services,
        "inputs": {"region_files": {"region.gpkg": "0" * 64}, "scenario_sha256": "1" * 64},
        "allocopt_version": "0.1.0",
    }


def frontier_table() -> pd.DataFrame:
    """A budget sweep's frontier.csv: unserved people fall as the budget grows; one run stopped at a gap."""
    rows = []
    for step, budget in enumerate(FRONTIER_BUDGETS_YUAN):
        row: dict[str, object] = {
            "budget_yuan": budget,
            "cost_yuan": budget * 0.9,
            "objective": 150_000.0 / (step + 1),
            "status": "feasible" if step == 3 else "optimal",
            "gap": 0.02 if step == 3 else 0.0,
        }
        for rank, service in enumerate(SERVICES):
            row[f"{service}_unserved"] = 40_000.0 / (step + 1) + 1_000.0 * rank
        rows.append(row)
    return pd.DataFrame(rows)


def _site_point(site: pd.Series) -> Point:
    return Point(X0_M + site["x_km"] * 1_000.0, Y0_M + site["y_km"] * 1_000.0)


def layers(townships: pd.DataFrame, *, referrals: bool) -> dict[str, gpd.GeoDataFrame]:
    """The result.gpkg layers: townships (polygons), facilities and demand (points), referrals (lines)."""
    squares = [
        box(X0_M + c * SIDE_M, Y0_M + r * SIDE_M, X0_M + (c + 1) * SIDE_M, Y0_M + (r + 1) * SIDE_M)
        for c, r in zip(TOWNSHIPS["col"], TOWNSHIPS["row"], strict=True)
    ]
    township_layer = gpd.GeoDataFrame(townships, geometry=squares, crs=CRS)
    points = [_site_point(site) for _, site in SITES.iterrows()]
    facilities = gpd.GeoDataFrame(SITES.drop(columns=["x_km", "y_km"]), geometry=points, crs=CRS)
    demand = gpd.GeoDataFrame(
        {
            "id": [f"D{code}" for code in townships["code"]],
            "township_code": townships["code"],
            "population": townships["population"],
            "primary_care_covered_before": townships["primary_care_covered_share_before"] > 0,
            "primary_care_covered_after": townships["primary_care_covered_share_after"] > 0,
        },
        geometry=[square.centroid for square in squares],
        crs=CRS,
    )
    result = {"townships": township_layer, "facilities": facilities, "demand": demand}
    if referrals:
        by_id = dict(zip(SITES["id"], points, strict=True))
        result["referrals"] = gpd.GeoDataFrame(
            {
                "site_id": [site for site, _ in REFERRALS],
                "hospital_id": [hospital for _, hospital in REFERRALS],
                "minutes": [by_id[s].distance(by_id[h]) / 1_000.0 for s, h in REFERRALS],
            },
            geometry=[LineString([by_id[s], by_id[h]]) for s, h in REFERRALS],
            crs=CRS,
        )
    return result


def write_result_dir(
    out_dir: Path, *, referrals: bool = True, frontier: bool = True, scenario_name: str = SCENARIO
) -> Path:
    """Write the fixture result directory into `out_dir` (created) and return it."""
    out_dir.mkdir(parents=True, exist_ok=True)
    townships = township_table()
    write_json(summary(townships, scenario_name=scenario_name), out_dir / "summary.json")
    write_csv(ALLOCATIONS, out_dir / "allocations.csv")
    write_csv(townships, out_dir / "townships.csv")
    write_geopackage(layers(townships, referrals=referrals), out_dir / "result.gpkg")
    if frontier:
        write_csv(frontier_table(), out_dir / "frontier.csv")
    return out_dir
