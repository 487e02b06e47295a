"""Road lines from OpenStreetMap `.osm.pbf` extracts, and the road-class vocabulary of road layers.

OSM `highway` values map to the road classes of the roads layer (`schema.ROAD_CLASSES`) following the OSM China
tagging conventions, which tie each highway value to an administrative road grade:

| OSM highway (and its `_link`)                              | road_class   | Chinese grade |
|------------------------------------------------------------|--------------|---------------|
| motorway                                                    | expressway   | 高速公路       |
| trunk                                                       | national     | 国道           |
| primary                                                     | provincial   | 省道           |
| secondary                                                   | county       | 县道           |
| tertiary                                                    | township     | 乡道           |
| unclassified, residential, living_street, service           | village      | 村道 and minor |

Only these highway values are drivable; ways tagged `area=yes`, or `access`, `vehicle`, `motor_vehicle` or
`motorcar` = `no`/`private`, are left out (no through traffic for a patient's car or an ambulance).
`maxspeed` becomes `speed_kmh` where it is a number ("50", "50 km/h", "30 mph", "50;70" takes the lower);
symbolic values ("none", "signals", "walk", "RU:urban", ...) leave `speed_kmh` empty so the class default
applies. `oneway=yes/true/1` keeps the drawing direction, `oneway=-1/reverse` reverses the line so that the
layer's `oneway` always means "drawing direction only"; motorways and roundabouts are one-way unless tagged
`oneway=no`. OSM data is WGS84 by definition, never GCJ-02.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from allocopt.errors import AllocoptError, DataError
from allocopt.schema import ROAD_CLASSES

_HIGHWAY_BASE_CLASS = {
    "motorway": "expressway",
    "trunk": "national",
    "primary": "provincial",
    "secondary": "county",
    "tertiary": "township",
    "unclassified": "village",
    "residential": "village",
    "living_street": "village",
    "service": "village",
}

DRIVABLE_HIGHWAYS: Mapping[str, str] = MappingProxyType(
    {
        **_HIGHWAY_BASE_CLASS,
        **{
            f"{highway}_link": road_class
            for highway, road_class in _HIGHWAY_BASE_CLASS.items()
            if highway in {"motorway", "trunk", "primary", "secondary", "tertiary"}
        },
    }
)
"""OSM `highway` value -> road class, for the drivable values (see the module docstring)."""

ROAD_CLASS_ALIASES: Mapping[str, str] = MappingProxyType(
    {
        **{road_class: road_class for road_class in ROAD_CLASSES},
        **DRIVABLE_HIGHWAYS,
        "高速公路": "expressway",
        "高速": "expressway",
        "国道": "national",
        "省道": "provincial",
        "县道": "county",
        "乡道": "township",
        "村道": "village",
        "专用公路": "village",
    }
)
"""Road-class words accepted in a line layer's road_class column: our classes, OSM highway values, Chinese
administrative grades (专用公路, special-purpose roads, count as village roads)."""

_CLOSED_ACCESS = frozenset({"no", "private"})
_ACCESS_KEYS = ("access", "vehicle", "motor_vehicle", "motorcar")
_ONEWAY_FORWARD = frozenset({"yes", "true", "1"})
_ONEWAY_REVERSE = frozenset({"-1", "reverse"})
_ONEWAY_NO = frozenset({"no", "false", "0"})
_ONEWAY_IMPLIED_HIGHWAYS = frozenset({"motorway"})
_ONEWAY_IMPLIED_JUNCTIONS = frozenset({"roundabout", "circular"})

_KMH_PER_MPH = 1.609344
_SPEED_PATTERN = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(km/h|kmh|kph|mph|knots)?\s*$", re.IGNORECASE)
_KMH_PER_KNOT = 1.852


@dataclass(frozen=True)
class OsmRoads:
    """Drivable roads read from a PBF (EPSG:4326) and what reading them did.

    `roads` has columns `osm_id, highway, road_class, speed_kmh, oneway, geometry`; one row per way, or per
    piece of a way cut at the extract's edge (nodes outside the extract have no location).
    """

    roads: gpd.GeoDataFrame
    ways_read: int
    ways_with_maxspeed: int
    ways_cut_at_edge: int
    ways_without_geometry: int
    unparsed_maxspeed: Mapping[str, int] = field(default_factory=dict)


def parse_maxspeed_kmh(value: str | None) -> float:
    """Speed limit in km/h from an OSM `maxspeed` value; NaN where it is absent or symbolic.

    Numbers without unit are km/h (the OSM default); "mph" and "knots" are converted; "a;b" lists take the lowest
    value. Symbolic values ("none", "signals", "walk", "variable", "CN:urban", ...) return NaN, so the
    road-class default speed applies.
    """
    if value is None:
        return math.nan
    speeds = []
    for part in value.split(";"):
        match = _SPEED_PATTERN.match(part)
        if match is None:
            continue
        number = float(match.group(1))
        unit = (match.group(2) or "km/h").lower()
        factor = {"mph": _KMH_PER_MPH, "knots": _KMH_PER_KNOT}.get(unit, 1.0)
        if number > 0:
            speeds.append(number * factor)
    return min(speeds) if speeds else math.nan


def road_class_of(value: object) -> str | None:
    """The road class a road-class word names (`ROAD_CLASS_ALIASES`, case and blanks ignored); None if unknown."""
    if not isinstance(value, str):
        return None
    return ROAD_CLASS_ALIASES.get(value.strip().lower().replace(" ", "_"))


def map_road_classes(values: pd.Series, *, source: str) -> pd.Series:
    """Road classes of a line layer's road_class column; DataError naming the unknown words and their rows."""
    mapped = values.map(road_class_of)
    unknown = mapped.isna()
    if unknown.any():
        words = Counter(str(v) for v in values[unknown])
        listed = ", ".join(f"{word!r} ({n} rows)" for word, n in words.most_common(5))
        raise DataError(
            f"{source}: road_class has values that name no road class: {listed}; first such row "
            f"{values.index[unknown][0]!r}. Use one of {', '.join(ROAD_CLASSES)}, an OSM highway value "
            "(primary, residential, ...) or a Chinese grade (国道, 省道, 县道, 乡道, 村道)"
        )
    return mapped.astype(str)


