"""Assembling a region bundle from planners' own files: roads, townships, facilities, population, candidates.

`build_region` reads each input (OSM `.osm.pbf` or line layer for roads; any polygon layer for townships; a
point layer, CSV or XLSX with longitude/latitude for facilities and candidates; see `allocopt.population` for
population), maps the planner's column names and level words to the bundle's, brings every layer to WGS84
(undoing GCJ-02 where declared, see `allocopt.coords`) and then to the UTM zone of the region, checks the
result with `regions.build_region`, and writes `region.toml`, `region.gpkg` and `build-report.json` atomically.

`--source-crs` is the CRS of inputs whose file declares none (CSV and XLSX tables default to WGS84); with
`gcj02`, every input labelled as geographic WGS84/CGCS2000 is taken as GCJ-02, except OSM files (always WGS84).

Facility level words, hospital kinds and central health centers are read as `allocopt.facility_words` says.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pyproj
import shapely

from allocopt import coords, osm, population, regions
from allocopt.errors import DataError
from allocopt.export import REGION_KIND, atomic_output_dir, check_output_dir, toml_text, write_geopackage, write_text
from allocopt.facility_words import facility_types, mapped_levels
from allocopt.inputs import checked_file
from allocopt.readers import read_layer, read_sheet
from allocopt.schema import LAYERS, validate

OSM_SUFFIXES = (".osm.pbf", ".pbf", ".osm")
RASTER_SUFFIXES = (".tif", ".tiff")
TABLE_SUFFIXES = (".csv", ".xlsx", ".xls")
OSM_LICENSE = "ODbL 1.0 (© OpenStreetMap contributors)"
UNSTATED_LICENSE = "not stated; record the licence of the source file here"

ROAD_MARGIN_M = 10_000.0
"""Roads are kept within this distance of the townships, facilities and candidates (routes may leave the region)."""

GCJ_EVIDENCE_RATIO = 0.5
"""The other reading of the coordinates (GCJ-02 or WGS84) is reported when it puts points this much closer to roads."""

GCJ_EVIDENCE_MIN_M = 30.0
"""... and the declared reading's median point-to-road distance is at least this (metres)."""

SWAP_INSIDE_SHARE = 0.9
"""Coordinates are swapped when at least this share of points falls inside the townships only when swapped."""

_COORDINATE_FIELDS = ("lon", "lat")


@dataclass(frozen=True)
class BuildReport:
    """What `build_region` did: counts per layer, population account, CRS, inputs, warnings with evidence."""

    out_dir: Path
    name: str
    crs: str
    source_crs: str
    counts: Mapping[str, int]
    population_method: str
    population_read: float
    population_assigned: float
    population_outside: float
    sources: Mapping[str, Mapping[str, str]]
    notes: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """The report as JSON-ready data."""
        data = asdict(self)
        data["out_dir"] = str(self.out_dir)
        return data


