"""Hostile scenario files: each bad file exits 1 with one message naming the file and the key, and writes nothing.

Decisions pinned here: a zero budget is valid ("what does today's network achieve"), a negative one is not; zero
costs are valid, zero thresholds are not; a byte-order mark is accepted, a 0-byte file is refused. A hypothesis
test fuzzes the known keys and checks that only AllocoptError escapes `load_scenario`.
"""

from __future__ import annotations

import math
import shutil
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from allocopt.cli import main
from allocopt.errors import AllocoptError, ScenarioError
from allocopt.scenario import DEFAULTS, load_scenario
from test_hostile_regions import TOML_VALUES, assert_one_clean_error, toml_literal

# (id, file contents, fragments the message must hold besides the file name)
CASES: list[tuple[str, bytes, list[str]]] = [
    ("empty-file", b"", ["empty (0 bytes)", "--scenario"]),
    ("not-toml", b"[budget\ntotal_yuan = 1\n", ["not valid TOML", "line 1"]),
    ("gbk", '[scenario]\nname = "泸水县2025年规划"\n'.encode("gbk"), ["not UTF-8", "save the scenario file as UTF-8"]),
    ("negative-budget", b"[budget]\ntotal_yuan = -1\n", ["key 'budget.total_yuan' must be at least 0", "-1"]),
    ("negative-capital", b"[budget]\ncapital_yuan = -5_000_000\n", ["key 'budget.capital_yuan' must be at least 0"]),
    ("text-budget", b'[budget]\ntotal_yuan = "30 million"\n', ["key 'budget.total_yuan'", "write 30000000 or 3e7"]),
    ("nan-budget", b"[budget]\ntotal_yuan = nan\n", ["key 'budget.total_yuan' must be finite"]),
    ("huge-int-budget", b"[budget]\ntotal_yuan = 1" + b"0" * 400 + b"\n",
     ["key 'budget.total_yuan' must be finite", "integer of 401 digits"]),
    ("both-budgets", b"[budget]\ntotal_yuan = 1\nannual_yuan = 1\n", ["key 'budget'", "not both"]),
    ("empty-budget", b"[budget]\n", ["key 'budget' is empty"]),
    ("unknown-budget-key", b"[budget]\ntotal = 1\n", ["unknown key 'budget.total'", "total_yuan"]),
    ("zero-threshold", b"[thresholds_minutes]\nstroke = 0\n",
     ["key 'thresholds_minutes.stroke' must be greater than 0"]),
    ("negative-threshold", b"[thresholds_minutes]\nct = -30\n", ["key 'thresholds_minutes.ct'", "greater than 0"]),
    ("inf-threshold", b"[thresholds_minutes]\nct = inf\n", ["key 'thresholds_minutes.ct' must be finite"]),
    ("unknown-service", b"[thresholds_minutes]\ndentist = 30\n", ["unknown key 'thresholds_minutes.dentist'", "ct"]),
    ("unknown-table", b"[budgets]\ntotal_yuan = 1\n", ["unknown key 'budgets'", "known keys here: budget"]),
    ("unknown-cost-key", b"[costs.gp]\nsalary_yuan = 1\n", ["unknown key 'costs.gp.salary_yuan'"]),
    ("negative-cost", b"[costs.equipment.ct]\ncapital_yuan = -1\n",
     ["key 'costs.equipment.ct.capital_yuan' must be at least 0"]),
    ("number-for-table", b"[costs]\ngp = 50000\n", ["key 'costs.gp' must be a table"]),
    ("text-weight", b'[weights]\nstroke = "high"\n', ["key 'weights.stroke' must be a number", "'high'"]),
    ("bool-weight", b"[weights]\nstroke = true\n", ["key 'weights.stroke' must be a number", "True"]),
    ("share-above-one", b"[targets.min_covered_share]\nstroke = 80\n",
     ["key 'targets.min_covered_share.stroke' must be at most 1", "80"]),
    ("share-unknown-service", b"[targets.min_covered_share]\ndentist = 0.5\n",
     ["unknown key 'targets.min_covered_share.dentist'"]),
    ("huge-gp-target", b"[targets]\ngp_per_10k = 1e6\n", ["key 'targets.gp_per_10k' must be at most 1000"]),
    ("text-hard-target", b'[targets]\ngp_target_hard = "yes"\n',
     ["key 'targets.gp_target_hard' must be true or false"]),
    ("unknown-level", b'[eligibility.gp]\nlevels = ["clinic"]\n', ["key 'eligibility.gp.levels'", "village_clinic"]),
    ("level-not-a-list", b'[eligibility.gp]\nlevels = "township_hc"\n', ["key 'eligibility.gp.levels' must list"]),
    ("fractional-max", b"[eligibility.equipment.ct]\nmax_per_site = 1.5\n",
     ["key 'eligibility.equipment.ct.max_per_site' must be a whole number", "1.5"]),
    ("unknown-requirement", b'[eligibility.center.stroke]\nrequires = ["mri"]\n',
     ["key 'eligibility.center.stroke.requires'", "'mri'"]),
    ("table-as-name", b"[scenario.name]\nx = 1\n", ["key 'scenario.name' must be text"]),
    ("number-as-description", b"[scenario]\ndescription = 5\n", ["key 'scenario.description' must be text"]),
]


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


