"""Residents per demand point and year of a multi-year plan: from a projection table (township x year x age band)
when the bundle has one, else by the cohort-shift rule of `[years.demand]`.

Both keep each demand point's place within its township: a township's under-65 and 65+ residents of year y are
spread over its points in proportion to the point's own under-65 and 65+ residents of the base year (by its
population where the township had none of that band). Cohort shift: the township's population is
P_t (1 + g_t)^(y - y_base), its 65+ share s_t + a_t (y - y_base), with g the yearly growth and a the yearly rise of
the share in share points (default: `AGEING_RELATIVE` s_t).
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from allocopt.errors import DataError, ScenarioError
from allocopt.inputs import inside_bundle, read_bytes
from allocopt.years_settings import AGEING_RELATIVE, DemandChange

PROJECTION_FILE = "projection.csv"
"""The projection table a bundle may ship (or `years.demand.projection` names)."""

PROJECTION_COLUMNS = ("township_code", "year", "age_band", "population")
AGE_BANDS = ("under_65", "65_plus")


@dataclass(frozen=True)
class BaseDemand:
    """The bundle's residents per demand point (65+ where unknown: the scenario's share) and township."""

    township_ids: tuple[str, ...]
    demand_township: np.ndarray
    population: np.ndarray
    population_65plus: np.ndarray


@dataclass(frozen=True)
class YearDemand:
    """Residents of one year per demand point, all and 65+."""

    population: np.ndarray
    population_65plus: np.ndarray


def yearly_demand(base: BaseDemand, years: Sequence[int], change: DemandChange, *, bundle: Path | None
                  ) -> tuple[dict[int, YearDemand], str]:
    """Residents per demand point for each year, and where they come from ("projection <file>" or "cohort shift").

    Raises DataError for a projection table that misses a township or year or holds a bad row, ScenarioError for a
    growth or ageing rate that empties a township or drives its 65+ share out of [0, 1]."""
    path = _projection_path(change, bundle)
    if path is not None:
        bands = _read_projection(path, base.township_ids, years)
        return {y: _spread(base, bands[y]) for y in years}, f"projection {path.name}"
    base_year = change.base_year if change.base_year is not None else years[0]
    return {y: (YearDemand(base.population, base.population_65plus) if y == base_year
                else _spread(base, _cohort_shift(base, y, base_year, change))) for y in years}, "cohort shift"


def _projection_path(change: DemandChange, bundle: Path | None) -> Path | None:
    if change.projection is not None:
        if bundle is None:
            raise ScenarioError(f"key 'years.demand.projection' names {change.projection!r}, but the region is "
                                "no bundle on disk; drop the key or run on a bundle")
        return inside_bundle(bundle, change.projection, where="years.demand.projection", outside_allowed=False)
    if bundle is not None and (bundle / PROJECTION_FILE).is_file():
        return bundle / PROJECTION_FILE
    return None


def _township_bands(base: BaseDemand) -> np.ndarray:
    """(townships x 2) residents under 65 and 65+ in the base year."""
    count = len(base.township_ids)
    older = np.bincount(base.demand_township, weights=base.population_65plus, minlength=count)
    everyone = np.bincount(base.demand_township, weights=base.population, minlength=count)
    return np.column_stack([everyone - older, older])


def _cohort_shift(base: BaseDemand, year: int, base_year: int, change: DemandChange) -> np.ndarray:
    """(townships x 2) residents under 65 and 65+ of `year` by the cohort-shift rule (the base year's residents
    are the bundle's, unchanged)."""
    bands = _township_bands(base)
    total = bands.sum(axis=1)
    steps = year - base_year
    result = np.zeros_like(bands)
    for t, code in enumerate(base.township_ids):
        growth_key = (f"years.demand.growth_by_township.{code}" if code in change.growth_by_township
                      else "years.demand.growth")
        growth = change.growth_by_township.get(code, change.growth)
        share = bands[t, 1] / total[t] if total[t] > 0 else 0.0
        ageing = change.ageing_by_township.get(code, change.ageing if change.ageing is not None
                                               else AGEING_RELATIVE * share)
        if total[t] > 0 and (1.0 + growth <= 0.0):
            raise ScenarioError(f"key {growth_key!r} = {growth:g} empties township {code} by {year}; a yearly "
                                "growth must be above -1 (a fraction: -0.02 is a loss of 2% a year)")
        people = total[t] * (1.0 + growth) ** steps if total[t] > 0 else 0.0
        older = share + ageing * steps
        if total[t] > 0 and not 0.0 <= older <= 1.0:
            ageing_key = (f"years.demand.ageing_by_township.{code}" if code in change.ageing_by_township
                          else "years.demand.ageing")
            raise ScenarioError(f"key {ageing_key!r}: township {code}'s 65+ share becomes {older:.1%} by {year}; "
                                "give a yearly rise (share points, e.g. 0.006) that keeps it within 0-100%")
        result[t] = (people * (1.0 - older), people * older)
    return result


def _spread(base: BaseDemand, bands: np.ndarray) -> YearDemand:
    """Township band totals of a year over the demand points, in proportion to each point's base-year band."""
    now = _township_bands(base)
    points = np.column_stack([base.population - base.population_65plus, base.population_65plus])
    town = base.demand_township
    share = np.zeros_like(points)
    for band in range(2):
        held = now[town, band]
        by_people = base.population / np.maximum(np.bincount(town, weights=base.population,
                                                             minlength=len(now))[town], 1e-300)
        share[:, band] = np.where(held > 0, points[:, band] / np.where(held > 0, held, 1.0), by_people)
    spread = share * bands[town]
    return YearDemand(population=spread.sum(axis=1), population_65plus=spread[:, 1])


def _read_projection(path: Path, township_ids: tuple[str, ...], years: Sequence[int]) -> dict[int, np.ndarray]:
    """(townships x 2) residents per plan year from a projection CSV; DataError naming the file and row."""
    raw = read_bytes(path, kind="data", what="projection table")
    try:
        table = pd.read_csv(io.BytesIO(raw), dtype=str, keep_default_na=False, encoding="utf-8-sig")
    except (ValueError, UnicodeDecodeError) as exc:
        raise DataError(f"{path}: not a readable CSV table ({exc}); save it as UTF-8 CSV") from None
    missing = [c for c in PROJECTION_COLUMNS if c not in table.columns]
    if missing:
        raise DataError(f"{path}: missing column(s) {', '.join(missing)}; a projection table has the columns "
                        f"{', '.join(PROJECTION_COLUMNS)} (one row per township, year and age band)")
    position = {code: t for t, code in enumerate(township_ids)}
    result = {y: np.zeros((len(township_ids), 2)) for y in years}
    seen: set[tuple[str, int, str]] = set()
    for row, record in enumerate(table.itertuples(index=False), start=2):
        code, year_text, band, people_text = (str(getattr(record, c)).strip() for c in PROJECTION_COLUMNS)
        where = f"{path}, row {row}"
        if code not in position:
            raise DataError(f"{where}: township_code {code!r} is not a township of the region; fix the code")
        if band not in AGE_BANDS:
            raise DataError(f"{where}: age_band {band!r}; use {' or '.join(AGE_BANDS)}")
        year, people = _row_numbers(where, year_text, people_text)
        if (code, year, band) in seen:
            raise DataError(f"{where}: a second row for township {code}, year {year}, age band {band}; keep one")
        seen.add((code, year, band))
        if year in result:
            result[year][position[code], AGE_BANDS.index(band)] = people
    _check_complete(path, seen, township_ids, years)
    return result


def _row_numbers(where: str, year_text: str, people_text: str) -> tuple[int, float]:
    try:
        year, people = int(year_text), float(people_text)
    except ValueError:
        raise DataError(f"{where}: year {year_text!r} and population {people_text!r} must be numbers") from None
    if not np.isfinite(people) or people < 0:
        raise DataError(f"{where}: population {people_text!r}; give a number of residents >= 0")
    return year, people


def _check_complete(path: Path, seen: set[tuple[str, int, str]], township_ids: tuple[str, ...],
                    years: Sequence[int]) -> None:
    for year in years:
        for code in township_ids:
            gaps = [band for band in AGE_BANDS if (code, year, band) not in seen]
            if gaps:
                raise DataError(f"{path}: no row for township {code}, year {year}, age band {', '.join(gaps)}; the "
                                f"table needs every township and every plan year ({years[0]}-{years[-1]}) in both "
                                "age bands")
