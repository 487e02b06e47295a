"""The real-data examples under examples/: each one command, run end to end, checked against known figures."""

from __future__ import annotations

import importlib.util
import itertools
import json
import os
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"
TIMEOUT_S = 600


def _run_example(name: str, out: Path) -> subprocess.CompletedProcess[str]:
    """`python examples/<name>/run.py --out OUT` with the checkout's src importable; fails the test on error."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT / "src"),
                                                                     os.environ.get("PYTHONPATH")]))}
    done = subprocess.run([sys.executable, str(EXAMPLES / name / "run.py"), "--out", str(out)], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=TIMEOUT_S)
    assert done.returncode == 0, done.stderr
    return done


def _example_module(name: str) -> ModuleType:
    """An example's run.py as a module, to recompute its figures independently of its outputs."""
    spec = importlib.util.spec_from_file_location(f"example_{name.replace('-', '_')}", EXAMPLES / name / "run.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


# ---------------------------------------------------------------------------------------------- San Francisco


@pytest.fixture(scope="module")
def sf(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    out = tmp_path_factory.mktemp("sf") / "out"
    _run_example("san-francisco", out)
    return _json(out / "summary.json")


@pytest.fixture(scope="module")
def sf_distances() -> pd.DataFrame:
    """Tract x store network metres, as spopt pivots them."""
    data = pd.read_csv(EXAMPLES / "san-francisco" / "data" /
                       "SF_network_distance_candidateStore_16_censusTract_205_new.csv")
    return data.pivot_table(values="distance", index="DestinationName", columns="name")


def test_sf_pmedian_matches_spopt(sf: dict[str, Any]) -> None:
    assert sf["pmedian"]["status"] == "optimal"
    assert sf["pmedian"]["mean_weighted_distance_m"] == pytest.approx(2982.1268579890657, rel=1e-9)
    assert sf["pmedian"]["sites"] == ["Store_11", "Store_12", "Store_15", "Store_2"]


def test_sf_mclp_matches_spopt(sf: dict[str, Any]) -> None:
    mclp = sf["mclp"]
    assert (mclp["covered_residents"], mclp["covered_tracts"], mclp["uncovered_tracts"]) == (875247, 184, 21)
    assert mclp["covered_share_of_tracts"] == pytest.approx(0.8975609756097561)


def test_sf_lscp_is_the_fewest_sites_by_brute_force(sf: dict[str, Any], sf_distances: pd.DataFrame) -> None:
    within = sf_distances.to_numpy() <= sf["lscp"]["radius_m"]
    stores = list(sf_distances.columns)
    chosen = [stores.index(s) for s in sf["lscp"]["sites"]]
    assert within[:, chosen].any(axis=1).all()
    fewest = next(k for k in range(1, len(stores) + 1)
                  if any(within[:, list(c)].any(axis=1).all() for c in itertools.combinations(range(len(stores)), k)))
    assert sf["lscp"]["sites_needed"] == fewest == 3


def test_sf_pcenter_is_the_least_largest_distance_by_brute_force(sf: dict[str, Any],
                                                                  sf_distances: pd.DataFrame) -> None:
    d = sf_distances.to_numpy()
    best = min(d[:, list(c)].min(axis=1).max() for c in itertools.combinations(range(d.shape[1]), 4))
    assert sf["pcenter"]["largest_distance_m"] == pytest.approx(best)


# ---------------------------------------------------------------------------------------------- Chicago ICU


@pytest.fixture(scope="module")
def chicago(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("chicago") / "out"
    _run_example("chicago-icu", out)
    return out


def test_chicago_reads_the_real_data(chicago: Path) -> None:
    data = _json(chicago / "summary.json")["data"]
    assert (data["hospitals"], data["tracts"]) == (66, 878)
    assert (data["over_50"], data["icu_beds"], data["ventilators"]) == (918903, 4660, 1508)


def test_chicago_plan_respects_budget_and_covers_more(chicago: Path) -> None:
    summary = _json(chicago / "summary.json")
    assumptions, before, after = summary["assumptions"], summary["before"], summary["after"]
    additions = pd.read_csv(chicago / "additions.csv", encoding="utf-8-sig")
    assert len(additions) == 66 and additions["hospital_id"].is_unique
    spent = (additions["icu_beds_added"] * assumptions["icu_bed_cost_usd"]
             + additions["ventilators_added"] * assumptions["ventilator_cost_usd"]).sum()
    assert spent == pytest.approx(after["cost_usd"]) and spent <= assumptions["budget_usd"]
    assert spent > 0.9 * assumptions["budget_usd"]  # capacity binds, so the budget buys coverage
    assert (additions["icu_beds_added"] <= assumptions["max_icu_beds_added_per_hospital"]).all()
    assert (additions["ventilators_added"] <= assumptions["max_ventilators_added_per_hospital"]).all()
    assert (additions["icu_beds_after"] == additions["icu_beds_before"] + additions["icu_beds_added"]).all()
    assert before["cost_usd"] == 0
    assert after["over_50_covered"] > before["over_50_covered"]
    # Nobody farther than the threshold from every hospital can be covered, whatever is bought.
    assert after["over_50_covered"] <= summary["data"]["over_50"] - summary["data"][
        "over_50_with_no_hospital_within_threshold"] + 1e-6


def test_chicago_tables_agree_with_the_summary(chicago: Path) -> None:
    summary = _json(chicago / "summary.json")
    tracts = pd.read_csv(chicago / "tracts.csv", encoding="utf-8-sig", dtype={"geoid": str})
    additions = pd.read_csv(chicago / "additions.csv", encoding="utf-8-sig")
    for stage in ("before", "after"):
        covered = float((tracts["over_50"] * tracts[f"covered_share_{stage}"]).sum())
        assert covered == pytest.approx(summary[stage]["over_50_covered"], rel=1e-5)
        # Covered residents are assigned within capacity: served = covered, each hospital within its units.
        served = additions[f"over_50_served_{stage}"]
        assert served.sum() == pytest.approx(covered, rel=1e-5)
        beds = additions["icu_beds_before" if stage == "before" else "icu_beds_after"]
        assert (served <= beds * summary["assumptions"]["over_50_per_icu_bed"] + 1).all()
    far = tracts["minutes_to_nearest_hospital"] > summary["assumptions"]["threshold_minutes"]
    assert (tracts.loc[far, ["covered_share_before", "covered_share_after"]] == 0).all().all()
    access = summary["access_2sfca_per_100k_over_50"]
    assert access["icu_beds_after"]["weighted_mean"] >= access["icu_beds_before"]["weighted_mean"]
    assert (tracts["icu_beds_after_per_100k_over_50"] >= tracts["icu_beds_before_per_100k_over_50"] - 1e-9).all()
    # 2SFCA conserves supply: the over-50-weighted scores add up to the beds of hospitals with anyone in reach.
    example = _example_module("chicago-icu")
    hospitals = example.load_hospitals()
    points = example.load_tracts(hospitals.crs)
    minutes = example.travel_minutes(points.geometry, hospitals.geometry)
    in_reach = ((minutes <= summary["assumptions"]["threshold_minutes"])
                & (points["over_50"].to_numpy() > 0)[:, None]).any(axis=0)
    total = float((tracts["over_50"] * tracts["icu_beds_before_per_100k_over_50"]).sum()) / 100_000
    assert total == pytest.approx(float(hospitals["icu_beds"][in_reach].sum()), rel=1e-6)
    assert in_reach.sum() < len(hospitals)  # some suburban hospitals are beyond 10 minutes of every tract


# ---------------------------------------------------------------------------------------------- Helsinki


@pytest.fixture(scope="module")
def helsinki(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("helsinki") / "out"
    _run_example("helsinki", out)
    return out


def test_helsinki_population_is_accounted_for(helsinki: Path) -> None:
    build = _json(helsinki / "region" / "build-report.json")
    assert build["population_read"] == 71724  # the whole grid
    assert build["population_read"] == pytest.approx(build["population_assigned"] + build["population_outside"])
    assert 0 < build["population_assigned"] < 0.1 * build["population_read"]  # the OSM extract is small
    assert build["counts"]["townships"] == 4
    assert build["counts"]["facilities"] == 6  # 3 clinics + 3 doctors' practices in the extract


def test_helsinki_plan_and_report_are_written(helsinki: Path) -> None:
    assert (helsinki / "plan" / "report.html").stat().st_size > 0
    summary = _json(helsinki / "plan" / "summary.json")
    assert summary["cost_yuan"] <= summary["budget_yuan"]
    assert summary["region_synthetic"] is False
    access = _json(helsinki / "access" / "access.json")
    assert access["population"] == pytest.approx(
        _json(helsinki / "region" / "build-report.json")["population_assigned"])
    allocations = pd.read_csv(helsinki / "plan" / "allocations.csv", encoding="utf-8-sig")
    assert set(allocations["resource"]) <= {"gp", "ultrasound", "dr"}
    assert np.isclose(allocations["cost_yuan"].sum(), summary["cost_yuan"])
