"""Column specifications of every region layer (name, dtype, unit, default, meaning) and their validation."""

from __future__ import annotations

import difflib
import math
import unicodedata
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import cast

import geopandas as gpd
import numpy as np
import pandas as pd

from allocopt.errors import AllocoptWarning, DataError
from allocopt.services import CENTERS, EQUIPMENT, HOSPITAL_KINDS, LEVELS, center_column


@dataclass(frozen=True)
class ColumnSpec:
    """One column of a layer. `default=None` means the column is required."""

    name: str
    dtype: str  # "str", "int", "float" or "bool"
    unit: str
    description: str
    default: object = None
    minimum: float | None = None
    allowed: tuple[str, ...] | None = None
    maximum: float | None = None
    minimum_allowed: bool = True  # False: values must lie strictly above `minimum`
    hint: str = ""  # how to fix a value outside `allowed`, appended to the message


@dataclass(frozen=True)
class LayerSpec:
    """A layer: its geometry kind, the column that identifies rows, and its columns."""

    name: str
    geometry: str  # "polygon", "point" or "line"
    id_column: str | None
    columns: tuple[ColumnSpec, ...]
    required: bool = True
    generated_id_prefix: str | None = None
    """When set, blank ids are filled with this prefix and the 1-based row number (`generated_id`)."""
    noted_defaults: tuple[str, ...] = ()  # optional columns whose absence is warned about (older bundles)


_ABSENT_MEANS = {
    "hospital_kind": "every hospital is taken as a general hospital",
    "central": "no township health center is taken as a central one",
    "village_doctors": "village clinics are taken to have no village doctors (a clinic gives first contact only "
                       "with a GP)",
}


class DefaultsWarning(AllocoptWarning):
    """A layer lacks columns that change the plan, and their documented defaults were used."""


ROAD_CLASSES: tuple[str, ...] = ("expressway", "national", "provincial", "county", "township", "village")

MAX_POPULATION = 100_000_000.0
"""Most people one township or demand point may hold: ten times the population of the largest Chinese city
district or county, so that only unit and typing errors (an area or an ID in the population column, a lost
decimal point) exceed it."""

MAX_COUNT = 100_000
"""Most GPs, beds or units of one equipment type a single facility may report: ten times the beds of the largest
hospitals; larger counts are typing errors (and would overflow whole-number arithmetic)."""

MAX_SPEED_KMH = 200.0
"""Fastest road speed accepted: well above the 120 km/h limit of Chinese expressways, so only unit errors (m/s,
speeds in m/min) exceed it."""

MAX_COST_YUAN = 100_000_000_000.0
"""Largest one-off opening cost of a candidate site: 100 billion yuan, more than any hospital campus costs."""

_EQUIPMENT_COLUMNS = tuple(
    ColumnSpec(k, "int", "units", f"{k} units installed", default=0, minimum=0, maximum=MAX_COUNT)
    for k in EQUIPMENT
)
_CENTER_COLUMNS = tuple(
    ColumnSpec(center_column(c), "bool", "", f"designated {c.replace('_', ' ')} center", default=False)
    for c in CENTERS
)