@dataclass
class _Log:
    """Notes (what was done) and warnings (what the planner should look at), collected while building."""

    notes: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def build_region(
    out_dir: Path,
    *,
    roads: Path,
    townships: Path,
    facilities: Path,
    population: Path | None = None,
    candidates: Path | None = None,
    hazards: Path | None = None,
    ems: Path | None = None,
    source_crs: str | None = None,
    column_map: Mapping[str, str] | None = None,
    name: str | None = None,
    overwrite: bool = False,
) -> BuildReport:
    """Build a region bundle in `out_dir` from planners' files and report what was done.

    `column_map` maps bundle fields to the files' column names (e.g. {"level": "医院等级", "lon": "经度"}),
    for every input holding that column; a key "INPUT.FIELD" (e.g. "townships.name") maps for that input
    only. `source_crs` is "wgs84", "cgcs2000", "gcj02" or a pyproj CRS string (see the module docstring).
    `ems` holds 120 stations (points or a table: id, name, ambulances, candidate; the `ems_stations` layer).

    Nothing is written unless the whole build succeeds; an existing non-empty `out_dir` is replaced only with
    `overwrite=True`. Raises DataError for inputs nothing sensible can be made of; questionable but usable
    inputs become warnings in the report, each with its evidence.
    """
    out_dir = Path(out_dir)
    given = [path for path in (roads, townships, facilities, population, candidates, hazards, ems)
             if path is not None]
    check_output_dir(out_dir, kind=REGION_KIND, overwrite=overwrite, inputs=given, replace_earlier=False)
    source = coords.parse_source_crs(source_crs) if source_crs is not None else None
    log = _Log()
    inputs = {"townships": townships, "roads": roads, "facilities": facilities}
    inputs |= {k: v for k, v in (("population", population), ("candidates", candidates), ("hazards", hazards),
                                 ("ems_stations", ems)) if v is not None}
    for role, path in inputs.items():  # a FIFO or /dev/zero would hang the readers below
        checked_file(path, kind="data", what=f"{role} file")
    mapping = _layer_mappings(column_map or {}, inputs)

    town_wgs = _to_wgs84(_read_vector(townships, "polygon", source, log), source, townships, log)
    crs = coords.region_metric_crs(town_wgs.geometry.to_numpy())
    town = _validated(_renamed(town_wgs, mapping["townships"]).to_crs(crs), "townships", townships,
                      fill_population=population is not None)
    sites = {layer: _project_points(path, layer, town_wgs, source, mapping[layer], crs, log)
             for layer, path in (("facilities", facilities), ("candidates", candidates), ("ems_stations", ems))
             if path is not None}
    road_layer = _read_roads(roads, source, mapping["roads"], crs, log)
    for layer, points in sites.items():
        _check_gcj_evidence(points, road_layer, layer=layer, declared_gcj=bool(source and source.gcj02), log=log)
        sites[layer] = _drop_far_outside(points, town, layer=layer, path=inputs[layer], log=log)
    road_layer = _roads_near(road_layer, [town, *sites.values()], roads, log)

    apportioned = _apportion(town, population, source, mapping.get("population", {}), log)
    town = town.assign(population=apportioned.by_township.reindex(town["code"]).to_numpy())
    demand = (None if apportioned.method == "township"
              else validate(apportioned.demand, "demand", source=str(population)))
    zones = None if hazards is None else _validated(_renamed(
        _to_wgs84(_read_vector(hazards, "zone", source, log), source, hazards, log), mapping["hazards"]
    ).to_crs(crs), "hazards", hazards)
    region = regions.build_region(
        name=name or out_dir.name, crs=crs, townships=town, facilities=sites["facilities"], roads=road_layer,
        demand=demand, candidates=sites.get("candidates"), hazards=zones, ems_stations=sites.get("ems_stations"),
        sources={layer: str(inputs[layer]) for layer in ("hazards", "ems_stations") if layer in inputs},
    )
    sources = {layer: _describe_source(path, layer) for layer, path in inputs.items()}
    report = BuildReport(
        out_dir=out_dir,
        name=region.name,
        crs=crs.to_string(),
        source_crs=source.label if source else "as declared by each file (tables: EPSG:4326)",
        counts={"townships": len(town), "demand": 0 if demand is None else len(demand),
                "facilities": len(region.facilities), "candidates": len(region.candidates), "roads": len(road_layer),
                **({"ems_stations": len(sites["ems_stations"])} if "ems_stations" in sites else {})},
        population_method=apportioned.method,
        population_read=apportioned.people_read,
        population_assigned=apportioned.people_assigned,
        population_outside=apportioned.people_outside,
        sources=sources,
        notes=tuple(log.notes),
        warnings=tuple(log.warnings),
    )
    if region.ems_stations is not None:
        sites["ems_stations"] = region.ems_stations  # with the township codes filled in
    layers = {"townships": town, **({"demand": demand} if demand is not None else {}), **sites, "roads": road_layer,
              **({"hazards": zones} if zones is not None else {})}
    with atomic_output_dir(out_dir, kind=REGION_KIND, overwrite=overwrite, inputs=given,
                           replace_earlier=False) as staging:
        write_geopackage(layers, staging / "region.gpkg")
        write_text(_region_toml(report, layers), staging / "region.toml")
        write_text(json.dumps(report.to_dict(), indent=2, ensure_ascii=False) + "\n", staging / "build-report.json")
    return report


