"""The care model of a county: facility kinds, first contact by staffed sites, GPs and village doctors by level,
centers by hospital kind, required equipment, expected cases, fixed consortium links and the bureau's indicators.

Each rule is checked on a tiny hand-built problem whose answer is worked out in the comments, and the new
families against brute force over every plan of a small instance.
"""

from __future__ import annotations

import itertools
import math
import warnings
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pytest
import shapely
from click.testing import CliRunner

from allocopt.cli import main
from allocopt.errors import DataError, ScenarioError
from allocopt.facility_words import hospital_kind_of
from allocopt.generate import generate_region, write_region
from allocopt.indicators import region_indicators, township_indicators
from allocopt.model import Problem, build_model
from allocopt.model.allocation import dominated_primary_sites
from allocopt.model.problem import expected_cases
from allocopt.model.tier_data import referral_capacity
from allocopt.optimize import optimize_problem
from allocopt.scenario import load_scenario, scenario_from_dict
from allocopt.schema import LAYERS, DefaultsWarning, validate
from allocopt.services import EQUIPMENT, first_contact
from allocopt.tiers import parse_tiers

INF = np.inf
ONLY_PRIMARY = {"primary_care": 1.0, "chest_pain": 0.0, "stroke": 0.0, "trauma": 0.0, "ct": 0.0, "dr": 0.0,
                "ultrasound": 0.0, "cath_lab": 0.0, "ecg": 0.0, "gp_shortage": 0.0}


def scenario(**tables: Any) -> Any:
    return scenario_from_dict({"budget": {"total_yuan": 1e9}, **tables})


def problem(sc: Any, *, levels: tuple[str, ...], minutes: np.ndarray, population: tuple[float, ...] | None = None,
            **arrays: Any) -> Problem:
    n_demand, n_sites = minutes.shape
    return Problem.from_arrays(
        scenario=sc, demand_ids=[f"d{i}" for i in range(n_demand)],
        demand_population=population or (1000.0,) * n_demand, demand_township=["t"] * n_demand,
        township_ids=["t"], site_ids=[f"s{j}" for j in range(n_sites)],
        site_kind=arrays.pop("site_kind", ["existing"] * n_sites), site_level=levels, minutes=minutes,
        site_township=["t"] * n_sites, **arrays)


# ---------------------------------------------------------------- facility kinds and eligibility


def test_centers_and_cath_labs_go_to_general_hospitals_unless_the_scenario_allows_other_kinds() -> None:
    levels = ("county_hospital",) * 4
    kinds = ["general", "tcm", "mch", ""]  # blank: a general hospital (older bundles)
    minutes = np.array([[10.0, 10.0, 10.0, 10.0]])
    p = problem(load_scenario(), levels=levels, minutes=minutes, site_hospital_kind=kinds)
    assert p.site_hospital_kind == ("general", "tcm", "mch", "general")
    for center in ("chest_pain", "stroke", "trauma"):
        assert p.ctr_eligible[center].tolist() == [True, False, False, True]
    assert p.eq_eligible["cath_lab"].tolist() == [True, False, False, True]
    assert p.eq_eligible["ct"].tolist() == [True, True, True, True]  # CT may go to any hospital kind
    widened = scenario(eligibility={"center": {"chest_pain": {"kinds": ["general", "tcm"]}},
                                    "equipment": {"cath_lab": {"kinds": ["general", "tcm"]}}})
    p = problem(widened, levels=levels, minutes=minutes, site_hospital_kind=kinds)
    assert p.ctr_eligible["chest_pain"].tolist() == [True, True, False, True]
    assert p.ctr_eligible["stroke"].tolist() == [True, False, False, True]


