"""Baseline access: nearest travel time per level and service, coverage, GP density, 2SFCA, equity.

Definitions (populations in people, times in minutes, every average population-weighted):

- Nearest minutes: for each demand point, the least travel time to an existing site of a level, or to a
  site that provides a service today (`services.providers`); `inf` when none is reachable.
- Coverage: a demand point is covered for a service when its nearest minutes are at most the scenario
  threshold. Unreachable points are never covered: they count as unserved and, separately, as unreachable.
- Township population is the sum of its demand points, so township figures add up to the region's.
- GP density: GPs on the staff of existing sites per 10,000 residents. `gp_shortage` is the whole number
  of GPs missing to reach the target density; `gp_shortage_people` is the population left without a GP at
  that density, max(0, population - GPs * 10,000 / target).
- 2SFCA (two-step floating catchment, Luo & Wang 2003) for GPs, with catchment d0 (the primary-care
  threshold unless given): step 1, every existing site j with GPs gets R_j = GPs_j / sum_i w(t_ij) P_i;
  step 2, A_i = 10,000 * sum_j w(t_ij) R_j, in GPs per 10,000 residents. The binary catchment uses
  w(t) = 1 for t <= d0 and 0 beyond; the Gaussian one (Dai 2010) uses
  w(t) = (exp(-t^2 / (2 d0^2)) - exp(-1/2)) / (1 - exp(-1/2)) for t <= d0 and 0 beyond.
  The population-weighted sum of A_i / 10,000 equals the GPs of the sites with anyone in their catchment.
- Gini: population-weighted Gini index over demand points of the minutes to the nearest provider, each
  time capped at `gini_cap_factor` times the service threshold (2 by default). Unreachable points count at
  the cap, as do points farther than it: beyond that a place is treated as having no access at all, so the
  index does not depend on how far the travel-time search ran (as long as its cutoff is at least the cap).
  0 is perfect equality (every time equal, including all at the cap); None without residents.
- Worst township of a service: the lowest covered share among townships with residents, ties broken by
  code. The overall worst township has the largest weighted gap share: the scenario-weighted sum of the
  unserved people of every service and of `gp_shortage_people`, over the weight sum times the population.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Literal, Protocol

import numpy as np
import pandas as pd

from allocopt.errors import DataError, ScenarioError
from allocopt.scenario import Scenario
from allocopt.services import GP_SHORTAGE, LEVELS, PRIMARY_CARE, SERVICES, providers
from allocopt.travel import MatrixLike, aligned_minutes

PER_10K = 10_000.0
"""Residents per unit of GP density."""

GINI_CAP_FACTOR = 2.0
"""Default cap on minutes in the Gini index, as a multiple of the service threshold."""

Catchment = Literal["binary", "gaussian"]

_SITE_COLUMNS = ("id", "kind", "level", "gps", "township_code")
_DEMAND_COLUMNS = ("id", "township_code", "population")
_TOWNSHIP_COLUMNS = ("code", "name")


class RegionLike(Protocol):
    """What access needs of a region: its name and its township, demand and site tables."""

    @property
    def name(self) -> str: ...

    @property
    def townships(self) -> pd.DataFrame: ...

    @property
    def demand(self) -> pd.DataFrame: ...

    @property
    def sites(self) -> pd.DataFrame: ...


@dataclass(frozen=True)
class AccessReport:
    """Baseline access of a region: per demand point, per township, per service, and summary figures.

    `demand` has one row per demand point (region order), `townships` one per township (layer order),
    `services` one per service of `services.SERVICES` (indexed by service). Missing values (no residents,
    nothing reachable) are NaN.
    """

    region: str
    population: float
    gps: float
    gp_per_10k: float
    gp_target_per_10k: float
    worst_township: str | None
    catchment: Catchment
    catchment_minutes: float
    gini_cap_factor: float
    demand: pd.DataFrame
    townships: pd.DataFrame
    services: pd.DataFrame

    @property
    def primary_care_mean_minutes(self) -> float:
        """Population-weighted mean minutes to the nearest primary-care site, over residents who reach one."""
        return float(self.services.loc[PRIMARY_CARE, "mean_minutes"])

    @property
    def covered_share(self) -> dict[str, float]:
        """Share of residents within the threshold of each service."""
        return {service: float(share) for service, share in self.services["covered_share"].items()}

    def to_dict(self) -> dict[str, Any]:
        """The report as JSON-safe built-in types: no inf or NaN (None instead), every service present."""
        services = {
            service: {key: _json_value(row[key]) for key in _SERVICE_JSON_KEYS}
            for service, row in self.services.iterrows()
        }
        townships = []
        for row in self.townships.to_dict(orient="records"):
            entry: dict[str, Any] = {key: _json_value(row[key]) for key in _TOWNSHIP_JSON_KEYS}
            entry["services"] = {
                service: {key: _json_value(row[f"{key}_{service}"]) for key in _TOWNSHIP_SERVICE_KEYS}
                for service in SERVICES
            }
            townships.append(entry)
        return {
            "region": self.region,
            "population": _json_value(self.population),
            "gps": _json_value(self.gps),
            "gp_per_10k": _json_value(self.gp_per_10k),
            "gp_target_per_10k": _json_value(self.gp_target_per_10k),
            "primary_care_mean_minutes": _json_value(self.primary_care_mean_minutes),
            "worst_township": self.worst_township,
            "gp_2sfca": {"catchment": self.catchment, "catchment_minutes": self.catchment_minutes},
            "gini_cap_factor": self.gini_cap_factor,
            "services": services,
            "townships": townships,
        }


_SERVICE_JSON_KEYS = (
    "threshold_minutes", "providers", "covered_population", "covered_share", "unserved_population",
    "unreachable_population", "mean_minutes", "gini", "worst_township",
)
_TOWNSHIP_JSON_KEYS = (
    "code", "name", "population", "gps", "gp_per_10k", "gp_target_per_10k", "gp_shortage",
    "gp_shortage_people", "gp_2sfca", "gap_share",
)
_TOWNSHIP_SERVICE_KEYS = ("mean_minutes", "covered_population", "covered_share")


def compute_access(
    region: RegionLike,
    matrix: MatrixLike,
    scenario: Scenario,
    *,
    catchment: Catchment = "binary",
    catchment_minutes: float | None = None,
    gini_cap_factor: float = GINI_CAP_FACTOR,
) -> AccessReport:
    """Measure today's access of `region` from its travel-time `matrix` against the targets of `scenario`.

    Matrix rows and columns are matched to demand points and sites by ID, so their order does not matter;
    every demand point and site must appear exactly once. `catchment_minutes` defaults to the primary-care
    threshold. Raises DataError when the tables and the matrix do not fit together, ScenarioError for a
    missing threshold or weight or a bad option.
    """
    demand, sites, townships = region.demand, region.sites, region.townships
    _require_columns(demand, _DEMAND_COLUMNS, layer="demand")
    _require_columns(sites, _SITE_COLUMNS, layer="sites")
    _require_columns(townships, _TOWNSHIP_COLUMNS, layer="townships")
    minutes = aligned_minutes(matrix, list(demand["id"]), list(sites["id"]), exact=True)
    thresholds = {s: _scenario_number(scenario.thresholds_minutes, "thresholds_minutes", s) for s in SERVICES}
    d0 = thresholds[PRIMARY_CARE] if catchment_minutes is None else float(catchment_minutes)
    _check_gini_cap(gini_cap_factor)

    population = demand["population"].to_numpy(dtype=float)
    existing = (sites["kind"] == "existing").to_numpy()
    gps = np.where(existing, sites["gps"].to_numpy(dtype=float), 0.0)
    township_index = _township_index(demand["township_code"], townships["code"])

    nearest = {f"minutes_to_{level}": _nearest(minutes, existing & (sites["level"] == level).to_numpy())
               for level in LEVELS}
    provided = {s: providers(sites, s, provider=scenario.primary_care_provider) for s in SERVICES}
    service_minutes = {s: _nearest(minutes, provided[s]) for s in SERVICES}
    covered = {s: service_minutes[s] <= thresholds[s] for s in SERVICES}
    scores = gp_2sfca(minutes, population, gps, catchment_minutes=d0, catchment=catchment)

    demand_table = pd.DataFrame({
        "id": demand["id"].to_numpy(),
        "township_code": demand["township_code"].to_numpy(),
        "population": population,
        **nearest,
        **{f"minutes_to_{s}": service_minutes[s] for s in SERVICES},
        **{f"covered_{s}": covered[s] for s in SERVICES},
        "gp_2sfca": scores,
    })
    township_table = _township_table(
        townships, township_index, population, service_minutes, covered, scores,
        township_gps=_township_gps(sites, gps, townships["code"]), scenario=scenario,
    )
    services_table = pd.DataFrame(
        [
            _service_row(s, thresholds[s], service_minutes[s], covered[s], population, township_table,
                         providers=int(provided[s].sum()), gini_cap_factor=gini_cap_factor)
            for s in SERVICES
        ],
    ).set_index("service", drop=False)
    services_table.index.name = None

    total = float(population.sum())
    total_gps = float(gps.sum())
    return AccessReport(
        region=str(region.name),
        population=total,
        gps=total_gps,
        gp_per_10k=_ratio(total_gps * PER_10K, total),
        gp_target_per_10k=float(scenario.gp_target_per_10k),
        worst_township=_worst(township_table, "gap_share", largest=True),
        catchment=catchment,
        catchment_minutes=d0,
        gini_cap_factor=float(gini_cap_factor),
        demand=demand_table,
        townships=township_table,
        services=services_table,
    )


def gp_2sfca(
    minutes: np.ndarray,
    population: np.ndarray,
    gps: np.ndarray,
    *,
    catchment_minutes: float,
    catchment: Catchment = "binary",
) -> np.ndarray:
    """Two-step floating catchment score of every demand point, in GPs per 10,000 residents (see module docs).

    `minutes` is demand x sites, `population` per demand point, `gps` per site (0 where a site has none).
    The sums run over the site-demand pairs within the catchment only. ScenarioError for an unknown
    `catchment` or a catchment that is not a positive number of minutes.
    """
    if catchment not in ("binary", "gaussian"):
        raise ScenarioError(f"catchment must be 'binary' or 'gaussian', got {catchment!r}")
    if not (math.isfinite(catchment_minutes) and catchment_minutes > 0):
        raise ScenarioError(f"catchment_minutes must be a positive number, got {catchment_minutes!r}")
    staffed = np.flatnonzero(gps > 0)
    rows, cols = np.nonzero(minutes[:, staffed] <= catchment_minutes)
    times = minutes[rows, staffed[cols]]
    if catchment == "gaussian":
        edge = math.exp(-0.5)
        weights = (np.exp(-0.5 * (times / catchment_minutes) ** 2) - edge) / (1.0 - edge)
    else:
        weights = np.ones(times.shape)
    catchment_population = np.bincount(cols, weights=weights * population[rows], minlength=staffed.size)
    ratio = np.divide(gps[staffed], catchment_population, out=np.zeros(staffed.size),
                      where=catchment_population > 0)
    return PER_10K * np.bincount(rows, weights=weights * ratio[cols], minlength=minutes.shape[0])


def weighted_gini(values: np.ndarray, weights: np.ndarray) -> float:
    """Population-weighted Gini index of finite, non-negative `values` (half the relative mean difference).

    G = sum_ij w_i w_j |x_i - x_j| / (2 W^2 mean); 0 when all values are equal (or all 0), NaN without
    weight.
    """
    keep = weights > 0
    x, w = values[keep], weights[keep]
    total = w.sum()
    weighted_sum = float(w @ x)
    if total <= 0:
        return math.nan
    if weighted_sum <= 0:
        return 0.0
    order = np.argsort(x, kind="stable")
    x, w = x[order], w[order]
    cumulative = np.cumsum(w)
    # Each ordered pair i < j contributes w_i w_j (x_j - x_i); summing per point gives this closed form.
    return float(np.sum(w * x * (2.0 * cumulative - w - total)) / (total * weighted_sum))


def _nearest(minutes: np.ndarray, columns: np.ndarray) -> np.ndarray:
    """Least minutes from each row to the selected columns; `inf` for every row when none is selected."""
    index = np.flatnonzero(columns)
    if index.size == 0:
        return np.full(minutes.shape[0], np.inf)
    return minutes[:, index].min(axis=1)


def _service_row(
    service: str,
    threshold: float,
    minutes: np.ndarray,
    covered: np.ndarray,
    population: np.ndarray,
    townships: pd.DataFrame,
    *,
    providers: int,
    gini_cap_factor: float,
) -> dict[str, Any]:
    total = float(population.sum())
    covered_population = float(population[covered].sum())
    reachable = np.isfinite(minutes)
    return {
        "service": service,
        "threshold_minutes": threshold,
        "providers": providers,
        "covered_population": covered_population,
        "covered_share": _ratio(covered_population, total),
        "unserved_population": total - covered_population,
        "unreachable_population": float(population[~reachable].sum()),
        "mean_minutes": _weighted_mean(minutes, population),
        "gini": weighted_gini(np.minimum(minutes, gini_cap_factor * threshold), population),
        "worst_township": _worst(townships, f"covered_share_{service}", largest=False),
    }


def _township_table(
    townships: pd.DataFrame,
    index: np.ndarray,
    population: np.ndarray,
    service_minutes: dict[str, np.ndarray],
    covered: dict[str, np.ndarray],
    scores: np.ndarray,
    *,
    township_gps: np.ndarray,
    scenario: Scenario,
) -> pd.DataFrame:
    count = len(townships)

    def per_township(values: np.ndarray) -> np.ndarray:
        return np.bincount(index, weights=values, minlength=count)

    people = per_township(population)
    table: dict[str, Any] = {
        "code": townships["code"].to_numpy(),
        "name": townships["name"].to_numpy(),
        "population": people,
    }
    weight_sum = 0.0
    weighted_unserved = np.zeros(count)
    for service in SERVICES:
        minutes = service_minutes[service]
        reachable = np.isfinite(minutes)
        reached = per_township(np.where(reachable, population, 0.0))
        time_sum = per_township(population * np.where(reachable, minutes, 0.0))
        covered_people = per_township(np.where(covered[service], population, 0.0))
        table[f"mean_minutes_{service}"] = ratio_array(time_sum, reached)
        table[f"covered_population_{service}"] = covered_people
        table[f"covered_share_{service}"] = ratio_array(covered_people, people)
        weight = _scenario_number(scenario.weights, "weights", service)
        weight_sum += weight
        weighted_unserved += weight * (people - covered_people)

    target = float(scenario.gp_target_per_10k)
    needed = people * target / PER_10K
    shortage_people = (np.maximum(0.0, people - township_gps * PER_10K / target) if target > 0
                       else np.zeros(count))
    table["gps"] = township_gps
    table["gp_per_10k"] = ratio_array(township_gps * PER_10K, people)
    table["gp_target_per_10k"] = np.full(count, target)
    # Whole GPs; the tolerance keeps rounding noise (3.0000000001 needed) from asking for one more.
    table["gp_shortage"] = np.maximum(0.0, np.ceil(needed - township_gps - 1e-9))
    table["gp_shortage_people"] = shortage_people
    table["gp_2sfca"] = ratio_array(per_township(scores * population), people)
    gp_weight = _scenario_number(scenario.weights, "weights", GP_SHORTAGE)
    weighted_gap = weighted_unserved + gp_weight * shortage_people
    table["gap_share"] = ratio_array(weighted_gap, people * (weight_sum + gp_weight))
    return pd.DataFrame(table)


def _township_gps(sites: pd.DataFrame, gps: np.ndarray, codes: pd.Series) -> np.ndarray:
    """GPs of existing sites summed per township (sites outside every township count only in the total)."""
    index = pd.Index(codes).get_indexer(sites["township_code"])
    inside = index >= 0
    return np.bincount(index[inside], weights=gps[inside], minlength=len(codes))


def _township_index(demand_codes: pd.Series, codes: pd.Series) -> np.ndarray:
    """Position of each demand point's township in the townships table; DataError for an unknown code."""
    township_codes = pd.Index(codes)
    if not township_codes.is_unique:
        duplicated = township_codes[township_codes.duplicated()].unique()
        raise DataError(f"townships: duplicate code(s) {_few(duplicated)}; give every township its own code")
    index = township_codes.get_indexer(demand_codes)
    if (index < 0).any():
        unknown = pd.unique(demand_codes.to_numpy()[index < 0])
        raise DataError(
            f"demand: township_code {_few(unknown)} not in the townships layer; "
            "fix the demand points' township_code or add the township"
        )
    return index


