"""allocopt benchmark suite: figures and ratios, printed as tables and written as JSON.

    python benchmarks/run.py                 # every benchmark but the long ones, full sizes (run it in the background)
    python benchmarks/run.py exact --instances sjc,pmedcap08   # a long benchmark, some of its instances
    python benchmarks/run.py --quick         # a subset that runs in a few minutes
    python benchmarks/run.py locate --instances sf,pmed1
    python benchmarks/run.py --list

Benchmarks: travel (csgraph travel-time matrices vs networkx and a bare scipy lower bound), locate (p-median and
MCLP vs spopt, same solver, same instances), optimize (the allocation MILP on regions of three sizes, build vs
solve time, both solvers), budgets (the same on regions as `generate-region` makes them: objective gap at every
budget of a sweep, objective travel at two budgets), orlib900 (p-median on the 900-node OR-Library instance pmed40
to proven optimality), exact (p-median and capacitated p-median on every OR-Library pmed and pmedcap and
Lorena-Senne SJC instance to proven optimality; long, not part of a default run).
Every case runs in its own subprocess (harness.py) under a wall-clock limit; memory figures are the peak
resident memory of the measured section of that process. The exit code is 1 when two tools disagree on an
optimal objective or a travel matrix, or an optimum differs from the published one.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import importlib.util
import json
import math
import os
import platform
import re
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from harness import CaseRun, run_case

HERE = Path(__file__).resolve().parent
DEFAULT_JSON = HERE / "results" / "latest.json"
OBJECTIVE_RTOL = 1e-9
TRAVEL_TARGET_S = 30.0
COUNTY_TARGET_S = 10.0
PREFECTURE_TARGET_S = 120.0
PREFECTURE_TARGET_MIB = 4096.0
LOCATE_TARGET_SPEEDUP = 5.0
MEMORY_NOTE = ("*_mib: resident memory the measured section added (its peak minus the RSS at its start, in its own "
               "process); peak_mib: the whole process's peak.")


@dataclass(frozen=True)
class Job:
    """One case to run: which benchmark row it feeds (`key`), which tool it measures and how."""

    key: tuple[str, ...]
    tool: str
    case: str
    params: dict[str, Any]
    timeout_s: float


@dataclass
class Report:
    """A benchmark's table rows and the disagreements found (an empty `failures` means all checks held)."""

    rows: list[dict[str, Any]] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


Results = dict[tuple[tuple[str, ...], str], CaseRun]


@dataclass(frozen=True)
class Benchmark:
    """A named benchmark: the jobs it runs for the options given, and how their figures become a table."""

    name: str
    summary: str
    plan: Callable[[argparse.Namespace], list[Job]]
    report: Callable[[Results, argparse.Namespace], Report]


# ---------------------------------------------------------------- travel


def plan_travel(args: argparse.Namespace) -> list[Job]:
    """Per size: allocopt travel_times, the scipy lower bound and networkx, 5,000 origins x 1,000 sites."""
    sizes = [10_000] if args.quick else [10_000, 100_000]
    jobs = []
    for nodes in _filtered(sizes, args, label=_nodes_label):
        base = {"nodes": nodes, "origins": 5_000, "sites": 1_000}
        timeout = 300.0 if nodes <= 10_000 else 900.0
        key = (_nodes_label(nodes),)
        nx_sources = 100 if nodes <= 10_000 else 20
        jobs += [
            Job(key, "allocopt", "travel_ours", base, timeout),
            Job(key, "scipy", "travel_scipy", base, timeout),
            Job(key, "networkx", "travel_networkx", {**base, "networkx_sources": nx_sources}, timeout),
        ]
    return jobs


