"""Demand x site travel-time matrices over the road network, with cutoffs and an on-disk cache.

A trip's time is the origin's off-road leg, the shortest network path between the two snapped nodes, and
the destination's off-road leg. Shortest paths come from `scipy.sparse.csgraph.dijkstra`, run from the
unique snapped nodes of the smaller side (on the transposed graph when that side is the destinations, so
one-way roads keep their direction), in chunks that keep each chunk's node-distance block small.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import warnings
import zipfile
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import geopandas as gpd
import numpy as np
import pandas as pd
from numpy.typing import NDArray
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import dijkstra

from allocopt.errors import AllocoptWarning, DataError, ScenarioError
from allocopt.network import RoadNetwork, Snapped, nearest_nodes, snap

CHUNK_BYTES = 200_000_000
"""Upper bound on one Dijkstra chunk's (sources x nodes) float64 distance block."""

_CACHE_FORMAT = b"allocopt-travel-matrix-v1"


class MatrixLike(Protocol):
    """What consumers need of a travel-time matrix: row and column IDs and minutes (`inf` where unreachable)."""

    @property
    def origin_ids(self) -> tuple[str, ...]: ...

    @property
    def destination_ids(self) -> tuple[str, ...]: ...

    @property
    def minutes(self) -> np.ndarray: ...


def aligned_minutes(
    matrix: MatrixLike,
    row_ids: Sequence[str],
    column_ids: Sequence[str],
    *,
    layers: tuple[str, str] = ("demand", "sites"),
    exact: bool = False,
) -> NDArray[np.float64]:
    """Matrix minutes with rows in `row_ids` order and columns in `column_ids` order.

    DataError, naming the `layers` (rows, columns), for a shape that does not fit the IDs, duplicate IDs, an ID
    missing from the matrix, NaN or negative minutes, and (with `exact`) matrix IDs the layer does not have.
    """
    minutes = np.asarray(matrix.minutes, dtype=float)
    origins, destinations = tuple(matrix.origin_ids), tuple(matrix.destination_ids)
    if minutes.shape != (len(origins), len(destinations)):
        raise DataError(
            f"travel matrix: minutes has shape {minutes.shape} but there are {len(origins)} origin and "
            f"{len(destinations)} destination ids; rebuild it with travel.travel_times"
        )
    rows = _matrix_positions(origins, row_ids, axis="origin", layer=layers[0], exact=exact)
    cols = _matrix_positions(destinations, column_ids, axis="destination", layer=layers[1], exact=exact)
    aligned = minutes[np.ix_(rows, cols)]
    if np.isnan(aligned).any() or (aligned < 0).any():
        raise DataError("travel matrix: minutes contain NaN or negative values; use numpy.inf for unreachable pairs")
    return aligned


def _matrix_positions(matrix_ids: tuple[str, ...], ids: Sequence[str], *, axis: str, layer: str,
                      exact: bool) -> NDArray[np.intp]:
    """Matrix positions of `ids`; DataError for duplicates on either side, missing IDs or (exact) extra ones."""
    wanted = pd.Index([str(i) for i in ids])
    if not wanted.is_unique:
        raise DataError(f"{layer}: duplicate id(s) {_few(wanted[wanted.duplicated()].unique())}; "
                        "give every row its own id")
    index = pd.Index([str(i) for i in matrix_ids])
    if not index.is_unique:
        raise DataError(f"travel matrix: duplicate {axis} id(s) {_few(index[index.duplicated()].unique())}; "
                        "rebuild it with travel.travel_times")
    missing = wanted.difference(index, sort=False)
    extra = index.difference(wanted, sort=False) if exact else pd.Index([])
    if len(missing) or len(extra):
        unexpected = f", unexpected {_few(extra)}" if len(extra) else ""
        raise DataError(
            f"travel matrix: {axis} ids do not match the {layer} ids (missing {_few(missing)}{unexpected}); "
            "rebuild the matrix for this region with travel.travel_times"
        )
    return np.asarray(index.get_indexer(wanted), dtype=np.intp)


def _few(values: Any, limit: int = 5) -> str:
    items = [str(v) for v in values]
    shown = ", ".join(items[:limit]) or "none"
    return f"{shown} (+{len(items) - limit} more)" if len(items) > limit else shown


