"""Budgeted capacitated coverage: hand-computed cases, brute force over every plan of tiny instances, checks."""

from __future__ import annotations

import itertools
import json

import numpy as np
import pytest
from scipy.optimize import linprog

from allocopt.costs import CostMatrix
from allocopt.errors import DataError, ScenarioError
from allocopt.model.capacity_coverage import CoveragePlan, ResourceKind, capacity_coverage
from allocopt.solve import SOLVERS


def _matrix(costs: list[list[float]]) -> CostMatrix:
    rows, cols = np.shape(costs)
    return CostMatrix(tuple(f"d{i}" for i in range(rows)), tuple(f"s{j}" for j in range(cols)), np.array(costs))


BED = ResourceKind("bed", unit_cost=3.0, required=1, max_added_per_site=2)
VENT = ResourceKind("vent", unit_cost=2.0, required=1, max_added_per_site=1)


def test_a_ventilator_bought_where_a_bed_waits_for_one() -> None:
    # s0 has a bed but no ventilator and lies near d0 (weight 5); s1 has both and lies near d1 (weight 2).
    costs = _matrix([[1.0, 9.0], [9.0, 1.0]])
    existing = {"s0": {"bed": 1}, "s1": {"bed": 1, "vent": 1}}
    weights = {"d0": 5.0, "d1": 2.0}
    today = capacity_coverage(costs, threshold=2.0, kinds=[BED, VENT], budget=0.0, existing=existing,
                              weights=weights)
    assert (today.covered_weight, today.cost, dict(today.additions)) == (2.0, 0.0, {})
    assert today.providers == ("s1",)
    plan = capacity_coverage(costs, threshold=2.0, kinds=[BED, VENT], budget=10.0, existing=existing,
                             weights=weights)
    assert plan.covered_weight == 7.0
    assert plan.cost == 2.0  # one ventilator; the budget would allow more, none of it helps
    assert {site: dict(kinds) for site, kinds in plan.additions.items()} == {"s0": {"vent": 1}}
    assert plan.units["s0"] == {"bed": 1, "vent": 1}
    assert plan.covered_share == {"d0": 1.0, "d1": 1.0}
    assert plan.status == "optimal" and not plan.capacitated


def test_capacity_splits_demand_and_buys_units_where_they_serve_most() -> None:
    # One site within reach of both demand units; each bed serves 4 units of weight, the site has 1 bed.
    costs = _matrix([[1.0], [1.0]])
    bed = ResourceKind("bed", unit_cost=1.0, required=1, max_added_per_site=5, demand_per_unit=4.0)
    weights = {"d0": 6.0, "d1": 3.0}
    today = capacity_coverage(costs, threshold=2.0, kinds=[bed], budget=0.0, existing={"s0": {"bed": 1}},
                              weights=weights)
    assert today.capacitated and today.covered_weight == pytest.approx(4.0)
    assert today.site_load["s0"] == pytest.approx(4.0)
    one_more = capacity_coverage(costs, threshold=2.0, kinds=[bed], budget=1.0, existing={"s0": {"bed": 1}},
                                 weights=weights)
    assert one_more.covered_weight == pytest.approx(8.0)
    enough = capacity_coverage(costs, threshold=2.0, kinds=[bed], budget=100.0, existing={"s0": {"bed": 1}},
                               weights=weights)
    assert enough.covered_weight == pytest.approx(9.0)
    assert enough.additions["s0"]["bed"] == 2  # 3 beds serve 12 >= 9; a fourth would be waste
    assert enough.cost == pytest.approx(2.0)


def _brute_force(costs: CostMatrix, *, threshold: float, kinds: list[ResourceKind], budget: float,
                 existing: np.ndarray, weights: np.ndarray) -> tuple[float, float]:
    """Best covered weight over every integer plan within the budget, and the least cost reaching it."""
    n_sites = len(costs.site_ids)
    within = costs.costs <= threshold
    required = np.array([k.required for k in kinds])
    ranges = [range(k.max_added_per_site + 1) for _ in range(n_sites) for k in kinds]
    unit_cost = np.array([k.unit_cost for k in kinds])
    best, cheapest = -1.0, np.inf
    for combo in itertools.product(*ranges):
        added = np.array(combo, dtype=float).reshape(n_sites, len(kinds))
        cost = float((added * unit_cost).sum())
        if cost > budget + 1e-9:
            continue
        units = existing + added
        providing = (units >= required).all(axis=1)
        if any(k.demand_per_unit is not None for k in kinds):
            capacity = np.min([units[:, k] * kind.demand_per_unit for k, kind in enumerate(kinds)
                               if kind.demand_per_unit is not None], axis=0)
            covered = _max_flow(within & providing, weights, capacity)
        else:
            covered = float(weights[(within & providing).any(axis=1)].sum())
        if covered > best + 1e-7:
            best, cheapest = covered, cost
        elif abs(covered - best) <= 1e-7:
            cheapest = min(cheapest, cost)
    return best, cheapest