def report_travel(results: Results, args: argparse.Namespace) -> Report:
    """Seconds of each tool, the ratios to allocopt and whether the matrices agree."""
    report = Report(notes=[
        "networkx per-source time is measured on the first k unique site nodes and scaled to all of them; "
        "its sampled distances are checked against scipy.",
        "networkx multi-source gives only each node's nearest site, not the matrix.",
    ])
    for key in _keys(results):
        ours, lower, nx = (results.get((key, tool)) for tool in ("allocopt", "scipy", "networkx"))
        row: dict[str, Any] = {"size": key[0]}
        o, lb, n = (_figures(run) for run in (ours, lower, nx))
        row.update(nodes=o.get("nodes"), edges=o.get("edges"), network_s=o.get("network_s"),
                   allocopt_s=_time(ours), scipy_bound_s=_time(lower), to_networkx_s=n.get("convert_s"),
                   nx_per_source_s=n.get("per_source_all_s"), nx_sample=n.get("sample_sources"),
                   nx_multi_source_s=n.get("multi_source_s"),
                   nx_over_allocopt=_ratio(n.get("per_source_all_s"), o.get("seconds")),
                   allocopt_over_bound=_ratio(o.get("seconds"), lb.get("seconds")),
                   allocopt_mib=o.get("section_added_mib"), scipy_bound_mib=lb.get("section_added_mib"))
        if o and lb:
            same = o["finite_pairs"] == lb["finite_pairs"] and _close(o["minutes_sum"], lb["minutes_sum"])
            row["matrix_equal"] = same
            if not same:
                report.failures.append(f"travel {key[0]}: allocopt and scipy matrices differ")
        if n:
            row["nx_matches"] = n["matches_scipy"]
            if not n["matches_scipy"]:
                report.failures.append(f"travel {key[0]}: networkx distances differ from scipy")
        if o.get("nodes", 0) >= 90_000:
            row["target_30s"] = o["seconds"] < TRAVEL_TARGET_S
        report.rows.append(row)
    return report


# ---------------------------------------------------------------- locate


def plan_locate(args: argparse.Namespace) -> list[Job]:
    """Per instance and model: allocopt and spopt, the same solver, zero gap."""
    names = ["sf", "pmed1", "pmed2"] if args.quick else ["sf", *(f"pmed{k}" for k in range(1, 11))]
    limit = 60.0 if args.quick else 300.0
    tools = [("allocopt", "locate_ours")] + ([("spopt", "locate_spopt")] if _has_spopt() else [])
    return [
        Job((name, model), tool, case,
            {"instance": name, "model": model, "solver": args.solver, "time_limit_s": limit}, 2 * limit + 120)
        for name in _filtered(names, args)
        for model in ("pmedian", "mclp")
        for tool, case in tools
    ]


def report_locate(results: Results, args: argparse.Namespace) -> Report:
    """Time and memory of allocopt against spopt, and the two optimal objectives side by side."""
    report = Report(notes=[f"solver: {args.solver} for both (spopt gets pulp."
                           f"{'HiGHS' if args.solver == 'highs' else 'PULP_CBC_CMD'}), relative gap 0."])
    if not _has_spopt():
        report.notes.append("spopt is not installed (pip install spopt): allocopt figures only.")
    for key in _keys(results):
        ours, spopt = results.get((key, "allocopt")), results.get((key, "spopt"))
        o, s = _figures(ours), _figures(spopt)
        row: dict[str, Any] = {"instance": key[0], "model": key[1], "p": o.get("p"), "radius": o.get("radius"),
                               "allocopt_s": _time(ours), "spopt_s": _time(spopt),
                               "spopt_build_s": s.get("build_s"), "speedup": _ratio(s.get("seconds"), o.get("seconds")),
                               "allocopt_mib": o.get("section_added_mib"), "spopt_mib": s.get("section_added_mib"),
                               "mem_ratio": _ratio(s.get("section_added_mib"), o.get("section_added_mib")),
                               "allocopt_obj": o.get("objective"), "spopt_obj": s.get("objective")}
        if o.get("status") == "optimal" and s.get("status") == "optimal":
            same = _close(o["objective"], s["objective"])
            row["equal"] = same
            if not same:
                report.failures.append(f"locate {key[0]} {key[1]}: allocopt {o['objective']} != spopt {s['objective']}")
            row["target_5x"] = (row["speedup"] or 0) >= LOCATE_TARGET_SPEEDUP
        else:
            statuses = (o.get("status", _outcome(ours)), s.get("status", _outcome(spopt)))
            row["equal"] = "not compared (allocopt {}, spopt {})".format(*statuses)
        report.rows.append(row)
    return report


# ---------------------------------------------------------------- optimize