def is_drivable(tags: Mapping[str, str]) -> bool:
    """Whether an OSM way with these tags is a road a car may use (see the module docstring)."""
    if tags.get("highway") not in DRIVABLE_HIGHWAYS or tags.get("area") == "yes":
        return False
    return not any(tags.get(key) in _CLOSED_ACCESS for key in _ACCESS_KEYS)


def oneway_direction(tags: Mapping[str, str]) -> int:
    """+1 one-way in drawing direction, -1 one-way against it, 0 both ways, from `oneway` and implied rules."""
    value = tags.get("oneway")
    if value in _ONEWAY_FORWARD:
        return 1
    if value in _ONEWAY_REVERSE:
        return -1
    if value in _ONEWAY_NO:
        return 0
    implied = tags.get("highway") in _ONEWAY_IMPLIED_HIGHWAYS or tags.get("junction") in _ONEWAY_IMPLIED_JUNCTIONS
    return 1 if implied else 0


def read_osm_roads(path: Path) -> OsmRoads:
    """Drivable roads of an `.osm.pbf` (or .osm/.osc) file as WGS84 lines, with reading statistics.

    Uses pyosmium (the `osmium` package) with a node-location cache, so any extract that fits in memory works.
    Raises DataError when the file cannot be read or holds no drivable road.
    """
    try:
        import osmium
    except ImportError as exc:
        raise AllocoptError(
            "reading OSM .osm.pbf files needs the osmium package (pyosmium); install it with "
            "`pip install osmium`, or give --roads as a line layer (GPKG/GeoJSON/SHP) with a road_class column"
        ) from exc

    rows: list[tuple[int, str, str, float, bool]] = []
    pieces: list[list[tuple[float, float]]] = []
    ways_read = with_maxspeed = cut = without_geometry = 0
    unparsed: Counter[str] = Counter()
    highway_filter = osmium.filter.TagFilter(*(("highway", value) for value in DRIVABLE_HIGHWAYS))
    try:
        processor = osmium.FileProcessor(str(path), osmium.osm.NODE | osmium.osm.WAY)
        for way in processor.with_locations().with_filter(highway_filter):
            if not isinstance(way, osmium.osm.Way):
                continue
            tags = {tag.k: tag.v for tag in way.tags}
            if not is_drivable(tags):
                continue
            ways_read += 1
            maxspeed = tags.get("maxspeed")
            speed_kmh = parse_maxspeed_kmh(maxspeed)
            if maxspeed is not None:
                with_maxspeed += 1
                if math.isnan(speed_kmh):
                    unparsed[maxspeed] += 1
            direction = oneway_direction(tags)
            runs = _located_runs(node.location for node in way.nodes)
            if not runs:
                without_geometry += 1
                continue
            if len(runs) > 1 or sum(len(r) for r in runs) < len(way.nodes):
                cut += 1
            for run in runs:
                pieces.append(run[::-1] if direction < 0 else run)
                rows.append((way.id, tags["highway"], DRIVABLE_HIGHWAYS[tags["highway"]], speed_kmh, direction != 0))
    except RuntimeError as exc:
        raise DataError(f"{path}: cannot read it as an OSM file ({exc}); give an .osm.pbf extract") from exc
    if not rows:
        raise DataError(
            f"{path}: the OSM file has no drivable road (highway={', '.join(_HIGHWAY_BASE_CLASS)}, or their "
            f"_link, with car access; {ways_read} such ways had no node locations); use an extract that "
            "covers the region's roads"
        )
    frame = pd.DataFrame(rows, columns=["osm_id", "highway", "road_class", "speed_kmh", "oneway"])
    roads = gpd.GeoDataFrame(frame, geometry=_linestrings(pieces), crs="EPSG:4326")
    return OsmRoads(
        roads=roads,
        ways_read=ways_read,
        ways_with_maxspeed=with_maxspeed,
        ways_cut_at_edge=cut,
        ways_without_geometry=without_geometry,
        unparsed_maxspeed=dict(unparsed),
    )


def _located_runs(locations: Iterable[object]) -> list[list[tuple[float, float]]]:
    """Runs of consecutive way nodes that have a location, each of at least two nodes."""
    runs: list[list[tuple[float, float]]] = [[]]
    for location in locations:
        if location.valid():  # type: ignore[attr-defined]
            runs[-1].append((location.lon, location.lat))  # type: ignore[attr-defined]
        elif runs[-1]:
            runs.append([])
    return [run for run in runs if len(run) >= 2]


def _linestrings(pieces: list[list[tuple[float, float]]]) -> np.ndarray:
    """Shapely LineStrings from lists of (lon, lat), built in one vectorized call."""
    lengths = np.fromiter((len(p) for p in pieces), dtype=np.int64, count=len(pieces))
    coords = np.array([xy for piece in pieces for xy in piece], dtype=np.float64)
    return shapely.linestrings(coords, indices=np.repeat(np.arange(len(pieces)), lengths))
