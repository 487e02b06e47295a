"""plan.xlsx: the sheets a bureau prints, in its language, every number formatted; and the xlsx writer beneath."""

from __future__ import annotations

import json
import math
import re

import openpyxl
import pandas as pd
import pytest
from openpyxl import Workbook

import result_fixture as fx
from allocopt import report
from allocopt.errors import OutputError
from allocopt.export import write_csv
from allocopt.i18n import translator
from allocopt.workbook import write_workbook
from allocopt.xlsx import MAX_COLUMN_WIDTH, Sheet, Table, Text, number_format, write_sheets

_EXPONENT = re.compile(r"E[+-]?\d")


def _sheets(tables: dict[str, pd.DataFrame]) -> list[Sheet]:
    return [Sheet(name, [Table(table)]) for name, table in tables.items()]


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
    path = write_sheets(_sheets(_tables()), tmp_path / "plan.xlsx")
    book = openpyxl.load_workbook(path)
    assert book.sheetnames == ["Allocations", "Townships"]
    sheet = book["Allocations"]
    assert sheet.freeze_panes == "A2"
    assert [c.value for c in sheet[1]] == ["site_id", "site_name", "quantity", "cost_yuan", "opened"]
    assert all(c.font.bold for c in sheet[1])
    assert [c.value for c in sheet[2]] == ["H1", "县人民医院", 1, 6_500_000.0, True]
    quantity, cost = sheet["C2"], sheet["D2"]
    assert (quantity.data_type, type(quantity.value), quantity.number_format) == ("n", int, "#,##0")
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
    sheet = openpyxl.load_workbook(write_sheets(_sheets({"T": table}), tmp_path / "w.xlsx"))["T"]
    assert sheet.column_dimensions["A"].width == 42 + 2
    assert sheet.column_dimensions["B"].width == 1 + 2
    assert sheet.column_dimensions["C"].width == MAX_COLUMN_WIDTH


def test_non_finite_numbers_become_empty_cells(tmp_path):
    table = pd.DataFrame({"v": [1.5, math.inf, -math.inf, float("nan")]})
    sheet = openpyxl.load_workbook(write_sheets(_sheets({"T": table}), tmp_path / "w.xlsx"))["T"]
    assert [sheet.cell(row=r, column=1).value for r in range(2, 6)] == [1.5, None, None, None]


@pytest.mark.parametrize(
    ("column", "expected"),
    [
        ("capital_yuan", "#,##0"),
        ("covered_share_after", "0.0%"),
        ("gap", "0.00%"),
        ("weighted_gap", "#,##0"),
        ("primary_care_minutes_before", "0.0"),
        ("gp_per_10k_after", "0.00"),
        ("covered_population_before", "#,##0"),
        ("gp_shortage_people_after", "#,##0"),
        ("stroke_unserved", "#,##0"),
        ("newly_covered_cases_per_year", "#,##0.0"),
        ("quantity", None),
    ],
)
def test_number_format_follows_the_unit_in_the_column_name(column, expected):
    assert number_format(column) == expected


def test_a_column_without_a_unit_gets_grouped_digits_never_general():
    assert number_format("quantity", pd.Series([1, 20_000])) == "#,##0"
    assert number_format("objective", pd.Series([1.66e-16, 191_478.59])) == "#,##0.00"


def test_a_failed_save_leaves_the_earlier_workbook(tmp_path, monkeypatch):
    path = write_sheets(_sheets(_tables()), tmp_path / "plan.xlsx")
    before = path.read_bytes()

    def fail(self, filename):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(Workbook, "save", fail)
    with pytest.raises(OutputError, match="No space left"):
        write_sheets(_sheets({"Other": pd.DataFrame({"a": [1]})}), path)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["plan.xlsx"]


def test_no_sheets_is_refused(tmp_path):
    with pytest.raises(ValueError, match="at least one sheet"):
        write_sheets([], tmp_path / "w.xlsx")


def test_text_lines_above_a_table_and_per_row_formats(tmp_path):
    table = Table(pd.DataFrame({"figure": ["share", "ratio"], "value": [0.25, 1.5]}), headers={"value": "数值"},
                  row_formats=["0.0%", "0.00"])
    sheet = openpyxl.load_workbook(write_sheets([Sheet("摘要", [Text("标题", size=14), table])],
                                                tmp_path / "w.xlsx"))["摘要"]
    assert sheet["A1"].value == "标题" and sheet["A1"].font.bold
    assert [c.value for c in sheet[2]] == ["figure", "数值"]
    assert (sheet["B3"].number_format, sheet["B4"].number_format) == ("0.0%", "0.00")
    assert sheet.freeze_panes is None  # a summary reads top to bottom


# The plan workbook of a result directory.