def plan_optimize(args: argparse.Namespace) -> list[Job]:
    """The allocation MILP (objective gap, 1% MIP gap) on the county, a prefecture and a large region, the
    county and the prefecture also with care pathways ([pathways] defaults; the plain rows without them), and with
    pathways coupled to 120 stations and ambulances ([ems] defaults, rows *-pathways-ems)."""
    regions = [("county", "valley-county", ("highs", "cbc"), 60.0, False, False),
               ("county-pathways", "valley-county", ("highs",), 60.0, True, False),
               ("county-pathways-ems", "valley-county", ("highs",), 60.0, True, True),
               ("prefecture", "prefecture", ("highs", "cbc"), 300.0, False, False),
               ("prefecture-pathways", "prefecture", ("highs",), 300.0, True, False),
               ("prefecture-pathways-ems", "prefecture", ("highs",), 300.0, True, True),
               ("large", "large", ("highs",), 600.0, False, False)]
    if args.quick:
        regions = [("county", "valley-county", ("highs", "cbc"), 60.0, False, False),
                   ("county-pathways", "valley-county", ("highs",), 60.0, True, False),
                   ("county-pathways-ems", "valley-county", ("highs",), 60.0, True, True),
                   ("prefecture", "prefecture", ("highs",), 300.0, False, False)]
    jobs = [
        Job((label, solver), solver, "optimize_region",
            {"region": region, "solver": solver, "time_limit_s": limit, "mip_gap": 0.01, "pathways": pathways,
             "ems": ems},
            3 * limit + 300)
        for label, region, solvers, limit, pathways, ems in regions if _wanted(label, args)
        for solver in solvers
    ]
    return jobs + [
        Job((label, "highs"), "highs", "optimize_region", {"region": region, "solver": "highs", "time_limit_s": 300.0,
                                                           "mip_gap": 0.01, "n_minus_1": table, "pathways": False},
            1200.0)
        for label, (region, table) in N_MINUS_1.items() if _wanted(label, args) and not (args.quick and "pref" in label)
    ]


N_MINUS_1 = {"county-n-1-soft": ("valley-county", {"road_classes": ["national", "county"]}),
             "county-n-1-hard": ("valley-county", {"road_classes": ["national", "county"], "mode": "hard",
                                                   "services": ["primary_care"]}),
             "prefecture-n-1-soft": ("prefecture", {"road_classes": ["national", "county"]})}
"""`[n_minus_1]` on the trunk (national) and county roads: every service soft, and primary care hard (against the
plain rows of the same region: the rows the family adds, and its solve time)."""


def report_optimize(results: Results, args: argparse.Namespace) -> Report:
    """Step times (model building apart from solving), gap reached and peak memory per region and solver."""
    report = Report(notes=["times: load = load_region; network = build_network; travel = travel_times (no cache); "
                           "transfers = the site x site minutes of care pathways; "
                           "stations = the 120 station x demand minutes; "
                           "problem = build_problem; model = build_model; solve = solve_model (all stages, model "
                           "transfer to the solver included; quality = the gap stage, cost = the cost stage after "
                           "it); result = build_result; total = their sum (plus "
                           "check_attainable); wall = the whole subprocess, imports and region generation included.",
                           "*_hwm_mib: the process's memory high-water mark after that step."])
    for (key, _tool), run in results.items():
        f = _figures(run)
        row: dict[str, Any] = {"region": key[0], "solver": key[1]}
        row.update({name: f.get(name) for name in ("demand", "sites", "road_nodes", "variables", "constraints",
                                                    "pathway_variables", "pathway_constraints",
                                                    "coupling_variables", "coupling_constraints", "load_s",
                                                    "network_s", "travel_s", "transfers_s", "stations_s",
                                                    "problem_s",
                                                    "n_minus_1_s", "model_s",
                                                    "solve_s", "quality_stage_s", "later_stages_s",
                                                    "result_s")})
        row.update(total_s=_time(run), wall_s=round(run.wall_s, 2), status=f.get("status", _outcome(run)),
                   gap=f.get("gap"), objective=f.get("objective"), travel_hwm_mib=f.get("travel_hwm_mib"),
                   model_hwm_mib=f.get("model_hwm_mib"), peak_mib=f.get("process_peak_rss_mib"))
        if f.get("status") == "optimal" and (f.get("gap") or 0.0) > f["mip_gap"] * (1 + 1e-6):
            report.notes.append(f"{key[0]}/{key[1]}: stopped as optimal at gap {f['gap']:.4f} by allocopt's "
                                f"definition, above the {f['mip_gap']:g} asked (the solver measures its gap "
                                "differently)")
        if key[0] in ("county", "county-pathways", "county-pathways-ems") and f:
            row["target"] = f"end to end {'<' if run.wall_s < COUNTY_TARGET_S else '>='} {COUNTY_TARGET_S:g} s"
        if key[0] in ("prefecture", "prefecture-pathways", "prefecture-pathways-ems") and f:
            ok = (f["status"] == "optimal" and f["seconds"] < PREFECTURE_TARGET_S
                  and f["process_peak_rss_mib"] < PREFECTURE_TARGET_MIB)
            row["target"] = f"1% in < {PREFECTURE_TARGET_S:g} s and < 4 GiB: {'met' if ok else 'missed'}"
        report.rows.append(row)
    by_region: dict[str, dict[str, float]] = {}
    for row in report.rows:
        if row["status"] == "optimal":
            by_region.setdefault(row["region"], {})[row["solver"]] = row["total_s"]
    for region, times in by_region.items():
        if len(times) > 1:
            fastest = min(times, key=times.__getitem__)
            listed = ", ".join(f"{solver} {seconds:.2f} s" for solver, seconds in times.items())
            report.notes.append(f"{region}: fastest solver {fastest} ({listed})")
    return report


