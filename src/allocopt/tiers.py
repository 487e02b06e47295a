"""Tiered care: the scenario's `[tiers]` settings and the pre-processing of first contact and referral.

A scenario with a `[tiers]` table (even an empty one) switches tiered care on; without it the allocation model is
exactly the one without tiers. The settings size three things:

- first contact: every resident makes `visits_per_resident` visits a year (`visits_per_resident_65plus` for
  residents aged 65 and over, where the demand layer counts them); a grassroots site handles up to its base
  visits (village doctors and other staff; at least its GPs' visits) plus `visits_per_gp_per_year` per added GP,
  and only residents within `first_contact_cutoff_factor` x the primary-care threshold use it;
- upward referral: `referral_share` of the visits a site handles are referred to the hospital leading its medical
  consortium, which takes up to `referral_visits_per_bed_per_year` per bed;
- downward referral: `downward_share` of a hospital's inpatients (beds x `admissions_per_bed_per_year`) step down
  to the township and community health centers it leads, each taking `spare_bed_days_per_bed_per_year` per bed
  in stays of `downward_stay_days`.

The objective weights are in people-equivalents (see `SOURCES` and docs/scenario.md). This module knows nothing
of the MILP: it validates settings and turns a problem's arrays into `TierData`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
from typing import TYPE_CHECKING, Any

import numpy as np

from allocopt.errors import DataError, ScenarioError
from allocopt.services import GRASSROOTS_LEVELS, HOSPITAL_KINDS, HOSPITAL_LEVELS, PRIMARY_CARE

if TYPE_CHECKING:
    from allocopt.model.problem import Problem

BASE_VISITS_PER_YEAR: Mapping[str, float] = {"village_clinic": 2_600.0, "township_hc": 32_500.0,
                                             "community_hc": 72_000.0}
"""Visits a grassroots facility of each level handles in a year (2019 national averages per institution)."""

STEPDOWN_LEVELS: tuple[str, ...] = ("township_hc", "community_hc")
"""Grassroots levels whose beds take patients referred down from their lead hospital."""


@dataclass(frozen=True)
class TiersSettings:
    """The `[tiers]` settings, fully resolved (defaults and sources: `SOURCES`, docs/scenario.md)."""

    visits_per_resident: float = 6.0
    visits_per_resident_65plus: float = 12.0
    visits_per_gp_per_year: float = 4_000.0
    base_visits_per_year: Mapping[str, float] = field(default_factory=lambda: dict(BASE_VISITS_PER_YEAR))
    first_contact_cutoff_factor: float = 2.0
    target_grassroots_share: float = 0.65
    min_grassroots_share: float = 0.0
    referral_share: float = 0.07
    referral_visits_per_bed_per_year: float = 100.0
    max_referral_minutes: float | None = None
    fix_existing_links: bool = True
    lead_kinds: tuple[str, ...] = ("general", "tcm")
    downward_share: float = 0.1
    admissions_per_bed_per_year: float = 35.0
    downward_stay_days: float = 10.0
    spare_bed_days_per_bed_per_year: float = 100.0
    weight_unmet_visits: float = 1.0
    weight_primary_minutes: float = 0.001
    weight_referral_minutes: float = 0.01
    weight_downward_unplaced: float = 1.0


SOURCES: Mapping[str, str] = {
    "visits_per_resident": "8.72 billion visits in 2019 for 1.40 billion residents, about 6.2 per resident "
                           "(2019 statistical bulletin of health development, China Health Statistics Yearbook "
                           "2020); applied to residents under 65 and to everyone where the 65+ count is unknown",
    "visits_per_resident_65plus": "planning assumption: twice the all-age rate; older residents visit far more "
                                  "often (National Health Services Survey two-week visit rates by age)",
    "visits_per_gp_per_year": "about 16 visits a working day over 250 days: the daily load of community health "
                              "center doctors (China Health Statistics Yearbook 2020)",
    "base_visits_per_year": "2019 visits per institution: township health centers 1.17 billion over 36,112, "
                            "village clinics 1.60 billion over 616,000, community health centers 0.69 billion "
                            "over 9,561 (2019 statistical bulletin); GPs of today are taken to be part of it",
    "first_contact_cutoff_factor": "planning assumption: residents use a grassroots site up to twice the "
                                   "primary-care threshold away (30 minutes with the 15-minute circle)",
    "target_grassroots_share": "at least 65% of visits at grassroots facilities (国办发〔2015〕70号); reported",
    "min_grassroots_share": "hard target, off (0) by default; 0.65 enforces 国办发〔2015〕70号",
    "referral_share": "planning assumption: 5-10% of grassroots visits referred up in county consortia",
    "referral_visits_per_bed_per_year": "planning assumption: about a tenth of a county hospital's roughly 1,000 "
                                        "outpatient visits per bed a year kept for referred patients",
    "max_referral_minutes": "none by default; a planning limit on the site-to-lead-hospital trip",
    "fix_existing_links": "true: consortium membership is administrative (the county assigns the members of its "
                          "县域医共体), so facilities.consortium_lead is kept; false redesigns the links as a what-if",
    "lead_kinds": "hospital kinds that lead a county medical community: people's (general) and TCM hospitals lead "
                  "them; an MCH or specialty hospital takes referrals only where it leads sites today",
    "downward_share": "planning assumption: a tenth of hospital inpatients step down to rehabilitation or "
                      "chronic care near home",
    "admissions_per_bed_per_year": "bed turnover of county hospitals, about 35 a year (China Health Statistics "
                                   "Yearbook)",
    "downward_stay_days": "planning assumption: a 10-day step-down stay",
    "spare_bed_days_per_bed_per_year": "township health center bed use is about 57% (China Health Statistics "
                                       "Yearbook 2020); filling to 85% frees about 100 bed-days per bed a year",
    "weight_unmet_visits": "people-equivalents per resident-year of visits not met at the grassroots (visits / "
                           "visits_per_resident): 1 counts them like one person left unserved",
    "weight_primary_minutes": "people-equivalents per resident-minute to the first-contact site; small, a "
                              "tie-breaker that sends visits to near sites",
    "weight_referral_minutes": "people-equivalents per referred resident-minute (referred visits / "
                               "visits_per_resident) to the lead hospital",
    "weight_downward_unplaced": "people-equivalents per step-down patient a linked health center cannot take",
}
"""Where each `[tiers]` default comes from (for docs/scenario.md)."""

# key: (minimum, maximum, strictly above the minimum)
_NUMBERS: dict[str, tuple[float, float | None, bool]] = {
    "visits_per_resident": (0.0, 1000.0, True),
    "visits_per_resident_65plus": (0.0, 1000.0, False),
    "visits_per_gp_per_year": (0.0, None, True),
    "first_contact_cutoff_factor": (0.0, None, True),
    "target_grassroots_share": (0.0, 1.0, False),
    "min_grassroots_share": (0.0, 1.0, False),
    "referral_share": (0.0, 1.0, False),
    "referral_visits_per_bed_per_year": (0.0, None, False),
    "max_referral_minutes": (0.0, None, True),
    "downward_share": (0.0, 1.0, False),
    "admissions_per_bed_per_year": (0.0, None, False),
    "downward_stay_days": (0.0, None, True),
    "spare_bed_days_per_bed_per_year": (0.0, None, False),
    "weight_unmet_visits": (0.0, None, True),
    "weight_primary_minutes": (0.0, None, False),
    "weight_referral_minutes": (0.0, None, False),
    "weight_downward_unplaced": (0.0, None, False),
}


def parse_tiers(table: Any) -> TiersSettings:
    """TiersSettings from the scenario's `[tiers]` table over the defaults; ScenarioError naming a bad key."""
    if not isinstance(table, Mapping):
        raise ScenarioError("key 'tiers' must be a table ([tiers])")
    known = {f.name for f in fields(TiersSettings)}
    values: dict[str, Any] = {}
    for key, value in table.items():
        if key not in known:
            raise ScenarioError(f"unknown key 'tiers.{key}'; known keys here: {', '.join(sorted(known))}")
        if key == "fix_existing_links":
            if not isinstance(value, bool):
                raise ScenarioError(f"key 'tiers.fix_existing_links' must be true or false, got {value!r}")
            values[key] = value
        elif key == "base_visits_per_year":
            values[key] = _base_visits(value)
        elif key == "lead_kinds":
            if not isinstance(value, list) or any(kind not in HOSPITAL_KINDS for kind in value):
                raise ScenarioError(f"key 'tiers.lead_kinds' must list hospital kinds from: "
                                    f"{', '.join(HOSPITAL_KINDS)}; got {value!r}")
            values[key] = tuple(value)
        else:
            minimum, maximum, strict = _NUMBERS[key]
            values[key] = _number(f"tiers.{key}", value, minimum=minimum, maximum=maximum, strict=strict)
    return replace(TiersSettings(), **values)


