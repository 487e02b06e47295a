"""The end-to-end steps the CLI runs, callable from Python: prepare a region, measure access, optimize, write."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import Any

from allocopt import __version__, consortium
from allocopt.access import AccessReport, compute_access
from allocopt.closure_plan import RobustPlan, plan_under_closures
from allocopt.costs import (
    CostMatrix,
    read_capacities,
    read_costs,
    read_costs_long,
    read_existing_units,
    read_loads,
    read_lorena,
    read_orlib_pmedcap,
    read_points,
    read_weights,
)
from allocopt.errors import AllocoptError, ScenarioError
from allocopt.export import atomic_output_dir, write_csv, write_geopackage, write_json
from allocopt.failure_coverage import failure_layer, region_failure_sets
from allocopt.i18n import FALLBACK_LANGUAGE, translator
from allocopt.model import Problem, build_problem, classic
from allocopt.model.capacity_coverage import CoveragePlan, ResourceKind, capacity_coverage
from allocopt.model.classic import LocateResult
from allocopt.network import RoadNetwork, build_network
from allocopt.optimize import optimize_problem
from allocopt.pathway_results import pathway_lines
from allocopt.pathways import transfer_matrix
from allocopt.plan_years import YearsPlan, plan_years
from allocopt.plan_years import optimize_years as plan_optimize_years
from allocopt.regions import DEFAULT_LAYER_FILE, Region, load_region, path_safe_name, resolve_region
from allocopt.results import Result
from allocopt.scenario import Scenario, load_scenario, scenario_to_dict
from allocopt.solve import DEFAULT_SOLVER
from allocopt.tiers import TiersSettings
from allocopt.travel import Connectivity, TravelMatrix, connectivity, travel_times
from allocopt.vulnerability import critical_links_layer

DEFAULT_REGION = "valley-county"
PLAN_KIND = "optimize"
"""The kind of result folder `write_plan` writes (see `allocopt.export.MANIFEST_FILE`)."""
ACCESS_KIND = "access"
"""The kind of result folder `write_access` writes."""

StepCallback = Callable[[str], None]
"""Told, before each long step, what it is about to do (for a status line); must not raise."""


def _quiet(_: str) -> None:
    """The default step callback: says nothing."""


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
    site_matrix: TravelMatrix | None = None
    """Grassroots site x hospital minutes, computed when the scenario has a [tiers] section."""
    ems_matrix: TravelMatrix | None = None
    """120 station x demand drive minutes, computed when the region has an ems_stations layer."""
    transfer_matrix: TravelMatrix | None = None
    """Site x site minutes (first door -> center), computed when the scenario has a [pathways] section."""


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
            "ems_stations": 0 if region.ems_stations is None else len(region.ems_stations),
            "ambulances": 0 if region.ems_stations is None else int(region.ems_stations["ambulances"].sum()),
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
    on_step: StepCallback = _quiet,
) -> Prepared:
    """Load `region` (an embedded name or a bundle path), build its network and the demand x site travel times."""
    on_step(f"Loading region {region}")
    loaded = load_region(region)
    scenario = region_scenario(loaded, scenario_path)
    on_step(f"Building the road network ({len(loaded.roads):,} road lines)")
    network = build_network(loaded.roads, speeds_kmh=loaded.speeds_kmh)
    sites = loaded.sites
    on_step(f"Travel times: {len(loaded.demand):,} demand points x {len(sites):,} sites, "
            f"{network.n_nodes:,} road nodes")
    matrix = travel_times(
        network,
        loaded.demand.geometry,
        sites.geometry,
        origin_ids=tuple(loaded.demand["id"]),
        destination_ids=tuple(sites["id"]),
        access_speed_kmh=loaded.access_speed_kmh,
        cache_dir=cache_dir,
    )
    site_matrix = None
    if scenario.tiers is not None:
        on_step("Travel times from grassroots sites to hospitals")
        site_matrix = consortium.site_hospital_matrix(loaded, network, cache_dir=cache_dir)
    transfers = None
    if scenario.pathways is not None:
        on_step("Travel times between sites (first door to center)")
        transfers = transfer_matrix(loaded, network, cache_dir=cache_dir)
    return Prepared(loaded, network, matrix, scenario, site_matrix, ems_matrix(loaded, network, cache_dir=cache_dir),
                    transfers)


def ems_matrix(region: Region, network: RoadNetwork, *, cache_dir: Path | None = None) -> TravelMatrix | None:
    """Drive minutes from each 120 station to each demand point (None when the region has no stations)."""
    stations = region.ems_stations
    if stations is None:
        return None
    return travel_times(network, stations.geometry, region.demand.geometry, origin_ids=tuple(stations["id"]),
                        destination_ids=tuple(region.demand["id"]), access_speed_kmh=region.access_speed_kmh,
                        cache_dir=cache_dir)


def access(prepared: Prepared) -> AccessReport:
    """Today's access gaps for a prepared region."""
    return compute_access(prepared.region, prepared.matrix, prepared.scenario)


