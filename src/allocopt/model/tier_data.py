"""The sets and parameters of the tier families: first-contact pairs, site capacities, hospitals, consortium
links and step-down capacity, from a problem's arrays, the `[tiers]` settings (`allocopt.tiers`) and the tier
inputs (beds, consortium leads, site-to-hospital minutes). Knows no MILP: `model/referral.py` builds on it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from allocopt.errors import DataError
from allocopt.services import GRASSROOTS_LEVELS, HOSPITAL_LEVELS, PRIMARY_CARE
from allocopt.tiers import TiersSettings

if TYPE_CHECKING:
    from allocopt.model.problem import Problem

STEPDOWN_LEVELS: tuple[str, ...] = ("township_hc", "community_hc")
"""Grassroots levels whose beds take patients referred down from their lead hospital."""


@dataclass(frozen=True, eq=False)
class TierInputs:
    """Tier data a problem needs beyond its own arrays, aligned with its demand points and sites.

    `referral_minutes` is (sites x hospitals), the hospitals being the existing sites at HOSPITAL_LEVELS in site
    order; `consortium_lead` holds a hospital id or "" per site; `demand_population_65plus` is NaN where unknown.
    """

    referral_minutes: np.ndarray
    site_beds: np.ndarray
    consortium_lead: tuple[str, ...]
    demand_population_65plus: np.ndarray


@dataclass(frozen=True, eq=False)
class TierData:
    """Sets and parameters of the tier families (arrays by site position, hospital position or pair).

    `primary` lists the sites that may give first contact: grassroots sites with a base capacity today or that
    may get GPs. `base_capacity` is visits a year without added GPs: max(base of the level, GPs x visits per
    GP) at existing grassroots sites, 0 elsewhere. First-contact pairs (`pair_demand`, `pair_site`,
    `pair_minutes`) join demand points to primary sites within `cutoff_minutes`. `link_allowed` (sites x
    hospitals) marks finite trips within the maximum referral minutes to hospitals with capacity.
    `lead_today` and `lead_before` (today's lead, else the nearest hospital with capacity) and `fixed_lead`
    (kept links) are hospital positions, -1 for none.
    """

    settings: TiersSettings
    demand_visits: np.ndarray
    primary: np.ndarray
    base_capacity: np.ndarray
    pair_demand: np.ndarray
    pair_site: np.ndarray
    pair_minutes: np.ndarray
    cutoff_minutes: float
    hospitals: np.ndarray
    hospital_beds: np.ndarray
    referral_capacity: np.ndarray
    referral_minutes: np.ndarray
    link_allowed: np.ndarray
    lead_today: np.ndarray
    lead_before: np.ndarray
    fixed_lead: np.ndarray
    stepdown_demand: np.ndarray
    stepdown_capacity: np.ndarray

    @property
    def total_visits(self) -> float:
        """Visits a year of all residents."""
        return float(self.demand_visits.sum())

    def max_capacity(self, gp_limit: np.ndarray) -> np.ndarray:
        """Per site: base capacity plus `gp_limit` (GPs that may be added per site) times visits per GP."""
        return self.base_capacity + gp_limit * self.settings.visits_per_gp_per_year


def hospital_sites(levels: Sequence[str], kinds: Sequence[str]) -> np.ndarray:
    """Positions of the existing county and tertiary hospitals, in site order (the referral matrix columns)."""
    return np.array([j for j, (level, kind) in enumerate(zip(levels, kinds, strict=True))
                     if level in HOSPITAL_LEVELS and kind == "existing"], dtype=np.int64)


def referral_capacity(beds: np.ndarray, kinds: Sequence[str], lead_today: np.ndarray,
                      settings: TiersSettings) -> np.ndarray:
    """Referral visits a year each hospital takes: beds x `referral_visits_per_bed_per_year` for hospitals of
    `settings.lead_kinds` and for any hospital that leads some site today (`lead_today`, hospital positions or -1:
    a county's own choice stands); 0 for the others, which lead no medical community."""
    leads = np.isin(np.arange(len(beds)), lead_today[lead_today >= 0])
    allowed = np.isin(np.asarray(kinds, dtype=object), np.asarray(settings.lead_kinds, dtype=object)) | leads
    return np.where(allowed, beds * settings.referral_visits_per_bed_per_year, 0.0)


def site_base_capacity(levels: Sequence[str], kinds: Sequence[str], gps: np.ndarray,
                       settings: TiersSettings) -> np.ndarray:
    """Visits a year each site handles today: max(level base, GPs x visits per GP) at existing grassroots sites."""
    base = np.array([settings.base_visits_per_year.get(level, 0.0) if kind == "existing" else 0.0
                     for level, kind in zip(levels, kinds, strict=True)])
    grassroots = np.isin(np.asarray(levels, dtype=object), np.asarray(GRASSROOTS_LEVELS, dtype=object))
    return np.where(grassroots, np.maximum(base, gps * settings.visits_per_gp_per_year), 0.0)


def allowed_links(minutes: np.ndarray, capacity: np.ndarray, max_minutes: float | None) -> np.ndarray:
    """(sites x hospitals) finite trips within `max_minutes` to hospitals whose capacity is above 0."""
    allowed = np.isfinite(minutes) & (capacity > 0)[None, :]
    return allowed & (minutes <= max_minutes) if max_minutes is not None else allowed


def leads_of(lead_ids: Sequence[str], hospital_ids: Sequence[str]) -> np.ndarray:
    """Hospital position of each site's consortium lead (-1 for ""); DataError for an id that is no hospital."""
    position = {h: k for k, h in enumerate(hospital_ids)}
    bad = sorted({lead for lead in lead_ids if lead and lead not in position})
    if bad:
        raise DataError(f"consortium_lead: {', '.join(bad[:5])} is not an existing county or tertiary hospital; "
                        "fix the facility's consortium_lead or leave it empty")
    return np.array([position[lead] if lead else -1 for lead in lead_ids], dtype=np.int64)


def nearest_allowed(minutes: np.ndarray, allowed: np.ndarray) -> np.ndarray:
    """Per site, the hospital position of the shortest allowed trip (-1 where none is allowed)."""
    masked = np.where(allowed, minutes, np.inf)
    best = masked.argmin(axis=1) if masked.shape[1] else np.zeros(len(masked), dtype=np.int64)
    return np.where(np.isfinite(masked.min(axis=1, initial=np.inf)), best, -1)


def unlinkable_reasons(sites: np.ndarray, site_ids: Sequence[str], minutes: np.ndarray,
                       hospital_ids: Sequence[str], max_minutes: float | None, capacity: np.ndarray) -> list[str]:
    """Why each of `sites` (positions) has no lead: the nearest hospital with referral capacity and its minutes,
    or none reachable."""
    if not len(sites):
        return []
    shown = []
    for j in sites[:5]:
        row = np.where(capacity > 0, minutes[j], np.inf)
        if row.size and np.isfinite(row).any():
            k = int(np.argmin(row))
            shown.append(f"{site_ids[j]} (nearest hospital {hospital_ids[k]}, {row[k]:.1f} minutes)")
        else:
            shown.append(f"{site_ids[j]} (no hospital reachable)")
    more = f" and {len(sites) - 5} more" if len(sites) > 5 else ""
    limit = (f"within tiers.max_referral_minutes = {max_minutes:g}" if max_minutes is not None
             else "reachable")
    return [f"site(s) {', '.join(shown)}{more} have no county or tertiary hospital with beds {limit}; raise "
            "the limit, add hospital beds, or fix the road network"]


def prepare_tiers(problem: Problem, inputs: TierInputs | None) -> TierData:
    """The tier sets and parameters of `problem` (whose scenario has `[tiers]`) from its arrays and `inputs`.

    Raises DataError when inputs are missing or misshapen, or a consortium lead is no existing hospital.
    """
    settings = problem.scenario.tiers
    assert settings is not None, "prepare_tiers is called for scenarios with a [tiers] table"
    if inputs is None:
        raise DataError("the scenario's [tiers] table needs site beds, consortium leads and site-to-hospital "
                        "travel minutes; build the problem with tier inputs (build_problem(..., site_matrix=...))")
    n_sites, n_demand = len(problem.site_ids), len(problem.demand_ids)
    hospitals = hospital_sites(problem.site_level, problem.site_kind)
    minutes = np.asarray(inputs.referral_minutes, dtype=float)
    if minutes.shape != (n_sites, len(hospitals)):
        raise DataError(f"referral minutes: shape {minutes.shape}, expected ({n_sites}, {len(hospitals)}) "
                        "(sites x existing county and tertiary hospitals in site order)")
    if np.isnan(minutes).any() or (minutes < 0).any():
        raise DataError("referral minutes: NaN or negative; use numpy.inf for unreachable pairs")
    beds = np.asarray(inputs.site_beds, dtype=float).reshape(-1)
    old = np.asarray(inputs.demand_population_65plus, dtype=float).reshape(-1)
    if len(beds) != n_sites or len(inputs.consortium_lead) != n_sites or len(old) != n_demand:
        raise DataError(f"tier inputs: expected {n_sites} site beds and consortium leads and {n_demand} 65+ "
                        "counts, one per site and demand point")
    if (~np.isfinite(beds) | (beds < 0)).any() or (old[np.isfinite(old)] < 0).any():
        raise DataError("tier inputs: beds and 65+ counts must be numbers >= 0 (65+ may be NaN: unknown)")
    old = np.minimum(np.where(np.isfinite(old), old, 0.0), problem.demand_population)
    visits = ((problem.demand_population - old) * settings.visits_per_resident
              + old * settings.visits_per_resident_65plus)
    base = site_base_capacity(problem.site_level, problem.site_kind, problem.existing_gps, settings)
    primary = np.flatnonzero(problem.can_provide[PRIMARY_CARE] | (base > 0))
    cutoff = settings.first_contact_cutoff_factor * problem.scenario.thresholds_minutes[PRIMARY_CARE]
    block = problem.minutes[:, primary]
    rows, columns = np.nonzero((block <= cutoff) & (visits > 0)[:, None])
    hospital_ids = [problem.site_ids[h] for h in hospitals]
    lead_today = leads_of(inputs.consortium_lead, hospital_ids)
    capacity = referral_capacity(beds[hospitals], [problem.site_hospital_kind[h] for h in hospitals], lead_today,
                                 settings)
    allowed = allowed_links(minutes, capacity, settings.max_referral_minutes)
    nearest = nearest_allowed(minutes, allowed_links(minutes, capacity, None))
    stepdown = np.isin(np.asarray(problem.site_level, dtype=object), np.asarray(STEPDOWN_LEVELS, dtype=object))
    return TierData(
        settings=settings,
        demand_visits=visits,
        primary=primary,
        base_capacity=base,
        pair_demand=rows,
        pair_site=primary[columns],
        pair_minutes=block[rows, columns],
        cutoff_minutes=cutoff,
        hospitals=hospitals,
        hospital_beds=beds[hospitals],
        referral_capacity=capacity,
        referral_minutes=minutes,
        link_allowed=allowed,
        lead_today=lead_today,
        lead_before=np.where(lead_today >= 0, lead_today, nearest),
        fixed_lead=lead_today if settings.fix_existing_links else np.full(n_sites, -1, dtype=np.int64),
        stepdown_demand=(beds[hospitals] * settings.admissions_per_bed_per_year * settings.downward_share),
        stepdown_capacity=np.where(stepdown, beds * settings.spare_bed_days_per_bed_per_year
                                   / settings.downward_stay_days, 0.0),
    )
