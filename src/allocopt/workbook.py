"""The plan as an Excel workbook: one sheet per table, header frozen, widths fitted, numbers stored as numbers.

Number formats follow the unit in each column name (`_yuan`, `_share`, `_minutes`, people and per-10k figures),
so a planner sees "12,200,000" and "69.2%" while the cells hold the exact values for further calculation.
"""

from __future__ import annotations

import math
import unicodedata
from collections.abc import Mapping
from numbers import Integral, Real
from pathlib import Path

import numpy as np
import pandas as pd
from openpyxl import Workbook
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet

from allocopt.export import atomic_file
from allocopt.i18n import Translator

MAX_COLUMN_WIDTH = 60
"""Widest a fitted column gets, in Excel character units."""

_FORMATS: tuple[tuple[str, str], ...] = (
    ("_yuan", "#,##0"),
    ("share", "0.0%"),
    ("gap", "0.00%"),
    ("minutes", "0.0"),
    ("per_10k", "0.00"),
    ("population", "#,##0"),
    ("people", "#,##0"),
    ("unserved", "#,##0"),
)
"""(fragment of a column name, Excel number format), first match wins."""


def write_workbook(sheets: Mapping[str, pd.DataFrame], path: str | Path, *, tr: Translator | None = None) -> Path:
    """Write each table as a sheet of one .xlsx file (sheet order as given), replacing `path` only when complete.

    Numbers are written as numeric cells (NaN and infinity as empty cells), text as text cells (never formulas,
    whatever their first character), booleans as booleans; control characters are replaced (`xlsx_text`).
    """
    if not sheets:
        raise ValueError("write_workbook needs at least one sheet")
    book = Workbook()
    book.remove(book.active)
    for name, table in sheets.items():
        _fill_sheet(book.create_sheet(title=name), table)
    with atomic_file(path) as staging:
        book.save(staging)
    return Path(path)


def number_format(column: str) -> str | None:
    """Excel number format for a numeric column, chosen by the unit its name carries (None: General)."""
    lowered = column.lower()
    return next((fmt for fragment, fmt in _FORMATS if fragment in lowered), None)


def xlsx_text(text: str) -> str:
    """`text` as an xlsx cell can hold it: each control character XML forbids (U+0000-U+0008, U+000B, U+000C,
    U+000E-U+001F) becomes U+FFFD, the replacement character, and a carriage return (CRLF or CR alone) a line
    feed, as every XML reader would make it; everything else is kept as it is."""
    return ILLEGAL_CHARACTERS_RE.sub("\ufffd", text.replace("\r\n", "\n").replace("\r", "\n"))


def _fill_sheet(sheet: Worksheet, table: pd.DataFrame) -> None:
    columns = [xlsx_text(str(c)) for c in table.columns]
    sheet.append(columns)
    for cell in sheet[1]:
        cell.font = Font(bold=True)
        cell.data_type = "s"
    for row in table.itertuples(index=False, name=None):
        sheet.append([_cell_value(v) for v in row])
        for cell in sheet[sheet.max_row]:
            if isinstance(cell.value, str):
                cell.data_type = "s"  # text stays text: "=HYPERLINK(...)" is a name, not a formula
    for index, column in enumerate(columns, start=1):
        letter = get_column_letter(index)
        fmt = number_format(column)
        width = _display_width(column)
        for (cell,) in sheet.iter_rows(min_row=2, min_col=index, max_col=index):
            if fmt is not None and isinstance(cell.value, Real) and not isinstance(cell.value, bool):
                cell.number_format = fmt
            width = max(width, _display_width(_shown(cell.value, fmt)))
        sheet.column_dimensions[letter].width = min(width + 2, MAX_COLUMN_WIDTH)
    sheet.freeze_panes = "A2"
    if len(table) > 0:
        sheet.auto_filter.ref = sheet.dimensions


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
    if fmt == "#,##0":
        return f"{float(value):,.0f}"
    return f"{float(value):.6g}"


def _display_width(text: str) -> int:
    """Width in Excel character units: East Asian wide characters take two."""
    return sum(2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1 for ch in text)
