"""Read one layer of a GeoPackage, GeoJSON, Shapefile (any vector format GDAL reads) or lon/lat CSV file."""

from __future__ import annotations

import zipfile
from pathlib import Path
from typing import Any
from xml.etree.ElementTree import ParseError
from xml.parsers.expat import ExpatError

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pyproj
import shapely
from pyogrio.errors import CRSError, DataLayerError, DataSourceError, FeatureError, FieldError, GeometryError

from allocopt.errors import DataError
from allocopt.inputs import checked_file
from allocopt.schema import GEOMETRY_TYPES, check_geometry, describe_rows, row_labels

FORMAT_NAMES: dict[str, str] = {
    ".gpkg": "GeoPackage",
    ".geojson": "GeoJSON",
    ".json": "GeoJSON",
    ".shp": "Shapefile",
    ".csv": "CSV",
}
"""Format each file extension promises, named in error messages."""

CSV_CRS = "EPSG:4326"
"""CRS of CSV coordinates unless the layer states another."""

_GDAL_ERRORS = (DataSourceError, DataLayerError, FieldError, GeometryError, FeatureError, CRSError, UnicodeDecodeError)


def read_layer(
    path: Path,
    *,
    layer: str | None,
    geometry: str,
    x_column: str | None = None,
    y_column: str | None = None,
    crs: str | None = None,
    label: str | None = None,
) -> gpd.GeoDataFrame:
    """Read one layer as a GeoDataFrame in its own CRS, so that every later step starts from checked geometries.

    `layer` picks the layer of a multi-layer file (None: the file must hold exactly one). `geometry` is the kind
    the layer must hold ("polygon", "point" or "line"). A `.csv` file gives points from its `x_column`/`y_column`
    (default `lon`/`lat`) in `crs` (default EPSG:4326); every CSV cell is read as text, so codes keep leading
    zeros. For other files `crs` supplies a CRS the file lacks and must agree with one it has. `label` names the
    region layer the file provides, for error messages.

    Every problem raises DataError naming the file and layer and saying what to do: a missing or empty file, a file
    that is not what its extension says, a missing layer (listing those present), no CRS, coordinates that are
    not numbers, non-UTF-8 CSV text, missing, wrong-kind or invalid geometries, and coordinates beyond ±180°/±90°
    in a geographic CRS (projected metres labelled as lon/lat), naming the first bad row.
    """
    path = Path(path)
    where = _describe(path, layer, label)
    if geometry not in GEOMETRY_TYPES:
        raise ValueError(f"geometry must be one of {', '.join(GEOMETRY_TYPES)}, not {geometry!r}")
    if not path.exists():
        raise DataError(f"{where}: the file does not exist; check the path (the layer's `file` in region.toml).")
    checked_file(path, kind="data", what=f"file of the {label or layer or 'input'} layer")
    if path.stat().st_size == 0:
        raise DataError(f"{where}: the file is empty (0 bytes); export the layer again.")
    is_csv = path.suffix.lower() == ".csv"
    if is_csv:
        if layer is not None and layer != path.stem:
            raise DataError(f"{where}: a CSV file holds a single layer; remove `layer` from region.toml.")
        frame = _read_csv(path, where=where, geometry=geometry, x_column=x_column, y_column=y_column, crs=crs)
    else:
        if x_column is not None or y_column is not None:
            raise DataError(f"{where}: x_column and y_column only apply to CSV files; remove them from region.toml.")
        frame = _read_vector(path, where=where, layer=layer, crs=crs)
    check_geometry(frame, geometry, where=where, labels=row_labels(frame))
    fix = (
        f"check that '{x_column or 'lon'}' holds longitudes and '{y_column or 'lat'}' latitudes, or set the "
        "layer's `crs` in region.toml" if is_csv else
        f"the file's CRS is {frame.crs.to_string()} but its coordinates are not degrees; assign the layer its "
        "real CRS (in QGIS: Set Layer CRS) and export it again"
    )
    _check_degrees(frame, where=where, labels=row_labels(frame), fix=fix)
    return frame


def _describe(path: Path, layer: str | None, label: str | None) -> str:
    """'<path>, layer '<layer>'' with the region layer it provides when that differs."""
    text = f"{path}, layer '{layer}'" if layer else str(path)
    if label and label != layer:
        text += f" ({label} layer)" if layer else f", {label} layer"
    return text


def _format_name(path: Path) -> str:
    """The format a file's extension promises."""
    return FORMAT_NAMES.get(path.suffix.lower(), f"{path.suffix or 'extension-less'} vector")


def _reason(exc: Exception) -> str:
    """The first clause of a GDAL or parser error on one line, without GDAL's advice on driver prefixes."""
    return " ".join(str(exc).split(";")[0].split()).rstrip(".")