@pytest.mark.parametrize(("contents", "fragments"), [case[1:] for case in CASES], ids=[case[0] for case in CASES])
def test_bad_scenario_exits_1_naming_file_and_key_and_writes_nothing(
    runner: CliRunner, tiny_region_path: Path, tmp_path: Path, contents: bytes, fragments: list[str]
) -> None:
    scenario = tmp_path / "plan.toml"
    scenario.write_bytes(contents)
    out = tmp_path / "out"
    result = runner.invoke(main, ["access", str(tiny_region_path), "--scenario", str(scenario), "--out", str(out),
                                  "--cache-dir", str(tmp_path / "cache")])
    assert_one_clean_error(result, [str(scenario), *fragments])
    assert not out.exists()


@pytest.mark.parametrize("contents", [case[1] for case in CASES], ids=[case[0] for case in CASES])
def test_bad_scenario_is_a_scenario_error_from_the_library(tmp_path: Path, contents: bytes) -> None:
    scenario = tmp_path / "plan.toml"
    scenario.write_bytes(contents)
    with pytest.raises(ScenarioError, match=f"^{scenario}: "):
        load_scenario(scenario)


def test_a_directory_is_not_a_scenario_file(tmp_path: Path) -> None:
    with pytest.raises(ScenarioError, match="the scenario file cannot be read: it is a directory"):
        load_scenario(tmp_path)


# --- valid edge cases: pinned as accepted -------------------------------------------------------------------------


def test_zero_budget_asks_what_today_achieves(runner: CliRunner, tiny_region_path: Path, tmp_path: Path) -> None:
    scenario = tmp_path / "today.toml"
    scenario.write_text("[budget]\ntotal_yuan = 0\n", encoding="utf-8")
    assert load_scenario(scenario).budget.total_yuan == 0.0
    result = runner.invoke(main, ["access", str(tiny_region_path), "--scenario", str(scenario), "--format", "json",
                                  "--cache-dir", str(tmp_path / "cache")])
    assert result.exit_code == 0, result.output


def test_split_budget_of_zero_and_zero_costs_are_valid(tmp_path: Path) -> None:
    scenario = tmp_path / "free.toml"
    scenario.write_text(
        "[budget]\ncapital_yuan = 0\nannual_yuan = 0\n[costs.gp]\ncapital_yuan = 0\nannual_yuan = 0\n"
        "[costs.equipment.ct]\ncapital_yuan = 0\n[weights]\nct = 0\n", encoding="utf-8",
    )
    loaded = load_scenario(scenario)
    assert (loaded.budget.capital_yuan, loaded.budget.annual_yuan, loaded.budget.total_yuan) == (0.0, 0.0, None)
    assert loaded.gp_cost.total_yuan == 0.0
    assert (loaded.equipment_costs["ct"].capital_yuan, loaded.equipment_costs["ct"].annual_yuan) == (0.0, 200_000.0)
    assert loaded.weights["ct"] == 0.0


def test_byte_order_mark_and_chinese_text_are_read(tmp_path: Path) -> None:
    scenario = tmp_path / "bom.toml"
    scenario.write_bytes('[scenario]\nname = "泸水县2025年规划"\n[budget]\ntotal_yuan = 5e6\n'.encode("utf-8-sig"))
    loaded = load_scenario(scenario)
    assert (loaded.name, loaded.budget.total_yuan) == ("泸水县2025年规划", 5e6)


def test_a_file_of_comments_gives_the_defaults(tmp_path: Path) -> None:
    scenario = tmp_path / "comments.toml"
    scenario.write_text("# nothing changed yet\n", encoding="utf-8")
    assert load_scenario(scenario).budget.total_yuan == DEFAULTS["budget"]["total_yuan"]


# --- fuzzing the known keys ---------------------------------------------------------------------------------------


def key_paths(table: Mapping[str, Any], prefix: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    """Every key of the defaults, tables and values alike, as a path."""
    for key, value in table.items():
        yield (*prefix, key)
        if isinstance(value, Mapping):
            yield from key_paths(value, (*prefix, key))


SCENARIO_KEYS = sorted(key_paths(DEFAULTS))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(changes=st.dictionaries(st.sampled_from(SCENARIO_KEYS), TOML_VALUES, min_size=1, max_size=2))
def test_fuzzed_scenario_raises_only_allocopt_errors(tmp_path: Path, changes: dict[tuple[str, ...], Any]) -> None:
    scenario = tmp_path / "fuzz.toml"
    lines = [f"{'.'.join(path)} = {toml_literal(value)}" for path, value in changes.items()]
    scenario.write_text("\n".join(lines) + "\n", encoding="utf-8")
    try:
        loaded = load_scenario(scenario)
    except AllocoptError:
        return
    assert all(math.isfinite(m) and m > 0 for m in loaded.thresholds_minutes.values())
    assert all(math.isfinite(w) and w >= 0 for w in loaded.weights.values())
    budget = [v for v in vars(loaded.budget).values() if v is not None]
    assert budget and all(math.isfinite(v) and v >= 0 for v in budget)
    assert isinstance(loaded.name, str) and isinstance(loaded.gp_target_hard, bool)


def test_a_bad_scenario_shipped_in_the_bundle_names_that_file(
    runner: CliRunner, tiny_region_path: Path, tmp_path: Path
) -> None:
    bundle = Path(shutil.copytree(tiny_region_path, tmp_path / "bundle"))
    (bundle / "scenario.toml").write_text("[budget]\ntotal_yuan = -1\n", encoding="utf-8")
    out = tmp_path / "out"
    result = runner.invoke(main, ["access", str(bundle), "--out", str(out), "--cache-dir", str(tmp_path / "cache")])
    assert_one_clean_error(result, [str(bundle / "scenario.toml"), "key 'budget.total_yuan' must be at least 0"])
    assert not out.exists()