def default_out_dir(region_name: str, *, now: datetime | None = None) -> Path:
    """`results/<region>-<timestamp>/` under the working directory."""
    stamp = (now or datetime.now()).strftime("%Y%m%d-%H%M%S")
    return Path("results") / f"{path_safe_name(region_name)}-{stamp}"


def input_paths(prepared: Prepared) -> tuple[Path, ...]:
    """What a run on `prepared` reads: the region bundle's folder and the scenario file. An output folder may be
    neither of them nor hold them (`allocopt.export.check_output_dir`)."""
    scenario = Path(prepared.scenario.source)
    region = (prepared.region.path,) if prepared.region.path is not None else ()
    return (*region, *((scenario,) if scenario.is_file() else ()))


def region_paths(regions: Sequence[str | Path]) -> tuple[Path, ...]:
    """The bundle folders of region names or paths, leaving out those that do not resolve (their runs fail and
    say why)."""
    paths = []
    for region in regions:
        try:
            paths.append(resolve_region(region))
        except AllocoptError:
            continue
    return tuple(paths)


def write_access(report: AccessReport, out_dir: str | Path, *, overwrite: bool = False,
                 inputs: Sequence[str | Path] = ()) -> Path:
    """Write access.json and the per-service, per-township and per-demand-point tables, atomically.

    `overwrite` and `inputs` (the files and folders the run read) as in `allocopt.export.check_output_dir`.
    """
    with atomic_output_dir(out_dir, kind=ACCESS_KIND, overwrite=overwrite, inputs=inputs) as staging:
        write_json(report.to_dict(), staging / "access.json")
        write_csv(report.services.reset_index(drop=True), staging / "services.csv")
        write_csv(report.townships, staging / "townships.csv")
        write_csv(report.demand, staging / "demand.csv")
    return Path(out_dir)


def write_access_map(prepared: Prepared, report: AccessReport, path: str | Path, *,
                     language: str | None = None) -> Path:
    """Draw today's population-weighted travel minutes per township and service to a PNG file, labelled in
    `language` (default: the region's, else `i18n.FALLBACK_LANGUAGE`)."""
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
        tr=translator(language or prepared.region.language or FALLBACK_LANGUAGE),
    )
    return maps.save_png(figure, path)


def optimize(
    prepared: Prepared,
    *,
    objective: str = "gap",
    solver: str | None = None,
    time_limit_s: float | None = None,
    mip_gap: float | None = None,
    on_step: StepCallback = _quiet,
) -> Result:
    """The best plan for a prepared region under its scenario (see `allocopt.optimize.optimize_problem`)."""
    on_step("Preparing the problem")
    return optimize_problem(
        prepared_problem(prepared),
        objective=objective,
        solver=solver or DEFAULT_SOLVER,
        time_limit_s=time_limit_s,
        mip_gap=mip_gap,
        on_step=on_step,
    )


