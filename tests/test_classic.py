"""Classic location models: spopt parity on San Francisco, OR-Library optima (pmed, pmedcap), brute force on small
matrices, both p-median formulations with and without reductions, dominated sites in the coverage models."""

from __future__ import annotations

import itertools
import json
import math
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp

from allocopt.costs import CostMatrix, read_costs_long, read_orlib_pmedcap, read_orlib_pmedian, read_weights
from allocopt.errors import InfeasibleError, ScenarioError, SolverError
from allocopt.model.classic import (
    LocateResult,
    _undominated,
    lscp,
    mclp,
    p_center,
    p_median,
)
from allocopt.solve import SOLVERS

DATA = Path(__file__).resolve().parent / "data"
BENCHMARKS = Path(__file__).resolve().parents[2] / "shared" / "benchmarks"


@pytest.fixture(scope="module")
def sf() -> tuple[CostMatrix, dict[str, float]]:
    """San Francisco: 205 tracts x 16 stores, network metres, POP2000 weights."""
    costs = read_costs_long(
        DATA / "sf" / "SF_network_distance_candidateStore_16_censusTract_205_new.csv",
        demand_column="DestinationName",
        site_column="name",
        cost_column="distance",
    )
    weights = read_weights(
        DATA / "sf" / "SF_demand_205_centroid_uniform_weight.csv",
        demand_ids=costs.demand_ids,
        id_column="NAME",
        weight_column="POP2000",
    )
    return costs, weights


# ---------------------------------------------------------------- reference results


@pytest.mark.parametrize("solver", SOLVERS)
def test_sf_p_median_matches_spopt(sf: tuple[CostMatrix, dict[str, float]], solver: str) -> None:
    costs, weights = sf
    result = p_median(costs, p=4, weights=weights, solver=solver, mip_gap=0.0)
    assert result.status == "optimal"
    assert set(result.sites) == {"Store_2", "Store_11", "Store_12", "Store_15"}
    assert result.objective is not None
    assert result.objective / sum(weights.values()) == pytest.approx(2982.1268579890657, rel=1e-6)
    assert set(result.assignment) == set(costs.demand_ids)
    assert set(result.assignment.values()) <= set(result.sites)


@pytest.mark.parametrize("solver", SOLVERS)
def test_sf_mclp_matches_spopt(sf: tuple[CostMatrix, dict[str, float]], solver: str) -> None:
    costs, weights = sf
    result = mclp(costs, p=4, radius=5000, weights=weights, solver=solver, mip_gap=0.0)
    assert result.status == "optimal"
    assert result.objective == 875_247
    assert len(result.covered) == 184
    assert sum(weights[i] for i in result.covered) == 875_247
    assert result.assignment == {}


@pytest.mark.parametrize(("name", "optimum"), [("pmed1", 5819), ("pmed2", 4093), ("pmed6", 7824)])
def test_orlib_optimum_between_lp_bound_and_heuristic(name: str, optimum: int) -> None:
    costs, p = read_orlib_pmedian(DATA / "orlib" / f"{name}.txt")
    result = p_median(costs, p=p, mip_gap=0.0)
    assert (result.status, result.formulation, result.objective) == ("optimal", "radius", optimum)
    assert len(result.sites) == p
    assert result.lp_bound is not None and result.heuristic_objective is not None
    assert result.lp_bound <= optimum + 1e-6 <= result.heuristic_objective + 2e-6
    assert result.gap == pytest.approx(0.0, abs=1e-9)
    recomputed = sum(costs.costs[i, column(costs, result.assignment[d])] for i, d in enumerate(costs.demand_ids))
    assert recomputed == optimum


