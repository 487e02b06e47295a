"""Road graph from line layers, edge travel times from speeds, vectorized snapping.

The network's primary form is a directed CSR matrix of edge travel minutes over road nodes;
`to_networkx()` materializes a `networkx.DiGraph` on request (it is costly beyond ~10^5 nodes). Nodes are line
endpoints and vertices shared by several lines (or met twice by one line); lines that cross without a shared
vertex (bridges, un-noded data) stay unconnected.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, replace
from types import MappingProxyType

import geopandas as gpd
import networkx as nx
import numpy as np
import pyproj
import shapely
from numpy.typing import NDArray
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import connected_components
from scipy.spatial import cKDTree

from allocopt.errors import DataError, NetworkError
from allocopt.schema import ROAD_CLASSES

DEFAULT_SPEEDS_KMH: Mapping[str, float] = MappingProxyType(
    {
        "expressway": 80.0,
        "national": 60.0,
        "provincial": 50.0,
        "county": 40.0,
        "township": 30.0,
        "village": 20.0,
    }
)
"""Default travel speed per road class, km/h, used where a road's `speed_kmh` is empty.

Basis: design speeds of China's Technical Standard of Highway Engineering (JTG B01-2014) for the highway
grade each administrative class is usually built to (expressway 80-120, grade I 60-100, grade II 60-80,
grade III 30-40, grade IV 20-30 km/h), taken at or below the low end of each range because county road
networks run largely through hilly and mountain terrain, where the standard allows the lower design speeds.
These are defaults: a region overrides them per class in `region.toml` (`[network.speeds_kmh]`) and per road
in the `speed_kmh` column.
"""

NODE_PRECISION_M = 0.01
"""Vertices closer than this grid (metres) are merged into one node."""


@dataclass(frozen=True, eq=False)
class Segments:
    """Every directed piece of road between two nodes: source and target node, minutes, length in metres and the
    roads row (line) it lies on; `line_road_class` is the road class of each roads row. Parallel pieces are all
    kept; the network's edges are the fastest of each pair."""

    source: NDArray[np.int64]
    target: NDArray[np.int64]
    minutes: NDArray[np.float64]
    length_m: NDArray[np.float64]
    line: NDArray[np.int64]
    line_road_class: NDArray[np.str_]


@dataclass(frozen=True, eq=False)
class RoadNetwork:
    """A directed road graph in CSR form.

    `minutes_csr[u, v]` is the travel time of the fastest edge from node u to node v; `edge_length_m`,
    `edge_road_class` and `edge_line` (the roads row the edge lies on) are aligned with `minutes_csr.data`.
    `component` labels weakly connected components. `core` marks the nodes points may snap to: those of the
    largest strongly connected part of their weakly connected component, from which a route leads to and from
    every other such node (see `core_nodes`). `segments` keeps every directed piece of road between two nodes,
    the slower of parallel ones included, so that a network with some lines closed or slowed can be rebuilt
    over the same nodes (`with_line_factors`).
    """

    crs: pyproj.CRS
    node_xy: NDArray[np.float64]
    minutes_csr: csr_matrix
    edge_length_m: NDArray[np.float64]
    edge_road_class: NDArray[np.str_]
    component: NDArray[np.int32]
    core: NDArray[np.bool_]
    edge_line: NDArray[np.int64]
    segments: Segments

    @property
    def n_nodes(self) -> int:
        """Number of road nodes."""
        return int(self.node_xy.shape[0])

    @property
    def n_edges(self) -> int:
        """Number of directed edges (a two-way road segment counts twice)."""
        return int(self.minutes_csr.nnz)

    def edge_endpoints(self) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
        """Source and target node of every edge, aligned with `minutes_csr.data`."""
        counts = np.diff(self.minutes_csr.indptr)
        source = np.repeat(np.arange(self.n_nodes, dtype=np.int64), counts)
        return source, self.minutes_csr.indices.astype(np.int64)

    def to_networkx(self) -> nx.DiGraph:
        """The network as a `networkx.DiGraph`: node attributes x, y; edge attributes length_m, minutes,
        road_class. Built on each call, for inspection and cross-checks on small and medium networks."""
        graph = nx.DiGraph(crs=self.crs)
        graph.add_nodes_from(
            (i, {"x": float(x), "y": float(y)}) for i, (x, y) in enumerate(self.node_xy.tolist())
        )
        source, target = self.edge_endpoints()
        graph.add_edges_from(
            (int(u), int(v), {"length_m": float(length), "minutes": float(minutes), "road_class": str(cls)})
            for u, v, length, minutes, cls in zip(
                source, target, self.edge_length_m, self.minutes_csr.data, self.edge_road_class, strict=True
            )
        )
        return graph


