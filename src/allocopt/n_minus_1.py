"""n-1 coverage: the `[n_minus_1]` scenario section, the coverage sets of every single road failure, and how a
plan holds up under them.

A demand point *keeps* a service under n-1 when a site providing it lies within the service's threshold in
normal conditions and still does when any one road line (segment) of the chosen set is closed. The sets come
from `allocopt.failure_coverage` (road network, exact speed-up of `allocopt.vulnerability`); the constraint
family is `model.n_minus_1.add_n_minus_1`. Section (docs/closures.md; defaults and their sources in
docs/scenario.md):

    [n_minus_1]
    services = ["primary_care", "stroke"]           # default: every service
    road_classes = ["national", "provincial", "county"]   # the segments that may fail (default: these three)
    roads = ["r0123"]                               # or (also) road ids of the roads layer
    mode = "soft"                                   # "hard": required; "soft": counted in the gap (default)
    weight = 1.0                                    # soft: weight of the people lost in the worst failure, (0, 1]
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray
from scipy import sparse

from allocopt.errors import ScenarioError
from allocopt.schema import ROAD_CLASSES
from allocopt.services import SERVICES

if TYPE_CHECKING:
    from allocopt.model.problem import Problem

MODES: tuple[str, ...] = ("hard", "soft")
"""`hard`: every demand point some eligible site can serve under every single failure must keep the service;
`soft`: the people who lose it in the worst single failure count in the gap objective."""

DEFAULT_ROAD_CLASSES: tuple[str, ...] = ("national", "provincial", "county")
"""The trunk network a county plans around: national, provincial and county roads (国道, 省道, 县道)."""

_KEYS = ("services", "road_classes", "roads", "mode", "weight")

TABLE_COLUMNS = ("service", "road_id", "road_class", "points_losing_before", "people_losing_before",
                 "points_losing_after", "people_losing_after")
"""Columns of n_minus_1.csv: per service and failing segment, the demand points (and residents) that are covered
in normal conditions and lose the service when the segment fails, today and with the plan."""


@dataclass(frozen=True)
class NMinus1:
    """The `[n_minus_1]` settings: services, the segments that may fail (by class and/or id), mode, weight.

    `road_classes` is None when the file leaves it out: then DEFAULT_ROAD_CLASSES fail (those of them the region
    has), or with `roads` given, no class."""

    services: tuple[str, ...] = SERVICES
    road_classes: tuple[str, ...] | None = None
    roads: tuple[str, ...] = ()
    mode: str = "soft"
    weight: float = 1.0

    @property
    def failing_classes(self) -> tuple[str, ...]:
        """The road classes whose segments may fail."""
        if self.road_classes is not None:
            return self.road_classes
        return () if self.roads else DEFAULT_ROAD_CLASSES


def parse_n_minus_1(value: Any) -> NMinus1:
    """The `[n_minus_1]` table, checked; ScenarioError naming the key otherwise. Giving `roads` alone chooses
    those segments only (road_classes then defaults to none)."""
    if not isinstance(value, Mapping):
        raise ScenarioError("key 'n_minus_1' must be a table: [n_minus_1]")
    unknown = [key for key in value if key not in _KEYS]
    if unknown:
        raise ScenarioError(f"[n_minus_1]: unknown key {unknown[0]!r}; known keys: {', '.join(_KEYS)}")
    services = _texts(value.get("services", list(SERVICES)), "services", SERVICES)
    road_classes = (_texts(value["road_classes"], "road_classes", ROAD_CLASSES) if "road_classes" in value
                    else None)
    roads = _texts(value.get("roads", []), "roads", None)
    if not services:
        raise ScenarioError("[n_minus_1], key 'services': name at least one service")
    if road_classes == () and not roads:
        raise ScenarioError("[n_minus_1]: no segment may fail; give road_classes = [...] or roads = [ids]")
    mode = value.get("mode", "soft")
    if mode not in MODES:
        raise ScenarioError(f"[n_minus_1], key 'mode': {mode!r} is not one of {', '.join(MODES)}")
    weight = value.get("weight", 1.0)
    if isinstance(weight, bool) or not isinstance(weight, int | float) or not (
            math.isfinite(weight) and 0 < weight <= 1):
        raise ScenarioError(f"[n_minus_1], key 'weight' must be a number above 0 and at most 1, got {weight!r}")
    if "weight" in value and mode == "hard":
        raise ScenarioError("[n_minus_1], key 'weight' applies to mode = \"soft\" only; drop it or set the mode")
    return NMinus1(services=services, road_classes=road_classes, roads=roads, mode=mode, weight=float(weight))


def n_minus_1_to_dict(settings: NMinus1) -> dict[str, Any]:
    """The settings in the TOML layout (for summaries and audit)."""
    return {"services": list(settings.services), "road_classes": list(settings.failing_classes),
            "roads": list(settings.roads), "mode": settings.mode, "weight": settings.weight}


def _texts(value: Any, key: str, allowed: tuple[str, ...] | None) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise ScenarioError(f"[n_minus_1], key {key!r} must be a list of text values in quotes, got {value!r}")
    bad = [item for item in value if allowed is not None and item not in allowed]
    if bad:
        raise ScenarioError(f"[n_minus_1], key {key!r}: {bad[0]!r} is not one of {', '.join(allowed or ())}")
    return tuple(dict.fromkeys(value))


@dataclass(frozen=True, eq=False)
class FailureSets:
    """The coverage sets of the chosen segments' single failures, for the rows they change.

    `segment_ids` and `segment_classes` describe the chosen segments (roads layer ids). Per service v, row r is
    an affected (demand point, segment) pair: `point[v][r]` (position in `Problem.demand_ids`), `segment[v][r]`
    (position in `segment_ids`) and `lost[v]` row r, the sites that may provide v (`Problem.can_provide`) within
    T_v in normal conditions and beyond it with the segment closed (never empty; `kept` gives the sites left).
    Pairs whose set the failure leaves unchanged have no row. `searches` and `full_recompute_searches` count the
    shortest-path searches run against a full recompute per segment.
    """

    settings: NMinus1
    segment_ids: tuple[str, ...]
    segment_classes: tuple[str, ...]
    point: Mapping[str, NDArray[np.int64]]
    segment: Mapping[str, NDArray[np.int64]]
    lost: Mapping[str, sparse.csr_array]
    searches: int
    full_recompute_searches: int

    @property
    def services(self) -> tuple[str, ...]:
        """The services n-1 coverage applies to."""
        return tuple(self.point)

    def kept(self, p: Problem, service: str) -> sparse.csr_array:
        """Per row, the sites that may provide `service` still within T_v with the segment closed: the point's set
        in normal conditions (`Problem.cover_sets`) less the lost sites; (rows x sites), sorted indices."""
        normal = sparse.csr_array(p.cover_sets[service][p.unit_of_demand[self.point[service]]], dtype=np.int8)
        kept = sparse.csr_array(normal - sparse.csr_array(self.lost[service], dtype=np.int8))
        kept.eliminate_zeros()
        kept.sort_indices()
        return sparse.csr_array(kept, dtype=bool)

    def unservable(self, p: Problem, service: str) -> NDArray[np.bool_]:
        """Boolean per demand point: some eligible site is within T_v in normal conditions, but none under some
        single failure (what no plan can fix: reported, never required)."""
        normal = np.diff(p.cover_sets[service].indptr)[p.unit_of_demand[self.point[service]]]
        empty = np.diff(self.lost[service].indptr) == normal
        out = np.zeros(len(p.demand_ids), dtype=bool)
        out[self.point[service][empty]] = True
        return out


@dataclass(frozen=True)
class NMinus1Result:
    """How today's network and the plan hold up under every single failure: `summary` per service, `table` per
    service and failing segment (TABLE_COLUMNS)."""

    settings: NMinus1
    summary: Mapping[str, Mapping[str, Any]]
    table: pd.DataFrame
    worst_lost_after: Mapping[str, float]
    """Per service, the people-equivalents (`Problem.demand_weight`) who lose it in the plan's worst single
    failure: z_v of the soft mode (`model.n_minus_1`)."""

    def gap_term(self, weights: Mapping[str, float]) -> float:
        """What soft n-1 adds to the weighted gap: weight * sum_v a_v z_v (0 in hard mode)."""
        if self.settings.mode != "soft":
            return 0.0
        return self.settings.weight * sum(weights[v] * lost for v, lost in self.worst_lost_after.items())

    def overview(self) -> pd.DataFrame:
        """One row per service: residents covered and keeping it under every single failure, before and after,
        the segments still breaking it and the residents no plan can keep (for the command's table)."""
        return pd.DataFrame([
            {"service": v, "people_covered_after": s["people_covered_after"],
             "people_keeping_before": s["people_keeping_before"], "people_keeping_after": s["people_keeping_after"],
             "segments_breaking_after": len(s["segments_breaking_after"]),
             "people_no_plan_can_keep": s["people_no_plan_can_keep"]}
            for v, s in self.summary.items()
        ])

    def to_summary(self) -> dict[str, Any]:
        """The figures for summary.json's `n_minus_1`."""
        return {"settings": n_minus_1_to_dict(self.settings), "services": {v: dict(s) for v, s in self.summary.items()}}


def n_minus_1_result(sets: FailureSets, p: Problem, before: Mapping[str, NDArray[np.bool_]],
                     after: Mapping[str, NDArray[np.bool_]]) -> NMinus1Result:
    """Recompute, from the sets and the providing sites `before` and `after` the plan (boolean per site and
    service, `plan.provision`), who keeps each service under every single failure and which segments still
    break it."""
    summary, tables, worst = {}, [], {}
    for v in sets.services:
        normal = p.cover_sets[v][p.unit_of_demand]
        kept = sets.kept(p, v)
        rows: dict[str, Any] = {}
        losing = {}
        for label, providing in (("before", before[v]), ("after", after[v])):
            covered = np.asarray(normal @ providing.astype(np.int64)) > 0
            kept_row = np.asarray(kept @ providing.astype(np.int64)) > 0
            lost = covered[sets.point[v]] & ~kept_row
            losing[label] = lost
            keeps = covered.copy()
            keeps[sets.point[v][lost]] = False
            rows[f"points_covered_{label}"] = int(covered.sum())
            rows[f"people_covered_{label}"] = float(p.demand_population[covered].sum())
            rows[f"points_keeping_{label}"] = int(keeps.sum())
            rows[f"people_keeping_{label}"] = float(p.demand_population[keeps].sum())
        table = _segment_table(sets, p, v, losing)
        weighted = np.bincount(sets.segment[v][losing["after"]], minlength=len(sets.segment_ids),
                               weights=p.demand_weight[v][sets.point[v][losing["after"]]])
        worst[v] = float(weighted.max(initial=0.0))
        rows["segments_breaking_after"] = table.loc[table["points_losing_after"] > 0, "road_id"].tolist()
        unservable = sets.unservable(p, v)
        rows["points_no_plan_can_keep"] = [p.demand_ids[i] for i in np.flatnonzero(unservable)]
        rows["people_no_plan_can_keep"] = float(p.demand_population[unservable].sum())
        summary[v] = rows
        tables.append(table)
    table = pd.concat(tables, ignore_index=True) if tables else pd.DataFrame(columns=list(TABLE_COLUMNS))
    return NMinus1Result(settings=sets.settings, summary=summary, table=table, worst_lost_after=worst)


def _segment_table(sets: FailureSets, p: Problem, v: str, losing: Mapping[str, NDArray[np.bool_]]) -> pd.DataFrame:
    """Per segment whose failure takes v from someone (today or with the plan): points and people losing it,
    most people after the plan first."""
    n = len(sets.segment_ids)
    people = p.demand_population[sets.point[v]]
    columns: dict[str, Any] = {}
    for label, lost in losing.items():
        columns[f"points_losing_{label}"] = np.bincount(sets.segment[v][lost], minlength=n).astype(np.int64)
        columns[f"people_losing_{label}"] = np.bincount(sets.segment[v][lost], weights=people[lost], minlength=n)
    frame = pd.DataFrame({"service": v, "road_id": list(sets.segment_ids), "road_class": list(sets.segment_classes),
                          **columns})
    frame = frame[(frame["points_losing_before"] > 0) | (frame["points_losing_after"] > 0)]
    frame = frame.sort_values(["people_losing_after", "people_losing_before", "road_id"],
                              ascending=[False, False, True], kind="stable")
    return frame[list(TABLE_COLUMNS)].reset_index(drop=True)
