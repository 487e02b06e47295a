"""Care pathways for chest pain, stroke and trauma: tier eligibility per site and pathways generated from travel times.

A pathway takes a patient of demand point i to a first door d and, unless d treats definitively, on to a center e.
Patients who call 120 (share 1 - s) wait the ambulance response R_i and the on-scene time S and may be taken to any
door; the others (share s) come by themselves after a delay D to their nearest door d0(i) (of the self-presentation
levels, plan-independent). With t the travel minutes, L and U the lower and upper tier, Q_x door-to-treatment at
tier x, O the door-in-door-out time, T the telemedicine saving (on O and Q_L, at a door with a terminal):

    mother-ship   (120, e holds U):               first = R_i + S + t_ie + min(Q_L, Q_U)            <= W
                                                  total = R_i + S + t_ie + Q_U                      <= W_ship
    drip-and-ship (120, d holds L, e holds U):    first = R_i + S + t_id + Q_L                      <= W
                                                  total = R_i + S + t_id + O + t_de + Q_U           <= W_ship
    direct        (self, d0 holds U):             as mother-ship with D + t_id0
    drip-and-ship (self, d0 holds L, e holds U):  as drip-and-ship with D + t_id0
    transfer      (self, e holds U, e != d0):     first = total = D + t_id0 + O + t_d0e + Q_U       <= W

A center of the upper tier holds the lower one, so it treats first with the faster of the two (lysis, then PCI or
thrombectomy in house); drip-and-ship always transfers (d != e).
Pathways beyond the windows are never generated. Everything is vectorised over (points x doors x centers) in blocks
of points, so memory stays bounded at city scale; no Python loop runs over single pathways.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from allocopt.errors import DataError, ScenarioError
from allocopt.pathway_settings import ConditionSettings, PathwaySettings, TierSettings
from allocopt.services import HOSPITAL_LEVELS
from allocopt.travel import MatrixLike, TravelMatrix, aligned_minutes, travel_times

if TYPE_CHECKING:
    from pathlib import Path

    from allocopt.model.problem import Problem
    from allocopt.network import RoadNetwork
    from allocopt.regions import Region

KINDS: tuple[str, ...] = ("mother_ship", "drip_and_ship", "direct", "transfer")
"""Pathway kinds (see the module docstring)."""
ARRIVALS: tuple[str, ...] = ("ems", "self")
"""How the patient reaches the first door: a 120 ambulance, or by themselves."""
LOWER, UPPER, NONE = 0, 1, -1
"""Tier codes of a pathway's requirements (NONE: the first door needs no tier)."""

_BLOCK_CELLS = 4_000_000
"""Most (point x door x center) cells evaluated at once."""


@dataclass(frozen=True, eq=False)
class PathwayInputs:
    """What pathways need beyond a problem's arrays: the central-health-center flag per site and the site x site
    travel minutes (first door -> center; inf where not computed or unreachable)."""

    site_central: np.ndarray
    transfer_minutes: np.ndarray


@dataclass(frozen=True, eq=False)
class PathwayData:
    """Pathway pre-processing of a problem: per condition the (lower, upper) sites that hold the tier today and those
    that do or could after some plan; the telemedicine-eligible sites; each point's self-presentation door."""

    settings: PathwaySettings
    transfer_minutes: np.ndarray
    holds_now: Mapping[str, tuple[np.ndarray, np.ndarray]]
    can_hold: Mapping[str, tuple[np.ndarray, np.ndarray]]
    tele_eligible: np.ndarray
    self_door: np.ndarray


@dataclass(frozen=True, eq=False)
class Pathways:
    """Generated pathways of one condition, one entry per pathway (arrays of equal length).

    `door_tier` is LOWER or NONE (the first door's requirement; UPPER for a self-presenter's direct pathway),
    `center` the site that treats definitively (its requirement is UPPER); `tele` marks pathways that need a
    terminal at the door (they use its saving)."""

    condition: str
    point: np.ndarray
    arrival: np.ndarray
    kind: np.ndarray
    door: np.ndarray
    center: np.ndarray
    door_tier: np.ndarray
    tele: np.ndarray
    pre_minutes: np.ndarray
    transport_minutes: np.ndarray
    door_in_door_out_minutes: np.ndarray
    transfer_minutes: np.ndarray
    door_to_treatment_minutes: np.ndarray
    first_treatment_minutes: np.ndarray
    total_minutes: np.ndarray
    within_window: np.ndarray

    def __len__(self) -> int:
        return len(self.point)

    def take(self, rows: np.ndarray) -> Pathways:
        """The pathways at `rows` (positions or a boolean mask)."""
        return Pathways(self.condition, *(getattr(self, f)[rows] for f in _FIELDS))


