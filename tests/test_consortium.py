"""Consortium design: brute force on tiny cases, a hand-made case, infeasibility messages, the region wrapper."""

from __future__ import annotations

import itertools
import json
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pytest

from allocopt.consortium import design_consortium, design_links, referral_lines, site_hospital_matrix
from allocopt.errors import DataError, InfeasibleError
from allocopt.network import build_network
from allocopt.tiers import TiersSettings

INF = np.inf


def _brute_force(load: np.ndarray, minutes: np.ndarray, capacity: np.ndarray, *, max_minutes: float | None,
                 fixed: np.ndarray | None = None) -> float | None:
    """Least load-weighted minutes over every assignment of sites to hospitals (None: no assignment fits)."""
    best = None
    n_sites, n_hospitals = minutes.shape
    for leads in itertools.product(range(n_hospitals), repeat=n_sites):
        if fixed is not None and any(f >= 0 and f != h for f, h in zip(fixed, leads, strict=True)):
            continue
        trips = minutes[np.arange(n_sites), leads]
        if not np.isfinite(trips).all() or (max_minutes is not None and (trips > max_minutes).any()):
            continue
        if (capacity[list(leads)] <= 0).any():
            continue
        used = np.bincount(leads, weights=load, minlength=n_hospitals)
        if (used > capacity + 1e-9).any():
            continue
        value = float((load * trips).sum())
        best = value if best is None else min(best, value)
    return best


def _random_case(seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, float | None]:
    rng = np.random.default_rng(seed)
    n_sites, n_hospitals = int(rng.integers(3, 5)), int(rng.integers(2, 4))
    load = np.where(rng.random(n_sites) < 0.2, 0.0, rng.integers(10, 100, n_sites).astype(float))
    minutes = rng.uniform(5, 60, (n_sites, n_hospitals)).round(1)
    minutes[rng.random((n_sites, n_hospitals)) < 0.1] = INF
    capacity = rng.integers(0, 200, n_hospitals).astype(float)
    capacity[rng.random(n_hospitals) < 0.2] = 0.0
    max_minutes = float(rng.uniform(30, 60)) if rng.random() < 0.5 else None
    return load, minutes, capacity, max_minutes


@pytest.mark.parametrize("seed", range(40))
def test_design_equals_brute_force_and_respects_capacity(seed: int) -> None:
    load, minutes, capacity, max_minutes = _random_case(seed)
    ids = [f"s{j}" for j in range(len(load))]
    hospitals = [f"h{k}" for k in range(len(capacity))]
    expected = _brute_force(load, minutes, capacity, max_minutes=max_minutes)
    if expected is None:
        with pytest.raises(InfeasibleError, match="no consortium design"):
            design_links(load, minutes, capacity, site_ids=ids, hospital_ids=hospitals, max_minutes=max_minutes)
        return
    design = design_links(load, minutes, capacity, site_ids=ids, hospital_ids=hospitals, max_minutes=max_minutes)
    lead = design.lead
    assert (lead >= 0).all()
    trips = minutes[np.arange(len(load)), lead]
    assert float((load * trips).sum()) == pytest.approx(expected, rel=1e-9, abs=1e-9)
    assert (np.bincount(lead, weights=load, minlength=len(capacity)) <= capacity + 1e-9).all()
    assert (capacity[lead] > 0).all()
    if max_minutes is not None:
        assert (trips <= max_minutes).all()


def test_random_cases_include_infeasible_and_capacity_bound_ones() -> None:
    verdicts = []
    for seed in range(40):
        load, minutes, capacity, max_minutes = _random_case(seed)
        best = _brute_force(load, minutes, capacity, max_minutes=max_minutes)
        nearest_fits = _brute_force(load, minutes, np.where(capacity > 0, np.inf, 0.0), max_minutes=max_minutes)
        verdicts.append("infeasible" if best is None else "bound" if best > nearest_fits + 1e-9 else "free")
    assert {"infeasible", "bound", "free"} <= set(verdicts)


# ---------------------------------------------------------------- a hand-made case
# Sites A (80 referrals a year), B (60), C (10); H1 takes 100, H2 1,000. Everyone is nearest to H1, which cannot
# take all 150: keeping A and C there costs 80 x 10 + 10 x 5 + 60 x 20 = 2,050 load-minutes, the least.
LOAD = np.array([80.0, 60.0, 10.0])
MINUTES = np.array([[10.0, 30.0], [12.0, 20.0], [5.0, 40.0]])
SITE_IDS, HOSPITAL_IDS = ["A", "B", "C"], ["H1", "H2"]


def test_hand_made_case() -> None:
    design = design_links(LOAD, MINUTES, np.array([100.0, 1000.0]), site_ids=SITE_IDS, hospital_ids=HOSPITAL_IDS)
    assert design.lead.tolist() == [0, 1, 0]
    assert design.status == "optimal"


def test_kept_links_use_capacity_first() -> None:
    # A kept at H2 (30 minutes): B and C fit at H1 (70 of 100).
    design = design_links(LOAD, MINUTES, np.array([100.0, 1000.0]), site_ids=SITE_IDS, hospital_ids=HOSPITAL_IDS,
                          fixed=np.array([1, -1, -1]))
    assert design.lead.tolist() == [1, 0, 0]