def test_orlib_pmed2_full_formulations_share_the_lp_bound() -> None:
    # without reductions the radius and assignment LPs describe the same relaxation (4088.5 < 4093)
    costs, p = read_orlib_pmedian(DATA / "orlib" / "pmed2.txt")
    radius = p_median(costs, p=p, mip_gap=0.0, formulation="radius", reduce=False)
    assignment = p_median(costs, p=p, mip_gap=0.0, formulation="assignment", reduce=False)
    assert radius.objective == assignment.objective == 4093
    assert (radius.formulation, assignment.formulation) == ("radius", "assignment")
    assert radius.lp_bound == pytest.approx(4088.5, abs=1e-6)
    assert assignment.lp_bound == pytest.approx(4088.5, abs=1e-6)


@pytest.mark.slow
@pytest.mark.parametrize(("name", "optimum"), [("pmed16", 8162), ("pmed40", 5128)])
def test_orlib_large_optimum(name: str, optimum: int) -> None:
    path = BENCHMARKS / "orlib-pmed" / f"{name}.txt"
    if not path.exists():
        pytest.skip(f"{path} is not beside the repository")
    costs, p = read_orlib_pmedian(path)
    result = p_median(costs, p=p, mip_gap=0.0)
    assert (result.status, result.objective) == ("optimal", optimum)
    assert result.lp_bound is not None and result.lp_bound <= optimum + 1e-6


def test_pmedcap01_capacitated_optimum() -> None:
    instance = read_orlib_pmedcap(DATA / "orlib" / "pmedcap01.txt")
    assert (len(instance.costs.demand_ids), instance.p, instance.optimum) == (50, 5, 713)
    assert set(instance.capacities.values()) == {120} and sum(instance.demands.values()) == 490
    # customers 1 (2, 62) and 2 (80, 25): floor(sqrt(78^2 + 37^2)) = floor(86.33) = 86
    assert instance.costs.costs[0, 1] == 86
    result = p_median(
        instance.costs, p=instance.p, capacities=instance.capacities, demands=instance.demands, mip_gap=0.0
    )
    assert (result.status, result.formulation, result.objective) == ("optimal", "assignment", 713)
    load = dict.fromkeys(result.sites, 0.0)
    for d, s in result.assignment.items():
        load[s] += instance.demands[d]
    assert max(load.values()) <= 120
    assert result.lp_bound is not None and result.lp_bound <= 713 + 1e-6
    # a plan the reductions found on the way, if any, is no better than the optimum
    assert result.heuristic_objective is None or result.heuristic_objective >= 713
    # the capacities bind: unit demands without them reach a lower total
    free = p_median(instance.costs, p=instance.p, mip_gap=0.0)
    assert free.objective is not None and free.objective < 713


# ---------------------------------------------------------------- brute force


def random_matrix(seed: int, *, n: int = 7, m: int = 6) -> tuple[CostMatrix, dict[str, float]]:
    """Integer costs 1..30 with about one pair in six missing (inf); every demand keeps a finite pair."""
    rng = np.random.default_rng(seed)
    costs = rng.integers(1, 31, (n, m)).astype(float)
    costs[rng.random((n, m)) < 1 / 6] = np.inf
    costs[np.arange(n), rng.integers(0, m, n)] = rng.integers(1, 31, n)
    demand_ids = tuple(f"d{i}" for i in range(n))
    weights = {d: float(w) for d, w in zip(demand_ids, rng.integers(1, 10, n), strict=True)}
    return CostMatrix(demand_ids, tuple(f"s{j}" for j in range(m)), costs), weights


def subsets(costs: CostMatrix, p: int) -> list[tuple[int, ...]]:
    return list(itertools.combinations(range(len(costs.site_ids)), p))


def brute_p_median(costs: CostMatrix, w: np.ndarray, p: int) -> float:
    return min(float(np.sum(w * costs.costs[:, list(s)].min(axis=1))) for s in subsets(costs, p))


def brute_capacitated(costs: CostMatrix, w: np.ndarray, p: int, capacity: np.ndarray) -> float:
    best = math.inf
    for s in subsets(costs, p):
        for choice in itertools.product(s, repeat=len(w)):
            load = np.zeros(len(capacity))
            np.add.at(load, list(choice), w)
            if (load <= capacity).all():
                best = min(best, float(np.sum(w * costs.costs[np.arange(len(w)), list(choice)])))
    return best


