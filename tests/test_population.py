"""Apportioning population to townships and demand points: nobody lost, nobody counted twice."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from shapely.geometry import Point, box

from allocopt import population
from allocopt.errors import DataError

CRS = "EPSG:32650"


def townships(*boxes: tuple[float, float, float, float], codes: tuple[str, ...] = ("A", "B")) -> gpd.GeoDataFrame:
    """Township polygons from (xmin, ymin, xmax, ymax) boxes in metres."""
    return gpd.GeoDataFrame({"code": list(codes[: len(boxes)]), "population": 0.0},
                            geometry=[box(*b) for b in boxes], crs=CRS)


TWO = townships((0, 0, 200, 200), (200, 0, 400, 200))


def test_grid_hand_computed_shares():
    # c1 lies in A; c2 straddles the A/B border (half each); c3 lies in B; c4 is half in B, half outside.
    cells = gpd.GeoDataFrame(
        {"population": [100.0, 200.0, 300.0, 400.0]},
        geometry=[box(0, 0, 100, 100), box(150, 0, 250, 100), box(300, 0, 400, 100), box(350, 100, 450, 200)],
        crs=CRS,
    )
    result = population.from_grid(TWO, cells, ids=pd.Series(["c1", "c2", "c3", "c4"]))
    assert result.by_township.to_dict() == pytest.approx({"A": 200.0, "B": 600.0})
    demand = result.demand.set_index("id")
    assert demand["population"].to_dict() == pytest.approx(
        {"c1": 100.0, "c2-A": 100.0, "c2-B": 100.0, "c3": 300.0, "c4": 200.0}
    )
    assert demand.loc["c2-A", "township_code"] == "A" and demand.loc["c2-B", "township_code"] == "B"
    assert demand.loc["c1"].geometry.equals(Point(50, 50))  # interior cell: its centroid
    assert TWO.geometry.iloc[0].covers(demand.loc["c2-A"].geometry)  # split cell: a point in each piece
    assert TWO.geometry.iloc[1].covers(demand.loc["c4"].geometry)
    assert (result.people_read, result.people_assigned, result.people_outside) == pytest.approx((1000, 800, 200))
    assert result.units_outside == 1
    assert result.farthest_outside == ("c4", 0.0)
    assert "200.0 people in 1 grid-cell units" in result.outside_warning()


def test_grid_total_is_kept_for_random_grids():
    rng = np.random.default_rng(3)
    region = townships((0, 0, 330, 500), (330, 0, 1000, 500), (0, 500, 1000, 1000), codes=("A", "B", "C"))
    xs, ys = np.meshgrid(np.arange(-250, 1250, 250.0), np.arange(-250, 1250, 250.0))
    squares = [box(x, y, x + 250, y + 250) for x, y in zip(xs.ravel(), ys.ravel(), strict=True)]
    cells = gpd.GeoDataFrame({"population": rng.integers(0, 500, xs.size).astype(float)}, geometry=squares, crs=CRS)
    result = population.from_grid(region, cells, ids=pd.Series(np.arange(len(cells)).astype(str)))
    assert result.people_assigned + result.people_outside == pytest.approx(cells["population"].sum())
    assert result.by_township.sum() == pytest.approx(result.people_assigned)
    inside = cells[cells.geometry.within(box(0, 0, 1000, 1000))]["population"].sum()
    assert result.people_assigned == pytest.approx(inside)  # the grid is aligned with the region's edge
    assert result.demand["id"].is_unique


def test_overlapping_townships_do_not_count_twice():
    overlapping = townships((0, 0, 200, 100), (100, 0, 300, 100))
    cells = gpd.GeoDataFrame({"population": [90.0]}, geometry=[box(50, 0, 150, 100)], crs=CRS)
    result = population.from_grid(overlapping, cells, ids=pd.Series(["c"]))
    assert result.people_assigned == pytest.approx(90.0)
    assert result.by_township.to_dict() == pytest.approx({"A": 60.0, "B": 30.0})  # shares 1 and 1/2 scaled by 2/3
    assert "overlap" in result.notes[0]


def test_points_assigned_to_containing_township_and_outside_reported():
    points = gpd.GeoDataFrame(
        {"population": [10.0, 20.0, 30.0, 40.0]},
        geometry=[Point(50, 50), Point(250, 50), Point(200, 100), Point(900, 100)],
        crs=CRS,
    )
    result = population.from_points(TWO, points, ids=pd.Series(["v1", "v2", "v3", "v4"]))
    assert result.by_township.to_dict() == pytest.approx({"A": 40.0, "B": 20.0})  # v3 on the border: first, A
    assert result.demand["id"].tolist() == ["v1", "v2", "v3"]
    assert result.people_outside == 40.0 and result.units_outside == 1
    assert result.farthest_outside == ("v4", pytest.approx(500.0))
    warning = result.outside_warning()
    assert "40.0 people" in warning and "'v4'" in warning and "0.50 km" in warning


def test_township_population_only():
    region = TWO.assign(population=[123.0, 456.0])
    result = population.from_townships(region)
    assert result.by_township.to_dict() == {"A": 123.0, "B": 456.0}
    assert len(result.demand) == 0 and result.outside_warning() is None
    assert result.people_read == result.people_assigned == 579.0


@pytest.mark.parametrize("bad", [-1.0, np.nan, "many"])
def test_bad_population_values_are_named(bad):
    points = gpd.GeoDataFrame({"population": [1.0, bad]}, geometry=[Point(1, 1), Point(2, 2)], crs=CRS)
    with pytest.raises(DataError, match="row 2"):
        population.from_points(TWO, points, ids=pd.Series(["a", "b"]))


def test_missing_population_column_suggests_mapping():
    points = gpd.GeoDataFrame({"人口": [1.0]}, geometry=[Point(1, 1)], crs=CRS)
    with pytest.raises(DataError, match="--map population="):
        population.from_points(TWO, points, ids=pd.Series(["a"]))


def write_raster(path, values: np.ndarray, *, west: float, north: float, cell: float, crs: str | None) -> None:
    """A single-band float GeoTIFF with square cells."""
    rasterio = pytest.importorskip("rasterio")
    from rasterio.transform import from_origin

    with rasterio.open(path, "w", driver="GTiff", height=values.shape[0], width=values.shape[1], count=1,
                       dtype="float64", crs=crs, transform=from_origin(west, north, cell, cell), nodata=-1.0) as out:
        out.write(values, 1)


RASTER = np.array([[1.0, 2.0, 3.0, 4.0, 5.0],
                   [6.0, 7.0, 0.0, 9.0, -1.0],  # -1: nodata
                   [11.0, 12.0, 13.0, 14.0, 15.0]])


L_REGION = townships((0, 0, 200, 300), (200, 0, 400, 200))
"""100 m raster cells from x=0, y=300: columns 0-1 have their centres in A; columns 2-3 of rows 1-2 in B; row 0
of columns 2-3 lies in the region's bounding box but in no township; column 4 lies beyond the bounding box."""


