"""Benchmark cases: each runs in its own process (harness.py), measures one tool on one instance, returns figures.

Every case has the signature `case(params, meter) -> dict` and measures its work inside `meter.section()`, after
its inputs are loaded, so peak memory is that of the measured work. Times are wall-clock seconds.
"""

from __future__ import annotations

import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from harness import Meter

_CHECK_ATOL = 1e-9


def travel_ours(params: dict[str, Any], meter: Meter) -> dict[str, Any]:
    """allocopt: build_network on the grid roads, then travel_times (no cache) for origins x sites."""
    from allocopt.network import build_network
    from allocopt.travel import travel_times

    roads, origins, sites = _grid_inputs(params)
    with meter.section():
        start = time.perf_counter()
        network = build_network(roads)
        network_s = time.perf_counter() - start
        start = time.perf_counter()
        matrix = travel_times(
            network, origins, sites, origin_ids=[f"o{i}" for i in range(len(origins))],
            destination_ids=[f"s{j}" for j in range(len(sites))], access_speed_kmh=5.0,
        )
        matrix_s = time.perf_counter() - start
    return {"nodes": network.n_nodes, "edges": network.n_edges, "network_s": network_s, "seconds": matrix_s,
            **_checksum(matrix.minutes)}


def travel_scipy(params: dict[str, Any], meter: Meter) -> dict[str, Any]:
    """Lower bound: one `scipy.sparse.csgraph.dijkstra` call from all unique site nodes, nothing around it."""
    from scipy.sparse.csgraph import dijkstra

    from allocopt.network import build_network, snap

    roads, origins, sites = _grid_inputs(params)
    network = build_network(roads)
    origin, site = (snap(network, points, access_speed_kmh=5.0) for points in (origins, sites))
    sources, inverse = np.unique(site.node, return_inverse=True)
    reverse = network.minutes_csr.transpose().tocsr()
    with meter.section():
        start = time.perf_counter()
        distances = dijkstra(reverse, directed=True, indices=sources)
        seconds = time.perf_counter() - start
    minutes = origin.access_minutes[:, None] + distances[:, origin.node][inverse].T + site.access_minutes[None, :]
    return {"nodes": network.n_nodes, "unique_sources": len(sources), "seconds": seconds, **_checksum(minutes)}


def travel_networkx(params: dict[str, Any], meter: Meter) -> dict[str, Any]:
    """networkx on `network.to_networkx()`: per-source Dijkstra from a sample of site nodes (scaled to all
    unique site nodes) and one multi-source Dijkstra (nearest site only); the sample is checked against scipy."""
    import networkx as nx
    from scipy.sparse.csgraph import dijkstra

    from allocopt.network import build_network, snap

    roads, _origins, sites = _grid_inputs(params)
    network = build_network(roads)
    sources = np.unique(snap(network, sites, access_speed_kmh=5.0).node)
    sample = sources[: min(len(sources), int(params["networkx_sources"]))]
    with meter.section():
        start = time.perf_counter()
        graph = network.to_networkx().reverse(copy=False)
        convert_s = time.perf_counter() - start
        start = time.perf_counter()
        lengths = [nx.single_source_dijkstra_path_length(graph, int(s), weight="minutes") for s in sample]
        sample_s = time.perf_counter() - start
        start = time.perf_counter()
        nx.multi_source_dijkstra_path_length(graph, {int(s) for s in sources}, weight="minutes")
        multi_s = time.perf_counter() - start
    reference = dijkstra(network.minutes_csr.transpose().tocsr(), directed=True, indices=sample)
    ours = np.full_like(reference, np.inf)
    for row, found in enumerate(lengths):
        ours[row, list(found)] = list(found.values())
    return {"nodes": network.n_nodes, "convert_s": convert_s, "sample_sources": len(sample),
            "unique_sources": len(sources), "sample_s": sample_s,
            "per_source_all_s": sample_s / len(sample) * len(sources), "multi_source_s": multi_s,
            "matches_scipy": bool(np.allclose(ours, reference, rtol=0, atol=_CHECK_ATOL))}


def locate_ours(params: dict[str, Any], meter: Meter) -> dict[str, Any]:
    """allocopt.model.classic p_median / mclp on a locate instance, solved to a zero gap."""
    from allocopt.model import classic
    from instances import classic_instance

    costs, weights, p, radius = classic_instance(params["instance"], params["model"])
    by_id = dict(zip(costs.demand_ids, weights.tolist(), strict=True))
    options = {"solver": params["solver"], "time_limit_s": params["time_limit_s"], "mip_gap": 0.0}
    with meter.section():
        start = time.perf_counter()
        if params["model"] == "pmedian":
            result = classic.p_median(costs, p=p, weights=by_id, **options)
        else:
            result = classic.mclp(costs, p=p, radius=float(radius or 0.0), weights=by_id, **options)
        seconds = time.perf_counter() - start
    return {"seconds": seconds, "solve_s": result.seconds, "status": result.status, "objective": result.objective,
            "p": p, "radius": radius, "demand": len(costs.demand_ids), "sites": len(costs.site_ids),
            "solver_version": result.solver_version}


