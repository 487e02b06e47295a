"""Region bundles: finding them by name or path, reading region.toml and the layers, and cross-layer checks."""

from __future__ import annotations

import difflib
import importlib.resources
import math
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import shapely

from allocopt.ems import checked_stations
from allocopt.errors import DataError
from allocopt.i18n import LANGUAGES
from allocopt.inputs import checked_file, inside_bundle, parse_toml
from allocopt.readers import read_layer
from allocopt.schema import LAYERS, ROAD_CLASSES, describe_rows, row_labels, validate
from allocopt.services import CENTERS, EQUIPMENT, HOSPITAL_LEVELS, center_column

SITE_COLUMNS: tuple[str, ...] = (
    "id", "name", "kind", "level", "hospital_kind", "central", "gps", "village_doctors", "beds", *EQUIPMENT,
    *(center_column(c) for c in CENTERS),
    "consortium_lead", "open_cost_yuan", "township_code", "geometry",
)
"""Columns of `Region.sites`, in order."""

SNAP_TO_TOWNSHIP_M = 500.0
"""A facility or candidate outside every township but this close to one is assigned to the nearest township."""

POPULATION_TOLERANCE = 0.005
"""Largest relative difference allowed between the demand layer's and the townships' total population."""

DEFAULT_ACCESS_SPEED_KMH = 5.0
"""Walking speed of the off-road leg from a point to its nearest road node."""

DEFAULT_LAYER_FILE = "region.gpkg"

_NUMBER = (int, float)
_TOML_KEYS: dict[str, dict[str, type | tuple[type, ...]]] = {
    # [generator] records the arguments a synthetic bundle was generated with; its keys are free-form.
    "": {"region": dict, "layers": dict, "network": dict, "generator": dict},
    "region": {
        "name": str, "description": str, "crs": str, "synthetic": bool, "calibration": str, "source": str,
        "license": str, "language": str, "title": str,
    },
    "layer": {
        "file": str, "layer": str, "source": str, "license": str, "x_column": str, "y_column": str, "crs": str,
        "rename": dict, "outside_bundle": bool,
    },
    "network": {"access_speed_kmh": _NUMBER, "speeds_kmh": dict},
}


@dataclass(frozen=True)
class RegionInfo:
    """An embedded region as listed by `list_regions`."""

    name: str
    description: str
    synthetic: bool
    path: Path


@dataclass(frozen=True, eq=False)
class Region:
    """A validated region: every layer in one metric CRS, ids as strings, townships joined to sites and demand.

    `meta` holds the region.toml contents plus `meta["reprojected"]`: {layer: the CRS it was projected from}.
    `sites` is facilities then candidates in one frame with the columns of `SITE_COLUMNS`; it is the site axis of
    every travel matrix and of the model. The frames must not be modified in place.
    """

    name: str
    path: Path | None
    crs: pyproj.CRS
    meta: dict[str, Any]
    synthetic: bool
    access_speed_kmh: float
    speeds_kmh: dict[str, float]
    townships: gpd.GeoDataFrame
    demand: gpd.GeoDataFrame
    demand_derived: bool
    facilities: gpd.GeoDataFrame
    candidates: gpd.GeoDataFrame
    roads: gpd.GeoDataFrame
    sites: gpd.GeoDataFrame
    hazards: gpd.GeoDataFrame | None = None
    """Hazard zones (points or polygons: landslides, floods) that closure scenarios close roads near, if any."""
    ems_stations: gpd.GeoDataFrame | None = None
    """120 ambulance stations, existing and candidate (`schema.LAYERS["ems_stations"]`, township codes filled),
    or None when the bundle has none."""
    language: str | None = None
    """Language of the outputs written for people (`allocopt.i18n.LANGUAGES`), from region.toml; None: unset."""
    title: str | None = None
    """The region's name as its people write it ("东塘县"), for titles of reports; None: `name` stands."""


def path_safe_name(name: str, *, max_length: int = 80) -> str:
    """`name` made safe as one file name: letters (any script), digits, `.`, `_` and `-` kept, every other run of
    characters (path separators, control characters, spaces) becomes `_`, leading dots go; "region" if nothing
    is left. A region's `name` decides where default output goes, so `../../x` must not climb directories."""
    text = re.sub(r"[^\w.-]+", "_", unicodedata.normalize("NFC", name)).lstrip(".")[:max_length]
    return text if text.strip("_") else "region"