def tiers_to_dict(settings: TiersSettings) -> dict[str, Any]:
    """The settings in the TOML layout (max_referral_minutes left out when unset, as TOML has no null)."""
    result = {f.name: getattr(settings, f.name) for f in fields(TiersSettings)}
    result["base_visits_per_year"] = dict(settings.base_visits_per_year)
    result["lead_kinds"] = list(settings.lead_kinds)
    if settings.max_referral_minutes is None:
        del result["max_referral_minutes"]
    return result


def _base_visits(value: Any) -> dict[str, float]:
    if not isinstance(value, Mapping):
        raise ScenarioError("key 'tiers.base_visits_per_year' must be a table of grassroots levels")
    result = dict(BASE_VISITS_PER_YEAR)
    for level, visits in value.items():
        if level not in GRASSROOTS_LEVELS:
            raise ScenarioError(f"unknown key 'tiers.base_visits_per_year.{level}'; levels are "
                                f"{', '.join(GRASSROOTS_LEVELS)}")
        result[level] = _number(f"tiers.base_visits_per_year.{level}", visits, minimum=0.0, maximum=None,
                                strict=False)
    return result


def _number(key: str, value: Any, *, minimum: float, maximum: float | None, strict: bool) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ScenarioError(f"key {key!r} must be a number, got {value!r}")
    number = float(value)
    if not math.isfinite(number) or number < minimum or (strict and number == minimum) or (
            maximum is not None and number > maximum):
        bounds = f"{'above' if strict else 'at least'} {minimum:g}" + (
            f" and at most {maximum:g}" if maximum is not None else "")
        raise ScenarioError(f"key {key!r} must be a finite number {bounds}, got {value!r}")
    return number


# ---------------------------------------------------------------- pre-processing


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