def transfer_matrix(region: Region, network: RoadNetwork, *, cache_dir: Path | None = None) -> TravelMatrix:
    """Minutes from every site to every site (rows and columns in `region.sites` order): first door -> center."""
    sites = region.sites
    ids = tuple(str(i) for i in sites["id"])
    return travel_times(network, sites.geometry, sites.geometry, origin_ids=ids, destination_ids=ids,
                        access_speed_kmh=region.access_speed_kmh, cache_dir=cache_dir)


def region_pathway_inputs(sites: pd.DataFrame, transfer_matrix: MatrixLike | None) -> PathwayInputs:
    """Central flags and site x site minutes of a region's sites, aligned by ID."""
    if transfer_matrix is None:
        raise DataError("the scenario's [pathways] table needs site-to-site travel times; compute them with "
                        "pathways.transfer_matrix and pass transfer_matrix")
    site_ids = [str(i) for i in sites["id"]]
    central = (sites["central"].fillna(False).to_numpy(dtype=bool) if "central" in sites.columns
               else np.zeros(len(sites), dtype=bool))
    return PathwayInputs(site_central=central,
                         transfer_minutes=aligned_minutes(transfer_matrix, site_ids, site_ids, layers=("site", "site")))


def prepare_pathways(problem: Problem, inputs: PathwayInputs | None) -> PathwayData:
    """PathwayData of a problem whose scenario has `[pathways]`; DataError without inputs, ScenarioError for a tier
    that needs equipment no site may hold."""
    settings = problem.scenario.pathways
    assert settings is not None, "prepare_pathways needs a scenario with [pathways]"
    if inputs is None:
        raise DataError("the scenario's [pathways] table needs site-to-site travel times; build the problem with "
                        "pathway inputs (build_problem(..., transfer_matrix=...))")
    n_sites = len(problem.site_ids)
    if inputs.transfer_minutes.shape != (n_sites, n_sites) or len(inputs.site_central) != n_sites:
        raise DataError(f"pathway inputs: transfer minutes of shape {inputs.transfer_minutes.shape} and "
                        f"{len(inputs.site_central)} central flags for {n_sites} sites; align them with the sites")
    level = np.asarray(problem.site_level, dtype=object)
    tele = _at_levels(level, settings.telemedicine.levels)
    holds_now, can_hold = {}, {}
    for c in settings.conditions:
        lower_can = _tier_eligible(problem, c.lower, inputs.site_central, tele, f"pathways.{c.name}")
        upper_can = _tier_eligible(problem, c.upper, inputs.site_central, tele, f"pathways.{c.name}")
        lower_can |= upper_can
        upper_now, lower_now = _holds_today(problem, c)
        holds_now[c.name] = (lower_now | upper_now, upper_now)
        can_hold[c.name] = (lower_can | lower_now | upper_now, upper_can | upper_now)
    return PathwayData(settings=settings, transfer_minutes=inputs.transfer_minutes, holds_now=holds_now,
                       can_hold=can_hold, tele_eligible=tele, self_door=_self_doors(problem, settings))


def response_minutes(p: Problem, settings: PathwaySettings) -> np.ndarray:
    """Ambulance response per demand point: from the stations (`Problem.ems_response_minutes`) when known, else the
    scenario's `pathways.response_minutes`."""
    if p.ems_response_minutes is not None:
        return np.asarray(p.ems_response_minutes, dtype=float)
    return np.full(len(p.demand_ids), settings.response_minutes)


def best_response_minutes(p: Problem, settings: PathwaySettings) -> np.ndarray:
    """The fastest ambulance response any plan can give each point: with `[ems]` (the coupling of
    `model.ems_pathways`), the nearest station staffed today or able to receive an ambulance; else today's."""
    today = response_minutes(p, settings)
    data = p.ems
    if data is None:
        return today
    usable = (np.asarray(data.inputs.ambulances) > 0) | (data.max_added > 0)
    if not usable.any():
        return today
    return np.minimum(today, data.inputs.response_minutes(data.settings)[:, usable].min(axis=1))


def max_response_minutes(pw: Pathways, c: ConditionSettings, on_scene_minutes: float) -> np.ndarray:
    """Per pathway, the slowest ambulance response that keeps it within both windows (inf for self-presenters)."""
    slack = np.minimum(c.window_minutes - pw.first_treatment_minutes, c.ship_window_minutes - pw.total_minutes)
    return np.where(pw.arrival == 0, pw.pre_minutes - on_scene_minutes + slack, np.inf)


