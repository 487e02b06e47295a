"""`allocopt locate`: each model's own help, the new inputs (--points, --demand, --format-in lorena, capacitated
p-center) against the library calls, and the messages for inputs that do not fit."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from allocopt.cli import main
from allocopt.costs import read_lorena, read_points
from allocopt.model.classic import p_center, p_median

ORLIB_CAP = Path(__file__).resolve().parent / "data" / "orlib" / "pmedcap01.txt"
POINTS = "id,x,y\na,0,0\nb,1,0\nc,10,0\nd,11,0\ne,5,1\n"
LOADS = "demand,load\na,4\nb,4\nc,1\nd,1\ne,1\n"
WEIGHTS = "demand,weight\na,1\nb,1\nc,9\nd,9\ne,1\n"
CAPACITIES = "site,capacity\na,6\nb,6\nc,6\nd,6\ne,6\n"
LORENA = "5 2\n0 0 6 4\n1 0 6 4\n10 0 6 1\n11 0 6 1\n5 1 6 1\n"


@pytest.fixture()
def files(tmp_path: Path) -> dict[str, Path]:
    paths = {}
    for name, text in (("points", POINTS), ("loads", LOADS), ("weights", WEIGHTS), ("capacities", CAPACITIES),
                       ("lorena", LORENA)):
        paths[name] = tmp_path / f"{name}.csv"
        paths[name].write_text(text, encoding="utf-8")
    return paths


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["locate", *args])
    return result.exit_code, result.output


@pytest.mark.parametrize(("model", "has", "lacks"), [("pmedian", "--formulation", "--radius"),
                                                     ("pcenter", "--capacities", "--weights"),
                                                     ("mclp", "--radius", "--capacities"),
                                                     ("lscp", "--radius", "-p INTEGER")])
def test_each_model_prints_its_own_help(model: str, has: str, lacks: str) -> None:
    code, output = run(model, "--help")
    assert code == 0
    assert output.startswith(f"Usage: main locate {model} [OPTIONS]")  # CliRunner names the program "main"
    assert has in output and lacks not in output
    # every layout's conventions, orlib-cap's rounding down among them, where the model reads that layout
    assert ("ROUNDED DOWN" in output) == (model in ("pmedian", "pcenter"))


def test_points_and_demand_loads_equal_the_library_call(files: dict[str, Path]) -> None:
    code, output = run("pmedian", "--points", str(files["points"]), "--weights", str(files["weights"]),
                       "--demand", str(files["loads"]), "--capacities", str(files["capacities"]), "-p", "2",
                       "--format", "json")
    assert code == 0, output
    costs = read_points(files["points"])
    weights = {"a": 1.0, "b": 1.0, "c": 9.0, "d": 9.0, "e": 1.0}
    loads = {"a": 4.0, "b": 4.0, "c": 1.0, "d": 1.0, "e": 1.0}
    direct = p_median(costs, p=2, weights=weights, capacities=dict.fromkeys("abcde", 6.0), demands=loads)
    data = json.loads(output)
    assert (data["objective"], data["assignment"]) == (direct.objective, dict(direct.assignment))
    # a and b (load 4 each) cannot share a site of 6: the loads, not the weights, bind
    assert data["assignment"]["a"] != data["assignment"]["b"]


def test_lorena_layout_equals_the_library_call(files: dict[str, Path]) -> None:
    code, output = run("pmedian", "--costs", str(files["lorena"]), "--format-in", "lorena", "--format", "json")
    assert code == 0, output
    instance = read_lorena(files["lorena"])
    direct = p_median(instance.costs, p=instance.p, capacities=instance.capacities, demands=instance.demands)
    assert json.loads(output)["objective"] == pytest.approx(direct.objective)
    assert len(json.loads(output)["sites"]) == 2


def test_capacitated_p_center_from_the_command_line(files: dict[str, Path]) -> None:
    code, output = run("pcenter", "--points", str(files["points"]), "--capacities", str(files["capacities"]),
                       "--demand", str(files["loads"]), "-p", "2", "--format", "json")
    assert code == 0, output
    costs = read_points(files["points"])
    direct = p_center(costs, p=2, capacities=dict.fromkeys("abcde", 6.0),
                      demands={"a": 4.0, "b": 4.0, "c": 1.0, "d": 1.0, "e": 1.0})
    assert json.loads(output)["objective"] == direct.objective
    free = run("pcenter", "--points", str(files["points"]), "-p", "2", "--format", "json")[1]
    assert json.loads(free)["objective"] < direct.objective


def test_pcenter_reads_the_capacities_of_an_orlib_cap_file() -> None:
    code, output = run("pcenter", "--costs", str(ORLIB_CAP), "--format-in", "orlib-cap", "--format", "json")
    assert code == 0, output
    assert "applies to pmedian only" not in output
    data = json.loads(output)
    assert data["status"] == "optimal" and len(data["sites"]) == 5


@pytest.mark.parametrize(("args", "code", "message"), [
    (("pmedian", "--costs", "{orlib}", "-p", "1"), 1, "add --format-in orlib"),
    (("pmedian", "--points", "{points}", "--costs", "{points}", "-p", "1"), 1, "one of them"),
    (("pmedian", "-p", "1"), 1, "give the costs either as a cost file (--costs) or as points (--points)"),
    (("pmedian", "--costs", "{orlib}", "--format-in", "orlib", "--truncate"), 1, "--truncate rounds distances"),
    (("pmedian", "--points", "{points}", "--demand", "{loads}", "-p", "1"), 1, "give capacities too"),
    (("mclp", "--costs", "{orlib}", "--format-in", "orlib-cap", "--radius", "3"), 2, "'orlib-cap' is not one of"),
    (("lscp", "--points", "{points}", "--capacities", "{capacities}", "--radius", "3"), 2, "No such option"),
])
def test_inputs_that_do_not_fit_are_named(files: dict[str, Path], tmp_path: Path, args: tuple[str, ...], code: int,
                                          message: str) -> None:
    orlib = tmp_path / "line.txt"
    orlib.write_text("4 3 1\n1 2 1\n2 3 1\n3 4 1\n", encoding="utf-8")
    paths = {"orlib": str(orlib), **{name: str(path) for name, path in files.items()}}
    exit_code, output = run(*(arg.format(**paths) for arg in args))
    assert exit_code == code, output
    assert message in output and "Traceback" not in output