def test_the_default_plan_puts_the_chest_pain_center_at_the_general_hospital() -> None:
    # The TCM hospital s1 is nearer to everyone (20 minutes) than the people's hospital s0 (50 minutes): by travel
    # alone it would win; by kind only s0 may take the cath lab and the center, and both cover everyone.
    sc = scenario(weights=ONLY_PRIMARY | {"chest_pain": 1.0})
    p = problem(sc, levels=("county_hospital", "county_hospital"), minutes=np.array([[50.0, 20.0]] * 2),
                site_hospital_kind=["general", "tcm"])
    result = optimize_problem(p)
    placed = set(zip(result.allocations["site_id"], result.allocations["resource"], strict=True))
    assert placed == {("s0", "cath_lab"), ("s0", "chest_pain_center")}
    assert result.unserved_after["chest_pain"] == 0.0


# ---------------------------------------------------------------- who gives first contact


def test_first_contact_is_a_health_center_or_a_staffed_clinic_or_with_provider_gp_a_gp() -> None:
    levels = np.array(["township_hc", "village_clinic", "village_clinic", "village_clinic", "county_hospital"])
    gps, doctors = np.array([0, 0, 1, 0, 3]), np.array([0, 2, 0, 0, 0])
    assert first_contact(levels, gps, doctors, "staffed").tolist() == [True, True, True, False, False]
    assert first_contact(levels, gps, doctors, "gp").tolist() == [False, False, True, False, False]


def test_a_village_doctor_gives_first_contact_where_a_clinic_lacks_one() -> None:
    # d0 is 5 minutes from a vacant clinic s0 and 40 from the health center s1: one village doctor (70,000 yuan a
    # year with training) covers d0; the health center s1 covers d1 as it is.
    minutes = np.array([[5.0, 40.0], [40.0, 5.0]])
    levels = ("village_clinic", "township_hc")
    staffed = scenario(weights=ONLY_PRIMARY)
    p = problem(staffed, levels=levels, minutes=minutes)
    assert p.covered_now("primary_care").tolist() == [False, True]
    result = optimize_problem(p)
    assert result.allocations[["site_id", "resource", "quantity"]].values.tolist() == [["s0", "village_doctor", 1]]
    assert result.cost_yuan == 70_000.0 and result.unserved_after["primary_care"] == 0.0


def test_gp_provider_reproduces_gp_only_first_contact() -> None:
    # With provider "gp" one GP at the health center s1 makes it a first-contact point for d1: 1,000 unserved.
    minutes = np.array([[5.0, 40.0], [40.0, 5.0]])
    old = scenario(weights=ONLY_PRIMARY, primary_care={"provider": "gp"})
    result = optimize_problem(problem(old, levels=("village_clinic", "township_hc"), minutes=minutes))
    assert result.unserved_before["primary_care"] == 2000.0
    assert result.unserved_after["primary_care"] == 1000.0
    assert result.allocations[["site_id", "resource", "quantity"]].values.tolist() == [["s1", "gp", 1]]


# ---------------------------------------------------------------- where GPs and village doctors go


def test_gps_go_to_health_centers_and_the_per_level_cap_holds_where_clinics_are_allowed() -> None:
    sc = load_scenario()
    levels = ("village_clinic", "township_hc", "community_hc", "county_hospital")
    p = problem(sc, levels=levels, minutes=np.full((1, 4), 10.0))
    assert p.gp_eligible.tolist() == [False, True, True, False]
    assert p.gp_limit.tolist() == [0, 10, 10, 0]
    assert p.vd_eligible.tolist() == [True, False, False, False] and p.vd_limit.tolist() == [2, 0, 0, 0]
    wide = scenario(eligibility={"gp": {"levels": ["village_clinic", "township_hc"]}})
    p = problem(wide, levels=levels, minutes=np.full((1, 4), 10.0))
    assert p.gp_limit.tolist() == [1, 10, 0, 0]  # max_per_level.village_clinic = 1 by default
    # A township of 40,000 people short of GPs, with only a clinic able to take them: at most one GP lands there.
    short = scenario(eligibility={"gp": {"levels": ["village_clinic"]}}, weights=ONLY_PRIMARY | {"gp_shortage": 1.0})
    result = optimize_problem(problem(short, levels=("village_clinic",), minutes=np.array([[5.0]]),
                                      population=(40_000.0,)))
    assert result.allocations.set_index("resource").loc["gp", "quantity"] == 1