def embedded_regions_dir() -> Path | None:
    """The directory of embedded regions: package data when installed, else `data/regions` of a source checkout."""
    packaged = importlib.resources.files("allocopt") / "_regions"
    if packaged.is_dir():
        return Path(str(packaged))
    checkout = Path(__file__).resolve().parents[2] / "data" / "regions"
    return checkout if checkout.is_dir() else None


def list_regions() -> list[RegionInfo]:
    """The embedded regions (directories holding a region.toml), sorted by name."""
    root = embedded_regions_dir()
    if root is None:
        return []
    infos = []
    for directory in sorted(p for p in root.iterdir() if (p / "region.toml").is_file()):
        table = _read_toml(directory / "region.toml").get("region", {})
        infos.append(
            RegionInfo(
                name=directory.name,
                description=str(table.get("description", "")),
                synthetic=bool(table.get("synthetic", False)),
                path=directory,
            )
        )
    return infos


def resolve_region(name_or_path: str | Path) -> Path:
    """The bundle directory of `name_or_path`: an existing directory (or its region.toml), else an embedded name."""
    given = Path(name_or_path)
    if given.is_dir():
        return given
    if given.is_file() and given.name == "region.toml":
        return given.parent
    root = embedded_regions_dir()
    is_name = isinstance(name_or_path, str) and given.name == name_or_path
    if root is not None and is_name and (root / given.name / "region.toml").is_file():
        return root / given.name
    embedded = {info.name.lower(): info.name for info in list_regions()}
    close = difflib.get_close_matches(given.name.lower(), embedded, n=1)
    hint = f"did you mean {embedded[close[0]]}? Otherwise " if close else ""
    raise DataError(
        f"region {str(name_or_path)!r} is neither a bundle directory nor an embedded region (embedded: "
        f"{', '.join(embedded.values()) or 'none'}); {hint}give the name of an embedded region or the path of a "
        "directory holding region.toml."
    )


def load_region(name_or_path: str | Path) -> Region:
    """Load a region bundle (embedded name or directory) into a validated `Region` in the bundle's metric CRS.

    Reads region.toml (unknown keys and wrong types are errors naming the key), reads each layer with
    `readers.read_layer`, applies the layer's `rename` table, validates it with `schema.validate` and projects it to
    region.toml `crs`, which must be a metric projected CRS; `meta["reprojected"]` records each layer that was
    projected and its source CRS. The cross-layer checks and derivations are those of `build_region`.
    """
    path = resolve_region(name_or_path)
    toml_path = path / "region.toml"
    meta = _read_toml(toml_path)
    _check_table(meta, "", where=str(toml_path))
    region_table = _check_table(_required_table(meta, "region", where=str(toml_path)), "region", where=str(toml_path))
    if "crs" not in region_table:
        raise DataError(f"{toml_path}: key 'region.crs' is missing; set the metric CRS, e.g. crs = \"EPSG:32647\".")
    crs = _metric_crs(region_table["crs"], where=f"{toml_path}: key 'region.crs'")
    language = region_language(region_table.get("language"), where=f"{toml_path}: key 'region.language'")
    network = _check_table(meta.get("network", {}), "network", where=str(toml_path))
    frames, sources, reprojected = _load_layers(path, _required_table(meta, "layers", where=str(toml_path)), crs=crs)
    return build_region(
        name=str(region_table.get("name", path.name)),
        crs=crs,
        townships=frames["townships"],
        facilities=frames["facilities"],
        roads=frames["roads"],
        demand=frames.get("demand"),
        candidates=frames.get("candidates"),
        hazards=frames.get("hazards"),
        ems_stations=frames.get("ems_stations"),
        path=path,
        meta={**meta, "reprojected": reprojected},
        synthetic=bool(region_table.get("synthetic", False)),
        access_speed_kmh=network.get("access_speed_kmh", DEFAULT_ACCESS_SPEED_KMH),
        speeds_kmh=network.get("speeds_kmh", {}),
        sources=sources,
        language=language,
        title=region_table.get("title"),
    )


