"""The interactive map: self-contained, allowed by the report's CSP through script hashes, and working in headless
Chromium (it draws, the indicator menu recolours the townships, the legend hides the referral lines, hovering a
site shows its numbers), with no network request and no CSP violation."""

from __future__ import annotations

import dataclasses
import json
import re
import subprocess
from pathlib import Path

import pytest

import result_fixture as fx
from allocopt import report
from allocopt.i18n import translator
from allocopt.interactive_map import csp_hash, interactive_map, map_figure

CHROMIUM = Path("/usr/bin/chromium")
REPORT_CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'"
"""The report's policy (report.py) without script-src; the test page adds the map's hashes to it."""

_PROBE = """
(async function () {
  const out = {violations: [], step: 'start'};
  const report = () => { document.getElementById('probe-result').textContent = JSON.stringify(out); };
  try {
  document.addEventListener('securitypolicyviolation', e => out.violations.push(e.violatedDirective));
  const wait = ms => new Promise(resolve => setTimeout(resolve, ms));
  const gd = document.getElementById('allocopt-interactive-map');
  for (let i = 0; i < 200 && gd.dataset.ready !== 'true'; i++) await wait(50);
  out.ready = gd.dataset.ready === 'true';
  const fills = () => Array.from(gd.querySelectorAll('.scatterlayer path.js-fill')).map(p => p.style.fill);
  out.paths = gd.querySelectorAll('svg path').length;
  out.fillsBefore = fills();
  gd.querySelector('.updatemenu-header').dispatchEvent(new MouseEvent('click', {bubbles: true}));
  await wait(200);
  const items = Array.from(gd.querySelectorAll('.updatemenu-dropdown-button'));
  out.menu = items.map(item => item.textContent);
  items[MENU_ITEM].dispatchEvent(new MouseEvent('click', {bubbles: true}));
  await wait(500);
  out.fillsAfter = fills();
  const township = gd.querySelectorAll('.scatterlayer path.js-fill')[0].getBoundingClientRect();
  gd.querySelector('.nsewdrag').dispatchEvent(new MouseEvent('mousemove', {bubbles: true,
    clientX: township.left + 0.3 * township.width, clientY: township.top + 0.3 * township.height}));
  await wait(300);
  out.townshipHover = Array.from(gd.querySelectorAll('.hoverlayer .hovertext')).map(t => t.textContent);
  const referral = Array.from(gd.querySelectorAll('.legend .traces'))
    .find(item => item.textContent === REFERRAL_NAME);
  out.linesBefore = gd.querySelectorAll('.scatterlayer .trace .js-line').length;
  const toggle = referral.querySelector('.legendtoggle');
  toggle.dispatchEvent(new MouseEvent('mousedown', {bubbles: true, clientX: 5, clientY: 5, buttons: 1}));
  toggle.dispatchEvent(new MouseEvent('mouseup', {bubbles: true, clientX: 5, clientY: 5}));
  await wait(800);
  out.referralVisible = gd.data[REFERRAL_TRACE].visible;
  out.linesAfter = gd.querySelectorAll('.scatterlayer .trace .js-line').length;
  Plotly.Fx.hover(gd, [{curveNumber: SITE_TRACE, pointNumber: 0}]);
  await wait(300);
  out.hover = Array.from(gd.querySelectorAll('.hoverlayer .hovertext')).map(t => t.textContent);
  out.resources = performance.getEntriesByType('resource').map(r => r.name);
  out.step = 'done';
  } catch (error) { out.error = String(error); }
  report();
})();
"""


@pytest.fixture(scope="module")
def result(tmp_path_factory) -> report.ResultData:
    return report.read_result_dir(fx.write_result_dir(tmp_path_factory.mktemp("interactive") / "result"))


def test_townships_are_coloured_by_the_chosen_indicator_with_popups(result):
    tr = translator("zh")
    figure = map_figure(result, tr=tr)
    menu = figure.layout.updatemenus[0]
    labels = [button.label for button in menu.buttons]
    assert labels[:2] == ["基本医疗（首诊）：规划前", "基本医疗（首诊）：规划后"]
    assert len(labels) == 2 * len(result.summary["services"]) and menu.active == 1
    townships = figure.data[:4]
    chest_before = menu.buttons[labels.index("胸痛中心：规划前")].args[0]
    # the fixture's chest pain coverage is 0 before the plan everywhere: the red end of the shared scale
    assert set(chest_before["fillcolor"]) == {"#a50026"}
    assert "城关镇" in townships[0].text and "常住人口：6.0万人" in townships[0].text
    assert "胸痛中心（60分钟内）覆盖率：0.0% →" in chest_before["text"][0]
    names = [trace.name for trace in figure.data]
    assert tr("maps.interactive.referrals") in names and tr("maps.interactive.additions") in names


