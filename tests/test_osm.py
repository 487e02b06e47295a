"""Roads from OSM: maxspeed parsing, highway -> road_class mapping, access and one-way rules, a real extract."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pyogrio
import pytest
import shapely

from allocopt import osm
from allocopt.errors import DataError
from allocopt.schema import ROAD_CLASSES

osmium = pytest.importorskip("osmium")

HELSINKI = Path(__file__).parent / "data" / "build" / "Helsinki.osm.pbf"


def write_pbf(path: Path, nodes: dict[int, tuple[float, float]], ways: list[tuple[int, list[int], dict]]) -> Path:
    """A small .osm.pbf with the given nodes (id -> lon, lat) and ways (id, node ids, tags)."""
    writer = osmium.SimpleWriter(str(path))
    for node_id, location in sorted(nodes.items()):
        writer.add_node(osmium.osm.mutable.Node(id=node_id, location=location))
    for way_id, refs, tags in ways:
        writer.add_way(osmium.osm.mutable.Way(id=way_id, nodes=refs, tags=tags))
    writer.close()
    return path


@pytest.mark.parametrize(
    ("value", "kmh"),
    [
        ("50", 50.0), ("50 km/h", 50.0), ("50km/h", 50.0), ("80 kmh", 80.0), ("30 mph", 30 * 1.609344),
        ("20 knots", 20 * 1.852), ("50;70", 50.0), ("7.5", 7.5), (" 60 ", 60.0),
        ("none", math.nan), ("signals", math.nan), ("walk", math.nan), ("CN:urban", math.nan), ("", math.nan),
        ("0", math.nan), (None, math.nan),
    ],
)
def test_parse_maxspeed(value, kmh):
    parsed = osm.parse_maxspeed_kmh(value)
    assert (math.isnan(parsed) and math.isnan(kmh)) or parsed == pytest.approx(kmh)


@pytest.mark.parametrize(
    ("highway", "road_class"),
    [
        ("motorway", "expressway"), ("motorway_link", "expressway"), ("trunk", "national"),
        ("trunk_link", "national"), ("primary", "provincial"), ("primary_link", "provincial"),
        ("secondary", "county"), ("secondary_link", "county"), ("tertiary", "township"),
        ("tertiary_link", "township"), ("unclassified", "village"), ("residential", "village"),
        ("living_street", "village"), ("service", "village"),
    ],
)
def test_drivable_highway_mapping(highway, road_class):
    assert osm.DRIVABLE_HIGHWAYS[highway] == road_class
    assert osm.is_drivable({"highway": highway})


def test_mapping_covers_exactly_the_drivable_values_and_known_classes():
    assert len(osm.DRIVABLE_HIGHWAYS) == 14
    assert set(osm.DRIVABLE_HIGHWAYS.values()) == set(ROAD_CLASSES)


@pytest.mark.parametrize(
    "tags",
    [
        {"highway": "footway"}, {"highway": "cycleway"}, {"highway": "track"}, {"highway": "construction"},
        {"highway": "residential", "access": "private"}, {"highway": "service", "motor_vehicle": "no"},
        {"highway": "residential", "motorcar": "no"}, {"highway": "service", "vehicle": "private"},
        {"highway": "pedestrian", "area": "yes"}, {"highway": "residential", "area": "yes"}, {},
    ],
)
def test_not_drivable(tags):
    assert not osm.is_drivable(tags)


def test_destination_access_is_drivable():
    assert osm.is_drivable({"highway": "residential", "access": "destination"})


@pytest.mark.parametrize(
    ("tags", "direction"),
    [
        ({"highway": "primary", "oneway": "yes"}, 1), ({"highway": "primary", "oneway": "true"}, 1),
        ({"highway": "primary", "oneway": "1"}, 1), ({"highway": "primary", "oneway": "-1"}, -1),
        ({"highway": "primary", "oneway": "reverse"}, -1), ({"highway": "primary"}, 0),
        ({"highway": "primary", "oneway": "no"}, 0), ({"highway": "motorway"}, 1),
        ({"highway": "motorway", "oneway": "no"}, 0), ({"highway": "tertiary", "junction": "roundabout"}, 1),
        ({"highway": "primary", "oneway": "reversible"}, 0),
    ],
)
def test_oneway_direction(tags, direction):
    assert osm.oneway_direction(tags) == direction


def test_road_class_words_of_line_layers():
    words = ["县道", "乡道", " 国道 ", "Primary", "village", "高速公路", "村道"]
    values = pd.Series(words, index=[3, 4, 5, 6, 7, 8, 9])
    mapped = osm.map_road_classes(values, source="roads.shp")
    assert mapped.tolist() == ["county", "township", "national", "provincial", "village", "expressway", "village"]
    assert mapped.index.tolist() == values.index.tolist()


def test_unknown_road_class_words_are_named():
    with pytest.raises(DataError, match=r"roads\.shp.*'小路' \(2 rows\)"):
        osm.map_road_classes(pd.Series(["县道", "小路", "小路"]), source="roads.shp")


def test_small_pbf_speeds_oneway_and_filter(tmp_path):
    nodes = {1: (117.0, 31.0), 2: (117.01, 31.0), 3: (117.02, 31.0), 4: (117.02, 31.01)}
    ways = [
        (10, [1, 2], {"highway": "primary", "maxspeed": "30 mph", "oneway": "-1"}),
        (11, [2, 3], {"highway": "residential", "maxspeed": "signals"}),
        (12, [3, 4], {"highway": "footway"}),
        (13, [2, 4], {"highway": "service", "access": "private"}),
        (14, [3, 9, 4], {"highway": "tertiary"}),  # node 9 is missing: the way is cut to 3-... and dropped
        (15, [1, 3], {"highway": "motorway"}),
    ]
    read = osm.read_osm_roads(write_pbf(tmp_path / "small.osm.pbf", nodes, ways))
    roads = read.roads.set_index("osm_id")
    assert sorted(roads.index) == [10, 11, 15]
    assert read.roads.crs.to_epsg() == 4326
    assert roads.loc[10, "road_class"] == "provincial"
    assert roads.loc[10, "speed_kmh"] == pytest.approx(48.28032)
    assert roads.loc[10, "oneway"]
    assert shapely.get_coordinates(roads.loc[10, "geometry"]).tolist() == [[117.01, 31.0], [117.0, 31.0]]
    assert math.isnan(roads.loc[11, "speed_kmh"]) and not roads.loc[11, "oneway"]
    assert roads.loc[15, "oneway"] and roads.loc[15, "road_class"] == "expressway"
    assert read.unparsed_maxspeed == {"signals": 1}
    assert (read.ways_read, read.ways_with_maxspeed, read.ways_without_geometry) == (4, 2, 1)


def test_way_cut_at_extract_edge_keeps_located_runs(tmp_path):
    nodes = {1: (117.0, 31.0), 2: (117.01, 31.0), 4: (117.03, 31.0), 5: (117.04, 31.0)}
    path = write_pbf(tmp_path / "cut.osm.pbf", nodes, [(20, [1, 2, 3, 4, 5], {"highway": "tertiary"})])
    read = osm.read_osm_roads(path)
    assert read.ways_cut_at_edge == 1
    assert [shapely.get_coordinates(g).tolist() for g in read.roads.geometry] == [
        [[117.0, 31.0], [117.01, 31.0]], [[117.03, 31.0], [117.04, 31.0]]
    ]


def test_pbf_without_drivable_roads_raises(tmp_path):
    nodes = {1: (117.0, 31.0), 2: (117.01, 31.0)}
    path = write_pbf(tmp_path / "paths.osm.pbf", nodes, [(1, [1, 2], {"highway": "footway"}),
                                                         (2, [2, 1], {"waterway": "river"})])
    with pytest.raises(DataError, match="no drivable road"):
        osm.read_osm_roads(path)


def test_unreadable_file_raises(tmp_path):
    path = tmp_path / "broken.osm.pbf"
    path.write_bytes(b"not a protobuf file at all")
    with pytest.raises(DataError, match=r"broken\.osm\.pbf"):
        osm.read_osm_roads(path)


def test_helsinki_extract_matches_gdal_reader():
    read = osm.read_osm_roads(HELSINKI)
    roads = read.roads
    # An independent reader (GDAL's OSM driver) finds the same drivable ways.
    lines = pyogrio.read_dataframe(HELSINKI, layer="lines")
    lines = lines[lines["highway"].isin(list(osm.DRIVABLE_HIGHWAYS))]
    tags = lines["other_tags"].fillna("")
    closed = tags.str.contains(r'"(?:access|vehicle|motor_vehicle|motorcar)"=>"(?:no|private)"')
    closed |= tags.str.contains('"area"=>"yes"', regex=False)
    assert set(roads["osm_id"]) == set(lines.loc[~closed, "osm_id"].astype(int))
    # pyrosm's drive network of this file (no highway=service) has 725 ways, 724 with maxspeed.
    drive = roads[roads["highway"] != "service"]
    assert len(drive) == 725
    assert drive["speed_kmh"].notna().sum() == 724
    assert roads["speed_kmh"].dropna().between(5, 130).all()
    assert set(roads["road_class"]) <= set(ROAD_CLASSES)
    bounds = roads.total_bounds
    assert np.all(bounds[:2] > [24.9, 60.1]) and np.all(bounds[2:] < [25.0, 60.2])
