"""Geometry of generated regions: the valley frame, township bands, villages and the road network.

The region is one or more parallel valley strips running north-south, side by side. In the "valley frame" (u along
the valley, v across it) every strip is a rectangle and every township a band of it; the map is the frame sheared by
a smooth meander x += f(u), which keeps areas and shared edges exact. Each valley has a trunk road along its river,
branch roads up side valleys, and a village road from every village to one of them. Everything is in metres of the
generated region's CRS; one seeded numpy Generator, passed in, draws every random choice.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import shapely
from numpy.typing import NDArray

_VALLEY_ASPECT = 7.0  # length / width of one valley strip (Lushui: about 150 km by 21 km)
_TOWNSHIPS_PER_VALLEY = 10
_GRID_M = 1_000.0  # spacing of the vertices that bend edges and trunk roads along the meander
_FLOOR_SHARE = 0.35  # share of non-seat villages on the valley floor (the rest up side valleys)
_VILLAGES_PER_BRANCH = 3


@dataclass(frozen=True)
class Frame:
    """The valley frame: `n` strips of width `width_m` and length `length_m`, sheared by a two-wave meander."""

    n: int
    width_m: float
    length_m: float
    origin: tuple[float, float]
    waves: tuple[tuple[float, float, float], ...]  # (amplitude m, wavelength m, phase)

    def meander(self, u: NDArray[np.float64]) -> NDArray[np.float64]:
        """East-west offset of the frame at distance `u` along the valleys."""
        return sum((a * np.sin(2 * np.pi * u / lam + ph) for a, lam, ph in self.waves), np.zeros_like(u))

    def to_xy(self, uv: NDArray[np.float64]) -> NDArray[np.float64]:
        """Map coordinates of frame points (rows u, v)."""
        x = self.origin[0] + uv[:, 1] - self.n * self.width_m / 2 + self.meander(uv[:, 0])
        return np.column_stack([x, self.origin[1] + uv[:, 0] - self.length_m / 2])

    def centre(self, valley: NDArray[np.int64] | int) -> NDArray[np.float64]:
        """Frame v of the river (and trunk road) of each valley."""
        return (np.asarray(valley, dtype=np.float64) + 0.5) * self.width_m


class Layout:
    """The layout under construction, in frame coordinates: junction nodes (mapped once, so lines meeting there
    share coordinates exactly), road lines between them, each valley's trunk junctions, and the villages."""

    def __init__(self, valleys: int) -> None:
        self.nodes: list[tuple[float, float]] = []
        self.lines: list[tuple[int, NDArray[np.float64], int, str, float]] = []
        self.trunk: list[list[tuple[float, int]]] = [[] for _ in range(valleys)]
        self.villages: list[tuple[float, float, int, int]] = []  # u, v, township, kind (0 seat, 1 floor, 2 side)

    def node(self, u: float, v: float) -> int:
        """Add a junction at frame point (u, v); returns its index."""
        self.nodes.append((float(u), float(v)))
        return len(self.nodes) - 1

    def trunk_node(self, valley: int, u: float, v: float) -> int:
        """Add a junction on the trunk road of `valley` (joined up along the valley later); returns its index."""
        node = self.node(u, v)
        self.trunk[valley].append((float(u), node))
        return node

    def village(self, u: float, v: float, township: int, kind: int) -> int:
        """Add a village of `township` (kind 0 seat, 1 valley floor, 2 side valley) and its junction index."""
        self.villages.append((float(u), float(v), township, kind))
        return self.node(u, v)

    def line(self, a: int, b: int, road_class: str, *, interior: NDArray[np.float64] | None = None,
             speed_kmh: float = math.nan) -> int:
        """Add a road of `road_class` from junction a to b through `interior` frame points; returns its index."""
        self.lines.append((a, np.empty((0, 2)) if interior is None else interior, b, road_class, speed_kmh))
        return len(self.lines) - 1

    def places(self) -> dict[str, NDArray[Any]]:
        """The villages as arrays: frame `uv`, `township`, `kind` and `is_seat`, in order of addition."""
        table = np.asarray(self.villages, dtype=np.float64)
        kind = table[:, 3].astype(np.int64)
        return {"uv": table[:, :2], "township": table[:, 2].astype(np.int64), "kind": kind, "is_seat": kind == 0}

    def roads(self, frame: Frame) -> tuple[dict[str, Any], NDArray[np.object_]]:
        """Columns (road_class, speed_kmh, oneway) and map linestrings, to the centimetre, of the roads so far."""
        node_xy = frame.to_xy(np.asarray(self.nodes, dtype=np.float64))
        interior_xy = frame.to_xy(np.concatenate([line[1] for line in self.lines]))
        sizes = np.array([len(line[1]) for line in self.lines])
        starts = np.r_[0, np.cumsum(sizes)]
        coords = np.concatenate([
            np.vstack([node_xy[a], interior_xy[s:s + len(mid)], node_xy[b]])
            for (a, mid, b, _, _), s in zip(self.lines, starts[:-1], strict=True)
        ])
        geometry = shapely.linestrings(np.round(coords, 2), indices=np.repeat(np.arange(len(sizes)), sizes + 2))
        return {"road_class": [line[3] for line in self.lines],
                "speed_kmh": [line[4] for line in self.lines],
                "oneway": np.zeros(len(self.lines), dtype=bool)}, geometry


