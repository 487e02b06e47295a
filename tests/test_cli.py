"""CLI commands through click's CliRunner: exit codes, outputs, and clean errors without tracebacks."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

from allocopt.cli import main
from allocopt.i18n import translator
from allocopt.services import SERVICES


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


def test_every_command_has_help_with_an_example(runner: CliRunner) -> None:
    for name, command in main.commands.items():
        result = runner.invoke(main, [name, "--help"])
        assert result.exit_code == 0, name
        assert "Example:" in (command.help or ""), f"{name} --help lacks an example"


def test_regions_lists_the_default_region(runner: CliRunner) -> None:
    result = runner.invoke(main, ["regions"])
    assert result.exit_code == 0
    assert "valley-county" in result.output


def test_validate_tiny_region(runner: CliRunner, tiny_region_path: Path) -> None:
    result = runner.invoke(main, ["validate", str(tiny_region_path), "--format", "json"])
    assert result.exit_code == 0, result.output
    facts = json.loads(result.output)
    assert facts["townships"] == 3
    assert facts["candidates"] == 2


def test_access_json_adds_up(runner: CliRunner, tiny_region_path: Path, tmp_path: Path) -> None:
    out = tmp_path / "access"
    result = runner.invoke(
        main, ["access", str(tiny_region_path), "--format", "json", "--out", str(out), "--cache-dir",
               str(tmp_path / "cache")],
    )
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert set(summary["services"]) == set(SERVICES)
    for figures in summary["services"].values():
        assert {"threshold_minutes", "covered_population", "covered_share"} <= set(figures)
        covered, unserved = figures["covered_population"], figures["unserved_population"]
        assert covered + unserved == pytest.approx(summary["population"])
    assert json.loads((out / "access.json").read_text(encoding="utf-8")) == summary
    townships = pd.read_csv(out / "townships.csv", encoding="utf-8-sig")
    assert townships["population"].sum() == pytest.approx(summary["population"])


def test_bad_bundle_exits_1_naming_the_field(runner: CliRunner, tiny_region_path: Path, tmp_path: Path) -> None:
    broken = tmp_path / "broken"
    shutil.copytree(tiny_region_path, broken)
    facilities = (broken / "facilities.csv").read_text(encoding="utf-8")
    header, first, *rest = facilities.splitlines()
    columns = header.split(",")
    cells = first.split(",")
    cells[columns.index("level")] = "clinic"
    (broken / "facilities.csv").write_text("\n".join([header, ",".join(cells), *rest]) + "\n", encoding="utf-8")
    out = tmp_path / "out"
    result = runner.invoke(main, ["access", str(broken), "--out", str(out), "--cache-dir", str(tmp_path / "c")])
    assert result.exit_code == 1
    assert "Traceback" not in result.output
    assert "facilities.csv" in result.output and "level" in result.output and "clinic" in result.output
    assert not out.exists()


def test_unknown_region_names_the_embedded_ones(runner: CliRunner) -> None:
    result = runner.invoke(main, ["validate", "no-such-region"])
    assert result.exit_code == 1
    assert "valley-county" in result.output


def test_generate_region_writes_a_loadable_bundle(runner: CliRunner, tmp_path: Path) -> None:
    out = tmp_path / "county"
    args = ["generate-region", "--townships", "3", "--villages", "20", "--seed", "7", str(out)]
    result = runner.invoke(main, args)
    assert result.exit_code == 0, result.output
    # Lushui's 203,977 residents per ten townships, scaled: 3 townships hold round(203,977 x 0.3).
    assert "3 townships in 1 county, 61,193 residents" in result.output
    check = runner.invoke(main, ["validate", str(out), "--format", "json"])
    assert check.exit_code == 0, check.output
    facts = json.loads(check.output)
    assert facts["townships"] == 3 and facts["demand_points"] == 20
    again = runner.invoke(main, args)
    assert again.exit_code != 0 and "overwrite" in again.output


def test_access_map_is_a_png(runner: CliRunner, tiny_region_path: Path, tmp_path: Path) -> None:
    path = tmp_path / "gaps.png"
    result = runner.invoke(main, ["access", str(tiny_region_path), "--map", str(path), "--cache-dir",
                                  str(tmp_path / "c")])
    assert result.exit_code == 0, result.output
    assert path.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")


def test_build_region_from_osm_and_mapped_columns(runner: CliRunner, tmp_path: Path) -> None:
    pytest.importorskip("osmium")
    import geopandas as gpd
    from shapely.geometry import box

    data = Path(__file__).resolve().parent / "data" / "build"
    gpd.GeoDataFrame(
        {"乡镇代码": ["W", "E"], "乡镇名称": ["西区", "东区"]},
        geometry=[box(24.935, 60.164, 24.944, 60.179), box(24.944, 60.164, 24.953, 60.179)], crs="EPSG:4326",
    ).to_file(tmp_path / "townships.geojson")
    pd.DataFrame({"id": ["h1", "h2"], "名称": ["甲", "乙"], "医院等级": ["社区卫生服务中心"] * 2,
                  "lon": [24.940, 24.946], "lat": [60.170, 60.168]}).to_csv(tmp_path / "f.csv", index=False)
    out = tmp_path / "helsinki"
    result = runner.invoke(main, [
        "build-region", str(out), "--roads", str(data / "Helsinki.osm.pbf"),
        "--townships", str(tmp_path / "townships.geojson"), "--facilities", str(tmp_path / "f.csv"),
        "--population", str(data / "helsinki_population_grid_2020.gpkg"),
        "--map", "townships.code=乡镇代码", "--map", "townships.name=乡镇名称",
        "--map", "facilities.name=名称", "--map", "level=医院等级", "--format", "json",
    ])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["crs"] == "EPSG:32635"
    assert report["population_assigned"] + report["population_outside"] == pytest.approx(71724.0)
    check = runner.invoke(main, ["validate", str(out), "--format", "json"])
    assert check.exit_code == 0, check.output
    assert json.loads(check.output)["facilities"] == 2

    bad = runner.invoke(main, ["build-region", str(tmp_path / "x"), "--roads", str(data / "Helsinki.osm.pbf"),
                               "--townships", str(tmp_path / "townships.geojson"), "--facilities",
                               str(tmp_path / "f.csv"), "--map", "level"])
    assert bad.exit_code == 2 and "FIELD=COLUMN" in bad.output


def test_optimize_writes_the_result_directory(runner: CliRunner, tiny_region_path: Path, tmp_path: Path) -> None:
    out = tmp_path / "plan"
    result = runner.invoke(main, ["optimize", str(tiny_region_path), "--budget", "5000000", "--format", "json",
                                  "--out", str(out), "--cache-dir", str(tmp_path / "c")])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["status"] == "optimal"
    assert summary["budget_yuan"] == 5_000_000
    assert summary["cost_yuan"] <= 5_000_000 + 1e-6
    assert set(summary["services"]) == set(SERVICES)
    for figures in summary["services"].values():
        assert figures["unserved_after"] <= figures["unserved_before"] + 1e-9
    assert json.loads((out / "summary.json").read_text(encoding="utf-8")) == summary
    allocations = pd.read_csv(out / "allocations.csv", encoding="utf-8-sig")
    assert allocations["cost_yuan"].sum() == pytest.approx(summary["cost_yuan"])
    assert set(summary["inputs"]["region_files"]) >= {"region.toml", "region.gpkg", "facilities.csv"}

    import pyogrio

    assert sorted(pyogrio.list_layers(out / "result.gpkg")[:, 0]) == ["demand", "facilities", "townships"]


def test_optimize_infeasible_target_exits_3_and_keeps_earlier_results(
    runner: CliRunner, tiny_region_path: Path, tmp_path: Path
) -> None:
    out = tmp_path / "plan"
    out.mkdir()
    (out / "summary.json").write_text("{}", encoding="utf-8")
    (out / "allocopt-manifest.json").write_text('{"kind": "optimize", "files": ["summary.json"]}', encoding="utf-8")
    scenario = tmp_path / "hard.toml"
    scenario.write_text("[budget]\ntotal_yuan = 1000\n[targets.min_covered_share]\ncath_lab = 0.9\n", encoding="utf-8")
    result = runner.invoke(main, ["optimize", str(tiny_region_path), "--scenario", str(scenario), "--out", str(out),
                                  "--cache-dir", str(tmp_path / "c")])
    assert result.exit_code == 3, result.output
    assert "Traceback" not in result.output
    assert "yuan" in result.output and "budget" in result.output
    assert (out / "summary.json").read_text(encoding="utf-8") == "{}"


SF = Path(__file__).resolve().parent / "data" / "sf"
SF_COSTS = ["--costs", str(SF / "SF_network_distance_candidateStore_16_censusTract_205_new.csv"),
            "--columns", "DestinationName,name,distance",
            "--weights", str(SF / "SF_demand_205_centroid_uniform_weight.csv"), "--weight-columns", "NAME,POP2000"]


def test_locate_pmedian_matches_spopt_on_san_francisco(runner: CliRunner) -> None:
    result = runner.invoke(main, ["locate", "pmedian", *SF_COSTS, "-p", "4", "--format", "json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert sorted(data["sites"]) == ["Store_11", "Store_12", "Store_15", "Store_2"]
    population = pd.read_csv(SF / "SF_demand_205_centroid_uniform_weight.csv")["POP2000"].sum()
    assert data["objective"] / population == pytest.approx(2982.1268579890657, rel=1e-9)
    assert len(data["assignment"]) == 205


def test_locate_mclp_matches_spopt_on_san_francisco(runner: CliRunner) -> None:
    result = runner.invoke(main, ["locate", "mclp", *SF_COSTS, "-p", "4", "--radius", "5000", "--format", "json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["objective"] == pytest.approx(875_247)
    assert len(data["covered"]) == 184


def test_locate_reads_orlib_and_its_p(runner: CliRunner, tmp_path: Path) -> None:
    # A path 1-2-3-4 with unit edges, p = 1 in the file: the best median is 2 or 3 (total cost 4).
    path = tmp_path / "line.txt"
    path.write_text("4 3 1\n1 2 1\n2 3 1\n3 4 1\n", encoding="utf-8")
    result = runner.invoke(main, ["locate", "pmedian", "--costs", str(path), "--format-in", "orlib", "--format",
                                  "json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["objective"] == 4 and len(data["sites"]) == 1 and data["sites"][0] in {"2", "3"}
    missing = runner.invoke(main, ["locate", "mclp", "--costs", str(path), "--format-in", "orlib"])
    assert missing.exit_code == 1 and "--radius" in missing.output


def test_sweep_compare_and_batch(runner: CliRunner, tiny_region_path: Path, tmp_path: Path) -> None:
    cache = ["--cache-dir", str(tmp_path / "c")]
    sweep_out = tmp_path / "sweep"
    result = runner.invoke(main, ["sweep", str(tiny_region_path), "--budgets", "0:4000000:3", "--mip-gap", "0",
                                  "--out", str(sweep_out), *cache])
    assert result.exit_code == 0, result.output
    frontier = pd.read_csv(sweep_out / "frontier.csv", encoding="utf-8-sig")
    assert frontier["budget_yuan"].tolist() == [0, 2_000_000, 4_000_000]
    assert (frontier["cost_yuan"] <= frontier["budget_yuan"] + 1e-6).all()
    assert frontier["weighted_gap"].is_monotonic_decreasing

    plans = []
    for budget in ("1000000", "4000000"):
        out = tmp_path / f"plan-{budget}"
        assert runner.invoke(main, ["optimize", str(tiny_region_path), "--budget", budget, "--out", str(out),
                                    *cache]).exit_code == 0
        plans.append(str(out))
    compared = runner.invoke(main, ["compare", *plans, "--format", "json"])
    assert compared.exit_code == 0, compared.output
    assert len(json.loads(compared.stdout)) == 2

    batch_out = tmp_path / "batch"
    batch = runner.invoke(main, ["batch", str(tiny_region_path), str(tmp_path / "missing"), "--out",
                                 str(batch_out), *cache])
    assert batch.exit_code == 3, batch.output
    table = pd.read_csv(batch_out / "batch.csv", encoding="utf-8-sig")
    assert table["status"].tolist()[0] == "optimal" and table["status"].tolist()[1] == "error"


def test_consortium_json(runner: CliRunner, tiny_region_path: Path, tmp_path: Path) -> None:
    result = runner.invoke(main, ["consortium", str(tiny_region_path), "--format", "json", "--cache-dir",
                                  str(tmp_path / "c")])
    assert result.exit_code == 0, result.output
    design = json.loads(result.stdout)
    hospitals = {row["hospital_id"] for row in design["hospitals"]}
    assert design["links"] and all(link["lead_hospital_id"] in hospitals for link in design["links"])


def test_optimize_with_tiers_writes_referrals(runner: CliRunner, tiny_region_path: Path, tmp_path: Path) -> None:
    scenario = tmp_path / "tiers.toml"
    scenario.write_text("[budget]\ntotal_yuan = 3000000\n[tiers]\n", encoding="utf-8")
    out = tmp_path / "plan"
    result = runner.invoke(main, ["optimize", str(tiny_region_path), "--scenario", str(scenario), "--format",
                                  "json", "--out", str(out), "--cache-dir", str(tmp_path / "c")])
    assert result.exit_code == 0, result.output
    tiers = json.loads(result.stdout)["tiers"]
    for key in ("grassroots_share_before", "grassroots_share_after", "mean_referral_minutes_before",
                "mean_referral_minutes_after"):
        assert key in tiers
    assert tiers["grassroots_share_after"] >= tiers["grassroots_share_before"] - 1e-9
    referrals = pd.read_csv(out / "referrals.csv", encoding="utf-8-sig")
    assert (referrals["load_visits"] <= referrals["capacity_visits"] + 1e-6).all()

    import pyogrio

    assert "referrals" in pyogrio.list_layers(out / "result.gpkg")[:, 0]


def test_status_line_only_on_a_terminal(runner: CliRunner, tiny_region_path: Path, tmp_path: Path,
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    from allocopt import _clitools, cli

    args = ["optimize", str(tiny_region_path), "--out", str(tmp_path / "p"), "--cache-dir", str(tmp_path / "c")]
    piped = runner.invoke(main, args)
    assert piped.exit_code == 0 and piped.stderr == ""

    monkeypatch.setattr(cli, "status_line", lambda: _clitools.StatusLine(enabled=True))
    shown = runner.invoke(main, args)
    assert shown.exit_code == 0
    for step in ("Loading region", "Travel times", "Building the gap model", "Solving with highs"):
        assert step in shown.stderr
    assert shown.stderr.endswith("\r\x1b[K")


def test_quiet_silences_the_status_line(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    from allocopt import _clitools, cli

    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)
    with cli.main.make_context("allocopt", ["--quiet", "regions"]) as ctx, ctx.scope():
        assert not _clitools.status_line().enabled
    with cli.main.make_context("allocopt", ["regions"]) as ctx, ctx.scope():
        assert _clitools.status_line().enabled


def test_locate_capacitated_orlib_file_reaches_its_optimum(runner: CliRunner) -> None:
    path = Path(__file__).resolve().parent / "data" / "orlib" / "pmedcap01.txt"
    result = runner.invoke(main, ["locate", "pmedian", "--costs", str(path), "--format-in", "orlib-cap",
                                  "--format", "json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["objective"] == pytest.approx(713)
    assert len(data["sites"]) == 5


def test_access_table_names_the_worst_township(runner: CliRunner, tiny_region_path: Path, tmp_path: Path) -> None:
    args = ["access", str(tiny_region_path), "--cache-dir", str(tmp_path / "cache")]
    table = runner.invoke(main, args)
    figures = json.loads(runner.invoke(main, [*args, "--format", "json"]).output)
    assert table.exit_code == 0, table.output
    names = {township["code"]: township["name"] for township in figures["townships"]}
    worst = figures["worst_township"]
    assert names[worst] != worst
    assert f"worst-served township: {names[worst]} ({worst})" in table.output
    lines = [line.strip() for line in table.output.splitlines()[2:]]
    for service, row in figures["services"].items():
        label = translator("en").term("common.service", service)  # the tiny region names no language: English
        line = next(line for line in lines if line.startswith(label))
        assert line.endswith(f"{names[row['worst_township']]} ({row['worst_township']})"), service