def brute_mclp(costs: CostMatrix, w: np.ndarray, p: int, radius: float) -> float:
    return max(float(w[(costs.costs[:, list(s)] <= radius).any(axis=1)].sum()) for s in subsets(costs, p))


def brute_lscp(costs: CostMatrix, radius: float) -> int:
    for p in range(1, len(costs.site_ids) + 1):
        if any((costs.costs[:, list(s)] <= radius).any(axis=1).all() for s in subsets(costs, p)):
            return p
    raise AssertionError("no cover")


def brute_p_center(costs: CostMatrix, p: int) -> float:
    return min(float(costs.costs[:, list(s)].min(axis=1).max()) for s in subsets(costs, p))


def weight_array(costs: CostMatrix, weights: dict[str, float]) -> np.ndarray:
    return np.array([weights[d] for d in costs.demand_ids])


def column(costs: CostMatrix, site: str) -> int:
    return costs.site_ids.index(site)


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("p", [1, 2, 3])
def test_p_median_brute_force(seed: int, p: int) -> None:
    costs, weights = random_matrix(seed)
    w = weight_array(costs, weights)
    expected = brute_p_median(costs, w, p)
    if math.isinf(expected):
        with pytest.raises(InfeasibleError):
            p_median(costs, p=p, weights=weights)
        return
    result = p_median(costs, p=p, weights=weights, mip_gap=0.0)
    assert result.objective == pytest.approx(expected)
    assert len(result.sites) == p
    recomputed = sum(
        weights[d] * costs.costs[i, column(costs, result.assignment[d])] for i, d in enumerate(costs.demand_ids)
    )
    assert recomputed == pytest.approx(expected)


@pytest.mark.parametrize("seed", range(8))
@pytest.mark.parametrize("p", [1, 2, 3])
def test_formulations_and_reductions_agree_with_brute_force(seed: int, p: int) -> None:
    costs, weights = random_matrix(seed + 100)
    w = weight_array(costs, weights)
    expected = brute_p_median(costs, w, p)
    for formulation in ("radius", "assignment"):
        for reduce in (True, False):
            if math.isinf(expected):
                with pytest.raises(InfeasibleError):
                    p_median(costs, p=p, weights=weights, formulation=formulation, reduce=reduce)
                continue
            result = p_median(costs, p=p, weights=weights, formulation=formulation, reduce=reduce, mip_gap=0.0)
            assert result.formulation == formulation
            assert result.objective == pytest.approx(expected)
            assert result.lp_bound is not None and result.heuristic_objective is not None
            assert result.lp_bound <= expected + 1e-6
            assert result.heuristic_objective >= expected - 1e-6


def euclidean(seed: int, *, n: int, m: int) -> tuple[CostMatrix, dict[str, float]]:
    """Demand points and candidate sites in a 100 x 100 square, real distances, weights 1..20."""
    rng = np.random.default_rng(seed)
    demand, sites = rng.uniform(0, 100, (n, 2)), rng.uniform(0, 100, (m, 2))
    distances = np.sqrt(((demand[:, None, :] - sites[None, :, :]) ** 2).sum(axis=2))
    demand_ids = tuple(f"d{i}" for i in range(n))
    weights = dict(zip(demand_ids, rng.integers(1, 21, n).astype(float).tolist(), strict=True))
    return CostMatrix(demand_ids, tuple(f"s{j}" for j in range(m)), distances), weights


@pytest.mark.parametrize(("seed", "p"), [(1, 3), (2, 6), (3, 12)])
def test_radius_with_reductions_matches_full_assignment(seed: int, p: int) -> None:
    costs, weights = euclidean(seed, n=70, m=40)
    radius = p_median(costs, p=p, weights=weights, mip_gap=0.0)
    full = p_median(costs, p=p, weights=weights, mip_gap=0.0, formulation="assignment", reduce=False)
    assert radius.formulation == "radius"
    assert radius.objective == pytest.approx(full.objective, rel=1e-9)
    assert radius.lp_bound is not None and full.lp_bound is not None and radius.objective is not None
    # the reduced model's relaxation is at least as tight as the full one, and both stay below the optimum
    assert full.lp_bound <= radius.lp_bound + 1e-6 <= radius.objective + 2e-6


