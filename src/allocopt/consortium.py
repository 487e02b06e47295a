"""Medical consortium design on its own: which county or tertiary hospital leads each grassroots site.

A capacitated assignment (one MILP): every existing grassroots site j is linked to exactly one hospital h with
    minimize   sum_j sum_h L_j tau_jh x[j,h]
    subject to sum_h x[j,h] = 1 for each j;  sum_j L_j x[j,h] <= C_h for each h;  x[j,h] = 0 where tau_jh > T,
where L_j is j's referral load (referral share x the visits j handles today, its first-contact capacity of
`model.tier_data.site_base_capacity`), tau_jh the site-to-hospital minutes, C_h the hospital's referral capacity
(beds x visits per bed) and T the maximum referral minutes. Kept links (`fix_existing_links`) use up capacity
first; sites without load go to their nearest allowed hospital. The module also computes the site x hospital
travel matrix and draws referral links as lines for GeoPackage layers.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pulp
import shapely

from allocopt.errors import DataError, InfeasibleError
from allocopt.model.tier_data import (
    allowed_links,
    hospital_sites,
    leads_of,
    nearest_allowed,
    referral_capacity,
    site_base_capacity,
    unlinkable_reasons,
)
from allocopt.network import RoadNetwork
from allocopt.regions import Region
from allocopt.services import GRASSROOTS_LEVELS, hospital_kinds
from allocopt.solve import DEFAULT_SOLVER, solve
from allocopt.tiers import TiersSettings
from allocopt.travel import MatrixLike, TravelMatrix, aligned_minutes, travel_times

LINK_COLUMNS = ("site_id", "site_name", "level", "township_code", "load_visits", "lead_hospital_id",
                "lead_hospital_name", "travel_minutes", "fixed", "lead_hospital_id_before", "travel_minutes_before")
HOSPITAL_COLUMNS = ("hospital_id", "hospital_name", "level", "beds", "capacity_visits", "load_visits",
                    "capacity_used_share", "linked_sites", "load_visits_before", "linked_sites_before")


def site_hospital_matrix(region: Region, network: RoadNetwork, *, cache_dir: Path | None = None) -> TravelMatrix:
    """Minutes from every site (rows, `region.sites` order) to every existing county and tertiary hospital."""
    sites = region.sites
    hospitals = sites.iloc[hospital_sites(list(sites["level"]), list(sites["kind"]))]
    return travel_times(network, sites.geometry, hospitals.geometry, origin_ids=tuple(sites["id"]),
                        destination_ids=tuple(hospitals["id"]), access_speed_kmh=region.access_speed_kmh,
                        cache_dir=cache_dir)


def referral_lines(sites: gpd.GeoDataFrame, links: pd.DataFrame, *, site_column: str,
                   hospital_column: str) -> gpd.GeoDataFrame:
    """`links` with a LineString from each site to its hospital (ids in the two columns), in the sites' CRS.

    Rows whose hospital is empty get no line (an empty geometry). Raises DataError for an id not in `sites`.
    """
    points = sites.set_index(sites["id"].astype(str)).geometry
    ids = pd.concat([links[site_column], links[hospital_column]]).astype(str)
    unknown = sorted(set(ids[ids != ""]) - set(points.index))
    if unknown:
        raise DataError(f"referral links: site id(s) {', '.join(unknown[:5])} are not among the region's sites")
    lines = [shapely.LineString([points[str(a)], points[str(b)]]) if b else shapely.LineString()
             for a, b in zip(links[site_column], links[hospital_column], strict=True)]
    return gpd.GeoDataFrame(links.copy(), geometry=lines, crs=sites.crs)


@dataclass(frozen=True)
class LinkDesign:
    """Lead hospital position of every site, with the solve's status, solver and seconds."""

    lead: np.ndarray
    status: str
    solver: str
    seconds: float