LAYERS: dict[str, LayerSpec] = {
    "townships": LayerSpec(
        "townships",
        "polygon",
        "code",
        (
            ColumnSpec("code", "str", "", "township (乡镇/街道) code, unique"),
            ColumnSpec("name", "str", "", "township name"),
            ColumnSpec("population", "float", "people", "resident population", minimum=0, maximum=MAX_POPULATION),
            ColumnSpec(
                "population_65plus", "float", "people", "residents aged 65 and over (NaN: unknown)",
                default=float("nan"), minimum=0, maximum=MAX_POPULATION,
            ),
        ),
    ),
    "demand": LayerSpec(
        "demand",
        "point",
        "id",
        (
            ColumnSpec("id", "str", "", "demand point (village or grid cell) id, unique"),
            ColumnSpec("township_code", "str", "", "code of the township the point belongs to"),
            ColumnSpec(
                "population", "float", "people", "residents represented by the point", minimum=0,
                maximum=MAX_POPULATION,
            ),
            ColumnSpec(
                "population_65plus", "float", "people", "residents aged 65 and over (NaN: unknown)",
                default=float("nan"), minimum=0, maximum=MAX_POPULATION,
            ),
        ),
        required=False,
    ),
    "facilities": LayerSpec(
        "facilities",
        "point",
        "id",
        (
            ColumnSpec("id", "str", "", "facility id, unique across facilities and candidates"),
            ColumnSpec("name", "str", "", "facility name"),
            ColumnSpec(
                "level", "str", "", "facility level",
                allowed=LEVELS,
                hint="build-region maps Chinese level words (村卫生室, 乡镇卫生院, 社区卫生服务中心, 县医院, 三级...); "
                     "map your column with --map level=COLUMN",
            ),
            ColumnSpec(
                "hospital_kind", "str", "", "kind of a hospital (blank: general; ignored below hospital level)",
                default="", allowed=("", *HOSPITAL_KINDS),
                hint="build-region maps Chinese names (人民医院, 中医医院, 妇幼保健院...); map your column with "
                     "--map hospital_kind=COLUMN",
            ),
            ColumnSpec("central", "bool", "", "a central township health center (中心卫生院)", default=False),
            ColumnSpec("gps", "int", "GPs", "general practitioners on staff", default=0, minimum=0, maximum=MAX_COUNT),
            ColumnSpec(
                "village_doctors", "int", "people", "village doctors and other licensed staff of a village clinic "
                "(乡村医生)", default=0, minimum=0, maximum=MAX_COUNT,
            ),
            ColumnSpec("beds", "int", "beds", "inpatient beds", default=0, minimum=0, maximum=MAX_COUNT),
            *_EQUIPMENT_COLUMNS,
            *_CENTER_COLUMNS,
            ColumnSpec(
                "consortium_lead", "str", "", "id of the hospital leading this facility's medical consortium",
                default="",
            ),
        ),
        noted_defaults=("hospital_kind", "central", "village_doctors"),
    ),
    "candidates": LayerSpec(
        "candidates",
        "point",
        "id",
        (
            ColumnSpec("id", "str", "", "candidate site id, unique across facilities and candidates"),
            ColumnSpec("name", "str", "", "candidate site name"),
            ColumnSpec(
                "open_cost_yuan", "float", "yuan", "one-off cost of opening the site", minimum=0,
                maximum=MAX_COST_YUAN,
            ),
            ColumnSpec(
                "level", "str", "", "level the site has once opened", default="township_hc",
                allowed=LEVELS,
            ),
        ),
        required=False,
    ),
    "roads": LayerSpec(
        "roads",
        "line",
        "id",
        (
            ColumnSpec(
                "id", "str", "", "road line id, unique (blank: 'r' and the row number, e.g. r0007)", default="",
            ),
            ColumnSpec("road_class", "str", "", "road class (sets the default speed)", allowed=ROAD_CLASSES),
            ColumnSpec(
                "speed_kmh", "float", "km/h", "travel speed (NaN: the class default)", default=float("nan"),
                minimum=0, minimum_allowed=False, maximum=MAX_SPEED_KMH,
            ),
            ColumnSpec("oneway", "bool", "", "traffic only in the line's drawing direction", default=False),
        ),
        generated_id_prefix="r",
    ),
    "ems_stations": LayerSpec(
        "ems_stations",
        "point",
        "id",
        (
            ColumnSpec("id", "str", "", "120 ambulance station id, unique"),
            ColumnSpec("name", "str", "", "station name"),
            ColumnSpec(
                "township_code", "str", "", "code of the station's township (blank: the township holding the point)",
                default="",
            ),
            ColumnSpec(
                "ambulances", "int", "ambulances", "ambulances on duty at the station today", default=0, minimum=0,
                maximum=MAX_COUNT,
            ),
            ColumnSpec(
                "candidate", "bool", "", "a possible new station (no ambulances today; opened by the plan)",
                default=False,
            ),
        ),
        required=False,
    ),
    "hazards": LayerSpec(
        "hazards",
        "zone",
        "id",
        (
            ColumnSpec(
                "id", "str", "", "hazard zone id, unique (blank: 'h' and the row number, e.g. h0003)", default="",
            ),
            ColumnSpec("kind", "str", "", "what the hazard is (landslide, flood, ...), for the reader", default=""),
        ),
        required=False,
        generated_id_prefix="h",
    ),
}

GEOMETRY_TYPES: dict[str, tuple[str, ...]] = {
    "polygon": ("Polygon", "MultiPolygon"),
    "point": ("Point",),
    "line": ("LineString", "MultiLineString"),
    "zone": ("Point", "MultiPoint", "Polygon", "MultiPolygon"),
}
"""Shapely geometry types each layer geometry kind accepts."""