def _read_vector(path: Path, *, where: str, layer: str | None, crs: str | None) -> gpd.GeoDataFrame:
    """Read a layer through GDAL, turning its exceptions into DataError."""
    fix = f"check that it really is a {_format_name(path)} file, e.g. by opening it in QGIS, and export it again"
    try:
        names = [str(name) for name in pyogrio.list_layers(path)[:, 0]]
    except _GDAL_ERRORS as exc:
        raise DataError(f"{where}: cannot be read as a {_format_name(path)} file ({_reason(exc)}); {fix}.") from exc
    if layer is None and len(names) != 1:
        raise DataError(
            f"{where}: the file holds {len(names)} layers ({', '.join(names) or 'none'}); name one with `layer` in "
            "region.toml."
        )
    if layer is not None and layer not in names:
        raise DataError(
            f"{where}: the file has no layer '{layer}'; layers present: {', '.join(names) or 'none'}. Set `layer` "
            "in region.toml to one of them."
        )
    try:
        frame = pyogrio.read_dataframe(path, layer=layer if layer is not None else names[0])
    except _GDAL_ERRORS as exc:
        raise DataError(f"{where}: cannot be read ({_reason(exc)}); {fix}.") from exc
    if not isinstance(frame, gpd.GeoDataFrame):
        raise DataError(f"{where}: the layer has no geometry; export it with its geometry column.")
    return _with_crs(frame, where=where, crs=crs)


def _with_crs(frame: gpd.GeoDataFrame, *, where: str, crs: str | None) -> gpd.GeoDataFrame:
    """The frame with a CRS: the file's own, or `crs` when the file has none; the two must agree."""
    stated = _parse_crs(crs, where=where) if crs is not None else None
    if frame.crs is None and stated is None:
        raise DataError(
            f"{where}: the layer has no CRS; add the layer's .prj file (define the projection in QGIS and export "
            "again), or set `crs` for this layer in region.toml."
        )
    if frame.crs is None:
        return frame.set_crs(stated)
    if stated is not None and not frame.crs.equals(stated, ignore_axis_order=True):
        raise DataError(
            f"{where}: the file's CRS ({frame.crs.to_string()}) differs from `crs` = {crs!r} in region.toml; remove "
            "`crs` from region.toml or fix the file's CRS."
        )
    return frame


def _parse_crs(crs: str, *, where: str) -> pyproj.CRS:
    """A pyproj CRS from user text such as "EPSG:4326"."""
    try:
        return pyproj.CRS.from_user_input(crs)
    except pyproj.exceptions.CRSError as exc:
        raise DataError(f"{where}: `crs` = {crs!r} is not a known CRS; use a code such as 'EPSG:4326'.") from exc


