"""Demand x site cost matrices from files: long CSV, wide CSV, points with coordinates, OR-Library p-median
graphs, OR-Library and Lorena-Senne capacitated p-median problems; weights, loads and capacities."""

from __future__ import annotations

import csv
import io
import math
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import shortest_path

from allocopt.choices import DISTANCES
from allocopt.errors import DataError
from allocopt.inputs import read_bytes

COST_FORMATS = ("long", "wide", "orlib")
CAPACITATED_FORMATS = ("orlib-cap", "lorena")
EARTH_RADIUS_KM = 6371.0088  # mean Earth radius (IUGG), for great-circle distances


@dataclass(frozen=True)
class CostMatrix:
    """Costs (travel minutes, metres, ...) from each demand unit (rows) to each site (columns), keyed by ID.

    `costs` is float64 of shape (len(demand_ids), len(site_ids)), `inf` where a site cannot serve a demand
    unit. The array is a read-only copy, so the matrix never changes after construction.
    """

    demand_ids: tuple[str, ...]
    site_ids: tuple[str, ...]
    costs: np.ndarray

    def __post_init__(self) -> None:
        costs = np.array(self.costs, dtype=np.float64, copy=True)
        if costs.shape != (len(self.demand_ids), len(self.site_ids)):
            raise DataError(
                f"cost array has shape {costs.shape}, expected ({len(self.demand_ids)} demand units, "
                f"{len(self.site_ids)} sites)"
            )
        for kind, ids in (("demand", self.demand_ids), ("site", self.site_ids)):
            duplicates = sorted(i for i, count in Counter(ids).items() if count > 1)
            if duplicates:
                raise DataError(f"duplicate {kind} ids in cost matrix: {', '.join(duplicates[:10])}")
        if np.isnan(costs).any() or (costs < 0).any():
            raise DataError("cost matrix holds NaN or negative costs; every cost must be >= 0 (inf = no service)")
        costs.setflags(write=False)
        object.__setattr__(self, "demand_ids", tuple(str(i) for i in self.demand_ids))
        object.__setattr__(self, "site_ids", tuple(str(j) for j in self.site_ids))
        object.__setattr__(self, "costs", costs)


def read_costs(path: str | Path, *, fmt: str = "long") -> tuple[CostMatrix, int | None]:
    """Read a cost matrix in one of COST_FORMATS; return it with the file's p (OR-Library files only, else None)."""
    if fmt == "long":
        return read_costs_long(path), None
    if fmt == "wide":
        return read_costs_wide(path), None
    if fmt == "orlib":
        return read_orlib_pmedian(path)
    raise DataError(f"unknown cost file format {fmt!r}; choose one of: {', '.join(COST_FORMATS)}")


def read_costs_long(
    path: str | Path,
    *,
    demand_column: str = "demand",
    site_column: str = "site",
    cost_column: str = "cost",
) -> CostMatrix:
    """Read a long CSV with one row per (demand, site, cost) pair; pairs left out get cost inf (no service)."""
    source = Path(path)
    rows = _csv_rows(source)
    header = _header(source, rows)
    try:
        cols = _require_columns(source, header, (demand_column, site_column, cost_column))
    except DataError as exc:
        raise DataError(f"{exc}{_layout_hint(source)}") from None
    demand_index: dict[str, int] = {}
    site_index: dict[str, int] = {}
    seen: dict[tuple[int, int], int] = {}
    ii: list[int] = []
    jj: list[int] = []
    values: list[float] = []
    for line, row in rows:
        if not any(cell.strip() for cell in row):
            continue
        demand = _id_cell(source, line, row, cols[0], demand_column)
        site = _id_cell(source, line, row, cols[1], site_column)
        cost = _cost_cell(source, line, row, cols[2], cost_column)
        i = demand_index.setdefault(demand, len(demand_index))
        j = site_index.setdefault(site, len(site_index))
        if (i, j) in seen:
            raise DataError(
                f"{source}, line {line}: duplicate pair ({demand_column}={demand!r}, {site_column}={site!r}), "
                f"first given on line {seen[i, j]}; keep one row per pair"
            )
        seen[i, j] = line
        ii.append(i)
        jj.append(j)
        values.append(cost)
    if not values:
        raise DataError(
            f"{source}: no cost rows below the header; add rows {demand_column},{site_column},{cost_column}"
        )
    costs = np.full((len(demand_index), len(site_index)), np.inf)
    costs[np.asarray(ii), np.asarray(jj)] = values
    return CostMatrix(tuple(demand_index), tuple(site_index), costs)