def test_village_doctors_respect_their_per_clinic_cap_and_do_not_count_as_gps() -> None:
    sc = scenario(weights=ONLY_PRIMARY | {"gp_shortage": 1.0}, eligibility={"village_doctor": {"max_per_site": 1}})
    result = optimize_problem(problem(sc, levels=("village_clinic",), minutes=np.array([[5.0]])))
    assert result.allocations[["resource", "quantity"]].values.tolist() == [["village_doctor", 1]]
    assert result.to_summary()["gp"]["added"] == 0


# ---------------------------------------------------------------- equipment: prerequisites and hard rules


def test_ct_and_cath_lab_are_prerequisites_not_services_by_default() -> None:
    sc = load_scenario()
    assert sc.weights["ct"] == 0.0 and sc.weights["cath_lab"] == 0.0
    assert sc.center_eligibility["chest_pain"].requires == ("cath_lab",)
    assert sc.center_eligibility["stroke"].requires == ("ct",)
    assert "ecg" in EQUIPMENT and sc.weights["ecg"] > 0


def test_required_equipment_puts_an_ecg_in_every_township_health_center() -> None:
    # Nobody gains anything from an ECG (weight 0), yet the rule puts one in each health center lacking one.
    sc = scenario(weights=ONLY_PRIMARY, eligibility={"equipment": {"ecg": {"required_at": ["township_hc"]}}})
    p = problem(sc, levels=("township_hc", "township_hc", "village_clinic"), minutes=np.full((1, 3), 5.0),
                existing_equipment={"ecg": [1, 0, 0]})
    result = optimize_problem(p)
    assert result.allocations[["site_id", "resource"]].values.tolist() == [["s1", "ecg"]]
    narrow = scenario(eligibility={"equipment": {"ecg": {"required_at": ["township_hc"], "levels": []}}})
    with pytest.raises(ScenarioError, match="required_at asks every township_hc for a ecg"):
        build_model(problem(narrow, levels=("township_hc",), minutes=np.full((1, 1), 5.0)))


# ---------------------------------------------------------------- expected cases


def test_expected_cases_are_residents_by_age_band_times_incidence() -> None:
    sc = load_scenario()
    population = np.array([1000.0, 1000.0, 2000.0])
    older = np.array([1000.0, 0.0, np.nan])  # unknown: 13.5% of 2,000 = 270
    cases = expected_cases(sc, population, older)
    assert cases["stroke"].tolist() == pytest.approx([11.0, 1.2, 1730 * 0.0012 + 270 * 0.011])
    assert cases["chest_pain"][0] == pytest.approx(2.5)


def test_a_stroke_center_goes_where_the_older_residents_are() -> None:
    # Two villages of 1,000 each, each reachable only from its own hospital; the budget buys one CT and stroke
    # center. By heads they tie; by expected cases the village of 65+ residents (11 strokes a year against 1.2)
    # wins. People-equivalents: 2,000 x 11 / 12.2 = 1,803.3 for it, 196.7 for the other.
    cost = 3_200_000.0 + 2_700_000.0
    sc = scenario(budget={"total_yuan": cost}, weights=ONLY_PRIMARY | {"stroke": 1.0})
    p = problem(sc, levels=("county_hospital", "county_hospital"), minutes=np.array([[10.0, INF], [INF, 10.0]]),
                demand_population_65plus=[0.0, 1000.0])
    assert p.unit_weight["stroke"].tolist() == pytest.approx([2000 * 1.2 / 12.2, 2000 * 11 / 12.2])
    result = optimize_problem(p)
    assert set(result.allocations["site_id"]) == {"s1"}
    summary = result.to_summary()["services"]["stroke"]
    assert summary["expected_cases_per_year"] == pytest.approx(12.2)
    assert summary["expected_cases_covered_after"] == pytest.approx(11.0)
    assert summary["unserved_after"] == 1000.0  # still reported in people
    flat = scenario(budget={"total_yuan": cost}, weights=ONLY_PRIMARY | {"stroke": 1.0},
                    cases={"weighting": False})
    p = problem(flat, levels=("county_hospital", "county_hospital"), minutes=np.array([[10.0, INF], [INF, 10.0]]),
                demand_population_65plus=[0.0, 1000.0])
    assert p.unit_weight["stroke"].tolist() == [1000.0, 1000.0]


