"""The coverage sets of single road failures for n-1 coverage (`[n_minus_1]`, allocopt.n_minus_1), computed with
the exact speed-up of `allocopt.vulnerability`.

For each segment e of the chosen set, only the shortest-path trees (from the road nodes of the sites that may
provide an n-1 service, within the largest threshold of those services) that use e are searched again with e
closed; the sites of every other tree keep their minutes. A (point, service) pair is affected by e when some
eligible site within T_v in normal conditions (`Problem.minutes`) is beyond T_v with e closed; those sites are
kept (small), its set under e being its normal set less them (`FailureSets.kept`).
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
from numpy.typing import NDArray
from scipy import sparse

from allocopt.errors import ScenarioError
from allocopt.model.problem import Problem
from allocopt.n_minus_1 import FailureSets, NMinus1
from allocopt.network import RoadNetwork, snap
from allocopt.regions import Region
from allocopt.vulnerability import SiteTrees

SAME_MINUTES = 1e-6
"""Minutes by which a recomputed trip may exceed the threshold and still count as within it: the recomputed
and the matrix's minutes add the same legs in another order."""


def chosen_segments(settings: NMinus1, roads: pd.DataFrame, *, source: str) -> NDArray[np.int64]:
    """Rows of the roads layer that may fail: those of the failing classes and those named in `roads`.

    ScenarioError naming the key for road ids the layer lacks and for a road class, named in the file, that no
    road has (of the default classes, those the region has fail)."""
    ids = roads["id"].astype(str)
    missing = [road for road in settings.roads if road not in set(ids)]
    if missing:
        raise ScenarioError(
            f"{source}: [n_minus_1], key 'roads': road id(s) {', '.join(map(repr, missing[:5]))} are not in the "
            f"roads layer (ids such as {', '.join(map(repr, ids.head(3)))}); use the roads layer's `id` column"
        )
    present = set(roads["road_class"].astype(str))
    absent = [c for c in settings.road_classes or () if c not in present]
    if absent:
        raise ScenarioError(
            f"{source}: [n_minus_1], key 'road_classes': no road of class {absent[0]!r} in the roads layer (it "
            f"has {', '.join(sorted(present))}); drop the class or choose segments by roads = [ids]"
        )
    chosen = roads["road_class"].astype(str).isin(settings.failing_classes) | ids.isin(settings.roads)
    return np.flatnonzero(chosen.to_numpy()).astype(np.int64)


def region_failure_sets(region: Region, network: RoadNetwork, p: Problem, settings: NMinus1) -> FailureSets:
    """The coverage sets of the demand points of `p`, built from `region`, under each single failure."""
    return failure_sets(network, p, settings, roads=region.roads, demand=region.demand.geometry,
                        sites=region.sites.geometry, access_speed_kmh=region.access_speed_kmh)