def design_links(load_visits: np.ndarray, minutes: np.ndarray, capacity_visits: np.ndarray, *,
                 site_ids: Sequence[str], hospital_ids: Sequence[str], fixed: np.ndarray | None = None,
                 max_minutes: float | None = None, solver: str = DEFAULT_SOLVER,
                 time_limit_s: float | None = None) -> LinkDesign:
    """Link each site to one hospital, minimizing load-weighted minutes within hospital capacity (module doc).

    `minutes` is (sites x hospitals); `fixed[j] >= 0` keeps site j's lead. Raises InfeasibleError naming the
    sites without a hospital within `max_minutes`, kept links that do not fit, or total load beyond total
    capacity (both numbers), and when no linking fits the capacities.
    """
    load, capacity = np.asarray(load_visits, dtype=float), np.asarray(capacity_visits, dtype=float)
    kept = np.full(len(load), -1, dtype=np.int64) if fixed is None else np.asarray(fixed, dtype=np.int64)
    allowed = allowed_links(minutes, capacity, max_minutes)
    free = np.flatnonzero(kept < 0)
    reasons = unlinkable_reasons(free[~allowed[free].any(axis=1)], site_ids, minutes, hospital_ids, max_minutes,
                                 capacity)
    reasons += [f"site {site_ids[j]} keeps lead {hospital_ids[kept[j]]}, which has no referral capacity or lies "
                f"beyond the maximum referral minutes ({minutes[j, kept[j]]:.1f} minutes); free the link"
                for j in np.flatnonzero(kept >= 0).tolist() if not allowed[j, kept[j]]]
    if reasons:
        raise InfeasibleError("no consortium design: " + "; ".join(reasons))
    total_load, total_capacity = float(load.sum()), float(capacity.sum())
    if total_load > total_capacity * (1 + 1e-9):
        raise InfeasibleError(
            f"no consortium design: the sites refer {total_load:,.0f} visits a year but the hospitals take at most "
            f"{total_capacity:,.0f} (beds x tiers.referral_visits_per_bed_per_year; hospitals without beds take "
            "none); lower tiers.referral_share or raise tiers.referral_visits_per_bed_per_year")
    lead = np.where(kept >= 0, kept, nearest_allowed(minutes, allowed))
    spare = capacity - np.bincount(kept[kept >= 0], weights=load[kept >= 0], minlength=len(capacity))
    loaded = free[load[free] > 0]
    if loaded.size == 0:
        return LinkDesign(lead=lead, status="optimal", solver=solver, seconds=0.0)
    lp = pulp.LpProblem("consortium", pulp.LpMinimize)
    x = {(j, h): lp.add_variable(f"link_{j}_{h}", lowBound=0, upBound=1, cat=pulp.LpInteger)
         for j in loaded.tolist() for h in np.flatnonzero(allowed[j]).tolist()}
    lp.setObjective(pulp.lpSum(float(load[j] * minutes[j, h]) * var for (j, h), var in x.items()))
    by_site: dict[int, list[pulp.LpVariable]] = {}
    by_hospital: dict[int, list[tuple[pulp.LpVariable, float]]] = {}
    for (j, h), var in x.items():
        by_site.setdefault(j, []).append(var)
        by_hospital.setdefault(h, []).append((var, float(load[j])))
    for j, row in by_site.items():
        lp.addConstraint(pulp.lpSum(row) == 1, f"one_{j}")
    for h, terms in by_hospital.items():
        lp.addConstraint(pulp.LpAffineExpression(terms) <= float(spare[h]), f"capacity_{h}")
    outcome = solve(lp, solver=solver, time_limit_s=time_limit_s, mip_gap=0.0)
    if outcome.status == "infeasible":
        spare_text = ", ".join(f"{h} {c:,.0f}" for h, c in zip(hospital_ids, spare, strict=True))
        raise InfeasibleError(
            f"no consortium design: the referral loads ({total_load:,.0f} visits a year in all) cannot be split "
            f"among the hospitals within their capacities ({spare_text}) and the maximum referral minutes, as "
            "each site goes to one hospital; raise capacity or the limit")
    if not outcome.has_plan:
        raise InfeasibleError(f"no consortium design found (solver status {outcome.status!r}); raise the time limit")
    for (j, h), var in x.items():
        if round(float(var.varValue or 0.0)) >= 1:
            lead[j] = h
    return LinkDesign(lead=lead, status=outcome.status, solver=solver, seconds=outcome.seconds)