def locate_spopt(params: dict[str, Any], meter: Meter) -> dict[str, Any]:
    """spopt's PMedian / MCLP (`from_cost_matrix` then `solve`) on the same instance, same solver, zero gap."""
    import pulp
    from spopt.locate import MCLP, PMedian

    from instances import classic_instance

    costs, weights, p, radius = classic_instance(params["instance"], params["model"])
    solver = _pulp_solver(params["solver"], params["time_limit_s"])
    with meter.section():
        start = time.perf_counter()
        if params["model"] == "pmedian":
            model = PMedian.from_cost_matrix(costs.costs, weights, p_facilities=p)
        else:
            model = MCLP.from_cost_matrix(costs.costs, weights, service_radius=float(radius or 0.0), p_facilities=p)
        build_s = time.perf_counter() - start
        start = time.perf_counter()
        try:
            model.solve(solver)
            status = "optimal" if model.problem.sol_status == pulp.LpSolutionOptimal else "not_optimal"
        except (AttributeError, RuntimeError, ValueError, pulp.PulpSolverError):
            status = "not_solved"
        solve_s = time.perf_counter() - start
    objective = pulp.value(model.problem.objective) if status == "optimal" else None
    return {"seconds": build_s + solve_s, "build_s": build_s, "solve_s": solve_s, "status": status,
            "objective": None if objective is None else float(objective), "p": p, "radius": radius}


def optimize_region(params: dict[str, Any], meter: Meter) -> dict[str, Any]:
    """The optimize pipeline on a region, step by step through the library API (what workflow.prepare and
    optimize do): load_region, build_network, travel_times (no cache), build_problem + check_attainable,
    build_model, solve_model, build_result. Each step's seconds and the memory high-water mark after it.
    `budget_yuan`, when given, replaces the scenario's total budget; `objective` is build_model's (default gap);
    `n_minus_1`, when given, is an `[n_minus_1]` table added to the scenario (its failure sets a step of their own);
    `pathways` true turns care pathways on with their defaults (adding the site x site `transfers` step), false
    turns them off, absent keeps the region's scenario; `ems` true adds `[ems]` defaults and the station x demand
    minutes (the `stations` step), so 120 pathways take the plan's stations (the coupling family)."""
    from allocopt.ems import EmsSettings
    from allocopt.failure_coverage import region_failure_sets
    from allocopt.model import build_model, build_problem, check_attainable, solve_model
    from allocopt.n_minus_1 import parse_n_minus_1
    from allocopt.network import build_network
    from allocopt.pathway_settings import default_settings
    from allocopt.pathways import transfer_matrix
    from allocopt.regions import load_region
    from allocopt.results import build_result
    from allocopt.scenario import with_pathways
    from allocopt.travel import travel_times
    from allocopt.workflow import ems_matrix, region_scenario

    with tempfile.TemporaryDirectory(prefix="allocopt-bench-region-") as tmp:
        path, generate_s = _region_path(params, Path(tmp))
        step = _Steps(meter)
        with meter.section():
            region = step("load", load_region, path)
            network = step("network", build_network, region.roads, speeds_kmh=region.speeds_kmh)
            matrix = step("travel", travel_times, network, region.demand.geometry, region.sites.geometry,
                          origin_ids=tuple(region.demand["id"]), destination_ids=tuple(region.sites["id"]),
                          access_speed_kmh=region.access_speed_kmh)
            scenario = region_scenario(region, None)
            if params.get("budget_yuan") is not None:
                scenario = replace(scenario, budget=replace(scenario.budget, total_yuan=params["budget_yuan"]))
            if params.get("n_minus_1") is not None:
                scenario = replace(scenario, n_minus_1=parse_n_minus_1(params["n_minus_1"]))
            if params.get("pathways") is True and scenario.pathways is None:
                scenario = with_pathways(scenario, default_settings())
            elif params.get("pathways") is False and scenario.pathways is not None:
                scenario = _ring_scenario(scenario)
            transfers = (step("transfers", transfer_matrix, region, network) if scenario.pathways is not None
                         else None)
            stations = None
            if params.get("ems"):
                scenario = replace(scenario, ems=scenario.ems or EmsSettings())
                stations = step("stations", ems_matrix, region, network)
            problem = step("problem", build_problem, region, matrix, scenario, transfer_matrix=transfers,
                           ems_matrix=stations)
            if scenario.n_minus_1 is not None:
                sets = step("n_minus_1", region_failure_sets, region, network, problem, scenario.n_minus_1)
                problem = replace(problem, n_minus_1=sets)
                step.figures.update(n_minus_1_segments=len(sets.segment_ids), n_minus_1_searches=sets.searches,
                                    n_minus_1_full_searches=sets.full_recompute_searches,
                                    n_minus_1_pairs=sum(len(points) for points in sets.point.values()))
            step("attainable", check_attainable, problem)
            model = step("model", build_model, problem, objective=params.get("objective", "gap"))
            outcomes = step("solve", solve_model, model, solver=params["solver"],
                            time_limit_s=params["time_limit_s"], mip_gap=params["mip_gap"])
            if outcomes[-1].has_plan:
                step("result", build_result, model, outcomes, time_limit_s=params["time_limit_s"],
                     mip_gap=params["mip_gap"])
    first, last = outcomes[0], outcomes[-1]
    status = "optimal" if all(o.status == "optimal" for o in outcomes) else last.status
    # the gap and objective are the first stage's (the plan's quality); later stages only lower its cost
    return {**step.figures, "generate_s": generate_s, "seconds": sum(step.seconds.values()),
            "solver_s": sum(o.seconds for o in outcomes), "quality_stage_s": first.seconds,
            "later_stages_s": sum(o.seconds for o in outcomes[1:]), "stages": len(outcomes), "status": status,
            "gap": first.gap, "mip_gap": params["mip_gap"], "objective": first.objective,
            "cost_yuan": last.objective if len(outcomes) > 1 else None, "solver_version": last.solver_version,
            "demand": len(region.demand), "sites": len(region.sites),
            "road_nodes": network.n_nodes, "variables": len(model.lp.variables()),
            "constraints": len(model.lp.constraints),
            "pathway_variables": None if model.pathways is None else model.pathways.variables,
            "pathway_constraints": None if model.pathways is None else model.pathways.constraints,
            "coupling_variables": sum(v.name.startswith("amb_staffed") for v in model.lp.variables()),
            "coupling_constraints": sum(name.startswith("amb_staffed") for name in model.lp.constraints)}