@pytest.mark.parametrize("seed", range(5))
def test_capacitated_p_median_brute_force(seed: int) -> None:
    costs, weights = random_matrix(seed)
    w = weight_array(costs, weights)
    capacity = np.full(len(costs.site_ids), math.ceil(w.sum() / 2.5))
    expected = brute_capacitated(costs, w, 3, capacity)
    capacities = dict(zip(costs.site_ids, capacity.tolist(), strict=True))
    if math.isinf(expected):
        with pytest.raises(InfeasibleError):
            p_median(costs, p=3, weights=weights, capacities=capacities)
        return
    result = p_median(costs, p=3, weights=weights, capacities=capacities, mip_gap=0.0)
    assert result.objective == pytest.approx(expected)
    load = {s: 0.0 for s in result.sites}
    for d, s in result.assignment.items():
        load[s] += weights[d]
    assert all(load[s] <= capacities[s] + 1e-9 for s in result.sites)
    # the capacities bind: the uncapacitated optimum is at least as good
    assert brute_p_median(costs, w, 3) <= expected


@pytest.mark.parametrize(("seed", "p", "fill"), [(1, 3, 0.9), (2, 4, 0.8), (3, 5, 0.95), (4, 3, 0.6), (5, 6, 0.85)])
def test_capacitated_reductions_keep_the_optimum(seed: int, p: int, fill: float) -> None:
    # Lagrangian bound, guessed upper values and the pairs and sites they remove, against the plain model:
    # 24 units x 12 sites, whole loads 1..20, capacities such that p sites hold `fill` of them at best
    costs, weights = euclidean(seed, n=24, m=12)
    rng = np.random.default_rng(seed)
    loads = {d: float(v) for d, v in zip(costs.demand_ids, rng.integers(1, 21, 24), strict=True)}
    capacity = math.ceil(sum(loads.values()) / (p * fill))
    capacities = dict.fromkeys(costs.site_ids, float(capacity))
    reduced = p_median(costs, p=p, weights=weights, capacities=capacities, demands=loads, mip_gap=0.0)
    plain = p_median(costs, p=p, weights=weights, capacities=capacities, demands=loads, mip_gap=0.0, reduce=False)
    assert reduced.status == plain.status == "optimal"
    assert reduced.objective == pytest.approx(plain.objective, rel=1e-9)
    used = dict.fromkeys(reduced.sites, 0.0)
    for d, site in reduced.assignment.items():
        used[site] += loads[d]
    assert max(used.values()) <= capacity


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize(("p", "radius"), [(1, 10.0), (2, 8.0), (3, 5.0)])
@pytest.mark.parametrize("search_cells", [0, 4_000_000])
def test_mclp_brute_force(seed: int, p: int, radius: float, search_cells: int) -> None:
    costs, weights = random_matrix(seed)
    w = weight_array(costs, weights)
    result = mclp(costs, p=p, radius=radius, weights=weights, solver="cbc", mip_gap=0.0, search_cells=search_cells)
    optimum = brute_mclp(costs, w, p, radius)
    assert result.objective == pytest.approx(optimum)
    assert result.heuristic_objective is not None and result.lp_bound is not None
    assert result.heuristic_objective <= optimum <= result.lp_bound + 1e-6
    # without the search the MIP is skipped (the LP's solver reported) exactly when the plan reaches the
    # rounded-down LP bound; with it, the search settles these small cases and the MIP never runs
    proven = result.heuristic_objective >= math.floor(result.lp_bound + 1e-6)
    assert (result.solver == "highs") == (proven or search_cells > 0)
    assert (result.status, result.gap) == ("optimal", 0)
    covered = {
        d
        for i, d in enumerate(costs.demand_ids)
        if any(costs.costs[i, column(costs, s)] <= radius for s in result.sites)
    }
    assert set(result.covered) == covered
    assert sum(weights[d] for d in covered) == pytest.approx(result.objective)


