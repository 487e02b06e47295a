"""Excel sheets for people: headings, sentences and tables, every number a numeric cell with a number format.

A sheet is a sequence of parts: `Text` lines (a title, a sentence) and `Table`s. A sheet holding one table alone
gets a frozen header and a filter, as a data sheet; a sheet mixing text and tables (a summary) reads top to bottom.
Each numeric cell gets a format chosen by the unit its column name carries (`number_format`), or else grouped
digits, so no cell ever shows an exponent (1.66E-16) or a raw fraction (0.99466667) where a share is meant.
"""

from __future__ import annotations

import math
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from numbers import Integral, Real
from pathlib import Path

import numpy as np
import pandas as pd
from openpyxl import Workbook
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.styles import Alignment, Font
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet

from allocopt.export import atomic_file

MAX_COLUMN_WIDTH = 60
"""Widest a fitted column gets, in Excel character units."""

WHOLE_NUMBER = "#,##0"
DECIMAL_NUMBER = "#,##0.00"

_FORMATS: tuple[tuple[str, str], ...] = (
    ("_yuan", WHOLE_NUMBER),
    ("weighted_gap", WHOLE_NUMBER),
    ("share", "0.0%"),
    ("gap", "0.00%"),
    ("cases", "#,##0.0"),
    ("minutes", "0.0"),
    ("per_10k", "0.00"),
    ("population", WHOLE_NUMBER),
    ("people", WHOLE_NUMBER),
    ("unserved", WHOLE_NUMBER),
    ("visits", WHOLE_NUMBER),
    ("patients", WHOLE_NUMBER),
)
"""(fragment of a column name, Excel number format), first match wins."""


@dataclass(frozen=True)
class Text:
    """A line of text across the sheet: a title (`size` larger, bold), a heading (bold) or a sentence."""

    text: str
    bold: bool = False
    size: float | None = None


@dataclass(frozen=True)
class Table:
    """A table; `headers` maps column names to the header shown (default: the name), `formats` column names to
    an Excel number format (default: `number_format` of the name, else grouped digits); `row_formats`, one per
    row, give the format of every number in that row instead (a table of figures with a unit per row)."""

    frame: pd.DataFrame
    headers: Mapping[str, str] = field(default_factory=dict)
    formats: Mapping[str, str] = field(default_factory=dict)
    row_formats: Sequence[str] = ()


@dataclass(frozen=True)
class Sheet:
    title: str
    parts: Sequence[Text | Table]


def write_sheets(sheets: Sequence[Sheet], path: str | Path) -> Path:
    """Write the sheets, in order, as one .xlsx file, replacing `path` only when complete.

    Numbers are written as numeric cells (NaN and infinity as empty cells), text as text cells (never formulas,
    whatever their first character), booleans as booleans; control characters are replaced (`xlsx_text`).
    """
    if not sheets:
        raise ValueError("write_sheets needs at least one sheet")
    book = Workbook()
    book.remove(book.active)
    for sheet in sheets:
        _fill_sheet(book.create_sheet(title=sheet_title(sheet.title)), sheet.parts)
    with atomic_file(path) as staging:
        book.save(staging)
    return Path(path)


def number_format(column: str, values: pd.Series | None = None) -> str | None:
    """Excel number format for a numeric column, chosen by the unit its name carries; with `values`, a column
    without a unit gets grouped digits (whole numbers, or two decimals), else None (General)."""
    lowered = column.lower()
    chosen = next((fmt for fragment, fmt in _FORMATS if fragment in lowered), None)
    if chosen is not None or values is None:
        return chosen
    numbers = pd.to_numeric(values, errors="coerce").to_numpy(dtype=float)
    finite = numbers[np.isfinite(numbers)]
    return WHOLE_NUMBER if np.all(finite == np.round(finite)) else DECIMAL_NUMBER


def xlsx_text(text: str) -> str:
    """`text` as an xlsx cell can hold it: each control character XML forbids (U+0000-U+0008, U+000B, U+000C,
    U+000E-U+001F) becomes U+FFFD, the replacement character, and a carriage return (CRLF or CR alone) a line
    feed, as every XML reader would make it; everything else is kept as it is."""
    return ILLEGAL_CHARACTERS_RE.sub("\ufffd", text.replace("\r\n", "\n").replace("\r", "\n"))