def _at_levels(level: np.ndarray, levels: tuple[str, ...]) -> np.ndarray:
    return np.isin(level, np.asarray(levels, dtype=object)) if len(level) else np.zeros(0, dtype=bool)


def _tier_eligible(p: Problem, tier: TierSettings, central: np.ndarray, tele: np.ndarray, key: str) -> np.ndarray:
    """Sites where `tier` may be designated: its levels and kinds (central health centers only with
    `central_only`), each required equipment present or placeable, a terminal placeable where required."""
    level = np.asarray(p.site_level, dtype=object)
    kind = np.asarray(p.site_hospital_kind, dtype=object)
    allowed = _at_levels(level, tier.levels) & ((kind == "") | np.isin(kind, np.asarray(tier.kinds, dtype=object)))
    if tier.central_only:
        allowed &= np.isin(level, np.asarray(HOSPITAL_LEVELS, dtype=object)) | central.astype(bool)
    for k in tier.requires:
        possible = (p.existing_equipment[k] >= 1) | p.eq_eligible[k]
        if not possible.any():
            raise ScenarioError(f"{p.scenario.source}: key '{key}.{tier.name}.requires' lists {k}, which no site "
                                f"has or may receive (see eligibility.equipment.{k}); allow {k} somewhere or drop "
                                "it from requires")
        allowed &= possible
    allowed &= ~_at_levels(level, tier.telemedicine_required_at) | tele
    return allowed


def _holds_today(p: Problem, c: ConditionSettings) -> tuple[np.ndarray, np.ndarray]:
    """Upper and lower tier of today: a site with the condition's center flag holds the highest tier whose
    equipment it has (the lower one otherwise)."""
    flagged = p.existing_centers[c.name] & ~p.is_candidate
    equipped = np.ones(len(flagged), dtype=bool)
    for k in c.upper.requires:
        equipped &= p.existing_equipment[k] >= 1
    return flagged & equipped, flagged & ~equipped


def _self_doors(p: Problem, settings: PathwaySettings) -> np.ndarray:
    """Per demand point, the nearest existing site of a self-presentation level (-1 where none is reachable)."""
    doors = np.flatnonzero(_at_levels(np.asarray(p.site_level, dtype=object), settings.self_presentation_levels)
                           & ~p.is_candidate)
    if not doors.size:
        return np.full(len(p.demand_ids), -1, dtype=np.int64)
    times = p.minutes[:, doors]
    nearest = np.argmin(times, axis=1)
    reachable = np.isfinite(times[np.arange(len(times)), nearest])
    return np.where(reachable, doors[nearest], -1).astype(np.int64)


def generate(p: Problem, data: PathwayData, condition: str, *, lower: np.ndarray, upper: np.ndarray,
             tele: np.ndarray, windowed: bool = True) -> Pathways:
    """The pathways of `condition` through sites that hold (or may hold) the lower tier (`lower`), the upper tier
    (`upper`) and a terminal (`tele`), all boolean per site. With `windowed`, only pathways within the windows;
    a terminal variant is generated only where it turns a pathway timely. Without `windowed` (a fixed plan), every
    pathway, using a terminal wherever the door has one."""
    c = data.settings.condition(condition)
    parts = [_ems(p, data, c, lower, upper, tele, windowed), _self(p, data, c, lower, upper, tele, windowed)]
    return Pathways(condition, *(np.concatenate([part[f] for part in parts]) for f in _FIELDS))


_FIELDS = ("point", "arrival", "kind", "door", "center", "door_tier", "tele", "pre_minutes", "transport_minutes",
           "door_in_door_out_minutes", "transfer_minutes", "door_to_treatment_minutes", "first_treatment_minutes",
           "total_minutes", "within_window")


def _ems(p: Problem, data: PathwayData, c: ConditionSettings, lower: np.ndarray, upper: np.ndarray,
         tele: np.ndarray, windowed: bool) -> dict[str, np.ndarray]:
    """Mother-ship and drip-and-ship pathways of patients brought by a 120 ambulance."""
    today = response_minutes(p, data.settings) + data.settings.on_scene_minutes
    pre = best_response_minutes(p, data.settings) + data.settings.on_scene_minutes if windowed else today
    points = np.arange(len(p.demand_ids))
    centers, doors = np.flatnonzero(upper), np.flatnonzero(lower)
    mother = _mother_ship(p, c, pre, points, centers, windowed)
    drip = _drip(p, data, c, pre, points, doors, centers, tele, windowed, arrival=0, pre_today=today)
    return _stack([mother, drip])


