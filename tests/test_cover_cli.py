"""`allocopt cover`: budgeted, capacitated coverage from files, against the library call, and its input errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from allocopt.cli import main
from allocopt.costs import read_costs_long, read_existing_units
from allocopt.errors import DataError, ScenarioError
from allocopt.model.capacity_coverage import ResourceKind, capacity_coverage

COSTS = "demand,site,cost\nd1,h1,5\nd1,h2,12\nd2,h1,15\nd2,h2,4\nd3,h2,8\nd3,h3,3\n"
WEIGHTS = "demand,weight\nd1,100\nd2,300\nd3,200\n"
EXISTING = "site,name,beds\nh1,North,2\nh2,Central,0\n"


@pytest.fixture()
def files(tmp_path: Path) -> dict[str, Path]:
    paths = {name: tmp_path / f"{name}.csv" for name in ("costs", "weights", "existing")}
    for name, text in (("costs", COSTS), ("weights", WEIGHTS), ("existing", EXISTING)):
        paths[name].write_text(text, encoding="utf-8")
    return paths


def test_cover_json_equals_the_library_call(files: dict[str, Path]) -> None:
    result = CliRunner().invoke(main, [
        "cover", "--costs", str(files["costs"]), "--weights", str(files["weights"]), "--threshold", "10",
        "--budget", "120000", "--kind", "beds=50000,max=3,per_unit=100", "--existing", str(files["existing"]),
        "--format", "json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    kind = ResourceKind("beds", unit_cost=50_000.0, required=1, max_added_per_site=3, demand_per_unit=100.0)
    direct = capacity_coverage(read_costs_long(files["costs"]), threshold=10, kinds=[kind], budget=120_000,
                               existing={"h1": {"beds": 2}, "h2": {"beds": 0}},
                               weights={"d1": 100.0, "d2": 300.0, "d3": 200.0})
    # 2 beds at h1 serve d1 (100); two more beds (the budget) serve 200 of d2 and d3, whichever way they go
    assert data["covered_weight"] == pytest.approx(direct.covered_weight) == pytest.approx(300.0)
    assert data["cost"] == pytest.approx(100_000.0)
    assert (data["status"], data["capacitated"]) == ("optimal", True)


def test_cover_table_names_the_units_added(files: dict[str, Path]) -> None:
    result = CliRunner().invoke(main, [
        "cover", "--costs", str(files["costs"]), "--threshold", "10", "--budget", "50000",
        "--kind", "beds=50000", "--existing", str(files["existing"])])
    assert result.exit_code == 0, result.output
    # unweighted, no capacities: h1 covers d1 today; one bed at h2 adds d2 and d3
    assert "covered weight 3 of 3 (100.0%), cost 50,000" in result.output
    assert "h2 beds" in result.output


@pytest.mark.parametrize(("spec", "message"), [
    ("beds", "start with NAME=UNIT_COST"),
    ("beds=abc", "the unit cost .abc. is not an amount of money; write 30000000 or 3e7"),
    ("beds=5,maxx=3", "'maxx=3' is not one of"),
    ("beds=5,max=2,max=3", "each at most once"),
    ("beds=5,max=1.5", "whole numbers"),
    ("beds=-5", "unit_cost must be a finite number >= 0"),
    ("beds=5,per_unit=0", "demand_per_unit must be a positive number"),
])
def test_bad_kind_specs_name_the_spec(spec: str, message: str) -> None:
    with pytest.raises(ScenarioError, match=message):
        ResourceKind.from_spec(spec)


def test_kind_spec_defaults_and_options() -> None:
    assert ResourceKind.from_spec("vent=25000") == ResourceKind("vent", 25_000.0, 1, 1, None)
    assert ResourceKind.from_spec(" icu = 6e4 , required=2, max=20, per_unit=2000") == ResourceKind(
        "icu", 60_000.0, 2, 20, 2000.0)


@pytest.mark.parametrize(("text", "message"), [
    ("site,beds\nh9,1\n", "line 2, field site: site 'h9' is not in the cost matrix"),
    ("site,beds\nh1,1.5\n", "line 2, field beds: 1.5 is not a whole number"),
    ("site,beds\nh1,-1\n", "line 2, field beds"),
    ("site,beds\nh1,1\nh1,2\n", "line 3: site 'h1' repeats line 2"),
    ("site,name\nh1,x\n", "no column is a resource kind"),
    ("id,beds\nh1,1\n", "missing column"),
])
def test_existing_units_errors_name_file_line_and_field(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "existing.csv"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(DataError, match=message):
        read_existing_units(path, site_ids=("h1", "h2", "h3"), kinds=("beds",))


def test_cover_bad_input_exits_1_with_the_message(files: dict[str, Path], tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("site,beds\nh9,1\n", encoding="utf-8")
    result = CliRunner().invoke(main, ["cover", "--costs", str(files["costs"]), "--threshold", "10", "--budget", "1",
                                       "--kind", "beds=5", "--existing", str(bad)])
    assert result.exit_code == 1
    assert "site 'h9' is not in the cost matrix" in result.output
    assert "Traceback" not in result.output