def optimize_years(prepared: Prepared, *, years: tuple[int, int] | None = None, objective: str = "gap",
                   solver: str | None = None, time_limit_s: float | None = None, mip_gap: float | None = None,
                   on_step: StepCallback = _quiet) -> YearsPlan:
    """The best multi-year plan for a prepared region: `years` (first, last) over the scenario's `[years]`
    (`allocopt.plan_years`)."""
    settings, horizon = plan_years(prepared.scenario, years)
    on_step("Preparing the problem")
    demand = prepared.region.demand
    return plan_optimize_years(
        prepared_problem(prepared), settings, horizon,
        population_65plus=(demand["population_65plus"].to_numpy(dtype=float)
                           if "population_65plus" in demand.columns else None),
        bundle=prepared.region.path, objective=objective, solver=solver or DEFAULT_SOLVER,
        time_limit_s=time_limit_s, mip_gap=mip_gap, on_step=on_step)


def prepared_problem(prepared: Prepared) -> Problem:
    """The allocation problem of a prepared region under its scenario, with the site-to-hospital minutes a
    `[tiers]` scenario needs, the station minutes of `[ems]`, the site x site minutes of `[pathways]` and the
    single-failure coverage sets of `[n_minus_1]` (`failure_coverage`): the one path from a prepared region to a
    problem (optimize, sweep, batch)."""
    problem = build_problem(prepared.region, prepared.matrix, prepared.scenario, site_matrix=prepared.site_matrix,
                            ems_matrix=prepared.ems_matrix, transfer_matrix=prepared.transfer_matrix)
    if prepared.scenario.n_minus_1 is None:
        return problem
    sets = region_failure_sets(prepared.region, prepared.network, problem, prepared.scenario.n_minus_1)
    return replace(problem, n_minus_1=sets)


def optimize_robust(prepared: Prepared, *, mode: str, objective: str = "gap", solver: str | None = None,
                    time_limit_s: float | None = None, mip_gap: float | None = None, cache_dir: Path | None = None,
                    on_step: StepCallback = _quiet) -> RobustPlan:
    """One plan for normal conditions and every closure scenario of the prepared scenario (`optimize --robust`)."""
    return plan_under_closures(prepared.region, prepared.network, prepared.matrix, prepared.scenario, mode=mode,
                               objective=objective, solver=solver or DEFAULT_SOLVER, time_limit_s=time_limit_s,
                               mip_gap=mip_gap, cache_dir=cache_dir, on_step=on_step)


def plan_summary(prepared: Prepared, result: Result, *, robust: RobustPlan | None = None,
                 years: YearsPlan | None = None) -> dict[str, Any]:
    """summary.json: the result's figures with the region, the resolved scenario and the inputs' content hashes
    (and, for a robust plan, its figures under each closure scenario; for a multi-year plan, `years`)."""

    region, scenario = prepared.region, prepared.scenario
    summary: dict[str, Any] = {
        "region": region.name,
        "region_synthetic": region.synthetic,
        "region_language": region.language,
        "region_title": region.title or region.name,
        "scenario": {"name": scenario.name, "source": scenario.source, "settings": scenario_to_dict(scenario)},
    }
    summary.update(result.to_summary())
    summary["inputs"] = {
        "region_files": _content_hashes(region, region.path) if region.path is not None else {},
        "scenario_sha256": _sha256(Path(scenario.source)) if Path(scenario.source).is_file() else None,
    }
    if robust is not None:
        summary["robust"] = robust.to_summary()
    if years is not None:
        summary["years"] = years.to_summary()
    summary["allocopt_version"] = __version__
    return summary