def _self(p: Problem, data: PathwayData, c: ConditionSettings, lower: np.ndarray, upper: np.ndarray,
          tele: np.ndarray, windowed: bool) -> dict[str, np.ndarray]:
    """Direct, drip-and-ship and transfer pathways of patients who come by themselves to their nearest door."""
    points = np.flatnonzero(data.self_door >= 0)
    door = data.self_door[points]
    pre = np.full(len(p.demand_ids), data.settings.self_delay_minutes)
    to_door = p.minutes[points, door]
    parts = [_at_center(c, pre, points[upper[door]], door[upper[door]], to_door[upper[door]], windowed,
                        arrival=1, kind="direct", door_tier=UPPER)]
    centers = np.flatnonzero(upper)
    for d0 in np.unique(door[lower[door]]):  # one door per point: a loop over doors, each a vectorised block
        parts.append(_drip(p, data, c, pre, points[door == d0], np.array([d0]), centers, tele, windowed,
                           arrival=1))
    parts.append(_transfer(p, data, c, pre, points, door, centers, tele, windowed))
    return _stack(parts)


def _mother_ship(p: Problem, c: ConditionSettings, pre: np.ndarray, points: np.ndarray, centers: np.ndarray,
                 windowed: bool) -> dict[str, np.ndarray]:
    to_center = p.minutes[np.ix_(points, centers)]
    i, e = np.nonzero(np.isfinite(to_center))
    return _at_center(c, pre, points[i], centers[e], to_center[i, e], windowed, arrival=0, kind="mother_ship",
                      door_tier=NONE)


def _at_center(c: ConditionSettings, pre: np.ndarray, points: np.ndarray, centers: np.ndarray,
               to_center: np.ndarray, windowed: bool, *, arrival: int, kind: str, door_tier: int
               ) -> dict[str, np.ndarray]:
    """Pathways straight to a center of the upper tier (pairs given as aligned arrays), which treats first with the
    faster of its tiers and definitively with the upper one."""
    arrive = pre[points] + to_center
    first = arrive + min(c.lower.door_to_treatment_minutes, c.upper.door_to_treatment_minutes)
    total = arrive + c.upper.door_to_treatment_minutes
    timely = (first <= c.window_minutes) & (total <= c.ship_window_minutes)
    keep = timely if windowed else np.isfinite(total)
    return _table(points[keep], arrival, kind, centers[keep], centers[keep], door_tier, False, pre[points[keep]],
                  to_center[keep], 0.0, 0.0, c.upper.door_to_treatment_minutes, first[keep], total[keep],
                  timely[keep])


def _variants(windowed: bool, tele_at: np.ndarray, saved: float) -> list[tuple[bool, np.ndarray]]:
    """(needs a terminal, minutes saved per door): for the MILP without and with a terminal; for a fixed plan the
    saving wherever the door has one."""
    if windowed:
        return [(False, np.zeros(tele_at.size)), (True, np.full(tele_at.size, saved))]
    return [(False, np.where(tele_at, saved, 0.0))]


