"""Care pathways before and after a plan, recomputed from the plan's designations, terminals and ambulance stations.

For each demand point, condition and arrival (120 or self), the best pathway the state makes available is the
fastest timely one (both windows met), else the fastest of all (reported, not timely). Timely-treated cases and
the untreated people-equivalents (the `gap` objective's pathway term) follow from it, never from the model's flow
variables; `pathway_result` checks that the model claimed no more than the plan delivers.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pulp
import shapely

from allocopt.errors import SolverError
from allocopt.model.problem import Problem
from allocopt.pathways import ARRIVALS, KINDS, PathwayData, Pathways, generate, response_minutes

if TYPE_CHECKING:
    from allocopt.model.allocation import AllocationModel

STATES = ("before", "after")
_COMPONENTS = ("transport_minutes", "door_in_door_out_minutes", "transfer_minutes", "door_to_treatment_minutes",
               "first_treatment_minutes", "total_minutes")


@dataclass(frozen=True, eq=False)
class PathwayState:
    """Tiers held per site (`holds[condition] = (lower, upper)`) and terminals (`tele`), and what they give:
    `best[condition]`, the best pathway per (point, arrival) as a table (`pathway` "none" where nothing is
    available), and `untreated[condition]`, weighted people-equivalents not treated in time."""

    holds: Mapping[str, tuple[np.ndarray, np.ndarray]]
    tele: np.ndarray
    best: Mapping[str, pd.DataFrame]
    untreated: Mapping[str, float]

    @property
    def objective(self) -> float:
        """The pathway term of the `gap` objective."""
        return float(sum(self.untreated.values()))


@dataclass(frozen=True, eq=False)
class PathwayResult:
    """Pathways before and after a plan, the plan's tier and terminal rows (`allocations`, results' columns)."""

    before: PathwayState
    after: PathwayState
    allocations: pd.DataFrame
    table: pd.DataFrame
    conditions: tuple[str, ...]

    def summary(self) -> dict[str, Any]:
        """summary.json `pathways`: per condition timely-treated cases before and after, mean and 90th-percentile
        minutes to definitive treatment and mean minutes to the first treatment (case-weighted, over cases with any
        pathway), untreated people-equivalents, and timely cases per pathway kind beside the cases not timely."""
        result: dict[str, Any] = {}
        for c in self.conditions:
            entry: dict[str, Any] = {}
            for label, state in (("before", self.before), ("after", self.after)):
                best = state.best[c]
                cases = best["expected_cases"].to_numpy()
                timely = best["within_window"].to_numpy(dtype=bool)
                minutes = best["total_minutes"].to_numpy(dtype=float)
                first = best["first_treatment_minutes"].to_numpy(dtype=float)
                reached = np.isfinite(minutes)
                entry[f"expected_cases_{label}"] = float(cases.sum())
                entry[f"timely_cases_{label}"] = float(cases[timely].sum())
                entry[f"timely_share_{label}"] = (float(cases[timely].sum() / cases.sum()) if cases.sum() > 0
                                                  else None)
                entry[f"mean_minutes_{label}"] = (float(np.average(minutes[reached], weights=cases[reached]))
                                                  if cases[reached].sum() > 0 else None)
                entry[f"p90_minutes_{label}"] = _weighted_quantile(minutes[reached], cases[reached], 0.9)
                entry[f"mean_first_treatment_minutes_{label}"] = (
                    float(np.average(first[reached], weights=cases[reached])) if cases[reached].sum() > 0 else None)
                entry[f"untreated_people_equivalents_{label}"] = state.untreated[c]
                kinds = best["pathway"].to_numpy()
                entry[f"pathways_{label}"] = {kind: float(cases[timely & (kinds == kind)].sum()) for kind in KINDS}
                entry[f"pathways_{label}"]["not_timely"] = float(cases[~timely].sum())
            result[c] = entry
        return {"conditions": result, "telemedicine_sites_after": int(self.after.tele.sum())}


def pathway_result(m: AllocationModel, *, relative_tolerance: float) -> PathwayResult:
    """Pathways before and after the solved model's plan; SolverError when the model claims more treated cases
    than the plan delivers."""
    p = m.problem
    data = p.pathways
    pm = m.pathways
    assert data is not None and pm is not None, "pathway_result needs a model with [pathways]"
    holds = {}
    for c in data.settings.conditions:
        now = data.holds_now[c.name]
        holds[c.name] = tuple(now[x] | _chosen(pm.hold, p.site_ids, c.name, tier.name)
                              for x, tier in enumerate(c.tiers))
    tele = np.array([round(pm.tele[s].varValue or 0) >= 1 if s in pm.tele else False for s in p.site_ids])
    before = evaluate(p, data, data.holds_now, np.zeros(len(p.site_ids), dtype=bool))
    after = evaluate(_with_planned_stations(m), data, holds, tele)
    tolerance = relative_tolerance * max(1.0, p.total_population)
    for name, expression in pm.untreated.items():
        claimed = float(pulp.value(expression))
        if claimed < after.untreated[name] - tolerance:
            raise SolverError(f"the solver's plan does not deliver what the model claims (report this as a bug): "
                              f"{name} pathways: the model counts {claimed:,.1f} people-equivalents untreated, the "
                              f"plan leaves {after.untreated[name]:,.1f}")
    return PathwayResult(before, after, _allocations(p, data, before, after), _table(p, before, after),
                         tuple(c.name for c in data.settings.conditions))


def _with_planned_stations(m: AllocationModel) -> Problem:
    """The problem with the ambulance response of the plan's staffed stations (today's and added) when the model
    places ambulances, so 120 pathways after the plan use it; the problem unchanged otherwise."""
    p, e = m.problem, m.ems
    if p.ems is None or e is None:
        return p
    inputs = p.ems.inputs
    added = np.array([round(e.amb[s].varValue or 0) if s in e.amb else 0 for s in inputs.station_ids])
    return replace(p, ems_response_minutes=inputs.nearest_staffed_minutes(p.ems.settings,
                                                                         inputs.ambulances + added))


def _chosen(hold: Mapping[tuple[str, str, str], pulp.LpVariable], site_ids: tuple[str, ...], condition: str,
            tier: str) -> np.ndarray:
    return np.array([round(hold[s, condition, tier].varValue or 0) >= 1 if (s, condition, tier) in hold else False
                     for s in site_ids])


def evaluate(p: Problem, data: PathwayData, holds: Mapping[str, tuple[np.ndarray, np.ndarray]],
             tele: np.ndarray) -> PathwayState:
    """The best pathway of every point, condition and arrival given the tiers held and the terminals."""
    best, untreated = {}, {}
    for c in data.settings.conditions:
        lower, upper = holds[c.name]
        pw = generate(p, data, c.name, lower=lower | upper, upper=upper, tele=tele, windowed=False)
        table = best[c.name] = _best(p, data, pw, c.self_presentation_share)
        timely = table["within_window"].to_numpy(dtype=bool)
        share = np.where(table["arrival"] == "ems", 1.0 - c.self_presentation_share, c.self_presentation_share)
        weight = p.demand_weight[c.name][table["point"].to_numpy()] * share * float(c.weight or 0.0)
        untreated[c.name] = float(weight[~timely].sum())
    return PathwayState(holds=dict(holds), tele=tele, best=best, untreated=untreated)


def _best(p: Problem, data: PathwayData, pw: Pathways, self_share: float) -> pd.DataFrame:
    """One row per (point, arrival): the fastest timely pathway, else the fastest, else none."""
    n = len(p.demand_ids)
    order = np.lexsort((pw.total_minutes, ~pw.within_window, pw.arrival, pw.point))
    key = pw.point[order] * 2 + pw.arrival[order]
    first = order[np.r_[True, key[1:] != key[:-1]]] if order.size else order
    slot = pw.point[first] * 2 + pw.arrival[first]
    table = pd.DataFrame({"point": np.repeat(np.arange(n), 2), "arrival": np.tile(np.array(ARRIVALS), n)})
    table["pathway"] = "none"
    table["first_door"] = -1
    table["center"] = -1
    table["telemedicine"] = False
    for name in _COMPONENTS:
        table[name] = np.nan
    table["within_window"] = False
    table.loc[slot, "pathway"] = np.asarray(KINDS, dtype=object)[pw.kind[first]]
    table.loc[slot, "first_door"] = pw.door[first]
    table.loc[slot, "center"] = pw.center[first]
    table.loc[slot, "telemedicine"] = pw.tele[first]
    for name in _COMPONENTS:
        table.loc[slot, name] = getattr(pw, name)[first]
    table.loc[slot, "within_window"] = pw.within_window[first]
    ems = table["arrival"].to_numpy() == "ems"
    points = table["point"].to_numpy()
    table["response_minutes"] = np.where(ems, response_minutes(p, data.settings)[points], 0.0)
    table["on_scene_minutes"] = np.where(ems, data.settings.on_scene_minutes, 0.0)
    table["self_delay_minutes"] = np.where(ems, 0.0, data.settings.self_delay_minutes)
    cases = p.demand_cases[pw.condition][points]
    table["expected_cases"] = cases * np.where(ems, 1.0 - self_share, self_share)
    return table


def _table(p: Problem, before: PathwayState, after: PathwayState) -> pd.DataFrame:
    """pathways.csv: one row per demand point, condition and arrival, before and after."""
    frames = []
    columns = ("pathway", "first_door_id", "center_id", "telemedicine", "response_minutes", "on_scene_minutes",
               "self_delay_minutes", *_COMPONENTS, "within_window")
    ids = np.asarray((*p.site_ids, ""), dtype=object)
    for condition in before.best:
        left = before.best[condition]
        frame = pd.DataFrame({"demand_id": np.asarray(p.demand_ids, dtype=object)[left["point"]],
                              "township_code": np.asarray(p.township_ids, dtype=object)[
                                  p.demand_township[left["point"]]],
                              "condition": condition, "arrival": left["arrival"],
                              "expected_cases": left["expected_cases"]})
        for label, state in (("before", before), ("after", after)):
            best = state.best[condition].assign(first_door_id=lambda t: ids[t["first_door"]],
                                                center_id=lambda t: ids[t["center"]])
            for name in columns:
                frame[f"{label}_{name}"] = best[name].to_numpy()
        frames.append(frame)
    return pd.concat(frames, ignore_index=True)


def _allocations(p: Problem, data: PathwayData, before: PathwayState, after: PathwayState) -> pd.DataFrame:
    """Allocation rows (results.ALLOCATION_COLUMNS) of new designations (resource "<condition>.<tier>") and
    terminals ("telemedicine")."""
    items = []
    for c in data.settings.conditions:
        for x, tier in enumerate(c.tiers):
            new = after.holds[c.name][x] & ~before.holds[c.name][x]
            items.append((f"{c.name}.{tier.name}", new, tier.capital_yuan, tier.annual_yuan))
    tele = data.settings.telemedicine
    items.append(("telemedicine", after.tele & ~before.tele, tele.capital_yuan, tele.annual_yuan))
    rows = []
    for resource, new, capital, annual in items:
        for j in np.flatnonzero(new):
            town = p.township_ids[p.site_township[j]] if p.site_township[j] >= 0 else ""
            rows.append((p.site_ids[j], p.site_names[j], p.site_level[j], town, resource, 1, capital, annual,
                         capital + annual))
    return pd.DataFrame(rows, columns=["site_id", "site_name", "level", "township_code", "resource", "quantity",
                                       "capital_yuan", "annual_yuan", "cost_yuan"])


def pathway_lines(result: PathwayResult, demand: gpd.GeoDataFrame, sites: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """result.gpkg `pathways`: the best pathway after the plan per point, condition and arrival, as a line from
    the demand point to the first door and on to the center (rows with no pathway have an empty line)."""
    table = result.table
    point_at = demand.set_index(demand["id"].astype(str)).geometry
    site_at = sites.set_index(sites["id"].astype(str)).geometry
    lines = []
    for point, door, center in zip(table["demand_id"], table["after_first_door_id"], table["after_center_id"],
                                   strict=True):
        if not door:
            lines.append(shapely.LineString())
            continue
        stops = [point_at[point], site_at[door]] + ([site_at[center]] if center != door else [])
        lines.append(shapely.LineString(stops))
    keep = ["demand_id", "township_code", "condition", "arrival", "expected_cases",
            *(c for c in table.columns if c.startswith("after_"))]
    return gpd.GeoDataFrame(table[keep].copy(), geometry=lines, crs=sites.crs)


def _weighted_quantile(values: np.ndarray, weights: np.ndarray, q: float) -> float | None:
    """The smallest value below or at which a share q of the weight lies (None without weight)."""
    if weights.sum() <= 0:
        return None
    order = np.argsort(values, kind="stable")
    cumulative = np.cumsum(weights[order]) / weights.sum()
    return float(values[order][np.searchsorted(cumulative, q - 1e-12)])
