"""Travel-time matrices: hand-computed grid, agreement with networkx, direction logic, cache, disconnected roads."""

from __future__ import annotations

import geopandas as gpd
import networkx as nx
import numpy as np
import pytest
from scipy.spatial import Delaunay
from shapely.geometry import LineString, Point

from allocopt import travel
from allocopt.errors import DataError, ScenarioError
from allocopt.network import build_network, snap
from allocopt.travel import TravelMatrix, connectivity, travel_times

CRS = "EPSG:32649"  # UTM zone 49N, metres
KM = 1000.0
ACCESS_KMH = 6.0  # off-road legs at 100 m per minute


def roads_frame(rows: list[tuple]) -> gpd.GeoDataFrame:
    """Roads layer from (geometry, road_class, speed_kmh, oneway) tuples."""
    geometry, road_class, speed_kmh, oneway = zip(*rows, strict=True)
    return gpd.GeoDataFrame(
        {"road_class": list(road_class), "speed_kmh": list(speed_kmh), "oneway": list(oneway)},
        geometry=list(geometry),
        crs=CRS,
    )


def grid_rows() -> list[tuple]:
    """4 x 4 nodes 1 km apart. With county at 60 km/h every road takes 1 min/km, except: street y=1 km is one-way
    eastbound, street y=3 km has its own speed of 30 km/h (2 min/km), avenue x=3 km is a village road
    (20 km/h: 3 min/km)."""
    ticks = [0.0, KM, 2 * KM, 3 * KM]
    rows = []
    for j, y in enumerate(ticks):
        speed = 30.0 if j == 3 else np.nan
        rows.append((LineString([(x, y) for x in ticks]), "county", speed, j == 1))
    for i, x in enumerate(ticks):
        rows.append((LineString([(x, y) for y in ticks]), "village" if i == 3 else "county", np.nan, False))
    return rows


@pytest.fixture
def grid():
    return build_network(roads_frame(grid_rows()), speeds_kmh={"county": 60.0})


# Points near grid nodes (i, j) = (x km, y km) and their off-road legs at 100 m/min.
POINTS = {
    "A": Point(-500, 1000),  # node (0, 1), 5 min
    "B": Point(3300, 1000),  # node (3, 1), 3 min
    "C": Point(3000, -200),  # node (3, 0), 2 min
    "D": Point(3000, 3200),  # node (3, 3), 2 min
}


def points(names: str) -> gpd.GeoSeries:
    return gpd.GeoSeries([POINTS[n] for n in names], crs=CRS)


def matrix(network, origins: str, destinations: str, **options) -> TravelMatrix:
    return travel_times(
        network, points(origins), points(destinations), origin_ids=list(origins), destination_ids=list(destinations),
        access_speed_kmh=ACCESS_KMH, **options,
    )


def test_grid_times_by_hand_in_both_directions_of_the_oneway(grid):
    forward = matrix(grid, "AC", "BD")
    # A->B: 5 + east on the one-way street 3 + 3 = 11.
    # A->D: 5 + (0,1)->(2,1) 2, up x=2 km 2, east on y=3 km 2 (2 min/km) = 6, + 2 = 13.
    # C->B: 2 + up the village avenue 3 (or west 1, up 1, east 1) + 3 = 8.
    # C->D: 2 + west 1, up x=2 km 3, east on y=3 km 2 = 6 (the village avenue would take 9), + 2 = 10.
    np.testing.assert_allclose(forward.minutes, [[11.0, 13.0], [8.0, 10.0]])
    backward = matrix(grid, "BD", "AC")
    # B->A: no westbound lane on y=1 km: 3 + (village 3 down, west 3, up 1 = 7) + 5 = 15.
    # B->C: 3 + village 3 down + 2 = 8.
    # D->A: 2 + (west on y=3 km 2, down 1, west on y=2 km 2, down 1 = 6) + 5 = 13.
    # D->C: 2 + (west on y=3 km 2, down x=2 km 3, east 1 = 6) + 2 = 10.
    np.testing.assert_allclose(backward.minutes, [[15.0, 8.0], [13.0, 10.0]])
    # Three origins, one destination: computed backwards from A on the transposed graph.
    # C->A: 2 + (west on y=0 3, up 1 = 4) + 5 = 11.
    np.testing.assert_allclose(matrix(grid, "BCD", "A").minutes, [[15.0], [11.0], [13.0]])
    assert forward.origin_ids == ("A", "C")
    assert forward.destination_ids == ("B", "D")
    assert forward.unreachable_origins == ()