def test_fragment_holds_the_scripts_its_hashes_allow_and_no_remote_source(result):
    fragment = interactive_map(result, tr=translator("en"))
    scripts = re.findall(r"<script>(.*?)</script>", fragment.html, flags=re.DOTALL)
    assert len(scripts) == 2 and fragment.csp_sources == tuple(csp_hash(s) for s in scripts)
    assert not re.search(r"<script[^>]*\bsrc=", fragment.html)
    assert "Plotly.newPlot" in scripts[1] and "</" not in scripts[1]
    assert all(word in fragment.text for word in ("城关镇", "Primary care: Before the plan", "County hospital"))


def test_a_name_cannot_end_the_script_element(result):
    hostile = result.township_layer.assign(name=["</script><script>alert(1)</script>", "b", "c", "d"])
    fragment = interactive_map(dataclasses.replace(result, township_layer=hostile))
    assert fragment.html.count("</script>") == 2
    names = next(trace for trace in map_figure(dataclasses.replace(result, township_layer=hostile)).data
                 if trace.mode == "text")
    assert names.text[0] == "&lt;/script&gt;&lt;script&gt;alert(1)&lt;/script&gt;"  # shown as text, not markup


@pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium (apt-get install chromium)")
def test_the_map_draws_switches_toggles_and_shows_popups_in_headless_chromium(result, tmp_path):
    tr = translator("zh")
    fragment = interactive_map(result, tr=tr)
    figure = map_figure(result, tr=tr)
    names = [trace.name for trace in figure.data]
    probe = (_PROBE.replace("MENU_ITEM", "2")  # chest pain before the plan
             .replace("REFERRAL_NAME", json.dumps(tr("maps.interactive.referrals")))
             .replace("REFERRAL_TRACE", str(names.index(tr("maps.interactive.referrals"))))
             .replace("SITE_TRACE", str(names.index(tr("common.level.county_hospital")))))
    policy = f"{REPORT_CSP}; script-src {' '.join((*fragment.csp_sources, csp_hash(probe)))}"
    page = tmp_path / "map.html"
    page.write_text(
        f"<!DOCTYPE html><html><head><meta charset=\"utf-8\"><meta http-equiv=\"Content-Security-Policy\" "
        f"content=\"{policy}\"></head><body>{fragment.html}<pre id=\"probe-result\"></pre>"
        f"<script>{probe}</script></body></html>", encoding="utf-8")
    dom = subprocess.run(
        [str(CHROMIUM), "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--no-first-run", f"--user-data-dir={tmp_path / 'profile'}",
         "--window-size=1200,900", "--virtual-time-budget=20000", "--dump-dom", page.as_uri()],
        capture_output=True, text=True, timeout=120, check=True).stdout
    found = re.search(r"<pre id=\"probe-result\">(.*?)</pre>", dom, flags=re.DOTALL)
    assert found and found.group(1), "the probe did not run: the page's scripts were blocked"
    out = json.loads(found.group(1).replace("&quot;", '"').replace("&amp;", "&"))
    assert out["step"] == "done", out
    assert out["ready"] and out["violations"] == [] and out["resources"] == []
    assert out["paths"] > 20 and len(out["fillsBefore"]) == 4
    assert out["menu"][2] == "胸痛中心：规划前"
    assert out["fillsAfter"] != out["fillsBefore"] and set(out["fillsAfter"]) == {"rgb(165, 0, 38)"}
    assert out["referralVisible"] == "legendonly" and out["linesAfter"] < out["linesBefore"]
    assert any("县人民医院" in text and "全科医生：0 → 0" in text for text in out["hover"])
    # the mouse over the first township (城关镇) shows its figures for the indicator chosen in the menu
    (township,) = out["townshipHover"]
    assert "城关镇" in township and "胸痛中心（60分钟内）覆盖率：0.0% → 100.0%" in township
