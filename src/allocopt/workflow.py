"""The end-to-end steps the CLI runs, callable from Python: prepare a region, measure access, optimize, write."""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from allocopt.access import AccessReport, compute_access
from allocopt.export import atomic_output_dir, write_csv, write_json
from allocopt.network import RoadNetwork, build_network
from allocopt.regions import Region, load_region
from allocopt.scenario import Scenario, load_scenario
from allocopt.travel import Connectivity, TravelMatrix, connectivity, travel_times

DEFAULT_REGION = "valley-county"


def default_cache_dir() -> Path:
    """Where travel-time matrices are cached: $ALLOCOPT_CACHE_DIR, else ~/.cache/allocopt."""
    configured = os.environ.get("ALLOCOPT_CACHE_DIR")
    return Path(configured) if configured else Path.home() / ".cache" / "allocopt"


@dataclass(frozen=True)
class Prepared:
    """A loaded region with its road network, demand x site travel times and scenario."""

    region: Region
    network: RoadNetwork
    matrix: TravelMatrix
    scenario: Scenario


@dataclass(frozen=True)
class RegionCheck:
    """A region that loaded and validated, with how well its demand points and sites connect to the roads."""

    region: Region
    network: RoadNetwork
    demand_connectivity: Connectivity
    site_connectivity: Connectivity

    def to_dict(self) -> dict[str, Any]:
        """Counts and connectivity as JSON-safe types."""
        region = self.region
        return {
            "region": region.name,
            "synthetic": region.synthetic,
            "crs": region.crs.to_string(),
            "townships": len(region.townships),
            "demand_points": len(region.demand),
            "demand_derived_from_townships": region.demand_derived,
            "facilities": len(region.facilities),
            "candidates": len(region.candidates),
            "roads": len(region.roads),
            "population": float(region.demand["population"].sum()),
            "road_nodes": self.network.n_nodes,
            "road_components": self.demand_connectivity.n_components,
            "largest_component_nodes": self.demand_connectivity.largest_component_nodes,
            "demand_off_main_network": list(self.demand_connectivity.outside_largest_ids),
            "sites_off_main_network": list(self.site_connectivity.outside_largest_ids),
        }


def check_region(region: str | Path = DEFAULT_REGION) -> RegionCheck:
    """Load and validate `region` and report which demand points and sites lie off the main road network."""
    loaded = load_region(region)
    network = build_network(loaded.roads, speeds_kmh=loaded.speeds_kmh)
    return RegionCheck(
        region=loaded,
        network=network,
        demand_connectivity=connectivity(network, loaded.demand.geometry, ids=tuple(loaded.demand["id"])),
        site_connectivity=connectivity(network, loaded.sites.geometry, ids=tuple(loaded.sites["id"])),
    )


def region_scenario(region: Region, scenario_path: str | Path | None) -> Scenario:
    """The scenario at `scenario_path`, else the region's own scenario.toml, else the defaults."""
    if scenario_path is not None:
        return load_scenario(scenario_path)
    if region.path is not None and (region.path / "scenario.toml").is_file():
        return load_scenario(region.path / "scenario.toml")
    return load_scenario(None)


def prepare(
    region: str | Path = DEFAULT_REGION,
    *,
    scenario_path: str | Path | None = None,
    cache_dir: Path | None = None,
) -> Prepared:
    """Load `region` (an embedded name or a bundle path), build its network and the demand x site travel times."""
    loaded = load_region(region)
    network = build_network(loaded.roads, speeds_kmh=loaded.speeds_kmh)
    sites = loaded.sites
    matrix = travel_times(
        network,
        loaded.demand.geometry,
        sites.geometry,
        origin_ids=tuple(loaded.demand["id"]),
        destination_ids=tuple(sites["id"]),
        access_speed_kmh=loaded.access_speed_kmh,
        cache_dir=cache_dir,
    )
    return Prepared(loaded, network, matrix, region_scenario(loaded, scenario_path))


def access(prepared: Prepared) -> AccessReport:
    """Today's access gaps for a prepared region."""
    return compute_access(prepared.region, prepared.matrix, prepared.scenario)


def default_out_dir(region_name: str, *, now: datetime | None = None) -> Path:
    """`results/<region>-<timestamp>/` under the working directory."""
    stamp = (now or datetime.now()).strftime("%Y%m%d-%H%M%S")
    return Path("results") / f"{region_name}-{stamp}"


def write_access(report: AccessReport, out_dir: str | Path) -> Path:
    """Write access.json and the per-service, per-township and per-demand-point tables, atomically."""
    with atomic_output_dir(out_dir) as staging:
        write_json(report.to_dict(), staging / "access.json")
        write_csv(report.services.reset_index(drop=True), staging / "services.csv")
        write_csv(report.townships, staging / "townships.csv")
        write_csv(report.demand, staging / "demand.csv")
    return Path(out_dir)


def write_access_map(prepared: Prepared, report: AccessReport, path: str | Path) -> Path:
    """Draw today's population-weighted travel minutes per township and service to a PNG file."""
    from allocopt import maps
    from allocopt.services import SERVICES

    by_code = report.townships.set_index("code")
    layer = prepared.region.townships[["code", "name", "geometry"]].copy()
    for service in SERVICES:
        layer[f"{service}_minutes"] = layer["code"].map(by_code[f"mean_minutes_{service}"])
    figure = maps.access_map(
        layer,
        region=prepared.region.name,
        scenario=prepared.scenario.name,
        thresholds_minutes=prepared.scenario.thresholds_minutes,
    )
    return maps.save_png(figure, path)