def test_incidence_above_one_and_unknown_age_bands_are_refused() -> None:
    with pytest.raises(ScenarioError, match=r"cases\.incidence\.stroke\.65_plus' must be at most 1"):
        scenario(cases={"incidence": {"stroke": {"65_plus": 11.0}}})
    with pytest.raises(ScenarioError, match="known keys here: 65_plus, under_65"):
        scenario(cases={"incidence": {"stroke": {"over_80": 0.01}}})
    with pytest.raises(DataError, match="age bands must add up"):
        problem(load_scenario(), levels=("township_hc",), minutes=np.array([[5.0]]),
                demand_population_65plus=[2000.0])


# ---------------------------------------------------------------- consortium links


def test_consortium_links_are_kept_by_default() -> None:
    assert parse_tiers({}).fix_existing_links is True
    assert parse_tiers({"fix_existing_links": False}).fix_existing_links is False


def test_mch_hospitals_lead_no_medical_community_unless_they_lead_one_today() -> None:
    beds = np.array([100.0, 100.0, 100.0])
    settings = parse_tiers({"referral_visits_per_bed_per_year": 10})
    kinds = ["general", "tcm", "mch"]
    assert referral_capacity(beds, kinds, np.array([-1, 0, 1]), settings).tolist() == [1000.0, 1000.0, 0.0]
    assert referral_capacity(beds, kinds, np.array([2, -1]), settings).tolist() == [1000.0, 1000.0, 1000.0]
    only_general = parse_tiers({"referral_visits_per_bed_per_year": 10, "lead_kinds": ["general"]})
    assert referral_capacity(beds, kinds, np.array([-1]), only_general).tolist() == [1000.0, 0.0, 0.0]
    with pytest.raises(ScenarioError, match=r"tiers\.lead_kinds' must list hospital kinds from: general, tcm"):
        parse_tiers({"lead_kinds": ["county"]})


# ---------------------------------------------------------------- indicators


def test_indicators_recomputed_by_hand_on_a_small_region() -> None:
    # Two townships: a (d0 3,000 people, d1 1,000) and b (d2 2,000, d3 4,000). Sites: a health center in a (2 GPs,
    # 40 beds), a vacant clinic in a, a staffed clinic in b (1 village doctor), a county hospital in b (300 beds).
    minutes = np.array([[10.0, 40.0, 50.0, 30.0],
                        [30.0, 5.0, 50.0, 30.0],
                        [50.0, 50.0, 12.0, 20.0],
                        [50.0, 50.0, 30.0, 8.0]])
    p = Problem.from_arrays(
        scenario=load_scenario(), demand_ids=["d0", "d1", "d2", "d3"], demand_population=[3000, 1000, 2000, 4000],
        demand_township=["a", "a", "b", "b"], township_ids=["a", "b"], site_ids=["hc", "vc1", "vc2", "h"],
        site_kind=["existing"] * 4, site_level=["township_hc", "village_clinic", "village_clinic", "county_hospital"],
        minutes=minutes, site_township=["a", "a", "b", "b"], existing_gps=[2, 0, 0, 1],
        existing_village_doctors=[0, 0, 1, 0], site_beds=[40, 0, 0, 300])
    zero = np.zeros(4, dtype=np.int64)
    before = township_indicators(p, is_open=np.ones(4, bool), added_gps=zero, added_village_doctors=zero)
    # Within 15 minutes of a first-contact point (hc, vc2; not the vacant vc1, not the hospital): d0 (hc, 10),
    # d2 (vc2, 12). Township a: 3,000 of 4,000; b: 2,000 of 6,000.
    assert before["medical_point_15min_share"].tolist() == pytest.approx([0.75, 2000 / 6000])
    assert before["gp_per_10k"].tolist() == pytest.approx([2 / 4000 * 1e4, 1 / 6000 * 1e4])
    assert before["beds_per_1000"].tolist() == pytest.approx([40 / 4, 300 / 6])
    assert before["township_hcs_per_township"].tolist() == [1.0, 0.0]
    assert before["village_clinics_per_village"].tolist() == [0.5, 0.5]
    assert before["staffed_village_clinics_per_village"].tolist() == [0.0, 0.5]
    after = township_indicators(p, is_open=np.ones(4, bool), added_gps=np.array([1, 0, 0, 0]),
                                added_village_doctors=np.array([0, 1, 0, 0]))
    assert after["medical_point_15min_share"].tolist() == pytest.approx([1.0, 2000 / 6000])  # d1 via vc1 (5 min)
    region = region_indicators(after, 10_000.0)
    assert region["medical_point_15min_share"] == pytest.approx(0.6)
    assert region["gp_per_10k"] == pytest.approx(4.0)
    assert region["beds_per_1000"] == pytest.approx(34.0)
    assert region["township_hcs_per_township"] == pytest.approx(0.5)
    assert region["staffed_village_clinics_per_village"] == pytest.approx(0.5)


