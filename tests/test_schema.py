"""schema.validate: column order, dtype coercion, defaults, and one DataError per kind of bad input."""

from __future__ import annotations

import math

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st
from shapely.geometry import LineString, Point, Polygon, box

from allocopt.errors import DataError
from allocopt.schema import BOOL_WORDS, LAYERS, describe_rows, row_labels, validate

CRS = "EPSG:32647"
BOWTIE = Polygon([(0, 0), (10, 10), (10, 0), (0, 10)])


def facilities(**columns: list[object]) -> gpd.GeoDataFrame:
    """Three valid facility rows, with `columns` replacing or adding columns."""
    data: dict[str, list[object]] = {
        "id": ["F1", "F2", "F3"],
        "name": ["a", "b", "c"],
        "level": ["township_hc", "village_clinic", "county_hospital"],
        "gps": [2, 1, 0],
    }
    data.update(columns)
    return gpd.GeoDataFrame(data, geometry=[Point(0, 0), Point(1, 0), Point(2, 0)], crs=CRS)


def townships(**columns: list[object]) -> gpd.GeoDataFrame:
    """Two valid township rows, with `columns` replacing or adding columns."""
    data: dict[str, list[object]] = {"code": ["T1", "T2"], "name": ["上江镇", "河口乡"], "population": [100.0, 50.0]}
    data.update(columns)
    return gpd.GeoDataFrame(data, geometry=[box(0, 0, 1, 1), box(1, 0, 2, 1)], crs=CRS)


def test_result_has_spec_columns_in_order_then_extras_then_geometry() -> None:
    frame = facilities(remark=["x", "y", "z"])
    out = validate(frame, "facilities", source="f.csv")
    spec_names = [column.name for column in LAYERS["facilities"].columns]
    assert list(out.columns) == [*spec_names, "remark", "geometry"]
    assert out.crs == frame.crs
    assert list(out["remark"]) == ["x", "y", "z"]


def test_input_frame_is_not_modified() -> None:
    frame = facilities(id=[101, 102.0, "F3"], gps=["2", None, 3.0])
    before = frame.copy()
    validate(frame, "facilities", source="f.csv")
    pd.testing.assert_frame_equal(frame, before)


def test_ids_become_strings_without_decimal_part_and_keep_leading_zeros() -> None:
    out = validate(facilities(id=[101, 102.0, "007"]), "facilities", source="f.csv")
    assert list(out["id"]) == ["101", "102", "007"]
    out = validate(townships(code=[530101, 530102]), "townships", source="t.gpkg")
    assert list(out["code"]) == ["530101", "530102"]


def test_missing_optional_columns_and_blank_cells_take_defaults() -> None:
    out = validate(facilities(gps=[3, None, ""]), "facilities", source="f.csv")
    assert list(out["gps"]) == [3, 0, 0]
    assert out["gps"].dtype == np.int64
    assert list(out["beds"]) == [0, 0, 0] and list(out["ct"]) == [0, 0, 0]
    assert list(out["stroke_center"]) == [False, False, False]
    assert list(out["consortium_lead"]) == ["", "", ""]
    out = validate(townships(), "townships", source="t.gpkg")
    assert out["population_65plus"].isna().all()
    candidates = gpd.GeoDataFrame(
        {"id": ["C1"], "name": ["c"], "open_cost_yuan": ["1000"]}, geometry=[Point(0, 0)], crs=CRS
    )
    out = validate(candidates, "candidates", source="c.gpkg")
    assert out["level"].tolist() == ["township_hc"] and out["open_cost_yuan"].tolist() == [1000.0]


def test_numbers_given_as_text_are_parsed() -> None:
    out = validate(facilities(gps=[" 4 ", "0", "12"], beds=["1.0", "20", None]), "facilities", source="f.csv")
    assert list(out["gps"]) == [4, 0, 12]
    assert list(out["beds"]) == [1, 20, 0]


@pytest.mark.parametrize(("word", "expected"), [*BOOL_WORDS.items(), ("TRUE", True), (" Yes ", True),
                                                 (1, True), (0.0, False), (True, True), (np.False_, False)])
def test_bool_columns_accept_common_spellings(word: object, expected: bool) -> None:
    out = validate(facilities(stroke_center=[word, None, "no"]), "facilities", source="f.csv")
    assert list(out["stroke_center"]) == [expected, False, False]
    assert out["stroke_center"].dtype == bool


def test_empty_layer_validates_to_typed_empty_frame() -> None:
    empty = gpd.GeoDataFrame(
        {"id": pd.Series([], dtype=object), "name": pd.Series([], dtype=object), "open_cost_yuan": []},
        geometry=gpd.GeoSeries([], crs=CRS),
    )
    out = validate(empty, "candidates", source="c.gpkg")
    assert len(out) == 0
    assert list(out.columns) == ["id", "name", "open_cost_yuan", "level", "geometry"]