BOOL_WORDS: dict[str, bool] = {"true": True, "false": False, "1": True, "0": False, "yes": True, "no": False}
"""Spellings a bool column accepts (case-insensitive)."""


def row_labels(frame: pd.DataFrame, id_column: str | None = None) -> list[str]:
    """Names of the rows in error messages: the 1-based row number, with the id when the row has one."""
    labels = [f"row {number}" for number in range(1, len(frame) + 1)]
    if id_column is None or id_column not in frame:
        return labels
    ids = [_to_text(value) for value in frame[id_column]]
    return [f"{label} (id '{value}')" if value else label for label, value in zip(labels, ids, strict=True)]


def describe_rows(labels: Sequence[str], mask: np.ndarray) -> str:
    """The first row where `mask` is set, plus how many more rows share the problem."""
    positions = np.flatnonzero(mask)
    more = len(positions) - 1
    return labels[positions[0]] + (f" (and {more} more row{'s' if more > 1 else ''})" if more else "")


def check_geometry(frame: gpd.GeoDataFrame, kind: str, *, where: str, labels: Sequence[str]) -> None:
    """Raise DataError at the first row whose geometry is missing, empty, of the wrong kind or invalid.

    `kind` is a key of GEOMETRY_TYPES; `where` names the file and layer; `labels` name the rows.
    """
    geometry = frame.geometry
    empty = geometry.isna().to_numpy() | geometry.is_empty.to_numpy()
    if empty.any():
        raise DataError(
            f"{where}, {describe_rows(labels, empty)}: the geometry is empty; draw the feature or delete the row."
        )
    types = geometry.geom_type.to_numpy()
    wrong = ~np.isin(types, GEOMETRY_TYPES[kind])
    if wrong.any():
        found = types[np.flatnonzero(wrong)[0]]
        raise DataError(
            f"{where}, {describe_rows(labels, wrong)}: the geometry is a {found}, but this layer holds {kind}s "
            f"({' or '.join(GEOMETRY_TYPES[kind])}); export the layer with the right geometry type."
        )
    reasons = geometry.is_valid_reason().to_numpy()
    invalid = reasons != "Valid Geometry"
    if invalid.any():
        reason = reasons[np.flatnonzero(invalid)[0]]
        raise DataError(
            f"{where}, {describe_rows(labels, invalid)}: the geometry is invalid ({reason}); repair it, e.g. with "
            "QGIS 'Fix geometries' or the make_valid function."
        )


def validate(gdf: gpd.GeoDataFrame, layer: str, *, source: str) -> gpd.GeoDataFrame:
    """Check `gdf` against `LAYERS[layer]` and return a new, clean frame; `gdf` itself is left unchanged.

    The result holds the spec columns in spec order with coerced dtypes (ids and other text as str, so an id read
    as 101 or 101.0 becomes "101"), then any extra columns, then `geometry`, on a fresh 0..n-1 index. Optional
    columns that are absent, and blank cells of optional columns, take the column default. Bool columns accept
    true/false, 1/0 and yes/no. Every problem a planner can fix in the file raises DataError naming `source`, the
    layer, the row (1-based number and id) and the field: missing required columns, non-numbers, blanks in required
    fields, values below the minimum or above the maximum, infinities, fractions in whole-number columns, empty or
    duplicate ids, values outside the allowed list, repeated column names, and missing, wrong-kind or invalid
    geometries.
    """
    spec = LAYERS[layer]
    where = f"{source}, layer '{layer}'"
    repeated = gdf.columns[gdf.columns.duplicated()]
    if len(repeated):
        raise DataError(
            f"{where}: column '{repeated[0]}' appears more than once; keep one of them (check `rename` in "
            "region.toml, which may map two columns to one name)."
        )
    try:
        geometry = gdf.geometry
    except AttributeError as exc:
        raise DataError(f"{where}: the layer has no geometry column; export it from a GIS with its geometry.") from exc
    frame = gdf.reset_index(drop=True)
    present = [str(column) for column in frame.columns if column != geometry.name]
    _check_required_columns(spec, present, where=where)
    absent = [name for name in spec.noted_defaults if name not in present]
    if absent:
        taken = "; ".join(_ABSENT_MEANS[name] for name in absent)
        warnings.warn(f"{where}: no column {', '.join(absent)}, so {taken} (docs/scenario.md); add the columns to "
                      "plan with facility types.", DefaultsWarning, stacklevel=2)
    blank = pd.Series(np.full(len(frame), np.nan, dtype=object))
    columns: dict[str, pd.Series] = {}
    labels = row_labels(frame)
    # The id column is coerced first, so that messages about later columns name each row by its id.
    for column in sorted(spec.columns, key=lambda c: c.name != spec.id_column):
        raw = frame.get(column.name, blank)
        columns[column.name] = _COERCERS[column.dtype](raw, column, _Rows(where, labels))
        if column.name == spec.id_column:
            given = columns[column.name]  # messages name rows by the ids the file gives, not generated ones
            if spec.generated_id_prefix is not None:
                columns[column.name] = _with_generated_ids(given, spec.generated_id_prefix)
            _check_ids(columns[column.name], column.name, _Rows(where, labels),
                       raw=pd.Series([_to_text(value) for value in raw]))
            labels = row_labels(pd.DataFrame({column.name: given}), column.name)
    check_geometry(frame, spec.geometry, where=where, labels=labels)
    ordered = {column.name: columns[column.name] for column in spec.columns}
    extras = {name: frame[name] for name in present if name not in ordered and name != "geometry"}
    return gpd.GeoDataFrame({**ordered, **extras}, geometry=geometry.reset_index(drop=True).rename("geometry"))