# ---------------------------------------------------------------- facility layers, words and bad input


def _facilities(**columns: Any) -> gpd.GeoDataFrame:
    base = {"id": ["H1", "C1"], "name": ["县人民医院", "村卫生室"], "level": ["county_hospital", "village_clinic"]}
    return gpd.GeoDataFrame(base | columns, geometry=shapely.points([[0, 0], [1, 1]]), crs="EPSG:32647")


def test_old_facility_layers_load_with_defaults_and_a_warning() -> None:
    with pytest.warns(DefaultsWarning, match="hospital_kind, central, village_doctors"):
        frame = validate(_facilities(), "facilities", source="f.gpkg")
    assert frame["hospital_kind"].tolist() == ["", ""] and frame["village_doctors"].tolist() == [0, 0]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        validate(_facilities(hospital_kind=["tcm", ""], central=[False, False], village_doctors=[0, 2]),
                 "facilities", source="f.gpkg")


def test_unknown_hospital_kinds_name_the_known_words_and_the_map_fix() -> None:
    with pytest.raises(DataError) as caught:
        validate(_facilities(hospital_kind=["people", ""]), "facilities", source="f.gpkg")
    message = str(caught.value)
    assert "f.gpkg, layer 'facilities', row 1 (id 'H1'), field 'hospital_kind'" in message
    assert "general, tcm, mch, specialty" in message and "--map hospital_kind=COLUMN" in message


def test_unknown_levels_name_the_known_words_and_the_map_fix() -> None:
    with pytest.raises(DataError) as caught:
        validate(_facilities(level=["county_hospital", "卫生站"]), "facilities", source="f.gpkg")
    message = str(caught.value)
    assert "row 2 (id 'C1'), field 'level': '卫生站' is not an allowed level" in message
    assert "village_clinic, township_hc" in message and "--map level=COLUMN" in message


def test_negative_village_doctors_name_file_row_and_field() -> None:
    with pytest.raises(DataError, match=r"f.gpkg, layer 'facilities', row 2 \(id 'C1'\), field 'village_doctors'"):
        validate(_facilities(village_doctors=[0, -1]), "facilities", source="f.gpkg")


def test_old_bundles_warn_on_one_line_in_the_cli(tmp_path: Path) -> None:
    bundle = tmp_path / "old"
    write_region(generate_region(townships=1, villages=4, seed=1), bundle)
    facilities = gpd.read_file(bundle / "region.gpkg", layer="facilities")
    facilities.drop(columns=["hospital_kind", "central", "village_doctors"]).to_file(
        bundle / "region.gpkg", layer="facilities", driver="GPKG")
    result = CliRunner().invoke(main, ["validate", str(bundle)])
    assert result.exit_code == 0, result.output
    warning = [line for line in result.output.splitlines() if "no column" in line]
    assert warning == [warning[0]] and warning[0].startswith("Warning: ")
    assert "every hospital is taken as a general hospital" in warning[0] and "DefaultsWarning" not in result.output