def _layer_mappings(column_map: Mapping[str, str], inputs: Mapping[str, Path]) -> dict[str, dict[str, str]]:
    """The column map of each input ({input: {field: column}}), from keys "FIELD" (every input) and "INPUT.FIELD"
    (one input, taking precedence); DataError for an unknown field or input, or a column no such input has."""
    known = {column.name for spec in LAYERS.values() for column in spec.columns} | set(_COORDINATE_FIELDS)
    columns = {layer: _column_names(path) for layer, path in inputs.items()}
    general: dict[str, str] = {}
    specific: dict[str, dict[str, str]] = {layer: {} for layer in inputs}
    for key, column in column_map.items():
        layer, _, field_name = key.rpartition(".")
        if field_name not in known:
            raise DataError(f"--map {key}={column}: {field_name!r} is not a bundle field; map one of "
                            f"{', '.join(sorted(known))}")
        if layer and layer not in inputs:
            raise DataError(f"--map {key}={column}: {layer!r} is not an input of this build; qualify the field "
                            f"with one of {', '.join(inputs)} (or none, for every input)")
        searched = [columns[layer]] if layer else list(columns.values())
        readable = [names for names in searched if names is not None]
        if len(readable) == len(searched) and not any(column in names for names in readable):
            present = sorted(set().union(*readable))
            raise DataError(f"--map {key}={column}: no {layer or 'input'} file has a column {column!r}; columns "
                            f"present: {', '.join(present) or 'none'}")
        (specific[layer] if layer else general)[field_name] = column
    return {layer: {**general, **specific[layer]} for layer in inputs}


def _column_names(path: Path) -> set[str] | None:
    """Attribute column names of an input file (none for OSM files and rasters, which have fixed contents);
    None when the header cannot be read (reading the layer then says why)."""
    name = path.name.lower()
    if name.endswith(OSM_SUFFIXES + RASTER_SUFFIXES):
        return set()
    try:
        if name.endswith(".csv"):
            return {str(c).strip() for c in pd.read_csv(path, nrows=0, encoding="utf-8-sig").columns}
        if name.endswith((".xlsx", ".xls")):
            return set(read_sheet(path, header_only=True).columns)
        return {str(c) for c in pyogrio.read_info(path)["fields"]}
    except (ImportError, OSError, ValueError, pyogrio.errors.DataSourceError, pyogrio.errors.DataLayerError):
        return None


def _renamed(frame: gpd.GeoDataFrame, mapping: Mapping[str, str]) -> gpd.GeoDataFrame:
    """`frame` with mapped columns under their fields' names (a mapped column replaces a same-named one; one
    column may fill several fields, e.g. a township name that is also its code)."""
    fields = {f: column for f, column in mapping.items() if column in frame.columns and f not in _COORDINATE_FIELDS}
    copies = {f: frame[column] for f, column in fields.items()}
    replaced = set(fields.values()) | (set(fields) & set(frame.columns))
    return frame.drop(columns=sorted(replaced)).assign(**copies)


def _validated(frame: gpd.GeoDataFrame, layer: str, path: Path, *, fill_population: bool = False) -> gpd.GeoDataFrame:
    """`schema.validate` with the build-region way to fix missing columns added to its message."""
    if fill_population and "population" not in frame:
        frame = frame.assign(population=0.0)
    try:
        return validate(frame, layer, source=str(path))
    except DataError as exc:
        raise DataError(f"{exc} With build-region, map a column to a field with --map FIELD=COLUMN.") from exc


def _read_vector(path: Path, geometry: str, source: coords.SourceCrs | None, log: _Log) -> gpd.GeoDataFrame:
    """A vector layer via `readers.read_layer`, with `source` supplying a CRS the file lacks."""
    declared = _declared_crs(path)
    if declared is not None and source is not None and not source.gcj02 and not source.crs.equals(
        pyproj.CRS.from_user_input(declared), ignore_axis_order=True
    ):
        log.warnings.append(
            f"{path.name}: the file declares {declared}; --source-crs {source.label} applies only to files "
            "without a CRS, so the file's own CRS was used"
        )
    crs = source.crs.to_string() if source is not None and declared is None else None
    return read_layer(path, layer=None, geometry=geometry, crs=crs)


