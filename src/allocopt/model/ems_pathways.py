"""The coupling of the 120 ambulance and pathway families: a 120 pathway needs an ambulance that arrives in time.

Without `[ems]` a point's response R_i is today's (the nearest staffed station, or the scenario's figure) and every
generated 120 pathway assumes it. With `[ems]` and `[pathways]`, pathways are generated with the best response any
plan can give (`pathways.best_response_minutes`: the nearest station staffed today or able to receive an
ambulance) and each 120 pathway k of point i gets its slack: the slowest response r_k that keeps it within both
windows (`pathways.max_response_minutes`). Notation: R_i today's response, I_i the improving stations of i (no
ambulance today, room for one, response r_ij < R_i), sorted by r_ij; amb[j] the ambulances added at j
(`model.ems`).

    level of k       n_k = |{j in I_i : r_ij <= r_k}|, 0 when R_i <= r_k (today's stations suffice)
    station set      S_ik = the n_k first stations of I_i (a prefix: nested levels, one per distinct n_k)
    staffed[S] in [0, 1] <= sum_{j in S} amb[j]      (amb[j] integer, so staffed[S] = 1 only if some j in S
                                                       holds an ambulance; a candidate's amb[j] <= M_j amb_open[j])
    availability     pathway k is available only if staffed[S_ik] (one more literal of its conjunction)

Levels exist only where a station improves on today's response and the improvement changes which pathways are
within the windows (pathways are generated only when timely at the best response, and n_k counts only the stations
that matter); points with the same station set share one staffed variable, as reach sets do in `model.ems`. With
n_k = 0 for every pathway (no `[ems]`, or no improving station) the coupling adds nothing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pulp

from allocopt.model.problem import Problem
from allocopt.pathway_settings import ConditionSettings
from allocopt.pathways import Pathways, max_response_minutes, response_minutes

if TYPE_CHECKING:
    from allocopt.model.allocation import AllocationModel

_EPS_MINUTES = 1e-6
"""Rounding slack when comparing a pathway's slack with a station's response."""
_BLOCK = 200_000
"""Pathways whose levels are counted at once (memory: block x stations booleans)."""


def improving_responses(p: Problem) -> np.ndarray:
    """(points x stations) response minutes of the stations that may improve each point's response (no ambulance
    today, room for one, faster than today's response); inf elsewhere. All inf without `[ems]` or `[pathways]`."""
    data, pathways = p.ems, p.pathways
    if data is None or pathways is None:
        return np.full((len(p.demand_ids), 0), np.inf)
    response = data.inputs.response_minutes(data.settings)
    can_add = (np.asarray(data.inputs.ambulances) == 0) & (data.max_added > 0)
    today = response_minutes(p, pathways.settings)
    return np.where(can_add[None, :] & (response < today[:, None] - _EPS_MINUTES), response, np.inf)


def station_levels(p: Problem, pw: Pathways, c: ConditionSettings, improving: np.ndarray) -> np.ndarray:
    """Per pathway, the number n_k of improving stations within its slack (0: no station needed); -1 where it
    needs a faster response than any station gives (never timely, dropped)."""
    levels = np.zeros(len(pw), dtype=np.int64)
    if not improving.shape[1] or pw.point.size == 0:
        return levels
    assert p.pathways is not None
    slack = max_response_minutes(pw, c, p.pathways.settings.on_scene_minutes)
    today = response_minutes(p, p.pathways.settings)
    for start in range(0, len(pw), _BLOCK):
        rows = slice(start, start + _BLOCK)
        points, allowed = pw.point[rows], slack[rows] + _EPS_MINUTES
        needed = (pw.arrival[rows] == 0) & (today[points] > allowed)
        count = (improving[points] <= allowed[:, None]).sum(axis=1)
        levels[rows] = np.where(needed, np.where(count > 0, count, -1), 0)
    return levels


def staffed_var(m: AllocationModel, p: Problem, improving: np.ndarray, point: int, level: int,
                shared: dict[tuple[int, ...], pulp.LpVariable]) -> pulp.LpVariable | None:
    """staffed[S] for the first `level` improving stations of `point` (None for level 0), shared across points."""
    if level <= 0:
        return None
    assert p.ems is not None and m.ems is not None
    order = np.argsort(improving[point], kind="stable")[:level]
    stations = tuple(sorted(int(j) for j in order))
    if stations not in shared:
        ids = [p.ems.inputs.station_ids[j] for j in stations]
        var = shared[stations] = m.var("amb_staffed", (ids[0], str(len(shared))), upper=1)
        m.constrain("amb_staffed", (ids[0], str(len(shared))),
                    [(var, 1.0), *((m.ems.amb[s], -1.0) for s in ids)], pulp.LpConstraintLE, 0.0)
    return shared[stations]