def test_point_to_itself_pays_both_off_road_legs(grid):
    np.testing.assert_allclose(matrix(grid, "A", "A").minutes, [[10.0]])


def test_cutoff_applies_to_the_whole_trip(grid):
    full = matrix(grid, "ABCD", "ABCD")
    cut = matrix(grid, "ABCD", "ABCD", cutoff_minutes=11.0)
    expected = np.where(full.minutes <= 11.0, full.minutes, np.inf)
    np.testing.assert_array_equal(cut.minutes, expected)
    assert np.isinf(cut.minutes[0, 3])  # A->D takes 13
    assert cut.minutes[0, 1] == pytest.approx(11.0)  # A->B exactly at the cutoff stays


def test_within_and_nearest_minutes(grid):
    m = matrix(grid, "AC", "BD")
    assert m.within(10.0).toarray().tolist() == [[False, False], [True, True]]
    np.testing.assert_allclose(m.nearest_minutes(), [11.0, 8.0])
    assert not m.minutes.flags.writeable


def random_road_network(seed: int, n: int = 300):
    """Delaunay triangulation of random points in a 10 km square: connected, random classes, some one-way."""
    rng = np.random.default_rng(seed)
    xy = rng.uniform(0, 10 * KM, size=(n, 2))
    triangles = Delaunay(xy).simplices
    edges = np.unique(np.sort(np.vstack([triangles[:, [0, 1]], triangles[:, [1, 2]], triangles[:, [0, 2]]]), axis=1),
                      axis=0)
    classes = rng.choice(["national", "county", "village"], size=len(edges))
    oneway = rng.random(len(edges)) < 0.15
    speed = np.where(rng.random(len(edges)) < 0.1, 25.0, np.nan)
    rows = [(LineString(xy[e]), c, s, o) for e, c, s, o in zip(edges, classes, speed, oneway, strict=True)]
    return build_network(roads_frame(rows)), rng


def random_points(rng, n: int, prefix: str) -> tuple[gpd.GeoSeries, list[str]]:
    xy = rng.uniform(-500, 10.5 * KM, size=(n, 2))
    xy[1] = xy[0]  # two points at one place share a snapped node
    return gpd.GeoSeries([Point(p) for p in xy], crs=CRS), [f"{prefix}{i}" for i in range(n)]


@pytest.mark.parametrize("cutoff", [None, 12.0])
def test_matches_networkx_dijkstra_on_a_random_network(cutoff):
    network, rng = random_road_network(seed=7)
    origins, origin_ids = random_points(rng, 40, "o")
    destinations, destination_ids = random_points(rng, 15, "d")
    result = travel_times(
        network, origins, destinations, origin_ids=origin_ids, destination_ids=destination_ids,
        access_speed_kmh=ACCESS_KMH, cutoff_minutes=cutoff,
    )
    graph = network.to_networkx()
    o = snap(network, origins, access_speed_kmh=ACCESS_KMH)
    d = snap(network, destinations, access_speed_kmh=ACCESS_KMH)
    expected = np.full((len(origins), len(destinations)), np.inf)
    for i, source in enumerate(o.node):
        lengths = nx.single_source_dijkstra_path_length(graph, int(source), cutoff=cutoff, weight="minutes")
        for j, target in enumerate(d.node):
            if int(target) in lengths:
                expected[i, j] = o.access_minutes[i] + lengths[int(target)] + d.access_minutes[j]
    if cutoff is not None:
        expected[expected > cutoff] = np.inf
    assert np.isfinite(expected).sum() > 0.2 * expected.size  # the comparison is not vacuous
    np.testing.assert_allclose(result.minutes, expected, rtol=1e-12)