def _declared_crs(path: Path) -> str | None:
    """The CRS a vector file declares, None if it declares none or cannot be read (reading then says why)."""
    if path.suffix.lower() == ".csv":
        return None
    try:
        return pyogrio.read_info(path)["crs"]
    except (pyogrio.errors.DataSourceError, pyogrio.errors.DataLayerError):
        return None


def _to_wgs84(frame: gpd.GeoDataFrame, source: coords.SourceCrs | None, path: Path, log: _Log) -> gpd.GeoDataFrame:
    """The layer in EPSG:4326, undoing GCJ-02 when declared for a layer labelled as geographic WGS84/CGCS2000."""
    if source is not None and source.gcj02 and coords.is_lonlat_wgs84(frame.crs):
        log.notes.append(f"{path.name}: coordinates converted from GCJ-02 to WGS84")
        geometry = coords.geometries_from_gcj02(frame.geometry.to_numpy())
        return frame.set_geometry(gpd.GeoSeries(geometry, index=frame.index, crs=coords.WGS84))
    return frame.to_crs(coords.WGS84)


def _project_points(path: Path, layer: str, town_wgs: gpd.GeoDataFrame, source: coords.SourceCrs | None,
                    mapping: Mapping[str, str], crs: pyproj.CRS, log: _Log) -> gpd.GeoDataFrame:
    """Facilities, candidates or 120 stations: read (tables with the swap check), renamed, levels mapped, ids
    filled, validated, in the region CRS."""
    if path.name.lower().endswith(TABLE_SUFFIXES):
        frame = _read_points_table(path, town_wgs, source, mapping, log)
    else:
        frame = _read_vector(path, "point", source, log)
    frame = _renamed(_to_wgs84(frame, source, path, log), mapping).to_crs(crs)
    if "level" in frame:
        frame, note = facility_types(frame.assign(level=mapped_levels(frame["level"], path)), frame["level"], path)
        if note:
            log.notes.append(note)
    if "id" not in frame:
        prefix = {"facilities": "F", "candidates": "C"}.get(layer, "S")
        frame = frame.assign(id=[f"{prefix}{i + 1}" for i in range(len(frame))])
        log.notes.append(f"{path.name}: no id column; ids {prefix}1..{prefix}{len(frame)} given in file order")
    return _validated(frame, layer, path)


def _read_points_table(path: Path, town_wgs: gpd.GeoDataFrame, source: coords.SourceCrs | None,
                       mapping: Mapping[str, str], log: _Log) -> gpd.GeoDataFrame:
    """Points of a CSV/XLSX table; longitude and latitude columns swapped when the evidence says so."""
    lon, lat = _coordinate_columns(path, mapping, log)
    crs = (source.crs if source is not None else coords.WGS84).to_string()
    if path.suffix.lower() == ".csv":
        def read(x: str, y: str) -> gpd.GeoDataFrame:
            return read_layer(path, layer=None, geometry="point", x_column=x, y_column=y, crs=crs)
    else:
        table = _excel_table(path)

        def read(x: str, y: str) -> gpd.GeoDataFrame:
            return _points_from_table(table, x, y, crs=crs, where=str(path))
    if not pyproj.CRS.from_user_input(crs).is_geographic:
        return read(lon, lat)
    as_given, given_error = _attempt(read, lon, lat)
    swapped, _ = _attempt(read, lat, lon)
    if swapped is None:
        if given_error is not None:
            raise given_error
        return as_given
    bounds = town_wgs.total_bounds + np.array([-0.05, -0.05, 0.05, 0.05])
    swapped_in = _share_in_bounds(swapped, bounds)
    if as_given is None and swapped_in > 0:
        log.warnings.append(
            f"{path.name}: columns {lon!r}/{lat!r} look swapped ({lat!r} holds values beyond ±90 degrees, "
            f"{lon!r} does not); read them the other way round, which puts {swapped_in:.0%} of the points in "
            "the townships' extent"
        )
        return swapped
    if as_given is None:
        raise given_error  # type: ignore[misc]
    given_in = _share_in_bounds(as_given, bounds)
    if given_in < 1 - SWAP_INSIDE_SHARE and swapped_in >= SWAP_INSIDE_SHARE:
        log.warnings.append(
            f"{path.name}: columns {lon!r}/{lat!r} look swapped: as given {given_in:.0%} of the points fall in the "
            f"townships' extent, swapped {swapped_in:.0%}; read them the other way round"
        )
        return swapped
    return as_given


