"""Apportioning population from points, grid polygons or a raster to townships and demand points.

Every method keeps count: the people read from the source equal the people assigned to townships plus the people
outside every township. Population outside every township is dropped and reported (how many people, how many
points or cells, and the farthest of them from the region): a population grid or raster almost always extends
past the region's boundary, and the residents there belong to the neighbouring county. A village point lying just
outside the boundary because of coarse township polygons shows up in the same report with its id and distance, so
the planner can correct its coordinates.

- points (villages, settlements): each point belongs to the township containing it (the first township in layer
  order for a point exactly on a shared border); the point itself is the demand point.
- polygon grid (e.g. 250 m or 1 km census grid cells): each cell's population is split over the townships in
  proportion to the area of the cell inside each (uniform density within a cell). One demand point per cell piece,
  at the cell's centroid when that lies in the piece, else at a point inside the piece. Townships that overlap
  (digitizing slivers) would count a cell twice; the shares of such a cell are scaled down to sum to one.
- raster (GeoTIFF, people per cell, e.g. WorldPop): each cell belongs to the township containing its centre (the
  GDAL rasterize rule), summed per township; every populated cell centre is a demand point. Only the window of
  the raster covering the townships is read, so people counted as read are those in that window. The townships are
  reprojected to the raster's CRS for the zonal sums (reprojecting vectors is exact; resampling the raster would
  smear its counts); a raster without a CRS is refused.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import shapely

from allocopt.errors import AllocoptError, DataError

_SHARE_TOLERANCE = 1e-9


@dataclass(frozen=True)
class Apportioned:
    """Population assigned to townships and demand points, and what could not be assigned.

    `demand` has columns `id, township_code, population, geometry` in the townships' CRS; `by_township` is the
    population of each township (indexed by code, every township present); `people_read` =
    `people_assigned` + `people_outside`. `farthest_outside` is the id of the outside point or cell farthest
    from every township and that distance in the townships' CRS units (metres in the region's metric CRS).
    """

    method: str
    demand: gpd.GeoDataFrame
    by_township: pd.Series
    people_read: float
    people_assigned: float
    people_outside: float
    units_outside: int
    farthest_outside: tuple[str, float] | None
    notes: tuple[str, ...] = ()

    def outside_warning(self) -> str | None:
        """The sentence reporting dropped population, or None when nobody lives outside the townships."""
        if self.units_outside == 0:
            return None
        text = (
            f"population: {self.people_outside:,.1f} people in {self.units_outside} {self.method} units lie outside "
            f"every township and were dropped ({self.people_outside / self.people_read:.2%} of "
            f"{self.people_read:,.1f} read)"
        )
        if self.farthest_outside is not None:
            unit_id, distance_m = self.farthest_outside
            text += f"; the farthest, {unit_id!r}, is {distance_m / 1000.0:.2f} km from the nearest township"
        return text


def from_points(townships: gpd.GeoDataFrame, points: gpd.GeoDataFrame, *, ids: pd.Series) -> Apportioned:
    """Assign point population (column `population`, ids `ids`) to the township containing each point.

    Both frames must share one CRS; townships carry `code`. Points in no township are dropped and reported.
    """
    _check_same_crs(townships, points)
    population = _population_values(points, what="population points")
    township_of = _containing_township(townships, points.geometry)
    inside = township_of >= 0
    demand = gpd.GeoDataFrame(
        {
            "id": ids.astype(str).to_numpy()[inside],
            "township_code": townships["code"].to_numpy()[township_of[inside]],
            "population": population[inside],
        },
        geometry=points.geometry.to_numpy()[inside],
        crs=townships.crs,
    )
    farthest = _farthest_outside(townships, points.geometry.to_numpy()[~inside], ids.astype(str).to_numpy()[~inside])
    return _result("point", townships, demand, read=float(population.sum()), outside=population[~inside],
                   farthest=farthest)


def from_grid(townships: gpd.GeoDataFrame, cells: gpd.GeoDataFrame, *, ids: pd.Series) -> Apportioned:
    """Split grid-cell population (column `population`) over townships by area share (see the module docstring).

    Both frames must share one metric CRS; townships carry `code`. Cell ids come from `ids`; a cell split over
    several townships gives demand ids `<cell>-<township code>`.
    """
    _check_same_crs(townships, cells)
    population = _population_values(cells, what="population grid")
    cell_geoms = cells.geometry.to_numpy()
    cell_area = shapely.area(cell_geoms)
    if (cell_area <= 0).any():
        first = int(np.flatnonzero(cell_area <= 0)[0])
        raise DataError(f"population grid: cell {ids.iloc[first]!r} has zero area; remove it or fix its polygon")
    tree = shapely.STRtree(townships.geometry.to_numpy())
    cell_idx, town_idx = tree.query(cell_geoms, predicate="intersects")
    pieces = shapely.intersection(cell_geoms[cell_idx], townships.geometry.to_numpy()[town_idx])
    share = shapely.area(pieces) / cell_area[cell_idx]
    keep = share > _SHARE_TOLERANCE
    cell_idx, town_idx, pieces, share = cell_idx[keep], town_idx[keep], pieces[keep], share[keep]

    share_sum = np.bincount(cell_idx, weights=share, minlength=len(cells))
    overlapping = share_sum > 1.0 + 1e-6
    notes: tuple[str, ...] = ()
    if overlapping.any():
        share = share / np.maximum(share_sum[cell_idx], 1.0)
        share_sum = np.minimum(share_sum, 1.0)
        notes = (
            f"population grid: {int(overlapping.sum())} cells lie where townships overlap; their shares were "
            "scaled to sum to one so nobody is counted twice (fix the overlapping township polygons)",
        )
    cell_ids = ids.astype(str).to_numpy()
    split = np.bincount(cell_idx, minlength=len(cells)) > 1
    codes = townships["code"].to_numpy().astype(str)
    piece_ids = np.where(split[cell_idx], np.char.add(np.char.add(cell_ids[cell_idx].astype(str), "-"),
                                                      codes[town_idx]), cell_ids[cell_idx])
    centroid = shapely.centroid(cell_geoms)[cell_idx]
    location = np.where(shapely.covers(pieces, centroid), centroid, shapely.point_on_surface(pieces))
    demand = gpd.GeoDataFrame(
        {"id": piece_ids, "township_code": codes[town_idx], "population": population[cell_idx] * share},
        geometry=location,
        crs=townships.crs,
    )
    outside = population * (1.0 - share_sum)
    outside_units = outside > population * 1e-6
    farthest = _farthest_outside(townships, cell_geoms[outside_units], cell_ids[outside_units])
    return _result("grid-cell", townships, demand, read=float(population.sum()), outside=outside[outside_units],
                   farthest=farthest, notes=notes)


def from_raster(townships: gpd.GeoDataFrame, path: Path) -> tuple[Apportioned, str | None]:
    """Zonal sums of a population raster (band 1, people per cell) per township, cell centres as demand points.

    Returns the apportioned population (demand in the townships' CRS) and a note when the raster's CRS differs
    from the townships' (they were reprojected to the raster's CRS for the sums). Needs rasterio.
    """
    try:
        import rasterio
        import rasterio.errors
        import rasterio.features
        import rasterio.transform
        import rasterio.windows
    except ImportError as exc:
        raise AllocoptError(
            "reading a population raster needs rasterio; install it with `pip install rasterio`, or give the "
            "population as a point or polygon layer"
        ) from exc
    try:
        with rasterio.open(path) as source:
            if source.crs is None:
                raise DataError(
                    f"{path}: the raster has no CRS, so its cells cannot be placed in the townships; assign one "
                    "(e.g. gdal_edit.py -a_srs EPSG:4326) and try again"
                )
            raster_crs = pyproj.CRS.from_user_input(source.crs.to_wkt())
            zones = townships.to_crs(raster_crs)
            window = rasterio.windows.from_bounds(*zones.total_bounds, transform=source.transform)
            window = window.round_offsets(op="floor").round_lengths(op="ceil")
            window = window.intersection(rasterio.windows.Window(0, 0, source.width, source.height))
            band = source.read(1, window=window, masked=True).astype(np.float64)
            transform = source.window_transform(window)
    except rasterio.errors.RasterioIOError as exc:
        raise DataError(f"{path}: cannot be read as a raster ({exc}); give a GeoTIFF of people per cell") from exc
    except rasterio.errors.WindowError as exc:
        raise DataError(
            f"{path}: the raster does not cover the townships (in {raster_crs.to_string()}); "
            "give a raster of the region"
        ) from exc
    values = band.filled(0.0)
    if not np.isfinite(values).all() or (values < 0).any():
        raise DataError(f"{path}: the raster holds negative or non-finite people counts outside its nodata cells; "
                        "set the nodata value of the band or fix the cells")
    labels = rasterio.features.rasterize(
        ((geom, i + 1) for i, geom in enumerate(zones.geometry.to_numpy())),
        out_shape=values.shape, transform=transform, fill=0, dtype="int32",
    ).astype(np.int64)
    rows, cols = np.nonzero(values > 0)
    xs, ys = rasterio.transform.xy(transform, rows, cols, offset="center")
    centres = gpd.GeoSeries(gpd.points_from_xy(np.asarray(xs), np.asarray(ys)), crs=raster_crs).to_crs(townships.crs)
    cell_ids = np.char.add(np.char.add(np.char.add("r", (rows + window.row_off).astype(str)), "c"),
                           (cols + window.col_off).astype(str))
    cell_pop = values[rows, cols]
    zone = labels[rows, cols] - 1
    inside = zone >= 0
    codes = townships["code"].to_numpy().astype(str)
    demand = gpd.GeoDataFrame(
        {"id": cell_ids[inside], "township_code": codes[zone[inside]], "population": cell_pop[inside]},
        geometry=centres.to_numpy()[inside],
        crs=townships.crs,
    )
    farthest = _farthest_outside(townships, centres.to_numpy()[~inside], cell_ids[~inside])
    apportioned = _result("raster-cell", townships, demand, read=float(values.sum()), outside=cell_pop[~inside],
                          farthest=farthest)
    note = None
    if not raster_crs.equals(pyproj.CRS.from_user_input(townships.crs), ignore_axis_order=True):
        note = (
            f"population raster is in {raster_crs.to_string()}, the townships in "
            f"{pyproj.CRS.from_user_input(townships.crs).to_string()}; the townships were reprojected to the "
            "raster's CRS for the zonal sums (the raster was not resampled)"
        )
    return apportioned, note


def from_townships(townships: gpd.GeoDataFrame) -> Apportioned:
    """The townships' own `population` column: no demand points (the region derives one per township)."""
    population = _population_values(townships, what="townships")
    demand = gpd.GeoDataFrame({"id": [], "township_code": [], "population": []}, geometry=[], crs=townships.crs)
    return Apportioned(
        method="township",
        demand=demand,
        by_township=pd.Series(population, index=townships["code"].astype(str).to_numpy(), name="population"),
        people_read=float(population.sum()),
        people_assigned=float(population.sum()),
        people_outside=0.0,
        units_outside=0,
        farthest_outside=None,
    )