def region_language(value: str | None, *, where: str) -> str | None:
    """The `language` of region.toml, checked: one of `allocopt.i18n.LANGUAGES`, or None when the key is absent."""
    if value is not None and value not in LANGUAGES:
        raise DataError(f"{where}: unknown language {value!r}; write one of: "
                        f"{', '.join(repr(code) for code in LANGUAGES)} (zh: Chinese, en: English).")
    return value


def build_region(
    *,
    name: str,
    crs: pyproj.CRS,
    townships: gpd.GeoDataFrame,
    facilities: gpd.GeoDataFrame,
    roads: gpd.GeoDataFrame,
    demand: gpd.GeoDataFrame | None = None,
    candidates: gpd.GeoDataFrame | None = None,
    hazards: gpd.GeoDataFrame | None = None,
    ems_stations: gpd.GeoDataFrame | None = None,
    path: Path | None = None,
    meta: Mapping[str, Any] | None = None,
    synthetic: bool = False,
    access_speed_kmh: float = DEFAULT_ACCESS_SPEED_KMH,
    speeds_kmh: Mapping[str, float] | None = None,
    sources: Mapping[str, str] | None = None,
    language: str | None = None,
    title: str | None = None,
) -> Region:
    """Assemble a `Region` from layers already validated by `schema.validate` and already in `crs`.

    - Facilities and candidates get `township_code` from the township polygon holding them; a point outside every
      township but within `SNAP_TO_TOWNSHIP_M` (500 m) of one, e.g. a clinic on a boundary river bank, takes the
      nearest township; points farther out raise DataError naming their ids.
    - Without `demand`, demand is one point per township at its representative point with its full population
      (and population_65plus), and `demand_derived` is True. A given demand layer must use township codes of the
      townships layer and match their total population within `POPULATION_TOLERANCE` (0.5%).
    - The townships must hold some residents, and no township or demand point more residents aged 65+ than in
      all. Demand points, like sites, must lie within `SNAP_TO_TOWNSHIP_M` of a township, and the roads' extent
      must meet the townships' (a layer in the wrong CRS fails these); so must a `hazards` layer's.
    - 120 stations (`ems_stations`) lie within `SNAP_TO_TOWNSHIP_M` of a township; a blank `township_code` takes
      the township holding the station, a given one must be a township code; a candidate has no ambulances yet.
    - Facility and candidate ids must be unique across both layers; `consortium_lead` must be empty or the id of
      a county or tertiary hospital.
    - Empty road `speed_kmh` values take the class speed: `network.DEFAULT_SPEEDS_KMH` overridden by `speeds_kmh`.
    `sources` names the file of each layer in error messages (default: the layer name).
    """
    def where(layer: str) -> str:
        return f"{(sources or {}).get(layer, layer)}, layer '{layer}'"

    layers = {"townships": townships, "facilities": facilities, "roads": roads, "demand": demand,
              "candidates": candidates, "hazards": hazards, "ems_stations": ems_stations}
    for layer, frame in layers.items():
        if frame is not None and (frame.crs is None or not frame.crs.equals(crs)):
            raise DataError(f"{where(layer)}: the layer is in {frame.crs}, not {crs}; project it to the region CRS.")
    if len(townships) == 0:
        raise DataError(f"{where('townships')}: the layer has no townships.")
    if not townships["population"].sum() > 0:
        raise DataError(
            f"{where('townships')}, field 'population': every township has 0 residents; fill in the resident "
            "population (or map the right column to it with `rename` in region.toml)."
        )
    _check_elderly(townships, id_column="code", where=where("townships"))
    access_kmh = _positive_number(access_speed_kmh, where="key 'network.access_speed_kmh'")
    overrides = _class_speeds(speeds_kmh or {})
    facilities = _with_township_codes(facilities, townships, layer="facilities", where=where("facilities"))
    candidates = _with_township_codes(
        _empty_layer("candidates", crs) if candidates is None else candidates, townships,
        layer="candidates", where=where("candidates"),
    )
    _check_unique_site_ids(facilities, candidates, where=where("candidates"), facilities_where=where("facilities"))
    _check_consortium_leads(facilities, where=where("facilities"))
    if demand is not None:
        _check_elderly(demand, id_column="id", where=where("demand"))
        _check_demand(demand, townships, where=where("demand"))
    _check_roads_reach_townships(roads, townships, where=where("roads"))
    if hazards is not None:
        _check_roads_reach_townships(hazards, townships, where=where("hazards"), what="hazard zone")
    return Region(
        name=name,
        path=path,
        crs=crs,
        meta=dict(meta or {}),
        synthetic=synthetic,
        access_speed_kmh=access_kmh,
        speeds_kmh=overrides,
        townships=townships,
        demand=_derived_demand(townships) if demand is None else demand,
        demand_derived=demand is None,
        facilities=facilities,
        candidates=candidates,
        roads=_with_class_speeds(roads, overrides),
        sites=combine_sites(facilities, candidates),
        hazards=hazards,
        ems_stations=None if ems_stations is None else checked_stations(
            ems_stations, townships["code"], townships["code"].to_numpy()[
                _township_positions(ems_stations, townships, where=where("ems_stations"))],
            where=where("ems_stations")),
        language=language,
        title=title,
    )