# ---------------------------------------------------------------- budgets

SWEEP_BUDGETS_YUAN = (5e6, 1e7, 2e7, 4e7, 6e7, 1e8, 1.8e8, 3e8)
SWEEP_QUICK_BUDGETS_YUAN = (2e7, 1.8e8)
SWEEP_TARGET_S = 20.0
TRAVEL_OBJECTIVE_TARGET_S = 60.0


def plan_budgets(args: argparse.Namespace) -> list[Job]:
    """The allocation MILP (1% MIP gap, HiGHS) on regions made by `generate-region`, one process per budget:
    objective gap on towns60 at each budget of a sweep, objective travel on towns100 at a low and a high one."""
    budgets = SWEEP_QUICK_BUDGETS_YUAN if args.quick else SWEEP_BUDGETS_YUAN
    cases = [("towns60", "gap", budget) for budget in budgets]
    cases += [("towns100", "travel", budget) for budget in SWEEP_QUICK_BUDGETS_YUAN]
    return [
        Job((region, objective, f"{budget:.3g}"), "highs", "optimize_region",
            {"region": region, "objective": objective, "solver": "highs", "time_limit_s": 120.0, "mip_gap": 0.01,
             "budget_yuan": budget}, 700.0)
        for region, objective, budget in cases if _wanted(region, args)
    ]


def report_budgets(results: Results, args: argparse.Namespace) -> Report:
    """Model size, build and solve time, status and gap per budget, against the targets: objective gap solved
    in under 20 s, objective travel in under 60 s and 4 GiB."""
    report = Report(notes=["model = build_problem + build_model; solve = solve_model (quality stage + cost stage); "
                           "gap: the quality stage's, by allocopt's definition (objective constant included)."])
    for (key, _tool), run in results.items():
        f = _figures(run)
        solve_s, peak_mib = f.get("solve_s"), f.get("process_peak_rss_mib")
        row: dict[str, Any] = {"region": key[0], "objective": key[1], "budget_yuan": key[2]}
        row.update({name: f.get(name) for name in ("demand", "sites", "variables", "constraints")})
        row.update(model_s=_sum(f.get("problem_s"), f.get("model_s")), solve_s=solve_s,
                   quality_stage_s=f.get("quality_stage_s"), cost_stage_s=f.get("later_stages_s"),
                   status=f.get("status", _outcome(run)), gap=f.get("gap"), objective_value=f.get("objective"),
                   cost_yuan=f.get("cost_yuan"), peak_mib=peak_mib)
        if key[1] == "travel" and isinstance(solve_s, int | float) and isinstance(peak_mib, int | float):
            met = solve_s < TRAVEL_OBJECTIVE_TARGET_S and peak_mib < PREFECTURE_TARGET_MIB
            row["target"] = (f"solve < {TRAVEL_OBJECTIVE_TARGET_S:g} s, peak < {PREFECTURE_TARGET_MIB:g} MiB: "
                             f"{'met' if met else 'missed'}")
        elif isinstance(solve_s, int | float):
            row["target"] = f"solve < {SWEEP_TARGET_S:g} s: {'met' if solve_s < SWEEP_TARGET_S else 'missed'}"
        report.rows.append(row)
    return report


