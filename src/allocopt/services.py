"""The vocabulary of care: facility levels, equipment types, specialty centers and the services built on them."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

import numpy as np
import pandas as pd

LEVELS: tuple[str, ...] = (
    "village_clinic",
    "township_hc",
    "community_hc",
    "county_hospital",
    "tertiary_hospital",
)
"""Facility levels, grassroots first."""

GRASSROOTS_LEVELS: tuple[str, ...] = ("village_clinic", "township_hc", "community_hc")
"""Levels where first contact (primary care) happens in the tiered-care system."""

HOSPITAL_LEVELS: tuple[str, ...] = ("county_hospital", "tertiary_hospital")
"""Levels that lead a county medical consortium and receive upward referrals."""

EQUIPMENT: tuple[str, ...] = ("ct", "dr", "ultrasound", "cath_lab")
"""Equipment types; each is a facilities column holding a unit count."""

CENTERS: tuple[str, ...] = ("chest_pain", "stroke", "trauma")
"""Specialty-center types; each is a boolean facilities column `<center>_center`."""

PRIMARY_CARE = "primary_care"
SERVICES: tuple[str, ...] = (PRIMARY_CARE, *CENTERS, *EQUIPMENT)
"""Coverage services: primary care, each specialty center, each equipment type."""

GP_SHORTAGE = "gp_shortage"
"""Name of the GP-staffing gap (people left without a GP at the target density)."""

SERVICE_LABELS: Mapping[str, str] = MappingProxyType({
    PRIMARY_CARE: "Primary care",
    "chest_pain": "Chest pain center",
    "stroke": "Stroke center",
    "trauma": "Trauma center",
    "ct": "CT",
    "dr": "DR (X-ray)",
    "ultrasound": "Ultrasound",
    "cath_lab": "Cath lab",
})
"""Readable name of each service, for map titles, legends and report tables."""


def center_column(center: str) -> str:
    """Facilities column holding the designation flag of `center`."""
    return f"{center}_center"


def service_label(service: str) -> str:
    """Readable name of a service for titles and tables ("cath_lab" -> "Cath lab"); unknown names are spelled out."""
    return SERVICE_LABELS.get(service, service.replace("_", " ").capitalize())


def providers(sites: pd.DataFrame, service: str) -> np.ndarray:
    """Boolean array: which sites provide `service` today (candidate sites, not yet open, never do).

    Primary care is a grassroots site with at least one GP; an equipment service is a site with at least one unit;
    a center service is a site with that designation.
    """
    existing = (sites["kind"] == "existing").to_numpy()
    if service == PRIMARY_CARE:
        has = sites["level"].isin(GRASSROOTS_LEVELS).to_numpy() & (sites["gps"].to_numpy() >= 1)
    elif service in EQUIPMENT:
        has = sites[service].to_numpy() >= 1
    elif service in CENTERS:
        has = sites[center_column(service)].to_numpy().astype(bool)
    else:
        raise KeyError(f"unknown service {service!r}; known: {', '.join(SERVICES)}")
    return existing & has