def _ring_scenario(scenario: Any) -> Any:
    """The scenario without `[pathways]`: each condition's ring weight back from its pathway weight."""
    weights = dict(scenario.weights) | {c.name: c.weight for c in scenario.pathways.conditions}
    return replace(scenario, weights=weights, pathways=None)


def optimize_years_region(params: dict[str, Any], meter: Meter) -> dict[str, Any]:
    """A multi-year plan of `years` years from 2026 on a region (default [years] settings; on valley-county 8 M
    yuan of capital a year and running cost rising from 3 to 11 M, elsewhere the region scenario's budget every
    year): year problems and model build apart from the solve."""
    from allocopt.model.objectives import solve_model
    from allocopt.model.years import build_years_model
    from allocopt.plan_years import plan_years, year_problems
    from allocopt.workflow import prepare, prepared_problem
    from allocopt.years_settings import parse_years

    count = int(params["years"])
    table: dict[str, Any] = {"first": 2026, "last": 2025 + count}
    if params["region"] == "valley-county":
        table["budget"] = {"capital_yuan": 8e6, "annual_yuan": [3e6 + 2e6 * i for i in range(count)]}
    with tempfile.TemporaryDirectory(prefix="allocopt-bench-region-") as tmp:
        path, _ = _region_path(params, Path(tmp))
        prepared = prepare(path)
        scenario = replace(prepared.scenario, years=parse_years(table))
        problem = replace(prepared_problem(prepared), scenario=scenario)
        demand = prepared.region.demand
        older = demand["population_65plus"].to_numpy(dtype=float) if "population_65plus" in demand.columns else None
        with meter.section():
            start = time.perf_counter()
            settings, years = plan_years(scenario, None)
            problems, _ = year_problems(problem, older, settings, years, bundle=prepared.region.path)
            limits = settings.yearly_limits(years, vars(scenario.budget))
            model = build_years_model(problems, settings, limits)
            model_s = time.perf_counter() - start
            outcomes = solve_model(model, solver="highs", time_limit_s=params["time_limit_s"],
                                   mip_gap=params.get("mip_gap"))
            solve_s = time.perf_counter() - start - model_s
    variables = model.lp.variables()
    return {"model_s": model_s, "solve_s": solve_s, "seconds": model_s + solve_s,
            "status": "optimal" if all(o.status == "optimal" for o in outcomes) else outcomes[-1].status,
            "gap": max((o.gap or 0.0) for o in outcomes), "variables": len(variables),
            "integers": sum(v.cat == "Integer" for v in variables), "constraints": len(model.lp.constraints),
            "nonzeros": sum(len(c) for c in model.lp.constraints.values())}