def _sum(*values: Any) -> float | None:
    """The sum of figures, or None when one is missing."""
    return sum(values) if all(isinstance(v, int | float) for v in values) else None


# ---------------------------------------------------------------- orlib900


def plan_orlib900(args: argparse.Namespace) -> list[Job]:
    """pmed40 (n = 900, p = 90) to proven optimality; spopt too when installed."""
    limit = 1800.0
    jobs = [Job(("pmed40",), "allocopt", "orlib_pmedian",
                {"instance": "pmed40", "solver": args.solver, "time_limit_s": limit}, limit + 300)]
    if _has_spopt():
        jobs.append(Job(("pmed40",), "spopt", "locate_spopt",
                        {"instance": "pmed40", "model": "pmedian", "solver": args.solver, "time_limit_s": limit},
                        limit + 600))
    return [job for job in jobs if _wanted(job.key[0], args)]


def report_orlib900(results: Results, args: argparse.Namespace) -> Report:
    """Time to proven optimality and the optimum against the published one."""
    report = Report(notes=[f"solver: {args.solver}, relative gap 0; published optimum from optima.csv."])
    for key in _keys(results):
        ours, spopt = results.get((key, "allocopt")), results.get((key, "spopt"))
        o, s = _figures(ours), _figures(spopt)
        row = {"instance": key[0], "n": o.get("n"), "p": o.get("p"), "allocopt_s": _time(ours),
               "allocopt_status": o.get("status", _outcome(ours)), "allocopt_obj": o.get("objective"),
               "optimum": o.get("optimum"), "allocopt_mib": o.get("section_added_mib"),
               "spopt_s": _time(spopt), "spopt_status": s.get("status", _outcome(spopt)),
               "spopt_obj": s.get("objective"), "spopt_mib": s.get("section_added_mib"),
               "speedup": _ratio(s.get("seconds"), o.get("seconds"))}
        if o.get("status") == "optimal":
            row["optimum_matches"] = _close(o["objective"], o["optimum"])
            if not row["optimum_matches"]:
                report.failures.append(f"orlib900 {key[0]}: optimum {o['objective']} != published {o['optimum']}")
        report.rows.append(row)
    return report


# ---------------------------------------------------------------- exact


EXACT_TARGET_S = 60.0
EXACT_TARGET_MIB = 2048.0


def plan_exact(args: argparse.Namespace) -> list[Job]:
    """Every instance of OR-Library pmed and pmedcap and of the Lorena-Senne SJC set to proven optimality, one
    at a time (long: up to 10 minutes each; `--instances` picks instances or sets, e.g. `pmedcap,SJC4a`).
    pmed and pmedcap have whole costs and are solved at gap 0; SJC's real distances at HiGHS's 1e-4."""
    from instances import EXACT_SETS

    limit = 600.0
    jobs = []
    for group, names in EXACT_SETS.items():
        for name in names:
            if not args.instances or group in args.instances or name in args.instances:
                params = {"instance": name, "solver": args.solver, "time_limit_s": limit,
                          "mip_gap": None if group == "sjc" else 0.0}
                jobs.append(Job((group, name), "allocopt", "exact_pmedian", params, limit + 300))
    return jobs