def _coordinate_columns(path: Path, mapping: Mapping[str, str], log: _Log) -> tuple[str, str]:
    """The longitude and latitude columns of a points table: the mapped ones, else recognised names
    (`coords.coordinate_columns`: lon, longitude, lng, x, 经度, ...), else "lon"/"lat" for the reader to report."""
    found_lon, found_lat = coords.coordinate_columns(_column_names(path) or ())
    lon, lat = mapping.get("lon") or found_lon or "lon", mapping.get("lat") or found_lat or "lat"
    if (lon, lat) != ("lon", "lat") and not {"lon", "lat"} & set(mapping):
        log.notes.append(f"{path.name}: coordinates read from columns {lon!r} and {lat!r}")
    return lon, lat


def _attempt(read: Callable[[str, str], gpd.GeoDataFrame], x: str, y: str
             ) -> tuple[gpd.GeoDataFrame | None, DataError | None]:
    """The points read with x/y columns, or the DataError saying why they cannot be."""
    try:
        return read(x, y), None
    except DataError as exc:
        return None, exc


def _share_in_bounds(points: gpd.GeoDataFrame, bounds: np.ndarray) -> float:
    """Share of points inside (west, south, east, north) in degrees."""
    xy = shapely.get_coordinates(points.geometry.to_numpy())
    inside = (xy[:, 0] >= bounds[0]) & (xy[:, 0] <= bounds[2]) & (xy[:, 1] >= bounds[1]) & (xy[:, 1] <= bounds[3])
    return float(inside.mean()) if len(xy) else 0.0


def _excel_table(path: Path) -> pd.DataFrame:
    """The first sheet of an Excel workbook as text cells (streamed, its used range checked: `read_sheet`)."""
    return read_sheet(path)


def _points_from_table(table: pd.DataFrame, x: str, y: str, *, crs: str, where: str) -> gpd.GeoDataFrame:
    """Points from coordinate columns of a table; DataError naming the sheet row of a bad coordinate."""
    values = {}
    for column in (x, y):
        if column not in table:
            names = coords.LONGITUDE_COLUMNS if column == x else coords.LATITUDE_COLUMNS
            raise DataError(f"{where}: coordinate column {column!r} is missing; columns present: "
                            f"{', '.join(table.columns)}. Name it one of {', '.join(names)}, or map it with "
                            "--map lon=<column> / --map lat=<column>")
        values[column] = pd.to_numeric(table[column], errors="coerce").to_numpy(dtype=np.float64)
        bad = ~np.isfinite(values[column])
        if pyproj.CRS.from_user_input(crs).is_geographic:
            bad |= np.abs(values[column]) > (180.0 if column == x else 90.0)
        if bad.any():
            row = int(np.flatnonzero(bad)[0])
            raise DataError(f"{where}, sheet row {row + 2}, field {column!r}: {table[column].iloc[row]!r} is not a "
                            f"{'longitude' if column == x else 'latitude'}; fix it")
    geometry = gpd.points_from_xy(values[x], values[y], crs=crs)
    return gpd.GeoDataFrame(table.drop(columns=[x, y]), geometry=geometry, crs=crs)


def _read_roads(path: Path, source: coords.SourceCrs | None, mapping: Mapping[str, str], crs: pyproj.CRS,
                log: _Log) -> gpd.GeoDataFrame:
    """Roads from an OSM file (drivable ways) or a line layer with a road_class column, in the region CRS."""
    if path.name.lower().endswith(OSM_SUFFIXES):
        read = osm.read_osm_roads(path)
        log.notes.append(
            f"{path.name}: {read.ways_read} drivable OSM ways, {read.ways_with_maxspeed} with maxspeed; "
            f"{read.ways_cut_at_edge} cut at the extract's edge, {read.ways_without_geometry} outside it"
        )
        if read.unparsed_maxspeed:
            words = ", ".join(f"{k!r} ({n})" for k, n in sorted(read.unparsed_maxspeed.items()))
            log.notes.append(f"{path.name}: maxspeed values without a number use the class speed: {words}")
        return _validated(read.roads.to_crs(crs), "roads", path)
    frame = _renamed(_to_wgs84(_read_vector(path, "line", source, log), source, path, log), mapping)
    if "road_class" not in frame:
        raise DataError(
            f"{path}: the road layer has no 'road_class' column; map one with --map road_class=<column> "
            f"(columns present: {', '.join(str(c) for c in frame.columns if c != 'geometry')})"
        )
    frame = frame.assign(road_class=osm.map_road_classes(frame["road_class"], source=str(path)))
    return _validated(frame.to_crs(crs), "roads", path)


