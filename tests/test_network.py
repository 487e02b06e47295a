"""Road network construction (nodes, edges, speeds, one-way, parallel edges, CRS) and snapping."""

from __future__ import annotations

import itertools
import math

import geopandas as gpd
import numpy as np
import pytest
from shapely.geometry import LineString, MultiLineString, Point, Polygon

from allocopt.errors import DataError, NetworkError
from allocopt.network import DEFAULT_SPEEDS_KMH, build_network, nearest_nodes, snap
from allocopt.schema import ROAD_CLASSES

CRS = "EPSG:32649"  # UTM zone 49N, metres


def roads_frame(rows: list[tuple], crs: str | None = CRS) -> gpd.GeoDataFrame:
    """Roads layer from (geometry, road_class, speed_kmh, oneway) tuples."""
    geometry, road_class, speed_kmh, oneway = zip(*rows, strict=True) if rows else ((), (), (), ())
    return gpd.GeoDataFrame(
        {"road_class": list(road_class), "speed_kmh": list(speed_kmh), "oneway": list(oneway)},
        geometry=list(geometry),
        crs=crs,
    )


def node_at(network, x: float, y: float) -> int:
    """Index of the node at (x, y); fails when there is none."""
    hits = np.flatnonzero(np.all(np.isclose(network.node_xy, [x, y], atol=1e-6), axis=1))
    assert len(hits) == 1, f"no single node at ({x}, {y})"
    return int(hits[0])


def edge_minutes(network, a: int, b: int) -> float:
    """Minutes of the edge a -> b, or nan when there is no such edge."""
    row = network.minutes_csr.getrow(a)
    found = np.flatnonzero(row.indices == b)
    return float(row.data[found[0]]) if len(found) else math.nan


def test_default_speeds_cover_every_road_class_and_fall_with_class():
    assert tuple(DEFAULT_SPEEDS_KMH) == ROAD_CLASSES
    speeds = [DEFAULT_SPEEDS_KMH[c] for c in ROAD_CLASSES]
    assert speeds == sorted(speeds, reverse=True)


def test_shape_vertices_are_not_nodes_and_length_follows_the_line():
    # A 3-4-5 bend: 500 m + 500 m along the line, endpoints 600 m apart.
    net = build_network(roads_frame([(LineString([(0, 0), (300, 400), (600, 0)]), "county", np.nan, False)]))
    assert net.n_nodes == 2
    assert net.n_edges == 2
    a, b = node_at(net, 0, 0), node_at(net, 600, 0)
    assert edge_minutes(net, a, b) == pytest.approx(1.0 / 40.0 * 60.0)
    assert edge_minutes(net, b, a) == pytest.approx(1.5)
    np.testing.assert_allclose(net.edge_length_m, [1000.0, 1000.0])


def test_shared_interior_vertex_joins_lines_but_a_plain_crossing_does_not():
    joined = build_network(
        roads_frame(
            [
                (LineString([(0, 0), (1000, 0), (2000, 0)]), "county", np.nan, False),
                (LineString([(1000, -1000), (1000, 0), (1000, 1000)]), "county", np.nan, False),
            ]
        )
    )
    assert joined.n_nodes == 5
    assert joined.n_edges == 8
    assert len(np.unique(joined.component)) == 1
    crossing = build_network(
        roads_frame(
            [
                (LineString([(0, 0), (2000, 0)]), "county", np.nan, False),
                (LineString([(1000, -1000), (1000, 1000)]), "county", np.nan, False),
            ]
        )
    )
    assert crossing.n_nodes == 4
    assert len(np.unique(crossing.component)) == 2


def test_vertices_within_a_centimetre_merge_into_one_node():
    net = build_network(
        roads_frame(
            [
                (LineString([(0, 0), (1000.002, 0)]), "county", np.nan, False),
                (LineString([(999.998, 0.003), (2000, 0)]), "county", np.nan, False),
            ]
        )
    )
    assert net.n_nodes == 3
    assert len(np.unique(net.component)) == 1


def test_multilinestring_parts_are_not_joined_across_the_gap():
    line = MultiLineString([[(0, 0), (1000, 0)], [(5000, 0), (6000, 0)]])
    net = build_network(roads_frame([(line, "village", np.nan, False)]))
    assert net.n_nodes == 4
    assert net.n_edges == 4
    assert len(np.unique(net.component)) == 2
    np.testing.assert_allclose(net.edge_length_m, 1000.0)


