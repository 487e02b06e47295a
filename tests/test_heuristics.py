"""Greedy + interchange (p-median and MCLP) and the p-median reductions, checked against brute force on small
matrices."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pulp
import pytest
import scipy.sparse as sp

from allocopt.costs import read_orlib_pmedian
from allocopt.model.heuristics import (
    coverage_greedy,
    coverage_interchange,
    covered_weight,
    greedy,
    interchange,
    plan_cost,
)
from allocopt.model.pmedian import (
    assignment_formulation,
    cost_caps,
    lagrangian_bound,
    lagrangian_fixing,
    no_fixing,
    radius_formulation,
)

DATA = Path(__file__).resolve().parent / "data"


def weighted_matrix(seed: int, *, n: int = 12, m: int = 9, missing: float = 0.15) -> np.ndarray:
    """Weight x cost with integer costs 1..40, weights 1..5, about `missing` of the pairs inf; every row keeps two
    finite pairs."""
    rng = np.random.default_rng(seed)
    costs = rng.integers(1, 41, (n, m)).astype(float)
    costs[rng.random((n, m)) < missing] = np.inf
    for i in range(n):
        costs[i, rng.choice(m, 2, replace=False)] = rng.integers(1, 41, 2)
    return costs * rng.integers(1, 6, n)[:, None]


def all_plans(weighted: np.ndarray, p: int) -> dict[tuple[int, ...], float]:
    """Every p-subset of sites with its total."""
    return {s: plan_cost(weighted, np.asarray(s)) for s in itertools.combinations(range(weighted.shape[1]), p)}


def test_greedy_by_hand() -> None:
    # column totals 12, 9, 14: s1 first; then s0 saves 4 + 1 = 5 against s2's 3
    weighted = np.array([[1.0, 5.0, 9.0], [2.0, 3.0, 1.0], [9.0, 1.0, 4.0]])
    assert greedy(weighted, p=1).tolist() == [1]
    assert greedy(weighted, p=2).tolist() == [1, 0]
    assert plan_cost(weighted, np.array([1, 0])) == 4


@pytest.mark.parametrize("seed", range(10))
@pytest.mark.parametrize("p", [1, 2, 3, 4])
def test_interchange_is_a_local_optimum_between_optimum_and_greedy(seed: int, p: int) -> None:
    weighted = weighted_matrix(seed)
    start = greedy(weighted, p=p)
    local = interchange(weighted, start)
    value = plan_cost(weighted, local)
    assert len(set(local.tolist())) == p
    assert min(all_plans(weighted, p).values()) <= value <= plan_cost(weighted, start)
    # no single swap improves it
    for out, into in itertools.product(local.tolist(), range(weighted.shape[1])):
        if into in local:
            continue
        swapped = np.array([into if j == out else j for j in local.tolist()])
        assert plan_cost(weighted, swapped) >= value - 1e-9
    # the start is not modified
    assert plan_cost(weighted, start) == plan_cost(weighted, greedy(weighted, p=p))


def test_heuristic_serves_a_unit_only_one_site_reaches() -> None:
    # unit 2 reaches only s3, which is expensive for everyone else
    weighted = np.array([[1.0, 2.0, 2.0, 50.0], [2.0, 1.0, 2.0, 50.0], [np.inf, np.inf, np.inf, 90.0]])
    plan = interchange(weighted, greedy(weighted, p=2))
    assert 3 in plan.tolist()
    assert plan_cost(weighted, plan) == 93  # 1 + 2 + 90 with s0 (or 2 + 1 + 90 with s1)
    assert plan_cost(weighted, np.array([0, 1])) == np.inf


def test_greedy_and_interchange_on_pmed1() -> None:
    costs, p = read_orlib_pmedian(DATA / "orlib" / "pmed1.txt")
    start = greedy(costs.costs, p=p)
    local = interchange(costs.costs, start)
    assert 5819 <= plan_cost(costs.costs, local) <= plan_cost(costs.costs, start)


@pytest.mark.parametrize("seed", range(10))
@pytest.mark.parametrize("p", [1, 2, 3])
def test_lagrangian_bound_and_fixing_keep_every_optimum(seed: int, p: int) -> None:
    weighted = weighted_matrix(seed, missing=0.0)
    plans = all_plans(weighted, p)
    optimum = min(plans.values())
    relaxation = lagrangian_bound(weighted, p=p, upper_bound=optimum)
    assert weighted.min(axis=1).sum() - 1e-9 <= relaxation.bound <= optimum + 1e-6
    assert len(relaxation.sites) == p
    fixing = lagrangian_fixing(weighted, relaxation, p=p, upper_bound=optimum)
    for sites in (s for s, value in plans.items() if value <= optimum + 1e-9):
        assert not fixing.closed[list(sites)].any()
        assert set(np.flatnonzero(fixing.opened)) <= set(sites)


def test_lagrangian_fixing_closes_sites_on_pmed1() -> None:
    # the bound is tight on pmed1, so the known optimum closes most sites and opens the 5 medians
    costs, p = read_orlib_pmedian(DATA / "orlib" / "pmed1.txt")
    relaxation = lagrangian_bound(costs.costs, p=p, upper_bound=5819)
    fixing = lagrangian_fixing(costs.costs, relaxation, p=p, upper_bound=5819)
    assert relaxation.bound <= 5819 + 1e-6
    assert fixing.closed.sum() > 50
    assert plan_cost(costs.costs, np.flatnonzero(~fixing.closed)) <= 5819
    assert not (fixing.closed & fixing.opened).any()


@pytest.mark.parametrize("seed", range(8))
@pytest.mark.parametrize("p", [1, 2, 3])
def test_cost_caps_bound_every_allowed_plan(seed: int, p: int) -> None:
    weighted = weighted_matrix(seed)
    upper = plan_cost(weighted, interchange(weighted, greedy(weighted, p=p)))
    fixing = lagrangian_fixing(weighted, lagrangian_bound(weighted, p=p, upper_bound=upper), p=p, upper_bound=upper)
    caps = cost_caps(weighted, p=p, fixing=fixing)
    for sites in itertools.combinations(np.flatnonzero(~fixing.closed).tolist(), p):
        if set(np.flatnonzero(fixing.opened)) <= set(sites):
            assert (weighted[:, list(sites)].min(axis=1) <= caps).all()


@pytest.mark.parametrize("build", [radius_formulation, assignment_formulation])
@pytest.mark.parametrize("seed", range(4))
def test_start_values_satisfy_every_row(build: object, seed: int) -> None:
    weighted = weighted_matrix(seed)
    p = 3
    plan = interchange(weighted, greedy(weighted, p=p))
    fixing = no_fixing(weighted.shape[1])
    caps = cost_caps(weighted, p=p, fixing=fixing)
    formulation = build(weighted, np.ones(weighted.shape[0]), p=p, fixing=fixing, caps=caps)  # type: ignore[operator]
    formulation.start(plan)
    assert all(row.valid(1e-9) for row in formulation.model.constraints())
    assert pulp.value(formulation.model.objective) == pytest.approx(plan_cost(weighted, plan))
    assert sorted(formulation.sites[[var.varValue == 1 for var in formulation.open_vars]].tolist()) == sorted(
        plan.tolist()
    )


def cover_matrix(seed: int, *, n: int = 14, m: int = 8) -> tuple[sp.csr_matrix, np.ndarray]:
    """A random 0/1 cover (about a third of the pairs) with integer weights 1..9."""
    rng = np.random.default_rng(seed)
    return sp.csr_matrix((rng.random((n, m)) < 0.3).astype(float)), rng.integers(1, 10, n).astype(float)


def test_coverage_greedy_by_hand() -> None:
    # s0 covers weights 5 + 1, s1 covers 5 + 4, s2 covers 4 + 2: s1 first, then s2 adds 2 against s0's 1
    cover = sp.csr_matrix(np.array([[1.0, 1, 0], [0, 1, 1], [0, 0, 1], [1, 0, 0]]))
    weights = np.array([5.0, 4, 2, 1])
    assert coverage_greedy(cover, weights, p=1).tolist() == [1]
    assert coverage_greedy(cover, weights, p=2).tolist() == [1, 2]
    assert covered_weight(cover, weights, np.array([1, 2])) == 11


@pytest.mark.parametrize("seed", range(10))
@pytest.mark.parametrize("p", [1, 2, 3, 4])
def test_coverage_interchange_is_a_local_optimum_below_the_optimum(seed: int, p: int) -> None:
    cover, weights = cover_matrix(seed)
    start = coverage_greedy(cover, weights, p=p)
    local = coverage_interchange(cover, weights, start)
    value = covered_weight(cover, weights, local)
    optimum = max(
        covered_weight(cover, weights, np.asarray(s)) for s in itertools.combinations(range(cover.shape[1]), p)
    )
    assert len(set(local.tolist())) == p
    assert covered_weight(cover, weights, start) <= value <= optimum
    for out, into in itertools.product(local.tolist(), range(cover.shape[1])):
        if into not in local:
            swapped = np.array([into if j == out else j for j in local.tolist()])
            assert covered_weight(cover, weights, swapped) <= value
    assert start.tolist() == coverage_greedy(cover, weights, p=p).tolist()


def test_sites_beyond_a_p_center_cover_go_where_they_serve_best() -> None:
    # s0 alone keeps every unit within 5; of the second sites s2 saves 4 on d1, s1 only 2 on d2
    matrix = np.array([[1.0, 9.0, 9.0], [5.0, 9.0, 1.0], [5.0, 3.0, 9.0]])
    assert greedy(matrix, p=2, start=np.array([0])).tolist() == [0, 2]
    assert greedy(matrix, p=3, start=np.array([0])).tolist() == [0, 2, 1]
    assert greedy(matrix, p=2, start=np.array([0, 1])).tolist() == [0, 1]