def six_pairs() -> CostMatrix:
    """Six demand units, one per pair of four sites: two sites cover 5 of them, the LP (every y = 1/2) all 6."""
    pairs = list(itertools.combinations(range(4), 2))
    matrix = np.array([[1.0 if j in pair else 9.0 for j in range(4)] for pair in pairs])
    return CostMatrix(tuple(f"d{i}" for i in range(6)), tuple(f"s{j}" for j in range(4)), matrix)


def test_mclp_runs_the_mip_when_the_lp_bound_is_not_reached_and_the_search_is_off() -> None:
    result = mclp(six_pairs(), p=2, radius=5, solver="cbc", mip_gap=0.0, search_cells=0)
    assert (result.objective, result.heuristic_objective, result.lp_bound) == (5, 5, pytest.approx(6))
    assert (result.status, result.solver, result.gap) == ("optimal", "cbc", 0)


def test_mclp_search_proves_what_the_lp_bound_cannot() -> None:
    result = mclp(six_pairs(), p=2, radius=5, solver="cbc", mip_gap=0.0)
    assert (result.objective, result.heuristic_objective, result.lp_bound) == (5, 5, pytest.approx(6))
    assert (result.status, result.solver, result.gap) == ("optimal", "highs", 0)


def test_mclp_runs_the_mip_when_the_search_gives_up() -> None:
    result = mclp(six_pairs(), p=2, radius=5, solver="cbc", mip_gap=0.0, search_cells=1)
    assert (result.objective, result.status, result.solver) == (5, "optimal", "cbc")


def test_sf_mclp_proven_by_the_lp_bound(sf: tuple[CostMatrix, dict[str, float]]) -> None:
    costs, weights = sf
    result = mclp(costs, p=4, radius=5000, weights=weights, solver="cbc", mip_gap=0.0)
    assert (result.status, result.objective, result.heuristic_objective) == ("optimal", 875_247, 875_247)
    assert result.lp_bound == pytest.approx(875_247)
    assert (result.solver, result.gap) == ("highs", 0)


def with_dominated_sites(seed: int) -> tuple[CostMatrix, dict[str, float]]:
    """random_matrix plus, for each of its first three sites, an identical copy and a copy 2 units costlier
    (which covers a subset of the original within any radius)."""
    costs, weights = random_matrix(seed, n=8, m=5)
    extra = np.concatenate([costs.costs[:, :3], costs.costs[:, :3] + 2], axis=1)
    site_ids = (*costs.site_ids, *(f"copy{j}" for j in range(3)), *(f"far{j}" for j in range(3)))
    return CostMatrix(costs.demand_ids, site_ids, np.concatenate([costs.costs, extra], axis=1)), weights


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize(("p", "radius"), [(1, 10.0), (2, 8.0), (3, 5.0), (6, 6.0)])
def test_mclp_dominated_sites_keep_the_optimum(seed: int, p: int, radius: float) -> None:
    costs, weights = with_dominated_sites(seed)
    w = weight_array(costs, weights)
    result = mclp(costs, p=p, radius=radius, weights=weights, mip_gap=0.0)
    assert result.objective == pytest.approx(brute_mclp(costs, w, p, radius))
    assert len(set(result.sites)) == p


@pytest.mark.parametrize("seed", range(6))
def test_lscp_dominated_sites_keep_the_optimum(seed: int) -> None:
    costs, _ = with_dominated_sites(seed)
    radius = float(np.min(costs.costs, axis=1).max()) + 2
    result = lscp(costs, radius=radius, mip_gap=0.0)
    assert result.objective == brute_lscp(costs, radius) == len(result.sites)
    assert set(result.covered) == set(costs.demand_ids)