def _roads_near(roads: gpd.GeoDataFrame, layers: list[gpd.GeoDataFrame], path: Path, log: _Log) -> gpd.GeoDataFrame:
    """Road lines within `ROAD_MARGIN_M` of the region's layers; DataError when none is."""
    hull = shapely.convex_hull(shapely.union_all([shapely.union_all(f.geometry.to_numpy()) for f in layers]))
    area = shapely.buffer(hull, ROAD_MARGIN_M)
    near = shapely.intersects(roads.geometry.to_numpy(), area)
    if not near.any():
        raise DataError(
            f"{path}: none of its {len(roads)} road lines comes within {ROAD_MARGIN_M / 1000:g} km of the "
            "townships and facilities; use roads of this region (or check the CRS of both files)"
        )
    if not near.all():
        log.notes.append(
            f"{path.name}: kept {int(near.sum())} of {len(roads)} road lines, those within "
            f"{ROAD_MARGIN_M / 1000:g} km of the townships, facilities and candidates"
        )
    return roads[near].reset_index(drop=True)


def _check_gcj_evidence(points: gpd.GeoDataFrame, roads: gpd.GeoDataFrame, *, layer: str, declared_gcj: bool,
                        log: _Log) -> None:
    """Warn when reading the points the other way (GCJ-02 vs WGS84) brings them markedly closer to the roads."""
    wgs = points.to_crs(coords.WGS84).geometry
    lon, lat = wgs.x.to_numpy(), wgs.y.to_numpy()
    if len(points) < 3 or not coords.in_china(lon, lat).all():
        return
    other = coords.gcj02_from_wgs84(lon, lat) if declared_gcj else coords.wgs84_from_gcj02(lon, lat)
    alternative = gpd.GeoSeries(gpd.points_from_xy(*other), crs=coords.WGS84).to_crs(points.crs)
    tree = shapely.STRtree(roads.geometry.to_numpy())
    as_read = float(np.median(tree.query_nearest(points.geometry.to_numpy(), return_distance=True)[1]))
    other_m = float(np.median(tree.query_nearest(alternative.to_numpy(), return_distance=True)[1]))
    if as_read >= GCJ_EVIDENCE_MIN_M and other_m <= GCJ_EVIDENCE_RATIO * as_read:
        declared, fix = ("GCJ-02", "drop --source-crs gcj02") if declared_gcj else ("WGS84", "use --source-crs gcj02")
        log.warnings.append(
            f"{layer}: the points look {'WGS84' if declared_gcj else 'GCJ-02'} although read as {declared}: median "
            f"distance to the nearest road {as_read:.0f} m as read, {other_m:.0f} m the other way; if the "
            f"coordinates come from a Chinese web map, {fix}"
        )


def _drop_far_outside(points: gpd.GeoDataFrame, town: gpd.GeoDataFrame, *, layer: str, path: Path,
                      log: _Log) -> gpd.GeoDataFrame:
    """Points outside every township: kept with a warning when near one, dropped with a warning beyond
    `regions.SNAP_TO_TOWNSHIP_M` (a region's sites must lie in its townships)."""
    distance_m = shapely.distance(points.geometry.to_numpy(), shapely.union_all(town.geometry.to_numpy()))
    outside, far = distance_m > 0, distance_m > regions.SNAP_TO_TOWNSHIP_M
    if layer == "facilities" and far.all():
        raise DataError(
            f"{path}: none of the {len(points)} facilities lies in the townships (the nearest is "
            f"{distance_m.min() / 1000:,.1f} km away); check the coordinate columns and --source-crs"
        )
    if outside.any():
        listed = ", ".join(f"{i!r} ({d / 1000:.2f} km)" for i, d in
                           zip(points["id"][outside][:10], distance_m[outside][:10], strict=True))
        log.warnings.append(
            f"{path.name}: {int(outside.sum())} {layer} outside every township (distance to the boundary): {listed}"
            + (f"; the {int(far.sum())} farther than {regions.SNAP_TO_TOWNSHIP_M:g} m were left out of the bundle"
               if far.any() else "; each joins the nearest township")
        )
    return points[~far].reset_index(drop=True)


