"""Closure scenarios: road lines closed (by id or near a hazard zone) or slowed (by class), as a road network and
a travel matrix over it.

A scenario file lists closures as `[[closures]]` tables (see docs/closures.md):

    [[closures]]
    name = "rainy season"        # required, unique
    weight = 0.25                # required: share of the year or probability, 0..1; all weights sum to at most 1
    speed_factor = 0.7           # speeds times this factor (0 < f <= 1), on every road or on `road_classes`
    road_classes = ["county"]
    roads = ["r0123"]            # road ids (roads layer `id`) closed
    hazard_buffer_m = 200        # road lines within this distance of the region's hazards layer closed

Parsing checks what the file alone can tell (`parse_closures`, ScenarioError naming the table and key); applying a
closure to a region checks the rest (`line_factors`: road ids that do not exist, a hazards layer that is missing
or in another CRS). A closed road keeps its nodes: points snap to the same road nodes as in normal conditions, so
a village whose only road closes is cut off (see `network.with_line_factors`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
from numpy.typing import NDArray

from allocopt.errors import DataError, ScenarioError
from allocopt.network import RoadNetwork, with_line_factors
from allocopt.regions import Region
from allocopt.schema import ROAD_CLASSES
from allocopt.travel import TravelMatrix, travel_times

WEIGHT_TOLERANCE = 1e-9
"""Rounding allowed when the closure weights are summed against 1."""

_KEYS = ("name", "weight", "speed_factor", "road_classes", "roads", "hazard_buffer_m")


@dataclass(frozen=True)
class Closure:
    """One closure scenario: its name, weight and what it changes on the road network."""

    name: str
    weight: float
    speed_factor: float = 1.0
    road_classes: tuple[str, ...] = ()
    roads: tuple[str, ...] = ()
    hazard_buffer_m: float | None = None
    label: str = "[[closures]]"
    """Names the table in messages: its number in the file and its name."""
    source: str = "scenario"
    """The scenario file the closure comes from, for messages raised when it is applied to a region."""


def parse_closures(value: Any, *, source: str = "scenario") -> tuple[Closure, ...]:
    """The `[[closures]]` tables of a scenario file `source`, checked; ScenarioError naming the table and key
    otherwise."""
    if not isinstance(value, list) or not all(isinstance(table, Mapping) for table in value):
        raise ScenarioError("key 'closures' must be a list of [[closures]] tables")
    closures = tuple(_closure(table, number, source) for number, table in enumerate(value, start=1))
    names = [closure.name for closure in closures]
    repeated = next((name for name in names if names.count(name) > 1), None)
    if repeated is not None:
        raise ScenarioError(f"[[closures]]: name {repeated!r} is used twice; give every closure its own name")
    total = sum(closure.weight for closure in closures)
    if total > 1.0 + WEIGHT_TOLERANCE:
        raise ScenarioError(
            f"[[closures]]: the weights sum to {total:g}, above 1; a weight is a share of the year (or a "
            "probability), and the remainder is normal conditions: lower them"
        )
    return closures


def closures_to_dict(closures: Sequence[Closure]) -> list[dict[str, Any]]:
    """The closures in the TOML layout (for summaries and audit)."""
    out = []
    for closure in closures:
        table: dict[str, Any] = {"name": closure.name, "weight": closure.weight}
        if closure.speed_factor != 1.0:
            table["speed_factor"] = closure.speed_factor
        if closure.road_classes:
            table["road_classes"] = list(closure.road_classes)
        if closure.roads:
            table["roads"] = list(closure.roads)
        if closure.hazard_buffer_m is not None:
            table["hazard_buffer_m"] = closure.hazard_buffer_m
        out.append(table)
    return out


def _closure(table: Mapping[str, Any], number: int, source: str) -> Closure:
    """One [[closures]] table, checked."""
    label = f"[[closures]] number {number}"
    unknown = [key for key in table if key not in _KEYS]
    if unknown:
        raise ScenarioError(f"{label}: unknown key {unknown[0]!r}; known keys: {', '.join(_KEYS)}")
    name = table.get("name")
    if not isinstance(name, str) or not name.strip():
        raise ScenarioError(f"{label}: key 'name' must be non-empty text in quotes, got {name!r}")
    label = f"{label} ({name!r})"
    if "weight" not in table:
        raise ScenarioError(f"{label}: key 'weight' is missing; give its share of the year (or probability), 0 to 1")
    weight = _number(table["weight"], f"{label}, key 'weight'", low=0.0, high=1.0)
    speed_factor = _number(table.get("speed_factor", 1.0), f"{label}, key 'speed_factor'", low=0.0, high=1.0,
                           low_open=True)
    road_classes = _texts(table.get("road_classes", []), f"{label}, key 'road_classes'", allowed=ROAD_CLASSES)
    if road_classes and speed_factor == 1.0:
        raise ScenarioError(f"{label}: key 'road_classes' needs a speed_factor below 1 to slow those classes")
    roads = _texts(table.get("roads", []), f"{label}, key 'roads'")
    buffer_m = table.get("hazard_buffer_m")
    if buffer_m is not None:
        buffer_m = _number(buffer_m, f"{label}, key 'hazard_buffer_m'", low=0.0, high=math.inf)
    if speed_factor == 1.0 and not roads and buffer_m is None:
        raise ScenarioError(
            f"{label}: the closure changes nothing; give roads = [ids], hazard_buffer_m or a speed_factor below 1"
        )
    return Closure(name=name, weight=weight, speed_factor=speed_factor, road_classes=road_classes, roads=roads,
                   hazard_buffer_m=buffer_m, label=label, source=source)


def _number(value: Any, where: str, *, low: float, high: float, low_open: bool = False) -> float:
    """`value` as a finite number in [low, high] ((low, high] with `low_open`); ScenarioError otherwise."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ScenarioError(f"{where} must be a number, got {value!r}")
    number = float(value)
    below = number <= low if low_open else number < low
    if not math.isfinite(number) or below or number > high:
        span = f"above {low:g}" if low_open else f"at least {low:g}"
        limit = "" if math.isinf(high) else f" and at most {high:g}"
        raise ScenarioError(f"{where} must be {span}{limit}, got {value!r}")
    return number