def write_plan(prepared: Prepared, result: Result, out_dir: str | Path, *, overwrite: bool = False,
               report: bool = False, robust: RobustPlan | None = None, years: YearsPlan | None = None,
               language: str | None = None) -> Path:
    """Write summary.json, allocations.csv, townships.csv and result.gpkg (docs/results.md), for a robust plan
    scenarios.csv and the result.gpkg layer critical_links (docs/closures.md), with `[ems]` ems_stations.csv,
    ems_demand.csv and the layer ems_stations (docs/ems.md), with `[n_minus_1]` n_minus_1.csv and the layer
    n_minus_1 (docs/closures.md), for a multi-year plan schedule.csv and years.csv (docs/years.md; `result` is
    then its last year), and with `report` the maps and charts (`allocopt.report.draw_report`), plan.xlsx and
    report.html (in `language`, default the region's), as one atomic result folder
    (`allocopt.export.atomic_output_dir`)."""
    region = prepared.region
    townships = region.townships[["code", "geometry"]].merge(result.townships, on="code", how="left")
    existing = region.sites.drop(columns=["name", "kind", "level", "township_code"])
    facilities = existing.merge(result.sites, on="id", how="left")
    demand = region.demand[["id", "geometry"]].merge(result.demand, on="id", how="left")
    layers = {"townships": townships, "facilities": facilities, "demand": demand}
    with atomic_output_dir(out_dir, kind=PLAN_KIND, overwrite=overwrite, inputs=input_paths(prepared)) as staging:
        write_json(plan_summary(prepared, result, robust=robust, years=years), staging / "summary.json")
        if robust is not None:
            write_csv(robust.scenarios, staging / "scenarios.csv")
        if years is not None:
            write_csv(years.schedule, staging / "schedule.csv")
            write_csv(years.table, staging / "years.csv")
        write_csv(result.allocations, staging / "allocations.csv")
        write_csv(result.townships, staging / "townships.csv")
        if result.n_minus_1 is not None:
            write_csv(result.n_minus_1.table, staging / "n_minus_1.csv")
        if result.tiers is not None:
            write_csv(result.tiers.referrals, staging / "referrals.csv")
            write_csv(result.tiers.hospitals, staging / "referral_hospitals.csv")
            write_csv(result.tiers.first_contact, staging / "first_contact.csv")
            layers["referrals"] = consortium.referral_lines(
                region.sites, result.tiers.referrals, site_column="primary_site_id", hospital_column="lead_hospital_id"
            )
        if result.pathways is not None:
            write_csv(result.pathways.table, staging / "pathways.csv")
            layers["pathways"] = pathway_lines(result.pathways, region.demand, region.sites)
        if robust is not None:
            layers["critical_links"] = critical_links_layer(region, robust.critical_links)
        if result.ems is not None and region.ems_stations is not None:
            write_csv(result.ems.stations, staging / "ems_stations.csv")
            write_csv(result.ems.demand, staging / "ems_demand.csv")
            layers["ems_stations"] = region.ems_stations[["id", "geometry"]].merge(result.ems.stations, on="id")
        if result.n_minus_1 is not None:
            layers["n_minus_1"] = failure_layer(region, result.n_minus_1.table)
        write_geopackage(layers, staging / "result.gpkg")
        if report:
            from allocopt.report import draw_report

            draw_report(staging, staging, directory=Path(out_dir), language=language)
    return Path(out_dir)


def design_consortium(
    region: str | Path = DEFAULT_REGION,
    *,
    scenario_path: str | Path | None = None,
    max_referral_minutes: float | None = None,
    solver: str | None = None,
    cache_dir: Path | None = None,
) -> consortium.ConsortiumResult:
    """Redraw consortium links alone: each grassroots site to one lead hospital within capacity (tiers settings).

    A scenario without `[tiers]` redesigns every link (the what-if this command is for); with `[tiers]` its
    `fix_existing_links` applies."""

    loaded = load_region(region)
    network = build_network(loaded.roads, speeds_kmh=loaded.speeds_kmh)
    scenario = region_scenario(loaded, scenario_path)
    site_matrix = consortium.site_hospital_matrix(loaded, network, cache_dir=cache_dir)
    return consortium.design_consortium(
        loaded, site_matrix, scenario.tiers or TiersSettings(fix_existing_links=False),
        max_referral_minutes=max_referral_minutes,
        solver=solver or DEFAULT_SOLVER,
    )


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


_SHAPEFILE_PARTS = (".shp", ".shx", ".dbf", ".prj", ".cpg")