def _result(method: str, townships: gpd.GeoDataFrame, demand: gpd.GeoDataFrame, *, read: float,
            outside: np.ndarray, farthest: tuple[str, float] | None, notes: tuple[str, ...] = ()) -> Apportioned:
    """Township totals from the demand points, and the account of people read, assigned and outside."""
    codes = townships["code"].astype(str).to_numpy()
    by_township = demand.groupby("township_code")["population"].sum().reindex(codes, fill_value=0.0)
    return Apportioned(
        method=method,
        demand=demand.reset_index(drop=True),
        by_township=by_township.rename("population").astype(np.float64),
        people_read=read,
        people_assigned=float(demand["population"].sum()),
        people_outside=float(np.sum(outside)),
        units_outside=int(np.count_nonzero(outside)),
        farthest_outside=farthest,
        notes=notes,
    )


def _population_values(frame: gpd.GeoDataFrame, *, what: str) -> np.ndarray:
    """The `population` column as non-negative floats; DataError naming the column or the first bad row."""
    if "population" not in frame:
        raise DataError(
            f"{what}: no 'population' column; columns present: "
            f"{', '.join(str(c) for c in frame.columns if c != frame.geometry.name)}. "
            "Map the population column with --map population=<column>"
        )
    values = pd.to_numeric(frame["population"], errors="coerce").to_numpy(dtype=np.float64)
    bad = ~np.isfinite(values) | (values < 0)
    if bad.any():
        first = int(np.flatnonzero(bad)[0])
        raise DataError(
            f"{what}: row {first + 1} has population {frame['population'].iloc[first]!r}, which is not a "
            f"non-negative number ({int(bad.sum())} such rows); fix or remove them"
        )
    return values