def combine_sites(facilities: gpd.GeoDataFrame, candidates: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Facilities then candidates as one frame with `SITE_COLUMNS`: the site axis of matrices and the model.

    Candidates are not open yet: they have no GPs, beds, equipment, designations or consortium lead; existing
    facilities have no opening cost.
    """
    existing = facilities.assign(kind="existing", open_cost_yuan=0.0)
    empty_site = {column: 0 for column in ("gps", "village_doctors", "beds", *EQUIPMENT)}
    flags = {center_column(center): False for center in CENTERS} | {"central": False}
    new = candidates.assign(kind="candidate", consortium_lead="", hospital_kind="", **empty_site, **flags)
    columns = list(SITE_COLUMNS)
    sites = pd.concat([existing[columns], new[columns]], ignore_index=True)
    dtypes = {**{column: "int64" for column in empty_site}, **{column: bool for column in flags},
              "open_cost_yuan": "float64"}
    return gpd.GeoDataFrame(sites.astype(dtypes), geometry="geometry", crs=facilities.crs)


def _read_toml(toml_path: Path) -> dict[str, Any]:
    """region.toml (UTF-8, a byte-order mark allowed) as a dict; DataError if it is unreadable or not TOML."""
    if not toml_path.exists():
        raise DataError(f"{toml_path}: not found; a region bundle is a directory holding region.toml.")
    return parse_toml(toml_path, what="region.toml")


def _required_table(meta: Mapping[str, Any], key: str, *, where: str) -> dict[str, Any]:
    """The table `key` of region.toml; DataError when absent."""
    if key not in meta:
        raise DataError(f"{where}: table [{key}] is missing; see docs/architecture.md for the bundle layout.")
    return dict(meta[key])


def _check_table(table: object, kind: str, *, where: str, prefix: str | None = None) -> dict[str, Any]:
    """`table` as a dict; DataError for an unknown key or a value of the wrong type in it."""
    prefix = kind if prefix is None else prefix
    known = _TOML_KEYS[kind]
    if not isinstance(table, dict):
        raise DataError(f"{where}: '{prefix}' must be a table ([{prefix}]), not {table!r}.")
    for key, value in table.items():
        full = f"{prefix}.{key}" if prefix else key
        if key not in known:
            raise DataError(f"{where}: unknown key '{full}'; known keys: {', '.join(known)}.")
        expected = known[key]
        if not isinstance(value, expected) or (expected is _NUMBER and isinstance(value, bool)):
            wanted = "a number" if expected is _NUMBER else f"a {getattr(expected, '__name__', expected)}"
            raise DataError(f"{where}: key '{full}' must be {wanted.replace('dict', 'table')}, not {value!r}.")
    return table


def _metric_crs(text: str, *, where: str) -> pyproj.CRS:
    """The region CRS: a projected CRS in metres, as distances and speeds need."""
    try:
        crs = pyproj.CRS.from_user_input(text)
    except pyproj.exceptions.CRSError as exc:
        raise DataError(f"{where}: {text!r} is not a known CRS; use an EPSG code such as 'EPSG:32647'.") from exc
    units = {axis.unit_name for axis in crs.axis_info}
    if not crs.is_projected or units != {"metre"}:
        kind = "geographic (degrees)" if crs.is_geographic else f"not in metres ({', '.join(sorted(units))})"
        raise DataError(
            f"{where}: {text!r} is {kind}; use a projected CRS in metres, e.g. the UTM zone of the region "
            "(EPSG:326xx) or a CGCS2000 Gauss-Krüger zone."
        )
    return crs


def _load_layers(
    bundle: Path, layer_tables: Mapping[str, Any], *, crs: pyproj.CRS
) -> tuple[dict[str, gpd.GeoDataFrame], dict[str, str], dict[str, str]]:
    """Every layer region.toml lists, validated and projected to `crs`.

    Returns the frames, the text naming each layer's file, and {layer: source CRS} of the projected layers.
    """
    toml_path = bundle / "region.toml"
    unknown = sorted(set(layer_tables) - set(LAYERS))
    if unknown:
        raise DataError(f"{toml_path}: unknown layer table 'layers.{unknown[0]}'; known layers: {', '.join(LAYERS)}.")
    frames: dict[str, gpd.GeoDataFrame] = {}
    sources: dict[str, str] = {}
    reprojected: dict[str, str] = {}
    for name, spec in LAYERS.items():
        if name not in layer_tables:
            if spec.required:
                raise DataError(
                    f"{toml_path}: table [layers.{name}] is missing; the {name} layer is required (file defaults "
                    f"to {DEFAULT_LAYER_FILE}, layer to '{name}')."
                )
            continue
        frame, sources[name] = _load_layer(bundle, name, layer_tables[name])
        if spec.required and len(frame) == 0:
            raise DataError(f"{sources[name]}, layer '{name}': the layer has no features; the {name} are required.")
        if not frame.crs.equals(crs):
            reprojected[name] = frame.crs.to_string()
            frame = frame.to_crs(crs)
        frames[name] = frame
    return frames, sources, reprojected


def _load_layer(bundle: Path, name: str, table: object) -> tuple[gpd.GeoDataFrame, str]:
    """Read, rename and validate one layer; returns it (in its source CRS) and the text naming its file."""
    toml_path = bundle / "region.toml"
    table = _check_table(table, "layer", where=str(toml_path), prefix=f"layers.{name}")
    outside = table.get("outside_bundle", False)
    file = inside_bundle(bundle, table.get("file", DEFAULT_LAYER_FILE), where=f"{toml_path}: key 'layers.{name}.file'",
                         outside_allowed=outside)
    if file.exists():  # its type and size may be told even of a file outside the bundle; its cells may not
        checked_file(file, kind="data", what=f"file of the {name} layer")
    layer = table.get("layer", name if file.suffix.lower() == ".gpkg" else None)
    try:
        frame, source = _read_renamed(file, name, layer, table, toml_path=toml_path)
    except DataError:
        if not outside or file.resolve().is_relative_to(bundle.resolve()):
            raise
        raise DataError(
            f"{file} ({name} layer, outside the bundle): the file cannot serve as the {name} layer; the details are "
            "withheld because the file lies outside the bundle. Copy it into the bundle to see them."
        ) from None
    return frame, source


def _read_renamed(
    file: Path, name: str, layer: str | None, table: Mapping[str, Any], *, toml_path: Path
) -> tuple[gpd.GeoDataFrame, str]:
    """Read one layer file, apply the layer's `rename` table and validate it against the layer's schema."""
    frame = read_layer(
        file,
        layer=layer,
        geometry=LAYERS[name].geometry,
        x_column=table.get("x_column"),
        y_column=table.get("y_column"),
        crs=table.get("crs"),
        label=name,
    )
    source = f"{file} (layer '{layer}')" if layer and layer != name else str(file)
    rename = table.get("rename", {})
    for old, new in rename.items():
        if not isinstance(new, str):
            raise DataError(f"{toml_path}: key 'layers.{name}.rename.{old}' must be a column name, not {new!r}.")
        if old not in frame:
            raise DataError(
                f"{toml_path}: key 'layers.{name}.rename.{old}': {source} has no column '{old}'; columns present: "
                f"{', '.join(str(c) for c in frame.columns if c != 'geometry')}."
            )
    return validate(frame.rename(columns=rename), name, source=source), source


def _positive_number(value: object, *, where: str) -> float:
    """`value` as a positive finite float; DataError naming `where` otherwise."""
    try:
        number = float(value) if isinstance(value, int | float) and not isinstance(value, bool) else math.nan
    except OverflowError:  # a TOML integer beyond the float range
        raise DataError(
            f"region.toml {where}: an integer of {len(str(value))} digits is not a speed; give a speed in km/h."
        ) from None
    if not (math.isfinite(number) and number > 0):
        raise DataError(f"region.toml {where}: {value!r} is not a positive number; give a speed in km/h.")
    return number


def _class_speeds(speeds_kmh: Mapping[str, object]) -> dict[str, float]:
    """Road-class speed overrides, checked: known classes, positive km/h."""
    for road_class in speeds_kmh:
        if road_class not in ROAD_CLASSES:
            raise DataError(
                f"region.toml key 'network.speeds_kmh.{road_class}': not a road class; use one of "
                f"{', '.join(ROAD_CLASSES)}."
            )
    return {
        road_class: _positive_number(speed, where=f"key 'network.speeds_kmh.{road_class}'")
        for road_class, speed in speeds_kmh.items()
    }


def _with_class_speeds(roads: gpd.GeoDataFrame, overrides: Mapping[str, float]) -> gpd.GeoDataFrame:
    """Roads with empty `speed_kmh` filled from the class speeds (defaults of `allocopt.network`, then overrides)."""
    from allocopt.network import DEFAULT_SPEEDS_KMH

    class_speeds = {**DEFAULT_SPEEDS_KMH, **overrides}
    return roads.assign(speed_kmh=roads["speed_kmh"].fillna(roads["road_class"].map(class_speeds)))


def _empty_layer(layer: str, crs: pyproj.CRS) -> gpd.GeoDataFrame:
    """A validated layer with no rows, for an optional layer the bundle does not have."""
    required = {column.name: pd.Series([], dtype=object) for column in LAYERS[layer].columns if column.default is None}
    return validate(gpd.GeoDataFrame(required, geometry=gpd.GeoSeries([], crs=crs)), layer, source="(none)")


def _with_township_codes(
    points: gpd.GeoDataFrame, townships: gpd.GeoDataFrame, *, layer: str, where: str
) -> gpd.GeoDataFrame:
    """`points` of `layer` with `township_code` (after the spec columns) from the township holding each point."""
    match = _township_positions(points, townships, where=where)
    codes = townships["code"].to_numpy()[match]
    frame = points.drop(columns="township_code", errors="ignore")
    frame.insert(len(LAYERS[layer].columns), "township_code", pd.Series(codes, index=frame.index, dtype=str))
    return frame


def _township_positions(points: gpd.GeoDataFrame, townships: gpd.GeoDataFrame, *, where: str) -> np.ndarray:
    """Position in `townships` of the township holding each point (with an `id` column).

    A point on a shared boundary takes the first township in layer order; a point outside every township takes
    the nearest one within `SNAP_TO_TOWNSHIP_M`, and DataError names the points farther out.
    """
    none = len(townships)
    match = np.full(len(points), none, dtype=np.int64)
    if len(points):
        point_pos, township_pos = townships.sindex.query(points.geometry, predicate="intersects")
        np.minimum.at(match, point_pos, township_pos)
    outside = np.flatnonzero(match == none)
    if outside.size:
        (near_pos, township_pos), distance_m = townships.sindex.nearest(
            points.geometry.iloc[outside], return_all=False, return_distance=True
        )
        close = distance_m <= SNAP_TO_TOWNSHIP_M
        match[outside[near_pos[close]]] = township_pos[close]
        far = outside[near_pos[~close]]
        if far.size:
            listed = ", ".join(
                f"'{points['id'].iloc[p]}' ({d / 1000:.1f} km away)"
                for p, d in zip(far[:10], distance_m[~close][:10], strict=True)
            )
            raise DataError(
                f"{where}: {far.size} point(s) lie outside every township, more than {SNAP_TO_TOWNSHIP_M:g} m "
                f"from the nearest: {listed}; fix their coordinates (check the CRS) or the township polygons."
            )
    return match


def _check_unique_site_ids(
    facilities: gpd.GeoDataFrame, candidates: gpd.GeoDataFrame, *, where: str, facilities_where: str
) -> None:
    """Raise DataError if an id is both a facility and a candidate: sites are keyed by id."""
    shared = sorted(set(facilities["id"]) & set(candidates["id"]))
    if shared:
        raise DataError(
            f"{where}, field 'id': id '{shared[0]}' is also a facility id ({facilities_where}); ids must be unique "
            "across facilities and candidates."
        )


def _check_consortium_leads(facilities: gpd.GeoDataFrame, *, where: str) -> None:
    """Raise DataError if a `consortium_lead` is neither empty nor the id of a county or tertiary hospital."""
    hospitals = facilities.loc[facilities["level"].isin(HOSPITAL_LEVELS), "id"]
    lead = facilities["consortium_lead"]
    bad = ((lead != "") & ~lead.isin(hospitals)).to_numpy()
    if bad.any():
        value = lead[bad].iloc[0]
        raise DataError(
            f"{where}, {describe_rows(row_labels(facilities, 'id'), bad)}, field 'consortium_lead': '{value}' is not "
            f"the id of a county or tertiary hospital; leave it empty or use one of: "
            f"{', '.join(hospitals) or '(no hospitals in the layer)'}."
        )


def _check_elderly(frame: gpd.GeoDataFrame, *, id_column: str, where: str) -> None:
    """Raise DataError where `population_65plus` exceeds `population` (often two swapped columns)."""
    above = (frame["population_65plus"] > frame["population"]).to_numpy()
    if above.any():
        row = np.flatnonzero(above)[0]
        raise DataError(
            f"{where}, {describe_rows(row_labels(frame, id_column), above)}, field 'population_65plus': "
            f"{frame['population_65plus'].iloc[row]:g} residents aged 65+ but {frame['population'].iloc[row]:g} "
            "residents in all; check whether the two columns are swapped."
        )


def _check_roads_reach_townships(roads: gpd.GeoDataFrame, townships: gpd.GeoDataFrame, *, where: str,
                                 what: str = "road") -> None:
    """Raise DataError when the extent of the roads (or of another layer, each feature a `what`) misses the
    townships' extent: a layer with the wrong CRS or from another place, whose travel times would be meaningless."""
    if len(roads) == 0:
        return
    road_extent, township_extent = shapely.box(*roads.total_bounds), shapely.box(*townships.total_bounds)
    if not road_extent.intersects(township_extent):
        distance_km = road_extent.distance(township_extent) / 1000
        raise DataError(
            f"{where}: every {what} lies outside the townships' extent, {distance_km:,.0f} km away; check the "
            "layer's CRS and that it covers this region."
        )


def _derived_demand(townships: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """One demand point per township, at a point inside it, carrying its whole population."""
    return gpd.GeoDataFrame(
        {
            "id": townships["code"],
            "township_code": townships["code"],
            "population": townships["population"],
            "population_65plus": townships["population_65plus"],
        },
        geometry=townships.geometry.representative_point(),
        crs=townships.crs,
    )


def _check_demand(demand: gpd.GeoDataFrame, townships: gpd.GeoDataFrame, *, where: str) -> None:
    """Raise DataError for points outside the townships (as for sites), unknown township codes, or a total
    population off the townships' by more than 0.5%."""
    _township_positions(demand, townships, where=where)
    unknown = (~demand["township_code"].isin(townships["code"])).to_numpy()
    if unknown.any():
        value = demand["township_code"][unknown].iloc[0]
        raise DataError(
            f"{where}, {describe_rows(row_labels(demand, 'id'), unknown)}, field 'township_code': '{value}' is not "
            "a code of the townships layer; use the code of the township the point lies in."
        )
    demand_total, township_total = float(demand["population"].sum()), float(townships["population"].sum())
    if abs(demand_total - township_total) > POPULATION_TOLERANCE * township_total:
        raise DataError(
            f"{where}, field 'population': the demand points hold {demand_total:,.0f} people but the townships "
            f"{township_total:,.0f}, more than {POPULATION_TOLERANCE:.1%} apart; make the two agree, or remove "
            "the demand layer to derive demand from the townships."
        )