def report_exact(results: Results, args: argparse.Namespace) -> Report:
    """Time and memory to proven optimality, the optimum against the published one, and the targets."""
    report = Report(notes=[f"solver: {args.solver}; targets: under {EXACT_TARGET_S:g} s and {EXACT_TARGET_MIB:g} MiB "
                           "per instance; SJC optima match when within HiGHS's 1e-4 relative gap."])
    for key in _keys(results):
        run = results.get((key, "allocopt"))
        o = _figures(run)
        row = {"set": key[0], "instance": key[1], "n": o.get("n"), "p": o.get("p"), "seconds": _time(run),
               "build_s": o.get("build_s"), "status": o.get("status", _outcome(run)), "objective": o.get("objective"),
               "optimum": o.get("optimum"), "added_mib": o.get("section_added_mib"),
               "peak_mib": o.get("process_peak_rss_mib"), "load_1min": o.get("load_avg_1min")}
        if o.get("status") == "optimal":
            tolerance = 1e-4 * abs(o["optimum"]) if key[0] == "sjc" else 1e-6
            row["optimum_matches"] = abs(o["objective"] - o["optimum"]) <= tolerance + 0.005
            if not row["optimum_matches"]:
                report.failures.append(f"exact {key[1]}: optimum {o['objective']} != published {o['optimum']}")
        row["target_met"] = (o.get("status") == "optimal" and o.get("seconds", math.inf) < EXACT_TARGET_S
                             and o.get("process_peak_rss_mib", math.inf) < EXACT_TARGET_MIB)
        report.rows.append(row)
    return report


# ---------------------------------------------------------------- years

YEARS_TARGET_S = 30.0
YEARS_PREFECTURE_TARGET_S = 600.0
YEARS_PREFECTURE_TARGET_MIB = 8192.0
YEARS_HORIZONS = (1, 2, 3, 5)


def plan_years(args: argparse.Namespace) -> list[Job]:
    """The multi-year MILP on valley-county (HiGHS, MIP gap 1e-4) over 1, 2, 3 and 5 years from 2026, with the
    default [years] settings and a yearly budget of 8 M capital and 3-11 M running cost; the generated prefecture
    over five years at a 1% gap, its scenario's budget every year (benchmarks/README.md)."""
    horizons = (1, 5) if args.quick else YEARS_HORIZONS
    jobs = [Job(("county", f"{count}y"), "highs", "optimize_years_region",
                {"region": "valley-county", "years": count, "time_limit_s": 300.0}, 600.0)
            for count in horizons if _wanted("county", args)]
    if not args.quick and _wanted("prefecture", args):
        jobs.append(Job(("prefecture", "5y"), "highs", "optimize_years_region",
                        {"region": "prefecture", "years": 5, "time_limit_s": YEARS_PREFECTURE_TARGET_S,
                         "mip_gap": 0.01}, YEARS_PREFECTURE_TARGET_S + 600))
    return jobs


def report_years(results: Results, args: argparse.Namespace) -> Report:
    """Model size, build and solve time per horizon, against the target: five years optimal in under 30 s."""
    report = Report(notes=["model = year problems + build_years_model; solve = solve_model (gap stage + cost "
                           "stage); status and gap by allocopt's definition (MIP gap 1e-4 on the county, 1% on the "
                           "prefecture)."])
    for (key, _tool), run in results.items():
        f = _figures(run)
        row: dict[str, Any] = {"region": key[0], "years": key[1]}
        row.update({name: f.get(name) for name in ("variables", "integers", "constraints", "nonzeros", "model_s",
                                                    "solve_s", "status", "gap")})
        row["peak_mib"] = f.get("process_peak_rss_mib")
        if key == ("county", "5y") and isinstance(f.get("solve_s"), int | float):
            met = f["status"] == "optimal" and f["model_s"] + f["solve_s"] < YEARS_TARGET_S
            row["target"] = f"optimal in < {YEARS_TARGET_S:g} s: {'met' if met else 'missed'}"
        if key[0] == "prefecture" and isinstance(f.get("solve_s"), int | float):
            met = (f["status"] == "optimal" and f["model_s"] + f["solve_s"] < YEARS_PREFECTURE_TARGET_S
                   and f["process_peak_rss_mib"] < YEARS_PREFECTURE_TARGET_MIB)
            row["target"] = (f"1% in < {YEARS_PREFECTURE_TARGET_S:g} s and < 8 GiB: {'met' if met else 'missed'}")
        report.rows.append(row)
    return report


