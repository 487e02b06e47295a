"""Road closures: critical links against a full recompute per closed road line, and robust optimize with five
closure scenarios.

For each region: the time to rank every road line with the exact speed-up (shortest-path trees searched again
only from the site nodes whose tree uses the line), and the time of a full recompute per line (the network with
the line closed, `travel.travel_times` from every demand point to every site providing a service today,
coverage), taken on a seeded sample of lines and scaled to all of them. The sampled lines' residents must agree
between the two; exit code 1 if not.

Robust optimize (`--robust expected,worst`): the region's own scenario with five closure scenarios (`FIVE_CLOSURES`:
a rainy season, snow, and three slides each closing two of the most critical lines), `mip_gap=0.01`; the time
covers the closure travel matrices, the robust solve and the plain solve (for the cost of robustness).

    python benchmarks/closures.py                           # valley-county and the generated prefecture
    python benchmarks/closures.py --regions county --sample 50 --robust expected,worst
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from allocopt import workflow
from allocopt.generate import generate_region, write_region
from allocopt.network import RoadNetwork, build_network, with_line_factors
from allocopt.regions import Region, load_region
from allocopt.scenario import load_scenario, scenario_from_dict
from allocopt.services import SERVICES, providers
from allocopt.travel import travel_times
from allocopt.vulnerability import vulnerability
from instances import REGION_CLINIC_SHARE, REGION_SEED, REGION_SIZES

RESULTS = Path(__file__).resolve().parent / "results" / "closures.json"
ROBUST_SERVICES = ("primary_care", "stroke", "ct")
"""Services whose critical lines the slide scenarios close."""


def _region(name: str, workdir: Path) -> Region:
    """valley-county, or the generated prefecture of `instances.REGION_SIZES` written to `workdir`."""
    if name == "county":
        return load_region("valley-county")
    bundle = workdir / name
    if not bundle.is_dir():
        write_region(generate_region(seed=REGION_SEED, clinic_share=REGION_CLINIC_SHARE, **REGION_SIZES[name]), bundle)
    return load_region(bundle)


def _covered(region: Region, network: RoadNetwork) -> dict[str, np.ndarray]:
    """Demand points covered per service on `network`: a full travel matrix to every site providing a service
    today (the sites the ranking looks at), without cutoff."""
    scenario = load_scenario(None)
    providing = {s: providers(region.sites, s) for s in SERVICES}
    providing_any = np.logical_or.reduce(list(providing.values()))
    sites = region.sites[providing_any]
    minutes = travel_times(network, region.demand.geometry, sites.geometry,
                           origin_ids=tuple(region.demand["id"]), destination_ids=tuple(sites["id"]),
                           access_speed_kmh=region.access_speed_kmh).minutes
    return {s: (minutes[:, providing[s][providing_any]] <= scenario.thresholds_minutes[s]).any(axis=1)
            for s in SERVICES}


def measure(name: str, sample: int, workdir: Path) -> dict[str, Any]:
    """Figures of one region; `agree` says whether the sampled lines match."""
    region = _region(name, workdir)
    network = build_network(region.roads, speeds_kmh=region.speeds_kmh)
    start = time.perf_counter()
    result = vulnerability(region, network, load_scenario(None))
    fast_s = time.perf_counter() - start
    ranked = result.table.set_index("id")

    population = region.demand["population"].to_numpy()
    lines = np.random.default_rng(0).choice(len(region.roads), min(sample, len(region.roads)), replace=False)
    start = time.perf_counter()
    before = _covered(region, network)
    agree = True
    for line in lines:
        factor = np.ones(len(region.roads))
        factor[line] = 0.0
        after = _covered(region, with_line_factors(network, factor))
        road = str(region.roads["id"].iloc[line])
        for service in SERVICES:
            pushed = float(population[before[service] & ~after[service]].sum())
            agree &= bool(np.isclose(pushed, ranked.loc[road, f"residents_{service}"]))
    per_line_s = (time.perf_counter() - start) / (len(lines) + 1)  # one matrix per line, plus the baseline
    return {
        "region": name, "road_nodes": network.n_nodes, "road_lines": len(region.roads),
        "demand_points": len(region.demand), "sites": len(region.sites),
        "fast_s": round(fast_s, 2), "searches": result.effort.searches,
        "full_recompute_searches": result.effort.full_recompute_searches,
        "full_recompute_s_per_line": round(per_line_s, 3),
        "full_recompute_s_scaled": round(per_line_s * len(region.roads), 1),
        "sampled_lines": len(lines), "agree": agree,
    }


def five_closures(critical: list[str]) -> list[dict[str, Any]]:
    """Five closure scenarios: slower roads in the rainy season and in snow, three slides on critical lines."""
    return [
        {"name": "rainy season", "weight": 0.25, "speed_factor": 0.7,
         "road_classes": ["county", "township", "village"]},
        {"name": "slide 1", "weight": 0.05, "roads": critical[0:2]},
        {"name": "slide 2", "weight": 0.05, "roads": critical[2:4]},
        {"name": "slide 3", "weight": 0.02, "roads": critical[4:6]},
        {"name": "snow", "weight": 0.1, "speed_factor": 0.5, "road_classes": ["village"]},
    ]


def measure_robust(name: str, mode: str, workdir: Path) -> dict[str, Any]:
    """Figures of robust optimize with `five_closures` on one region."""
    region = _region(name, workdir)
    prepared = workflow.prepare(region.path or name, cache_dir=None)
    ranked = vulnerability(prepared.region, prepared.network, prepared.scenario, services=ROBUST_SERVICES)
    closures = scenario_from_dict({"closures": five_closures(ranked.table["id"].head(6).tolist())}).closures
    prepared = replace(prepared, scenario=replace(prepared.scenario, closures=closures))
    start = time.perf_counter()
    plan = workflow.optimize_robust(prepared, mode=mode, mip_gap=0.01)
    summary = plan.to_summary()
    return {
        "region": name, "mode": mode, "seconds": round(time.perf_counter() - start, 1),
        "robust_solve_s": round(plan.result.seconds, 1), "plain_solve_s": round(plan.plain.seconds, 1),
        "status": plan.result.status, "gap": plan.result.gap,
        "expected_gap_robust": round(summary["expected_gap"]["robust"]),
        "expected_gap_plain": round(summary["expected_gap"]["plain"]),
        "worst_gap_robust": round(summary["worst_gap"]["robust"]),
        "worst_gap_plain": round(summary["worst_gap"]["plain"]),
        "cost_of_robustness": round(summary["cost_of_robustness"]),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--regions", default="county,prefecture", help="county and/or prefecture")
    parser.add_argument("--sample", type=int, default=20, help="lines fully recomputed per region")
    parser.add_argument("--robust", default="", help="robust modes to time, e.g. expected,worst (default: none)")
    parser.add_argument("--json", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as workdir:
        names = args.regions.split(",")
        rows = [measure(name, args.sample, Path(workdir)) for name in names]
        rows += [measure_robust(name, mode, Path(workdir)) for name in names for mode in args.robust.split(",") if mode]
    for row in rows:
        print(json.dumps(row))
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(rows, indent=2) + "\n", encoding="utf-8")
    return 0 if all(row.get("agree", True) for row in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