def test_a_site_beyond_the_limit_is_named_with_its_nearest_hospital() -> None:
    with pytest.raises(InfeasibleError) as caught:
        design_links(LOAD, MINUTES, np.array([100.0, 1000.0]), site_ids=SITE_IDS, hospital_ids=HOSPITAL_IDS,
                     max_minutes=8.0)
    message = str(caught.value)
    assert "A (nearest hospital H1, 10.0 minutes), B (nearest hospital H1, 12.0 minutes)" in message
    assert "C (" not in message and "max_referral_minutes = 8" in message


def test_too_little_capacity_gives_both_numbers() -> None:
    with pytest.raises(InfeasibleError, match="refer 150 visits a year but the hospitals take at most 140"):
        design_links(LOAD, MINUTES, np.array([100.0, 40.0]), site_ids=SITE_IDS, hospital_ids=HOSPITAL_IDS)


def test_capacity_enough_in_total_but_not_in_whole_sites() -> None:
    # 80 + 60 + 30 = 170 = 100 + 70, but no split of whole sites fits.
    with pytest.raises(InfeasibleError, match="cannot be split among the hospitals"):
        design_links(np.array([80.0, 60.0, 30.0]), MINUTES, np.array([100.0, 70.0]), site_ids=SITE_IDS,
                     hospital_ids=HOSPITAL_IDS)


def test_a_hospital_without_beds_takes_nothing() -> None:
    design = design_links(LOAD, MINUTES, np.array([0.0, 1000.0]), site_ids=SITE_IDS, hospital_ids=HOSPITAL_IDS)
    assert design.lead.tolist() == [1, 1, 1]


# ---------------------------------------------------------------- the region wrapper


@dataclass(frozen=True)
class _Matrix:
    origin_ids: tuple[str, ...]
    destination_ids: tuple[str, ...]
    minutes: np.ndarray


def _tiny_site_matrix(region) -> _Matrix:
    sites = region.sites
    hospital = sites[sites["level"] == "county_hospital"]
    dx = sites.geometry.x.to_numpy()[:, None] - hospital.geometry.x.to_numpy()[None, :]
    dy = sites.geometry.y.to_numpy()[:, None] - hospital.geometry.y.to_numpy()[None, :]
    return _Matrix(tuple(sites["id"]), tuple(hospital["id"]), 3.0 + np.hypot(dx, dy) / 1000.0 * 2.0)


REDESIGN = TiersSettings(fix_existing_links=False)
"""Links redesigned (the consortium what-if); kept links are the default of [tiers]."""


def test_tiny_region_design_by_hand(tiny_region) -> None:
    matrix = _tiny_site_matrix(tiny_region)
    result = design_consortium(tiny_region, matrix, REDESIGN)
    links = result.links.set_index("site_id")
    # 7% of today's capacity: township centers at least 32,500 visits; V01 and V02 have a GP (4,000 > 2,600).
    assert links.index.tolist() == ["T01", "T02", "T03", "V01", "V02"]
    assert links["load_visits"].tolist() == pytest.approx([2275.0, 2275.0, 2275.0, 280.0, 280.0])
    assert set(links["lead_hospital_id"]) == {"H01"} and set(links["lead_hospital_id_before"]) == {"H01"}
    hospital = result.hospitals.iloc[0]
    assert (hospital["capacity_visits"], hospital["load_visits"], hospital["linked_sites"]) == (32_000.0, 7385.0, 5)
    assert result.mean_referral_minutes_after == pytest.approx(result.mean_referral_minutes_before)
    json.dumps(result.to_dict(), allow_nan=False)
    with pytest.raises(InfeasibleError, match="refer 7,385 visits a year but the hospitals take at most 3,200"):
        design_consortium(tiny_region, matrix,
                          TiersSettings(referral_visits_per_bed_per_year=10, fix_existing_links=False))
    # Straight-line minutes to H01: T01 16.1, T02 18.3, T03 13.1, V01 21.7, V02 20.4.
    with pytest.raises(InfeasibleError, match=r"V01 \(nearest hospital H01, 21.7 minutes\), V02 .* = 20;") as caught:
        design_consortium(tiny_region, matrix, REDESIGN, max_referral_minutes=20)
    assert "T0" not in str(caught.value)


def test_site_matrix_over_the_roads_and_referral_lines(tiny_region) -> None:
    network = build_network(tiny_region.roads, speeds_kmh=tiny_region.speeds_kmh)
    matrix = site_hospital_matrix(tiny_region, network)
    assert matrix.origin_ids == tuple(tiny_region.sites["id"]) and matrix.destination_ids == ("H01",)
    assert matrix.minutes.shape == (8, 1) and np.isfinite(matrix.minutes).all()
    result = design_consortium(tiny_region, matrix, TiersSettings())
    links = pd.concat([result.links, pd.DataFrame({"site_id": ["C01"], "lead_hospital_id": [""]})],
                      ignore_index=True)
    layer = referral_lines(tiny_region.sites, links, site_column="site_id", hospital_column="lead_hospital_id")
    assert layer.crs == tiny_region.crs
    points = tiny_region.sites.set_index("id").geometry
    first = layer.iloc[0]
    assert list(first.geometry.coords) == [points[first["site_id"]].coords[0], points["H01"].coords[0]]
    assert layer.geometry.iloc[-1].is_empty
    with pytest.raises(DataError, match="site id\\(s\\) X9 are not among the region's sites"):
        referral_lines(tiny_region.sites, pd.DataFrame({"a": ["X9"], "b": ["H01"]}), site_column="a",
                       hospital_column="b")