def read_costs_wide(path: str | Path) -> CostMatrix:
    """Read a wide CSV: first column the demand id, one column per site id; an empty cell means no service."""
    source = Path(path)
    rows = _csv_rows(source)
    header = _header(source, rows)
    site_ids = tuple(cell.strip() for cell in header[1:])
    if not site_ids:
        raise DataError(f"{source}, line 1: no site columns after the demand id column; add one column per site")
    for k, site in enumerate(site_ids):
        if not site:
            raise DataError(f"{source}, line 1: column {k + 2} has an empty site id; name every site column")
        if site in site_ids[:k]:
            raise DataError(f"{source}, line 1: site column {site!r} appears twice; keep one column per site")
    demand_ids: list[str] = []
    first_line: dict[str, int] = {}
    matrix: list[list[float]] = []
    for line, row in rows:
        if not any(cell.strip() for cell in row):
            continue
        if len(row) != len(header):
            raise DataError(f"{source}, line {line}: {len(row)} fields, the header has {len(header)}")
        demand = _id_cell(source, line, row, 0, header[0] or "demand id")
        if demand in first_line:
            raise DataError(
                f"{source}, line {line}: demand {demand!r} repeats line {first_line[demand]}; keep one row per demand"
            )
        first_line[demand] = line
        demand_ids.append(demand)
        matrix.append(
            [
                math.inf if not row[k].strip() else _cost_cell(source, line, row, k, site_ids[k - 1])
                for k in range(1, len(header))
            ]
        )
    if not matrix:
        raise DataError(f"{source}: no demand rows below the header; add one row per demand unit")
    return CostMatrix(tuple(demand_ids), site_ids, np.asarray(matrix, dtype=np.float64))


def read_orlib_pmedian(path: str | Path) -> tuple[CostMatrix, int]:
    """Read an OR-Library p-median file (`n edges p`, then `i j cost` per undirected edge); return costs and p.

    Costs are all-pairs shortest path lengths; every vertex ("1".."n") is both a demand unit and a site. Where
    an edge is listed more than once the last line counts, as in Beasley's own reader.
    """
    source = Path(path)
    lines = _token_lines(source)
    if not lines:
        raise DataError(f"{source}: the file is empty; expected a first line `n edges p`")
    number, tokens = lines[0]
    n, n_edges, p = _int_fields(source, number, tokens, ("n", "edges", "p"))
    if n < 1 or n_edges < 0 or not 1 <= p <= n:
        raise DataError(f"{source}, line {number}: need n >= 1, edges >= 0 and 1 <= p <= n, got {n} {n_edges} {p}")
    if len(lines) - 1 != n_edges:
        raise DataError(f"{source}: the first line announces {n_edges} edges, the file has {len(lines) - 1} edge lines")
    edges: dict[tuple[int, int], float] = {}
    for number, tokens in lines[1:]:
        i, j, cost = _int_fields(source, number, tokens, ("i", "j", "cost"))
        for field, vertex in (("i", i), ("j", j)):
            if not 1 <= vertex <= n:
                raise DataError(f"{source}, line {number}, field {field}: vertex {vertex} is outside 1..{n}")
        if cost < 0:
            raise DataError(f"{source}, line {number}, field cost: negative edge cost {cost}")
        if i != j:
            edges[min(i, j) - 1, max(i, j) - 1] = float(cost)
    rows = np.fromiter((e[0] for e in edges), dtype=np.int64, count=len(edges))
    cols = np.fromiter((e[1] for e in edges), dtype=np.int64, count=len(edges))
    weights = np.fromiter(edges.values(), dtype=np.float64, count=len(edges))
    graph = sp.csr_matrix((weights, (rows, cols)), shape=(n, n))
    distances = shortest_path(graph, method="D", directed=False)
    ids = tuple(str(v) for v in range(1, n + 1))
    return CostMatrix(ids, ids, distances), p