def _content_hashes(region: Region, directory: Path) -> dict[str, str]:
    """sha256 of the files a region bundle declares (region.toml, each layer's file with a shapefile's sidecar
    files, scenario.toml), by path relative to the bundle, so a plan can be audited later. Other files in the
    folder, such as result folders kept inside it, are not inputs and are left out."""
    layers = region.meta.get("layers", {})
    declared = {"region.toml", "scenario.toml"}
    for table in layers.values() if isinstance(layers, dict) else ():
        file = Path(str(table.get("file", DEFAULT_LAYER_FILE))) if isinstance(table, dict) else None
        if file is not None:
            parts = _SHAPEFILE_PARTS if file.suffix.lower() == ".shp" else (file.suffix,)
            declared |= {file.with_suffix(suffix).as_posix() for suffix in parts}
    return {name: _sha256(directory / name) for name in sorted(declared) if (directory / name).is_file()}


@dataclass(frozen=True)
class CostColumns:
    """Column names of a long cost CSV, of the weights, loads and capacities CSVs and the id column of a
    points CSV."""

    demand: str = "demand"
    site: str = "site"
    cost: str = "cost"
    weight_id: str = "demand"
    weight: str = "weight"
    capacity_id: str = "site"
    capacity: str = "capacity"
    load_id: str = "demand"
    load: str = "load"
    point_id: str = "id"


@dataclass(frozen=True)
class LocateInputs:
    """Where a classic location model's data come from. Costs: `costs_path` in `costs_format` (long, wide,
    orlib, or the capacitated layouts orlib-cap and lorena, which also give p, loads and capacities), or
    `points_path`, coordinates turned into `distance` costs (`costs.read_points`), rounded down with
    `truncate`. `weights_path`: objective weights; `demand_path`: each unit's load on capacities (default:
    the file's loads, else the weights); `capacities_path`: site capacities (default: the file's). The
    explicit files replace what a capacitated layout gives."""

    costs_path: str | Path | None = None
    costs_format: str = "long"
    points_path: str | Path | None = None
    distance: str | None = None
    truncate: bool = False
    weights_path: str | Path | None = None
    demand_path: str | Path | None = None
    capacities_path: str | Path | None = None
    columns: CostColumns = CostColumns()


@dataclass(frozen=True)
class LocateData:
    """A classic location model's data read from files: costs, the file's p (None when it has none), weights,
    loads and capacities (None when not given), and where the capacities came from (for messages)."""

    costs: CostMatrix
    file_p: int | None
    weights: dict[str, float] | None
    loads: dict[str, float] | None
    capacities: dict[str, float] | None
    capacity_source: str


def read_locate_inputs(inputs: LocateInputs) -> LocateData:
    """Read the files of `inputs`; ScenarioError when both or neither of costs and points are given, or
    `truncate` comes without points."""
    path = inputs.costs_path
    if (path is None) == (inputs.points_path is None):
        raise ScenarioError("give the costs either as a cost file (--costs) or as points (--points), one of them")
    if inputs.truncate and inputs.points_path is None:
        raise ScenarioError("--truncate rounds distances between --points; cost files are read as they are")
    columns = inputs.columns
    file_p, loads, capacities, source = None, None, None, ""
    if path is None:
        costs = read_points(inputs.points_path or "", id_column=columns.point_id, distance=inputs.distance,
                            truncate=inputs.truncate)
    elif inputs.costs_format == "long":
        costs = read_costs_long(path, demand_column=columns.demand, site_column=columns.site,
                                cost_column=columns.cost)
    elif inputs.costs_format in ("orlib-cap", "lorena"):
        instance = (read_orlib_pmedcap if inputs.costs_format == "orlib-cap" else read_lorena)(path)
        costs, file_p = instance.costs, instance.p
        loads, capacities = dict(instance.demands), dict(instance.capacities)
        source = f"the {inputs.costs_format} file {path}"
    else:
        costs, file_p = read_costs(path, fmt=inputs.costs_format)
    weights = None if inputs.weights_path is None else read_weights(
        inputs.weights_path, demand_ids=costs.demand_ids, id_column=columns.weight_id, weight_column=columns.weight)
    if inputs.demand_path is not None:
        loads = read_loads(inputs.demand_path, demand_ids=costs.demand_ids, id_column=columns.load_id,
                           load_column=columns.load)
    if inputs.capacities_path is not None:
        capacities = read_capacities(inputs.capacities_path, site_ids=costs.site_ids,
                                     id_column=columns.capacity_id, capacity_column=columns.capacity)
        source = "--capacities"
    return LocateData(costs, file_p, weights, loads, capacities, source)