@pytest.fixture(scope="module")
def result_dir(tmp_path_factory):
    directory = fx.write_result_dir(tmp_path_factory.mktemp("result") / "plan")
    scenarios = pd.DataFrame({"scenario": ["normal", "桥梁中断"], "weight": [0.9, 0.1], "service": ["stroke"] * 2,
                              "threshold_minutes": [60.0, 60.0], "unserved_before": [1_000.0, 5_000.0],
                              "unserved_after": [500.0, 2_500.0], "unserved_after_plain": [400.0, 4_000.0]})
    write_csv(scenarios, directory / "scenarios.csv")
    write_csv(pd.DataFrame({"pathway": ["stroke"], "site_code": ["0042"], "onset_to_needle_minutes": [95.5]}),
              directory / "pathways.csv")
    return directory


def _book(directory, language, tmp_path):
    result = report.read_result_dir(directory)
    return openpyxl.load_workbook(write_workbook(result, tmp_path / f"plan-{language}.xlsx",
                                                 tr=translator(language)))


def _cells(book):
    return [cell for sheet in book.worksheets for row in sheet.iter_rows() for cell in row if cell.value is not None]


@pytest.mark.parametrize("language", ["zh", "en"])
def test_every_number_has_a_format_and_no_cell_shows_an_exponent(result_dir, tmp_path, language):
    book = _book(result_dir, language, tmp_path)
    numbers = [c for c in _cells(book) if c.data_type == "n"]
    assert numbers
    unformatted = [(c.parent.title, c.coordinate) for c in numbers if c.number_format == "General"]
    assert not unformatted
    assert not [c for c in numbers if "E" in c.number_format]
    assert not [c.value for c in _cells(book) if isinstance(c.value, str) and _EXPONENT.search(c.value)
                and re.fullmatch(r"[\d.,E+-]+", c.value)]


def test_chinese_workbook_speaks_chinese(result_dir, tmp_path):
    book = _book(result_dir, "zh", tmp_path)
    assert book.sheetnames == ["规划摘要", "分乡镇情况", "配置清单", "道路中断情景", "医共体转诊关系", "急救路径",
                               "预算与缺口", "技术附录"]
    summary = book["规划摘要"]
    opening = [summary.cell(row=r, column=1).value for r in (1, 2, 3)]
    assert opening[0] == "valley-county卫生资源配置规划方案（2025 基层医疗规划）"
    assert opening[1].startswith("本方案总投入") and "元" in opening[1] and "预算1,500万元" in opening[1]
    assert "每万人口全科医生数" in opening[2] and "国家目标3.00名" in opening[2]
    townships = book["分乡镇情况"]
    header = [c.value for c in townships[1]]
    assert header[:3] == ["乡镇（街道）", "区划代码", "常住人口（人）"]
    assert len(header) <= 12  # a printable sheet; the full table stays in townships.csv
    rows = {row[1]: row for row in townships.iter_rows(min_row=2, values_only=True)}
    assert rows["420104"][header.index("本乡镇新增配置")] == "新建村卫生室×1；全科医生×2"
    assert rows["420104"][header.index("本乡镇投资（元）")] == 2_100_000.0
    allocations = book["配置清单"]
    names = [c.value for c in allocations[1]]
    assert names[:4] == ["机构名称", "机构编号", "所在乡镇", "机构类别"]
    first = [c.value for c in allocations[2]]
    assert first[:6] == ["县人民医院", "H1", "城关镇", "县级医院", "导管室（DSA）", 1]
    cost = allocations.cell(row=2, column=names.index("合计（元）") + 1)
    assert (cost.value, cost.number_format) == (6_500_000.0, "#,##0")
    scenarios = book["道路中断情景"]
    assert [c.value for c in scenarios[1]][:3] == ["情景", "权重", "服务"]
    assert scenarios["C2"].value == "卒中中心"
    pathways = book["急救路径"]  # another helper's table: its columns as written, codes kept as text
    assert [c.value for c in pathways[2]] == ["stroke", "0042", 95.5]


def test_english_workbook_and_indicators_against_targets(result_dir, tmp_path):
    summary = json.loads((result_dir / "summary.json").read_text(encoding="utf-8"))
    summary["indicators"] = {"gp_per_10k": {"before": 3.0, "after": 4.1, "national": 3.93, "national_kind": "target",
                                            "source": "x"},
                             "medical_point_15min_share": {"before": 0.8, "after": 0.9, "national": 0.899,
                                                           "national_kind": "reference", "source": "y"}}
    (result_dir.parent / "with-indicators").mkdir()
    directory = fx.write_result_dir(result_dir.parent / "with-indicators")
    (directory / "summary.json").write_text(json.dumps(summary), encoding="utf-8")
    book = _book(directory, "en", tmp_path)
    sheet = book["Summary"]
    rows = [[c for c in row] for row in sheet.iter_rows(min_row=1)]
    gp = next(row for row in rows if row[0].value == "GPs per 10,000 residents")
    assert [c.value for c in gp[1:6]] == [3.0, 4.1, 3.93, "national target", "yes"]
    assert gp[2].number_format == "0.00"
    share = next(row for row in rows if row[0].value == "Residents within 15 minutes of a medical point")
    assert share[2].number_format == "0.0%" and share[5].value is None  # a reference is not a target to meet
    assert book["Technical appendix"]["B4"].number_format == "0.0000%"
