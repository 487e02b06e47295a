"""Scenario files: defaults, overrides, and errors that name the key."""

from __future__ import annotations

from pathlib import Path

import pytest

from allocopt.errors import ScenarioError
from allocopt.scenario import DEFAULTS, load_scenario, scenario_from_dict, scenario_to_dict
from allocopt.services import CENTERS, EQUIPMENT, GP_SHORTAGE, SERVICES


def test_defaults_cover_every_service() -> None:
    scenario = load_scenario(None)
    assert set(scenario.thresholds_minutes) == set(SERVICES)
    assert set(scenario.weights) == {*SERVICES, GP_SHORTAGE}
    assert set(scenario.equipment_costs) == set(EQUIPMENT)
    assert set(scenario.center_costs) == set(CENTERS)
    assert scenario.gp_target_per_10k == 3.93
    assert scenario.budget.total_yuan == DEFAULTS["budget"]["total_yuan"]
    assert scenario.center_eligibility["stroke"].requires == ("ct",)
    assert scenario.center_eligibility["chest_pain"].requires == ("cath_lab",)


def test_file_overrides_only_its_keys(tmp_path: Path) -> None:
    path = tmp_path / "s.toml"
    path.write_text(
        '[budget]\ncapital_yuan = 1_000_000\n[thresholds_minutes]\nstroke = 45\n'
        '[eligibility.equipment.ct]\nlevels = ["county_hospital"]\n',
        encoding="utf-8",
    )
    scenario = load_scenario(path)
    assert scenario.budget.is_split and scenario.budget.capital_yuan == 1_000_000
    assert scenario.budget.annual_yuan is None and scenario.budget.total_yuan is None
    assert scenario.thresholds_minutes["stroke"] == 45
    assert scenario.thresholds_minutes["trauma"] == 60
    assert scenario.equipment_eligibility["ct"].levels == ("county_hospital",)
    assert scenario.equipment_eligibility["ct"].max_per_site == 1
    assert scenario.source == str(path)


def test_with_budget_replaces_split_budget() -> None:
    scenario = scenario_from_dict({"budget": {"capital_yuan": 5.0, "annual_yuan": 1.0}}).with_budget(7.0)
    assert scenario.budget.total_yuan == 7.0 and not scenario.budget.is_split


def test_round_trip_through_dict() -> None:
    scenario = scenario_from_dict({"weights": {"stroke": 2.0}, "targets": {"min_covered_share": {"ct": 0.5}}})
    again = scenario_from_dict(scenario_to_dict(scenario))
    assert again == scenario


@pytest.mark.parametrize(
    ("data", "key"),
    [
        ({"budget": {"foo": 1}}, "budget.foo"),
        ({"budget": {"total_yuan": 1, "capital_yuan": 1}}, "budget"),
        ({"budget": {"total_yuan": -1}}, "budget.total_yuan"),
        ({"budget": {"total_yuan": "lots"}}, "budget.total_yuan"),
        ({"costs": {"equipment": {"mri": {}}}}, "costs.equipment.mri"),
        ({"costs": {"gp": {"salary": 1}}}, "costs.gp.salary"),
        ({"thresholds_minutes": {"stroke": 0}}, "thresholds_minutes.stroke"),
        ({"thresholds_minutes": {"stroke": float("inf")}}, "thresholds_minutes.stroke"),
        ({"targets": {"min_covered_share": {"stroke": 1.5}}}, "targets.min_covered_share.stroke"),
        ({"targets": {"min_covered_share": {"dialysis": 0.5}}}, "targets.min_covered_share.dialysis"),
        ({"targets": {"gp_target_hard": "yes"}}, "targets.gp_target_hard"),
        ({"eligibility": {"center": {"stroke": {"requires": ["mri"]}}}}, "eligibility.center.stroke.requires"),
        ({"eligibility": {"gp": {"levels": ["clinic"]}}}, "eligibility.gp.levels"),
        ({"eligibility": {"gp": {"max_per_site": -1}}}, "eligibility.gp.max_per_site"),
        ({"weights": {"stroke": -2}}, "weights.stroke"),
        ({"planner": "x"}, "planner"),
        ({"costs": 5}, "costs"),
    ],
)
def test_bad_values_name_the_key(data: dict, key: str) -> None:
    with pytest.raises(ScenarioError, match=key.replace(".", r"\.")):
        scenario_from_dict(data)


def test_file_errors_name_the_file(tmp_path: Path) -> None:
    missing = tmp_path / "nope.toml"
    with pytest.raises(ScenarioError, match=r"nope\.toml"):
        load_scenario(missing)
    broken = tmp_path / "broken.toml"
    broken.write_text("[budget\ntotal_yuan = 1", encoding="utf-8")
    with pytest.raises(ScenarioError, match=r"broken\.toml.*not valid TOML"):
        load_scenario(broken)
    latin = tmp_path / "latin.toml"
    latin.write_bytes("[scenario]\nname = '县'\n".encode("gb18030"))
    with pytest.raises(ScenarioError, match=r"latin\.toml.*UTF-8"):
        load_scenario(latin)