@dataclass(frozen=True)
class CapacitatedInstance:
    """A capacitated p-median instance: costs, p, each demand unit's load on a site and each site's capacity
    (both in the file's demand units), and the optimum the file states (None when it states none)."""

    costs: CostMatrix
    p: int
    demands: Mapping[str, float]
    capacities: Mapping[str, float]
    optimum: float | None


def read_orlib_pmedcap(path: str | Path) -> CapacitatedInstance:
    """Read one OR-Library capacitated p-median problem (Osman and Christofides 1994, file `pmedcap1` split).

    Lines: `problem optimum`, `n p capacity`, then `id x y demand` for each of the n customers. Every customer
    is a demand unit and a candidate site with the same capacity; costs are floor(Euclidean distance), the
    truncation under which the stated optima hold. The objective is unweighted: demands load the capacities.
    """
    source = Path(path)
    lines = _token_lines(source)
    if len(lines) < 2:
        raise DataError(f"{source}: expected the lines `problem optimum` and `n p capacity` first")
    (head_line, head), (size_line, size) = lines[0], lines[1]
    _, optimum = _int_fields(source, head_line, head, ("problem", "optimum"))
    n, p, capacity = _int_fields(source, size_line, size, ("n", "p", "capacity"))
    if n < 1 or not 1 <= p <= n or capacity < 0:
        raise DataError(
            f"{source}, line {size_line}: need n >= 1, 1 <= p <= n and capacity >= 0, got {n} {p} {capacity}"
        )
    if len(lines) - 2 != n:
        raise DataError(f"{source}: line {size_line} announces {n} customers, the file has {len(lines) - 2} lines")
    records = [_int_fields(source, number, tokens, ("id", "x", "y", "demand")) for number, tokens in lines[2:]]
    ids = tuple(str(record[0]) for record in records)
    duplicates = sorted(i for i, count in Counter(ids).items() if count > 1)
    if duplicates:
        raise DataError(f"{source}: customer ids repeat: {', '.join(duplicates[:10])}; give each customer one line")
    xy = np.asarray([record[1:3] for record in records], dtype=np.float64)
    demand = [float(record[3]) for record in records]
    return CapacitatedInstance(
        costs=CostMatrix(ids, ids, planar_distances(xy, xy, truncate=True)),
        p=p,
        demands=dict(zip(ids, demand, strict=True)),
        capacities=dict.fromkeys(ids, float(capacity)),
        optimum=float(optimum),
    )


def read_lorena(path: str | Path) -> CapacitatedInstance:
    """Read a Lorena-Senne capacitated p-median instance (the SJC set of Lorena and Senne 2004).

    Lines: `n p`, then `x y capacity demand` for each of the n points. Every point ("1".."n" in file order) is
    a demand unit and a candidate site with its own capacity; costs are the real Euclidean distances (not
    truncated, unlike OR-Library's pmedcap), the objective is unweighted and the demands load the capacities.
    The files state no optimum.
    """
    source = Path(path)
    lines = _token_lines(source)
    if not lines:
        raise DataError(f"{source}: the file is empty; expected a first line `n p`")
    head_line, head = lines[0]
    n, p = _int_fields(source, head_line, head, ("n", "p"))
    if n < 1 or not 1 <= p <= n:
        raise DataError(f"{source}, line {head_line}: need n >= 1 and 1 <= p <= n, got {n} {p}")
    if len(lines) - 1 != n:
        raise DataError(f"{source}: line {head_line} announces {n} points, the file has {len(lines) - 1} lines")
    fields = ("x", "y", "capacity", "demand")
    records = np.asarray([_number_fields(source, number, tokens, fields) for number, tokens in lines[1:]])
    ids = tuple(str(k) for k in range(1, n + 1))
    return CapacitatedInstance(
        costs=CostMatrix(ids, ids, planar_distances(records[:, :2], records[:, :2])),
        p=p,
        demands=dict(zip(ids, records[:, 3].tolist(), strict=True)),
        capacities=dict(zip(ids, records[:, 2].tolist(), strict=True)),
        optimum=None,
    )


