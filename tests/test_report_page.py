"""The report as a plan document in the planner's language: every Chinese text from the catalogue, numbers equal to
summary.json, no local path, an embedded font holding every glyph, and headless Chromium drawing it offline."""

from __future__ import annotations

import base64
import dataclasses
import io
import json
import re
import shutil
import subprocess
from pathlib import Path

import pandas as pd
import pytest
from fontTools.ttLib import TTFont

import result_fixture as fx
from allocopt import report, report_sections
from allocopt.export import write_csv
from allocopt.i18n import FALLBACK_LANGUAGE, LANGUAGES, translator
from allocopt.interactive_map import csp_hash
from test_report import _Page, _parse, _rows

CHROMIUM = Path("/usr/bin/chromium")
TEST_DPI = 40
PROPER_NAMES = {"CT", "DR", "X", "DSA", "SHA-256", "allocopt", "highs", "region.gpkg", "valley.toml", "valley-county"}
"""ASCII words a Chinese report may show: equipment names without a Chinese form (CT, DR: 数字X线摄影, DSA), the
program, the solver, the fixture's region and its input file names."""
UNCOVERABLE_PEOPLE = {"primary_care": 5_000.0, "chest_pain": 0.0}
TIERS = {"grassroots_share_before": 0.55, "grassroots_share_after": 0.68, "target_grassroots_share": 0.65,
         "meets_target_after": True, "links_changed": 2, "hospitals_over_capacity_before": 1,
         "mean_referral_minutes_before": 41.5, "mean_referral_minutes_after": 33.0}
INDICATORS = {
    "medical_point_15min_share": {"before": 0.91, "after": 0.961, "national": 0.899, "national_kind": "reference",
                                  "source": "survey"},
    "gp_per_10k": {"before": 0.92, "after": 1.31, "national": 3.93, "national_kind": "target", "source": "plan"},
}

PATHWAYS = {"conditions": {"stroke": {"expected_cases_after": 410.7, "timely_cases_before": 120.0,
                                      "timely_cases_after": 250.5, "timely_share_before": 0.29,
                                      "timely_share_after": 0.61, "mean_minutes_before": 95.3,
                                      "mean_minutes_after": 70.25, "p90_minutes_before": 140.0,
                                      "p90_minutes_after": 118.0}},
            "telemedicine_sites_after": 2}
YEARS = pd.DataFrame({"year": [2026, 2027], "population": [130_000.0, 131_000.0],
                      "capital_yuan": [7_000_000.0, 2_550_000.0], "annual_yuan": [1_500_000.0, 2_650_000.0],
                      "gp_per_10k": [1.1, 1.31], "indicator_medical_point_15min_share": [0.93, 0.961]})
NEWLY_COVERED = [0.0, 40_000.0, 1_200.0, 800.0, 300.0, 5_000.0, 0.0, 15_000.0]


