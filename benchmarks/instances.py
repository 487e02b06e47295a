"""Benchmark instances, built the same way in every process that needs them.

Synthetic grid road networks with random origins and sites (travel times), the San Francisco store-siting
matrix, the OR-Library p-median files and the capacitated sets of OR-Library and Lorena-Senne (classic
models), and generated region bundles (optimize).
"""

from __future__ import annotations

import math
from pathlib import Path

import geopandas as gpd
import numpy as np
import shapely

from allocopt.costs import (
    CostMatrix,
    read_costs_long,
    read_lorena,
    read_orlib_pmedcap,
    read_orlib_pmedian,
    read_weights,
)

REPO = Path(__file__).resolve().parent.parent
SF_DIR = REPO / "tests" / "data" / "sf"
ORLIB_DIR = Path("/work/shared/benchmarks/orlib-pmed")
GRID_CRS = "EPSG:32647"
GRID_SPACING_M = 500.0
MCLP_RADIUS_QUANTILE = 0.05
"""OR-Library MCLP radius: this quantile of the instance's off-diagonal distances (floored)."""

REGION_SIZES: dict[str, dict[str, float | int]] = {
    "prefecture": {"townships": 100, "villages": 5_000, "population": 2_000_000, "area_km2": 31_000.0},
    "large": {"townships": 400, "villages": 20_000, "population": 8_000_000, "area_km2": 124_000.0},
}
"""Generated region sizes: a prefecture of ~100 townships and a large one of ~400 (ten and forty counties of
the valley-county's scale). With clinics in 18% of villages the prefecture has about 1,070 sites."""
REGION_SEED = 7
REGION_CLINIC_SHARE = 0.18
USER_REGION_SIZES: dict[str, dict[str, int]] = {
    "towns60": {"townships": 60, "villages": 3_000, "seed": REGION_SEED},
    "towns100": {"townships": 100, "villages": 5_000, "candidates": 200, "seed": 1},
}
"""Regions as users make them: `allocopt generate-region --townships 60 --villages 3000 --seed 7` and
`allocopt generate-region --townships 100 --villages 5000 --candidates 200 --seed 1`, every other argument at
its default (population and area scaled with the townships, clinics in half of the villages): ten times denser
in villages and sites than the prefecture above."""


def grid_roads(side: int, *, seed: int) -> gpd.GeoDataFrame:
    """A jittered `side` x `side` grid of two-point road segments, about side² nodes.

    Every fifth row and column is a county road (40 km/h), the rest village roads (20 km/h); 5% of the
    segments are left out at random so that paths are not those of a perfect lattice.
    """
    rng = np.random.default_rng(seed)
    xy = np.stack(np.meshgrid(np.arange(side), np.arange(side), indexing="ij"), axis=-1).astype(float)
    xy = (xy + rng.uniform(-0.3, 0.3, size=xy.shape)) * GRID_SPACING_M
    starts, ends, major = [], [], []
    for axis in (0, 1):
        a = xy[:-1, :] if axis == 0 else xy[:, :-1]
        b = xy[1:, :] if axis == 0 else xy[:, 1:]
        line_index = np.broadcast_to(
            np.arange(side)[None, :] if axis == 0 else np.arange(side)[:, None], a.shape[:2]
        )
        starts.append(a.reshape(-1, 2))
        ends.append(b.reshape(-1, 2))
        major.append((line_index % 5 == 0).ravel())
    start, end, is_major = np.concatenate(starts), np.concatenate(ends), np.concatenate(major)
    keep = rng.random(len(start)) >= 0.05
    coords = np.stack([start[keep], end[keep]], axis=1)
    return gpd.GeoDataFrame(
        {
            "road_class": np.where(is_major[keep], "county", "village"),
            "speed_kmh": np.full(int(keep.sum()), np.nan),
            "oneway": np.zeros(int(keep.sum()), dtype=bool),
        },
        geometry=shapely.linestrings(coords),
        crs=GRID_CRS,
    )


def grid_points(side: int, count: int, *, seed: int) -> gpd.GeoSeries:
    """`count` random points over the extent of `grid_roads(side, ...)`."""
    rng = np.random.default_rng(seed)
    xy = rng.uniform(0.0, (side - 1) * GRID_SPACING_M, size=(count, 2))
    return gpd.GeoSeries(shapely.points(xy), crs=GRID_CRS)