def _require_columns(table: pd.DataFrame, columns: tuple[str, ...], *, layer: str) -> None:
    missing = [c for c in columns if c not in table.columns]
    if missing:
        raise DataError(
            f"{layer}: missing column(s) {', '.join(missing)}; load the region with regions.load_region"
        )


def _scenario_number(table: dict[str, float], name: str, key: str) -> float:
    if key not in table:
        raise ScenarioError(f"key '{name}.{key}' is missing; add it to the scenario or drop the override")
    return float(table[key])


def _check_gini_cap(gini_cap_factor: float) -> None:
    if not (math.isfinite(gini_cap_factor) and gini_cap_factor > 0):
        raise ScenarioError(f"gini_cap_factor must be a positive number, got {gini_cap_factor!r}")


def _weighted_mean(minutes: np.ndarray, population: np.ndarray) -> float:
    """Population-weighted mean over reachable points; NaN when no resident reaches any."""
    reachable = np.isfinite(minutes)
    return _ratio(float(population[reachable] @ minutes[reachable]), float(population[reachable].sum()))


def _worst(townships: pd.DataFrame, column: str, *, largest: bool) -> str | None:
    """Code of the populated township with the lowest (or largest) `column`, ties broken by code."""
    ranked = townships.loc[townships["population"] > 0, ["code", column]].dropna()
    if ranked.empty:
        return None
    ranked = ranked.sort_values([column, "code"], ascending=[not largest, True], kind="stable")
    return str(ranked["code"].iloc[0])


def _ratio(numerator: float, denominator: float) -> float:
    return numerator / denominator if denominator > 0 else math.nan


def ratio_array(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    """numerator / denominator element by element, NaN where the denominator is not positive (no residents,
    no capacity: a share that does not exist rather than 0)."""
    return np.divide(numerator, denominator, out=np.full(numerator.shape, np.nan), where=denominator > 0)


def _few(values: Any, limit: int = 5) -> str:
    items = [str(v) for v in values]
    shown = ", ".join(items[:limit]) or "none"
    return f"{shown} (+{len(items) - limit} more)" if len(items) > limit else shown


def _json_value(value: Any) -> Any:
    """A JSON-safe scalar: None for NaN/inf/missing, built-in int/float/bool/str otherwise."""
    if value is None:
        return None
    if isinstance(value, bool | np.bool_):
        return bool(value)
    if isinstance(value, int | np.integer):
        return int(value)
    if isinstance(value, float | np.floating):
        return float(value) if math.isfinite(value) else None
    return str(value)