def sheet_title(text: str) -> str:
    """`text` as Excel allows a sheet name: at most 31 characters, none of []:*?/\\."""
    return "".join("_" if ch in "[]:*?/\\" else ch for ch in xlsx_text(text))[:31] or "_"


def _fill_sheet(sheet: Worksheet, parts: Sequence[Text | Table]) -> None:
    widths: dict[int, int] = {}
    data_sheet = len(parts) == 1 and isinstance(parts[0], Table)
    for index, part in enumerate(parts):
        if isinstance(part, Text):
            if index > 0 and (part.bold or part.size is not None):
                sheet.append([])  # a blank line above each heading
            sheet.append([xlsx_text(part.text)])
            cell = sheet.cell(row=sheet.max_row, column=1)
            cell.data_type = "s"
            cell.font = Font(bold=part.bold or part.size is not None, size=part.size)
            cell.alignment = Alignment(wrap_text=False)
            continue
        if index > 0 and isinstance(parts[index - 1], Table):
            sheet.append([])  # a blank line between two tables
        _append_table(sheet, part, widths)
    for index, width in widths.items():
        sheet.column_dimensions[get_column_letter(index)].width = min(width + 2, MAX_COLUMN_WIDTH)
    if data_sheet:
        sheet.freeze_panes = "A2"
        if sheet.max_row > 1:
            sheet.auto_filter.ref = sheet.dimensions


def _append_table(sheet: Worksheet, table: Table, widths: dict[int, int]) -> None:
    columns = [str(c) for c in table.frame.columns]
    headers = [xlsx_text(table.headers.get(c, c)) for c in columns]
    sheet.append(headers)
    for cell in sheet[sheet.max_row]:
        cell.font = Font(bold=True)
        cell.data_type = "s"
    first = sheet.max_row + 1
    for row in table.frame.itertuples(index=False, name=None):
        sheet.append([_cell_value(v) for v in row])
        for cell in sheet[sheet.max_row]:
            if isinstance(cell.value, str):
                cell.data_type = "s"  # text stays text: "=HYPERLINK(...)" is a name, not a formula
    for index, (column, header) in enumerate(zip(columns, headers, strict=True), start=1):
        values = table.frame[column]
        numeric = pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values)
        fmt = table.formats.get(column) or number_format(column, values if numeric else _numbers_in(values))
        width = max(widths.get(index, 0), _display_width(header))
        for offset, (cell,) in enumerate(sheet.iter_rows(min_row=first, max_row=sheet.max_row, min_col=index,
                                                         max_col=index)):
            shown = table.row_formats[offset] if table.row_formats else fmt
            if shown is not None and isinstance(cell.value, Real) and not isinstance(cell.value, bool):
                cell.number_format = shown
            width = max(width, _display_width(_shown(cell.value, shown)))
        widths[index] = width


def _numbers_in(values: pd.Series) -> pd.Series:
    """The numbers of a mixed column (a figure/value table), for choosing its format."""
    return values[values.map(lambda v: isinstance(v, Real) and not isinstance(v, bool))]


def _cell_value(value: object) -> object:
    """A value openpyxl stores natively: Python bool, int, float or str; None for missing and non-finite."""
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, bool | np.bool_):
        return bool(value)
    if isinstance(value, Integral):
        return int(value)
    if isinstance(value, Real):
        number = float(value)
        return number if math.isfinite(number) else None
    return xlsx_text(str(value))


def _shown(value: object, fmt: str | None) -> str:
    """Roughly the text Excel shows for `value`, to size the column."""
    if value is None:
        return ""
    if isinstance(value, bool) or not isinstance(value, Real):
        return str(value)
    if fmt is not None and "%" in fmt:
        return f"{float(value):.2%}"
    if fmt == WHOLE_NUMBER:
        return f"{float(value):,.0f}"
    if fmt is not None and "." in fmt:
        return f"{float(value):,.{len(fmt.split('.')[-1].rstrip('%'))}f}"
    return f"{float(value):.6g}"


def _display_width(text: str) -> int:
    """Width in Excel character units: East Asian wide characters take two."""
    return sum(2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1 for ch in text)