def make_frame(rng: np.random.Generator, *, townships: int, area_km2: float, origin: tuple[float, float]) -> Frame:
    """The frame for `townships` over `area_km2`: about ten townships per valley, each valley seven times longer
    than wide, centred on the map point `origin`, with a random two-wave meander."""
    n = max(1, round(townships / _TOWNSHIPS_PER_VALLEY))
    width = math.sqrt(area_km2 * 1e6 / n / _VALLEY_ASPECT)
    length = width * _VALLEY_ASPECT
    phases = rng.uniform(0, 2 * np.pi, 2)
    waves = ((0.25 * width, length * rng.uniform(0.8, 1.2), phases[0]),
             (0.08 * width, length / rng.uniform(3.0, 5.0), phases[1]))
    return Frame(n=n, width_m=width, length_m=length, origin=origin, waves=waves)


def make_bands(rng: np.random.Generator, frame: Frame, townships: int) -> pd.DataFrame:
    """Township bands: valley, u0, u1 (consecutive along the valley, lengths varying around the mean)."""
    rows = []
    for valley, count in enumerate(np.array_split(np.arange(townships), frame.n)):
        share = 0.5 / len(count) + 0.5 * rng.dirichlet(np.full(len(count), 6.0))
        bounds = np.r_[0.0, np.cumsum(share)] * frame.length_m
        bounds[-1] = frame.length_m
        rows += [(valley, bounds[i], bounds[i + 1]) for i in range(len(count))]
    return pd.DataFrame(rows, columns=["valley", "u0", "u1"])


def seat_townships(rng: np.random.Generator, bands: pd.DataFrame) -> NDArray[np.int64]:
    """Township holding each valley's county seat; the first is the region's seat (in the middle valley)."""
    seats = []
    for valley in range(int(bands["valley"].max()) + 1):
        members = np.flatnonzero(bands["valley"].to_numpy() == valley)
        inner = members[1:-1] if len(members) >= 3 else members
        seats.append(int(rng.choice(inner)))
    main = len(seats) // 2
    return np.array([seats[main], *seats[:main], *seats[main + 1:]], dtype=np.int64)


def largest_remainder(total: int, weights: NDArray[np.float64]) -> NDArray[np.int64]:
    """Integers proportional to `weights` summing exactly to `total` (largest-remainder rounding)."""
    quota = total * weights / weights.sum()
    counts = np.floor(quota).astype(np.int64)
    order = np.argsort(-(quota - counts), kind="stable")
    counts[order[: total - int(counts.sum())]] += 1
    return counts