@dataclass(frozen=True, eq=False)
class Snapped:
    """Points attached to their nearest road node, with the off-road leg to reach it."""

    node: NDArray[np.int64]
    access_m: NDArray[np.float64]
    access_minutes: NDArray[np.float64]


def build_network(roads: gpd.GeoDataFrame, *, speeds_kmh: Mapping[str, float] | None = None) -> RoadNetwork:
    """Build the road network from a validated roads layer in a metric CRS.

    Each line is split at its nodes; an edge's travel minutes are its length at the line's speed (`speed_kmh`,
    or the class speed from `speeds_kmh` over `DEFAULT_SPEEDS_KMH` when empty). `oneway` lines run only in
    their drawing direction. Of parallel edges between the same two nodes the fastest is kept.
    """
    crs = _metric_crs(roads.crs, what="roads layer")
    if len(roads) == 0:
        raise NetworkError("roads layer is empty; the region needs at least one road line for travel times")
    line_speed_kmh = _line_speeds_kmh(roads, _class_speeds_kmh(speeds_kmh))
    node_xy, u, v, row, length_m = _split_at_nodes(np.asarray(roads.geometry.values))

    two_way = ~roads["oneway"].to_numpy(dtype=bool)[row]
    row, length_m = np.r_[row, row[two_way]], np.r_[length_m, length_m[two_way]]
    segments = Segments(
        source=np.r_[u, v[two_way]], target=np.r_[v, u[two_way]],
        minutes=length_m / 1000.0 / line_speed_kmh[row] * 60.0, length_m=length_m, line=row,
        line_road_class=roads["road_class"].to_numpy(dtype=str),
    )
    matrix, pick, component = _fastest_edges(segments, segments.minutes, len(node_xy))
    return RoadNetwork(
        crs=crs,
        node_xy=node_xy,
        minutes_csr=matrix,
        edge_length_m=length_m[pick],
        edge_road_class=segments.line_road_class[row[pick]],
        component=component,
        core=core_nodes(matrix, component),
        edge_line=row[pick],
        segments=segments,
    )


def with_line_factors(network: RoadNetwork, line_factor: NDArray[np.float64]) -> RoadNetwork:
    """The network with each roads row's speed multiplied by `line_factor[row]` (0: the line is closed).

    The nodes and `core` stay those of `network`, so points snap to the same nodes as in normal conditions: a
    village whose only road closes is cut off rather than moved to another road. Where the fastest of parallel
    pieces closes, the next fastest open one becomes the edge.
    """
    factor = np.asarray(line_factor, dtype=np.float64)[network.segments.line]
    open_piece = factor > 0
    minutes = np.full(len(factor), np.inf)
    minutes[open_piece] = network.segments.minutes[open_piece] / factor[open_piece]
    matrix, pick, component = _fastest_edges(network.segments, minutes, network.n_nodes, keep=open_piece)
    line = network.segments.line[pick]
    return replace(
        network, minutes_csr=matrix, edge_length_m=network.segments.length_m[pick],
        edge_road_class=network.segments.line_road_class[line], component=component, edge_line=line,
    )


def _fastest_edges(
    segments: Segments, minutes: NDArray[np.float64], n_nodes: int, *, keep: NDArray[np.bool_] | None = None
) -> tuple[csr_matrix, NDArray[np.intp], NDArray[np.int32]]:
    """CSR matrix of the fastest kept piece between each pair of nodes (self-loops dropped), the positions of
    the chosen pieces in `segments`, and the weakly connected component of each node."""
    source, target = segments.source, segments.target
    wanted = source != target if keep is None else (source != target) & keep
    pick = np.flatnonzero(wanted)
    pick = pick[np.lexsort((minutes[pick], target[pick], source[pick]))]
    first = np.ones(len(pick), dtype=bool)
    first[1:] = (np.diff(source[pick]) != 0) | (np.diff(target[pick]) != 0)
    pick = pick[first]
    indptr = np.r_[0, np.cumsum(np.bincount(source[pick], minlength=n_nodes))]
    matrix = csr_matrix((minutes[pick], target[pick], indptr), shape=(n_nodes, n_nodes))
    _, component = connected_components(matrix, directed=True, connection="weak")
    return matrix, pick, component.astype(np.int32)