def test_undominated_keeps_one_of_identical_columns_and_drops_subsets() -> None:
    # columns: A = {0, 1}, B = {0} (inside A), C = A, D = {} (inside all), E = {2}
    cover = np.array([[1, 1, 1, 0, 0], [1, 0, 1, 0, 0], [0, 0, 0, 0, 1]], dtype=float)
    assert _undominated(sp.csr_matrix(cover)).tolist() == [0, 4]
    assert _undominated(sp.csr_matrix(np.zeros((2, 3)))).tolist() == [0]


def test_mclp_opens_p_sites_when_fewer_are_undominated() -> None:
    # three identical sites and p = 2: one is kept, the plan is filled up with another
    costs = CostMatrix(("a", "b"), ("s1", "s2", "s3"), np.array([[1.0, 1.0, 1.0], [2.0, 2.0, 2.0]]))
    result = mclp(costs, p=2, radius=5, weights={"a": 3, "b": 4})
    assert result.objective == 7 and len(set(result.sites)) == 2
    assert set(result.covered) == {"a", "b"}


@pytest.mark.parametrize("seed", range(6))
def test_lscp_brute_force(seed: int) -> None:
    costs, _ = random_matrix(seed)
    radius = float(np.min(costs.costs, axis=1).max()) + 3  # every demand has a site in reach
    result = lscp(costs, radius=radius, mip_gap=0.0)
    assert result.objective == brute_lscp(costs, radius) == len(result.sites)
    assert set(result.covered) == set(costs.demand_ids)


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("p", [1, 2, 3])
def test_p_center_brute_force(seed: int, p: int) -> None:
    costs, _ = random_matrix(seed)
    expected = brute_p_center(costs, p)
    if math.isinf(expected):
        with pytest.raises(InfeasibleError):
            p_center(costs, p=p)
        return
    result = p_center(costs, p=p, mip_gap=0.0)
    assert result.objective == pytest.approx(expected)
    assert len(result.sites) == p
    assert max(costs.costs[i, column(costs, result.assignment[d])] for i, d in enumerate(costs.demand_ids)) == expected


@pytest.mark.parametrize("seed", range(20))
def test_p_center_larger_random_matrices_brute_force(seed: int) -> None:
    # 10 x 9 with p = 3: 84 plans, enough radii for the search to take several steps
    costs, _ = random_matrix(100 + seed, n=10, m=9)
    expected = brute_p_center(costs, 3)
    if math.isinf(expected):
        with pytest.raises(InfeasibleError):
            p_center(costs, p=3)
        return
    result = p_center(costs, p=3)
    assert (result.objective, result.status, result.gap) == (expected, "optimal", 0)


def brute_capacitated_center(costs: CostMatrix, load: np.ndarray, p: int, capacity: np.ndarray) -> float:
    """Smallest largest assigned cost over every p sites and every single-source assignment that fits."""
    best = math.inf
    for s in subsets(costs, p):
        for choice in itertools.product(s, repeat=len(load)):
            used = np.zeros(len(capacity))
            np.add.at(used, list(choice), load)
            if (used <= capacity).all():
                best = min(best, float(costs.costs[np.arange(len(load)), list(choice)].max()))
    return best


@pytest.mark.parametrize("seed", range(8))
@pytest.mark.parametrize("p", [2, 3])
def test_capacitated_p_center_brute_force(seed: int, p: int) -> None:
    costs, loads = random_matrix(seed + 300, n=6, m=5)
    load = weight_array(costs, loads)
    # capacities of 40-70% of the total load per site: they bind on most seeds, and some seeds are infeasible
    rng = np.random.default_rng(seed)
    capacity = np.ceil(load.sum() * rng.uniform(0.4, 0.7, len(costs.site_ids)))
    capacities = dict(zip(costs.site_ids, capacity.tolist(), strict=True))
    expected = brute_capacitated_center(costs, load, p, capacity)
    if math.isinf(expected):
        with pytest.raises(InfeasibleError):
            p_center(costs, p=p, capacities=capacities, demands=loads)
        return
    result = p_center(costs, p=p, capacities=capacities, demands=loads)
    assert (result.objective, result.status, len(result.sites)) == (expected, "optimal", p)
    used = dict.fromkeys(result.sites, 0.0)
    for i, d in enumerate(costs.demand_ids):
        site = result.assignment[d]
        used[site] += loads[d]
        assert costs.costs[i, column(costs, site)] <= expected
    assert all(used[s] <= capacities[s] for s in used)