@dataclass(frozen=True)
class _Rows:
    """Where a layer's rows come from, for error messages."""

    where: str
    labels: list[str]

    def error(self, mask: np.ndarray | pd.Series, field: str, problem: str) -> DataError:
        """A DataError at the first masked row and `field`."""
        return DataError(f"{self.where}, {describe_rows(self.labels, np.asarray(mask))}, field '{field}': {problem}")


def _check_required_columns(spec: LayerSpec, present: list[str], *, where: str) -> None:
    """Raise DataError for the first required column that is missing, listing the columns present."""
    for column in spec.columns:
        if column.default is None and column.name not in present:
            close = difflib.get_close_matches(column.name, present, n=1)
            hint = f" Is '{close[0]}' meant? Rename it." if close else ""
            raise DataError(
                f"{where}: required column '{column.name}' ({column.description}) is missing; columns present: "
                f"{', '.join(present) or 'none'}.{hint} Add the column, or map a column to it with `rename` in "
                "region.toml."
            )


def _to_text(value: object) -> str:
    """A cell as text: blanks become "", whole floats lose their ".0", surrounding spaces go."""
    if value is None or (isinstance(value, float | np.floating) and math.isnan(value)) or value is pd.NA:
        return ""
    if isinstance(value, float | np.floating) and float(value).is_integer():
        return str(int(value))
    return str(value).strip()


KEY_COLUMNS = frozenset({"id", "code", "township_code", "consortium_lead"})
"""Text columns that identify or refer to a row: normalised to Unicode NFC, so that an id typed on one system
("é" as one code point) and the same id from another ("e" plus a combining accent) are one id."""


def _coerce_text(raw: pd.Series, column: ColumnSpec, rows: _Rows) -> pd.Series:
    """Text column: reject blanks in a required column, fill them with the default otherwise, check the allowed
    values; ids and references (`KEY_COLUMNS`) are normalised to NFC."""
    text = pd.Series([_to_text(value) for value in raw], dtype=object)
    if column.name in KEY_COLUMNS:
        text = text.map(lambda value: unicodedata.normalize("NFC", value))
    blanks = text == ""
    if column.default is None and blanks.any():
        raise rows.error(
            blanks, column.name, f"the value is empty, but the field is required; enter the {column.description}."
        )
    text = text.mask(blanks, str(column.default))
    if column.allowed is not None:
        bad = ~text.isin(column.allowed)
        if bad.any():
            value = text[bad].iloc[0]
            raise rows.error(
                bad, column.name,
                f"'{value}' is not an allowed {column.name}; use one of: "
                f"{', '.join(a for a in column.allowed if a) or '(blank)'}.{' ' + column.hint if column.hint else ''}",
            )
    return text.astype(str)


def generated_id(prefix: str, row_number: int) -> str:
    """The id given to a row left without one: `prefix` and the 1-based row number, four digits at least
    (r0007). It is stable as long as the file's rows keep their order; give ids in the file to be safe from that."""
    return f"{prefix}{row_number:04d}"


def _with_generated_ids(ids: pd.Series, prefix: str) -> pd.Series:
    """`ids` with every blank filled by `generated_id` from its row number."""
    filled = [value or generated_id(prefix, number) for number, value in enumerate(ids, start=1)]
    return pd.Series(filled, index=ids.index, dtype=object).astype(str)


