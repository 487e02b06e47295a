"""The report of a result directory: every file written and readable, figures equal to summary.json, offline page."""

from __future__ import annotations

import base64
import io
import json
import re
from html.parser import HTMLParser
from pathlib import Path

import openpyxl
import pandas as pd
import pytest
from PIL import Image

import result_fixture as fx
from allocopt import maps, report
from allocopt.errors import DataError
from allocopt.export import CSV_ENCODING, write_csv, write_geopackage
from allocopt.i18n import translator
from allocopt.interactive_map import csp_hash

TEST_DPI = 60
EN = translator("en")


class _Page(HTMLParser):
    """Collects tags with attributes, the cells of every table (text and data-value) and the text of the page."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.tables: dict[str, list[tuple[str | None, list[tuple[str, str | None]]]]] = {}
        self.text: list[str] = []
        self._table: str | None = None
        self._row: list[tuple[str, str | None]] | None = None
        self._cell: list[str] | None = None
        self._value: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        self.tags.append((tag, attributes))
        if tag == "table":
            self._table = attributes.get("id") or ""
            self.tables[self._table] = []
        elif tag == "tr" and self._table is not None:
            self._row = []
            self.tables[self._table].append((attributes.get("data-key"), self._row))
        elif tag in ("td", "th") and self._row is not None:
            self._cell, self._value = [], attributes.get("data-value")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._cell is not None and self._row is not None:
            self._row.append(("".join(self._cell), self._value))
            self._cell = None
        elif tag == "table":
            self._table = None

    def handle_data(self, data: str) -> None:
        self.text.append(data)
        if self._cell is not None:
            self._cell.append(data)


def _parse(path: Path) -> _Page:
    page = _Page()
    page.feed(path.read_text(encoding="utf-8"))
    return page


def _rows(page: _Page, table_id: str) -> dict[str, list[tuple[str, str | None]]]:
    return {key: cells for key, cells in page.tables[table_id] if key is not None}


@pytest.fixture(scope="module")
def written(tmp_path_factory) -> tuple[Path, report.ReportFiles]:
    directory = fx.write_result_dir(tmp_path_factory.mktemp("result"))
    return directory, report.write_report(directory, dpi=TEST_DPI)


def test_every_output_is_written_and_readable(written):
    directory, files = written
    expected_maps = [f"map_{s}.png" for s in maps.SERVICES] + [report.FACILITIES_MAP_FILE]
    assert [p.name for p in files.maps] == expected_maps
    assert files.frontier_chart == directory / report.FRONTIER_CHART_FILE
    for png in (*files.maps, files.frontier_chart):
        with Image.open(png) as image:
            image.verify()
    with Image.open(directory / "map_stroke.png") as image:
        assert image.format == "PNG" and image.info["dpi"] == pytest.approx((TEST_DPI, TEST_DPI), abs=0.01)
    book = openpyxl.load_workbook(files.workbook)
    assert book.sheetnames == ["Summary", "Townships", "Allocations", "Referrals", "Budget and gap",
                               "Technical appendix"]
    assert all(book[name].freeze_panes == "A2" for name in book.sheetnames[1:])
    assert files.report == directory / report.REPORT_FILE
    assert _parse(files.report).tables["services-table"]
    assert not list(directory.glob("*.partial")) and not list(directory.glob(".*"))


def test_services_table_shows_exactly_the_summary_figures(written):
    directory, files = written
    summary = json.loads((directory / "summary.json").read_text(encoding="utf-8"))
    rows = _rows(_parse(files.report), "services-table")
    assert list(rows) == list(summary["services"])
    for service, figures in summary["services"].items():
        label, _threshold, before, after, change, _share_before, _share_after = rows[service]
        assert label[0] == EN.term("common.service", service)
        for (text, value), exact in ((before, figures["unserved_before"]), (after, figures["unserved_after"])):
            assert float(value) == exact
            assert float(text.replace(",", "")) == round(exact)
        assert float(change[1]) == figures["unserved_after"] - figures["unserved_before"]
    primary = rows["primary_care"]
    assert [cell[0] for cell in primary] == ["Primary care", "15", "40,000", "0", "-40,000", "69.2%", "100.0%"]


def test_costs_show_budget_and_cost_and_the_opening_says_what_the_plan_buys(written):
    directory, files = written
    summary = json.loads((directory / "summary.json").read_text(encoding="utf-8"))
    page = _parse(files.report)
    budget = _rows(page, "budget-table")["total"]
    assert budget == [("Total budget", None), ("15,000,000", repr(summary["budget_yuan"])),
                      ("12,200,000", repr(summary["cost_yuan"])), ("81.3%", repr(12_200_000.0 / 15_000_000.0))]
    costs = page.tables["costs-table"]
    assert float(costs[-1][1][3][1]) == summary["cost_yuan"]
    assert float(costs[-1][1][1][1]) == summary["capital_yuan"] and float(costs[-1][1][2][1]) == summary["annual_yuan"]
    text = " ".join("".join(page.text).split())
    assert "For 12.2 million yuan (9.6 million yuan one-off and 2.6 million yuan a year in running costs), the " \
           "plan adds" in text
    assert "This region is synthetic" in text


def test_allocation_table_lists_every_row_with_chinese_names_and_totals(written):
    _, files = written
    table = _parse(files.report).tables["allocations-table"]
    body = [(key, cells) for key, cells in table if key is not None]
    assert [key for key, _ in body] == list(fx.ALLOCATIONS["site_id"])
    assert body[0][1][:2] == [("县人民医院", None), ("城关镇", None)]
    assert [cells[4] for _, cells in body] == [(str(q), repr(float(q))) for q in fx.ALLOCATIONS["quantity"]]
    footer = table[-1][1]
    assert footer[0][0] == "Total"
    assert float(footer[-1][1]) == fx.ALLOCATIONS["cost_yuan"].sum() == 12_200_000.0


def test_page_is_self_contained(written):
    directory, files = written
    page = _parse(files.report)
    links = [(tag, attrs.get("src") or attrs.get("href") or "") for tag, attrs in page.tags]
    assert not [link for link in links if re.match(r"\s*(https?:)?//", link[1], re.IGNORECASE)]
    assert not [tag for tag, _ in page.tags if tag in ("link", "iframe", "object", "embed")]
    assert not [attrs for tag, attrs in page.tags if tag == "script" and attrs]  # inline scripts only, no src
    scripts = re.findall(r"<script>(.*?)</script>", files.report.read_text(encoding="utf-8"), flags=re.DOTALL)
    assert len(scripts) == 2  # the interactive map's: plotly.js and the figure
    csp = [a["content"] for t, a in page.tags if t == "meta" and a.get("http-equiv") == "Content-Security-Policy"]
    assert csp == ["default-src 'none'; img-src data:; font-src data:; style-src 'unsafe-inline'; script-src "
                   + " ".join(csp_hash(script) for script in scripts)]
    assert re.search(r'src:url\(data:font/woff2;base64,[A-Za-z0-9+/=]+\) format\("woff2"\)',
                     files.report.read_text(encoding="utf-8"))
    images = [attrs["src"] for tag, attrs in page.tags if tag == "img"]
    assert len(images) == len(maps.SERVICES) + 2  # a map per service, the facilities map, the budget chart
    for src in images:
        assert src.startswith("data:image/png;base64,")
        embedded = base64.b64decode(src.removeprefix("data:image/png;base64,"), validate=True)
        with Image.open(io.BytesIO(embedded)) as image:
            image.verify()
    embedded = {base64.b64decode(src.removeprefix("data:image/png;base64,")) for src in images}
    assert embedded == {path.read_bytes() for path in (*files.maps, files.frontier_chart)}
    assert (directory / "map_primary_care.png").read_bytes() in embedded


def test_every_text_is_escaped(tmp_path):
    hostile = '<script>alert("x")</script> & 方案'
    directory = fx.write_result_dir(tmp_path / "r", referrals=False, frontier=False, scenario_name=hostile)
    files = report.write_report(directory, dpi=TEST_DPI)
    page = _parse(files.report)
    scripts = re.findall(r"<script>(.*?)</script>", files.report.read_text(encoding="utf-8"), flags=re.DOTALL)
    assert len(scripts) == 2 and not [script for script in scripts if 'alert("x")' in script]  # the map's only
    assert hostile in "".join(page.text)
    assert "&lt;script&gt;" in files.report.read_text(encoding="utf-8")


def test_a_plan_not_proven_optimal_is_flagged_with_its_gap(tmp_path):
    directory = fx.write_result_dir(tmp_path / "r", frontier=False)
    result = report.read_result_dir(directory)
    assert "proven optimal" not in report.render_html(result)
    _edit_summary(directory, lambda s: s.update(status="feasible", gap=0.0125))
    page = report.render_html(report.read_result_dir(directory))
    assert "Solver status feasible (not proven optimal): this plan is not proven optimal at the requested " \
           "precision; it is within 1.25% of the best possible plan." in page


def test_without_referrals_or_frontier_those_parts_are_left_out(tmp_path):
    directory = fx.write_result_dir(tmp_path / "r", referrals=False, frontier=False)
    files = report.write_report(directory, dpi=TEST_DPI)
    assert files.frontier_chart is None and not (directory / report.FRONTIER_CHART_FILE).exists()
    assert openpyxl.load_workbook(files.workbook).sheetnames == ["Summary", "Townships", "Allocations",
                                                                 "Technical appendix"]
    page = _parse(files.report)
    assert "frontier" not in [attrs.get("id") for _, attrs in page.tags]
    assert report.read_result_dir(directory).referrals is None


def test_out_dir_leaves_the_result_directory_as_it_was(tmp_path):
    directory = fx.write_result_dir(tmp_path / "r", frontier=False)
    before = {p.name: p.read_bytes() for p in directory.iterdir()}
    files = report.write_report(directory, out_dir=tmp_path / "out", dpi=TEST_DPI)
    assert {p.name: p.read_bytes() for p in directory.iterdir()} == before
    assert files.report == tmp_path / "out" / report.REPORT_FILE and files.report.is_file()


def test_a_failure_midway_keeps_the_earlier_report(tmp_path, monkeypatch):
    directory = fx.write_result_dir(tmp_path / "r", frontier=False)
    report.write_report(directory, dpi=TEST_DPI)
    earlier = (directory / report.REPORT_FILE).read_bytes()

    def broken(*args, **kwargs):
        raise RuntimeError("drawing failed")

    monkeypatch.setattr(maps, "budget_gap_chart", broken)
    write_csv(fx.frontier_table(), directory / report.FRONTIER_FILE)
    with pytest.raises(RuntimeError, match="drawing failed"):
        report.write_report(directory, dpi=TEST_DPI)
    assert (directory / report.REPORT_FILE).read_bytes() == earlier
    assert not [p.name for p in directory.iterdir() if p.name.startswith(".")]


def test_csv_chinese_names_round_trip_through_the_reader_and_the_workbook(written):
    directory, files = written
    with (directory / "townships.csv").open("rb") as handle:
        assert handle.read(3) == b"\xef\xbb\xbf"
    raw = pd.read_csv(directory / "townships.csv", encoding=CSV_ENCODING, dtype={"code": str})
    assert list(raw["name"]) == list(fx.TOWNSHIPS["name"])
    result = report.read_result_dir(directory)
    assert list(result.townships["name"]) == list(fx.TOWNSHIPS["name"])
    assert list(result.townships["code"]) == list(fx.TOWNSHIPS["code"])
    assert list(result.allocations["site_name"]) == list(fx.ALLOCATIONS["site_name"])
    sheet = openpyxl.load_workbook(files.workbook)["Townships"]
    assert [sheet.cell(row=r, column=1).value for r in range(2, 6)] == list(fx.TOWNSHIPS["name"])
    allocations = openpyxl.load_workbook(files.workbook)["Allocations"]
    header = [c.value for c in allocations[1]]
    cost = allocations.cell(row=2, column=header.index("Total (yuan)") + 1)
    assert cost.data_type == "n" and cost.value == fx.ALLOCATIONS["cost_yuan"].iloc[0]


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (lambda d: (d / "allocations.csv").unlink(), "allocations.csv: missing"),
        (lambda d: (d / "summary.json").write_text("{", encoding="utf-8"), "summary.json: not valid UTF-8 JSON"),
        (lambda d: _edit_summary(d, lambda s: s.pop("services")), "key 'services' is missing"),
        (lambda d: _edit_summary(d, lambda s: s["services"]["ct"].pop("unserved_after")),
         r"'services.ct.unserved_after' must be a number"),
        (lambda d: write_csv(fx.township_table().drop(columns=["population"]), d / "townships.csv"),
         "townships.csv: missing column"),
        (lambda d: write_geopackage({"townships": fx.layers(fx.township_table(), referrals=False)["townships"]},
                                       d / "result.gpkg"), "layer 'facilities' is missing"),
    ],
)
def test_a_damaged_result_directory_is_a_data_error_naming_what_is_wrong(tmp_path, damage, message):
    directory = fx.write_result_dir(tmp_path / "r", frontier=False)
    damage(directory)
    with pytest.raises(DataError, match=message):
        report.write_report(directory, dpi=TEST_DPI)
    assert not (directory / report.REPORT_FILE).exists()


def _edit_summary(directory: Path, change) -> None:
    path = directory / "summary.json"
    summary = json.loads(path.read_text(encoding="utf-8"))
    change(summary)
    path.write_text(json.dumps(summary), encoding="utf-8")


def test_indicators_are_shown_beside_their_national_targets(tmp_path):
    directory = fx.write_result_dir(tmp_path / "r", referrals=False, frontier=False)
    page = report.render_html(report.read_result_dir(directory))
    assert 'id="indicators-table"' not in page  # results written before the indicators existed
    indicators = {
        "medical_point_15min_share": {"before": 0.91, "after": 0.961, "national": 0.899, "national_kind": "reference",
                                      "source": "2018 survey"},
        "gp_per_10k": {"before": 1.52, "after": 3.38, "national": 3.93, "national_kind": "target", "source": "plan"},
    }
    _edit_summary(directory, lambda s: s.update(indicators=indicators))
    rows = _rows(_parse(report.write_report(directory, dpi=TEST_DPI).report), "indicators-table")
    assert [cell[0] for cell in rows["medical_point_15min_share"]][:6] == [
        EN("common.indicator.medical_point_15min_share"), "91.0%", "96.1%", "89.9%", "reference", "met"]
    assert [cell[0] for cell in rows["gp_per_10k"]] == [
        EN("common.indicator.gp_per_10k"), "1.52", "3.38", "3.93", "target", "not met",
        EN("report.indicator_source.gp_per_10k")]
    summary_sheet = openpyxl.load_workbook(directory / report.WORKBOOK_FILE)["Summary"]
    assert EN("common.indicator.gp_per_10k") in [row[0] for row in summary_sheet.iter_rows(values_only=True)]