BAD_INPUTS = [
    pytest.param(facilities(gps=[1, "two", 3]), ["row 2 (id 'F2')", "'gps'", "'two' is not a number"],
                 id="non-numeric"),
    pytest.param(townships(population=[100.0, math.nan]), ["row 2 (id 'T2')", "'population'", "required"],
                 id="nan-required"),
    pytest.param(facilities(beds=[0, -5, 0]), ["row 2 (id 'F2')", "'beds'", "-5 is below the minimum 0"],
                 id="negative"),
    pytest.param(townships(population=[math.inf, 1.0]), ["row 1 (id 'T1')", "'population'", "infinite"],
                 id="infinite"),
    pytest.param(facilities(gps=[1, 2.5, 0]), ["row 2 (id 'F2')", "'gps'", "2.5 is not a whole number"],
                 id="fraction"),
    pytest.param(facilities(id=["F1", "F2", "F1"]), ["field 'id'", "rows 1 and 3 both have id 'F1'"],
                 id="duplicate-id"),
    pytest.param(facilities(id=[101, 102, 101.0]), ["rows 1 and 3 both have id '101'"],
                 id="duplicate-id-int-and-float"),
    pytest.param(facilities(id=["F1", " ", "F3"]), ["row 2,", "field 'id'", "empty"], id="empty-id"),
    pytest.param(facilities(level=["township_hc", "clinic", "Hospital"]),
                 ["row 2 (id 'F2') (and 1 more row)", "'level'", "'clinic'", "village_clinic, township_hc"],
                 id="level-not-allowed"),
    pytest.param(facilities(trauma_center=["no", "maybe", "yes"]),
                 ["row 2 (id 'F2')", "'trauma_center'", "'maybe'", "true, false, 1, 0, yes, no"],
                 id="bool-not-allowed"),
    pytest.param(facilities().drop(columns="level"),
                 ["required column 'level'", "columns present: id, name, gps"], id="missing-column"),
    pytest.param(townships().rename(columns={"population": "Population"}),
                 ["required column 'population'", "Is 'Population' meant?"], id="missing-column-close-match"),
    pytest.param(townships().set_geometry([box(0, 0, 1, 1), BOWTIE]),
                 ["row 2 (id 'T2')", "Self-intersection", "make_valid"], id="invalid-polygon"),
    pytest.param(townships().set_geometry([box(0, 0, 1, 1), Point(0, 0)]),
                 ["row 2 (id 'T2')", "Point", "Polygon or MultiPolygon"], id="wrong-geometry-kind"),
    pytest.param(townships().set_geometry([None, box(0, 0, 1, 1)]), ["row 1 (id 'T1')", "empty"],
                 id="missing-geometry"),
    pytest.param(townships().set_geometry([box(0, 0, 1, 1), Polygon()]), ["row 2 (id 'T2')", "empty"],
                 id="empty-geometry"),
]


@pytest.mark.parametrize(("frame", "fragments"), BAD_INPUTS)
def test_bad_input_raises_data_error_naming_source_layer_row_and_field(
    frame: gpd.GeoDataFrame, fragments: list[str]
) -> None:
    layer = "facilities" if "level" in frame or "gps" in frame else "townships"
    with pytest.raises(DataError) as raised:
        validate(frame, layer, source="input/file.gpkg")
    message = str(raised.value)
    assert message.startswith(f"input/file.gpkg, layer '{layer}'")
    for fragment in fragments:
        assert fragment in message


def test_road_class_outside_the_list_names_the_allowed_classes() -> None:
    roads = gpd.GeoDataFrame(
        {"road_class": ["national", "highway"]},
        geometry=[LineString([(0, 0), (1, 0)]), LineString([(1, 0), (2, 0)])], crs=CRS,
    )
    with pytest.raises(DataError, match=r"roads\.gpkg, layer 'roads', row 2, field 'road_class': 'highway'.*"
                                        r"expressway, national, provincial, county, township, village"):
        validate(roads, "roads", source="roads.gpkg")


def test_frame_without_geometry_is_a_data_error() -> None:
    with pytest.raises(DataError, match="no geometry column"):
        validate(pd.DataFrame({"code": ["T1"]}), "townships", source="t.csv")  # type: ignore[arg-type]


def test_every_default_satisfies_its_own_column_rules() -> None:
    for spec in LAYERS.values():
        for column in spec.columns:
            if column.default is None:
                continue
            if column.allowed is not None:
                assert column.default in column.allowed, column.name
            if column.minimum is not None and not (isinstance(column.default, float) and math.isnan(column.default)):
                assert column.default >= column.minimum, column.name  # type: ignore[operator]


def test_row_labels_and_describe_rows() -> None:
    frame = pd.DataFrame({"id": ["A", "", 7.0]})
    labels = row_labels(frame, "id")
    assert labels == ["row 1 (id 'A')", "row 2", "row 3 (id '7')"]
    assert describe_rows(labels, np.array([False, True, True])) == "row 2 (and 1 more row)"
    assert describe_rows(labels, np.array([True, True, True])) == "row 1 (id 'A') (and 2 more rows)"
    assert row_labels(frame) == ["row 1", "row 2", "row 3"]


@given(st.lists(st.integers(min_value=0, max_value=10**15), min_size=1, max_size=6, unique=True), st.booleans())
def test_integer_ids_read_as_int_or_float_map_to_the_same_text(ids: list[int], as_float: bool) -> None:
    values = [float(i) for i in ids] if as_float else ids
    frame = gpd.GeoDataFrame({"code": values, "name": "t", "population": 1.0},
                             geometry=[box(i, 0, i + 1, 1) for i in range(len(ids))], crs=CRS)
    assert validate(frame, "townships", source="t").code.tolist() == [str(i) for i in ids]