def _texts(value: Any, where: str, *, allowed: Sequence[str] | None = None) -> tuple[str, ...]:
    """`value` as a tuple of strings (from `allowed` when given); ScenarioError otherwise."""
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise ScenarioError(f"{where} must be a list of text values in quotes, got {value!r}")
    if allowed is not None:
        bad = [item for item in value if item not in allowed]
        if bad:
            raise ScenarioError(f"{where}: {bad[0]!r} is not one of {', '.join(allowed)}")
    return tuple(value)


def line_factors(closure: Closure, roads: gpd.GeoDataFrame, hazards: gpd.GeoDataFrame | None) -> NDArray[np.float64]:
    """Speed factor of each roads row under `closure`: 0 where closed, `speed_factor` where slowed, else 1.

    ScenarioError, naming the closure and key, for road ids the roads layer does not have and for a hazard buffer
    on a region without a hazards layer; DataError for a hazards layer in another CRS than the roads.
    """
    factor = np.ones(len(roads))
    if closure.speed_factor != 1.0:
        slowed = roads["road_class"].isin(closure.road_classes).to_numpy() if closure.road_classes else True
        factor = np.where(slowed, closure.speed_factor, factor)
    if closure.roads:
        known = roads["id"].isin(closure.roads).to_numpy()
        missing = sorted(set(closure.roads) - set(roads["id"]))
        if missing:
            named = ", ".join(map(repr, missing[:5]))
            raise ScenarioError(
                f"{closure.source}: {closure.label}, key 'roads': road id(s) {named} are not in the roads "
                f"layer (ids such as {', '.join(map(repr, roads['id'].head(3)))}); use the roads layer's `id` "
                "column, as `allocopt vulnerability` lists them"
            )
        factor[known] = 0.0
    if closure.hazard_buffer_m is not None:
        if hazards is None:
            raise ScenarioError(
                f"{closure.source}: {closure.label}, key 'hazard_buffer_m': the region has no hazards layer; add one "
                "([layers.hazards] in region.toml, or build-region --hazards FILE) or drop the key"
            )
        for lines in hazard_zone_lines(roads, hazards, closure.hazard_buffer_m).values():
            factor[lines] = 0.0
    return factor


def hazard_zone_lines(roads: gpd.GeoDataFrame, hazards: gpd.GeoDataFrame,
                      buffer_m: float) -> dict[str, NDArray[np.int64]]:
    """For each hazard zone id, the roads rows that pass within `buffer_m` metres of it (spatial index query)."""
    if hazards.crs is None or roads.crs is None or not hazards.crs.equals(roads.crs):
        raise DataError(
            f"hazards layer is in {hazards.crs}, not the roads' CRS {roads.crs}; project it to the region CRS"
        )
    zone, line = roads.sindex.query(hazards.geometry, predicate="dwithin", distance=float(buffer_m))
    ids = hazards["id"].astype(str).to_numpy()
    return {ids[z]: np.unique(line[zone == z]).astype(np.int64) for z in range(len(ids))}


def closed_network(network: RoadNetwork, closure: Closure, roads: gpd.GeoDataFrame,
                   hazards: gpd.GeoDataFrame | None) -> RoadNetwork:
    """The road network under `closure`: closed lines removed, slowed lines at their reduced speed, same nodes."""
    return with_line_factors(network, line_factors(closure, roads, hazards))


def closure_matrix(region: Region, network: RoadNetwork, closure: Closure, *,
                   cache_dir: Path | None = None) -> TravelMatrix:
    """Demand x site travel minutes of `region` under `closure`."""
    closed = closed_network(network, closure, region.roads, region.hazards)
    return travel_times(
        closed,
        region.demand.geometry,
        region.sites.geometry,
        origin_ids=tuple(region.demand["id"]),
        destination_ids=tuple(region.sites["id"]),
        access_speed_kmh=region.access_speed_kmh,
        cache_dir=cache_dir,
    )
