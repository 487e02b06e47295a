"""Maximal covering bounds and search, checked against every plan of small random instances."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import scipy.sparse as sp

from allocopt.model.heuristics import covered_weight
from allocopt.model.max_cover import improvement_threshold, relax, search


def random_cover(seed: int, *, whole: bool) -> tuple[sp.csr_matrix, np.ndarray, int]:
    """A random 0/1 cover (groups x sites), group weights (whole numbers or not) and a p."""
    rng = np.random.default_rng(seed)
    n_groups, n_sites = int(rng.integers(4, 14)), int(rng.integers(3, 10))
    cover = (rng.random((n_groups, n_sites)) < rng.uniform(0.15, 0.5)).astype(float)
    weight = rng.integers(1, 20, n_groups).astype(float) if whole else rng.uniform(0.1, 5.0, n_groups)
    return sp.csr_matrix(cover), weight, int(rng.integers(1, min(4, n_sites) + 1))


def every_plan(cover: sp.csr_matrix, weight: np.ndarray, p: int) -> dict[tuple[int, ...], float]:
    """Covered weight of each plan of p sites, computed row by row."""
    dense = cover.toarray() > 0
    return {
        plan: float(sum(w for g, w in enumerate(weight) if dense[g, list(plan)].any()))
        for plan in itertools.combinations(range(cover.shape[1]), p)
    }


@pytest.mark.parametrize("seed", range(40))
def test_dual_bound_holds_for_every_plan_and_equals_the_lp_bound(seed: int) -> None:
    cover, weight, p = random_cover(seed, whole=seed % 2 == 0)
    relaxation = relax(cover, weight, p=p, time_limit_s=None)
    assert relaxation is not None
    for plan, value in every_plan(cover, weight, p).items():
        assert value <= relaxation.base + relaxation.site_scores[list(plan)].sum() + 1e-9
    best_dual = relaxation.base + np.sort(relaxation.site_scores)[::-1][:p].sum()
    assert best_dual == pytest.approx(relaxation.bound, abs=1e-6)
    assert max(every_plan(cover, weight, p).values()) <= relaxation.bound + 1e-6


@pytest.mark.parametrize("seed", range(60))
def test_search_finds_the_best_plan_reaching_the_threshold_or_proves_there_is_none(seed: int) -> None:
    cover, weight, p = random_cover(seed, whole=seed % 3 != 0)
    relaxation = relax(cover, weight, p=p, time_limit_s=None)
    assert relaxation is not None
    values = every_plan(cover, weight, p)
    optimum = max(values.values())
    for threshold in (optimum - 1.5, optimum, optimum + 1e-9, sorted(set(values.values()))[0]):
        outcome = search(cover, weight, p=p, relaxation=relaxation, threshold=threshold)
        assert outcome.finished
        if optimum >= threshold:
            assert outcome.plan is not None and len(set(outcome.plan.tolist())) == p
            assert outcome.value == pytest.approx(optimum)
            assert covered_weight(cover, weight, outcome.plan) == pytest.approx(optimum)
        else:
            assert outcome.plan is None and outcome.value is None


def test_search_gives_up_past_its_work_limit() -> None:
    cover, weight, p = random_cover(3, whole=True)
    relaxation = relax(cover, weight, p=p, time_limit_s=None)
    assert relaxation is not None
    outcome = search(cover, weight, p=p, relaxation=relaxation, threshold=0.0, max_cells=1)
    assert not outcome.finished and outcome.plan is None


def test_search_with_fewer_possible_sites_than_p_proves_nothing_better() -> None:
    # three sites each covering its own group of weight 1, p = 2: no plan covers 3
    cover = sp.csr_matrix(np.eye(3))
    weight = np.ones(3)
    relaxation = relax(cover, weight, p=2, time_limit_s=None)
    assert relaxation is not None
    outcome = search(cover, weight, p=2, relaxation=relaxation, threshold=improvement_threshold(2.0, weight))
    assert outcome.finished and outcome.plan is None and outcome.partials == 0


def test_improvement_threshold_steps_to_the_next_whole_number_only_for_whole_weights() -> None:
    assert improvement_threshold(102.0, np.array([1.0, 2.0])) == pytest.approx(103.0, abs=1e-5)
    assert improvement_threshold(102.0, np.array([1.0, 2.0])) < 103.0
    real = improvement_threshold(102.0, np.array([0.5, 2.25]))
    assert 102.0 < real < 102.0 + 1e-6
