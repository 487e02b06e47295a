"""Reproducibility: the same inputs give the same result files; the summary records what the result depends on.

Two runs of `allocopt optimize` on the same region and scenario write byte-identical CSV files, GeoPackage layers
with identical contents (the file itself carries write timestamps) and the same summary.json except the wall-clock
`solver.seconds`. Where the optimum is unique HiGHS and CBC return the same plan. The summary holds the content
hashes of the region's files and of the scenario file, the resolved scenario, the solver's name and version and
allocopt's version, and the hashes change with the files.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyogrio
import pytest
from click.testing import CliRunner

import allocopt
from allocopt.cli import main
from allocopt.model import Problem
from allocopt.optimize import optimize_problem
from allocopt.plan import Plan
from allocopt.results import allocation_table, recompute_access, weighted_gap
from allocopt.scenario import scenario_from_dict
from allocopt.services import SERVICES

VARYING = {("solver", "seconds")}
"""summary.json fields that may differ between two runs of the same inputs (docs/results.md)."""


def run(out: Path, region: Path, *options: str, cache: Path) -> dict[str, Any]:
    result = CliRunner().invoke(main, ["optimize", str(region), "--out", str(out), "--format", "json",
                                       "--cache-dir", str(cache), *options])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert json.loads((out / "summary.json").read_text(encoding="utf-8")) == summary
    return summary


def without_varying(summary: dict[str, Any]) -> dict[str, Any]:
    copy = json.loads(json.dumps(summary))
    for section, key in VARYING:
        assert key in copy[section]
        del copy[section][key]
    return copy


def layers(path: Path) -> dict[str, pd.DataFrame]:
    """Each layer of a GeoPackage as a table, geometry as WKB bytes."""
    tables = {}
    for name in pyogrio.list_layers(path)[:, 0]:
        table = pyogrio.read_dataframe(path, layer=name)
        tables[name] = pd.DataFrame(table.drop(columns="geometry")).assign(geometry=table.geometry.to_wkb())
    return tables


@pytest.mark.parametrize(("solver", "tiers"), [("highs", False), ("cbc", False), ("highs", True)])
def test_two_runs_write_the_same_results(tiny_region_path: Path, tmp_path: Path, solver: str, tiers: bool) -> None:
    scenario = tmp_path / "scenario.toml"
    scenario.write_text("[budget]\ntotal_yuan = 4000000\n" + ("[tiers]\n" if tiers else ""), encoding="utf-8")
    options = ("--scenario", str(scenario), "--solver", solver)
    # the first run fills an empty travel-time cache, the second reads it
    first = run(tmp_path / "first", tiny_region_path, *options, cache=tmp_path / "cache")
    second = run(tmp_path / "second", tiny_region_path, *options, cache=tmp_path / "cache")
    assert first["status"] == "optimal" and first["allocations"]  # a plan that places something
    assert without_varying(first) == without_varying(second)
    files = ["allocations.csv", "townships.csv"]
    if tiers:
        files += ["referrals.csv", "referral_hospitals.csv", "first_contact.csv"]
    for name in files:
        assert (tmp_path / "first" / name).read_bytes() == (tmp_path / "second" / name).read_bytes(), name
    a, b = layers(tmp_path / "first" / "result.gpkg"), layers(tmp_path / "second" / "result.gpkg")
    assert sorted(a) == sorted(b) == sorted(["townships", "facilities", "demand", *(["referrals"] if tiers else [])])
    for name in a:
        pd.testing.assert_frame_equal(a[name], b[name], check_exact=True)


def test_summary_records_inputs_scenario_solver_and_version(tiny_region_path: Path, tmp_path: Path) -> None:
    region = tmp_path / "region"
    shutil.copytree(tiny_region_path, region)
    scenario = tmp_path / "scenario.toml"
    scenario.write_text("[budget]\ntotal_yuan = 2500000\n[thresholds_minutes]\nprimary_care = 20\n", encoding="utf-8")
    cache = tmp_path / "cache"
    before = run(tmp_path / "a", region, "--scenario", str(scenario), "--mip-gap", "0", cache=cache)
    inputs = before["inputs"]
    assert inputs["region_files"] == {
        name: hashlib.sha256((region / name).read_bytes()).hexdigest()
        for name in ("facilities.csv", "region.gpkg", "region.toml")}
    assert inputs["scenario_sha256"] == hashlib.sha256(scenario.read_bytes()).hexdigest()
    settings = before["scenario"]["settings"]
    assert before["scenario"]["source"] == str(scenario)
    assert settings["budget"] == {"total_yuan": 2_500_000.0}
    assert settings["thresholds_minutes"]["primary_care"] == 20.0  # from the file
    assert settings["thresholds_minutes"]["stroke"] == 60.0  # a default, resolved
    assert set(settings["weights"]) == {*SERVICES, "gp_shortage"}
    assert before["solver"]["name"] == "highs" and before["solver"]["version"].count(".") == 2
    assert before["allocopt_version"] == allocopt.__version__

    facilities = region / "facilities.csv"
    facilities.write_bytes(facilities.read_bytes() + b"\n")  # the same facilities, a different file
    scenario.write_text(scenario.read_text(encoding="utf-8") + "# reviewed\n", encoding="utf-8")
    after = run(tmp_path / "b", region, "--scenario", str(scenario), "--solver", "cbc", "--mip-gap", "0", cache=cache)
    changed = {name for name, digest in after["inputs"]["region_files"].items()
               if digest != inputs["region_files"][name]}
    assert changed == {"facilities.csv"}
    assert after["inputs"]["scenario_sha256"] == hashlib.sha256(scenario.read_bytes()).hexdigest()
    assert after["inputs"]["scenario_sha256"] != inputs["scenario_sha256"]
    assert after["solver"]["name"] == "cbc" and after["solver"]["version"] != "unknown"
    assert after["objective"] == pytest.approx(before["objective"], rel=1e-9)  # both optimal


# ---------------------------------------------------------------- a unique optimum, both solvers

# Five villages of distinct populations, two clinics without GPs, a candidate health center and a county hospital
# without CT; costs all distinct. The budget buys some but not all of the placements.
SITES = ("clinic-a", "clinic-b", "new-hc", "county")
KINDS = ("existing", "existing", "candidate", "existing")
LEVELS = ("village_clinic", "village_clinic", "township_hc", "county_hospital")
POPULATION = np.array([1_013.0, 2_029.0, 3_041.0, 4_057.0, 5_077.0])
MINUTES = np.array([
    [5.0, 40.0, 20.0, 50.0],
    [12.0, 30.0, 9.0, 45.0],
    [35.0, 8.0, 14.0, 35.0],
    [50.0, 13.0, 55.0, 25.0],
    [np.inf, 60.0, 7.0, 10.0],
])
SCENARIO = {
    "budget": {"total_yuan": 900_000.0},
    "costs": {"gp": {"capital_yuan": 50_000.0, "annual_yuan": 151_000.0}, "open_site": {"annual_yuan": 103_000.0},
              "equipment": {"ct": {"capital_yuan": 400_000.0, "annual_yuan": 37_000.0}}},
    "targets": {"gp_per_10k": 0.0},
    "thresholds_minutes": {"primary_care": 15.0, "ct": 30.0},
    "weights": {v: 0.0 for v in SERVICES} | {"primary_care": 1.0, "ct": 0.7, "gp_shortage": 0.0},
    "primary_care": {"provider": "gp"},  # GP sites are the first-contact points the brute force places
    "eligibility": {"gp": {"levels": ["village_clinic", "township_hc"], "max_per_site": 1, "max_per_level": {}},
                    "village_doctor": {"levels": []},
                    "equipment": {"ct": {"levels": ["county_hospital", "township_hc"], "max_per_site": 1},
                                  "dr": {"levels": []}, "ultrasound": {"levels": []}, "cath_lab": {"levels": []},
                                  "ecg": {"levels": []}},
                    "center": {s: {"levels": []} for s in ("chest_pain", "stroke", "trauma")}},
}


def unique_problem() -> Problem:
    return Problem.from_arrays(
        scenario=scenario_from_dict(SCENARIO), demand_ids=[f"v{i}" for i in range(len(POPULATION))],
        demand_population=POPULATION, demand_township=["t"] * len(POPULATION), township_ids=["t"],
        site_ids=SITES, site_kind=KINDS, site_level=LEVELS, minutes=MINUTES, site_township=["t"] * len(SITES),
        open_cost_yuan=[0.0, 0.0, 230_000.0, 0.0])


def all_plans(problem: Problem) -> list[tuple[float, Plan]]:
    """(weighted gap, plan) of every plan within budget: GPs at the clinics and the candidate, CT at the candidate
    and the county hospital, the candidate opened only when it receives something."""
    plans = []
    for gp_a, gp_b, gp_new, ct_new, ct_county in itertools.product((0, 1), repeat=5):
        plan = Plan.empty(problem)
        plan.added_gps[:3] = (gp_a, gp_b, gp_new)
        plan.added_equipment["ct"][2:] = (ct_new, ct_county)
        plan.opened[2] = bool(gp_new or ct_new)
        if allocation_table(problem, plan)["cost_yuan"].sum() > problem.scenario.budget.total_yuan:
            continue
        access = recompute_access(problem, plan, travel_cutoff_minutes=60.0)
        plans.append((weighted_gap(problem, access), plan))
    return sorted(plans, key=lambda item: item[0])


def test_highs_and_cbc_return_the_same_unique_optimum() -> None:
    problem = unique_problem()
    ranked = all_plans(problem)
    (best, plan), (second, _) = ranked[0], ranked[1]
    assert second - best > 100.0  # the optimum is unique, by a wide margin
    results = {solver: optimize_problem(problem, objective="gap", solver=solver, mip_gap=0.0)
               for solver in ("highs", "cbc")}
    expected = allocation_table(problem, plan)
    for solver, result in results.items():
        assert result.status == "optimal", solver
        assert result.objective == pytest.approx(best), solver
        pd.testing.assert_frame_equal(result.allocations[expected.columns], expected, check_exact=True)
    highs, cbc = results["highs"], results["cbc"]
    pd.testing.assert_frame_equal(highs.allocations, cbc.allocations, check_exact=True)  # what each row buys too
    for table in ("sites", "demand", "townships"):
        pd.testing.assert_frame_equal(getattr(highs, table), getattr(cbc, table), check_exact=True)
    highs_summary, cbc_summary = highs.to_summary(), cbc.to_summary()
    for summary in (highs_summary, cbc_summary):
        del summary["solver"], summary["best_bound"], summary["gap"], summary["stage_objectives"], summary["stage_gaps"]
    assert highs_summary == cbc_summary