def _check_ids(ids: pd.Series, field: str, rows: _Rows, raw: pd.Series | None = None) -> None:
    """Raise DataError for two rows sharing one id (naming both rows); blank ids fail as required text."""
    duplicated = ids.duplicated(keep=False).to_numpy()
    if duplicated.any():
        value = ids.iloc[np.flatnonzero(duplicated)[0]]
        first, second = np.flatnonzero((ids == value).to_numpy())[:2]
        as_given = (raw.iloc[first], raw.iloc[second]) if raw is not None else ("", "")
        in_nfc = {unicodedata.normalize("NFC", v) for v in as_given}
        only_normalisation = as_given[0] != as_given[1] and len(in_nfc) == 1
        normalised = (" (they differ only in Unicode normalisation, the same letters stored as different code "
                      "points, and are one id in NFC)" if only_normalisation else "")
        raise DataError(
            f"{rows.where}, field '{field}': rows {first + 1} and {second + 1} both have id '{value}'{normalised}; "
            "ids must be unique."
        )


def _coerce_number(raw: pd.Series, column: ColumnSpec, rows: _Rows, *, whole: bool) -> pd.Series:
    """Numeric column: reject text, infinities, required blanks, values below the minimum and (if whole) fractions."""
    cells = pd.Series([_to_text(value) if isinstance(value, str) else value for value in raw], dtype=object)
    cells = cells.mask(cells == "", np.nan)
    numbers = pd.to_numeric(cells, errors="coerce").astype(float)
    unit = f" ({column.unit})" if column.unit else ""
    kind = "whole number" if whole else "number"
    not_numbers = cells.notna() & numbers.isna()
    if not_numbers.any():
        value = cells[not_numbers].iloc[0]
        raise rows.error(not_numbers, column.name, f"'{value}' is not a number; enter a {kind}{unit}.")
    infinite = np.isinf(numbers)
    if infinite.any():
        raise rows.error(infinite, column.name, f"the value is infinite; enter a finite {kind}{unit}.")
    blanks = numbers.isna()
    if blanks.any():
        if column.default is None:
            raise rows.error(
                blanks, column.name, f"the value is empty, but the field is required; enter a {kind}{unit}."
            )
        numbers = numbers.fillna(float(cast(float, column.default)))
    if column.minimum is not None:
        low = (numbers < column.minimum) | (~column.minimum_allowed & (numbers == column.minimum))
        if low.any():
            value = numbers[low].iloc[0]
            problem = (
                f"{value:g} is below the minimum {column.minimum:g}{unit}" if value < column.minimum
                else f"the value must be above {column.minimum:g}{unit}, not {value:g}"
            )
            raise rows.error(low, column.name, f"{problem}; correct the value.")
    if column.maximum is not None:
        high = numbers > column.maximum
        if high.any():
            value = numbers[high].iloc[0]
            raise rows.error(
                high, column.name,
                f"{value:g} is above the maximum {column.maximum:g}{unit}; check the value and its unit.",
            )
    if whole:
        fractional = (numbers % 1) != 0
        if fractional.any():
            value = numbers[fractional].iloc[0]
            raise rows.error(fractional, column.name, f"{value:g} is not a whole number; enter a {kind}{unit}.")
        return numbers.astype("int64")
    return numbers


def _coerce_bool(raw: pd.Series, column: ColumnSpec, rows: _Rows) -> pd.Series:
    """Bool column: accept the spellings of BOOL_WORDS, fill blanks with the default."""
    words = [_to_text(value).lower() for value in raw]
    if column.default is not None:
        words = [word or str(column.default).lower() for word in words]
    bad = np.array([word not in BOOL_WORDS for word in words], dtype=bool)
    if bad.any():
        value = words[np.flatnonzero(bad)[0]] or "(empty)"
        raise rows.error(bad, column.name, f"'{value}' is not a yes/no value; use one of: {', '.join(BOOL_WORDS)}.")
    return pd.Series([BOOL_WORDS[word] for word in words], dtype=bool)


_COERCERS: dict[str, Callable[[pd.Series, ColumnSpec, _Rows], pd.Series]] = {
    "str": _coerce_text,
    "int": lambda raw, column, rows: _coerce_number(raw, column, rows, whole=True),
    "float": lambda raw, column, rows: _coerce_number(raw, column, rows, whole=False),
    "bool": _coerce_bool,
}