def test_capacitated_p_center_moves_a_unit_past_its_nearest_site() -> None:
    # a, b, c all nearest to s1 (cost 1); s1 holds two unit loads, so one unit goes to s2 at cost 4 (b, the
    # cheapest to move); without capacities the radius is 1
    costs = CostMatrix(("a", "b", "c"), ("s1", "s2"), np.array([[1.0, 5], [1, 4], [1, 6]]))
    assert p_center(costs, p=2).objective == 1
    result = p_center(costs, p=2, capacities={"s1": 2, "s2": 2})
    assert (result.objective, dict(result.assignment)) == (4, {"a": "s1", "b": "s2", "c": "s1"})
    # loads of 2 fill 6 of capacity but a site of 3 holds one unit only: three units do not fit in two sites
    with pytest.raises(InfeasibleError, match="within the site capacities"):
        p_center(costs, p=2, capacities={"s1": 3, "s2": 3}, demands={"a": 2, "b": 2, "c": 2})
    with pytest.raises(ScenarioError, match="give capacities too"):
        p_center(costs, p=2, demands={"a": 1, "b": 1, "c": 1})


def test_p_center_stopped_by_its_time_limit_keeps_a_plan_and_a_bound() -> None:
    costs, _ = random_matrix(7, n=10, m=9)
    expected = brute_p_center(costs, 3)
    result = p_center(costs, p=3, time_limit_s=1e-9)
    assert result.status in ("feasible", "optimal") and result.objective is not None
    assert result.objective >= expected and len(result.sites) == 3
    assert result.gap is not None and result.objective * (1 - result.gap) <= expected + 1e-9


@pytest.mark.parametrize("model", ["pmedian", "mclp", "lscp", "pcenter"])
@pytest.mark.parametrize(("option", "value", "message"), [("time_limit_s", 0.0, "time limit"),
                                                         ("mip_gap", 1.5, "MIP gap")])
def test_every_model_rejects_bad_solver_options(model: str, option: str, value: float, message: str) -> None:
    costs, _ = random_matrix(1)
    run = {"pmedian": lambda **kw: p_median(costs, p=2, **kw), "mclp": lambda **kw: mclp(costs, p=2, radius=9, **kw),
           "lscp": lambda **kw: lscp(costs, radius=40, **kw), "pcenter": lambda **kw: p_center(costs, p=2, **kw)}
    with pytest.raises(SolverError, match=message):
        run[model](**{option: value})


@pytest.mark.parametrize("solver", SOLVERS)
def test_p_center_by_hand(solver: str) -> None:
    # two clusters: {a, b} near s1, {c} near s3; s2 in the middle reaches everything at 6
    costs = CostMatrix(("a", "b", "c"), ("s1", "s2", "s3"), np.array([[1.0, 6, 9], [2, 6, 9], [9, 6, 3]]))
    assert p_center(costs, p=1, solver=solver).objective == 6
    two = p_center(costs, p=2, solver=solver)
    assert (two.objective, set(two.sites)) == (3, {"s1", "s3"})
    assert dict(two.assignment) == {"a": "s1", "b": "s1", "c": "s3"}


# ---------------------------------------------------------------- errors and output


def test_lscp_names_demand_units_no_site_reaches() -> None:
    costs = CostMatrix(("a", "far", "b"), ("s1", "s2"), np.array([[1.0, 2.0], [50.0, np.inf], [3.0, 1.0]]))
    with pytest.raises(InfeasibleError, match=r"1 demand unit\(s\) has no site within radius 10: 'far'"):
        lscp(costs, radius=10)


def test_p_median_names_unreachable_demand() -> None:
    costs = CostMatrix(("a", "lost"), ("s1",), np.array([[1.0], [np.inf]]))
    with pytest.raises(InfeasibleError, match="'lost'"):
        p_median(costs, p=1)