def _drip(p: Problem, data: PathwayData, c: ConditionSettings, pre: np.ndarray, points: np.ndarray,
          doors: np.ndarray, centers: np.ndarray, tele: np.ndarray, windowed: bool, *,
          arrival: int, pre_today: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """Drip-and-ship through doors holding the lower tier to centers holding the upper one, in blocks of points.

    A terminal variant (windowed) is kept only where the pathway without one is not timely with the minutes before
    the door of today (`pre_today`, default `pre`): where a plan's new station makes it timely, the terminal
    variant still serves the plans without that station."""
    shift = np.zeros_like(pre) if pre_today is None else pre_today - pre
    parts = [_table(np.zeros(0, dtype=np.int64), arrival, "drip_and_ship", np.zeros(0), np.zeros(0), LOWER,
                    False, np.zeros(0), np.zeros(0), 0.0, 0.0, 0.0, np.zeros(0), np.zeros(0), np.zeros(0))]
    if not (points.size and doors.size and centers.size):
        return _stack(parts)
    other = doors[:, None] != centers[None, :]
    transfer = data.transfer_minutes[np.ix_(doors, centers)]
    block = max(1, _BLOCK_CELLS // (doors.size * centers.size))
    for start in range(0, points.size, block):
        rows = points[start:start + block]
        arrive = pre[rows][:, None] + p.minutes[np.ix_(rows, doors)]
        timely_without = np.zeros((rows.size, doors.size, centers.size), dtype=bool)
        for needs_tele, save in _variants(windowed, tele[doors], data.settings.telemedicine.minutes_saved):
            lysis = np.maximum(c.lower.door_to_treatment_minutes - save, 0.0)
            leave = np.broadcast_to(np.maximum(c.door_in_door_out_minutes - save, 0.0)[:, None], other.shape)
            first = arrive + lysis
            total = arrive[:, :, None] + leave[None] + transfer[None] + c.upper.door_to_treatment_minutes
            timely = (first <= c.window_minutes)[:, :, None] & (total <= c.ship_window_minutes)
            keep = other[None] & (timely if windowed else np.isfinite(total))
            if needs_tele:
                keep = keep & tele[doors][None, :, None] & ~timely_without
            late = shift[rows][:, None, None]
            timely_without = ((first[:, :, None] + late <= c.window_minutes)
                              & (total + late <= c.ship_window_minutes))
            i, d, e = np.nonzero(keep)
            used = np.full(i.size, needs_tele) | (save[d] > 0)
            parts.append(_table(rows[i], arrival, "drip_and_ship", doors[d], centers[e], LOWER, used,
                                pre[rows[i]], p.minutes[rows[i], doors[d]], leave[d, e], transfer[d, e],
                                c.upper.door_to_treatment_minutes, first[i, d], total[i, d, e], timely[i, d, e]))
    return _stack(parts)


def _transfer(p: Problem, data: PathwayData, c: ConditionSettings, pre: np.ndarray, points: np.ndarray,
              door: np.ndarray, centers: np.ndarray, tele: np.ndarray, windowed: bool) -> dict[str, np.ndarray]:
    """Self-presenters whose own door transfers them (without treating) to a center holding the upper tier."""
    to_door = p.minutes[points, door]
    transfer = data.transfer_minutes[np.ix_(door, centers)]
    other = door[:, None] != centers[None, :]
    parts = []
    timely_without = np.zeros((points.size, centers.size), dtype=bool)
    for needs_tele, save in _variants(windowed, tele[door], data.settings.telemedicine.minutes_saved):
        leave = np.maximum(c.door_in_door_out_minutes - save, 0.0)
        total = (pre[points] + to_door + leave)[:, None] + transfer + c.upper.door_to_treatment_minutes
        timely = total <= c.window_minutes
        keep = other & (timely if windowed else np.isfinite(total))
        if needs_tele:
            keep &= tele[door][:, None] & ~timely_without
        timely_without = timely
        i, e = np.nonzero(keep)
        used = np.full(i.size, needs_tele) | (save[i] > 0)
        parts.append(_table(points[i], 1, "transfer", door[i], centers[e], NONE, used, pre[points[i]], to_door[i],
                            leave[i], transfer[i, e], c.upper.door_to_treatment_minutes, total[i, e], total[i, e],
                            timely[i, e]))
    return _stack(parts)


def _table(point: np.ndarray, arrival: int, kind: str, door: np.ndarray, center: np.ndarray, door_tier: int,
           tele: bool | np.ndarray, pre: np.ndarray, transport: np.ndarray, dido: float | np.ndarray,
           transfer: float | np.ndarray, treatment: float, first: np.ndarray, total: np.ndarray,
           within: np.ndarray) -> dict[str, np.ndarray]:
    n = len(point)
    return {"point": np.asarray(point, dtype=np.int64), "arrival": np.full(n, arrival, dtype=np.int8),
            "kind": np.full(n, KINDS.index(kind), dtype=np.int8), "door": np.asarray(door, dtype=np.int64),
            "center": np.asarray(center, dtype=np.int64), "door_tier": np.full(n, door_tier, dtype=np.int8),
            "tele": np.broadcast_to(np.asarray(tele, dtype=bool), (n,)).copy(),
            "pre_minutes": np.broadcast_to(np.asarray(pre, dtype=float), (n,)).copy(),
            "transport_minutes": np.broadcast_to(np.asarray(transport, dtype=float), (n,)).copy(),
            "door_in_door_out_minutes": np.broadcast_to(np.asarray(dido, dtype=float), (n,)).copy(),
            "transfer_minutes": np.broadcast_to(np.asarray(transfer, dtype=float), (n,)).copy(),
            "door_to_treatment_minutes": np.full(n, treatment, dtype=float),
            "first_treatment_minutes": np.asarray(first, dtype=float).reshape(n),
            "total_minutes": np.asarray(total, dtype=float).reshape(n),
            "within_window": np.asarray(within, dtype=bool).reshape(n)}


def _stack(parts: list[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    return {f: np.concatenate([part[f] for part in parts]) if parts else np.zeros(0) for f in _FIELDS}