def core_nodes(matrix: csr_matrix, component: NDArray[np.integer]) -> NDArray[np.bool_]:
    """Nodes of the largest strongly connected part of each weakly connected component.

    A node outside it is the end of a one-way street with no way back (often a street cut at the edge of an
    extract) or lies on a one-way spur: a point snapped there could not leave, or not be reached, by road. A
    component without any two-way part (its largest strong part is one node) keeps all its nodes, as no node
    of it is better placed than another.
    """
    _, strong = connected_components(matrix, directed=True, connection="strong")
    size = np.bincount(strong)
    # the largest strong part of each weak component: sort by (weak component, strong part size) and take the last
    order = np.lexsort((size[strong], component))
    last_of_component = np.r_[component[order][1:] != component[order][:-1], True]
    main_part = np.empty(int(component.max(initial=-1)) + 1, dtype=np.int64)
    main_part[component[order][last_of_component]] = strong[order][last_of_component]
    core = strong == main_part[component]
    no_two_way = size[main_part] == 1
    return core | no_two_way[component]


def nearest_nodes(
    network: RoadNetwork, points: gpd.GeoSeries, *, layer: str = "points"
) -> tuple[NDArray[np.int64], NDArray[np.float64]]:
    """Nearest core road node (`RoadNetwork.core`) of each point and the straight-line distance to it in
    metres (k-d tree query)."""
    if points.crs is None or pyproj.CRS.from_user_input(points.crs) != network.crs:
        found = "no CRS" if points.crs is None else f"CRS {pyproj.CRS.from_user_input(points.crs).name!r}"
        raise DataError(
            f"{layer}: points have {found} but the road network is in {network.crs.name!r} "
            f"({network.crs.to_string()}); reproject the layer with to_crs() before snapping"
        )
    geoms = np.asarray(points.values)
    bad = ~(shapely.get_type_id(geoms) == shapely.GeometryType.POINT) | shapely.is_empty(geoms)
    if bad.any():
        label = points.index[int(np.argmax(bad))]
        raise DataError(f"{layer}: row {label!r} is not a non-empty Point; fix or drop that row's geometry")
    core = np.flatnonzero(network.core)
    distance_m, position = cKDTree(network.node_xy[core]).query(shapely.get_coordinates(geoms))
    return core[position].astype(np.int64), distance_m.astype(np.float64)


def snap(
    network: RoadNetwork, points: gpd.GeoSeries, *, access_speed_kmh: float, layer: str = "points"
) -> Snapped:
    """Attach each point to its nearest core road node (one with a way out, see `core_nodes`); the off-road
    leg is covered at `access_speed_kmh` (walking or a farm track), so remote villages pay for their distance
    from the road."""
    speed_kmh = _positive_kmh(access_speed_kmh, key="[network] access_speed_kmh")
    node, access_m = nearest_nodes(network, points, layer=layer)
    return Snapped(node=node, access_m=access_m, access_minutes=access_m / 1000.0 / speed_kmh * 60.0)


def _metric_crs(crs: object, *, what: str) -> pyproj.CRS:
    """The CRS as pyproj.CRS if it is projected in metres; DataError otherwise."""
    if crs is None:
        raise DataError(f"{what} has no CRS; set the region's metric CRS (region.toml [region] crs)")
    crs = pyproj.CRS.from_user_input(crs)
    units = {axis.unit_name for axis in crs.axis_info}
    if not crs.is_projected or not units <= {"metre", "meter"}:
        raise DataError(
            f"{what} is in {crs.name!r} ({crs.to_string()}), not a projected CRS in metres; "
            "reproject it to the region's metric CRS (e.g. a UTM zone) before building the network"
        )
    return crs