def read_points(
    path: str | Path, *, id_column: str = "id", distance: str | None = None, truncate: bool = False
) -> CostMatrix:
    """Costs between points given by coordinates: every point is both a demand unit and a candidate site.

    The CSV has an id column and either `x,y` (planar coordinates: Euclidean distance in their unit) or
    `lon,lat` (WGS84 degrees: great-circle distance in km on a sphere of the mean Earth radius). `distance`
    ("euclidean" or "great-circle") picks one when a file has both pairs. With `truncate` every cost is
    rounded down to a whole number, as OR-Library's capacitated p-median files do.
    """
    if distance is not None and distance not in DISTANCES:
        raise DataError(f"unknown distance {distance!r}; choose one of: {', '.join(DISTANCES)}")
    source = Path(path)
    rows = _csv_rows(source)
    header = _header(source, rows)
    pairs = {"euclidean": ("x", "y"), "great-circle": ("lon", "lat")}
    present = [name for name, pair in pairs.items() if set(pair) <= set(header)]
    if distance is None and len(present) != 1:
        found = ", ".join(header) or "none"
        raise DataError(
            f"{source}, line 1: need coordinate columns x,y (Euclidean) or lon,lat (great-circle), found {found}"
            if not present
            else f"{source}, line 1: has both x,y and lon,lat columns; choose the distance (euclidean or great-circle)"
        )
    metric = distance or present[0]
    id_col, first, second = _require_columns(source, header, (id_column, *pairs[metric]))
    ids: dict[str, int] = {}
    coordinates: list[tuple[float, ...]] = []
    for line, row in rows:
        if not any(cell.strip() for cell in row):
            continue
        point = _id_cell(source, line, row, id_col, id_column)
        if point in ids:
            raise DataError(f"{source}, line {line}: point {point!r} repeats line {ids[point]}; keep one row per point")
        ids[point] = line
        coordinates.append(tuple(_coordinate(source, line, row, col, header[col]) for col in (first, second)))
    if not coordinates:
        raise DataError(f"{source}: no points below the header; add one row per point")
    xy = np.asarray(coordinates)
    if metric == "euclidean":
        return CostMatrix(tuple(ids), tuple(ids), planar_distances(xy, xy, truncate=truncate))
    _check_lon_lat(source, xy, list(ids.values()))
    distances = great_circle_km(xy, xy)
    return CostMatrix(tuple(ids), tuple(ids), np.floor(distances) if truncate else distances)


def planar_distances(a: np.ndarray, b: np.ndarray, *, truncate: bool = False) -> np.ndarray:
    """Euclidean distances between the rows of `a` and of `b` (n x 2 each), rounded down with `truncate`."""
    distances = np.sqrt(((a[:, None, :] - b[None, :, :]) ** 2).sum(axis=2))
    return np.floor(distances) if truncate else distances