def _max_flow(allowed: np.ndarray, weights: np.ndarray, capacity: np.ndarray) -> float:
    """Most weight assignable to allowed sites within capacity, demand split freely (an LP, solved by SciPy)."""
    pairs = np.argwhere(allowed)
    if len(pairs) == 0:
        return 0.0
    n_demand, n_sites = allowed.shape
    rows_demand = np.zeros((n_demand, len(pairs)))
    rows_site = np.zeros((n_sites, len(pairs)))
    for p, (i, j) in enumerate(pairs):
        rows_demand[i, p] = 1.0
        rows_site[j, p] = weights[i]
    answer = linprog(-weights[pairs[:, 0]], A_ub=np.vstack([rows_demand, rows_site]),
                     b_ub=np.concatenate([np.ones(n_demand), capacity]), bounds=(0, 1), method="highs")
    return float(-answer.fun)


@pytest.mark.parametrize("seed", range(8))
@pytest.mark.parametrize("capacitated", [False, True])
def test_matches_brute_force_on_random_tiny_instances(seed: int, capacitated: bool) -> None:
    rng = np.random.default_rng(seed)
    costs = CostMatrix(tuple(f"d{i}" for i in range(6)), ("a", "b", "c"), rng.uniform(0, 10, size=(6, 3)))
    kinds = [
        ResourceKind("bed", unit_cost=3.0, required=1, max_added_per_site=2,
                     demand_per_unit=4.0 if capacitated else None),
        ResourceKind("vent", unit_cost=2.0, required=1, max_added_per_site=1,
                     demand_per_unit=9.0 if capacitated else None),
    ]
    existing = rng.integers(0, 2, size=(3, 2)).astype(float)
    weights = rng.integers(0, 10, size=6).astype(float)
    budget = float(rng.integers(0, 12))
    plan = capacity_coverage(
        costs, threshold=5.0, kinds=kinds, budget=budget,
        existing={s: {"bed": int(existing[j, 0]), "vent": int(existing[j, 1])} for j, s in enumerate(costs.site_ids)},
        weights=dict(zip(costs.demand_ids, weights.tolist(), strict=True)),
    )
    best, cheapest = _brute_force(costs, threshold=5.0, kinds=kinds, budget=budget, existing=existing,
                                  weights=weights)
    assert plan.status == "optimal"
    assert plan.covered_weight == pytest.approx(best, rel=1e-6, abs=1e-6)
    assert plan.cost == pytest.approx(cheapest)
    assert plan.cost <= budget
    units = np.array([[plan.units[s]["bed"], plan.units[s]["vent"]] for s in costs.site_ids])
    assert (units - existing >= 0).all() and (units - existing <= [2, 1]).all()


@pytest.mark.parametrize("solver", SOLVERS)
def test_both_solvers_agree(solver: str) -> None:
    costs = _matrix([[1.0, 4.0, 9.0], [6.0, 1.0, 2.0], [9.0, 9.0, 1.0]])
    kinds = [ResourceKind("bed", unit_cost=1.0, max_added_per_site=3, demand_per_unit=4.0)]
    plan = capacity_coverage(costs, threshold=3.0, kinds=kinds, budget=2.0, weights={"d0": 2, "d1": 4, "d2": 6},
                             solver=solver)
    # Two beds of 4 each: both at s2 (reached by d1 and d2) or one at s1 and one at s2 serve 8; any bed at s0
    # serves only d0's 2.
    assert plan.covered_weight == pytest.approx(8.0)
    assert "s0" not in plan.additions and plan.cost == 2.0
    assert plan.solver == solver


def test_result_is_frozen_keyed_by_ids_and_json_ready() -> None:
    plan = capacity_coverage(_matrix([[1.0]]), threshold=1.0, kinds=[BED], budget=3.0)
    assert isinstance(plan, CoveragePlan)
    assert set(plan.units) == {"s0"} and plan.providers == ("s0",)
    data = json.loads(json.dumps(plan.to_dict()))
    assert data["additions"] == {"s0": {"bed": 1}} and data["covered_weight"] == 1.0
    with pytest.raises(AttributeError):
        plan.cost = 0.0  # type: ignore[misc]
    with pytest.raises(TypeError):
        plan.additions["s0"]["bed"] = 2  # type: ignore[index]


def test_nobody_within_the_threshold_covers_nothing() -> None:
    plan = capacity_coverage(_matrix([[5.0, 7.0]]), threshold=1.0, kinds=[BED], budget=100.0)
    assert plan.covered_weight == 0.0 and plan.cost == 0.0 and not plan.additions


@pytest.mark.parametrize(
    ("options", "error", "match"),
    [
        ({"threshold": -1.0}, ScenarioError, "threshold"),
        ({"budget": float("nan")}, ScenarioError, "budget"),
        ({"kinds": []}, ScenarioError, "at least one"),
        ({"kinds": [BED, BED]}, ScenarioError, "unique"),
        ({"kinds": [ResourceKind("bed", unit_cost=-1.0)]}, ScenarioError, "unit_cost"),
        ({"kinds": [ResourceKind("bed", unit_cost=1.0, demand_per_unit=0.0)]}, ScenarioError, "demand_per_unit"),
        ({"existing": {"nowhere": {"bed": 1}}}, DataError, "nowhere"),
        ({"existing": {"s0": {"oxygen": 1}}}, DataError, "oxygen"),
        ({"existing": {"s0": {"bed": 1.5}}}, DataError, "whole number"),
    ],
)
def test_bad_settings_name_what_is_wrong(options: dict, error: type[Exception], match: str) -> None:
    arguments = {"threshold": 1.0, "kinds": [BED], "budget": 1.0, **options}
    with pytest.raises(error, match=match):
        capacity_coverage(_matrix([[1.0]]), **arguments)
