"""120 ambulances: the scenario's `[ems]` settings, the station inputs of a problem, and their pre-processing.

A scenario with an `[ems]` table (even an empty one) adds ambulances to the allocation model
(`model.ems.add_ambulances`); without it the model is exactly the one without ambulances. The region's
`ems_stations` layer gives the stations: existing ones with today's ambulances, and candidates where a station
may open. An ambulance's response time to a demand point is `dispatch_minutes` (call to wheels rolling) plus the
drive from its station over the road network; a point is covered by an ambulance within
`response_threshold_minutes`. Ambulances are busy a share `busy_fraction` of the time, so a point within reach of
k ambulances is covered with probability 1 - q^k (Daskin 1983, the maximum expected covering location model).

This module knows nothing of the MILP: it validates settings and turns the stations and their travel minutes
into `EmsData` (reach sets of demand points merged into groups).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields, replace
from typing import Any

import numpy as np
import pandas as pd

from allocopt.errors import DataError, ScenarioError
from allocopt.money import money_setting
from allocopt.schema import describe_rows, row_labels
from allocopt.travel import MatrixLike, aligned_minutes

LAYER = "ems_stations"
"""The region layer of 120 stations."""


@dataclass(frozen=True)
class EmsSettings:
    """The `[ems]` settings, fully resolved (sources: `SOURCES`, docs/scenario.md)."""

    response_threshold_minutes: float = 30.0
    dispatch_minutes: float = 3.0
    busy_fraction: float = 0.2
    weight: float = 1.0
    residents_per_ambulance: float = 30_000.0
    fleet_norm_hard: bool = False
    fleet_cap: str | int = "norm"
    max_ambulances_per_station: int = 4
    ambulance_capital_yuan: float = 800_000.0
    ambulance_annual_yuan: float = 1_500_000.0
    station_capital_yuan: float = 500_000.0
    station_annual_yuan: float = 100_000.0

    def expected_share(self, ambulances: np.ndarray) -> np.ndarray:
        """Probability that a point within reach of `ambulances` ambulances finds one free: 1 - q^k."""
        return 1.0 - np.power(self.busy_fraction, np.asarray(ambulances, dtype=float))

    def fleet_norm(self, population: float) -> int:
        """Ambulances the norm asks for: ceil(population / residents_per_ambulance)."""
        return math.ceil(population / self.residents_per_ambulance - 1e-9)

    def fleet_cap_ambulances(self, population: float, today: int) -> int | None:
        """The most ambulances a plan may leave on duty (never below today's fleet); None without a cap.

        The expected coverage of every further ambulance is positive, so without a cap the model spends whatever
        budget it is given; "norm" stops at the fleet norm, a whole number at that many, "none" lifts the cap."""
        if self.fleet_cap == "none":
            return None
        cap = self.fleet_norm(population) if self.fleet_cap == "norm" else int(self.fleet_cap)
        return max(cap, today)


SOURCES: Mapping[str, str] = {
    "response_threshold_minutes": "planning assumption (unconfirmed as a national figure): the pre-hospital "
                                  "emergency guidance of 2020 (国卫医发〔2020〕19号, number to confirm) asks for a "
                                  "service radius of 10-20 km in rural areas; 20 km on mountain roads at about "
                                  "40 km/h is 30 minutes",
    "dispatch_minutes": "95% of ambulances leave within 3 minutes of the call (国卫医发〔2020〕19号 target for "
                        "2025; number to confirm)",
    "busy_fraction": "planning assumption (unconfirmed): share of the time an ambulance is out on a call; "
                     "measure it from the county's 120 dispatch records as calls a year x hours per call / "
                     "(ambulances x 8,760). Daskin 1983 takes one system-wide value",
    "weight": "people-equivalents per resident not expected to be reached in time: 1 counts them like one "
              "person left unserved by another service",
    "residents_per_ambulance": "one ambulance per 30,000 residents (Shanghai reported exactly this in 2020; the "
                               "national norm is unconfirmed)",
    "fleet_norm_hard": "off by default: the norm is reported; true makes it a hard target",
    "fleet_cap": "planning choice (unconfirmed): the plan stops at the fleet norm (never below today's fleet), "
                 "because the expected coverage of every further ambulance is positive and the model alone "
                 "would otherwise spend any budget; a county with measured busy fractions sets a number or "
                 "\"none\"",
    "max_ambulances_per_station": "planning assumption: a township station garages up to four ambulances",
    "ambulance_capital_yuan": "an ambulance with its equipment costs about 0.5-1 million yuan (DOMAIN.md, "
                              "recall; unconfirmed): 0.8 million for a monitoring-type ambulance",
    "ambulance_annual_yuan": "planning assumption (unconfirmed): one ambulance staffed 24/7 needs about 4.4 crews "
                             "(8,760 hours / about 2,000 working hours a year) of a doctor, a nurse and a driver, "
                             "about 320,000 yuan a year per crew, plus fuel and upkeep",
    "station_capital_yuan": "planning assumption (unconfirmed): a garage and duty room at a township health "
                            "center",
    "station_annual_yuan": "planning assumption (unconfirmed): running a station (dispatch line, utilities)",
}
"""Where each `[ems]` default comes from (for docs/scenario.md)."""

_MONEY = ("ambulance_capital_yuan", "ambulance_annual_yuan", "station_capital_yuan", "station_annual_yuan")
# key: (minimum, maximum, strictly above the minimum, strictly below the maximum)
_NUMBERS: dict[str, tuple[float, float | None, bool, bool]] = {
    "response_threshold_minutes": (0.0, None, True, False),
    "dispatch_minutes": (0.0, None, False, False),
    "busy_fraction": (0.0, 1.0, False, True),
    "weight": (0.0, None, False, False),
    "residents_per_ambulance": (0.0, None, True, False),
}


def parse_ems(table: Any) -> EmsSettings:
    """EmsSettings from the scenario's `[ems]` table over the defaults; ScenarioError naming a bad key."""
    if not isinstance(table, Mapping):
        raise ScenarioError("key 'ems' must be a table ([ems])")
    known = {f.name for f in fields(EmsSettings)}
    values: dict[str, Any] = {}
    for key, value in table.items():
        if key not in known:
            raise ScenarioError(f"unknown key 'ems.{key}'; known keys here: {', '.join(sorted(known))}")
        if key == "fleet_norm_hard":
            if not isinstance(value, bool):
                raise ScenarioError(f"key 'ems.fleet_norm_hard' must be true or false, got {value!r}")
            values[key] = value
        elif key == "fleet_cap":
            values[key] = _fleet_cap(value)
        elif key == "max_ambulances_per_station":
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ScenarioError(f"key 'ems.{key}' must be a whole number >= 0, got {value!r}")
            values[key] = value
        elif key in _MONEY:
            values[key] = _number(f"ems.{key}", money_setting(f"ems.{key}", value), minimum=0.0, maximum=None)
        else:
            minimum, maximum, strict_low, strict_high = _NUMBERS[key]
            values[key] = _number(f"ems.{key}", value, minimum=minimum, maximum=maximum, strict_low=strict_low,
                                  strict_high=strict_high)
    return replace(EmsSettings(), **values)


def ems_to_dict(settings: EmsSettings) -> dict[str, Any]:
    """The settings in the TOML layout."""
    return {f.name: getattr(settings, f.name) for f in fields(EmsSettings)}


def _fleet_cap(value: Any) -> str | int:
    """`ems.fleet_cap`: "norm", "none" or a whole number of ambulances >= 0."""
    if value in ("norm", "none") or (isinstance(value, int) and not isinstance(value, bool) and value >= 0):
        return value
    raise ScenarioError(f"key 'ems.fleet_cap' must be \"norm\", \"none\" or a whole number of ambulances >= 0, got "
                        f"{value!r}")


def _number(key: str, value: Any, *, minimum: float, maximum: float | None, strict_low: bool = False,
            strict_high: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ScenarioError(f"key {key!r} must be a number, got {value!r}")
    number = float(value)
    below = number < minimum or (strict_low and number == minimum)
    above = maximum is not None and (number > maximum or (strict_high and number == maximum))
    if not math.isfinite(number) or below or above:
        low = f"{'above' if strict_low else 'at least'} {minimum:g}"
        high = "" if maximum is None else f" and {'below' if strict_high else 'at most'} {maximum:g}"
        raise ScenarioError(f"key {key!r} must be a finite number {low}{high}, got {value!r}")
    return number


# ---------------------------------------------------------------- inputs and pre-processing


@dataclass(frozen=True, eq=False)
class EmsInputs:
    """The stations of a region, aligned with a problem's demand points.

    `drive_minutes` is (demand points x stations), the drive from each station to each point (`inf` where no
    road leads there); `source` names the layer in messages.
    """

    station_ids: tuple[str, ...]
    station_names: tuple[str, ...]
    station_township: tuple[str, ...]
    ambulances: np.ndarray
    candidate: np.ndarray
    drive_minutes: np.ndarray
    source: str = f"layer '{LAYER}'"

    def __post_init__(self) -> None:
        n = len(self.station_ids)
        for name, values in (("station_names", self.station_names), ("station_township", self.station_township),
                             ("ambulances", self.ambulances), ("candidate", self.candidate)):
            if len(values) != n:
                raise DataError(f"{self.source}: {len(values)} entries of {name}, expected {n} (one per station)")
        if self.drive_minutes.ndim != 2 or self.drive_minutes.shape[1] != n:
            raise DataError(f"{self.source}: drive minutes of shape {self.drive_minutes.shape}, expected one column "
                            "per station")
        ambulances = np.asarray(self.ambulances, dtype=float)
        bad = ~np.isfinite(ambulances) | (ambulances < 0) | (ambulances != np.round(ambulances))
        if bad.any():
            j = int(np.flatnonzero(bad)[0])
            raise DataError(f"{self.source}, station '{self.station_ids[j]}', field 'ambulances': "
                            f"{self.ambulances[j]!r} is not a whole number >= 0; give today's ambulances")
        if np.isnan(self.drive_minutes).any() or (self.drive_minutes < 0).any():
            raise DataError(f"{self.source}: drive minutes contain NaN or negative values; use inf for "
                            "unreachable pairs")

    def response_minutes(self, settings: EmsSettings) -> np.ndarray:
        """(demand x stations) response minutes: dispatch plus drive."""
        return settings.dispatch_minutes + self.drive_minutes

    def nearest_staffed_minutes(self, settings: EmsSettings, ambulances: np.ndarray) -> np.ndarray:
        """Per demand point, the response minutes of the nearest station holding `ambulances` > 0 (inf if none)."""
        staffed = np.asarray(ambulances) > 0
        if not staffed.any():
            return np.full(len(self.drive_minutes), np.inf)
        return self.response_minutes(settings)[:, staffed].min(axis=1)


@dataclass(frozen=True, eq=False)
class EmsData:
    """Sets and parameters of the ambulance families (arrays by station position, demand point or group).

    `max_added[j]` is the most ambulances the plan may add at station j. Demand points whose reach sets (stations
    within the response threshold) are identical form one group: `group_of_demand` (-1 for points no station
    reaches), `group_stations[g]` the station positions, `group_population[g]` the residents, `group_today[g]`
    today's ambulances within reach.
    """

    settings: EmsSettings
    inputs: EmsInputs
    population: float
    max_added: np.ndarray
    group_of_demand: np.ndarray
    group_stations: tuple[np.ndarray, ...]
    group_population: np.ndarray
    group_today: np.ndarray

    @property
    def fleet_today(self) -> int:
        """Ambulances on duty today."""
        return int(self.inputs.ambulances.sum())


def prepare_ems(settings: EmsSettings, inputs: EmsInputs | None, demand_population: np.ndarray) -> EmsData:
    """The ambulance sets and parameters of a problem whose scenario has `[ems]`.

    Raises DataError when the region has no stations, or no station is reachable by road from any demand point.
    """
    if inputs is None or not len(inputs.station_ids):
        raise DataError(f"the scenario's [ems] table needs 120 stations, but the region has no {LAYER} layer (or "
                        f"it is empty); add one to the bundle (build-region --ems FILE), or drop [ems]")
    if not np.isfinite(inputs.drive_minutes).any():
        raise DataError(f"{inputs.source}: no station is reachable by road from any demand point; check the "
                        "stations' coordinates (and their CRS) and that the road layer reaches them")
    within = inputs.response_minutes(settings) <= settings.response_threshold_minutes
    keys: dict[bytes, int] = {}
    groups = np.full(len(within), -1, dtype=np.int64)
    members: list[np.ndarray] = []
    for i in np.flatnonzero(within.any(axis=1)):
        stations = np.flatnonzero(within[i])
        key = stations.tobytes()
        if key not in keys:
            keys[key] = len(members)
            members.append(stations)
        groups[i] = keys[key]
    count = len(members)
    reached = groups >= 0
    today = np.asarray(inputs.ambulances, dtype=np.int64)
    return EmsData(
        settings=settings,
        inputs=inputs,
        population=float(np.sum(demand_population)),
        max_added=np.maximum(settings.max_ambulances_per_station - today, 0),
        group_of_demand=groups,
        group_stations=tuple(members),
        group_population=np.bincount(groups[reached], weights=np.asarray(demand_population)[reached],
                                     minlength=count),
        group_today=np.array([int(today[s].sum()) for s in members], dtype=np.int64),
    )


def checked_stations(stations: pd.DataFrame, township_codes: pd.Series, held: np.ndarray, *,
                     where: str) -> pd.DataFrame:
    """A validated `ems_stations` layer with blank township codes filled from `held` (the code of the township
    holding each station); DataError for an unknown township code, or a candidate that has ambulances already."""
    labels = row_labels(stations, "id")
    given = stations["township_code"]
    unknown = ((given != "") & ~given.isin(township_codes)).to_numpy()
    if unknown.any():
        raise DataError(f"{where}, {describe_rows(labels, unknown)}, field 'township_code': '{given[unknown].iloc[0]}' "
                        "is not a code of the townships layer; use a township code or leave it blank.")
    staffed = (stations["candidate"] & (stations["ambulances"] > 0)).to_numpy()
    if staffed.any():
        raise DataError(f"{where}, {describe_rows(labels, staffed)}, field 'ambulances': a candidate station has no "
                        "ambulances today; set ambulances to 0 or candidate to false.")
    return stations.assign(township_code=given.where(given != "", pd.Series(held, index=given.index)).astype(str))


def region_ems_inputs(region: Any, ems_matrix: MatrixLike | None, demand_ids: Sequence[str], *,
                      needed: bool) -> EmsInputs | None:
    """The stations of `region` (its `ems_stations` layer, if any) with their drive minutes to the demand points
    from `ems_matrix` (stations x demand). None without stations, or without minutes when no `[ems]` needs them
    (`needed`); DataError when `[ems]` needs minutes that were not computed."""
    stations = getattr(region, "ems_stations", None)
    if stations is None or (ems_matrix is None and not needed):
        return None
    if ems_matrix is None:
        raise DataError(f"the scenario's [ems] table needs travel minutes from the 120 stations (layer {LAYER}) "
                        "to the demand points, which this run does not compute (optimize --robust plans no "
                        "ambulances yet); drop [ems] for this run")
    station_ids = [str(i) for i in stations["id"]]
    minutes = aligned_minutes(ems_matrix, station_ids, demand_ids, layers=(LAYER, "demand")).T
    return ems_inputs(stations, minutes)


def ems_inputs(stations: Any, drive_minutes: np.ndarray, *, source: str = f"layer '{LAYER}'") -> EmsInputs:
    """EmsInputs from a validated `ems_stations` frame and its (demand x stations) drive minutes."""
    return EmsInputs(
        station_ids=tuple(str(i) for i in stations["id"]),
        station_names=tuple(str(n) for n in stations["name"]),
        station_township=tuple(str(c) for c in stations["township_code"]),
        ambulances=stations["ambulances"].to_numpy(dtype=np.int64),
        candidate=stations["candidate"].to_numpy(dtype=bool),
        drive_minutes=np.asarray(drive_minutes, dtype=float),
        source=source,
    )


def covered_counts(data: EmsData, ambulances: Sequence[int] | np.ndarray) -> np.ndarray:
    """Per demand point, the ambulances within the response threshold when stations hold `ambulances`."""
    held = np.asarray(ambulances, dtype=np.int64)
    per_group = np.array([int(held[s].sum()) for s in data.group_stations], dtype=np.int64)
    return np.where(data.group_of_demand >= 0, per_group[np.maximum(data.group_of_demand, 0)]
                    if len(per_group) else 0, 0)