def band_polygons(frame: Frame, bands: pd.DataFrame) -> NDArray[np.object_]:
    """Township polygons: band rectangles bent along the meander, all on one set of u vertices (grid plus every
    band boundary), so neighbours share edge vertices exactly and tile without gaps or overlaps."""
    grid = np.arange(0.0, frame.length_m, _GRID_M)
    us = np.unique(np.r_[grid, bands["u0"], bands["u1"]])
    offset = frame.meander(us)
    rings = []
    for valley, u0, u1 in bands[["valley", "u0", "u1"]].itertuples(index=False):
        keep = (us >= u0) & (us <= u1)
        up, shift = us[keep], offset[keep]
        west = frame.origin[0] + valley * frame.width_m - frame.n * frame.width_m / 2 + shift
        y = frame.origin[1] + up - frame.length_m / 2
        ring = np.r_[np.column_stack([west, y]), np.column_stack([west + frame.width_m, y])[::-1]]
        rings.append(shapely.polygons(np.round(ring, 2)))
    return np.asarray(rings, dtype=object)


def place_villages_and_roads(rng: np.random.Generator, frame: Frame, bands: pd.DataFrame, villages: int,
                             seat_township: NDArray[np.int64]) -> tuple[Layout, NDArray[np.int64]]:
    """Villages (each seat and some others on the valley floor, the rest up side valleys) and all roads but the
    hospitals'; returns the layout and the trunk node of each township seat."""
    layout = Layout(frame.n)
    per_township = 1 + largest_remainder(villages - len(bands), (bands["u1"] - bands["u0"]).to_numpy())
    seat_node = np.zeros(len(bands), dtype=np.int64)
    deepest: list[tuple[float, list[int]]] = [(-1.0, [])] * frame.n
    for t, (valley, u0, u1) in enumerate(bands.itertuples(index=False)):
        c, span, w = float(frame.centre(valley)), u1 - u0, frame.width_m
        lo, hi, step = u0 + 0.12 * span, u1 - 0.12 * span, min(0.04 * w, 0.04 * span)
        u_seat = u0 + span * rng.uniform(0.35, 0.65)
        seat_node[t] = layout.trunk_node(valley, u_seat, c)
        seat = layout.village(u_seat + step * rng.uniform(-1, 1), c + w * rng.uniform(0.01, 0.03) * _sign(rng), t, 0)
        layout.line(seat, int(seat_node[t]), "township")
        floor = rng.random(int(per_township[t]) - 1) < _FLOOR_SHARE
        for u in rng.uniform(lo, hi, int(floor.sum())):
            village = layout.village(u, c + w * rng.uniform(0.03, 0.12) * _sign(rng), t, 1)
            layout.line(village, layout.trunk_node(valley, u, c), "village")
        n_side = int((~floor).sum())
        n_branches = math.ceil(n_side / _VILLAGES_PER_BRANCH)
        sizes = np.bincount(np.arange(n_side) % max(n_branches, 1), minlength=n_branches)
        for b, size in enumerate(sizes):
            depth = w / 2 * rng.uniform(0.55, 0.9)
            root = np.array([rng.uniform(lo, hi), c])
            end = np.array([np.clip(root[0] + depth * rng.uniform(-0.3, 0.3), lo, hi), c + _sign(rng) * depth])
            lines = _side_valley(rng, layout, t, valley, root, end, size=int(size), offset_m=step,
                                 road_class="county" if b == 0 else "township")
            if depth > deepest[valley][0]:
                deepest[valley] = (depth, lines)
    for _, lines in deepest:  # the deepest side valley of each valley leads to a pass
        for index in lines:
            a, mid, b, _, speed = layout.lines[index]
            layout.lines[index] = (a, mid, b, "provincial", speed)
    _cross_links(rng, frame, bands, layout, seat_node)
    _trunks(frame, layout, seat_u=layout.nodes[seat_node[seat_township[0]]][0],
            main_valley=int(bands["valley"].iloc[seat_township[0]]))
    return layout, seat_node