def _apportion(town: gpd.GeoDataFrame, path: Path | None, source: coords.SourceCrs | None,
               mapping: Mapping[str, str], log: _Log) -> population.Apportioned:
    """Population of townships and demand points from the population input (or the township layer)."""
    if path is None:
        return population.from_townships(town)
    if path.name.lower().endswith(RASTER_SUFFIXES):
        result, crs_note = population.from_raster(town, path)
        if crs_note:
            log.warnings.append(crs_note)
    else:
        is_table = path.name.lower().endswith(TABLE_SUFFIXES)
        is_point = is_table or "point" in _geometry_type(path).lower()
        frame = (_read_points_table(path, town.to_crs(coords.WGS84), source, mapping, log) if is_table
                 else _read_vector(path, "point" if is_point else "polygon", source, log))
        frame = _renamed(_to_wgs84(frame, source, path, log), mapping).to_crs(town.crs)
        ids = frame["id"].astype(str) if "id" in frame else pd.Series([str(i + 1) for i in range(len(frame))])
        result = (population.from_points if is_point else population.from_grid)(town, frame, ids=ids)
    log.notes.extend(result.notes)
    stated = float(town["population"].sum())
    if stated > 0 and abs(stated - result.people_assigned) > 0.01 * stated:
        log.warnings.append(
            f"population: the township layer states {stated:,.0f} people, {path.name} puts "
            f"{result.people_assigned:,.0f} in the townships; the bundle uses the latter"
        )
    warning = result.outside_warning()
    if warning:
        log.warnings.append(warning)
    empty = town["code"][result.by_township.reindex(town["code"]).to_numpy() == 0]
    if len(empty):
        listed = ", ".join(map(repr, empty[:10]))
        log.warnings.append(f"population: townships {listed} received nobody from {path.name}")
    return result


def _geometry_type(path: Path) -> str:
    """The geometry type a vector file declares ("" when it cannot be read; reading then says why)."""
    try:
        return str(pyogrio.read_info(path)["geometry_type"])
    except (pyogrio.errors.DataSourceError, pyogrio.errors.DataLayerError):
        return ""


def _describe_source(path: Path, layer: str) -> dict[str, str]:
    """File name, sha256 and licence of one input."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    licence = OSM_LICENSE if layer == "roads" and path.name.lower().endswith(OSM_SUFFIXES) else UNSTATED_LICENSE
    return {"file": path.name, "sha256": digest.hexdigest(), "license": licence}


def _region_toml(report: BuildReport, layers: Mapping[str, gpd.GeoDataFrame]) -> str:
    """region.toml text of the built bundle."""
    from_input = {"demand": "population", "townships": "townships", "facilities": "facilities",
                  "candidates": "candidates", "roads": "roads", "hazards": "hazards", "ems_stations": "ems_stations"}
    description = f"{report.name}: built from planners' files (source CRS: {report.source_crs})"
    sources = {}
    for layer in layers:
        origin = report.sources.get(from_input[layer]) or report.sources["townships"]
        sources[layer] = {"file": "region.gpkg", "layer": layer,
                          "source": f"{origin['file']} (sha256 {origin['sha256']})", "license": origin["license"]}
    meta = {
        "region": {"name": report.name, "description": description, "crs": report.crs, "synthetic": False},
        "layers": sources,
        "network": {"access_speed_kmh": regions.DEFAULT_ACCESS_SPEED_KMH},
    }
    return toml_text(meta, header=f"Region bundle {report.name}, built by allocopt build-region from the files "
                                  "listed below.")
