"""Column specifications of every region layer: name, dtype, unit, default and meaning, kept in one table."""

from __future__ import annotations

from dataclasses import dataclass

from allocopt.services import CENTERS, EQUIPMENT, center_column


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


@dataclass(frozen=True)
class LayerSpec:
    """A layer: its geometry kind, the column that identifies rows, and its columns."""

    name: str
    geometry: str  # "polygon", "point" or "line"
    id_column: str | None
    columns: tuple[ColumnSpec, ...]
    required: bool = True


ROAD_CLASSES: tuple[str, ...] = ("expressway", "national", "provincial", "county", "township", "village")

_EQUIPMENT_COLUMNS = tuple(
    ColumnSpec(k, "int", "units", f"{k} units installed", default=0, minimum=0) for k in EQUIPMENT
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
            ColumnSpec("population", "float", "people", "resident population", minimum=0),
            ColumnSpec(
                "population_65plus", "float", "people", "residents aged 65 and over (NaN: unknown)",
                default=float("nan"), minimum=0,
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
            ColumnSpec("population", "float", "people", "residents represented by the point", minimum=0),
            ColumnSpec(
                "population_65plus", "float", "people", "residents aged 65 and over (NaN: unknown)",
                default=float("nan"), minimum=0,
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
                allowed=("village_clinic", "township_hc", "community_hc", "county_hospital", "tertiary_hospital"),
            ),
            ColumnSpec("gps", "int", "GPs", "general practitioners on staff", default=0, minimum=0),
            ColumnSpec("beds", "int", "beds", "inpatient beds", default=0, minimum=0),
            *_EQUIPMENT_COLUMNS,
            *_CENTER_COLUMNS,
            ColumnSpec(
                "consortium_lead", "str", "", "id of the hospital leading this facility's medical consortium",
                default="",
            ),
        ),
    ),
    "candidates": LayerSpec(
        "candidates",
        "point",
        "id",
        (
            ColumnSpec("id", "str", "", "candidate site id, unique across facilities and candidates"),
            ColumnSpec("name", "str", "", "candidate site name"),
            ColumnSpec("open_cost_yuan", "float", "yuan", "one-off cost of opening the site", minimum=0),
            ColumnSpec(
                "level", "str", "", "level the site has once opened", default="township_hc",
                allowed=("village_clinic", "township_hc", "community_hc", "county_hospital", "tertiary_hospital"),
            ),
        ),
        required=False,
    ),
    "roads": LayerSpec(
        "roads",
        "line",
        None,
        (
            ColumnSpec("road_class", "str", "", "road class (sets the default speed)", allowed=ROAD_CLASSES),
            ColumnSpec("speed_kmh", "float", "km/h", "travel speed (NaN: the class default)", default=float("nan"),
                       minimum=0),
            ColumnSpec("oneway", "bool", "", "traffic only in the line's drawing direction", default=False),
        ),
    ),
}