@pytest.fixture(scope="module")
def result_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The fixture result, as a run writes it today: a scenario file path, unreachable villages, tiers, indicators."""
    directory = fx.write_result_dir(tmp_path_factory.mktemp("result"))
    path = directory / "summary.json"
    summary = json.loads(path.read_text(encoding="utf-8"))
    summary["scenario"]["source"] = str(directory / "valley.toml")
    for service, figures in summary["services"].items():
        figures["uncoverable_population"] = UNCOVERABLE_PEOPLE.get(service, 0.0)
        figures["uncoverable_demand_points"] = 1 if UNCOVERABLE_PEOPLE.get(service) else 0
    summary |= {"tiers": TIERS, "indicators": INDICATORS, "pathways": PATHWAYS}
    path.write_text(json.dumps(summary), encoding="utf-8")
    write_csv(fx.ALLOCATIONS.assign(newly_covered_people=NEWLY_COVERED,
                                    newly_covered_cases_per_year=[0.25 * i for i in range(len(NEWLY_COVERED))]),
              directory / "allocations.csv")
    write_csv(YEARS, directory / "years.csv")
    write_csv(fx.ALLOCATIONS.assign(year=[2026] * 4 + [2027] * 4), directory / "schedule.csv")
    return directory


@pytest.fixture(scope="module")
def pages(result_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    out = tmp_path_factory.mktemp("reports")
    return {language: report.write_report(result_dir, out_dir=out / language, language=language, dpi=TEST_DPI).report
            for language in LANGUAGES}


def _words(path: Path) -> str:
    """The text a reader sees (every text node, the style sheet and the interactive map's scripts left out), its
    runs of white space as one space."""
    page = _Page()
    page.feed(re.sub(r"<style>.*?</style>|<script>.*?</script>", " ", path.read_text(encoding="utf-8"),
                     flags=re.DOTALL))
    return " ".join(" ".join(page.text).split())


def test_a_chinese_report_shows_no_english_word(pages: dict[str, Path], result_dir: Path) -> None:
    text = _words(pages["zh"])
    assert '<html lang="zh-CN">' in pages["zh"].read_text(encoding="utf-8")
    tokens = set(re.findall(r"[A-Za-z][A-Za-z0-9_.\-]*", text))
    hashes = {t for t in tokens if re.fullmatch(r"[0-9a-f]{64}", t)}
    assert tokens - PROPER_NAMES - hashes == set()
    for key in ("report.section.overview", "report.section.gaps", "report.section.plan", "report.section.costs",
                "report.section.outcomes", "report.section.tiers", "report.section.pathways", "report.section.years",
                "report.section.appendix"):
        assert translator("zh")(key) in text


def test_an_english_report_is_complete(pages: dict[str, Path]) -> None:
    text = _words(pages["en"])
    assert '<html lang="en">' in pages["en"].read_text(encoding="utf-8")
    assert not re.search(r"[\u4e00-\u9fff]", text.replace(fx.SCENARIO, "")
                         .translate({ord(c): None for c in "".join(fx.TOWNSHIPS["name"]) + "".join(fx.SITES["name"])})
                         .replace("国办发〔2018〕3号", "").replace("国办发〔2015〕14号", ""))


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_numbers_of_the_report_are_those_of_summary_json(pages: dict[str, Path], result_dir: Path,
                                                            language: str) -> None:
    summary = json.loads((result_dir / "summary.json").read_text(encoding="utf-8"))
    tr, page = translator(language), _parse(pages[language])
    services = _rows(page, "services-table")
    gaps = _rows(page, "gaps-table")
    for service, figures in summary["services"].items():
        assert float(services[service][2][1]) == figures["unserved_before"]
        assert float(services[service][3][1]) == figures["unserved_after"]
        assert float(gaps[service][3][1]) == figures["unserved_before"]
        assert float(gaps[service][4][1]) == figures["uncoverable_population"]
    costs = page.tables["costs-table"][-1][1]
    assert [float(costs[i][1]) for i in (1, 2, 3)] == [summary["capital_yuan"], summary["annual_yuan"],
                                                        summary["cost_yuan"]]
    indicators = _rows(page, "indicators-table")
    for name, figures in INDICATORS.items():
        assert [float(cell[1]) for cell in indicators[name][1:4]] == [figures["before"], figures["after"],
                                                                       figures["national"]]
    tiers = _rows(page, "tiers-table")
    assert float(tiers["grassroots_share"][1][1]) == TIERS["grassroots_share_before"]
    assert float(tiers["mean_referral_minutes"][2][1]) == TIERS["mean_referral_minutes_after"]
    pathways = _rows(page, "pathways-table")
    assert list(pathways) == ["stroke/before", "stroke/after"]
    assert [float(cell[1]) for cell in pathways["stroke/before"][3:7]] == [120.0, 0.29, 95.3, 140.0]
    assert [float(cell[1]) for cell in pathways["stroke/after"][2:7]] == [410.7, 250.5, 0.61, 70.2, 118.0]
    years = _rows(page, "years-table")
    assert list(years) == ["2026", "2027"]
    assert years["2027"][2][0] == report_sections.placed(fx.ALLOCATIONS.iloc[4:], tr)
    assert [float(years["2026"][i][1]) for i in (3, 4, 5)] == [7_000_000.0, 1_500_000.0, 1.1]
    bought = [float(cells[8][1]) for key, cells in page.tables["allocations-table"] if key is not None]
    assert bought == NEWLY_COVERED
    text = _words(pages[language])
    assert tr.yuan(summary["cost_yuan"]) in text and tr.yuan(summary["capital_yuan"]) in text
    assert tr("report.gaps.unfixable_item", service=tr.term("common.service", "primary_care"), minutes="15",
              people=tr.people(5_000.0)) in text
    if language == "zh":
        assert "1,220万元" in text and "5,000人" in text and "12,200,000" not in text


@pytest.mark.parametrize("language", LANGUAGES)
def test_no_local_path_reaches_the_page(pages: dict[str, Path], result_dir: Path, language: str) -> None:
    html = pages[language].read_text(encoding="utf-8")
    assert str(result_dir) not in html and str(pages[language].parent) not in html
    assert not re.search(r"(?<![\w<])/(tmp|home|root|work|Users)/", html)
    assert "valley.toml" in _rows(_parse(pages[language]), "solver-table")["scenario_file"][1][0]


def test_solver_figures_stay_out_of_the_opening(pages: dict[str, Path]) -> None:
    html = pages["en"].read_text(encoding="utf-8")
    opening = html[:html.index('<section id="overview">')]
    for word in ("bound", "objective", "solver", "gap of"):
        assert word not in re.sub(r"<style>.*?</style>", "", opening, flags=re.DOTALL).lower()
    assert _rows(_parse(pages["en"]), "solver-table")["best_bound"][1][1] == repr(81_234.5)


def test_the_language_comes_from_the_caller_then_the_region_then_the_fallback() -> None:
    assert report.report_language({"region": "r"}) == FALLBACK_LANGUAGE
    assert report.report_language({"region": {"name": "r", "language": "zh"}}) == "zh"
    assert report.report_language({"region": "r", "region_language": "zh"}) == "zh"
    assert report.report_language({"region": {"name": "r", "language": "zh"}}, "en") == "en"
    assert report.region_name({"region": {"name": "东塘县", "language": "zh"}}) == "东塘县"


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_embedded_font_holds_every_character_the_page_shows(pages: dict[str, Path], language: str) -> None:
    html = pages[language].read_text(encoding="utf-8")
    encoded = re.search(r"src:url\(data:font/woff2;base64,([A-Za-z0-9+/=]+)\)", html)
    assert encoded
    data = base64.b64decode(encoded.group(1))
    assert 1_000 < len(data) < 600_000  # a subset, not the 16 MB font
    font = TTFont(io.BytesIO(data))
    assert font.flavor == "woff2"
    covered = set(font.getBestCmap())
    shown = {ord(c) for c in _words(pages[language]) if not c.isspace()}
    assert shown - covered == set()
    assert ord("城") in covered and (language == "en" or ord("卫") in covered)


_BROWSER_CHECK = """<script>
window.addEventListener("load", async () => {
  await document.fonts.ready;
  const draw = (text, family) => {
    const canvas = document.createElement("canvas");
    canvas.width = 200; canvas.height = 60;
    const context = canvas.getContext("2d");
    context.font = "40px " + family;
    context.fillText(text, 0, 45);
    return canvas.toDataURL();
  };
  const page = '"allocopt-cjk"';
  const result = {
    images: Array.from(document.images).map(i => ({complete: i.complete, width: i.naturalWidth})),
    faces: Array.from(document.fonts).map(f => [f.family, f.status]),
    distinct: draw("城", page) !== draw("镇", page),
    tofuDistinct: draw("城", "sans-serif") !== draw("镇", "sans-serif"),
    differsFromSystem: draw("城关镇", page) !== draw("城关镇", "sans-serif"),
    headingFont: getComputedStyle(document.querySelector("h1")).fontFamily,
  };
  const out = document.createElement("pre");
  out.id = "browser-check";
  out.textContent = JSON.stringify(result);
  document.body.appendChild(out);
});
</script>"""


def _system_has_cjk_font() -> bool:
    fc_list = shutil.which("fc-list")
    if fc_list is None:
        return False
    return bool(subprocess.run([fc_list, ":lang=zh"], capture_output=True, text=True, check=False).stdout.strip())


@pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium (apt-get install chromium)")
@pytest.mark.parametrize("language", LANGUAGES)
def test_chromium_draws_the_page_offline_with_its_own_chinese_glyphs(pages: dict[str, Path], tmp_path: Path,
                                                                    language: str) -> None:
    html = pages[language].read_text(encoding="utf-8")
    # A test copy: the page's own policy (data: images and font only, no network, the interactive map's scripts by
    # hash) stays, plus the hash of this check's script.
    policy = re.search(r'<meta http-equiv="Content-Security-Policy" content="([^"]*)">', html)
    assert policy and "unsafe-inline&#x27;; script-src &#x27;sha256-" in policy.group(1)
    check_hash = csp_hash(_BROWSER_CHECK.removeprefix("<script>").removesuffix("</script>")).replace("'", "&#x27;")
    copy = tmp_path / "report-test.html"
    copy.write_text(html.replace(policy.group(1), f"{policy.group(1)} {check_hash}")
                    .replace("</body>", _BROWSER_CHECK + "</body>"), encoding="utf-8")
    profile = tmp_path / "profile"
    completed = subprocess.run(
        [str(CHROMIUM), "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--no-first-run", f"--user-data-dir={profile}",
         "--virtual-time-budget=10000", "--dump-dom", copy.as_uri()],
        capture_output=True, text=True, timeout=180, check=False,
    )
    shutil.rmtree(profile, ignore_errors=True)
    found = re.search(r'<pre id="browser-check">(.*?)</pre>', completed.stdout, re.DOTALL)
    assert found, completed.stderr[-2000:]
    check = json.loads(found.group(1))
    assert 'id="services-table"' in completed.stdout and 'id="allocations-table"' in completed.stdout
    images = check["images"]
    assert len(images) == len([tag for tag, _ in _parse(pages[language]).tags if tag == "img"])
    assert images and all(image["complete"] and image["width"] > 0 for image in images)
    assert ["allocopt-cjk", "loaded"] in check["faces"] and check["headingFont"].strip('"').startswith("allocopt-cjk")
    assert check["distinct"], "the embedded font draws two Chinese characters alike: not its glyphs"
    if not _system_has_cjk_font():  # without a system font Chinese falls back to boxes, all alike
        assert not check["tofuDistinct"] and check["differsFromSystem"]


def test_the_worst_townships_are_those_with_the_largest_gap_share() -> None:
    townships = pd.DataFrame({"code": ["a", "b", "c"], "gap_share_before": [0.1, 0.5, 0.3],
                              "primary_care_covered_share_before": [0.2, 0.9, 0.5]})
    assert report_sections.worst_townships(townships, top=2)["code"].tolist() == ["b", "c"]
    older = townships.drop(columns=["gap_share_before"])  # results written before gap shares: lowest coverage
    assert report_sections.worst_townships(older, top=2)["code"].tolist() == ["a", "c"]


def test_a_plan_that_places_nothing_says_so_first(result_dir: Path) -> None:
    result = report.read_result_dir(result_dir)
    nothing = dataclasses.replace(result, allocations=result.allocations.iloc[0:0])
    zh = translator("zh")
    assert report_sections.lead(nothing, zh)[0] == zh("report.lead.nothing")
    assert report_sections.lead(result, zh)[0] == (
        "本方案共需投入1,220万元（其中一次性投入955万元，年运行费用265万元），新增配置导管室（DSA）1台、胸痛中心1个、"
        "全科医生5名、DR（数字X线摄影）1台、彩超1台、新建乡镇卫生院1所。")
