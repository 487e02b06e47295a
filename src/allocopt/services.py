"""The vocabulary of care: facility levels, equipment types, specialty centers and the services built on them."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from types import MappingProxyType
from typing import TYPE_CHECKING

if TYPE_CHECKING:
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

HOSPITAL_KINDS: tuple[str, ...] = ("general", "tcm", "mch", "specialty")
"""Kinds of hospital within a hospital level: general (people's hospital, 人民医院/综合医院), traditional Chinese
medicine (中医医院), maternal and child health (妇幼保健院), other specialty hospitals."""

DEFAULT_HOSPITAL_KIND = "general"
"""Kind of a hospital whose facilities row gives none (bundles written before the column existed)."""

EQUIPMENT: tuple[str, ...] = ("ct", "dr", "ultrasound", "cath_lab", "ecg")
"""Equipment types; each is a facilities column holding a unit count (`ecg`: a 12-lead electrocardiograph)."""

CENTERS: tuple[str, ...] = ("chest_pain", "stroke", "trauma")
"""Specialty-center types; each is a boolean facilities column `<center>_center`."""

PRIMARY_CARE = "primary_care"
PROVIDER_DEFINITIONS: tuple[str, ...] = ("staffed", "gp")
"""Who makes a grassroots site a first-contact point: `staffed` any GP or village doctor, `gp` a GP."""
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
    "ecg": "ECG (12-lead)",
})
"""Readable name of each service, for map titles, legends and report tables."""


def center_column(center: str) -> str:
    """Facilities column holding the designation flag of `center`."""
    return f"{center}_center"


def service_label(service: str) -> str:
    """Readable name of a service for titles and tables ("cath_lab" -> "Cath lab"); unknown names are spelled out."""
    return SERVICE_LABELS.get(service, service.replace("_", " ").capitalize())


def hospital_kinds(levels: pd.Series | np.ndarray, kinds: pd.Series | np.ndarray) -> np.ndarray:
    """Kind of each site: a hospital's given kind (DEFAULT_HOSPITAL_KIND when blank), "" for non-hospitals."""
    import numpy as np  # here, not at the top: the CLI offers SERVICES without loading numpy

    level = np.asarray(levels, dtype=object)
    kind = np.asarray(kinds, dtype=object)
    hospital = np.isin(level, np.asarray(HOSPITAL_LEVELS, dtype=object))
    return np.where(hospital, np.where(kind == "", DEFAULT_HOSPITAL_KIND, kind), "").astype(object)


HEALTH_CENTER_LEVELS: tuple[str, ...] = ("township_hc", "community_hc")
"""Government health centers: staffed with licensed physicians by their staffing norms, GPs or not."""


def first_contact(levels: Sequence[str] | np.ndarray, gps: np.ndarray, village_doctors: np.ndarray,
                  provider: str) -> np.ndarray:
    """Boolean per site: a first-contact (primary-care) point given its staff, under `provider`.

    "staffed": a township or community health center, or a village clinic with a GP or a village doctor;
    "gp": any grassroots site with at least one GP (the older, narrower definition).
    """
    import numpy as np  # here, not at the top: the CLI offers SERVICES without loading numpy

    if provider not in PROVIDER_DEFINITIONS:
        raise KeyError(f"unknown primary-care provider {provider!r}; known: {', '.join(PROVIDER_DEFINITIONS)}")
    level = np.asarray(levels, dtype=object).reshape(-1)
    grassroots = np.isin(level, np.asarray(GRASSROOTS_LEVELS, dtype=object))
    if provider == "gp":
        return grassroots & (np.asarray(gps) >= 1)
    centers = np.isin(level, np.asarray(HEALTH_CENTER_LEVELS, dtype=object))
    return grassroots & (centers | (np.asarray(gps) + np.asarray(village_doctors) >= 1))


def providers(sites: pd.DataFrame, service: str, *, provider: str = "staffed") -> np.ndarray:
    """Boolean array: which sites provide `service` today (candidate sites, not yet open, never do).

    Primary care is a first-contact point (`first_contact`); an equipment service is a site with at least one
    unit; a center service is a site with that designation. Tables without a `village_doctors` column count none.
    """
    import numpy as np  # here, not at the top: the CLI offers SERVICES without loading numpy

    existing = (sites["kind"] == "existing").to_numpy()
    if service == PRIMARY_CARE:
        doctors = (sites["village_doctors"].to_numpy() if "village_doctors" in sites.columns
                   else np.zeros(len(sites), dtype=np.int64))
        has = first_contact(sites["level"].to_numpy(), sites["gps"].to_numpy(), doctors, provider)
    elif service in EQUIPMENT:
        has = sites[service].to_numpy() >= 1
    elif service in CENTERS:
        has = sites[center_column(service)].to_numpy().astype(bool)
    else:
        raise KeyError(f"unknown service {service!r}; known: {', '.join(SERVICES)}")
    return existing & has