def _containing_township(townships: gpd.GeoDataFrame, points: gpd.GeoSeries) -> np.ndarray:
    """Position of the first township (layer order) covering each point, -1 where none does."""
    point_idx, town_idx = shapely.STRtree(townships.geometry.to_numpy()).query(
        points.to_numpy(), predicate="covered_by"
    )
    first = np.full(len(points), -1, dtype=np.int64)
    order = np.lexsort((town_idx, point_idx))
    point_idx, town_idx = point_idx[order], town_idx[order]
    lead = np.r_[True, point_idx[1:] != point_idx[:-1]] if len(point_idx) else np.zeros(0, dtype=bool)
    first[point_idx[lead]] = town_idx[lead]
    return first


def _farthest_outside(townships: gpd.GeoDataFrame, geometries: np.ndarray, ids: np.ndarray) -> tuple[str, float] | None:
    """Id of the outside unit farthest from every township and that distance in the townships' CRS units."""
    if len(geometries) == 0:
        return None
    region = shapely.union_all(townships.geometry.to_numpy())
    distance = shapely.distance(geometries, region)
    far = int(np.argmax(distance))
    return str(ids[far]), float(distance[far])


def _check_same_crs(townships: gpd.GeoDataFrame, other: gpd.GeoDataFrame) -> None:
    """Both layers must be in the same CRS (the caller projects them)."""
    if townships.crs is None or other.crs is None or not pyproj.CRS.from_user_input(townships.crs).equals(
        pyproj.CRS.from_user_input(other.crs), ignore_axis_order=True
    ):
        raise ValueError("townships and population layer must be projected to one CRS before apportioning")
