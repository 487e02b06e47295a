"""GCJ-02 forward and inverse transforms, source-CRS parsing and the choice of the region's UTM zone."""

from __future__ import annotations

import numpy as np
import pyproj
import pytest
import shapely
from shapely.geometry import Polygon, box

from allocopt import coords
from allocopt.errors import DataError

GEOD = pyproj.Geod(ellps="WGS84")


def test_forward_matches_published_reference_pair():
    # Reference values reproduced by the public coordtransform implementations for Beijing (116.404, 39.915).
    lon, lat = coords.gcj02_from_wgs84(116.404, 39.915)
    assert lon == pytest.approx(116.41024449916938, abs=1e-9)
    assert lat == pytest.approx(39.91640428150164, abs=1e-9)
    _, _, shift_m = GEOD.inv(116.404, 39.915, float(lon), float(lat))
    assert 300 < shift_m < 800  # the GCJ-02 offset is hundreds of metres


def test_inverse_recovers_reference_point():
    lon, lat = coords.wgs84_from_gcj02(116.41024449916938, 39.91640428150164)
    assert lon == pytest.approx(116.404, abs=1e-8)
    assert lat == pytest.approx(39.915, abs=1e-8)


def test_round_trip_over_china_within_a_millionth_of_a_degree():
    rng = np.random.default_rng(7)
    lon, lat = rng.uniform(75, 135, 2000), rng.uniform(18, 53, 2000)
    back_lon, back_lat = coords.wgs84_from_gcj02(*coords.gcj02_from_wgs84(lon, lat))
    assert np.max(np.abs(back_lon - lon)) < 1e-6
    assert np.max(np.abs(back_lat - lat)) < 1e-6
    shift_lon, shift_lat = coords.gcj02_from_wgs84(lon, lat)
    assert np.all(np.hypot(shift_lon - lon, shift_lat - lat) > 1e-4)  # every point inside is really moved


@pytest.mark.parametrize(("lon", "lat"), [(24.94, 60.17), (151.2, -33.9), (-87.6, 41.9), (139.9, 35.7)])
def test_points_outside_china_are_unchanged(lon, lat):
    assert coords.gcj02_from_wgs84(lon, lat) == (lon, lat)
    assert coords.wgs84_from_gcj02(lon, lat) == (lon, lat)


def test_geometries_from_gcj02_moves_every_vertex_and_keeps_input():
    wgs = box(117.0, 31.0, 117.1, 31.1)
    gcj_xy = np.column_stack(coords.gcj02_from_wgs84(*shapely.get_coordinates(wgs).T))
    gcj = np.array([Polygon(gcj_xy)], dtype=object)
    back = coords.geometries_from_gcj02(gcj)
    assert np.allclose(shapely.get_coordinates(back[0]), shapely.get_coordinates(wgs), atol=1e-8)
    assert np.allclose(shapely.get_coordinates(gcj[0]), gcj_xy)


@pytest.mark.parametrize(
    ("lon", "lat", "epsg"),
    [
        (117.0, 31.0, 32650),  # eastern China, north
        (98.85, 25.85, 32647),  # Lushui, Yunnan
        (-70.6, -33.4, 32719),  # Santiago, south
        (0.0, 0.0, 32631),  # equator belongs to the north; 0 E starts zone 31
        (0.0, -1e-9, 32731),
        (5.999999, 50.0, 32631),  # just west of the 6 E zone edge
        (6.0, 50.0, 32632),  # on the edge: the zone east of it
        (-180.0, 10.0, 32601),
        (180.0, 10.0, 32660),
    ],
)
def test_utm_zone_choice(lon, lat, epsg):
    assert coords.utm_crs(lon, lat) == pyproj.CRS.from_epsg(epsg)


@pytest.mark.parametrize(("lon", "lat"), [(181.0, 0.0), (0.0, 95.0), (float("nan"), 0.0), (500000.0, 3400000.0)])
def test_utm_zone_rejects_non_degrees(lon, lat):
    with pytest.raises(DataError, match="source CRS"):
        coords.utm_crs(lon, lat)


def test_region_metric_crs_uses_centroid_of_all_townships():
    # Two townships on either side of the 120 E zone edge; the larger one, east, holds the centroid.
    west, east = box(119.9, 30.0, 120.0, 30.1), box(120.0, 30.0, 120.5, 30.1)
    assert coords.region_metric_crs(np.array([west, east])) == pyproj.CRS.from_epsg(32651)
    assert coords.region_metric_crs(np.array([west])) == pyproj.CRS.from_epsg(32650)


@pytest.mark.parametrize(
    ("text", "gcj02", "epsg"),
    [("wgs84", False, 4326), ("WGS-84", False, 4326), ("cgcs2000", False, 4326), ("EPSG:4490", False, 4326),
     ("gcj02", True, 4326), ("GCJ-02", True, 4326), ("EPSG:4547", False, 4547)],
)
def test_parse_source_crs(text, gcj02, epsg):
    parsed = coords.parse_source_crs(text)
    assert parsed.gcj02 is gcj02
    assert parsed.crs.to_epsg() == epsg


def test_parse_source_crs_rejects_unknown_names():
    with pytest.raises(DataError, match="gcj02"):
        coords.parse_source_crs("baidu-mercator")


def test_lonlat_labels_recognised():
    assert coords.is_lonlat_wgs84("EPSG:4326")
    assert coords.is_lonlat_wgs84("EPSG:4490")
    assert not coords.is_lonlat_wgs84("EPSG:32650")
    assert not coords.is_lonlat_wgs84(None)