def test_capacities_too_small_are_infeasible() -> None:
    costs = CostMatrix(("a", "b"), ("s1", "s2"), np.array([[1.0, 2.0], [2.0, 1.0]]))
    with pytest.raises(InfeasibleError, match="the 1 largest site capacities add up to 5"):
        p_median(costs, p=1, weights={"a": 3, "b": 3}, capacities={"s1": 5, "s2": 4})
    # 10 of capacity for 9 of demand, but a site holds one unit of 3 only: three units do not fit in two sites
    three = CostMatrix(("a", "b", "c"), ("s1", "s2"), np.ones((3, 2)))
    with pytest.raises(InfeasibleError, match="within the site capacities"):
        p_median(three, p=2, weights={"a": 3, "b": 3, "c": 3}, capacities={"s1": 5, "s2": 5})


@pytest.mark.parametrize("model", [p_median, p_center])
def test_too_few_sites_to_serve_everyone(model: object) -> None:
    # a reaches only s1, b only s2: one site cannot serve both
    costs = CostMatrix(("a", "b"), ("s1", "s2"), np.array([[1.0, np.inf], [np.inf, 1.0]]))
    with pytest.raises(InfeasibleError, match="no 1 open sites can serve every demand unit at finite cost"):
        model(costs, p=1)  # type: ignore[operator]


def test_p_median_option_errors() -> None:
    costs = CostMatrix(("a", "b"), ("s1", "s2"), np.array([[1.0, 2.0], [2.0, 1.0]]))
    with pytest.raises(ScenarioError, match="unknown p-median formulation 'flow'"):
        p_median(costs, p=1, formulation="flow")
    with pytest.raises(ScenarioError, match="radius formulation has no assignment variables"):
        p_median(costs, p=1, capacities={"s1": 5, "s2": 5}, formulation="radius")
    with pytest.raises(ScenarioError, match="demands only load site capacities"):
        p_median(costs, p=1, demands={"a": 1, "b": 1})


def test_demands_load_capacities_apart_from_weights() -> None:
    # weights pull both units to s1, but their demands (3 each) overflow its capacity 5
    costs = CostMatrix(("a", "b"), ("s1", "s2"), np.array([[1.0, 4.0], [1.0, 9.0]]))
    result = p_median(
        costs, p=2, weights={"a": 1, "b": 1}, capacities={"s1": 5, "s2": 5}, demands={"a": 3, "b": 3}, mip_gap=0.0
    )
    assert dict(result.assignment) == {"a": "s2", "b": "s1"} and result.objective == 5


@pytest.mark.parametrize("p", [0, 3, 1.5, True])
def test_p_out_of_range(p: object) -> None:
    costs = CostMatrix(("a",), ("s1", "s2"), np.array([[1.0, 2.0]]))
    with pytest.raises(ScenarioError, match="p must be a whole number from 1 to the 2 sites"):
        p_median(costs, p=p)  # type: ignore[arg-type]


def test_negative_radius_is_rejected() -> None:
    costs = CostMatrix(("a",), ("s1",), np.array([[1.0]]))
    with pytest.raises(ScenarioError, match="radius must be a finite number >= 0"):
        mclp(costs, p=1, radius=-1)


def test_result_serializes_to_json(sf: tuple[CostMatrix, dict[str, float]]) -> None:
    costs, weights = sf
    result = p_median(costs, p=2, weights=weights)
    data = json.loads(json.dumps(result.to_dict()))
    assert data["model"] == "pmedian"
    assert data["objective"] == pytest.approx(result.objective)
    assert data["objective_meaning"].startswith("sum of weight x cost")
    assert data["formulation"] == "radius"
    assert data["lp_bound"] <= data["objective"] + 1e-6 <= data["heuristic_objective"] + 2e-6
    assert len(data["assignment"]) == 205
    assert isinstance(result, LocateResult)
    with pytest.raises(TypeError):
        result.assignment["x"] = "y"  # type: ignore[index]
