"""What each allocation row buys: a hand-worked example and a brute-force recomputation on the tiny region."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from allocopt import workflow
from allocopt.marginal import MARGINAL_COLUMNS, row_service, with_contributions
from allocopt.plan import Plan
from allocopt.results import allocation_table, recompute_access
from allocopt.services import CENTERS, EQUIPMENT
from test_results import small_problem


def test_hand_worked_rows() -> None:
    """Minutes (a, b, c, d x clinic, hospital, new): a 10/40/50, b 11/41/52, c 35/20/8, d inf/70/12; people 1000,
    500, 2000, 1500. Opening the health center `new` gives c and d primary care within 15 minutes (3,500 people);
    2 GPs make the clinic a first-contact point for a and b (1,500) and end the north township's GP shortage
    (1,500 people: 2 GPs serve 2 x 10,000 / 3.93 = 5,089). DR (30 minutes) at `new` reaches c and d, at the
    hospital only c, which `new` reaches too: the hospital's DR adds nobody, `new`'s adds d (1,500). A trauma
    center at `new` (60 minutes) reaches all four points, every yearly trauma case."""
    problem = small_problem()
    plan = Plan.empty(problem)
    plan.opened[2] = True
    plan.added_gps[0] = 2
    plan.added_equipment["dr"][1] = 1
    plan.added_equipment["dr"][2] = 1
    plan.new_centers["trauma"][2] = True
    rows = with_contributions(problem, plan, allocation_table(problem, plan))
    got = {(site, resource): (people, shortage) for site, resource, people, shortage in zip(
        rows["site_id"], rows["resource"], rows["newly_covered_people"], rows["gp_shortage_reduced_people"],
        strict=True)}
    assert got == {("new", "open_site"): (3500.0, 0.0), ("clinic", "gp"): (1500.0, 1500.0),
                   ("hospital", "dr"): (0.0, 0.0), ("new", "dr"): (1500.0, 0.0),
                   ("new", "trauma_center"): (5000.0, 0.0)}
    trauma = rows.set_index("resource").loc["trauma_center"]
    assert trauma["service"] == "trauma"
    assert trauma["newly_covered_cases_per_year"] == pytest.approx(problem.demand_cases["trauma"].sum())
    assert np.isnan(rows.set_index("resource").loc["open_site", "newly_covered_cases_per_year"])
    assert list(rows.columns[-len(MARGINAL_COLUMNS):]) == list(MARGINAL_COLUMNS)


def test_rows_that_need_each_other_each_count_what_both_bring() -> None:
    """A GP and a village doctor at the same clinic: either alone makes it a first-contact point, so neither
    row adds anyone given the other."""
    problem = small_problem()
    plan = Plan.empty(problem)
    plan.added_gps[0] = 1
    plan.added_village_doctors[0] = 1
    rows = with_contributions(problem, plan, allocation_table(problem, plan))
    assert rows["newly_covered_people"].tolist() == [0.0, 0.0]


def _without(plan: Plan, site: int, resource: str) -> Plan:
    """A copy of `plan` with one row taken out, written independently of allocopt.marginal."""
    copy = Plan(plan.opened.copy(), plan.added_gps.copy(), {k: v.copy() for k, v in plan.added_equipment.items()},
                {k: v.copy() for k, v in plan.new_centers.items()}, plan.added_village_doctors.copy())
    if resource == "open_site":
        copy.opened[site] = False
    elif resource == "gp":
        copy.added_gps[site] = 0
    elif resource == "village_doctor":
        copy.added_village_doctors[site] = 0
    elif resource in EQUIPMENT:
        copy.added_equipment[resource][site] = 0
    else:
        copy.new_centers[resource.removesuffix("_center")][site] = False
    return copy


def test_every_row_equals_a_brute_force_recomputation(tiny_region_path: Path) -> None:
    prepared = workflow.prepare(tiny_region_path)
    problem = workflow.prepared_problem(prepared)
    rng = np.random.default_rng(7)
    n = len(problem.site_ids)
    plan = Plan(problem.is_candidate & (rng.random(n) < 0.7), rng.integers(0, 3, n) * (rng.random(n) < 0.5),
                {k: (rng.random(n) < 0.3).astype(np.int64) for k in EQUIPMENT},
                {s: rng.random(n) < 0.3 for s in CENTERS}, (rng.random(n) < 0.4).astype(np.int64))
    rows = with_contributions(problem, plan, allocation_table(problem, plan))
    assert len(rows) > 10
    population = problem.demand_population
    full = recompute_access(problem, plan, travel_cutoff_minutes=600.0)
    position = {site: j for j, site in enumerate(problem.site_ids)}
    for _, row in rows.iterrows():
        v = row_service(row["resource"])
        assert v == row["service"]
        reduced = recompute_access(problem, _without(plan, position[row["site_id"]], row["resource"]),
                                   travel_cutoff_minutes=600.0)
        lost = full.covered[v] & ~reduced.covered[v]
        assert row["newly_covered_people"] == pytest.approx(population[lost].sum()), (row["site_id"], v)
        if v in problem.demand_cases:
            assert row["newly_covered_cases_per_year"] == pytest.approx(problem.demand_cases[v][lost].sum())
        shortage = reduced.township_shortage.sum() - full.township_shortage.sum()
        assert row["gp_shortage_reduced_people"] == pytest.approx(shortage if row["resource"] == "gp" else 0.0)