def test_build_region_reads_hospital_kinds_from_chinese_words() -> None:
    words = ("泸水市人民医院", "县中医医院", "州妇幼保健院", "精神病医院", "中西医结合医院", "mch", "")
    assert [hospital_kind_of(w) for w in words] == ["general", "tcm", "mch", "specialty", "tcm", "mch", ""]
    assert hospital_kind_of("某某医院") is None


def test_facility_schema_has_the_type_columns() -> None:
    names = [c.name for c in LAYERS["facilities"].columns]
    assert {"hospital_kind", "central", "village_doctors", "ecg"} <= set(names)


# ---------------------------------------------------------------- generated counties


def test_generated_counties_have_three_county_hospitals_each_and_scale_their_population() -> None:
    small = generate_region(townships=10, villages=60, seed=3)
    large = generate_region(townships=30, villages=180, seed=3)
    assert small.demand["population"].sum() == 203_977
    assert large.demand["population"].sum() == (203_977 * 3)
    for region, counties in ((small, 1), (large, 3)):
        hospitals = region.facilities[region.facilities["level"] == "county_hospital"]
        assert sorted(hospitals["hospital_kind"].value_counts().items()) == [
            ("general", counties), ("mch", counties), ("tcm", counties)]
        centers = region.facilities[region.facilities["level"] == "township_hc"]
        assert 1 * counties <= int(centers["central"].sum()) <= 2 * counties
        assert set(region.candidates["level"]) == {"village_clinic"}
    # One township health center per township: no candidate is a health center.
    assert int((small.facilities["level"] == "township_hc").sum()) == 10


# ---------------------------------------------------------------- brute force over the new families


def _brute_force_instance() -> Problem:
    # A vacant clinic s0, a staffed clinic s1, a township center s2 without GPs, a general and a TCM hospital
    # (s3, s4) and a candidate clinic s5. Decisions: village doctors at s0 and s5 (0..2), GPs at s2 (0..2), open s5,
    # a CT and a stroke center at s3 (s4 may take a CT only); demand with different 65+ shares.
    sc = scenario(
        budget={"total_yuan": 3_600_000.0},
        weights={"primary_care": 1.0, "stroke": 1.0, "gp_shortage": 0.5, "chest_pain": 0.0, "trauma": 0.0,
                 "ct": 0.25, "dr": 0.0, "ultrasound": 0.0, "cath_lab": 0.0, "ecg": 0.0},
        costs={"equipment": {"ct": {"capital_yuan": 1_000_000.0, "annual_yuan": 0.0}},
               "center": {"stroke": {"capital_yuan": 1_000_000.0, "annual_yuan": 200_000.0}}},
        targets={"gp_per_10k": 10.0},
        eligibility={"gp": {"max_per_site": 2}, "equipment": {"dr": {"levels": []}, "ultrasound": {"levels": []},
                                                               "ecg": {"levels": []}, "cath_lab": {"levels": []},
                                                               "ct": {"levels": ["county_hospital"]}}})
    minutes = np.array([[4.0, 30.0, 25.0, 50.0, 20.0, 40.0],
                        [30.0, 6.0, 20.0, 70.0, 65.0, 30.0],
                        [25.0, 22.0, 9.0, 40.0, 45.0, 18.0],
                        [50.0, 40.0, 30.0, 80.0, 30.0, 7.0],
                        [60.0, 60.0, 50.0, 20.0, 90.0, 70.0]])
    return Problem.from_arrays(
        scenario=sc, demand_ids=[f"d{i}" for i in range(5)], demand_population=[900, 600, 1500, 700, 1300],
        demand_township=["a", "a", "a", "b", "b"], township_ids=["a", "b"], site_ids=[f"s{j}" for j in range(6)],
        site_kind=["existing"] * 5 + ["candidate"],
        site_level=["village_clinic", "village_clinic", "township_hc", "county_hospital", "county_hospital",
                    "village_clinic"],
        minutes=minutes, site_township=["a", "a", "a", "b", "b", "b"], existing_gps=[0, 0, 0, 1, 0, 0],
        existing_village_doctors=[0, 1, 0, 0, 0, 0], site_hospital_kind=["", "", "", "general", "tcm", ""],
        open_cost_yuan=[0, 0, 0, 0, 0, 300_000.0], demand_population_65plus=[400, 60, 100, 350, 130],
        merge_demand=False)