@dataclass(frozen=True, eq=False)
class TravelMatrix:
    """Travel minutes from each origin (rows) to each destination (columns), keyed by ID.

    `minutes` is float64 with `numpy.inf` where the destination is unreachable or beyond the cutoff;
    `unreachable_origins` lists origins that reach no destination at all (kept as rows, never dropped).
    """

    origin_ids: tuple[str, ...]
    destination_ids: tuple[str, ...]
    minutes: NDArray[np.float64]
    unreachable_origins: tuple[str, ...]

    def __post_init__(self) -> None:
        expected = (len(self.origin_ids), len(self.destination_ids))
        if self.minutes.shape != expected:
            raise ValueError(f"minutes has shape {self.minutes.shape}, expected {expected} from the IDs")

    def within(self, threshold_minutes: float) -> csr_matrix:
        """Boolean sparse matrix of the origin-destination pairs reachable within `threshold_minutes`."""
        return csr_matrix(self.minutes <= threshold_minutes)

    def nearest_minutes(self) -> NDArray[np.float64]:
        """Time from each origin to its nearest destination (`inf` when none is reachable)."""
        if not self.destination_ids:
            return np.full(len(self.origin_ids), np.inf)
        return self.minutes.min(axis=1)


@dataclass(frozen=True)
class Connectivity:
    """How connected the road network is, and which points sit off its largest component."""

    n_nodes: int
    n_components: int
    largest_component_nodes: int
    outside_largest_ids: tuple[str, ...]


def travel_times(
    network: RoadNetwork,
    origins: gpd.GeoSeries,
    destinations: gpd.GeoSeries,
    *,
    origin_ids: Sequence[str],
    destination_ids: Sequence[str],
    access_speed_kmh: float,
    cutoff_minutes: float | None = None,
    cache_dir: Path | None = None,
) -> TravelMatrix:
    """Origin x destination travel minutes over the road network, `inf` beyond `cutoff_minutes`.

    With `cache_dir`, a matrix computed before for the same network, snapped points, IDs, access speed and
    cutoff is read back from `cache_dir` instead of recomputed.
    """
    origin_ids = _ids(origin_ids, origins, layer="origins")
    destination_ids = _ids(destination_ids, destinations, layer="destinations")
    if cutoff_minutes is not None and not (np.isfinite(cutoff_minutes) and cutoff_minutes >= 0):
        raise ScenarioError(f"cutoff_minutes = {cutoff_minutes!r}; give a non-negative number of minutes")
    origin = snap(network, origins, access_speed_kmh=access_speed_kmh, layer="origins")
    destination = snap(network, destinations, access_speed_kmh=access_speed_kmh, layer="destinations")

    cache_path = None
    if cache_dir is not None:
        key = _cache_key(
            network, origin, destination, origin_ids, destination_ids, access_speed_kmh, cutoff_minutes
        )
        cache_path = Path(cache_dir) / f"travel-{key}.npz"
        minutes = _read_cache(cache_path, origin_ids, destination_ids)
        if minutes is not None:
            return _matrix(origin_ids, destination_ids, minutes)

    # the access legs are added in place: the matrix is the largest array of a run, so no temporary copies
    minutes = _network_minutes(network, origin.node, destination.node, cutoff_minutes)
    minutes += origin.access_minutes[:, None]
    minutes += destination.access_minutes[None, :]
    if cutoff_minutes is not None:
        minutes[minutes > cutoff_minutes] = np.inf
    if cache_path is not None:
        _write_cache(cache_path, minutes, origin_ids, destination_ids)
    return _matrix(origin_ids, destination_ids, minutes)


def connectivity(network: RoadNetwork, points: gpd.GeoSeries, *, ids: Sequence[str]) -> Connectivity:
    """Component sizes of the road network and the IDs of points whose nearest node lies outside the largest
    component (they can reach only what lies on their own fragment of road)."""
    ids = _ids(ids, points, layer="points")
    sizes = np.bincount(network.component)
    largest = int(np.argmax(sizes))
    node, _ = nearest_nodes(network, points)
    outside = network.component[node] != largest
    return Connectivity(
        n_nodes=network.n_nodes,
        n_components=len(sizes),
        largest_component_nodes=int(sizes[largest]),
        outside_largest_ids=tuple(np.asarray(ids, dtype=object)[outside]),
    )


def _ids(ids: Sequence[str], points: gpd.GeoSeries, *, layer: str) -> tuple[str, ...]:
    """IDs as a tuple of strings, one per point and unique."""
    out = tuple(str(i) for i in ids)
    if len(out) != len(points):
        raise DataError(f"{layer}: {len(out)} IDs for {len(points)} points; pass one ID per point")
    if len(set(out)) != len(out):
        duplicate = next(i for i, count in Counter(out).items() if count > 1)
        raise DataError(f"{layer}: ID {duplicate!r} appears more than once; IDs must be unique")
    return out


def _matrix(
    origin_ids: tuple[str, ...], destination_ids: tuple[str, ...], minutes: NDArray[np.float64]
) -> TravelMatrix:
    """Wrap a minutes array (made read-only) with its IDs and unreachable origins."""
    minutes.setflags(write=False)
    unreachable = np.flatnonzero(~np.isfinite(minutes).any(axis=1))
    return TravelMatrix(
        origin_ids=origin_ids,
        destination_ids=destination_ids,
        minutes=minutes,
        unreachable_origins=tuple(origin_ids[i] for i in unreachable),
    )


