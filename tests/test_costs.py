"""Cost-matrix readers: long, wide and OR-Library files, weights and capacities, and the errors they raise."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from allocopt.costs import (
    CostMatrix,
    capacities_array,
    read_capacities,
    read_costs,
    read_costs_long,
    read_costs_wide,
    read_loads,
    read_lorena,
    read_orlib_pmedian,
    read_points,
    read_weights,
    weights_array,
)
from allocopt.errors import DataError

DATA = Path(__file__).resolve().parent / "data"
BENCHMARKS = Path(__file__).resolve().parents[2] / "shared" / "benchmarks"
SF_DISTANCES = DATA / "sf" / "SF_network_distance_candidateStore_16_censusTract_205_new.csv"
SF_DEMAND = DATA / "sf" / "SF_demand_205_centroid_uniform_weight.csv"


def write(tmp_path: Path, name: str, text: str | bytes) -> Path:
    """Write a test file and return its path."""
    path = tmp_path / name
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


# ---------------------------------------------------------------- long CSV


def test_long_csv_fills_missing_pairs_with_inf(tmp_path: Path) -> None:
    path = write(tmp_path, "c.csv", "demand,site,cost\na,s1,1.5\na,s2,2\nb,s2,0\n")
    matrix = read_costs_long(path)
    assert matrix.demand_ids == ("a", "b")
    assert matrix.site_ids == ("s1", "s2")
    np.testing.assert_array_equal(matrix.costs, [[1.5, 2.0], [math.inf, 0.0]])


def test_long_csv_with_configured_header_names_reads_sf() -> None:
    matrix = read_costs_long(SF_DISTANCES, demand_column="DestinationName", site_column="name", cost_column="distance")
    assert matrix.costs.shape == (205, 16)
    assert np.isfinite(matrix.costs).all()
    # first data row of the file: 671.5733459664615,Store_1,060750479.01
    i = matrix.demand_ids.index("060750479.01")
    j = matrix.site_ids.index("Store_1")
    assert matrix.costs[i, j] == 671.5733459664615


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("demand,site\na,s1\n", r"c\.csv, line 1: missing column\(s\) cost; found demand, site"),
        ("demand,site,cost\na,s1,1\na,s2,abc\n", r"line 3, field cost: 'abc' is not a number"),
        ("demand,site,cost\na,s1,-1\n", r"line 2, field cost: '-1' is not a finite non-negative"),
        ("demand,site,cost\na,s1,1\na,s2,nan\n", r"line 3, field cost: 'nan'"),
        ("demand,site,cost\na,s1,inf\n", r"line 2, field cost: 'inf'"),
        ("demand,site,cost\na,s1,1\nb,s1,2\na,s1,3\n", r"line 4: duplicate pair .*first given on line 2"),
        ("demand,site,cost\n,s1,1\n", r"line 2, field demand: empty id"),
        ("", r"c\.csv: the file is empty"),
        ("demand,site,cost\n", r"no cost rows below the header"),
    ],
)
def test_long_csv_errors_name_file_line_and_field(tmp_path: Path, text: str, expected: str) -> None:
    path = write(tmp_path, "c.csv", text)
    with pytest.raises(DataError, match=expected):
        read_costs_long(path)


def test_non_utf8_file_names_the_line(tmp_path: Path) -> None:
    path = write(tmp_path, "c.csv", "demand,site,cost\na,s1,1\nb\xe9,s1,2\n".encode("latin-1"))
    with pytest.raises(DataError, match=r"c\.csv, line 3: the file is not UTF-8"):
        read_costs_long(path)


def test_missing_file_is_a_data_error(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="file not found"):
        read_costs_long(tmp_path / "absent.csv")


def test_utf8_bom_and_blank_lines_are_accepted(tmp_path: Path) -> None:
    path = write(tmp_path, "c.csv", "\ufeffdemand,site,cost\n\na,s1,4\n")
    assert read_costs_long(path).costs.tolist() == [[4.0]]


def test_line_numbers_count_quoted_newlines(tmp_path: Path) -> None:
    path = write(tmp_path, "c.csv", 'demand,site,cost\n"a\nb",s1,1\nc,s1,x\n')
    with pytest.raises(DataError, match=r"line 4, field cost"):
        read_costs_long(path)


# ---------------------------------------------------------------- wide CSV


def test_wide_csv_empty_cell_means_no_service(tmp_path: Path) -> None:
    path = write(tmp_path, "w.csv", "id,s1,s2\na,1,\nb,3,4\n")
    matrix = read_costs_wide(path)
    assert matrix.demand_ids == ("a", "b")
    assert matrix.site_ids == ("s1", "s2")
    np.testing.assert_array_equal(matrix.costs, [[1.0, math.inf], [3.0, 4.0]])


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("id,s1,s2\na,1,x\n", r"line 2, field s2: 'x' is not a number"),
        ("id,s1,s1\na,1,2\n", r"line 1: site column 's1' appears twice"),
        ("id,s1\na,1\na,2\n", r"line 3: demand 'a' repeats line 2"),
        ("id,s1\na,1,2\n", r"line 2: 3 fields, the header has 2"),
        ("id\na\n", r"line 1: no site columns"),
    ],
)
def test_wide_csv_errors(tmp_path: Path, text: str, expected: str) -> None:
    with pytest.raises(DataError, match=expected):
        read_costs_wide(write(tmp_path, "w.csv", text))


def test_wide_and_long_agree(tmp_path: Path) -> None:
    long = read_costs_long(write(tmp_path, "l.csv", "demand,site,cost\na,s1,1\nb,s1,3\nb,s2,4\n"))
    wide = read_costs_wide(write(tmp_path, "w.csv", "demand,s1,s2\na,1,\nb,3,4\n"))
    assert (long.demand_ids, long.site_ids) == (wide.demand_ids, wide.site_ids)
    np.testing.assert_array_equal(long.costs, wide.costs)


# ---------------------------------------------------------------- OR-Library

# 1-2 (3), 2-3 (4), 1-3 (2, then 10: the last line counts), 3-4 (1), 4-5 (0), a self-loop on 2.
# Shortest paths by hand: d(1,3) = min(10, 3 + 4) = 7; d(1,4) = 8; d(2,4) = 5; d(3,5) = 1; d(4,5) = 0.
TINY_ORLIB = " 5 7 2\n 1 2 3\n 2 3 4\n 1 3 2\n 3 4 1\n 4 5 0\n 1 3 10\n 2 2 9\n"
TINY_DISTANCES = [
    [0, 3, 7, 8, 8],
    [3, 0, 4, 5, 5],
    [7, 4, 0, 1, 1],
    [8, 5, 1, 0, 0],
    [8, 5, 1, 0, 0],
]


def test_orlib_shortest_paths_last_repeated_edge_counts(tmp_path: Path) -> None:
    matrix, p = read_orlib_pmedian(write(tmp_path, "g.txt", TINY_ORLIB))
    assert p == 2
    assert matrix.demand_ids == matrix.site_ids == ("1", "2", "3", "4", "5")
    np.testing.assert_array_equal(matrix.costs, TINY_DISTANCES)


def test_orlib_disconnected_vertices_get_inf(tmp_path: Path) -> None:
    matrix, _ = read_orlib_pmedian(write(tmp_path, "g.txt", "3 1 1\n1 2 5\n"))
    assert matrix.costs[0, 1] == 5
    assert math.isinf(matrix.costs[0, 2]) and math.isinf(matrix.costs[2, 1])
    assert matrix.costs[2, 2] == 0


def test_orlib_pmed1_header_and_symmetry() -> None:
    matrix, p = read_orlib_pmedian(DATA / "orlib" / "pmed1.txt")
    assert (len(matrix.demand_ids), p) == (100, 5)
    assert np.isfinite(matrix.costs).all()
    np.testing.assert_array_equal(matrix.costs, matrix.costs.T)
    assert (np.diag(matrix.costs) == 0).all()
    # pmed1's edge 1-2 has cost 30 and nothing shorter joins them
    assert matrix.costs[0, 1] <= 30


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("3 2 1\n1 2 5\n", r"announces 2 edges, the file has 1 edge lines"),
        ("3 1 1\n1 4 5\n", r"line 2, field j: vertex 4 is outside 1..3"),
        ("3 1 1\n1 2 x\n", r"line 2, field cost: 'x' is not an integer"),
        ("3 1 1\n1 2 -5\n", r"line 2, field cost: negative edge cost"),
        ("3 1 4\n1 2 5\n", r"line 1: need n >= 1, edges >= 0 and 1 <= p <= n"),
        ("3 1\n", r"line 1: expected 3 fields"),
        ("\n\n", r"the file is empty"),
    ],
)
def test_orlib_errors(tmp_path: Path, text: str, expected: str) -> None:
    with pytest.raises(DataError, match=expected):
        read_orlib_pmedian(write(tmp_path, "g.txt", text))


def test_read_costs_dispatches_on_format(tmp_path: Path) -> None:
    matrix, p = read_costs(write(tmp_path, "g.txt", TINY_ORLIB), fmt="orlib")
    assert p == 2 and matrix.costs.shape == (5, 5)
    matrix, p = read_costs(write(tmp_path, "w.csv", "id,s1\na,1\n"), fmt="wide")
    assert p is None and matrix.site_ids == ("s1",)
    with pytest.raises(DataError, match="unknown cost file format 'xlsx'"):
        read_costs(tmp_path / "w.csv", fmt="xlsx")


# ---------------------------------------------------------------- weights and capacities


def test_sf_weights_by_tract_name() -> None:
    matrix = read_costs_long(SF_DISTANCES, demand_column="DestinationName", site_column="name", cost_column="distance")
    weights = read_weights(SF_DEMAND, demand_ids=matrix.demand_ids, id_column="NAME", weight_column="POP2000")
    assert list(weights) == list(matrix.demand_ids)
    assert weights["060816029.00"] == 4135  # the first tract row of the demand file


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("demand,weight\na,1\nb,2\nc,3\n", r"w\.csv, line 4, field demand: demand 'c' is not in the cost matrix"),
        ("demand,weight\na,1\n", r"no weight for 1 demand ids: 'b'"),
        ("demand,weight\na,1\na,2\nb,1\n", r"line 3: demand 'a' repeats line 2"),
        ("demand,weight\na,-1\nb,1\n", r"line 2, field weight: '-1'"),
        ("demand,pop\na,1\nb,1\n", r"line 1: missing column\(s\) weight"),
    ],
)
def test_weights_errors(tmp_path: Path, text: str, expected: str) -> None:
    with pytest.raises(DataError, match=expected):
        read_weights(write(tmp_path, "w.csv", text), demand_ids=("a", "b"))


def test_capacities_read_in_site_order(tmp_path: Path) -> None:
    path = write(tmp_path, "cap.csv", "site,capacity\ns2,5\ns1,7\n")
    assert read_capacities(path, site_ids=("s1", "s2")) == {"s1": 7.0, "s2": 5.0}


def test_value_arrays_follow_id_order_and_check_ids() -> None:
    np.testing.assert_array_equal(weights_array(("a", "b"), None), [1.0, 1.0])
    np.testing.assert_array_equal(weights_array(("a", "b"), {"b": 2, "a": 3}), [3.0, 2.0])
    np.testing.assert_array_equal(capacities_array(("s",), {"s": 4}), [4.0])
    with pytest.raises(DataError, match="not in the cost matrix: 'z'"):
        weights_array(("a",), {"a": 1, "z": 1})
    with pytest.raises(DataError, match="no capacity for site ids: 't'"):
        capacities_array(("s", "t"), {"s": 1})
    with pytest.raises(DataError, match="weight must be a finite number >= 0"):
        weights_array(("a",), {"a": math.nan})


def test_loads_round_trip_apart_from_weights(tmp_path: Path) -> None:
    loads = {"a": 2.5, "b": 0.0, "c": 7.0}
    path = write(tmp_path, "loads.csv", "demand,load\n" + "".join(f"{d},{v!r}\n" for d, v in loads.items()))
    assert read_loads(path, demand_ids=("c", "a", "b")) == loads
    with pytest.raises(DataError, match=r"weights.csv, line 1: missing column\(s\) load; found demand, weight"):
        read_loads(write(tmp_path, "weights.csv", "demand,weight\na,1\n"), demand_ids=("a",))


# ---------------------------------------------------------------- points and Lorena-Senne files


def test_points_round_trip_to_euclidean_costs(tmp_path: Path) -> None:
    rng = np.random.default_rng(5)
    xy = rng.uniform(-50, 50, (6, 2)).tolist()
    xy_array = np.asarray(xy)
    ids = [f"p{k}" for k in range(6)]
    text = "name,y,x\n" + "".join(f"{i},{y!r},{x!r}\n" for i, (x, y) in zip(ids, xy, strict=True))
    path = write(tmp_path, "points.csv", text)
    matrix = read_points(path, id_column="name")
    expected = np.hypot(*(xy_array[:, None, :] - xy_array[None, :, :]).transpose(2, 0, 1))
    assert matrix.demand_ids == matrix.site_ids == tuple(ids)
    np.testing.assert_allclose(matrix.costs, expected, rtol=1e-12, atol=1e-12)
    np.testing.assert_array_equal(read_points(path, id_column="name", truncate=True).costs, np.floor(expected))


def test_points_by_hand_and_truncated(tmp_path: Path) -> None:
    # a 3-4-5 triangle and a unit diagonal: 5 stays 5, sqrt(2) rounds down to 1
    path = write(tmp_path, "p.csv", "id,x,y\na,0,0\nb,3,4\nc,1,1\n")
    assert read_points(path).costs[0, 1] == 5 and read_points(path).costs[0, 2] == pytest.approx(math.sqrt(2))
    assert read_points(path, truncate=True).costs.tolist() == [[0, 5, 1], [5, 0, 3], [1, 3, 0]]


def test_lon_lat_points_give_great_circle_km(tmp_path: Path) -> None:
    # one degree of latitude along a meridian is 2 pi R / 360 km; a quarter of the equator is pi R / 2 km
    path = write(tmp_path, "ll.csv", "id,lon,lat\na,110,30\nb,110,31\nc,20,0\nd,-70,0\n")
    costs = read_points(path).costs
    radius_km = 6371.0088
    assert costs[0, 1] == pytest.approx(2 * math.pi * radius_km / 360, rel=1e-12)
    assert costs[2, 3] == pytest.approx(math.pi * radius_km / 2, rel=1e-12)
    assert costs[1, 0] == costs[0, 1] and costs[3, 3] == 0


@pytest.mark.parametrize(
    ("text", "options", "expected"),
    [
        ("id,a,b\np,1,2\n", {}, r"line 1: need coordinate columns x,y \(Euclidean\) or lon,lat"),
        ("id,x,y,lon,lat\np,1,2,3,4\n", {}, r"has both x,y and lon,lat columns; choose the distance"),
        ("id,lon,lat\np,1,2\nq,181,0\n", {}, r"line 3: lon 181, lat 0 are not degrees"),
        ("id,x,y\np,1,2\np,3,4\n", {}, r"line 3: point 'p' repeats line 2"),
        ("id,x,y\np,1,north\n", {}, r"line 2, field y: 'north' is not a number"),
        ("id,x,y\n", {}, r"no points below the header"),
        ("id,x,y\np,1,2\n", {"distance": "great-circle"}, r"missing column\(s\) lon, lat"),
        ("id,x,y\np,1,2\n", {"distance": "manhattan"}, r"unknown distance 'manhattan'"),
    ],
)
def test_points_errors(tmp_path: Path, text: str, options: dict[str, str], expected: str) -> None:
    with pytest.raises(DataError, match=expected):
        read_points(write(tmp_path, "points.csv", text), **options)  # type: ignore[arg-type]


def test_points_with_both_pairs_take_the_distance_asked_for(tmp_path: Path) -> None:
    path = write(tmp_path, "both.csv", "id,x,y,lon,lat\na,0,0,0,0\nb,3,4,0,1\n")
    assert read_points(path, distance="euclidean").costs[0, 1] == 5
    assert read_points(path, distance="great-circle").costs[0, 1] == pytest.approx(111.195, abs=1e-3)


def test_lorena_round_trip(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    xy = rng.integers(0, 1000, (5, 2))
    capacity, demand = rng.integers(50, 90, 5), rng.integers(1, 30, 5)
    rows = "".join(f"{x} {y} {c} {d}\n" for (x, y), c, d in zip(xy, capacity, demand, strict=True))
    instance = read_lorena(write(tmp_path, "tiny.dat", f"5 2\n{rows}"))
    assert instance.p == 2 and instance.optimum is None
    assert instance.costs.demand_ids == instance.costs.site_ids == ("1", "2", "3", "4", "5")
    assert list(instance.capacities.values()) == capacity.tolist()
    assert list(instance.demands.values()) == demand.tolist()
    np.testing.assert_allclose(instance.costs.costs, np.hypot(*(xy[:, None, :] - xy[None, :, :]).transpose(2, 0, 1)))


def test_lorena_sjc1_as_published() -> None:
    path = BENCHMARKS / "lorena-sjc" / "SJC1.dat"
    if not path.exists():
        pytest.skip(f"{path} is not beside the repository")
    instance = read_lorena(path)
    # SOURCE.md: n 100, p 10, every capacity 720, total demand 5807; costs are real (not truncated) distances
    assert (len(instance.costs.site_ids), instance.p) == (100, 10)
    assert set(instance.capacities.values()) == {720} and sum(instance.demands.values()) == 5807
    assert instance.costs.costs[0, 1] == pytest.approx(math.hypot(409154 - 409151, 435528 - 435683))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", r"the file is empty; expected a first line `n p`"),
        ("2 3\n1 1 5 1\n2 2 5 1\n", r"line 1: need n >= 1 and 1 <= p <= n, got 2 3"),
        ("2 1\n1 1 5 1\n", r"line 1 announces 2 points, the file has 1 lines"),
        ("1 1\n1 1 5\n", r"line 2: expected 4 fields \(x y capacity demand\), got 3"),
        ("1 1\n1 1 5 -2\n", r"line 2, field demand: '-2' is not a finite non-negative number"),
    ],
)
def test_lorena_errors(tmp_path: Path, text: str, expected: str) -> None:
    with pytest.raises(DataError, match=expected):
        read_lorena(write(tmp_path, "bad.dat", text))


@pytest.mark.parametrize(
    ("text", "layout"),
    [
        ("4 3 1\n1 2 1\n2 3 1\n3 4 1\n", "orlib"),
        ("1 713\n2 1 120\n1 2 62 3\n2 80 25 4\n", "orlib-cap"),
        ("2 1\n409154 435528 720 50\n409151 435683 720 4\n", "lorena"),
    ],
)
def test_long_reader_names_the_layout_a_numeric_file_looks_like(tmp_path: Path, text: str, layout: str) -> None:
    with pytest.raises(DataError, match=rf"missing column\(s\) demand, site, cost; .*add --format-in {layout}$"):
        read_costs_long(write(tmp_path, "f.txt", text))


def test_long_reader_adds_no_layout_hint_to_a_csv(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"found from, to, cost$"):
        read_costs_long(write(tmp_path, "f.csv", "from,to,cost\na,b,1\n"))


# ---------------------------------------------------------------- CostMatrix


def test_cost_matrix_copies_and_freezes_its_array() -> None:
    source = np.array([[1.0, 2.0]])
    matrix = CostMatrix(("a",), ("s", "t"), source)
    source[0, 0] = 99.0
    assert matrix.costs[0, 0] == 1.0
    with pytest.raises(ValueError, match="read-only"):
        matrix.costs[0, 0] = 5.0


@pytest.mark.parametrize(
    ("demand_ids", "site_ids", "costs", "expected"),
    [
        (("a",), ("s",), [[1.0, 2.0]], r"shape \(1, 2\), expected \(1 demand units, 1 sites\)"),
        (("a", "a"), ("s",), [[1.0], [2.0]], r"duplicate demand ids in cost matrix: a"),
        (("a",), ("s",), [[-1.0]], r"NaN or negative"),
        (("a",), ("s",), [[math.nan]], r"NaN or negative"),
    ],
)
def test_cost_matrix_rejects_bad_input(
    demand_ids: tuple[str, ...], site_ids: tuple[str, ...], costs: list[list[float]], expected: str
) -> None:
    with pytest.raises(DataError, match=expected):
        CostMatrix(demand_ids, site_ids, np.asarray(costs))