BENCHMARKS: dict[str, Benchmark] = {
    b.name: b
    for b in (
        Benchmark("travel", "travel-time matrix: allocopt vs networkx vs one bare scipy Dijkstra call",
                  plan_travel, report_travel),
        Benchmark("locate", "p-median and MCLP vs spopt on SF and OR-Library pmed1..10, same solver",
                  plan_locate, report_locate),
        Benchmark("optimize", "allocation MILP on county / prefecture / large regions, both solvers",
                  plan_optimize, report_optimize),
        Benchmark("budgets", "allocation MILP on regions as generate-region makes them, gap at each budget of a sweep, "
                  "travel at two",
                  plan_budgets, report_budgets),
        Benchmark("years", "multi-year MILP on valley-county over 1 to 5 years: size, build and solve time",
                  plan_years, report_years),
        Benchmark("orlib900", "p-median on pmed40 (n=900, p=90) to proven optimality", plan_orlib900,
                  report_orlib900),
        Benchmark("exact", "p-median and capacitated p-median to proven optimality on every pmed, pmedcap and SJC "
                  "instance (long)", plan_exact, report_exact),
    )
}
QUICK = ("travel", "locate", "optimize", "budgets", "years")
LONG = ("exact",)
"""Left out of a run that names no benchmark: run them by name."""


# ---------------------------------------------------------------- helpers


def _has_spopt() -> bool:
    return importlib.util.find_spec("spopt") is not None


def _nodes_label(nodes: int) -> str:
    return f"{nodes:.0e}".replace("+0", "") + "-nodes"


def _filtered(items: Sequence[Any], args: argparse.Namespace, *, label: Callable[[Any], str] = str) -> list[Any]:
    return [item for item in items if _wanted(label(item), args)]


def _wanted(label: str, args: argparse.Namespace) -> bool:
    """True when no --instances filter is given or `label` is one of it."""
    return not args.instances or label in args.instances


def _keys(results: Results) -> list[tuple[str, ...]]:
    """Row keys in first-seen order."""
    return list(dict.fromkeys(key for key, _tool in results))


def _figures(run: CaseRun | None) -> dict[str, Any]:
    return run.figures if run is not None and run.outcome == "ok" else {}


def _outcome(run: CaseRun | None) -> str:
    return "skipped" if run is None else run.outcome


def _time(run: CaseRun | None) -> float | str | None:
    """The case's measured seconds, or why there are none."""
    if run is None:
        return None
    return run.figures.get("seconds") if run.outcome == "ok" else run.outcome


def _ratio(numerator: Any, denominator: Any) -> float | None:
    if not isinstance(numerator, int | float) or not isinstance(denominator, int | float) or denominator <= 0:
        return None
    return numerator / denominator


def _close(a: float | None, b: float | None) -> bool:
    return a is not None and b is not None and abs(a - b) <= OBJECTIVE_RTOL * max(1.0, abs(a), abs(b))


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "NO"
    if isinstance(value, float):
        return f"{value:.4g}" if abs(value) < 1e5 else f"{value:,.0f}"
    return str(value)


def print_table(title: str, rows: list[dict[str, Any]]) -> None:
    """Rows as an aligned plain-text table under `title`."""
    print(f"\n== {title}")
    if not rows:
        print("(no rows)")
        return
    columns = list(dict.fromkeys(column for row in rows for column in row))
    cells = [[_cell(row.get(column)) for column in columns] for row in rows]
    widths = [max(len(column), *(len(r[i]) for r in cells)) for i, column in enumerate(columns)]
    print("  ".join(column.rjust(width) for column, width in zip(columns, widths, strict=True)))
    for r in cells:
        print("  ".join(cell.rjust(width) for cell, width in zip(r, widths, strict=True)))


def machine() -> dict[str, Any]:
    """The facts the figures depend on: CPUs, memory, CPU model, Python and library versions."""
    def version(package: str) -> str | None:
        try:
            return importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            return None

    cpu = next((line.split(":", 1)[1].strip() for line in _read("/proc/cpuinfo").splitlines()
                if line.startswith("model name")), platform.processor())
    mem_kib = next((int(line.split()[1]) for line in _read("/proc/meminfo").splitlines()
                    if line.startswith("MemTotal:")), 0)
    return {"nproc": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
            "memory_gib": round(mem_kib / 1024**2, 1), "cpu": cpu, "platform": platform.platform(),
            "python": platform.python_version(),
            "versions": {"allocopt": _source_version(),
                         **{p: version(p) for p in ("pulp", "highspy", "scipy", "numpy", "networkx", "geopandas",
                                                    "shapely", "pandas", "spopt")}}}