def failure_sets(network: RoadNetwork, p: Problem, settings: NMinus1, *, roads: pd.DataFrame, demand: gpd.GeoSeries,
                 sites: gpd.GeoSeries, access_speed_kmh: float) -> FailureSets:
    """The coverage sets of `p`'s demand points (at `demand`, in `p.demand_ids` order; sites at `sites`) under
    each single failure of the chosen segments of `roads`, the lines `network` was built from."""
    if len(demand) != len(p.demand_ids) or len(sites) != len(p.site_ids):
        raise ValueError("failure_sets needs the demand and site points of the problem, in its order")
    rows = chosen_segments(settings, roads, source=p.scenario.source)
    services = tuple(v for v in p.services if v in settings.services)
    threshold = {v: float(p.scenario.thresholds_minutes[v]) for v in services}
    limit = np.full(len(p.site_ids), -np.inf)
    for v in services:
        limit[p.can_provide[v]] = np.maximum(limit[p.can_provide[v]], threshold[v])
    origin = snap(network, demand, access_speed_kmh=access_speed_kmh, layer="demand")
    destination = snap(network, sites, access_speed_kmh=access_speed_kmh, layer="sites")
    trees = SiteTrees(network, origin, destination, limit)
    units = [np.array([row], dtype=np.int64) for row in rows]
    found: dict[str, list[tuple[int, NDArray[np.int64], NDArray[np.int64], NDArray[np.int64]]]] = {
        v: [] for v in services}
    searches = 0
    largest, smallest = max(threshold.values(), default=0.0), min(threshold.values(), default=0.0)
    for e, hit in enumerate(trees.roots_hit(units)):
        if hit.size == 0:
            continue
        searches += hit.size
        hit_sites, after = trees.closed_minutes(units[e], hit)
        columns = trees.sites[hit_sites]
        base = p.minutes[:, columns]
        # the only points that may lose a site: within the largest threshold before, beyond the smallest after
        changed = np.flatnonzero(((base <= largest) & (after > smallest + SAME_MINUTES)).any(axis=1))
        base, after = base[changed], after[changed]
        for v in services:
            point, site = _lost_pairs(p, v, columns, changed, base, after, threshold[v])
            if point.size:
                found[v].append((e, *_rows(point, site)))
    classes = roads["road_class"].astype(str).to_numpy()
    ids = roads["id"].astype(str).to_numpy()
    return FailureSets(
        settings=settings, segment_ids=tuple(ids[rows]), segment_classes=tuple(classes[rows]),
        point={v: _concat([points for _, points, _, _ in found[v]]) for v in services},
        segment={v: _concat([np.full(points.size, e) for e, points, _, _ in found[v]]) for v in services},
        lost={v: _csr(found[v], len(p.site_ids)) for v in services},
        searches=searches, full_recompute_searches=len(rows) * len(trees.root),
    )


def _lost_pairs(p: Problem, v: str, columns: NDArray[np.int64], points: NDArray[np.int64],
                base: NDArray[np.float64], after: NDArray[np.float64],
                threshold: float) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """(demand point, site) pairs of eligible sites of v within T_v in normal conditions (`base` minutes) and
    beyond it with the `after` minutes, for the demand `points` (rows) and sites `columns`, sorted by point then
    site."""
    eligible = p.can_provide[v][columns]
    lost = (base <= threshold) & eligible[None, :] & (after > threshold + SAME_MINUTES)
    row, position = np.nonzero(lost)  # row-major: sorted by point, then site
    return points[row].astype(np.int64), columns[position].astype(np.int64)


def _rows(point: NDArray[np.int64], site: NDArray[np.int64]) -> tuple[NDArray[np.int64], NDArray[np.int64],
                                                                      NDArray[np.int64]]:
    """The points losing a site, and per point (CSR row pointer) its lost sites."""
    points, counts = np.unique(point, return_counts=True)
    return points, np.r_[0, np.cumsum(counts)], site


def _concat(parts: list[NDArray[np.int64]]) -> NDArray[np.int64]:
    return np.concatenate([*parts, np.empty(0, dtype=np.int64)]).astype(np.int64)


def _csr(parts: list[tuple[int, NDArray[np.int64], NDArray[np.int64], NDArray[np.int64]]],
         n_sites: int) -> sparse.csr_array:
    """The lost sites of every row, stacked in the order of `parts`."""
    pointers, offset = [np.zeros(1, dtype=np.int64)], 0
    for _, _, pointer, _ in parts:
        pointers.append(pointer[1:] + offset)
        offset += int(pointer[-1])
    sites = _concat([site for _, _, _, site in parts])
    return sparse.csr_array((np.ones(sites.size, dtype=bool), sites, np.concatenate(pointers)),
                            shape=(sum(len(points) for _, points, _, _ in parts), n_sites))


def failure_layer(region: Region, table: pd.DataFrame) -> gpd.GeoDataFrame:
    """The rows of n_minus_1.csv (`NMinus1Result.table`) with each road line's geometry, in the region CRS: the
    segments whose single failure takes a service from someone, for result.gpkg."""
    geometry = region.roads.set_index(region.roads["id"].astype(str)).geometry
    return gpd.GeoDataFrame(table.reset_index(drop=True), crs=region.crs,
                            geometry=geometry.reindex(table["road_id"].astype(str)).to_numpy())