def test_oneway_runs_only_in_drawing_direction():
    net = build_network(roads_frame([(LineString([(0, 0), (1000, 0), (3000, 0)]), "national", np.nan, True)]))
    a, c = node_at(net, 0, 0), node_at(net, 3000, 0)
    assert net.n_nodes == 2  # (1000, 0) is a shape vertex only
    assert edge_minutes(net, a, c) == pytest.approx(3.0)  # 3 km at 60 km/h
    assert math.isnan(edge_minutes(net, c, a))


def test_speed_column_overrides_and_class_speeds():
    rows = [
        (LineString([(0, 0), (1000, 0)]), "county", np.nan, False),  # class default, overridden below
        (LineString([(1000, 0), (2000, 0)]), "county", 30.0, False),  # own speed wins
        (LineString([(2000, 0), (3000, 0)]), "township", np.nan, False),  # class default 30
    ]
    net = build_network(roads_frame(rows), speeds_kmh={"county": 60.0})
    x = [node_at(net, 1000 * i, 0) for i in range(4)]
    assert edge_minutes(net, x[0], x[1]) == pytest.approx(1.0)
    assert edge_minutes(net, x[1], x[2]) == pytest.approx(2.0)
    assert edge_minutes(net, x[2], x[3]) == pytest.approx(60.0 / DEFAULT_SPEEDS_KMH["township"])


def test_parallel_edges_keep_the_fastest():
    rows = [
        (LineString([(0, 0), (1000, 0)]), "village", np.nan, False),  # 1000 m at 20 km/h: 3 min
        (LineString([(0, 0), (500, 500), (1000, 0)]), "expressway", np.nan, False),  # 1414 m at 80: 1.06 min
    ]
    net = build_network(roads_frame(rows))
    a, b = node_at(net, 0, 0), node_at(net, 1000, 0)
    detour_m = 1000.0 * math.sqrt(2.0)
    assert net.n_edges == 2
    assert edge_minutes(net, a, b) == pytest.approx(detour_m / 1000.0 / 80.0 * 60.0)
    assert edge_minutes(net, b, a) == pytest.approx(detour_m / 1000.0 / 80.0 * 60.0)
    np.testing.assert_allclose(net.edge_length_m, detour_m)
    assert list(net.edge_road_class) == ["expressway", "expressway"]


def test_to_networkx_carries_coordinates_and_edge_attributes():
    rows = [
        (LineString([(0, 0), (1000, 0)]), "national", np.nan, True),
        (LineString([(1000, 0), (1000, 2000)]), "village", np.nan, False),
    ]
    net = build_network(roads_frame(rows))
    graph = net.to_networkx()
    a, b, c = node_at(net, 0, 0), node_at(net, 1000, 0), node_at(net, 1000, 2000)
    assert graph.number_of_nodes() == 3
    assert graph.number_of_edges() == 3
    assert (graph.nodes[c]["x"], graph.nodes[c]["y"]) == (1000.0, 2000.0)
    assert not graph.has_edge(b, a)
    assert graph.edges[a, b]["length_m"] == pytest.approx(1000.0)
    assert graph.edges[a, b]["minutes"] == pytest.approx(1.0)
    assert graph.edges[c, b] == pytest.approx({"length_m": 2000.0, "minutes": 6.0, "road_class": "village"})


@pytest.mark.parametrize(
    ("crs", "message"),
    [("EPSG:4326", "'WGS 84'.*not a projected CRS in metres"), ("EPSG:4490", "'China Geodetic"), (None, "no CRS")],
)
def test_geographic_or_missing_crs_raises_data_error(crs, message):
    roads = roads_frame([(LineString([(110.0, 30.0), (110.1, 30.0)]), "county", np.nan, False)], crs=crs)
    with pytest.raises(DataError, match=message):
        build_network(roads)


def test_empty_roads_raise_network_error():
    with pytest.raises(NetworkError, match="empty"):
        build_network(roads_frame([]))
    with pytest.raises(NetworkError, match="empty"):
        build_network(roads_frame([(LineString(), "county", np.nan, False)]))


@pytest.mark.parametrize(
    ("speed_kmh", "overrides", "message"),
    [
        (0.0, None, "speed_kmh 0.0"),
        (-5.0, None, "speed_kmh -5.0"),
        (np.nan, {"county": 0.0}, "county = 0.0"),
        (np.nan, {"motorway": 90.0}, "'motorway' is not a road class"),
    ],
)
def test_invalid_speeds_raise_data_error(speed_kmh, overrides, message):
    roads = roads_frame([(LineString([(0, 0), (1000, 0)]), "county", speed_kmh, False)])
    with pytest.raises(DataError, match=message):
        build_network(roads, speeds_kmh=overrides)