def test_nearest_minutes_match_networkx_multi_source():
    network, rng = random_road_network(seed=11)
    origins, origin_ids = random_points(rng, 30, "o")
    site_nodes = rng.choice(network.n_nodes, size=8, replace=False)
    sites = gpd.GeoSeries([Point(network.node_xy[k]) for k in site_nodes], crs=CRS)  # on the road: no leg
    result = travel_times(
        network, origins, sites, origin_ids=origin_ids, destination_ids=[f"s{k}" for k in site_nodes],
        access_speed_kmh=ACCESS_KMH,
    )
    to_nearest_site = nx.multi_source_dijkstra_path_length(
        network.to_networkx().reverse(copy=False), {int(k) for k in site_nodes}, weight="minutes"
    )
    o = snap(network, origins, access_speed_kmh=ACCESS_KMH)
    expected = [o.access_minutes[i] + to_nearest_site.get(int(n), np.inf) for i, n in enumerate(o.node)]
    np.testing.assert_allclose(result.nearest_minutes(), expected, rtol=1e-12)


def test_both_dijkstra_directions_give_the_same_matrix(monkeypatch):
    network, rng = random_road_network(seed=3, n=200)
    many, many_ids = random_points(rng, 25, "v")
    few, few_ids = random_points(rng, 4, "s")
    sources_run = []

    def counting_dijkstra(graph, **kwargs):
        sources_run.append(len(kwargs["indices"]))
        return real_dijkstra(graph, **kwargs)

    real_dijkstra = travel.dijkstra
    monkeypatch.setattr(travel, "dijkstra", counting_dijkstra)
    options = {"access_speed_kmh": ACCESS_KMH, "cutoff_minutes": 25.0}

    # Fewer destinations: Dijkstra runs backwards from the 3 unique destination nodes (two sites share one).
    whole = travel_times(network, many, few, origin_ids=many_ids, destination_ids=few_ids, **options)
    assert sources_run == [3]
    rows = [
        travel_times(network, many.iloc[[i]], few, origin_ids=[many_ids[i]], destination_ids=few_ids, **options)
        for i in range(len(many))
    ]
    assert sources_run[1:] == [1] * len(many)  # one origin each: forward from it
    np.testing.assert_allclose(whole.minutes, np.vstack([r.minutes for r in rows]), rtol=1e-12)

    sources_run.clear()
    # Fewer origins: forward from the 3 unique origin nodes; single destinations run backwards.
    whole = travel_times(network, few, many, origin_ids=few_ids, destination_ids=many_ids, **options)
    assert sources_run == [3]
    columns = [
        travel_times(network, few, many.iloc[[j]], origin_ids=few_ids, destination_ids=[many_ids[j]], **options)
        for j in range(len(many))
    ]
    np.testing.assert_allclose(whole.minutes, np.hstack([c.minutes for c in columns]), rtol=1e-12)
    assert np.isfinite(whole.minutes).any() and np.isinf(whole.minutes).any()


def test_dijkstra_sources_are_chunked_below_the_memory_bound(grid, monkeypatch):
    monkeypatch.setattr(travel, "CHUNK_BYTES", 8 * grid.n_nodes * 2)  # two sources per chunk
    chunked = matrix(grid, "ABCD", "ABCD")
    monkeypatch.undo()
    np.testing.assert_array_equal(chunked.minutes, matrix(grid, "ABCD", "ABCD").minutes)


def failing_dijkstra(*args, **kwargs):
    raise AssertionError("dijkstra ran although the matrix should come from the cache")