def _brute_force_value(p: Problem, vd0: int, vd5: int, gp2: int, ct3: int, ct4: int, stroke3: int) -> float | None:
    """The gap of one plan from the raw inputs, or None when it breaks a rule or the budget."""
    sc = p.scenario
    opened = vd5 > 0
    cost = ((vd0 + vd5) * sc.village_doctor_cost.total_yuan + gp2 * sc.gp_cost.total_yuan
            + (ct3 + ct4) * sc.equipment_costs["ct"].total_yuan + stroke3 * sc.center_costs["stroke"].total_yuan
            + opened * (300_000.0 + sc.open_site_annual_yuan))
    if cost > sc.budget.total_yuan + 1e-6 or (stroke3 and not ct3):
        return None
    # First contact: s1 (staffed), s2 (a health center), s0 and s5 with a village doctor.
    contact = np.array([vd0 > 0, True, True, False, False, opened])
    ct = np.array([False, False, False, ct3 > 0, ct4 > 0, False])
    stroke = np.array([False, False, False, stroke3 > 0, False, False])
    population = p.demand_population
    older = np.array([400, 60, 100, 350, 130], dtype=float)
    cases = (population - older) * 0.0012 + older * 0.011
    stroke_weight = cases * population.sum() / cases.sum()
    gap = 0.0
    for provides, threshold, weight, people in ((contact, 15.0, 1.0, population), (ct, 60.0, 0.25, population),
                                                 (stroke, 60.0, 1.0, stroke_weight)):
        reach = p.minutes[:, provides].min(axis=1) if provides.any() else np.full(len(population), INF)
        gap += weight * float(people[reach > threshold].sum())
    gps = np.array([gp2, 1.0])  # township a: s2's added GPs; b: the hospital's one GP
    gap += 0.5 * float(np.maximum(0.0, np.array([3000.0, 2000.0]) - gps * 1000.0).sum())
    return gap


def test_the_new_families_match_brute_force() -> None:
    p = _brute_force_instance()
    values = [v for plan in itertools.product(range(3), range(3), range(3), range(2), range(2), range(2))
              if (v := _brute_force_value(p, *plan)) is not None]
    best = min(values)
    result = optimize_problem(p)
    assert result.objective == pytest.approx(best, rel=1e-9)
    assert math.isclose(result.weighted_gap_after, best, rel_tol=1e-9)


def test_a_site_is_not_dominated_by_one_that_may_take_fewer_gps() -> None:
    # Under provider "gp", clinics s0, s1 (1 GP allowed) and a health center s2 (10 GPs allowed) reach the same
    # village. Equal sets: the lower index stands in, so s0 for s1; but no clinic for s2, whose GPs also serve
    # its township's staffing beyond what a clinic may take.
    sc = scenario(primary_care={"provider": "gp"},
                  eligibility={"gp": {"levels": ["village_clinic", "township_hc"]}, "village_doctor": {"levels": []}})
    p = problem(sc, levels=("village_clinic", "village_clinic", "township_hc"), minutes=np.array([[5.0, 5.0, 5.0]]))
    assert p.gp_limit.tolist() == [1, 1, 10]
    assert dominated_primary_sites(p).tolist() == [False, True, False]