def test_raster_zonal_sums_by_cell_centre(tmp_path):
    write_raster(tmp_path / "pop.tif", RASTER, west=0, north=300, cell=100, crs=CRS)
    result, note = population.from_raster(L_REGION, tmp_path / "pop.tif")
    assert note is None
    assert result.by_township.to_dict() == pytest.approx({"A": 1 + 2 + 6 + 7 + 11 + 12, "B": 9 + 13 + 14})
    assert result.people_read == pytest.approx(82.0)  # the window over the townships: column 4 is not read
    assert result.people_outside == pytest.approx(3 + 4) and result.units_outside == 2
    assert len(result.demand) == 9  # populated cells inside (the 0 cell gives no point)
    assert result.demand.geometry.iloc[0].equals(Point(50, 250))
    assert result.demand["id"].iloc[0] == "r0c0"


def test_raster_in_other_crs_reprojects_townships(tmp_path):
    write_raster(tmp_path / "pop.tif", RASTER, west=0, north=300, cell=100, crs=CRS)
    elsewhere = L_REGION.to_crs("EPSG:3857")
    result, note = population.from_raster(elsewhere, tmp_path / "pop.tif")
    assert "reprojected to the raster's CRS" in note and "EPSG:32650" in note
    assert result.by_township.to_dict() == pytest.approx({"A": 39.0, "B": 36.0})
    assert result.people_outside == pytest.approx(7.0)
    assert result.demand.crs.to_epsg() == 3857


def test_raster_without_crs_is_refused(tmp_path):
    write_raster(tmp_path / "nocrs.tif", RASTER, west=0, north=300, cell=100, crs=None)
    with pytest.raises(DataError, match="no CRS"):
        population.from_raster(TWO, tmp_path / "nocrs.tif")


def test_raster_not_covering_the_townships_is_refused(tmp_path):
    write_raster(tmp_path / "far.tif", RASTER, west=50_000, north=80_000, cell=100, crs=CRS)
    with pytest.raises(DataError, match="does not cover"):
        population.from_raster(TWO, tmp_path / "far.tif")