def locate(
    model: str,
    inputs: LocateInputs,
    *,
    p: int | None = None,
    radius: float | None = None,
    formulation: str = "auto",
    solver: str | None = None,
    time_limit_s: float | None = None,
    mip_gap: float | None = None,
) -> LocateResult:
    """Run a classic location model (pmedian, mclp, lscp, pcenter) on the files of `inputs`, keyed by IDs.

    pmedian and pcenter take capacities (single sourcing), loaded by the units' loads; p defaults to the
    file's (OR-Library and Lorena-Senne files). `formulation` chooses the p-median formulation (auto, radius
    or assignment).
    """
    data = read_locate_inputs(inputs)
    options: dict[str, Any] = {"solver": solver or DEFAULT_SOLVER, "time_limit_s": time_limit_s, "mip_gap": mip_gap}
    count = p if p is not None else data.file_p

    def need(value: Any, option: str) -> Any:
        if value is None:
            raise ScenarioError(f"locate {model} needs {option}")
        return value

    if model in ("mclp", "lscp"):
        if data.capacities is not None:
            raise ScenarioError(f"{model} has no site capacities, but {data.capacity_source} gives them; "
                                "use pmedian or pcenter, or give the costs without capacities")
        if inputs.demand_path is not None:
            raise ScenarioError(f"{model} has no site capacities for --demand to load; leave --demand out")
    loads = data.loads
    if loads is None and data.capacities is not None and model == "pcenter":
        loads = data.weights  # as in the p-median: without loads, the weights load the capacities
    if model == "pmedian":
        return classic.p_median(data.costs, p=need(count, "-p N"), weights=data.weights, capacities=data.capacities,
                                demands=loads, formulation=formulation, **options)
    if model == "mclp":
        return classic.mclp(data.costs, p=need(count, "-p N"), radius=need(radius, "--radius R"),
                            weights=data.weights, **options)
    if model == "lscp":
        return classic.lscp(data.costs, radius=need(radius, "--radius R"), **options)
    if model == "pcenter":
        return classic.p_center(data.costs, p=need(count, "-p N"), capacities=data.capacities,
                                demands=loads, **options)
    raise ScenarioError(f"unknown model {model!r}; choose pmedian, mclp, lscp or pcenter")


def cover(
    costs_path: str | Path,
    *,
    threshold: float,
    budget: float,
    kinds: Sequence[ResourceKind],
    costs_format: str = "long",
    weights_path: str | Path | None = None,
    existing_path: str | Path | None = None,
    columns: CostColumns = CostColumns(),
    solver: str | None = None,
    time_limit_s: float | None = None,
    mip_gap: float | None = None,
) -> CoveragePlan:
    """Budgeted, capacitated coverage (`model.capacity_coverage`) on a cost-matrix file: buy whole units of
    `kinds` at sites to cover the most demand weight within `threshold`. Units today come from
    `existing_path` (`read_existing_units`, its site column named like the capacities' id column)."""
    if costs_format == "long":
        costs = read_costs_long(costs_path, demand_column=columns.demand, site_column=columns.site,
                                cost_column=columns.cost)
    else:
        costs, _ = read_costs(costs_path, fmt=costs_format)
    weights = None if weights_path is None else read_weights(
        weights_path, demand_ids=costs.demand_ids, id_column=columns.weight_id, weight_column=columns.weight)
    existing = None if existing_path is None else read_existing_units(
        existing_path, site_ids=costs.site_ids, kinds=[kind.name for kind in kinds], id_column=columns.capacity_id)
    return capacity_coverage(costs, threshold=threshold, kinds=kinds, budget=budget, existing=existing,
                             weights=weights, solver=solver or DEFAULT_SOLVER, time_limit_s=time_limit_s,
                             mip_gap=mip_gap)
