"""Indicators a county health bureau reports, for the region and each township, beside their national targets.

Recomputed from the sites that exist (or are opened) and their staff, never from the model:

- `medical_point_15min_share`: residents within 15 minutes of a first-contact point (a township or community
  health center, or a village clinic with a GP or a village doctor; `services.first_contact` "staffed"), the
  official "15-minute medical service circle";
- `gp_per_10k`: GPs per 10,000 residents;
- `beds_per_1000`: inpatient beds per 1,000 residents (the plan adds no beds; opened sites bring none);
- `township_hcs_per_township`: open township health centers per township;
- `village_clinics_per_village`: open village clinics per demand point (demand points taken as the
  administrative villages), and `staffed_village_clinics_per_village` those with a GP or a village doctor.

Sites outside every township count for no township and, so that townships add up to the region, not for the
region either. The targets and references are in `NATIONAL_TARGETS` (sources in docs/scenario.md).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from allocopt.model.problem import PER_10K, Problem
from allocopt.services import first_contact

MEDICAL_POINT_MINUTES = 15.0
"""The official medical service circle: a medical point within 15 minutes."""

PER_1000 = 1_000.0

NATIONAL_TARGETS: Mapping[str, Mapping[str, Any]] = {
    "medical_point_15min_share": {
        "value": 0.899, "kind": "reference",
        "source": "households within 15 minutes of the nearest medical point, 2018 National Health Services Survey"},
    "gp_per_10k": {
        "value": 3.93, "kind": "target",
        "source": "2025 target of the 14th Five-Year national health plan (unconfirmed); 5 by 2030 "
                  "(国办发〔2018〕3号); 3.99 actual in 2023"},
    "beds_per_1000": {
        "value": 6.0, "kind": "reference",
        "source": "about 6 beds per 1,000 residents, the 2020 norm of 国办发〔2015〕14号 (7.23 actual in 2023)"},
    "township_hcs_per_township": {
        "value": 1.0, "kind": "target",
        "source": "one government township health center per township"},
    "village_clinics_per_village": {
        "value": 1.0, "kind": "target",
        "source": "one village clinic per administrative village"},
    "staffed_village_clinics_per_village": {
        "value": 1.0, "kind": "target",
        "source": "one village clinic per administrative village, with a village doctor"},
}
"""Target (or, where there is none, the national reference value) of each indicator."""

INDICATORS: tuple[str, ...] = tuple(NATIONAL_TARGETS)


def township_indicators(problem: Problem, *, is_open: np.ndarray, added_gps: np.ndarray,
                        added_village_doctors: np.ndarray) -> dict[str, np.ndarray]:
    """Each indicator per township (arrays aligned with `problem.township_ids`) for the sites `is_open` holding
    today's staff plus `added_gps` and `added_village_doctors`; also the counts behind the ratios."""
    count = len(problem.township_ids)
    gps = problem.existing_gps + added_gps
    doctors = problem.existing_village_doctors + added_village_doctors
    level = np.asarray(problem.site_level, dtype=object)
    contact = is_open & first_contact(level, gps, doctors, "staffed")
    minutes = (problem.minutes[:, contact].min(axis=1) if contact.any()
               else np.full(len(problem.demand_ids), np.inf))
    population = problem.township_population
    within = np.bincount(problem.demand_township, minlength=count,
                         weights=np.where(minutes <= MEDICAL_POINT_MINUTES, problem.demand_population, 0.0))
    inside = is_open & (problem.site_township >= 0)

    def per_township(values: np.ndarray) -> np.ndarray:
        return np.bincount(problem.site_township[inside], weights=values[inside].astype(float), minlength=count)

    clinics = level == "village_clinic"
    counts = {
        "residents_within_15min": within,
        "gps": per_township(gps),
        "beds": per_township(problem.site_beds),
        "township_hcs": per_township((level == "township_hc").astype(float)),
        "village_clinics": per_township(clinics.astype(float)),
        "staffed_village_clinics": per_township((clinics & (gps + doctors >= 1)).astype(float)),
        "villages": np.bincount(problem.demand_township, minlength=count).astype(float),
    }
    return {**counts, **_ratios(counts, population, np.ones(count))}


def region_indicators(townships: Mapping[str, np.ndarray], population: float) -> dict[str, float | None]:
    """Each indicator for the region, from the per-township counts of `township_indicators`."""
    totals = {key: np.array([float(np.sum(values))]) for key, values in townships.items()}
    ratios = _ratios(totals, np.array([population]), np.array([float(len(townships["gps"]))]))
    return {key: (float(value[0]) if np.isfinite(value[0]) else None) for key, value in ratios.items()}


def _ratios(counts: Mapping[str, np.ndarray], population: np.ndarray, townships: np.ndarray) -> dict[str, np.ndarray]:
    def ratio(numerator: np.ndarray, denominator: np.ndarray, scale: float = 1.0) -> np.ndarray:
        return np.divide(numerator * scale, denominator, out=np.full(len(numerator), np.nan),
                         where=denominator > 0)

    return {
        "medical_point_15min_share": ratio(counts["residents_within_15min"], population),
        "gp_per_10k": ratio(counts["gps"], population, PER_10K),
        "beds_per_1000": ratio(counts["beds"], population, PER_1000),
        "township_hcs_per_township": ratio(counts["township_hcs"], townships),
        "village_clinics_per_village": ratio(counts["village_clinics"], counts["villages"]),
        "staffed_village_clinics_per_village": ratio(counts["staffed_village_clinics"], counts["villages"]),
    }
