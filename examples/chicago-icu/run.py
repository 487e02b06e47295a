"""Chicago: where to add ICU beds and ventilators, under a budget, so the most residents over 50 reach an ICU.

Data: 66 hospitals with adult ICU beds and ventilators, 878 census tracts with residents over 50 (Kang et al.
2020, reproduced by HEGSRR). Travel time has no road network here: straight-line distance x DETOUR_FACTOR /
SPEED_KMH. The plan comes from `allocopt.model.capacity_coverage` (budgeted, capacitated coverage), today's
coverage from the same model with a zero budget; 2SFCA accessibility (ICU beds and ventilators per 100,000
residents over 50) from `allocopt.access.gp_2sfca`, before and after.

Writes to --out: additions.csv (one row per hospital), tracts.csv (one row per tract) and summary.json.

Usage (from the repository root, with allocopt installed or PYTHONPATH=src):
    python examples/chicago-icu/run.py --out results/chicago-icu
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
from scipy.spatial.distance import cdist

from allocopt import coords
from allocopt.access import gp_2sfca
from allocopt.costs import CostMatrix
from allocopt.export import atomic_output_dir, write_csv, write_json
from allocopt.model.capacity_coverage import CoveragePlan, ResourceKind, capacity_coverage

HERE = Path(__file__).resolve().parent
HOSPITALS = HERE / "data" / "Chicago_Hospital_Info.shp"
TRACTS = HERE / "data" / "Chicago_Tract.shp"

DETOUR_FACTOR = 1.3
"""Road distance per straight-line distance (an assumption; see README.md)."""

SPEED_KMH = 40.0
"""Average urban driving speed (an assumption; see README.md)."""

THRESHOLD_MINUTES = 10.0
"""An ICU counts as reachable within this many minutes; also the 2SFCA catchment (Kang et al. 2020 use 10-30)."""

BUDGET_USD = 5_000_000.0
ICU_BED_COST_USD = 100_000.0
VENTILATOR_COST_USD = 16_000.0
MAX_ICU_BEDS_ADDED = 20
MAX_VENTILATORS_ADDED = 10
MIP_GAP = 1e-3
"""The solver stops once the plan is proven within 0.1% of the most coverage the budget can buy."""
PER_100K = 100_000.0


def load_tracts(crs: Any) -> gpd.GeoDataFrame:
    """Tracts as points inside their polygons (metric CRS): geoid, population, over_50."""
    tracts = gpd.read_file(TRACTS).to_crs(crs)
    return gpd.GeoDataFrame(
        {"geoid": tracts["GEOID"].astype(str), "population": tracts["Pop"].astype(float),
         "over_50": tracts["OverFifty"].astype(float)},
        geometry=tracts.geometry.representative_point(), crs=crs,
    )


def load_hospitals() -> gpd.GeoDataFrame:
    """Hospitals as points (metric CRS): id (the FID), name, icu_beds, ventilators."""
    raw = gpd.read_file(HOSPITALS)
    crs = coords.region_metric_crs(raw.geometry.to_numpy())
    hospitals = raw.to_crs(crs)
    return gpd.GeoDataFrame(
        {"id": hospitals["FID"].astype(str), "name": hospitals["Hospital"], "icu_beds": hospitals["Adult ICU"],
         "ventilators": hospitals["Total Vent"]},
        geometry=hospitals.geometry.centroid, crs=crs,
    )


def travel_minutes(origins: gpd.GeoSeries, destinations: gpd.GeoSeries) -> np.ndarray:
    """Straight-line metres x detour factor at the assumed speed, in minutes (origins x destinations)."""
    metres = cdist(np.c_[origins.x, origins.y], np.c_[destinations.x, destinations.y])
    return metres / 1000.0 * DETOUR_FACTOR / SPEED_KMH * 60.0


def resource_kinds(tracts: pd.DataFrame, hospitals: pd.DataFrame) -> list[ResourceKind]:
    """ICU beds and ventilators; each unit serves the city-wide number of residents over 50 per unit today."""
    over_50 = float(tracts["over_50"].sum())
    return [
        ResourceKind("icu_beds", unit_cost=ICU_BED_COST_USD, required=1, max_added_per_site=MAX_ICU_BEDS_ADDED,
                     demand_per_unit=over_50 / float(hospitals["icu_beds"].sum())),
        ResourceKind("ventilators", unit_cost=VENTILATOR_COST_USD, required=1,
                     max_added_per_site=MAX_VENTILATORS_ADDED,
                     demand_per_unit=over_50 / float(hospitals["ventilators"].sum())),
    ]


def per_100k_over_50(minutes: np.ndarray, tracts: pd.DataFrame, supply: np.ndarray) -> np.ndarray:
    """2SFCA score of every tract, in units of `supply` per 100,000 residents over 50 (binary catchment)."""
    per_10k = gp_2sfca(minutes, tracts["over_50"].to_numpy(), supply, catchment_minutes=THRESHOLD_MINUTES)
    return per_10k * (PER_100K / 10_000.0)


def describe(scores: np.ndarray, weights: np.ndarray) -> dict[str, float]:
    """Weighted mean and unweighted spread of tract scores."""
    return {"weighted_mean": float(np.average(scores, weights=weights)), "min": float(scores.min()),
            "median": float(np.median(scores)), "max": float(scores.max()),
            "tracts_with_none": int((scores == 0).sum())}


def additions_table(hospitals: pd.DataFrame, before: CoveragePlan, after: CoveragePlan) -> pd.DataFrame:
    """One row per hospital: units before, added and after, cost and residents over 50 served."""
    rows = []
    for hospital in hospitals.itertuples():
        added = after.additions.get(hospital.id, {})
        beds, vents = added.get("icu_beds", 0), added.get("ventilators", 0)
        rows.append({
            "hospital_id": hospital.id, "hospital": hospital.name,
            "icu_beds_before": hospital.icu_beds, "icu_beds_added": beds,
            "icu_beds_after": after.units[hospital.id]["icu_beds"],
            "ventilators_before": hospital.ventilators, "ventilators_added": vents,
            "ventilators_after": after.units[hospital.id]["ventilators"],
            "cost_usd": beds * ICU_BED_COST_USD + vents * VENTILATOR_COST_USD,
            "over_50_served_before": round(before.site_load.get(hospital.id, 0.0), 1),
            "over_50_served_after": round(after.site_load.get(hospital.id, 0.0), 1),
        })
    return pd.DataFrame(rows).sort_values(["cost_usd", "hospital_id"], ascending=[False, True])


def coverage_figures(plan: CoveragePlan) -> dict[str, Any]:
    """Covered residents over 50 of one plan."""
    covered = float(plan.covered_weight or 0.0)
    return {"status": plan.status, "over_50_covered": covered, "over_50_covered_share": covered / plan.total_weight,
            "over_50_not_covered": plan.total_weight - covered, "cost_usd": plan.cost}


def main(argv: list[str] | None = None) -> None:
    """Plan the additions and write additions.csv, tracts.csv and summary.json into --out."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("results") / "chicago-icu", help="output directory")
    parser.add_argument("--budget-usd", type=float, default=BUDGET_USD, help="budget in US dollars")
    options = parser.parse_args(argv)

    hospitals = load_hospitals()
    tracts = load_tracts(hospitals.crs)
    minutes = travel_minutes(tracts.geometry, hospitals.geometry)
    costs = CostMatrix(tuple(tracts["geoid"]), tuple(hospitals["id"]), minutes)
    kinds = resource_kinds(tracts, hospitals)
    existing = {h.id: {"icu_beds": int(h.icu_beds), "ventilators": int(h.ventilators)} for h in hospitals.itertuples()}
    weights = dict(zip(tracts["geoid"], tracts["over_50"], strict=True))
    common = {"threshold": THRESHOLD_MINUTES, "kinds": kinds, "existing": existing, "weights": weights,
              "mip_gap": MIP_GAP}
    before = capacity_coverage(costs, budget=0.0, **common)
    after = capacity_coverage(costs, budget=options.budget_usd, **common)

    beds_after = np.array([after.units[h]["icu_beds"] for h in hospitals["id"]], dtype=float)
    vents_after = np.array([after.units[h]["ventilators"] for h in hospitals["id"]], dtype=float)
    access = {
        "icu_beds_before": per_100k_over_50(minutes, tracts, hospitals["icu_beds"].to_numpy(dtype=float)),
        "icu_beds_after": per_100k_over_50(minutes, tracts, beds_after),
        "ventilators_before": per_100k_over_50(minutes, tracts, hospitals["ventilators"].to_numpy(dtype=float)),
        "ventilators_after": per_100k_over_50(minutes, tracts, vents_after),
    }
    over_50 = tracts["over_50"].to_numpy()
    tract_table = pd.DataFrame({
        "geoid": tracts["geoid"], "population": tracts["population"], "over_50": over_50,
        "minutes_to_nearest_hospital": minutes.min(axis=1).round(2),
        "covered_share_before": [round(before.covered_share[g], 6) for g in tracts["geoid"]],
        "covered_share_after": [round(after.covered_share[g], 6) for g in tracts["geoid"]],
        **{f"{name}_per_100k_over_50": values.round(3) for name, values in access.items()},
    })
    additions = additions_table(hospitals, before, after)
    summary = {
        "assumptions": {
            "travel": "straight-line distance x detour factor / speed; no road network",
            "detour_factor": DETOUR_FACTOR, "speed_kmh": SPEED_KMH, "threshold_minutes": THRESHOLD_MINUTES,
            "budget_usd": options.budget_usd, "icu_bed_cost_usd": ICU_BED_COST_USD,
            "ventilator_cost_usd": VENTILATOR_COST_USD, "max_icu_beds_added_per_hospital": MAX_ICU_BEDS_ADDED,
            "max_ventilators_added_per_hospital": MAX_VENTILATORS_ADDED,
            "over_50_per_icu_bed": kinds[0].demand_per_unit, "over_50_per_ventilator": kinds[1].demand_per_unit,
        },
        "data": {"hospitals": len(hospitals), "tracts": len(tracts), "population": float(tracts["population"].sum()),
                 "over_50": float(over_50.sum()), "icu_beds": int(hospitals["icu_beds"].sum()),
                 "ventilators": int(hospitals["ventilators"].sum()),
                 "over_50_with_no_hospital_within_threshold": float(
                     over_50[minutes.min(axis=1) > THRESHOLD_MINUTES].sum())},
        "before": coverage_figures(before),
        "after": coverage_figures(after),
        "plan": {"icu_beds_added": int(additions["icu_beds_added"].sum()),
                 "ventilators_added": int(additions["ventilators_added"].sum()),
                 "hospitals_receiving": int((additions["cost_usd"] > 0).sum()), "gap": after.gap,
                 "solver": after.solver, "seconds": round(before.seconds + after.seconds, 3)},
        "access_2sfca_per_100k_over_50": {name: describe(values, over_50) for name, values in access.items()},
    }
    with atomic_output_dir(options.out, kind="example") as staging:
        write_csv(additions, staging / "additions.csv")
        write_csv(tract_table, staging / "tracts.csv")
        write_json(summary, staging / "summary.json")

    b, a, plan = summary["before"], summary["after"], summary["plan"]
    icu = summary["access_2sfca_per_100k_over_50"]
    print(f"Residents over 50 covered within {THRESHOLD_MINUTES:g} min: {b['over_50_covered']:,.0f} "
          f"({b['over_50_covered_share']:.2%}) today -> {a['over_50_covered']:,.0f} ({a['over_50_covered_share']:.2%})")
    print(f"Plan: {plan['icu_beds_added']} ICU beds and {plan['ventilators_added']} ventilators at "
          f"{plan['hospitals_receiving']} hospitals, US${a['cost_usd']:,.0f} of US${options.budget_usd:,.0f}")
    print(f"2SFCA ICU beds per 100,000 over 50 (weighted mean): {icu['icu_beds_before']['weighted_mean']:.1f} -> "
          f"{icu['icu_beds_after']['weighted_mean']:.1f}")
    print(f"Results written to {options.out}")


if __name__ == "__main__":
    main()
