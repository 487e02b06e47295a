"""Tiered care: the scenario's `[tiers]` settings (the arrays of the tier families: `model/tier_data.py`).

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
of the MILP: it validates the settings; `allocopt.model.tier_data` turns a problem's arrays into `TierData`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from typing import Any

from allocopt.errors import ScenarioError
from allocopt.services import GRASSROOTS_LEVELS, HOSPITAL_KINDS

BASE_VISITS_PER_YEAR: Mapping[str, float] = {"village_clinic": 2_600.0, "township_hc": 32_500.0,
                                             "community_hc": 72_000.0}
"""Visits a grassroots facility of each level handles in a year (2019 national averages per institution)."""


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