def _network_minutes(
    network: RoadNetwork,
    origin_node: NDArray[np.int64],
    destination_node: NDArray[np.int64],
    cutoff_minutes: float | None,
) -> NDArray[np.float64]:
    """Shortest-path minutes between snapped nodes, origins x destinations, from the smaller unique side (a new
    array the caller may change)."""
    if len(origin_node) == 0 or len(destination_node) == 0:
        return np.empty((len(origin_node), len(destination_node)))
    origin_unique, origin_inverse = np.unique(origin_node, return_inverse=True)
    destination_unique, destination_inverse = np.unique(destination_node, return_inverse=True)
    limit = np.inf if cutoff_minutes is None else float(cutoff_minutes)
    if len(destination_unique) < len(origin_unique):
        reverse = network.minutes_csr.transpose().tocsr()
        block = _dijkstra_block(reverse, destination_unique, origin_unique, limit).T
    else:
        block = _dijkstra_block(network.minutes_csr, origin_unique, destination_unique, limit)
    return block[np.ix_(origin_inverse.ravel(), destination_inverse.ravel())]


def _dijkstra_block(
    graph: csr_matrix, sources: NDArray[np.int64], targets: NDArray[np.int64], limit: float
) -> NDArray[np.float64]:
    """Minutes from each source node to each target node, running Dijkstra on chunks of sources."""
    n_nodes = graph.shape[0]
    chunk = max(1, CHUNK_BYTES // (8 * n_nodes))
    out = np.empty((len(sources), len(targets)))
    for start in range(0, len(sources), chunk):
        distances = dijkstra(graph, directed=True, indices=sources[start:start + chunk], limit=limit)
        out[start:start + chunk] = distances[:, targets]
    return out


def _cache_key(
    network: RoadNetwork,
    origin: Snapped,
    destination: Snapped,
    origin_ids: tuple[str, ...],
    destination_ids: tuple[str, ...],
    access_speed_kmh: float,
    cutoff_minutes: float | None,
) -> str:
    """SHA-256 over everything the matrix depends on: network arrays, snapped points, IDs, speed, cutoff."""
    digest = hashlib.sha256(_CACHE_FORMAT)
    csr = network.minutes_csr
    arrays = (
        csr.indptr, csr.indices, csr.data, network.node_xy,
        origin.node, origin.access_m, destination.node, destination.access_m,
    )
    for array in arrays:
        array = np.ascontiguousarray(array)
        digest.update(f"{array.dtype.str}{array.shape}".encode())
        digest.update(array.tobytes())
    for ids in (origin_ids, destination_ids):
        digest.update(f"{len(ids)}:".encode())
        digest.update("\x1f".join(ids).encode())
    digest.update(network.crs.to_wkt().encode())
    digest.update(f"{float(access_speed_kmh)!r}|{cutoff_minutes!r}".encode())
    return digest.hexdigest()


def _read_cache(
    path: Path, origin_ids: tuple[str, ...], destination_ids: tuple[str, ...]
) -> NDArray[np.float64] | None:
    """The cached minutes at `path`, or None when the file is missing, unreadable or for other IDs."""
    try:
        with np.load(path, allow_pickle=False) as data:
            minutes = np.array(data["minutes"], dtype=np.float64)
            cached_origins = tuple(data["origin_ids"].tolist())
            cached_destinations = tuple(data["destination_ids"].tolist())
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile):
        return None
    if cached_origins != origin_ids or cached_destinations != destination_ids:
        return None
    if minutes.shape != (len(origin_ids), len(destination_ids)):
        return None
    return minutes


def _write_cache(
    path: Path, minutes: NDArray[np.float64], origin_ids: tuple[str, ...], destination_ids: tuple[str, ...]
) -> None:
    """Write the matrix to `path` atomically: a temporary file in the same directory, then `os.replace`.

    A cache that cannot be written (a read-only directory, a full disk) costs only the reuse: AllocoptWarning.
    """
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, temp_name = tempfile.mkstemp(dir=path.parent, prefix=".travel-", suffix=".tmp")
        temp = Path(temp_name)
        try:
            with os.fdopen(handle, "wb") as fh:
                np.savez(
                    fh,
                    minutes=minutes,
                    origin_ids=np.array(origin_ids, dtype=str),
                    destination_ids=np.array(destination_ids, dtype=str),
                )
            os.replace(temp, path)
        except BaseException:
            temp.unlink(missing_ok=True)
            raise
    except OSError as exc:
        warnings.warn(AllocoptWarning(
            f"travel-time cache {path.parent}: cannot write ({exc.strerror or exc}); the travel times are kept in "
            "memory for this run only. Make the directory writable or choose another cache directory "
            "(--cache-dir or $ALLOCOPT_CACHE_DIR)."
        ), stacklevel=3)