class _Steps:
    """Run named steps, keeping each one's seconds and the memory high-water mark (MiB) after it."""

    def __init__(self, meter: Meter) -> None:
        self.meter = meter
        self.seconds: dict[str, float] = {}
        self.figures: dict[str, float] = {}

    def __call__(self, name: str, function: Any, *args: Any, **kwargs: Any) -> Any:
        start = time.perf_counter()
        value = function(*args, **kwargs)
        self.seconds[name] = time.perf_counter() - start
        self.figures[f"{name}_s"] = self.seconds[name]
        self.figures[f"{name}_hwm_mib"] = round(self.meter.high_water_mib(), 1)
        return value


def orlib_pmedian(params: dict[str, Any], meter: Meter) -> dict[str, Any]:
    """allocopt p_median on an OR-Library instance to proven optimality (zero gap), against the published
    optimum."""
    from allocopt.model import classic
    from instances import orlib_costs, orlib_optimum

    costs, _weights, p = orlib_costs(params["instance"])
    with meter.section():
        start = time.perf_counter()
        result = classic.p_median(costs, p=p, solver=params["solver"], time_limit_s=params["time_limit_s"],
                                  mip_gap=0.0)
        seconds = time.perf_counter() - start
    return {"seconds": seconds, "solve_s": result.seconds, "status": result.status, "objective": result.objective,
            "optimum": orlib_optimum(params["instance"]), "n": len(costs.demand_ids), "p": p,
            "solver_version": result.solver_version}


def _grid_inputs(params: dict[str, Any]) -> tuple[Any, Any, Any]:
    """Roads, origins and sites of a travel instance (same seeds in every case)."""
    from instances import grid_points, grid_roads, grid_side

    side = grid_side(int(params["nodes"]))
    return (grid_roads(side, seed=1), grid_points(side, int(params["origins"]), seed=2),
            grid_points(side, int(params["sites"]), seed=3))


def _checksum(minutes: np.ndarray) -> dict[str, Any]:
    """Count and sum of the finite entries of a travel matrix, to tell two tools computed the same matrix."""
    finite = np.isfinite(minutes)
    return {"finite_pairs": int(finite.sum()), "minutes_sum": float(minutes[finite].sum())}


def _pulp_solver(name: str, time_limit_s: float) -> Any:
    """The PuLP solver object spopt is handed: the same solver allocopt runs, with a zero gap."""
    import pulp

    if name == "highs":
        return pulp.HiGHS(msg=False, timeLimit=time_limit_s, gapRel=0.0)
    return pulp.PULP_CBC_CMD(msg=False, timeLimit=time_limit_s, gapRel=0.0)


def _region_path(params: dict[str, Any], tmp: Path) -> tuple[str, float]:
    """The region to optimize: an embedded name as is, or a generated bundle written under `tmp`."""
    from allocopt.generate import generate_region, write_region
    from instances import REGION_CLINIC_SHARE, REGION_SEED, REGION_SIZES, USER_REGION_SIZES

    start = time.perf_counter()
    if params["region"] in USER_REGION_SIZES:
        generated = generate_region(name=params["region"], **USER_REGION_SIZES[params["region"]])
    elif params["region"] in REGION_SIZES:
        generated = generate_region(name=params["region"], seed=REGION_SEED, clinic_share=REGION_CLINIC_SHARE,
                                    **REGION_SIZES[params["region"]])  # type: ignore[arg-type]
    else:
        return params["region"], 0.0
    path = write_region(generated, tmp / params["region"])
    return str(path), time.perf_counter() - start


def exact_pmedian(params: dict[str, Any], meter: Meter) -> dict[str, Any]:
    """allocopt p_median (capacitated where the set has capacities) to proven optimality on one instance of
    `instances.EXACT_SETS`, against its published optimum; `mip_gap` as given (None: HiGHS's 1e-4)."""
    from allocopt.model import classic
    from instances import exact_instance

    costs, p, loads, capacities, optimum = exact_instance(params["instance"])
    with meter.section():
        start = time.perf_counter()
        result = classic.p_median(costs, p=p, capacities=capacities, demands=loads, solver=params["solver"],
                                  time_limit_s=params["time_limit_s"], mip_gap=params["mip_gap"])
        seconds = time.perf_counter() - start
    return {"seconds": seconds, "build_s": result.build_seconds, "solve_s": result.seconds, "status": result.status,
            "objective": result.objective, "gap": result.gap, "optimum": optimum, "n": len(costs.demand_ids), "p": p,
            "solver_version": result.solver_version}