def grid_side(nodes: int) -> int:
    """Grid side giving about `nodes` road nodes."""
    return math.ceil(math.sqrt(nodes))


def sf_costs() -> tuple[CostMatrix, np.ndarray]:
    """San Francisco: 205 tracts x 16 stores, network metres, and POP2000 weights in demand order."""
    costs = read_costs_long(
        SF_DIR / "SF_network_distance_candidateStore_16_censusTract_205_new.csv",
        demand_column="DestinationName",
        site_column="name",
        cost_column="distance",
    )
    weights = read_weights(
        SF_DIR / "SF_demand_205_centroid_uniform_weight.csv",
        demand_ids=costs.demand_ids,
        id_column="NAME",
        weight_column="POP2000",
    )
    return costs, np.array([weights[i] for i in costs.demand_ids])


def orlib_costs(name: str) -> tuple[CostMatrix, np.ndarray, int]:
    """An OR-Library p-median instance (`pmedN`): all-pairs costs, unit weights and its p."""
    costs, p = read_orlib_pmedian(ORLIB_DIR / f"{name}.txt")
    return costs, np.ones(len(costs.demand_ids)), p


def orlib_optimum(name: str) -> float:
    """The published optimum of an OR-Library p-median instance (optima.csv)."""
    for line in (ORLIB_DIR / "optima.csv").read_text(encoding="utf-8").splitlines()[1:]:
        fields = line.split(",")
        if fields[0] == name:
            return float(fields[4])
    raise KeyError(f"{name} is not in {ORLIB_DIR / 'optima.csv'}")


def classic_instance(name: str, model: str) -> tuple[CostMatrix, np.ndarray, int, float | None]:
    """Costs, weights, p and (MCLP only) radius of a locate instance: `sf` or an OR-Library `pmedN`.

    SF follows spopt's own tests (p = 4, radius 5,000 m); OR-Library uses the file's p and, for MCLP, the
    MCLP_RADIUS_QUANTILE of the off-diagonal distances as radius.
    """
    if name == "sf":
        costs, weights = sf_costs()
        p, radius = 4, 5_000.0
    else:
        costs, weights, p = orlib_costs(name)
        off_diagonal = costs.costs[~np.eye(len(costs.demand_ids), dtype=bool)]
        radius = float(math.floor(np.quantile(off_diagonal, MCLP_RADIUS_QUANTILE)))
    return costs, weights, p, radius if model == "mclp" else None


PMEDCAP_DIR = Path("/work/shared/benchmarks/orlib-pmedcap")
LORENA_DIR = Path("/work/shared/benchmarks/lorena-sjc")
LORENA_OPTIMA = {"SJC1": 17288.99, "SJC2": 33270.94, "SJC3a": 45335.16, "SJC3b": 40635.90, "SJC4a": 61925.51,
                 "SJC4b": 52458.02}
"""Published optima of the Lorena-Senne instances, to two decimals (lorena-sjc/SOURCE.md, re-solved in VERIFY.md)."""
EXACT_SETS: dict[str, tuple[str, ...]] = {
    "pmed": tuple(f"pmed{k}" for k in range(1, 41)),
    "pmedcap": tuple(f"pmedcap{k:02d}" for k in range(1, 21)),
    "sjc": tuple(LORENA_OPTIMA),
}
"""Every instance of OR-Library's pmed and pmedcap sets and of Lorena and Senne's SJC set."""


def exact_instance(name: str) -> tuple[CostMatrix, int, dict[str, float] | None, dict[str, float] | None, float]:
    """An instance of `EXACT_SETS`: costs, p, loads and capacities (None for the uncapacitated pmed set) and
    its published optimum (optima.csv of OR-Library's sets, `LORENA_OPTIMA`)."""
    if name.startswith("pmedcap"):
        instance = read_orlib_pmedcap(PMEDCAP_DIR / f"{name}.txt")
        assert instance.optimum is not None
        return instance.costs, instance.p, dict(instance.demands), dict(instance.capacities), instance.optimum
    if name.startswith("SJC"):
        instance = read_lorena(LORENA_DIR / f"{name}.dat")
        return instance.costs, instance.p, dict(instance.demands), dict(instance.capacities), LORENA_OPTIMA[name]
    costs, p = read_orlib_pmedian(ORLIB_DIR / f"{name}.txt")
    return costs, p, None, None, orlib_optimum(name)