def _source_version() -> str | None:
    """allocopt's __version__ in the source tree the cases import (src/ comes first on their PYTHONPATH)."""
    found = re.search(r'^__version__ = "([^"]+)"', _read(str(HERE.parent / "src" / "allocopt" / "__init__.py")),
                      re.MULTILINE)
    return found.group(1) if found else None


def _read(path: str) -> str:
    try:
        return Path(path).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("benchmarks", nargs="*", metavar="NAME", help=f"which to run: {', '.join(BENCHMARKS)}")
    parser.add_argument("--quick", action="store_true", help=f"small sizes of {', '.join(QUICK)} (a few minutes)")
    parser.add_argument("--list", action="store_true", help="list the benchmarks and their cases, run nothing")
    parser.add_argument("--instances", type=lambda text: [t for t in text.split(",") if t],
                        default=[], help="comma-separated row labels to keep (e.g. sf,pmed1 or county or 1e4-nodes)")
    parser.add_argument("--solver", choices=("highs", "cbc"), default="highs",
                        help="solver of locate and orlib900, the same for allocopt and spopt (default highs)")
    parser.add_argument("--json", type=Path, default=DEFAULT_JSON,
                        help=f"where to write figures (default {DEFAULT_JSON})")
    args = parser.parse_args(argv)
    unknown = [name for name in args.benchmarks if name not in BENCHMARKS]
    if unknown:
        parser.error(f"unknown benchmark(s) {', '.join(unknown)}; choose from {', '.join(BENCHMARKS)}")
    if not args.benchmarks:
        args.benchmarks = list(QUICK if args.quick else (name for name in BENCHMARKS if name not in LONG))
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if args.list:
        for name in args.benchmarks:
            bench = BENCHMARKS[name]
            print(f"{name}: {bench.summary}")
            for job in bench.plan(args):
                print(f"    {'/'.join(job.key)}  {job.tool}  (limit {job.timeout_s:g} s)")
        return 0
    output = _previous(args.json)
    output["machine"] = machine()
    failures: list[str] = []
    for name in args.benchmarks:
        bench = BENCHMARKS[name]
        started = datetime.now(UTC).isoformat(timespec="seconds")
        results: Results = {}
        for job in bench.plan(args):
            print(f"[{name}] {'/'.join(job.key)} {job.tool} ...", end=" ", flush=True)
            run = run_case(job.case, job.params, timeout_s=job.timeout_s)
            results[job.key, job.tool] = run
            print(f"{run.outcome} ({run.wall_s:.1f} s){': ' + run.message if run.message else ''}", flush=True)
        report = bench.report(results, args)
        print_table(f"{name}: {bench.summary}", report.rows)
        for note in [*report.notes, MEMORY_NOTE]:
            print(f"   note: {note}")
        for failure in report.failures:
            print(f"   MISMATCH: {failure}")
        failures += report.failures
        output["benchmarks"][name] = {
            "started": started, "finished": datetime.now(UTC).isoformat(timespec="seconds"), "argv": sys.argv[1:],
            "load_avg": os.getloadavg(), "rows": report.rows, "notes": [*report.notes, MEMORY_NOTE],
            "failures": report.failures,
            "cases": [{"key": list(key), "tool": tool, "outcome": run.outcome, "message": run.message,
                       "wall_s": run.wall_s, "figures": run.figures} for (key, tool), run in results.items()],
        }
        _write_json(output, args.json)
    print(f"\nfigures written to {args.json}")
    return 1 if failures else 0


def _previous(path: Path) -> dict[str, Any]:
    """The figures file so far: benchmarks not run this time keep their last figures (each entry says when)."""
    try:
        previous = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        previous = {}
    benchmarks = previous.get("benchmarks") if isinstance(previous, dict) else None
    return {"benchmarks": benchmarks if isinstance(benchmarks, dict) else {}}


def _write_json(output: dict[str, Any], path: Path) -> None:
    """Write the figures so far (after each benchmark, so a long run that is stopped keeps what it measured)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temp = path.with_suffix(".tmp")
    temp.write_text(json.dumps(output, indent=1, default=str) + "\n", encoding="utf-8")
    temp.replace(path)


if __name__ == "__main__":
    sys.exit(main())