def _read_csv(
    path: Path, *, where: str, geometry: str, x_column: str | None, y_column: str | None, crs: str | None
) -> gpd.GeoDataFrame:
    """Points from a UTF-8 CSV file with coordinate columns; every other cell is kept as text."""
    if geometry != "point":
        raise DataError(
            f"{where}: a CSV file can only hold points, but this layer holds {geometry}s; use a GeoPackage, "
            "GeoJSON or Shapefile."
        )
    x_name, y_name = x_column or "lon", y_column or "lat"
    if x_name == y_name:
        raise DataError(f"{where}: x_column and y_column are both '{x_name}'; name the longitude and the latitude "
                        "columns in region.toml.")
    stated = _parse_crs(crs or CSV_CRS, where=where)
    try:
        table = pd.read_csv(path, dtype=str, keep_default_na=False, na_values=[""], encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise DataError(
            f"{where}: the file is not UTF-8 text (undecodable byte at offset {exc.start}); save it as UTF-8 "
            "(in Excel: Save As > 'CSV UTF-8')."
        ) from exc
    except (pd.errors.EmptyDataError, pd.errors.ParserError) as exc:
        raise DataError(
            f"{where}: cannot be read as CSV ({_reason(exc)}); save it again as comma-separated text."
        ) from exc
    table.columns = [str(column).strip() for column in table.columns]
    for role, name in (("x_column", x_name), ("y_column", y_name)):
        if name not in table:
            raise DataError(
                f"{where}: coordinate column '{name}' is missing; columns present: {', '.join(table.columns)}. "
                f"Name the coordinate columns with `x_column`/`y_column` in region.toml ({role} = '{name}' now)."
            )
    labels = row_labels(table)
    x = _coordinates(table[x_name], field=x_name, where=where, labels=labels)
    y = _coordinates(table[y_name], field=y_name, where=where, labels=labels)
    points = gpd.points_from_xy(x, y, crs=stated)
    return gpd.GeoDataFrame(table.drop(columns=[x_name, y_name]), geometry=points, crs=stated)


def _check_degrees(frame: gpd.GeoDataFrame, *, where: str, labels: list[str], fix: str) -> None:
    """In a geographic CRS, raise DataError at the first row with a coordinate beyond ±180° or ±90°.

    Projected coordinates (metres) labelled as lon/lat would otherwise project to nonsense or infinity.
    """
    if frame.crs is None or not frame.crs.is_geographic or len(frame) == 0:
        return
    xy, row = shapely.get_coordinates(frame.geometry.to_numpy(), return_index=True)
    outside_vertex = (np.abs(xy[:, 0]) > 180) | (np.abs(xy[:, 1]) > 90)
    if outside_vertex.any():
        outside = np.zeros(len(frame), dtype=bool)
        outside[row[outside_vertex]] = True
        x, y = xy[np.flatnonzero(outside_vertex)[0]]
        raise DataError(
            f"{where}, {describe_rows(labels, outside)}: ({x:g}, {y:g}) is not a longitude/latitude in degrees; "
            f"{fix}."
        )


def _coordinates(column: pd.Series, *, field: str, where: str, labels: list[str]) -> np.ndarray:
    """A coordinate column as floats; blanks and non-numbers raise DataError naming the row."""
    values = pd.to_numeric(column.str.strip(), errors="coerce").to_numpy(dtype=float)
    bad = ~np.isfinite(values)
    if bad.any():
        text = column.iloc[int(np.flatnonzero(bad)[0])]
        problem = "is empty" if pd.isna(text) or not str(text).strip() else f"'{text}' is not a number"
        raise DataError(f"{where}, {describe_rows(labels, bad)}, field '{field}': the coordinate {problem}; fix it.")
    return values


MAX_SHEET_CELLS = 20_000_000
"""Largest used range (rows x columns) of a spreadsheet read; a stray cell far out (XFD1048576) exceeds it."""

_WORKBOOK_ERRORS = (zipfile.BadZipFile, KeyError, ValueError, TypeError, IndexError, OSError, ParseError,
                    ExpatError)
"""What openpyxl raises on a file that is not a well-formed workbook (no workbook part, bad XML, entity bombs),
besides its own InvalidFileException."""


def read_sheet(path: Path, *, header_only: bool = False) -> pd.DataFrame:
    """The first sheet of an .xlsx workbook as a table of text cells (the first row names the columns).

    The workbook is streamed read-only and its used range is checked before any row is read: a range over
    `MAX_SHEET_CELLS` cells, a file that is no workbook and XML that expands without end (billion laughs) raise
    DataError. `header_only` reads the first row alone.
    """
    import openpyxl
    from openpyxl.utils.exceptions import InvalidFileException

    checked_file(path, kind="data", what="workbook")
    errors = (*_WORKBOOK_ERRORS, InvalidFileException)
    try:
        book = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except errors as exc:
        raise DataError(f"{path}: cannot be read as an Excel workbook ({_reason(exc) or type(exc).__name__}); save "
                        "it again as .xlsx, or as CSV UTF-8.") from None
    try:
        return _sheet_table(path, book.worksheets[0] if book.worksheets else None, header_only=header_only)
    except DataError:
        raise
    except errors as exc:
        raise DataError(f"{path}: cannot be read as an Excel workbook ({_reason(exc) or type(exc).__name__}); save "
                        "it again as .xlsx, or as CSV UTF-8.") from None
    finally:
        book.close()


def _sheet_table(path: Path, sheet: Any, *, header_only: bool) -> pd.DataFrame:
    """The rows of a read-only worksheet as text, after checking its used range."""
    if sheet is None:
        raise DataError(f"{path}: the workbook has no worksheet; save the table as .xlsx or CSV UTF-8.")
    rows, columns = sheet.max_row or 0, sheet.max_column or 0
    if rows * columns > MAX_SHEET_CELLS:
        raise DataError(
            f"{path}: the first sheet's used range ({sheet.calculate_dimension()}) spans {rows * columns:,} cells, "
            f"more than {MAX_SHEET_CELLS:,}; delete the stray cells beyond the table (Ctrl+End finds the last "
            "used cell) or save the table as CSV UTF-8."
        )
    if not rows or not columns:  # no dimension recorded: stream and count
        sheet.reset_dimensions()
    cells = 0
    records: list[list[str | None]] = []
    for row in sheet.iter_rows(max_row=1 if header_only else None, values_only=True):
        cells += max(len(row), 1)
        if cells > MAX_SHEET_CELLS:
            raise DataError(f"{path}: the first sheet holds more than {MAX_SHEET_CELLS:,} cells; save the table "
                            "as CSV UTF-8.")
        records.append([None if value is None else str(value) for value in row])
    if not records:
        raise DataError(f"{path}: the first sheet is empty; put the table with a header row on the first sheet.")
    width = max(len(record) for record in records)
    header, *body = [record + [None] * (width - len(record)) for record in records]
    names = [str(name).strip() if name is not None else f"Unnamed: {i}" for i, name in enumerate(header)]
    table = pd.DataFrame(body, columns=names, dtype=object)
    return table.dropna(how="all").reset_index(drop=True)