def _class_speeds_kmh(overrides: Mapping[str, float] | None) -> dict[str, float]:
    """Road-class speeds: the defaults with the region's overrides applied, each checked."""
    speeds = dict(DEFAULT_SPEEDS_KMH)
    for road_class, speed in (overrides or {}).items():
        if road_class not in ROAD_CLASSES:
            raise DataError(
                f"[network.speeds_kmh] {road_class!r} is not a road class; "
                f"use one of {', '.join(ROAD_CLASSES)}"
            )
        speeds[road_class] = _positive_kmh(speed, key=f"[network.speeds_kmh] {road_class}")
    return speeds


def _positive_kmh(value: object, *, key: str) -> float:
    """`value` as a positive finite speed in km/h; DataError naming the region.toml `key` otherwise."""
    try:
        speed = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError, OverflowError):
        speed = math.nan
    if not (math.isfinite(speed) and speed > 0):
        raise DataError(f"region.toml {key} = {value!r}; give a positive speed in km/h")
    return speed


def _line_speeds_kmh(roads: gpd.GeoDataFrame, class_speeds_kmh: Mapping[str, float]) -> NDArray[np.float64]:
    """Speed of each road line: its own `speed_kmh`, or its class speed where that is empty."""
    road_class = roads["road_class"].to_numpy(dtype=str)
    unknown = ~np.isin(road_class, list(class_speeds_kmh))
    if unknown.any():
        i = int(np.argmax(unknown))
        raise DataError(
            f"roads: row {roads.index[i]!r} has road_class {road_class[i]!r}; "
            f"use one of {', '.join(ROAD_CLASSES)}"
        )
    own = roads["speed_kmh"].to_numpy(dtype=np.float64)
    invalid = ~np.isnan(own) & ~(np.isfinite(own) & (own > 0))
    if invalid.any():
        i = int(np.argmax(invalid))
        raise DataError(
            f"roads: row {roads.index[i]!r} has speed_kmh {float(own[i])!r}; give a positive speed in km/h, "
            "or leave it empty for the road-class default"
        )
    default = roads["road_class"].map(class_speeds_kmh).to_numpy(dtype=np.float64)
    return np.where(np.isnan(own), default, own)


def _split_at_nodes(
    geometries: NDArray[np.object_],
) -> tuple[NDArray[np.float64], NDArray[np.int64], NDArray[np.int64], NDArray[np.int64], NDArray[np.float64]]:
    """Nodes of the line geometries and the undirected edges between them, in drawing direction.

    Returns node coordinates (n, 2) and, per edge, its first node, last node, the row of the line it belongs
    to and its length in metres along the line (intermediate shape vertices included).
    """
    parts, row_of_part = shapely.get_parts(geometries, return_index=True)
    xy, part_of_vertex = shapely.get_coordinates(parts, return_index=True)
    if len(xy) == 0:
        raise NetworkError("roads layer has only empty geometries; the region needs at least one road line")
    starts = np.r_[True, part_of_vertex[1:] != part_of_vertex[:-1]]
    ends = np.r_[starts[1:], True]
    keys = np.round(xy / NODE_PRECISION_M).astype(np.int64)
    unique_keys, key_of_vertex, key_counts = np.unique(keys, axis=0, return_inverse=True, return_counts=True)
    key_of_vertex = key_of_vertex.ravel()
    is_node_key = key_counts > 1
    is_node_key[key_of_vertex[starts | ends]] = True
    node_of_key = np.cumsum(is_node_key) - 1
    node_xy = unique_keys[is_node_key].astype(np.float64) * NODE_PRECISION_M

    segment_m = np.hypot(*np.diff(xy, axis=0).T)
    segment_m[starts[1:]] = 0.0
    along_m = np.r_[0.0, np.cumsum(segment_m)]
    node_vertex = np.flatnonzero(is_node_key[key_of_vertex])
    a, b = node_vertex[:-1], node_vertex[1:]
    same_part = part_of_vertex[a] == part_of_vertex[b]
    a, b = a[same_part], b[same_part]
    return (
        node_xy,
        node_of_key[key_of_vertex[a]],
        node_of_key[key_of_vertex[b]],
        row_of_part[part_of_vertex[a]],
        along_m[b] - along_m[a],
    )