def _sign(rng: np.random.Generator) -> float:
    """-1 or 1 at random."""
    return float(rng.choice([-1.0, 1.0]))


def _side_valley(rng: np.random.Generator, layout: Layout, township: int, valley: int, root: NDArray[np.float64],
                 end: NDArray[np.float64], *, size: int, offset_m: float, road_class: str) -> list[int]:
    """A branch road from the trunk at `root` up to `end` with `size` villages beside it, each on its own village
    road; 30% of branches climb steep hairpins (explicit 15 km/h). Returns the branch's line indices."""
    along = np.sort(np.r_[rng.uniform(0.25, 1.0, size - 1), 1.0])
    feet = root + along[:, None] * (end - root)
    direction = (end - root) / np.hypot(*(end - root))
    sideways = np.array([-direction[1], direction[0]]) * offset_m
    points = feet + sideways * (rng.uniform(0.5, 1.0, size) * rng.choice([-1, 1], size))[:, None]
    speed = 15.0 if rng.random() < 0.3 else math.nan
    previous = layout.trunk_node(valley, float(root[0]), float(root[1]))
    lines = []
    for foot, point in zip(feet, points, strict=True):
        foot_node = layout.node(*foot)
        wiggle = _wiggle(rng, np.array(layout.nodes[previous]), foot, amount=0.08)
        lines.append(layout.line(previous, foot_node, road_class, interior=wiggle, speed_kmh=speed))
        layout.line(layout.village(point[0], point[1], township, 2), foot_node, "village")
        previous = foot_node
    return lines


def _wiggle(rng: np.random.Generator, a: NDArray[np.float64], b: NDArray[np.float64], *,
            amount: float) -> NDArray[np.float64]:
    """Two interior vertices between frame points a and b, pushed sideways by up to `amount` of the length."""
    d = b - a
    normal = np.array([-d[1], d[0]])
    t = np.array([1 / 3, 2 / 3])
    return a + t[:, None] * d + normal * rng.uniform(-amount, amount, 2)[:, None]


def _cross_links(rng: np.random.Generator, frame: Frame, bands: pd.DataFrame, layout: Layout,
                 seat_node: NDArray[np.int64]) -> None:
    """Roads over the ridge from township seats of each valley to the next valley's trunk (at least one each)."""
    valley_of = bands["valley"].to_numpy()
    for valley in range(frame.n - 1):
        members = np.flatnonzero(valley_of == valley)
        chosen = rng.random(len(members)) < 0.4
        chosen[rng.integers(len(members))] = True
        for rank, t in enumerate(members[chosen]):
            start = np.array(layout.nodes[seat_node[t]])
            target = layout.trunk_node(valley + 1, start[0], float(frame.centre(valley + 1)))
            wiggle = _wiggle(rng, start, np.array(layout.nodes[target]), amount=0.05)
            layout.line(int(seat_node[t]), target, "county" if rank == 0 else "township", interior=wiggle)


def _trunks(frame: Frame, layout: Layout, *, seat_u: float, main_valley: int) -> None:
    """National trunk road along each valley, one line per pair of consecutive junctions, bent along the
    meander; within 3 km of the county seat it is a town street (explicit 40 km/h)."""
    grid = np.arange(0.0, frame.length_m, _GRID_M)
    for valley, junctions in enumerate(layout.trunk):
        c = float(frame.centre(valley))
        ends = [(u, layout.node(u, c)) for u in (0.01 * frame.length_m, 0.99 * frame.length_m)]
        for (ua, a), (ub, b) in itertools.pairwise(sorted(junctions + ends)):
            mid_u = grid[(grid > ua) & (grid < ub)]
            in_town = valley == main_valley and max(abs(ua - seat_u), abs(ub - seat_u)) < 3_000.0
            layout.line(a, b, "national", interior=np.column_stack([mid_u, np.full(len(mid_u), c)]),
                        speed_kmh=40.0 if in_town else math.nan)

