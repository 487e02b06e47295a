"""What a robust plan adds to its result folder: the critical_links layer of result.gpkg and the report's road
closures section; a plan without closures gets neither."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import pandas as pd
import pyogrio
import pytest
from click.testing import CliRunner

from allocopt import workflow
from allocopt.cli import main
from allocopt.i18n import translator
from allocopt.report import CRITICAL_LINKS_TOP, GEOPACKAGE_FILE, REPORT_FILE, SCENARIOS_FILE, write_report
from allocopt.vulnerability import vulnerability
from test_report import _parse, _rows

REGION_SCENARIO = Path(__file__).resolve().parents[1] / "data" / "regions" / "valley-county" / "scenario.toml"
CLOSURES = ('[[closures]]\nname = "rainy season"\nweight = 0.25\nspeed_factor = 0.7\n\n'
            '[[closures]]\nname = "trunk slide"\nweight = 0.05\nroads = ["r0207", "r0206"]\n')


def _optimize(tmp_path: Path, name: str, *args: str) -> Path:
    out = tmp_path / name
    result = CliRunner().invoke(main, ["optimize", "--out", str(out), "--report", "--cache-dir",
                                       str(tmp_path / "cache"), *args])
    assert result.exit_code == 0, result.output
    return out


@pytest.fixture(scope="module")
def robust_dir(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    tmp_path = tmp_path_factory.mktemp("robust")
    scenario = tmp_path / "closures.toml"
    # without valley-county's [ems] table: --robust plans no ambulances yet
    scenario.write_text(REGION_SCENARIO.read_text(encoding="utf-8").split("\n[ems]")[0] + "\n" + CLOSURES,
                        encoding="utf-8")
    return _optimize(tmp_path, "plan", "--scenario", str(scenario), "--robust", "expected"), scenario


def test_critical_links_layer_ranks_roads_as_the_vulnerability_command(robust_dir: tuple[Path, Path],
                                                                       tmp_path: Path) -> None:
    out, scenario = robust_dir
    prepared = workflow.prepare("valley-county", scenario_path=scenario, cache_dir=tmp_path)
    services = tuple(workflow.prepared_problem(prepared).services)
    expected = vulnerability(prepared.region, prepared.network, prepared.scenario, services=services).table
    layer = gpd.read_file(out / GEOPACKAGE_FILE, layer="critical_links")
    assert layer.crs == prepared.region.crs and len(layer) == len(prepared.region.roads)
    assert layer["id"].tolist() == expected["id"].tolist()
    assert layer["rank"].tolist() == list(range(1, len(layer) + 1))
    for column in ("length_km", "residents_most", *(f"residents_{s}" for s in services)):
        assert layer[column].to_numpy() == pytest.approx(expected[column].to_numpy())
    assert layer["residents_most"].iloc[0] > 0
    roads = prepared.region.roads.set_index(prepared.region.roads["id"].astype(str))
    assert layer.geometry.iloc[0].equals_exact(roads.geometry.loc[layer["id"].iloc[0]], 1e-6)


def test_report_shows_the_critical_links_and_every_scenario(robust_dir: tuple[Path, Path]) -> None:
    out, _ = robust_dir
    page = _parse(out / REPORT_FILE)
    layer = gpd.read_file(out / GEOPACKAGE_FILE, layer="critical_links")
    links = _rows(page, "critical-links-table")
    assert list(links) == layer["id"].head(CRITICAL_LINKS_TOP).tolist()
    residents = [c for c in layer.columns if c.startswith("residents_") and c != "residents_most"]
    for _, link in layer.head(CRITICAL_LINKS_TOP).iterrows():
        cells = links[link["id"]]
        assert cells[2][0] == translator("zh").term("report.road_class", link["road_class"])
        assert [float(str(v)) for _, v in cells[4:]] == pytest.approx(link[residents].to_numpy(dtype=float).tolist())
    scenarios = pd.read_csv(out / SCENARIOS_FILE, encoding="utf-8-sig")
    rows = _rows(page, "scenarios-table")
    assert list(rows) == [f"{r.scenario}/{r.service}" for r in scenarios.itertuples(index=False)]
    for r in scenarios.itertuples(index=False):
        cells = rows[f"{r.scenario}/{r.service}"]
        assert cells[2][0] == translator("zh").term("common.service", r.service)
        assert [float(str(v)) for _, v in cells[4:7]] == pytest.approx(
            [r.unserved_before, r.unserved_after, r.unserved_after_plain])
    assert ("section", {"id": "closures"}) in page.tags
    assert (out / "map_critical_links.png").is_file()
    files = write_report(out, out_dir=out.parent / "report")
    assert out.parent / "report" / "map_critical_links.png" in files.maps
    assert all(path.is_file() for path in files.maps)
    images = [attributes.get("src") or "" for tag, attributes in page.tags if tag == "img"]
    assert images and all(src.startswith("data:image/png;base64,") for src in images)


def test_without_robust_neither_the_layer_nor_the_section(robust_dir: tuple[Path, Path], tmp_path: Path) -> None:
    _, scenario = robust_dir
    # valley-county's scenario has [pathways] and [ems]; the closures scenario drops [ems] (for --robust)
    for out, stations in ((_optimize(tmp_path, "plain"), ["ems_stations"]),
                          (_optimize(tmp_path, "closures", "--scenario", str(scenario)), [])):
        assert sorted(str(row[0]) for row in pyogrio.list_layers(out / GEOPACKAGE_FILE)) == sorted([
            "demand", "facilities", "pathways", "townships", *stations])
        page = _parse(out / REPORT_FILE)
        assert ("section", {"id": "closures"}) not in page.tags and "scenarios-table" not in page.tables
        assert not (out / "map_critical_links.png").exists() and not (out / SCENARIOS_FILE).exists()
