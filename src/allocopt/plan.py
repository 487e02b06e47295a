"""A plan's integer decisions per site, and what each site provides once the plan is carried out.

Below both the results (`allocopt.results`) and the marginal contributions (`allocopt.marginal`), which read a
plan's provision without depending on each other.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

import numpy as np
import pulp

from allocopt.model.problem import PER_10K, Problem
from allocopt.services import CENTERS, EQUIPMENT, PRIMARY_CARE, first_contact

if TYPE_CHECKING:
    from allocopt.model.allocation import AllocationModel


@dataclass(frozen=True)
class Plan:
    """The integer decisions of a solution, per site (arrays aligned with `Problem.site_ids`)."""

    opened: np.ndarray
    added_gps: np.ndarray
    added_equipment: Mapping[str, np.ndarray]
    new_centers: Mapping[str, np.ndarray]
    added_village_doctors: np.ndarray
    tier_centers: Mapping[str, np.ndarray] = field(default_factory=dict)
    """Sites a plan gives a tier of a pathway condition (`[pathways]`): centers of the ring report, costed as tiers."""

    @classmethod
    def empty(cls, problem: Problem) -> Plan:
        """The plan that changes nothing (today's provision)."""
        n = len(problem.site_ids)
        return cls(np.zeros(n, dtype=bool), np.zeros(n, dtype=np.int64),
                   {k: np.zeros(n, dtype=np.int64) for k in EQUIPMENT}, {s: np.zeros(n, dtype=bool) for s in CENTERS},
                   np.zeros(n, dtype=np.int64))

    @classmethod
    def from_model(cls, m: AllocationModel) -> Plan:
        """The decisions held by the solved model's variables, rounded to whole numbers."""
        position = {site: j for j, site in enumerate(m.problem.site_ids)}
        plan = cls.empty(m.problem)
        for site, var in m.open.items():
            plan.opened[position[site]] = _whole(var) >= 1
        for site, var in m.gp.items():
            plan.added_gps[position[site]] = _whole(var)
        for site, var in m.vd.items():
            plan.added_village_doctors[position[site]] = _whole(var)
        for (site, k), var in m.eq.items():
            plan.added_equipment[k][position[site]] = _whole(var)
        for (site, s), var in m.ctr.items():
            plan.new_centers[s][position[site]] = _whole(var) >= 1
        if m.pathways is None:
            return plan
        tiers: dict[str, np.ndarray] = {}
        for (site, s, _), var in m.pathways.hold.items():
            tiers.setdefault(s, np.zeros(len(position), dtype=bool))[position[site]] |= _whole(var) >= 1
        return replace(plan, tier_centers=tiers)


def provision(problem: Problem, plan: Plan) -> dict[str, np.ndarray]:
    """Boolean per site and service: the site provides the service once `plan` is carried out.

    Primary care: an open first-contact point (`services.first_contact`: a health center, or a clinic with a GP or
    a village doctor; a grassroots site with a GP under `primary_care.provider = "gp"`); equipment: an open site
    with a unit; centers: an open site with the designation or (`[pathways]`) a tier of the condition. Existing
    sites are open; candidates are open when the plan opens them.
    """
    is_open = ~problem.is_candidate | plan.opened
    contact = first_contact(problem.site_level, problem.existing_gps + plan.added_gps,
                            problem.existing_village_doctors + plan.added_village_doctors,
                            problem.scenario.primary_care_provider)
    result = {PRIMARY_CARE: is_open & contact}
    for k in EQUIPMENT:
        result[k] = is_open & (problem.existing_equipment[k] + plan.added_equipment[k] >= 1)
    for s in CENTERS:
        result[s] = is_open & (problem.existing_centers[s] | plan.new_centers[s] | plan.tier_centers.get(s, False))
    return result


def gp_shortage_people(population: np.ndarray, gps: np.ndarray, target_per_10k: float) -> np.ndarray:
    """People left without a GP at the target density: max(0, P - GPs * 10,000 / target); 0 without a target."""
    if target_per_10k <= 0:
        return np.zeros(len(population))
    return np.maximum(0.0, population - gps * PER_10K / target_per_10k)


def _whole(var: pulp.LpVariable) -> int:
    return round(float(var.varValue or 0.0))