@dataclass(frozen=True, eq=False)
class ConsortiumResult:
    """A consortium design: `links` (LINK_COLUMNS, one row per grassroots site), `hospitals` (HOSPITAL_COLUMNS),
    load-weighted mean referral minutes before (today's leads, else the nearest hospital) and after."""

    links: pd.DataFrame
    hospitals: pd.DataFrame
    status: str
    solver: str
    seconds: float
    max_referral_minutes: float | None
    mean_referral_minutes_before: float | None
    mean_referral_minutes_after: float | None

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe figures and tables (NaN as null)."""
        return {
            "status": self.status, "solver": self.solver, "seconds": self.seconds,
            "max_referral_minutes": self.max_referral_minutes,
            "mean_referral_minutes_before": self.mean_referral_minutes_before,
            "mean_referral_minutes_after": self.mean_referral_minutes_after,
            "links": json.loads(self.links.to_json(orient="records", force_ascii=False)),
            "hospitals": json.loads(self.hospitals.to_json(orient="records", force_ascii=False)),
        }


def design_consortium(region: Region, site_matrix: MatrixLike, settings: TiersSettings, *,
                      max_referral_minutes: float | None = None, solver: str = DEFAULT_SOLVER,
                      time_limit_s: float | None = None) -> ConsortiumResult:
    """Link every existing grassroots site of `region` to one county or tertiary hospital (module docstring).

    `site_matrix` holds site x hospital minutes (`site_hospital_matrix`); `max_referral_minutes` overrides the
    settings' limit. Raises InfeasibleError (see `design_links`) and DataError for misaligned inputs.
    """
    limit = max_referral_minutes if max_referral_minutes is not None else settings.max_referral_minutes
    if limit is not None and not limit > 0:
        raise DataError(f"maximum referral minutes must be above 0, got {limit!r}")
    sites = region.sites
    levels, kinds = list(sites["level"]), list(sites["kind"])
    hospitals = hospital_sites(levels, kinds)
    grassroots = np.flatnonzero(sites["level"].isin(GRASSROOTS_LEVELS).to_numpy()
                                & (sites["kind"] == "existing").to_numpy())
    site_ids = [str(i) for i in sites["id"]]
    hospital_ids = [site_ids[h] for h in hospitals]
    minutes = aligned_minutes(site_matrix, [site_ids[j] for j in grassroots], hospital_ids,
                              layers=("site", "hospital"))
    load = settings.referral_share * site_base_capacity(levels, kinds, sites["gps"].to_numpy(dtype=float),
                                                        settings)[grassroots]
    leads = sites["consortium_lead"].astype(object).where(sites["consortium_lead"].notna(), "")
    leading = leads_of([str(v) for v in leads], hospital_ids)
    today = leading[grassroots]
    kinds_given = sites["hospital_kind"] if "hospital_kind" in sites.columns else pd.Series([""] * len(sites))
    capacity = referral_capacity(sites["beds"].to_numpy(dtype=float)[hospitals],
                                 hospital_kinds(sites["level"], kinds_given)[hospitals], leading, settings)
    design = design_links(load, minutes, capacity, site_ids=[site_ids[j] for j in grassroots],
                          hospital_ids=hospital_ids, fixed=today if settings.fix_existing_links else None,
                          max_minutes=limit, solver=solver, time_limit_s=time_limit_s)
    before = np.where(today >= 0, today, nearest_allowed(minutes, allowed_links(minutes, capacity, None)))
    return ConsortiumResult(
        links=_link_table(sites.iloc[grassroots], load, minutes, design.lead, before,
                          sites.iloc[hospitals], fixed=settings.fix_existing_links & (today >= 0)),
        hospitals=_hospital_table(sites.iloc[hospitals], capacity, load, design.lead, before),
        status=design.status, solver=design.solver, seconds=design.seconds, max_referral_minutes=limit,
        mean_referral_minutes_before=_mean_minutes(load, minutes, before),
        mean_referral_minutes_after=_mean_minutes(load, minutes, design.lead),
    )


def _link_table(sites: pd.DataFrame, load: np.ndarray, minutes: np.ndarray, lead: np.ndarray, before: np.ndarray,
                hospitals: pd.DataFrame, *, fixed: np.ndarray) -> pd.DataFrame:
    ids = np.array([*hospitals["id"].astype(str), ""], dtype=object)
    names = np.array([*hospitals["name"].astype(str), ""], dtype=object)
    rows = np.arange(len(lead))
    return pd.DataFrame({
        "site_id": sites["id"].astype(str).to_numpy(), "site_name": sites["name"].astype(str).to_numpy(),
        "level": sites["level"].to_numpy(), "township_code": sites["township_code"].fillna("").to_numpy(),
        "load_visits": load, "lead_hospital_id": ids[lead], "lead_hospital_name": names[lead],
        "travel_minutes": np.where(lead >= 0, minutes[rows, lead], np.nan), "fixed": fixed,
        "lead_hospital_id_before": ids[before],
        "travel_minutes_before": np.where(before >= 0, minutes[rows, before], np.nan),
    }, columns=list(LINK_COLUMNS))


def _hospital_table(hospitals: pd.DataFrame, capacity: np.ndarray, load: np.ndarray, lead: np.ndarray,
                    before: np.ndarray) -> pd.DataFrame:
    count = len(hospitals)

    def per_hospital(assigned: np.ndarray, weights: np.ndarray | None) -> np.ndarray:
        linked = assigned >= 0
        return np.bincount(assigned[linked], weights=None if weights is None else weights[linked], minlength=count)

    after_load = per_hospital(lead, load)
    used = np.full(count, np.nan)
    np.divide(after_load, capacity, out=used, where=capacity > 0)
    return pd.DataFrame({
        "hospital_id": hospitals["id"].astype(str).to_numpy(),
        "hospital_name": hospitals["name"].astype(str).to_numpy(),
        "level": hospitals["level"].to_numpy(), "beds": hospitals["beds"].to_numpy(), "capacity_visits": capacity,
        "load_visits": after_load, "capacity_used_share": used, "linked_sites": per_hospital(lead, None),
        "load_visits_before": per_hospital(before, load), "linked_sites_before": per_hospital(before, None),
    }, columns=list(HOSPITAL_COLUMNS))


def _mean_minutes(load: np.ndarray, minutes: np.ndarray, lead: np.ndarray) -> float | None:
    linked = (lead >= 0) & (load > 0)
    if not linked.any():
        return None
    rows = np.flatnonzero(linked)
    return float((load[rows] * minutes[rows, lead[rows]]).sum() / load[rows].sum())