def test_cache_hit_miss_and_corrupt_file(grid, tmp_path, monkeypatch):
    first = matrix(grid, "ABC", "BD", cache_dir=tmp_path / "cache")
    files = list((tmp_path / "cache").glob("*.npz"))
    assert len(files) == 1
    monkeypatch.setattr(travel, "dijkstra", failing_dijkstra)
    hit = matrix(grid, "ABC", "BD", cache_dir=tmp_path / "cache")
    np.testing.assert_array_equal(hit.minutes, first.minutes)
    assert hit.origin_ids == first.origin_ids
    for changed in ({"cutoff_minutes": 12.0}, {"access_speed_kmh": 5.0}):
        with pytest.raises(AssertionError, match="cache"):
            travel_times(
                grid, points("ABC"), points("BD"), origin_ids=list("ABC"), destination_ids=list("BD"),
                **{"access_speed_kmh": ACCESS_KMH, **changed}, cache_dir=tmp_path / "cache",
            )
    with pytest.raises(AssertionError, match="cache"):
        matrix(grid, "ABD", "BD", cache_dir=tmp_path / "cache")
    with pytest.raises(AssertionError, match="cache"):
        travel_times(
            grid, points("ABC"), points("BD"), origin_ids=["a", "b", "c"], destination_ids=list("BD"),
            access_speed_kmh=ACCESS_KMH, cache_dir=tmp_path / "cache",
        )

    monkeypatch.undo()
    files[0].write_bytes(b"not a zip archive")
    recovered = matrix(grid, "ABC", "BD", cache_dir=tmp_path / "cache")
    np.testing.assert_array_equal(recovered.minutes, first.minutes)
    monkeypatch.setattr(travel, "dijkstra", failing_dijkstra)
    np.testing.assert_array_equal(matrix(grid, "ABC", "BD", cache_dir=tmp_path / "cache").minutes, first.minutes)
    assert [p.name for p in (tmp_path / "cache").iterdir()] == [files[0].name]  # no temporary files left


def test_village_on_an_isolated_road_is_reported_not_dropped():
    rows = [*grid_rows(), (LineString([(20 * KM, 20 * KM), (21 * KM, 20 * KM)]), "village", np.nan, False)]
    network = build_network(roads_frame(rows), speeds_kmh={"county": 60.0})
    villages = gpd.GeoSeries([POINTS["A"], Point(20 * KM, 20.1 * KM), POINTS["C"]], crs=CRS)
    result = travel_times(
        network, villages, points("BD"), origin_ids=["A", "E", "C"], destination_ids=["B", "D"],
        access_speed_kmh=ACCESS_KMH,
    )
    assert result.origin_ids == ("A", "E", "C")
    assert result.unreachable_origins == ("E",)
    assert np.isinf(result.minutes[1]).all()
    np.testing.assert_allclose(result.minutes[[0, 2]], [[11.0, 13.0], [8.0, 10.0]])
    np.testing.assert_array_equal(result.nearest_minutes(), [11.0, np.inf, 8.0])

    report = connectivity(network, villages, ids=["A", "E", "C"])
    assert (report.n_nodes, report.n_components, report.largest_component_nodes) == (18, 2, 16)
    assert report.outside_largest_ids == ("E",)


def test_empty_sides_give_empty_matrices(grid):
    no_sites = matrix(grid, "AB", "")
    assert no_sites.minutes.shape == (2, 0)
    assert no_sites.unreachable_origins == ("A", "B")
    assert matrix(grid, "", "AB").minutes.shape == (0, 2)


def test_bad_ids_and_cutoff_raise(grid):
    with pytest.raises(DataError, match="'A' appears more than once"):
        travel_times(grid, points("AB"), points("C"), origin_ids=["A", "A"], destination_ids=["C"],
                     access_speed_kmh=ACCESS_KMH)
    with pytest.raises(DataError, match="1 IDs for 2 points"):
        travel_times(grid, points("AB"), points("C"), origin_ids=["A"], destination_ids=["C"],
                     access_speed_kmh=ACCESS_KMH)
    with pytest.raises(ScenarioError, match="cutoff_minutes"):
        matrix(grid, "A", "B", cutoff_minutes=-1.0)
