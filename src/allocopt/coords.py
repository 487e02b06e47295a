"""Coordinate systems of planners' files: WGS84, CGCS2000, GCJ-02, and the metric (UTM) CRS of a region.

Chinese planning data arrives in three geographic systems:

- WGS84 (EPSG:4326): GPS receivers, OpenStreetMap.
- CGCS2000 (EPSG:4490): the national datum of surveying and of official boundary files. It differs from WGS84
  by a few centimetres, far below planning accuracy, so its longitudes and latitudes are taken as WGS84 ones
  unchanged.
- GCJ-02: the obfuscated system of Chinese web map providers (AutoNavi/Amap, Tencent, Google's China tiles).
  It has no EPSG code; files holding it are usually labelled as WGS84 or carry no CRS at all. Its offset from
  WGS84 is a few hundred metres, enough to put a clinic on the wrong side of a river. The forward transform
  here is the widely published approximation of the official algorithm (about 1 m from the official one); the
  inverse is solved by fixed-point iteration to a residual below 1e-9 degrees (well under a millimetre) against
  that forward transform. The transform is defined inside China's bounding box only; points outside it are
  returned unchanged, as the providers do.

Every layer of a region is then projected to one metric CRS: the UTM zone (WGS84 datum) of the region's
centroid.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import pyproj
import shapely
from numpy.typing import ArrayLike, NDArray

from allocopt.errors import DataError

WGS84 = pyproj.CRS.from_epsg(4326)
CGCS2000 = pyproj.CRS.from_epsg(4490)

CHINA_BOUNDS_DEG = (72.004, 0.8293, 137.8347, 55.8271)
"""(west, south, east, north) of the box inside which GCJ-02 is applied, as in the published algorithm."""

_GCJ_AXIS_M = 6378245.0  # Krasovsky 1940 semi-major axis used by the GCJ-02 formulas
_GCJ_ECC2 = 0.00669342162296594323  # Krasovsky 1940 first eccentricity squared

GCJ02_INVERSE_TOLERANCE_DEG = 1e-9
"""The inverse transform iterates until the forward image of its answer is this close to the input."""

_GCJ02_INVERSE_MAX_ITERATIONS = 30

LONGITUDE_COLUMNS = ("lon", "longitude", "lng", "long", "经度", "x")
"""Column names recognised as longitude (or easting) in a points table, in order of preference, any case."""
LATITUDE_COLUMNS = ("lat", "latitude", "纬度", "y")
"""Column names recognised as latitude (or northing) in a points table, in order of preference, any case."""


@dataclass(frozen=True)
class SourceCrs:
    """The coordinate system inputs are declared in: a pyproj CRS, and whether its lon/lat are GCJ-02."""

    crs: pyproj.CRS
    gcj02: bool = False

    @property
    def label(self) -> str:
        """Short name for reports: "GCJ-02" or the CRS's authority code."""
        return "GCJ-02" if self.gcj02 else self.crs.to_string()


def parse_source_crs(text: str) -> SourceCrs:
    """Read `--source-crs`: "wgs84", "cgcs2000", "gcj02" (any case, dashes allowed) or any pyproj CRS string.

    CGCS2000 is mapped to WGS84 (they differ by centimetres); GCJ-02 is geographic lon/lat on the WGS84
    ellipsoid plus the provider offset, undone by `wgs84_from_gcj02`.
    """
    key = text.strip().lower().replace("-", "").replace("_", "").replace(":", "")
    if key in {"wgs84", "epsg4326", "cgcs2000", "epsg4490"}:
        return SourceCrs(WGS84)
    if key in {"gcj02", "gcj"}:
        return SourceCrs(WGS84, gcj02=True)
    try:
        return SourceCrs(pyproj.CRS.from_user_input(text))
    except pyproj.exceptions.CRSError as exc:
        raise DataError(
            f"--source-crs {text!r} is not a known coordinate system; use wgs84, cgcs2000, gcj02 or an "
            "EPSG code such as EPSG:4547"
        ) from exc


def is_lonlat_wgs84(crs: object) -> bool:
    """True if `crs` is geographic lon/lat on WGS84 or CGCS2000 (the systems GCJ-02 files are labelled as)."""
    if crs is None:
        return False
    parsed = pyproj.CRS.from_user_input(crs)
    return any(parsed.equals(known, ignore_axis_order=True) for known in (WGS84, CGCS2000))


def in_china(lon: ArrayLike, lat: ArrayLike) -> NDArray[np.bool_]:
    """Whether each point lies in the box where GCJ-02 applies (`CHINA_BOUNDS_DEG`)."""
    west, south, east, north = CHINA_BOUNDS_DEG
    lon_a, lat_a = np.asarray(lon, dtype=np.float64), np.asarray(lat, dtype=np.float64)
    return (lon_a >= west) & (lon_a <= east) & (lat_a >= south) & (lat_a <= north)