def test_roads_are_not_modified():
    roads = roads_frame([(LineString([(0, 0), (1000, 0)]), "county", np.nan, True)])
    before = roads.copy()
    build_network(roads, speeds_kmh={"county": 50.0})
    assert roads.equals(before)


def test_snap_finds_nearest_node_and_off_road_leg():
    net = build_network(roads_frame([(LineString([(0, 0), (1000, 0), (2000, 0)]), "county", np.nan, False)]))
    points = gpd.GeoSeries([Point(900, 300), Point(-400, 300), Point(2000, 0)], crs=CRS)
    snapped = snap(net, points, access_speed_kmh=5.0)
    # (1000, 0) is a shape vertex only, so (900, 300) snaps to an endpoint: (0, 0) is 948.7 m, (2000, 0) 1140 m.
    assert list(snapped.node) == [node_at(net, 0, 0), node_at(net, 0, 0), node_at(net, 2000, 0)]
    np.testing.assert_allclose(snapped.access_m, [math.hypot(900, 300), 500.0, 0.0])
    np.testing.assert_allclose(snapped.access_minutes, snapped.access_m / 1000.0 / 5.0 * 60.0)


def one_way_spurs_and_islands() -> gpd.GeoDataFrame:
    """A two-way square (0,0)-(1000,1000) with a one-way street out of it to a dead end at (1600, 1000), a
    one-way street into it from (-600, 0), a two-way island far east and a one-way-only fragment far north."""
    corners = [(0, 0), (1000, 0), (1000, 1000), (0, 1000), (0, 0)]
    square = [(LineString([a, b]), "village", np.nan, False) for a, b in itertools.pairwise(corners)]
    return roads_frame(
        [
            *square,
            (LineString([(1000, 1000), (1600, 1000)]), "village", np.nan, True),  # out, no way back
            (LineString([(-600, 0), (0, 0)]), "village", np.nan, True),  # in, no way back to its start
            (LineString([(9000, 0), (9500, 0)]), "village", np.nan, False),  # two-way island
            (LineString([(0, 9000), (500, 9000)]), "village", np.nan, True),  # one-way only
            (LineString([(500, 9000), (900, 9300)]), "village", np.nan, True),
        ]
    )


def test_core_nodes_are_the_largest_two_way_part_of_each_component():
    net = build_network(one_way_spurs_and_islands())
    core = {tuple(xy) for xy in net.node_xy[net.core].tolist()}
    square = {(0.0, 0.0), (1000.0, 0.0), (1000.0, 1000.0), (0.0, 1000.0)}
    island = {(9000.0, 0.0), (9500.0, 0.0)}
    one_way_only = {(0.0, 9000.0), (500.0, 9000.0), (900.0, 9300.0)}
    assert core == square | island | one_way_only
    assert len(np.unique(net.component)) == 3


def test_points_snap_past_one_way_dead_ends_to_a_node_with_a_way_out():
    net = build_network(one_way_spurs_and_islands())
    points = gpd.GeoSeries([Point(1600, 1000), Point(-600, 10), Point(9400, 0), Point(480, 9000)], crs=CRS)
    snapped = snap(net, points, access_speed_kmh=5.0)
    expected = [(1000, 1000), (0, 0), (9500, 0), (500, 9000)]
    assert list(snapped.node) == [node_at(net, x, y) for x, y in expected]
    np.testing.assert_allclose(snapped.access_m, [600.0, math.hypot(600, 10), 100.0, 20.0])


def test_snap_rejects_points_in_another_crs():
    net = build_network(roads_frame([(LineString([(0, 0), (1000, 0)]), "county", np.nan, False)]))
    with pytest.raises(DataError, match="WGS 84"):
        snap(net, gpd.GeoSeries([Point(110.0, 30.0)], crs="EPSG:4326"), access_speed_kmh=5.0)
    with pytest.raises(DataError, match="no CRS"):
        nearest_nodes(net, gpd.GeoSeries([Point(0, 0)]))


def test_snap_rejects_bad_geometry_and_speed():
    net = build_network(roads_frame([(LineString([(0, 0), (1000, 0)]), "county", np.nan, False)]))
    triangle = Polygon([(0, 0), (1, 0), (1, 1)])
    with pytest.raises(DataError, match="row 'v2'"):
        snap(net, gpd.GeoSeries([Point(0, 0), triangle], index=["v1", "v2"], crs=CRS), access_speed_kmh=5.0)
    with pytest.raises(DataError, match="access_speed_kmh"):
        snap(net, gpd.GeoSeries([Point(0, 0)], crs=CRS), access_speed_kmh=0.0)
