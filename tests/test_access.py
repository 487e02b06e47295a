"""Baseline access: a hand-computed region, unreachable demand, input checks and invariants on random regions."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from allocopt.access import AccessReport, compute_access, gp_2sfca, weighted_gini
from allocopt.errors import DataError, ScenarioError
from allocopt.scenario import scenario_from_dict
from allocopt.services import LEVELS, SERVICES, providers
from allocopt.travel import TravelMatrix

INF = math.inf


@dataclass(frozen=True)
class FakeRegion:
    """The attributes of a Region that access reads."""

    name: str
    townships: pd.DataFrame
    demand: pd.DataFrame
    sites: pd.DataFrame


def _sites(rows: list[dict[str, object]]) -> pd.DataFrame:
    defaults: dict[str, object] = {
        "name": "", "kind": "existing", "gps": 0, "beds": 0, "ct": 0, "dr": 0, "ultrasound": 0, "cath_lab": 0,
        "ecg": 0, "chest_pain_center": False, "stroke_center": False, "trauma_center": False, "consortium_lead": "",
        "open_cost_yuan": 0.0,
    }
    return pd.DataFrame([{**defaults, **row} for row in rows])


def _matrix(demand: pd.DataFrame, sites: pd.DataFrame, minutes: list[list[float]]) -> TravelMatrix:
    array = np.array(minutes, dtype=float)
    unreachable = tuple(i for i, row in zip(demand["id"], array, strict=True) if np.isinf(row).all())
    return TravelMatrix(tuple(demand["id"]), tuple(sites["id"]), array, unreachable)


# Hand case. Townships T1 (d1, d2) and T2 (d3); sites s1 village clinic (2 GPs, T1), s2 township health
# center (3 GPs, CT, DR, T2), s3 county hospital (no GP, CT, cath lab, chest pain and stroke centers, T2),
# c4 a candidate next to everyone with everything, which must count for nothing.
TOWNSHIPS = pd.DataFrame({"code": ["T1", "T2"], "name": ["East", "West"],
                          "population": [40_000.0, 20_000.0], "population_65plus": [np.nan, np.nan]})
DEMAND = pd.DataFrame({"id": ["d1", "d2", "d3"], "township_code": ["T1", "T1", "T2"],
                       "population": [10_000.0, 30_000.0, 20_000.0]})
SITES = _sites([
    {"id": "s1", "level": "village_clinic", "gps": 2, "township_code": "T1"},
    {"id": "s2", "level": "township_hc", "gps": 3, "ct": 1, "dr": 1, "township_code": "T2"},
    {"id": "s3", "level": "county_hospital", "ct": 1, "cath_lab": 1, "chest_pain_center": True,
     "stroke_center": True, "township_code": "T2"},
    {"id": "c4", "kind": "candidate", "level": "township_hc", "gps": 5, "ct": 1, "dr": 1, "ultrasound": 1,
     "cath_lab": 1, "chest_pain_center": True, "stroke_center": True, "trauma_center": True,
     "township_code": "T1", "open_cost_yuan": 1e6},
])
MINUTES = [
    # s1   s2   s3   c4
    [5.0, 20.0, 50.0, 1.0],  # d1
    [16.0, 18.0, INF, 1.0],  # d2
    [INF, 8.0, 25.0, 1.0],  # d3
]
# Thresholds: primary care 15, DR/ultrasound 30, others 60. The hand figures were worked out for 3 GPs per 10k and
# equipment weights of 0.5 for CT and cath lab, none for ECG (the defaults give 3.93, 0 and 0.5).
LEGACY = {"targets": {"gp_per_10k": 3.0}, "weights": {"ct": 0.5, "cath_lab": 0.5, "ecg": 0.0}}
SCENARIO = scenario_from_dict(LEGACY)


def _hand_report(**options: object) -> AccessReport:
    region = FakeRegion("hand", TOWNSHIPS, DEMAND, SITES)
    return compute_access(region, _matrix(DEMAND, SITES, MINUTES), SCENARIO, **options)  # type: ignore[arg-type]


def test_nearest_minutes_per_level_and_service_ignore_candidates() -> None:
    demand = _hand_report().demand.set_index("id")
    assert demand["minutes_to_village_clinic"].tolist() == [5.0, 16.0, INF]
    assert demand["minutes_to_township_hc"].tolist() == [20.0, 18.0, 8.0]
    assert demand["minutes_to_county_hospital"].tolist() == [50.0, INF, 25.0]
    assert demand["minutes_to_community_hc"].tolist() == [INF, INF, INF]
    assert demand["minutes_to_tertiary_hospital"].tolist() == [INF, INF, INF]
    assert demand["minutes_to_primary_care"].tolist() == [5.0, 16.0, 8.0]
    assert demand["minutes_to_ct"].tolist() == [20.0, 18.0, 8.0]
    assert demand["minutes_to_cath_lab"].tolist() == [50.0, INF, 25.0]
    assert demand["minutes_to_ultrasound"].tolist() == [INF, INF, INF]
    assert demand["covered_primary_care"].tolist() == [True, False, True]  # 16 > 15
    assert demand["covered_dr"].tolist() == [True, True, True]
    assert demand["covered_cath_lab"].tolist() == [True, False, True]
    assert demand["covered_trauma"].tolist() == [False, False, False]


def test_service_figures_by_hand() -> None:
    services = _hand_report().services
    primary = services.loc["primary_care"]
    assert primary["threshold_minutes"] == 15.0
    assert primary["providers"] == 2
    assert primary["covered_population"] == 30_000.0
    assert primary["unserved_population"] == 30_000.0
    assert primary["covered_share"] == pytest.approx(0.5)
    assert primary["mean_minutes"] == pytest.approx((10_000 * 5 + 30_000 * 16 + 20_000 * 8) / 60_000)
    assert primary["worst_township"] == "T1"  # T1 covered 10,000 of 40,000; T2 all
    cath = services.loc["cath_lab"]
    assert cath["covered_population"] == 30_000.0
    assert cath["unreachable_population"] == 30_000.0  # d2 reaches no cath lab: unserved and reported
    assert cath["mean_minutes"] == pytest.approx((10_000 * 50 + 20_000 * 25) / 30_000)
    ultrasound = services.loc["ultrasound"]
    assert ultrasound["covered_population"] == 0.0
    assert ultrasound["unserved_population"] == ultrasound["unreachable_population"] == 60_000.0
    assert math.isnan(ultrasound["mean_minutes"])
    assert ultrasound["worst_township"] == "T1"  # both at 0: the tie goes to the lower code
    assert list(services.index) == list(SERVICES)


def test_gini_by_hand() -> None:
    services = _hand_report().services
    # Weights 1:3:2. Primary care minutes 5, 16, 8 (all under the cap of 30): mean 11.5.
    pairs = 1 * 3 * 11 + 1 * 2 * 3 + 3 * 2 * 8
    assert services.loc["primary_care", "gini"] == pytest.approx(2 * pairs / (2 * 6**2 * 11.5))
    # Cath lab: 50, unreachable, 25; the unreachable point counts at the cap 2 x 60 = 120.
    mean = (50 + 3 * 120 + 2 * 25) / 6
    pairs = 1 * 3 * 70 + 1 * 2 * 25 + 3 * 2 * 95
    assert services.loc["cath_lab", "gini"] == pytest.approx(2 * pairs / (2 * 6**2 * mean))
    # Nobody reaches an ultrasound: everyone at the cap, perfectly (and uselessly) equal.
    assert services.loc["ultrasound", "gini"] == 0.0
    # A wider cap moves only the cath-lab figure: 3 x 60 = 180 for the unreachable point.
    wider = _hand_report(gini_cap_factor=3.0).services
    mean = (50 + 3 * 180 + 2 * 25) / 6
    pairs = 1 * 3 * 130 + 1 * 2 * 25 + 3 * 2 * 155
    assert wider.loc["cath_lab", "gini"] == pytest.approx(2 * pairs / (2 * 6**2 * mean))
    assert wider.loc["primary_care", "gini"] == services.loc["primary_care", "gini"]


def test_weighted_gini_known_values() -> None:
    assert weighted_gini(np.array([0.0, 10.0]), np.array([1.0, 1.0])) == pytest.approx(0.5)
    # Weights act as repetitions: (0, 10, 10, 10) has mean 7.5 and ordered-pair differences 2 * 3 * 10.
    assert weighted_gini(np.array([0.0, 10.0]), np.array([1.0, 3.0])) == pytest.approx(60 / (2 * 16 * 7.5))
    assert weighted_gini(np.array([4.0, 4.0, 4.0]), np.array([1.0, 2.0, 3.0])) == 0.0
    assert weighted_gini(np.array([0.0, 0.0]), np.array([1.0, 1.0])) == 0.0
    assert math.isnan(weighted_gini(np.array([3.0]), np.array([0.0])))


@settings(max_examples=50, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 100), st.integers(0, 5)), min_size=1, max_size=12))
def test_weighted_gini_matches_pairwise_definition(points: list[tuple[int, int]]) -> None:
    values = np.array([float(v) for v, _ in points])
    weights = np.array([float(w) for _, w in points])
    total, weighted_sum = weights.sum(), weights @ values
    if total == 0:
        assert math.isnan(weighted_gini(values, weights))
        return
    expected = 0.0 if weighted_sum == 0 else float(
        (np.outer(weights, weights) * np.abs(values[:, None] - values[None, :])).sum()
        / (2 * total * weighted_sum)
    )
    assert weighted_gini(values, weights) == pytest.approx(expected, abs=1e-12)


def test_township_gp_figures_by_hand() -> None:
    townships = _hand_report().townships.set_index("code")
    assert townships["population"].tolist() == [40_000.0, 20_000.0]
    assert townships["gps"].tolist() == [2.0, 3.0]  # the candidate's 5 GPs are not there yet
    assert townships["gp_per_10k"].tolist() == pytest.approx([0.5, 1.5])
    # Target 3 per 10k: T1 needs 12 GPs (has 2), T2 needs 6 (has 3).
    assert townships["gp_shortage"].tolist() == [10.0, 3.0]
    assert townships["gp_shortage_people"].tolist() == pytest.approx([40_000 - 2 * 10_000 / 3, 20_000 - 10_000])
    assert townships.loc["T1", "covered_population_primary_care"] == 10_000.0
    assert townships.loc["T1", "covered_share_primary_care"] == pytest.approx(0.25)
    assert townships.loc["T1", "mean_minutes_primary_care"] == pytest.approx((10_000 * 5 + 30_000 * 16) / 40_000)
    assert townships.loc["T2", "mean_minutes_primary_care"] == 8.0


def test_township_gap_share_and_summary_by_hand() -> None:
    report = _hand_report()
    townships = report.townships.set_index("code")
    # Default weights: 1 for primary care, the centers and the GP gap; 0.5 for each equipment type (sum 7).
    t1_gap = (30_000 + 30_000 + 30_000 + 40_000) + 0.5 * (40_000 + 30_000) + (40_000 - 20_000 / 3)
    t2_gap = 20_000 + 0.5 * 20_000 + 10_000
    assert townships["gap_share"].tolist() == pytest.approx([t1_gap / (7 * 40_000), t2_gap / (7 * 20_000)])
    assert report.worst_township == "T1"
    assert report.population == 60_000.0
    assert report.gps == 5.0
    assert report.gp_per_10k == pytest.approx(5 * 10_000 / 60_000)
    assert report.gp_target_per_10k == 3.0
    assert report.primary_care_mean_minutes == pytest.approx(11.5)
    assert report.covered_share["cath_lab"] == pytest.approx(0.5)
    assert report.covered_share["dr"] == 1.0


def test_2sfca_binary_by_hand() -> None:
    report = _hand_report()
    # d0 = 15. s1 (2 GPs) reaches d1 only: R = 2 / 10,000. s2 (3 GPs) reaches d3 only: R = 3 / 20,000.
    assert report.demand["gp_2sfca"].tolist() == pytest.approx([2.0, 0.0, 1.5])
    assert report.townships["gp_2sfca"].tolist() == pytest.approx([(10_000 * 2.0) / 40_000, 1.5])
    # d0 = 20: s1 reaches d1, d2 (40,000); s2 reaches all three (60,000): R1 = R2 = 0.5 per 10,000.
    wider = _hand_report(catchment_minutes=20.0)
    assert wider.catchment_minutes == 20.0
    assert wider.demand["gp_2sfca"].tolist() == pytest.approx([1.0, 1.0, 0.5])


def test_2sfca_gaussian_by_hand() -> None:
    def weight(t: float, d0: float = 20.0) -> float:
        return (math.exp(-0.5 * (t / d0) ** 2) - math.exp(-0.5)) / (1 - math.exp(-0.5))

    report = _hand_report(catchment="gaussian", catchment_minutes=20.0)
    r1 = 2 / (weight(5) * 10_000 + weight(16) * 30_000)
    r2 = 3 / (weight(20) * 10_000 + weight(18) * 30_000 + weight(8) * 20_000)  # weight(20) is 0
    expected = [10_000 * weight(5) * r1, 10_000 * (weight(16) * r1 + weight(18) * r2), 10_000 * weight(8) * r2]
    assert report.demand["gp_2sfca"].tolist() == pytest.approx(expected)
    assert (DEMAND["population"].to_numpy() @ report.demand["gp_2sfca"].to_numpy()) / 10_000 == pytest.approx(5.0)


def test_threshold_is_inclusive_and_scenario_targets_apply() -> None:
    scenario = scenario_from_dict({"thresholds_minutes": {"primary_care": 16.0}, "targets": {"gp_per_10k": 1.7}})
    region = FakeRegion("hand", TOWNSHIPS, DEMAND, SITES)
    report = compute_access(region, _matrix(DEMAND, SITES, MINUTES), scenario)
    assert report.demand["covered_primary_care"].tolist() == [True, True, True]  # d2 at exactly 16 minutes
    # The catchment follows the threshold: s1 now reaches d1 and d2 (40,000), s2 still d3 only.
    assert report.catchment_minutes == 16.0
    assert report.demand["gp_2sfca"].tolist() == pytest.approx([0.5, 0.5, 1.5])
    townships = report.townships.set_index("code")
    # 1.7 per 10k: T1 needs 6.8 GPs (has 2), T2 needs 3.4 (has 3); shortages round up to whole GPs.
    assert townships["gp_shortage"].tolist() == [5.0, 1.0]
    assert townships["gp_shortage_people"].tolist() == pytest.approx(
        [40_000 - 2 * 10_000 / 1.7, 20_000 - 3 * 10_000 / 1.7]
    )
    assert townships["gp_target_per_10k"].tolist() == [1.7, 1.7]


def test_unreachable_demand_point_is_kept_counted_and_reported() -> None:
    demand = pd.concat([DEMAND, pd.DataFrame({"id": ["d4"], "township_code": ["T2"], "population": [5_000.0]})],
                       ignore_index=True)
    minutes = [*MINUTES, [INF, INF, INF, INF]]
    matrix = _matrix(demand, SITES, minutes)
    assert matrix.unreachable_origins == ("d4",)
    report = compute_access(FakeRegion("hand", TOWNSHIPS, demand, SITES), matrix, SCENARIO)
    d4 = report.demand.set_index("id").loc["d4"]
    assert np.isinf(d4[[f"minutes_to_{s}" for s in SERVICES]].to_numpy(dtype=float)).all()
    assert not d4[[f"covered_{s}" for s in SERVICES]].any()
    assert d4["gp_2sfca"] == 0.0
    primary = report.services.loc["primary_care"]
    assert report.population == 65_000.0
    assert primary["unserved_population"] == 35_000.0
    assert primary["unreachable_population"] == 5_000.0
    assert primary["mean_minutes"] == pytest.approx(11.5)  # the mean is over those who reach a site
    assert report.townships.set_index("code").loc["T2", "covered_share_primary_care"] == pytest.approx(20 / 25)
    assert report.to_dict()["services"]["primary_care"]["unreachable_population"] == 5_000.0


def test_matrix_is_matched_by_id_not_position() -> None:
    rows, cols = [2, 0, 1], [3, 1, 0, 2]
    shuffled = np.array(MINUTES)[rows][:, cols]
    matrix = TravelMatrix(tuple(DEMAND["id"][rows]), tuple(SITES["id"][cols]), shuffled, ())
    report = compute_access(FakeRegion("hand", TOWNSHIPS, DEMAND, SITES), matrix, SCENARIO)
    pd.testing.assert_frame_equal(report.demand, _hand_report().demand)
    pd.testing.assert_frame_equal(report.townships, _hand_report().townships)


def test_input_problems_raise_named_errors() -> None:
    region = FakeRegion("hand", TOWNSHIPS, DEMAND, SITES)
    wrong_ids = TravelMatrix(("d1", "d2", "dX"), tuple(SITES["id"]), np.array(MINUTES), ())
    with pytest.raises(DataError, match=r"missing d3.*unexpected dX"):
        compute_access(region, wrong_ids, SCENARIO)
    nan = np.array(MINUTES)
    nan[0, 0] = np.nan
    with pytest.raises(DataError, match="NaN or negative"):
        compute_access(region, _matrix(DEMAND, SITES, nan.tolist()), SCENARIO)
    stray = DEMAND.assign(township_code=["T1", "T9", "T2"])
    with pytest.raises(DataError, match="township_code T9"):
        compute_access(FakeRegion("hand", TOWNSHIPS, stray, SITES), _matrix(stray, SITES, MINUTES), SCENARIO)
    with pytest.raises(DataError, match="sites: missing column"):
        compute_access(FakeRegion("hand", TOWNSHIPS, DEMAND, SITES.drop(columns="gps")),
                       _matrix(DEMAND, SITES, MINUTES), SCENARIO)
    with pytest.raises(ScenarioError, match="catchment"):
        compute_access(region, _matrix(DEMAND, SITES, MINUTES), SCENARIO, catchment="square")  # type: ignore[arg-type]
    with pytest.raises(ScenarioError, match="catchment_minutes"):
        compute_access(region, _matrix(DEMAND, SITES, MINUTES), SCENARIO, catchment_minutes=0.0)
    with pytest.raises(ScenarioError, match="gini_cap_factor"):
        compute_access(region, _matrix(DEMAND, SITES, MINUTES), SCENARIO, gini_cap_factor=math.inf)
    no_threshold = replace(SCENARIO, thresholds_minutes={"primary_care": 15.0})
    with pytest.raises(ScenarioError, match=r"thresholds_minutes\.chest_pain"):
        compute_access(region, _matrix(DEMAND, SITES, MINUTES), no_threshold)


def test_to_dict_is_strict_json_with_every_service() -> None:
    data = json.loads(json.dumps(_hand_report().to_dict(), allow_nan=False))
    assert data["region"] == "hand"
    assert data["population"] == 60_000.0
    assert data["gp_target_per_10k"] == 3.0
    assert set(data["services"]) == set(SERVICES)
    ultrasound = data["services"]["ultrasound"]
    assert ultrasound["mean_minutes"] is None
    assert ultrasound["unserved_population"] == 60_000.0
    assert set(ultrasound) >= {"threshold_minutes", "covered_population", "covered_share", "unserved_population",
                               "mean_minutes", "gini", "worst_township"}
    assert [t["code"] for t in data["townships"]] == ["T1", "T2"]
    assert data["townships"][0]["services"]["primary_care"]["covered_share"] == pytest.approx(0.25)
    assert data["townships"][0]["services"]["cath_lab"]["mean_minutes"] == 50.0


def _random_case(seed: int) -> tuple[FakeRegion, TravelMatrix]:
    rng = np.random.default_rng(seed)
    n_townships, n_demand, n_sites = rng.integers(1, 5), rng.integers(1, 40), rng.integers(1, 15)
    codes = [f"T{k}" for k in range(n_townships)]
    townships = pd.DataFrame({"code": codes, "name": codes})
    demand = pd.DataFrame({
        "id": [f"d{i}" for i in range(n_demand)],
        "township_code": rng.choice(codes, n_demand),
        "population": rng.integers(0, 5_000, n_demand).astype(float),
    })
    sites = _sites([
        {
            "id": f"s{j}", "kind": "existing" if rng.random() < 0.8 else "candidate",
            "level": rng.choice(LEVELS), "gps": int(rng.integers(0, 4)), "ct": int(rng.integers(0, 2)),
            "dr": int(rng.integers(0, 2)), "ultrasound": int(rng.integers(0, 2)),
            "cath_lab": int(rng.integers(0, 2)), "chest_pain_center": bool(rng.random() < 0.3),
            "stroke_center": bool(rng.random() < 0.3), "trauma_center": bool(rng.random() < 0.3),
            "township_code": rng.choice(codes),
        }
        for j in range(n_sites)
    ])
    minutes = rng.uniform(0, 90, (n_demand, n_sites))
    minutes[rng.random(minutes.shape) < 0.3] = np.inf
    return FakeRegion("random", townships, demand, sites), _matrix(demand, sites, minutes.tolist())


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 2**32 - 1))
def test_invariants_on_random_regions(seed: int) -> None:
    region, matrix = _random_case(seed)
    report = compute_access(region, matrix, SCENARIO)
    population = region.demand["population"].to_numpy()
    total = population.sum()
    assert report.population == pytest.approx(total)
    assert report.townships["population"].sum() == pytest.approx(total)
    for service in SERVICES:
        row = report.services.loc[service]
        assert row["covered_population"] + row["unserved_population"] == pytest.approx(total)
        assert report.townships[f"covered_population_{service}"].sum() == pytest.approx(row["covered_population"])
        assert row["unreachable_population"] <= row["unserved_population"] + 1e-9
        # Nearest minutes agree with a brute-force minimum over today's providers.
        has = providers(region.sites, service)
        brute = np.array([min([m for m, p in zip(r, has, strict=True) if p], default=INF)
                          for r in matrix.minutes])
        np.testing.assert_array_equal(report.demand[f"minutes_to_{service}"].to_numpy(), brute)
        gini = row["gini"]
        assert (math.isnan(gini) and total == 0) or 0.0 <= gini < 1.0
    # Every GP whose catchment holds residents is shared out in full across the population.
    existing = (region.sites["kind"] == "existing").to_numpy()
    gps = np.where(existing, region.sites["gps"].to_numpy(dtype=float), 0.0)
    in_reach = (matrix.minutes <= 15.0) & (population[:, None] > 0)
    assert population @ report.demand["gp_2sfca"].to_numpy() / 10_000 == pytest.approx(gps[in_reach.any(axis=0)].sum())
    assert report.gps == pytest.approx(gps.sum())
    assert (report.townships["gp_shortage_people"] >= 0).all()
    json.dumps(report.to_dict(), allow_nan=False)


def test_2sfca_ignores_sites_without_gps_and_empty_catchments() -> None:
    minutes = np.array([[5.0, 5.0, INF], [INF, INF, INF]])
    scores = gp_2sfca(minutes, np.array([100.0, 50.0]), np.array([0.0, 1.0, 4.0]), catchment_minutes=10.0)
    assert scores.tolist() == pytest.approx([100.0, 0.0])  # 1 GP for 100 residents; site 3 reaches nobody