def _gcj02_shift_deg(lon: NDArray[np.float64], lat: NDArray[np.float64]) -> tuple[NDArray, NDArray]:
    """GCJ-02 offset (dlon, dlat) in degrees of WGS84 points, by the published approximation."""
    x, y = lon - 105.0, lat - 35.0
    common = (20.0 * np.sin(6.0 * x * np.pi) + 20.0 * np.sin(2.0 * x * np.pi)) * 2.0 / 3.0
    dlat = (
        -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * np.sqrt(np.abs(x))
        + common
        + (20.0 * np.sin(y * np.pi) + 40.0 * np.sin(y / 3.0 * np.pi)) * 2.0 / 3.0
        + (160.0 * np.sin(y / 12.0 * np.pi) + 320.0 * np.sin(y * np.pi / 30.0)) * 2.0 / 3.0
    )
    dlon = (
        300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * np.sqrt(np.abs(x))
        + common
        + (20.0 * np.sin(x * np.pi) + 40.0 * np.sin(x / 3.0 * np.pi)) * 2.0 / 3.0
        + (150.0 * np.sin(x / 12.0 * np.pi) + 300.0 * np.sin(x / 30.0 * np.pi)) * 2.0 / 3.0
    )
    rad_lat = lat / 180.0 * np.pi
    magic = 1.0 - _GCJ_ECC2 * np.sin(rad_lat) ** 2
    sqrt_magic = np.sqrt(magic)
    dlat = dlat * 180.0 / ((_GCJ_AXIS_M * (1.0 - _GCJ_ECC2)) / (magic * sqrt_magic) * np.pi)
    dlon = dlon * 180.0 / (_GCJ_AXIS_M / sqrt_magic * np.cos(rad_lat) * np.pi)
    inside = in_china(lon, lat)
    return np.where(inside, dlon, 0.0), np.where(inside, dlat, 0.0)


def gcj02_from_wgs84(lon: ArrayLike, lat: ArrayLike) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Forward GCJ-02 transform of WGS84 lon/lat arrays (degrees); points outside China are unchanged."""
    lon_a, lat_a = np.asarray(lon, dtype=np.float64), np.asarray(lat, dtype=np.float64)
    dlon, dlat = _gcj02_shift_deg(lon_a, lat_a)
    return lon_a + dlon, lat_a + dlat


def wgs84_from_gcj02(lon: ArrayLike, lat: ArrayLike) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Inverse GCJ-02 transform: the WGS84 points whose forward transform gives these GCJ-02 lon/lat.

    Fixed-point iteration w <- w - (gcj(w) - g), which contracts fast because the offset changes slowly
    with position; it stops when every residual is below `GCJ02_INVERSE_TOLERANCE_DEG` (2-4 iterations).
    """
    g_lon, g_lat = np.asarray(lon, dtype=np.float64), np.asarray(lat, dtype=np.float64)
    w_lon, w_lat = g_lon.copy(), g_lat.copy()
    for _ in range(_GCJ02_INVERSE_MAX_ITERATIONS):
        f_lon, f_lat = gcj02_from_wgs84(w_lon, w_lat)
        r_lon, r_lat = f_lon - g_lon, f_lat - g_lat
        w_lon, w_lat = w_lon - r_lon, w_lat - r_lat
        if max(np.max(np.abs(r_lon), initial=0.0), np.max(np.abs(r_lat), initial=0.0)) \
                < GCJ02_INVERSE_TOLERANCE_DEG:
            break
    return w_lon, w_lat


def geometries_from_gcj02(geometries: NDArray[np.object_]) -> NDArray[np.object_]:
    """Shapely geometries with every GCJ-02 vertex moved to WGS84 (a new array; the input is unchanged)."""

    def _inverse(xy: NDArray[np.float64]) -> NDArray[np.float64]:
        w_lon, w_lat = wgs84_from_gcj02(xy[:, 0], xy[:, 1])
        return np.column_stack([w_lon, w_lat])

    return shapely.transform(geometries, _inverse)


def coordinate_columns(names: Iterable[str]) -> tuple[str | None, str | None]:
    """The longitude and latitude columns among `names`: the first of LONGITUDE_COLUMNS and of
    LATITUDE_COLUMNS present (compared without case or surrounding spaces), None where none is."""
    by_key: dict[str, str] = {}
    for name in names:
        by_key.setdefault(name.strip().casefold(), name)
    return (next((by_key[key] for key in LONGITUDE_COLUMNS if key in by_key), None),
            next((by_key[key] for key in LATITUDE_COLUMNS if key in by_key), None))


def utm_crs(lon: float, lat: float) -> pyproj.CRS:
    """The WGS84 UTM zone CRS of a point: EPSG:326zz north of the equator, 327zz south of it.

    Zones are the regular 6-degree bands (zone 1 starts at 180 W); the Norway and Svalbard exceptions are not
    applied. A longitude exactly on a zone edge belongs to the zone east of it; 180 E belongs to zone 60.
    """
    if not (math.isfinite(lon) and math.isfinite(lat) and -180.0 <= lon <= 180.0 and -90.0 <= lat <= 90.0):
        raise DataError(
            f"region centre ({lon!r}, {lat!r}) is not a longitude/latitude; check the source CRS of the "
            "township layer (--source-crs)"
        )
    zone = min(math.floor((lon + 180.0) / 6.0) + 1, 60)
    return pyproj.CRS.from_epsg((32600 if lat >= 0.0 else 32700) + zone)


def region_metric_crs(geometries_wgs84: NDArray[np.object_]) -> pyproj.CRS:
    """The metric CRS of a region: the UTM zone of the centroid of its (WGS84) township geometries."""
    centre = shapely.centroid(shapely.union_all(geometries_wgs84))
    if shapely.is_empty(centre):
        raise DataError("townships: the layer has no non-empty geometry, so the region has no centre")
    return utm_crs(float(shapely.get_x(centre)), float(shapely.get_y(centre)))
