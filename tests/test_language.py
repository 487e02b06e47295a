"""The output language: region.toml `language`, summary.json `region_language`, `--lang` on every command that
writes for people, and Chinese tables from optimize and compare."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import openpyxl
import pytest
from click.testing import CliRunner

import result_fixture as fx
from allocopt.cli import main
from allocopt.errors import DataError
from allocopt.regions import load_region


def _bundle(tiny_region_path: Path, folder: Path, language_line: str | None) -> Path:
    shutil.copytree(tiny_region_path, folder)
    if language_line is not None:
        toml = folder / "region.toml"
        text = toml.read_text(encoding="utf-8")
        toml.write_text(text.replace("synthetic = true\n", f"synthetic = true\n{language_line}\n", 1), encoding="utf-8")
    return folder


@pytest.mark.parametrize(("line", "message"), [
    ('language = "fr"', r"key 'region.language': unknown language 'fr'; write one of: 'zh', 'en'"),
    ("language = 3", r"key 'region.language' must be a str"),
])
def test_a_bad_region_language_is_named(tiny_region_path: Path, tmp_path: Path, line: str, message: str) -> None:
    bundle = _bundle(tiny_region_path, tmp_path / "bad", line)
    with pytest.raises(DataError, match=message):
        load_region(bundle)
    outcome = CliRunner().invoke(main, ["validate", str(bundle)])
    assert outcome.exit_code == 1 and "region.language" in outcome.output


def test_the_default_region_speaks_chinese_and_an_unset_language_is_none(tiny_region_path: Path) -> None:
    assert load_region("valley-county").language == "zh"
    assert load_region(tiny_region_path).language is None


@pytest.mark.parametrize("command", [
    ["access"], ["optimize"], ["sweep", "--budgets", "1M"], ["compare", "."], ["report", "."]])
def test_lang_takes_only_the_catalogued_languages(command: list[str]) -> None:
    outcome = CliRunner().invoke(main, [*command, "--lang", "fr"])
    assert outcome.exit_code == 2 and "'fr' is not one of 'zh', 'en'" in outcome.output


@pytest.fixture(scope="module")
def chinese_plan(tiny_region_path: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    folder = tmp_path_factory.mktemp("zh")
    bundle = _bundle(tiny_region_path, folder / "tiny-zh", 'language = "zh"')
    out = folder / "plan"
    outcome = CliRunner().invoke(main, ["optimize", str(bundle), "--out", str(out), "--budget", "3000000",
                                        "--report", "--cache-dir", str(folder / "cache")])
    assert outcome.exit_code == 0, outcome.output
    return out, outcome.output


def test_optimize_speaks_the_region_language_and_records_it(chinese_plan: tuple[Path, str]) -> None:
    out, printed = chinese_plan
    assert json.loads((out / "summary.json").read_text(encoding="utf-8"))["region_language"] == "zh"
    assert "规划方案" in printed and "每万人口全科医生数" in printed and "基本医疗（首诊）" in printed
    assert "结果已写入" in printed and "Plan for" not in printed
    book = openpyxl.load_workbook(out / "plan.xlsx")
    assert book.sheetnames[:3] == ["规划摘要", "分乡镇情况", "配置清单"]


def test_lang_overrides_the_region_language_for_the_report(chinese_plan: tuple[Path, str], tmp_path: Path) -> None:
    out, _ = chinese_plan
    outcome = CliRunner().invoke(main, ["report", str(out), "--out", str(tmp_path / "en"), "--lang", "en"])
    assert outcome.exit_code == 0, outcome.output
    assert openpyxl.load_workbook(tmp_path / "en" / "plan.xlsx").sheetnames[:3] == [
        "Summary", "Townships", "Allocations"]


def test_compare_in_chinese_by_the_results_language(tmp_path: Path) -> None:
    plans = []
    for name, region_language in (("plan-a", "zh"), ("plan-b", None)):
        directory = fx.write_result_dir(tmp_path / name)
        summary = json.loads((directory / "summary.json").read_text(encoding="utf-8"))
        summary["region_language"] = region_language
        summary["tiers"] = {"grassroots_share_before": 0.55, "grassroots_share_after": 0.66,
                            "mean_referral_minutes_after": 41.5, "links_changed": 3}
        (directory / "summary.json").write_text(json.dumps(summary), encoding="utf-8")
        plans.append(str(directory))
    chinese = CliRunner().invoke(main, ["compare", *plans])
    assert chinese.exit_code == 0, chinese.output
    for words in ("总投入", "1,220万元", "胸痛中心·规划后时限外人口", "基层就诊率·规划后", "66.0%", "最优"):
        assert words in chinese.output, words
    english = CliRunner().invoke(main, ["compare", *reversed(plans)])
    assert "grassroots visit share after" in english.output and "总投入" not in english.output
    machine = json.loads(CliRunner().invoke(main, ["compare", *plans, "--format", "json"]).stdout)
    assert machine[0]["grassroots_share_after"] == 0.66 and "cost_yuan" in machine[0]


def test_the_plan_printout_shows_tiers_pathways_and_years(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from allocopt.cli_text import echo_plan
    from allocopt.i18n import translator

    summary = json.loads((fx.write_result_dir(tmp_path / "plan") / "summary.json").read_text(encoding="utf-8"))
    summary["tiers"] = {"grassroots_share_before": 0.338, "grassroots_share_after": 0.47,
                        "target_grassroots_share": 0.65, "meets_target_after": False,
                        "mean_referral_minutes_before": 50.57, "mean_referral_minutes_after": 47.92, "links_changed": 2}
    summary["pathways"] = {"conditions": {"stroke": {"timely_cases_before": 120.0, "timely_cases_after": 310.5,
                                                     "timely_share_before": 0.29, "timely_share_after": 0.756,
                                                     "mean_minutes_before": 140.0, "mean_minutes_after": 88.25}}}
    summary["years"] = {"first": 2026, "last": 2027, "per_year": [
        {"year": 2026, "capital_yuan": 5e6, "annual_yuan": 1e6, "gps_added": 10, "gp_per_10k": 2.1,
         "weighted_gap": 9000.0},
        {"year": 2027, "capital_yuan": 4e6, "annual_yuan": 2e6, "gps_added": 8, "gp_per_10k": 2.9,
         "weighted_gap": 7000.0}]}
    echo_plan(summary, fx.ALLOCATIONS, tmp_path / "plan", translator("zh"))
    printed = capsys.readouterr().out
    assert "基层就诊率33.8% → 47.0%（目标65.0%，未达标）" in printed
    assert "平均转诊时间50.6 → 47.9分钟；调整医共体转诊关系2处" in printed
    assert "卒中中心" in printed and "75.6%" in printed and "310" in printed
    assert "年度" in printed and "2026 " in printed and "2,026" not in printed and "4,000,000" in printed
    echo_plan(summary, fx.ALLOCATIONS, tmp_path / "plan", translator("en"))
    english = capsys.readouterr().out
    assert "grassroots visit share 33.8% -> 47.0% (target 65.0%, not met)" in english
    assert "Care pathways" in english and "Year by year" in english and "Stroke center" in english


def test_access_map_and_table_follow_lang(tiny_region_path: Path, tmp_path: Path,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    from allocopt import maps

    drawn = []
    original = maps.access_map

    def spy(*args, **kwargs):
        drawn.append(kwargs["tr"].language)
        return original(*args, **kwargs)

    monkeypatch.setattr(maps, "access_map", spy)
    outcome = CliRunner().invoke(main, ["access", str(tiny_region_path), "--lang", "zh", "--map",
                                        str(tmp_path / "gaps.png"), "--cache-dir", str(tmp_path / "cache")])
    assert outcome.exit_code == 0, outcome.output
    assert drawn == ["zh"] and (tmp_path / "gaps.png").read_bytes().startswith(b"\x89PNG")
    assert "常住人口" in outcome.output and "基本医疗（首诊）" in outcome.output