def great_circle_km(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Great-circle distances in km between the (lon, lat) degree rows of `a` and `b` (haversine formula)."""
    lon_a, lat_a = np.radians(a[:, 0])[:, None], np.radians(a[:, 1])[:, None]
    lon_b, lat_b = np.radians(b[:, 0])[None, :], np.radians(b[:, 1])[None, :]
    half = np.sin((lat_b - lat_a) / 2) ** 2 + np.cos(lat_a) * np.cos(lat_b) * np.sin((lon_b - lon_a) / 2) ** 2
    return 2 * EARTH_RADIUS_KM * np.arcsin(np.sqrt(np.clip(half, 0.0, 1.0)))


def _check_lon_lat(source: Path, lon_lat: np.ndarray, lines: list[int]) -> None:
    """DataError naming the line of the first longitude outside [-180, 180] or latitude outside [-90, 90]."""
    bad = np.flatnonzero((np.abs(lon_lat[:, 0]) > 180) | (np.abs(lon_lat[:, 1]) > 90))
    if len(bad):
        lon, lat = lon_lat[bad[0]]
        raise DataError(
            f"{source}, line {lines[bad[0]]}: lon {lon:g}, lat {lat:g} are not degrees (lon in -180..180, lat in "
            f"-90..90); give planar coordinates as x,y"
        )


def read_weights(
    path: str | Path, *, demand_ids: Sequence[str], id_column: str = "demand", weight_column: str = "weight"
) -> dict[str, float]:
    """Read demand weights (population) from a CSV `demand,weight`; every demand id must appear exactly once."""
    return _read_id_values(path, ids=demand_ids, id_column=id_column, value_column=weight_column, kind="demand")


def read_loads(
    path: str | Path, *, demand_ids: Sequence[str], id_column: str = "demand", load_column: str = "load"
) -> dict[str, float]:
    """Read each demand unit's load on site capacities from a CSV `demand,load`, apart from its objective
    weight; every demand id must appear exactly once."""
    return _read_id_values(path, ids=demand_ids, id_column=id_column, value_column=load_column, kind="demand")


def read_capacities(
    path: str | Path, *, site_ids: Sequence[str], id_column: str = "site", capacity_column: str = "capacity"
) -> dict[str, float]:
    """Read site capacities (in the units of the demand weights) from a CSV `site,capacity`, one row per site."""
    return _read_id_values(path, ids=site_ids, id_column=id_column, value_column=capacity_column, kind="site")


def read_existing_units(
    path: str | Path, *, site_ids: Sequence[str], kinds: Sequence[str], id_column: str = "site"
) -> dict[str, dict[str, int]]:
    """Units of each resource kind sites have today, from a CSV with a site column and one column per kind
    (`site,icu_beds,ventilators`). Kinds without a column and sites without a row have none; other columns
    are ignored. DataError names the file, line and field of an unknown or repeated site or a count that is
    not a whole number >= 0, and says when no column names a kind."""
    source = Path(path)
    rows = _csv_rows(source)
    header = _header(source, rows)
    (id_col,) = _require_columns(source, header, (id_column,))
    columns = {kind: header.index(kind) for kind in kinds if kind in header}
    if not columns:
        raise DataError(f"{source}, line 1: no column is a resource kind ({', '.join(kinds)}); "
                        f"found {', '.join(header)}")
    units: dict[str, dict[str, int]] = {}
    for line, site, row in _keyed_rows(source, rows, ids=site_ids, id_col=id_col, id_column=id_column, kind="site"):
        counts = {kind: _cost_cell(source, line, row, col, kind) for kind, col in columns.items()}
        for kind, count in counts.items():
            if not count.is_integer():
                raise DataError(f"{source}, line {line}, field {kind}: {count:g} is not a whole number of units")
        units[site] = {kind: int(count) for kind, count in counts.items()}
    return units


def _read_id_values(
    path: str | Path, *, ids: Sequence[str], id_column: str, value_column: str, kind: str
) -> dict[str, float]:
    """Read a two-column CSV of id -> non-negative number, checked against the ids of the cost matrix."""
    source = Path(path)
    rows = _csv_rows(source)
    header = _header(source, rows)
    id_col, value_col = _require_columns(source, header, (id_column, value_column))
    values = {
        key: _cost_cell(source, line, row, value_col, value_column)
        for line, key, row in _keyed_rows(source, rows, ids=ids, id_col=id_col, id_column=id_column, kind=kind)
    }
    missing = [i for i in ids if i not in values]
    if missing:
        shown = ", ".join(repr(i) for i in missing[:10])
        more = f" and {len(missing) - 10} more" if len(missing) > 10 else ""
        raise DataError(f"{source}: no {value_column} for {len(missing)} {kind} ids: {shown}{more}; add a row for each")
    return {i: values[i] for i in ids}


def _keyed_rows(
    source: Path, rows: list[tuple[int, list[str]]], *, ids: Sequence[str], id_col: int, id_column: str, kind: str
) -> Iterator[tuple[int, str, list[str]]]:
    """(line, id, row) of each non-blank row; DataError naming the line for an id not among `ids` (the cost
    matrix's) or one that repeats an earlier line."""
    known = set(ids)
    first_line: dict[str, int] = {}
    for line, row in rows:
        if not any(cell.strip() for cell in row):
            continue
        key = _id_cell(source, line, row, id_col, id_column)
        if key not in known:
            raise DataError(
                f"{source}, line {line}, field {id_column}: {kind} {key!r} is not in the cost matrix; "
                f"remove the row or fix the id"
            )
        if key in first_line:
            raise DataError(f"{source}, line {line}: {kind} {key!r} repeats line {first_line[key]}")
        first_line[key] = line
        yield line, key, row


def _layout_hint(source: Path) -> str:
    """For a file of whitespace-separated numbers, a suggestion of the --format-in whose first lines it matches
    (OR-Library p-median `n edges p` / `i j cost`, OR-Library capacitated `problem optimum` / `n p capacity`,
    Lorena-Senne `n p` / `x y capacity demand`); otherwise an empty string."""
    lines = [tokens for _, tokens in _token_lines(source)[:2]]
    if len(lines) < 2 or not all(_is_number(token) for tokens in lines for token in tokens):
        return ""
    layouts = {(3, 3): ("orlib", "an OR-Library p-median"), (2, 3): ("orlib-cap", "an OR-Library capacitated p-median"),
               (2, 4): ("lorena", "a Lorena-Senne capacitated p-median")}
    layout = layouts.get((len(lines[0]), len(lines[1])))
    return "" if layout is None else f"; this looks like {layout[1]} file: add --format-in {layout[0]}"


def _is_number(token: str) -> bool:
    """Whether the token parses as a float."""
    try:
        float(token)
    except ValueError:
        return False
    return True


def _token_lines(source: Path) -> list[tuple[int, list[str]]]:
    """(line number, whitespace-separated tokens) of each non-blank line of the file."""
    lines = [(number, text.split()) for number, text in enumerate(_text(source).splitlines(), start=1)]
    return [(number, tokens) for number, tokens in lines if tokens]


def _text(source: Path) -> str:
    """The file's text as UTF-8 (a byte-order mark is dropped), or DataError naming file and line."""
    if not source.exists():
        raise DataError(f"{source}: file not found")
    data = read_bytes(source, kind="data", what="file")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise DataError(f"{source}, line {line}: the file is not UTF-8 (byte {exc.start}); save it as UTF-8") from exc


def _csv_rows(source: Path) -> list[tuple[int, list[str]]]:
    """All CSV records of the file with the 1-based line on which each starts."""
    reader = csv.reader(io.StringIO(_text(source), newline=""))
    return list(_numbered(reader))


def _numbered(reader: Any) -> Iterator[tuple[int, list[str]]]:
    """Pair each record with its starting line number."""
    line = 1
    for row in reader:
        yield line, row
        line = reader.line_num + 1


def _header(source: Path, rows: list[tuple[int, list[str]]]) -> list[str]:
    """Pop and return the header record, or DataError for an empty file."""
    if not rows or not any(cell.strip() for cell in rows[0][1]):
        raise DataError(f"{source}: the file is empty; expected a header line")
    return [cell.strip() for cell in rows.pop(0)[1]]


def _require_columns(source: Path, header: list[str], names: Sequence[str]) -> tuple[int, ...]:
    """Positions of the named columns, or DataError listing the missing ones and the columns found."""
    missing = [name for name in names if name not in header]
    if missing:
        raise DataError(
            f"{source}, line 1: missing column(s) {', '.join(missing)}; found {', '.join(header) or 'none'}"
        )
    return tuple(header.index(name) for name in names)


def _id_cell(source: Path, line: int, row: list[str], col: int, field: str) -> str:
    """A non-empty id from the row, or DataError naming file, line and field."""
    value = row[col].strip() if col < len(row) else ""
    if not value:
        raise DataError(f"{source}, line {line}, field {field}: empty id")
    return value


def _cost_cell(source: Path, line: int, row: list[str], col: int, field: str) -> float:
    """A finite non-negative number from the row, or DataError naming file, line and field."""
    text = row[col].strip() if col < len(row) else ""
    try:
        value = float(text)
    except ValueError:
        raise DataError(f"{source}, line {line}, field {field}: {text!r} is not a number") from None
    if math.isnan(value) or math.isinf(value) or value < 0:
        raise DataError(
            f"{source}, line {line}, field {field}: {text!r} is not a finite non-negative number "
            f"(leave a pair out when the site cannot serve the demand)"
        )
    return value


def _int_fields(source: Path, line: int, tokens: list[str], names: Sequence[str]) -> tuple[int, ...]:
    """The line's integers, one per name, or DataError naming the field that is missing or not an integer."""
    if len(tokens) < len(names):
        raise DataError(f"{source}, line {line}: expected {len(names)} fields ({' '.join(names)}), got {len(tokens)}")
    values = []
    for name, token in zip(names, tokens, strict=False):
        try:
            values.append(int(token))
        except ValueError:
            raise DataError(f"{source}, line {line}, field {name}: {token!r} is not an integer") from None
    return tuple(values)


def _number_fields(source: Path, line: int, tokens: list[str], names: Sequence[str]) -> tuple[float, ...]:
    """The line's finite non-negative numbers, one per name, or DataError naming the field that is missing or
    not such a number."""
    if len(tokens) < len(names):
        raise DataError(f"{source}, line {line}: expected {len(names)} fields ({' '.join(names)}), got {len(tokens)}")
    return tuple(_cost_cell(source, line, tokens, k, name) for k, name in enumerate(names))


def _coordinate(source: Path, line: int, row: list[str], col: int, field: str) -> float:
    """A finite number (of either sign) from the row, or DataError naming file, line and field."""
    text = row[col].strip() if col < len(row) else ""
    try:
        value = float(text)
    except ValueError:
        raise DataError(f"{source}, line {line}, field {field}: {text!r} is not a number") from None
    if not math.isfinite(value):
        raise DataError(f"{source}, line {line}, field {field}: {text!r} is not a finite coordinate")
    return value


def weights_array(demand_ids: Sequence[str], weights: Mapping[str, float] | None) -> np.ndarray:
    """Weights in the order of `demand_ids` (1 each when None), checked to cover exactly those ids."""
    if weights is None:
        return np.ones(len(demand_ids))
    return _values_array(demand_ids, weights, kind="demand", what="weight")


def capacities_array(site_ids: Sequence[str], capacities: Mapping[str, float]) -> np.ndarray:
    """Capacities in the order of `site_ids`, checked to cover exactly those ids."""
    return _values_array(site_ids, capacities, kind="site", what="capacity")


def _values_array(ids: Sequence[str], values: Mapping[str, float], *, kind: str, what: str) -> np.ndarray:
    """Values in the order of `ids`; DataError for unknown, missing, negative or non-finite entries."""
    known = set(ids)
    unknown = [key for key in values if key not in known]
    if unknown:
        raise DataError(f"{what} given for {kind} ids not in the cost matrix: {', '.join(map(repr, unknown[:10]))}")
    missing = [key for key in ids if key not in values]
    if missing:
        raise DataError(f"no {what} for {kind} ids: {', '.join(map(repr, missing[:10]))}")
    array = np.array([float(values[key]) for key in ids])
    bad = [key for key, value in zip(ids, array, strict=True) if not (math.isfinite(value) and value >= 0)]
    if bad:
        raise DataError(f"{what} must be a finite number >= 0; {kind} ids {', '.join(map(repr, bad[:10]))}")
    return array
