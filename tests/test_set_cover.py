"""Set covering decisions against every subset of small random instances."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import scipy.sparse as sp

from allocopt.model.set_cover import decide_cover, greedy_cover


def random_cover(seed: int) -> sp.csr_matrix:
    """A random 0/1 groups x sites matrix in which every group has at least one site."""
    rng = np.random.default_rng(seed)
    n_groups, n_sites = int(rng.integers(3, 12)), int(rng.integers(2, 9))
    dense = rng.random((n_groups, n_sites)) < rng.uniform(0.15, 0.5)
    dense[np.arange(n_groups), rng.integers(0, n_sites, n_groups)] = True
    return sp.csr_matrix(dense.astype(float))


def smallest_cover(cover: sp.csr_matrix) -> int:
    dense = cover.toarray() > 0
    sites = range(dense.shape[1])
    for size in range(1, dense.shape[1] + 1):
        if any(dense[:, list(chosen)].any(axis=1).all() for chosen in itertools.combinations(sites, size)):
            return size
    raise AssertionError("every group has a site, so all sites cover")


@pytest.mark.parametrize("seed", range(40))
def test_greedy_cover_covers_every_group(seed: int) -> None:
    cover = random_cover(seed)
    sites = greedy_cover(cover)
    assert (cover[:, sites].sum(axis=1) > 0).all()
    assert len(set(sites.tolist())) == len(sites)


@pytest.mark.parametrize("seed", range(40))
def test_decide_cover_agrees_with_enumeration(seed: int) -> None:
    cover = random_cover(seed)
    needed = smallest_cover(cover)
    methods = set()
    for p in range(1, cover.shape[1] + 1):
        decision = decide_cover(cover, p=p)
        methods.add(decision.method)
        assert decision.answer == ("yes" if p >= needed else "no")
        if decision.answer == "yes":
            assert decision.sites is not None and len(decision.sites) <= p
            assert (cover[:, decision.sites].sum(axis=1) > 0).all()
    assert "greedy" in methods


def test_each_way_of_deciding_is_reached() -> None:
    # six groups, one per pair of four sites: two sites never cover all, three do; greedy needs three
    pairs = list(itertools.combinations(range(4), 2))
    cover = sp.csr_matrix(np.array([[1.0 if j in pair else 0.0 for j in range(4)] for pair in pairs]))
    assert decide_cover(cover, p=3).method == "greedy"
    no = decide_cover(cover, p=2)  # LP bound: every y = 1/2 gives 2, so the LP cannot rule it out
    assert (no.answer, no.method) == ("no", "mip")
    assert (decide_cover(cover, p=1).answer, decide_cover(cover, p=1).method) == ("no", "lp")
