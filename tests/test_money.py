"""Amounts of money as planners write them, read the same way by every money option and scenario budget line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from allocopt.cli import main
from allocopt.errors import ScenarioError
from allocopt.model.capacity_coverage import ResourceKind
from allocopt.money import parse_money
from allocopt.scenario import load_scenario
from allocopt.sweep import parse_budgets

THIRTY_MILLION = ["30000000", "3e7", "3E7", "30000000.0", "30,000,000", "30_000_000", "30M", "30m", "30 M",
                  "30000k", "3000万", "3000万元", "0.3亿", "¥30,000,000", "￥3000万", " 30M ", "30000000 yuan"]
REFUSED = ["30 million", "3kw", "三千万", "30,00,000", "3,0000", "1,2", "M", "", "nan", "inf", "30MM", "30万亿",
           "3e7e1", "30$"]


@pytest.mark.parametrize("text", THIRTY_MILLION)
def test_every_spelling_of_thirty_million(text: str) -> None:
    assert parse_money(text) == 30_000_000.0


@pytest.mark.parametrize(("text", "amount"), [("2.5k", 2_500.0), (".5M", 500_000.0), ("0", 0.0), ("6万", 60_000.0),
                                              ("1.2亿", 120_000_000.0), ("-5", -5.0)])
def test_other_amounts(text: str, amount: float) -> None:
    assert parse_money(text) == amount  # exact: 0.3亿 and 1.2亿 are multiplied in decimal


@pytest.mark.parametrize("text", REFUSED)
def test_what_cannot_be_read_is_refused_with_the_spellings_that_work(text: str) -> None:
    with pytest.raises(ScenarioError, match=r"is not an amount of money; write 30000000 or 3e7 \(30M, 3000万"):
        parse_money(text)


@pytest.mark.parametrize("text", ["1e400", "1e999999999999"])
def test_amounts_beyond_floats_are_refused(text: str) -> None:
    with pytest.raises(ScenarioError, match="beyond any amount of money; write 30000000 or 3e7"):
        parse_money(text)


@pytest.mark.parametrize("text", ["30M", "3000万", "30,000,000"])
def test_optimize_budget_accepts_each_form(text: str, tiny_region_path: Path, tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["optimize", str(tiny_region_path), "--budget", text, "--format", "json",
                                       "--out", str(tmp_path / "plan"), "--cache-dir", str(tmp_path / "cache")])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["budget_yuan"] == 30_000_000.0


@pytest.mark.parametrize(("text", "message"), [("30 million", "write 30000000 or 3e7"),
                                               ("-1M", "below 0; an amount of money is at least 0")])
def test_optimize_refuses_a_budget_it_cannot_read(text: str, message: str, tiny_region_path: Path) -> None:
    result = CliRunner().invoke(main, ["optimize", str(tiny_region_path), "--budget", text])
    assert result.exit_code == 2
    assert "Invalid value for '--budget'" in result.output and message in result.output
    assert "Traceback" not in result.output


@pytest.mark.parametrize(("text", "budgets"), [
    ("0:30M:4", (0.0, 10e6, 20e6, 30e6)),
    ("0:3000万:4", (0.0, 10e6, 20e6, 30e6)),
    ("0:30,000,000:4", (0.0, 10e6, 20e6, 30e6)),
    ("20M,3000万,0.4亿", (20e6, 30e6, 40e6)),
])
def test_sweep_budgets_read_money_the_same_way(text: str, budgets: tuple[float, ...]) -> None:
    assert parse_budgets(text) == budgets


@pytest.mark.parametrize(("text", "message"), [
    ("30,000,000", "commas separate budgets here, not thousands; write each budget as 30000000 or 3e7"),
    ("5e6,30 million", "'30 million' is not an amount of money; write 30000000 or 3e7"),
    ("-1M,5M", "'-1M' is below 0"),
])
def test_sweep_budgets_refusals(text: str, message: str) -> None:
    with pytest.raises(ScenarioError, match=message):
        parse_budgets(text)


@pytest.mark.parametrize("cost", ["60000", "6e4", "60k", "6万"])
def test_cover_unit_cost_reads_money(cost: str) -> None:
    assert ResourceKind.from_spec(f"icu_beds={cost},max=20").unit_cost == 60_000.0


@pytest.mark.parametrize(("spec", "message"), [
    ("icu_beds=60,000,max=20", "commas separate the options here, not thousands; write the unit cost as 60000"),
    ("icu_beds=sixty", "the unit cost 'sixty' is not an amount of money; write 30000000 or 3e7"),
])
def test_cover_unit_cost_refusals(spec: str, message: str) -> None:
    with pytest.raises(ScenarioError, match=message):
        ResourceKind.from_spec(spec)


def test_cover_budget_reads_money(tmp_path: Path) -> None:
    costs = tmp_path / "costs.csv"
    costs.write_text("demand,site,cost\nd1,h1,5\nd2,h2,4\n", encoding="utf-8")
    args = ["cover", "--costs", str(costs), "--threshold", "10", "--kind", "beds=5万", "--format", "json"]
    plain = CliRunner().invoke(main, [*args, "--budget", "100000"])
    written = CliRunner().invoke(main, [*args, "--budget", "10万"])
    assert written.exit_code == plain.exit_code == 0, written.output
    solved = [{k: v for k, v in json.loads(run.output).items() if k != "seconds"} for run in (written, plain)]
    assert solved[0] == solved[1]
    assert solved[0]["covered_weight"] == 2.0  # both sites bought: 2 x 50,000 = 100,000
    refused = CliRunner().invoke(main, [*args, "--budget", "1O0000"])
    assert refused.exit_code == 2 and "write 30000000 or 3e7" in refused.output


def test_scenario_budget_and_cost_lines_read_money(tmp_path: Path) -> None:
    path = tmp_path / "scenario.toml"
    path.write_text('[budget]\ncapital_yuan = "2500万"\nannual_yuan = "3M"\n[costs.gp]\ncapital_yuan = "5万"\n',
                    encoding="utf-8")
    scenario = load_scenario(path)
    assert (scenario.budget.capital_yuan, scenario.budget.annual_yuan) == (25_000_000.0, 3_000_000.0)
    assert scenario.gp_cost.capital_yuan == 50_000.0
    path.write_text('[budget]\ntotal_yuan = "30 million"\n', encoding="utf-8")
    with pytest.raises(ScenarioError, match=r"key 'budget.total_yuan': '30 million' is not an amount of money; "
                                            r"write 30000000 or 3e7"):
        load_scenario(path)
    path.write_text('[budget]\ntotal_yuan = "-3M"\n', encoding="utf-8")
    with pytest.raises(ScenarioError, match=r"key 'budget.total_yuan' must be at least 0"):
        load_scenario(path)
