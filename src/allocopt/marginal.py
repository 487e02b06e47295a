"""What each item of a plan buys: the people (and expected cases) one allocation row newly brings within its
service's threshold, given the rest of the plan, computed from the coverage matrices without re-solving.

Row r places a resource at site j; it serves one service v (`row_service`: a GP, a village doctor or an opened
site serve primary care, equipment its own service, a center designation its center). Its contribution is

    newly_covered_people[r] = covered_v(plan) - covered_v(plan without r).

Whether a site provides a service depends only on that site's own provision (`plan.provision`), so removing r
can change service v at j alone, and a demand point i loses v exactly when j is its only provider of v within
the threshold T_v. With W_v[i, j] = [minutes_ij <= T_v], P_v[j] the full plan's provision and
n_i = sum_j W_v[i, j] P_v[j] the providers of point i, the people that site j alone covers are

    sole_v[j] = sum_i population_i [n_i = 1] W_v[i, j] P_v[j]      (one matrix product per service),

and row r's contribution is sole_v[j] when removing r stops j providing v, else 0 (one provision call per kind
of resource, with that resource taken out everywhere, answers this for every row); expected cases likewise with
each point's yearly cases of condition v. A GP row also lowers its township's GP shortage (people beyond the
target density): gp_shortage_reduced_people = shortage(GPs - q) - shortage(GPs). Contributions do not add up:
two rows that need each other (an opened site and the GP who staffs it) each count the people both bring.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping

import numpy as np
import pandas as pd

from allocopt.model.problem import Problem
from allocopt.plan import Plan, gp_shortage_people, provision
from allocopt.services import CENTERS, EQUIPMENT, PRIMARY_CARE, center_column

MARGINAL_COLUMNS = ("service", "newly_covered_people", "newly_covered_cases_per_year", "gp_shortage_reduced_people")
"""Columns `with_contributions` appends to an allocation table (docs/results.md)."""

_PRIMARY_CARE_RESOURCES = ("open_site", "gp", "village_doctor")
_KNOWN_RESOURCES = frozenset({*_PRIMARY_CARE_RESOURCES, *EQUIPMENT, *(center_column(s) for s in CENTERS)})


def row_service(resource: str) -> str:
    """The service an allocation row's resource provides (primary care for sites, GPs and village doctors)."""
    if resource in _PRIMARY_CARE_RESOURCES:
        return PRIMARY_CARE
    if resource in EQUIPMENT:
        return resource
    return next((s for s in CENTERS if center_column(s) == resource), resource)


def with_contributions(problem: Problem, plan: Plan, allocations: pd.DataFrame) -> pd.DataFrame:
    """`allocations` (rows of `results.allocation_table` for `plan`) with MARGINAL_COLUMNS appended; rows of
    resources this module does not know (added by other model parts) get empty figures."""
    provided = provision(problem, plan)
    position = {site: j for j, site in enumerate(problem.site_ids)}
    sole_people: dict[str, np.ndarray] = {}
    sole_cases: dict[str, np.ndarray] = {}
    for v in problem.services:
        yearly = problem.demand_cases.get(v)
        sums = _sole_coverage(problem, v, provided[v],
                              [problem.demand_population, *([] if yearly is None else [np.asarray(yearly, float)])])
        sole_people[v] = sums[0]
        if yearly is not None:
            sole_cases[v] = sums[1]
    township_gps = _township_gps(problem, plan)
    # Provision at a site depends on that site's decisions alone, so taking a resource out at every site at
    # once gives, at each site, its provision without that row: one `provision` call per resource.
    without = {r: provision(problem, _without(plan, r)) for r in set(map(str, allocations["resource"]))
               if r in _KNOWN_RESOURCES}
    people, cases, shortage = [], [], []
    for site_id, resource, quantity in zip(allocations["site_id"], allocations["resource"], allocations["quantity"],
                                           strict=True):
        j, v = position[site_id], row_service(str(resource))
        if str(resource) not in _KNOWN_RESOURCES:  # a resource of another model part: no contribution defined here
            people.append(float("nan"))
            cases.append(float("nan"))
            shortage.append(float("nan"))
            continue
        lost = bool(v in sole_people and provided[v][j] and not without[str(resource)][v][j])
        people.append(float(sole_people[v][j]) if lost else 0.0)
        cases.append((float(sole_cases[v][j]) if lost else 0.0) if v in sole_cases else float("nan"))
        shortage.append(_shortage_reduced(problem, township_gps, j, int(quantity)) if resource == "gp" else 0.0)
    return allocations.assign(service=[row_service(str(r)) for r in allocations["resource"]],
                              newly_covered_people=np.asarray(people, dtype=float),
                              newly_covered_cases_per_year=np.asarray(cases, dtype=float),
                              gp_shortage_reduced_people=np.asarray(shortage, dtype=float))


def _sole_coverage(problem: Problem, service: str, providers: np.ndarray,
                   weights: list[np.ndarray]) -> list[np.ndarray]:
    """Per site, for each of `weights` (population, yearly cases): the sum over the demand points that the site
    alone covers for `service` (0 where it does not provide the service)."""
    columns = np.flatnonzero(providers)
    if columns.size == 0:
        return [np.zeros(len(providers)) for _ in weights]
    within = problem.minutes[:, columns] <= problem.scenario.thresholds_minutes[service]
    alone = within.sum(axis=1) == 1
    site = columns[within[alone].argmax(axis=1)]  # the one provider of each such point
    return [np.bincount(site, weights=np.asarray(w, dtype=float)[alone], minlength=len(providers)) for w in weights]


def _without(plan: Plan, resource: str) -> Plan:
    """`plan` with `resource` taken out at every site."""
    def dropped(values: np.ndarray) -> np.ndarray:
        return np.zeros_like(values)

    if resource == "open_site":
        return dataclasses.replace(plan, opened=dropped(plan.opened))
    if resource == "gp":
        return dataclasses.replace(plan, added_gps=dropped(plan.added_gps))
    if resource == "village_doctor":
        return dataclasses.replace(plan, added_village_doctors=dropped(plan.added_village_doctors))
    if resource in EQUIPMENT:
        return dataclasses.replace(plan, added_equipment=_replaced(plan.added_equipment, resource, dropped))
    center = row_service(resource)
    return dataclasses.replace(plan, new_centers=_replaced(plan.new_centers, center, dropped))


def _replaced(arrays: Mapping[str, np.ndarray], key: str,
              change: Callable[[np.ndarray], np.ndarray]) -> dict[str, np.ndarray]:
    return {k: (change(a) if k == key else a) for k, a in arrays.items()}


def _township_gps(problem: Problem, plan: Plan) -> np.ndarray:
    inside = problem.site_township >= 0
    return np.bincount(problem.site_township[inside],
                       weights=(problem.existing_gps + plan.added_gps)[inside].astype(float),
                       minlength=len(problem.township_ids))


def _shortage_reduced(problem: Problem, township_gps: np.ndarray, site: int, quantity: int) -> float:
    """People of the site's township who lose their GP shortage with the row's `quantity` GPs."""
    t = int(problem.site_township[site])
    if t < 0:
        return 0.0
    population = problem.township_population[t:t + 1]
    target = problem.scenario.gp_target_per_10k
    without = gp_shortage_people(population, township_gps[t:t + 1] - quantity, target)
    return float(without[0] - gp_shortage_people(population, township_gps[t:t + 1], target)[0])
