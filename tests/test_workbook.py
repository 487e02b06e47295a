"""Excel workbook: sheets in order, frozen bold header, numbers as numeric cells, widths fitted, atomic writing."""

from __future__ import annotations

import math

import openpyxl
import pandas as pd
import pytest
from openpyxl import Workbook

from allocopt.errors import OutputError
from allocopt.workbook import MAX_COLUMN_WIDTH, number_format, write_workbook


def _tables() -> dict[str, pd.DataFrame]:
    allocations = pd.DataFrame(
        {
            "site_id": ["H1", "THC1"],
            "site_name": ["县人民医院", "城关镇卫生院"],
            "quantity": [1, 2],
            "cost_yuan": [6_500_000.0, 600_000.0],
            "opened": [True, False],
        }
    )
    townships = pd.DataFrame(
        {
            "code": ["420101", "420102"],
            "name": ["城关镇", "白河乡"],
            "covered_share_before": [0.5, 1.0],
            "minutes_before": [12.5, float("nan")],
        }
    )
    return {"Allocations": allocations, "Townships": townships}


def test_sheets_header_and_cells(tmp_path):
    path = write_workbook(_tables(), tmp_path / "plan.xlsx")
    book = openpyxl.load_workbook(path)
    assert book.sheetnames == ["Allocations", "Townships"]
    sheet = book["Allocations"]
    assert sheet.freeze_panes == "A2"
    assert [c.value for c in sheet[1]] == ["site_id", "site_name", "quantity", "cost_yuan", "opened"]
    assert all(c.font.bold for c in sheet[1])
    assert [c.value for c in sheet[2]] == ["H1", "县人民医院", 1, 6_500_000.0, True]
    quantity, cost = sheet["C2"], sheet["D2"]
    assert (quantity.data_type, type(quantity.value)) == ("n", int)
    assert (cost.data_type, cost.number_format) == ("n", "#,##0")
    assert sheet["E3"].value is False
    towns = book["Townships"]
    assert towns["A2"].value == "420101"  # codes stay text, leading digits and all
    assert towns["A2"].data_type == "s"
    assert towns["C2"].value == 0.5 and towns["C2"].number_format == "0.0%"
    assert towns["D3"].value is None  # NaN minutes: unreachable, an empty cell


def test_column_widths_fit_wide_chinese_text(tmp_path):
    long_name = "石桥乡新卫生院" * 3  # 21 wide characters: 42 columns
    table = pd.DataFrame({"name": ["城关镇", long_name], "x": [1, 2], "note": ["a" * 200, "b"]})
    sheet = openpyxl.load_workbook(write_workbook({"T": table}, tmp_path / "w.xlsx"))["T"]
    assert sheet.column_dimensions["A"].width == 42 + 2
    assert sheet.column_dimensions["B"].width == 1 + 2
    assert sheet.column_dimensions["C"].width == MAX_COLUMN_WIDTH


def test_non_finite_numbers_become_empty_cells(tmp_path):
    table = pd.DataFrame({"v": [1.5, math.inf, -math.inf, float("nan")]})
    sheet = openpyxl.load_workbook(write_workbook({"T": table}, tmp_path / "w.xlsx"))["T"]
    assert [sheet.cell(row=r, column=1).value for r in range(2, 6)] == [1.5, None, None, None]


@pytest.mark.parametrize(
    ("column", "expected"),
    [
        ("capital_yuan", "#,##0"),
        ("covered_share_after", "0.0%"),
        ("gap", "0.00%"),
        ("primary_care_minutes_before", "0.0"),
        ("gp_per_10k_after", "0.00"),
        ("covered_population_before", "#,##0"),
        ("gp_shortage_people_after", "#,##0"),
        ("stroke_unserved", "#,##0"),
        ("quantity", None),
    ],
)
def test_number_format_follows_the_unit_in_the_column_name(column, expected):
    assert number_format(column) == expected


def test_a_failed_save_leaves_the_earlier_workbook(tmp_path, monkeypatch):
    path = write_workbook(_tables(), tmp_path / "plan.xlsx")
    before = path.read_bytes()

    def fail(self, filename):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(Workbook, "save", fail)
    with pytest.raises(OutputError, match="No space left"):
        write_workbook({"Other": pd.DataFrame({"a": [1]})}, path)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["plan.xlsx"]


def test_no_sheets_is_refused(tmp_path):
    with pytest.raises(ValueError, match="at least one sheet"):
        write_workbook({}, tmp_path / "w.xlsx")
