"""Scenario files (TOML): budget, unit costs, targets, thresholds, eligibility and weights, with sourced defaults.

A scenario file only needs the keys it changes; everything else takes the defaults below, whose sources are listed
in `docs/scenario.md`. Unknown keys, wrong types and out-of-range values raise `ScenarioError` naming the key.

Ranges: budgets and costs are at least 0. A zero budget is a valid question, "what does today's network achieve"
(nothing can be bought); a zero cost makes an item free. Travel-time thresholds must be above 0 minutes, as no
one reaches care in no time.
"""

from __future__ import annotations

import copy
import math
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from allocopt.closures import Closure, closures_to_dict, parse_closures
from allocopt.ems import EmsSettings, ems_to_dict, parse_ems
from allocopt.errors import DataError, ScenarioError
from allocopt.inputs import read_bytes
from allocopt.money import money_setting
from allocopt.n_minus_1 import NMinus1, n_minus_1_to_dict, parse_n_minus_1
from allocopt.pathway_settings import PathwaySettings, parse_pathways, pathways_to_dict
from allocopt.services import (
    CENTERS,
    EQUIPMENT,
    GP_SHORTAGE,
    HOSPITAL_KINDS,
    LEVELS,
    PROVIDER_DEFINITIONS,
    SERVICES,
)
from allocopt.tiers import TiersSettings, parse_tiers, tiers_to_dict
from allocopt.years_settings import YearsSettings, parse_years, years_to_dict

_ALL_KINDS = list(HOSPITAL_KINDS)
_HOSPITALS = ["county_hospital", "tertiary_hospital"]


def _equipment_rule(levels: list[str], kinds: list[str] | None = None) -> dict[str, Any]:
    return {"levels": levels, "kinds": kinds or _ALL_KINDS, "max_per_site": 1, "requires": [], "required_at": []}


DEFAULTS: dict[str, Any] = {
    "scenario": {"name": "default", "description": ""},
    # A single total budget unless capital_yuan / annual_yuan are given (then each is a separate limit).
    "budget": {"total_yuan": 20_000_000.0},
    "costs": {
        "gp": {"capital_yuan": 50_000.0, "annual_yuan": 150_000.0},
        "village_doctor": {"capital_yuan": 10_000.0, "annual_yuan": 60_000.0},
        "open_site": {"annual_yuan": 300_000.0},
        "equipment": {
            "ct": {"capital_yuan": 3_000_000.0, "annual_yuan": 200_000.0},
            "dr": {"capital_yuan": 800_000.0, "annual_yuan": 50_000.0},
            "ultrasound": {"capital_yuan": 400_000.0, "annual_yuan": 20_000.0},
            "cath_lab": {"capital_yuan": 10_000_000.0, "annual_yuan": 800_000.0},
            "ecg": {"capital_yuan": 50_000.0, "annual_yuan": 5_000.0},
        },
        "center": {
            "chest_pain": {"capital_yuan": 1_500_000.0, "annual_yuan": 1_200_000.0},
            "stroke": {"capital_yuan": 1_500_000.0, "annual_yuan": 1_200_000.0},
            "trauma": {"capital_yuan": 2_000_000.0, "annual_yuan": 1_500_000.0},
        },
    },
    "targets": {
        "gp_per_10k": 3.93,
        "gp_target_hard": False,
        "min_covered_share": {},
    },
    "thresholds_minutes": {
        "primary_care": 15.0,
        "chest_pain": 60.0,
        "stroke": 60.0,
        "trauma": 60.0,
        "ct": 60.0,
        "dr": 30.0,
        "ultrasound": 30.0,
        "cath_lab": 60.0,
        "ecg": 30.0,
    },
    # ct and cath_lab are prerequisites of the centers, not services of their own: weight 0 by default.
    "weights": {
        "primary_care": 1.0,
        "chest_pain": 1.0,
        "stroke": 1.0,
        "trauma": 1.0,
        "ct": 0.0,
        "dr": 0.5,
        "ultrasound": 0.5,
        "cath_lab": 0.0,
        "ecg": 0.5,
        GP_SHORTAGE: 1.0,
    },
    "primary_care": {"provider": "staffed"},
    "cases": {
        "weighting": True,
        "share_65plus_when_unknown": 0.135,
        # Expected new cases per resident a year, by age band (sources in docs/scenario.md).
        "incidence": {
            "chest_pain": {"under_65": 0.0003, "65_plus": 0.0025},
            "stroke": {"under_65": 0.0012, "65_plus": 0.011},
            "trauma": {"under_65": 0.001, "65_plus": 0.0015},
        },
    },
    "eligibility": {
        "gp": {"levels": ["township_hc", "community_hc"], "kinds": _ALL_KINDS, "max_per_site": 10,
               "max_per_level": {"village_clinic": 1}, "requires": []},
        "village_doctor": {"levels": ["village_clinic"], "max_per_site": 2, "max_per_level": {}, "requires": []},
        "equipment": {
            "ct": _equipment_rule(["township_hc", *_HOSPITALS]),
            "dr": _equipment_rule(["township_hc", "community_hc", *_HOSPITALS]),
            "ultrasound": _equipment_rule(["township_hc", "community_hc", *_HOSPITALS]),
            "cath_lab": _equipment_rule(list(_HOSPITALS), ["general"]),
            "ecg": _equipment_rule(["township_hc", "community_hc", *_HOSPITALS]),
        },
        "center": {
            "chest_pain": {"levels": list(_HOSPITALS), "kinds": ["general"], "requires": ["cath_lab"],
                           "max_per_site": 1},
            "stroke": {"levels": list(_HOSPITALS), "kinds": ["general"], "requires": ["ct"], "max_per_site": 1},
            "trauma": {"levels": list(_HOSPITALS), "kinds": ["general"], "requires": ["ct"], "max_per_site": 1},
        },
    },
}


@dataclass(frozen=True)
class ItemCost:
    """Cost of one unit of a decision: a one-off capital part and a recurring annual part."""

    capital_yuan: float = 0.0
    annual_yuan: float = 0.0

    @property
    def total_yuan(self) -> float:
        """Capital plus one year of recurring cost: what a unit charges against a single total budget."""
        return self.capital_yuan + self.annual_yuan


@dataclass(frozen=True)
class Budget:
    """Either one total limit, or separate capital and annual limits (None: that line is unlimited)."""

    total_yuan: float | None = None
    capital_yuan: float | None = None
    annual_yuan: float | None = None

    @property
    def is_split(self) -> bool:
        """True when capital and annual spending are limited separately."""
        return self.total_yuan is None


@dataclass(frozen=True)
class Eligibility:
    """Where a resource may be placed: facility levels, hospital kinds (at hospital levels), most units added per
    site (overridden per level by `max_per_level`), prerequisites at the site, and the levels every site of which
    must hold the resource after the plan (`required_at`, equipment only)."""

    levels: tuple[str, ...]
    max_per_site: int = 1
    requires: tuple[str, ...] = ()
    kinds: tuple[str, ...] = HOSPITAL_KINDS
    max_per_level: Mapping[str, int] = field(default_factory=dict)
    required_at: tuple[str, ...] = ()

    def limit(self, level: str) -> int:
        """Most units added at one site of `level`."""
        return int(self.max_per_level.get(level, self.max_per_site))


@dataclass(frozen=True)
class CaseWeighting:
    """Expected yearly cases of each time-critical condition: residents by age band x incidence per resident.

    With `weighting`, coverage of the condition's center counts people in proportion to their expected cases
    (people-equivalents: cases / the region's cases per resident), so older villages weigh more."""

    weighting: bool
    share_65plus_when_unknown: float
    incidence: Mapping[str, Mapping[str, float]]


@dataclass(frozen=True)
class Scenario:
    """A planning scenario, fully resolved (defaults filled in)."""

    name: str
    description: str
    budget: Budget
    gp_cost: ItemCost
    village_doctor_cost: ItemCost
    open_site_annual_yuan: float
    equipment_costs: dict[str, ItemCost]
    center_costs: dict[str, ItemCost]
    gp_target_per_10k: float
    gp_target_hard: bool
    min_covered_share: dict[str, float]
    thresholds_minutes: dict[str, float]
    weights: dict[str, float]
    gp_eligibility: Eligibility
    village_doctor_eligibility: Eligibility
    equipment_eligibility: dict[str, Eligibility]
    center_eligibility: dict[str, Eligibility]
    primary_care_provider: str
    cases: CaseWeighting
    source: str = "defaults"
    tiers: TiersSettings | None = None
    closures: tuple[Closure, ...] = ()
    """Road closure scenarios (`[[closures]]`, allocopt.closures); none by default."""
    ems: EmsSettings | None = None
    """120 ambulances (`[ems]`, allocopt.ems); absent, the model has none."""
    n_minus_1: NMinus1 | None = None
    """n-1 coverage under single road failures (`[n_minus_1]`, allocopt.n_minus_1); off by default."""
    years: YearsSettings | None = None
    """A multi-year plan (`[years]`, allocopt.years_settings); none by default."""
    pathways: PathwaySettings | None = None
    """Care pathways and center tiers (`[pathways]`, allocopt.pathway_settings); off by default."""

    def with_budget(self, total_yuan: float) -> Scenario:
        """The same scenario with one total budget of `total_yuan` (replacing split budgets)."""
        _check_number("budget.total_yuan", total_yuan, minimum=0.0)
        return replace(self, budget=Budget(total_yuan=float(total_yuan)))


def load_scenario(path: str | Path | None = None) -> Scenario:
    """Read a scenario TOML file (UTF-8, with or without a byte-order mark) over the defaults; `None` gives the
    defaults alone. An empty (0-byte) file is an error, as it is usually a failed save; a file holding only
    comments gives the defaults."""
    if path is None:
        return scenario_from_dict({})
    path = Path(path)
    if not path.exists():
        raise ScenarioError(f"{path}: scenario file not found; pass an existing TOML file")
    try:
        raw = read_bytes(path, kind="settings", what="scenario file")
        data = tomllib.loads(raw.decode("utf-8-sig"))
    except DataError as exc:
        raise ScenarioError(str(exc)) from None
    except RecursionError:
        raise ScenarioError(f"{path}: arrays or tables nested too deeply to read; flatten the scenario file") from None
    except UnicodeDecodeError as exc:
        raise ScenarioError(
            f"{path}: not UTF-8 text (undecodable byte at offset {exc.start}); save the scenario file as UTF-8"
        ) from exc
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError(f"{path}: not valid TOML ({exc}); fix the syntax at that line") from exc
    if not raw:
        raise ScenarioError(
            f"{path}: the scenario file is empty (0 bytes); write the keys it changes, or leave out --scenario to "
            "use the defaults"
        )
    return scenario_from_dict(data, source=str(path))


def scenario_from_dict(data: Mapping[str, Any], *, source: str = "defaults") -> Scenario:
    """Build a Scenario from a nested mapping laid out like the TOML file, over the defaults."""
    try:
        # [tiers] switches tiered care on; absent, the scenario has no tiers (allocopt.tiers).
        # [[closures]] lists road closure scenarios (allocopt.closures); absent, there are none.
        # [n_minus_1] asks for n-1 coverage under single road failures (allocopt.n_minus_1); absent, none.
        # [ems] adds 120 ambulances (allocopt.ems); absent, there are none.
        # [years] phases the plan over years (allocopt.years_settings); absent, it is one plan.
        # [pathways] switches care pathways on (allocopt.pathway_settings); absent, the ring model stands.
        own = {k: v for k, v in data.items()
               if k not in ("tiers", "closures", "ems", "n_minus_1", "years", "pathways")}
        scenario = _build(_merge(DEFAULTS, own, prefix=""), source)
        if "years" in data:
            scenario = replace(scenario, years=parse_years(data["years"]))
        if "closures" in data:
            scenario = replace(scenario, closures=parse_closures(data["closures"], source=source))
        if "ems" in data:
            scenario = replace(scenario, ems=parse_ems(data["ems"]))
        if "n_minus_1" in data:
            scenario = replace(scenario, n_minus_1=parse_n_minus_1(data["n_minus_1"]))
        if "pathways" in data:
            scenario = with_pathways(scenario, parse_pathways(data["pathways"]))
        return replace(scenario, tiers=parse_tiers(data["tiers"])) if "tiers" in data else scenario
    except ScenarioError as exc:
        raise ScenarioError(f"{source}: {exc}") from None


def scenario_to_dict(scenario: Scenario) -> dict[str, Any]:
    """The resolved scenario as a mapping in the TOML layout (for summaries and audit)."""
    budget = {k: v for k, v in vars(scenario.budget).items() if v is not None}
    rules = DEFAULTS["eligibility"]
    result: dict[str, Any] = {
        "scenario": {"name": scenario.name, "description": scenario.description},
        "budget": budget,
        "costs": {
            "gp": vars(scenario.gp_cost).copy(),
            "village_doctor": vars(scenario.village_doctor_cost).copy(),
            "open_site": {"annual_yuan": scenario.open_site_annual_yuan},
            "equipment": {k: vars(v).copy() for k, v in scenario.equipment_costs.items()},
            "center": {k: vars(v).copy() for k, v in scenario.center_costs.items()},
        },
        "targets": {
            "gp_per_10k": scenario.gp_target_per_10k,
            "gp_target_hard": scenario.gp_target_hard,
            "min_covered_share": dict(scenario.min_covered_share),
        },
        "thresholds_minutes": dict(scenario.thresholds_minutes),
        "weights": dict(scenario.weights),
        "primary_care": {"provider": scenario.primary_care_provider},
        "cases": {"weighting": scenario.cases.weighting,
                  "share_65plus_when_unknown": scenario.cases.share_65plus_when_unknown,
                  "incidence": {k: dict(v) for k, v in scenario.cases.incidence.items()}},
        "eligibility": {
            "gp": _eligibility_dict(scenario.gp_eligibility, rules["gp"]),
            "village_doctor": _eligibility_dict(scenario.village_doctor_eligibility, rules["village_doctor"]),
            "equipment": {k: _eligibility_dict(v, rules["equipment"][k])
                          for k, v in scenario.equipment_eligibility.items()},
            "center": {k: _eligibility_dict(v, rules["center"][k]) for k, v in scenario.center_eligibility.items()},
        },
    }
    if scenario.tiers is not None:
        result["tiers"] = tiers_to_dict(scenario.tiers)
    if scenario.closures:
        result["closures"] = closures_to_dict(scenario.closures)
    if scenario.ems is not None:
        result["ems"] = ems_to_dict(scenario.ems)
    if scenario.n_minus_1 is not None:
        result["n_minus_1"] = n_minus_1_to_dict(scenario.n_minus_1)
    if scenario.years is not None:
        result["years"] = years_to_dict(scenario.years)
    if scenario.pathways is not None:
        result["pathways"] = pathways_to_dict(scenario.pathways)
    return result


def with_pathways(scenario: Scenario, settings: PathwaySettings) -> Scenario:
    """`scenario` with the pathway model on: each pathway condition's tiers replace its ring center.

    The condition's ring weight becomes its pathway weight (unless `pathways.<condition>.weight` is given) and its
    ring term is kept as a report (weight 0), so nothing is counted twice. A hard ring target on such a condition
    is refused: its coverage is then reported, not planned."""
    weights = dict(scenario.weights)
    conditions = []
    for c in settings.conditions:
        if scenario.min_covered_share.get(c.name, 0.0) > 0:
            raise ScenarioError(f"key 'targets.min_covered_share.{c.name}' asks for ring coverage of {c.name}, which "
                                f"[pathways] plans as pathways; drop the target or {c.name} from pathways.conditions")
        conditions.append(c if c.weight is not None else replace(c, weight=weights[c.name]))
        weights[c.name] = 0.0
    return replace(scenario, weights=weights, pathways=replace(settings, conditions=tuple(conditions)))


def _eligibility_dict(rule: Eligibility, template: Mapping[str, Any]) -> dict[str, Any]:
    """The rule in the TOML layout, with the keys its default table has (`template`)."""
    values = {"levels": list(rule.levels), "kinds": list(rule.kinds), "max_per_site": rule.max_per_site,
              "max_per_level": dict(rule.max_per_level), "requires": list(rule.requires),
              "required_at": list(rule.required_at)}
    return {key: values[key] for key in template}


AGE_BANDS: tuple[str, ...] = ("under_65", "65_plus")
"""Age bands of the incidence rates (`cases.incidence.<condition>.<band>`)."""

# Tables that a scenario replaces whole rather than overlays key by key; their keys are checked in `_build`.
_REPLACED_TABLES = {"budget", "targets.min_covered_share", "eligibility.gp.max_per_level",
                    "eligibility.village_doctor.max_per_level"}


def _merge(base: Mapping[str, Any], override: Mapping[str, Any], *, prefix: str) -> dict[str, Any]:
    """Overlay `override` on `base`, refusing keys the defaults do not know."""
    merged = copy.deepcopy(dict(base))
    for key, value in override.items():
        dotted = f"{prefix}{key}"
        if key not in base:
            raise ScenarioError(f"unknown key {dotted!r}; known keys here: {', '.join(sorted(base))}")
        if isinstance(base[key], Mapping):
            if not isinstance(value, Mapping):
                raise ScenarioError(f"key {dotted!r} must be a table")
            replaced = dotted in _REPLACED_TABLES
            merged[key] = dict(value) if replaced else _merge(base[key], value, prefix=f"{dotted}.")
        else:
            merged[key] = value
    return merged


def _check_number(key: str, value: Any, *, minimum: float = 0.0, maximum: float | None = None,
                  strict: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ScenarioError(f"key {key!r} must be a number, got {value!r}")
    try:
        number = float(value)
    except OverflowError:  # a TOML integer beyond the float range
        raise ScenarioError(f"key {key!r} must be finite, got an integer of {len(str(value))} digits") from None
    if not math.isfinite(number):
        raise ScenarioError(f"key {key!r} must be finite, got {value!r}")
    if number < minimum or (strict and number == minimum):
        relation = "greater than" if strict else "at least"
        raise ScenarioError(f"key {key!r} must be {relation} {minimum:g}, got {value!r}")
    if maximum is not None and number > maximum:
        raise ScenarioError(f"key {key!r} must be at most {maximum:g}, got {value!r}")
    return number


def _money(key: str, value: Any) -> float:
    """An amount of yuan: a TOML number, or text as `money.parse_money` reads it ("30M", "3000万")."""
    return _check_number(key, money_setting(key, value))


def _cost(key: str, table: Mapping[str, Any]) -> ItemCost:
    for part in table:
        if part not in ("capital_yuan", "annual_yuan"):
            raise ScenarioError(f"unknown key '{key}.{part}'; use capital_yuan and annual_yuan")
    return ItemCost(
        capital_yuan=_money(f"{key}.capital_yuan", table.get("capital_yuan", 0.0)),
        annual_yuan=_money(f"{key}.annual_yuan", table.get("annual_yuan", 0.0)),
    )


def _eligibility(key: str, table: Mapping[str, Any], *, known_requirements: tuple[str, ...]) -> Eligibility:
    allowed_keys = ("levels", "kinds", "max_per_site", "max_per_level", "requires", "required_at")
    for part in table:
        if part not in allowed_keys:
            raise ScenarioError(f"unknown key '{key}.{part}'; use {', '.join(allowed_keys)}")
    levels = _word_list(f"{key}.levels", table.get("levels", []), LEVELS, "facility levels")
    kinds = _word_list(f"{key}.kinds", table.get("kinds", list(HOSPITAL_KINDS)), HOSPITAL_KINDS, "hospital kinds")
    requires = _word_list(f"{key}.requires", table.get("requires", []), known_requirements, "equipment types")
    required_at = _word_list(f"{key}.required_at", table.get("required_at", []), LEVELS, "facility levels")
    max_per_site = _whole(f"{key}.max_per_site", table.get("max_per_site", 1))
    per_level = table.get("max_per_level", {})
    if not isinstance(per_level, Mapping):
        raise ScenarioError(f"key '{key}.max_per_level' must be a table of level = whole number")
    for level in per_level:
        if level not in LEVELS:
            raise ScenarioError(f"unknown key '{key}.max_per_level.{level}'; levels are {', '.join(LEVELS)}")
    return Eligibility(levels=levels, max_per_site=max_per_site, requires=requires, kinds=kinds,
                       max_per_level={k: _whole(f"{key}.max_per_level.{k}", v) for k, v in per_level.items()},
                       required_at=required_at)


def _word_list(key: str, value: Any, known: tuple[str, ...], what: str) -> tuple[str, ...]:
    if not isinstance(value, list) or any(item not in known for item in value):
        raise ScenarioError(f"key '{key}' must list {what} from: {', '.join(known)}; got {value!r}")
    return tuple(value)


def _whole(key: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ScenarioError(f"key '{key}' must be a whole number >= 0, got {value!r}")
    return value


def _cases(table: Mapping[str, Any]) -> CaseWeighting:
    if not isinstance(table["weighting"], bool):
        raise ScenarioError(f"key 'cases.weighting' must be true or false, got {table['weighting']!r}")
    incidence: dict[str, dict[str, float]] = {}
    for condition, bands in table["incidence"].items():  # unknown conditions and bands are refused by `_merge`
        incidence[condition] = {
            band: _check_number(f"cases.incidence.{condition}.{band}", bands[band], maximum=1.0)
            for band in AGE_BANDS}
    return CaseWeighting(
        weighting=table["weighting"],
        share_65plus_when_unknown=_check_number("cases.share_65plus_when_unknown",
                                                table["share_65plus_when_unknown"], maximum=1.0),
        incidence=incidence)


def _build(data: Mapping[str, Any], source: str) -> Scenario:
    meta = data["scenario"]
    for key in ("name", "description"):
        if not isinstance(meta[key], str):
            raise ScenarioError(f"key 'scenario.{key}' must be text in quotes, got {meta[key]!r}")
    budget_table = data["budget"]
    if "total_yuan" in budget_table and ({"capital_yuan", "annual_yuan"} & set(budget_table)):
        raise ScenarioError("key 'budget': give either total_yuan, or capital_yuan and/or annual_yuan, not both")
    if not budget_table:
        raise ScenarioError("key 'budget' is empty; give total_yuan, or capital_yuan and/or annual_yuan")
    for key in budget_table:
        if key not in ("total_yuan", "capital_yuan", "annual_yuan"):
            raise ScenarioError(f"unknown key 'budget.{key}'; use total_yuan, or capital_yuan and annual_yuan")
    budget = Budget(**{k: _money(f"budget.{k}", v) for k, v in budget_table.items()})
    costs = data["costs"]
    targets = data["targets"]
    thresholds = {
        k: _check_number(f"thresholds_minutes.{k}", v, strict=True) for k, v in data["thresholds_minutes"].items()
    }
    weights = {k: _check_number(f"weights.{k}", v) for k, v in data["weights"].items()}
    for key in targets["min_covered_share"]:
        if key not in SERVICES:
            raise ScenarioError(
                f"unknown key 'targets.min_covered_share.{key}'; services are {', '.join(SERVICES)}"
            )
    min_share = {
        k: _check_number(f"targets.min_covered_share.{k}", v, maximum=1.0)
        for k, v in targets["min_covered_share"].items()
    }
    if not isinstance(targets["gp_target_hard"], bool):
        raise ScenarioError(f"key 'targets.gp_target_hard' must be true or false, got {targets['gp_target_hard']!r}")
    eligibility = data["eligibility"]
    return Scenario(
        name=str(meta["name"]),
        description=str(meta["description"]),
        budget=budget,
        gp_cost=_cost("costs.gp", costs["gp"]),
        village_doctor_cost=_cost("costs.village_doctor", costs["village_doctor"]),
        open_site_annual_yuan=_money("costs.open_site.annual_yuan", costs["open_site"]["annual_yuan"]),
        equipment_costs={k: _cost(f"costs.equipment.{k}", costs["equipment"][k]) for k in EQUIPMENT},
        center_costs={k: _cost(f"costs.center.{k}", costs["center"][k]) for k in CENTERS},
        gp_target_per_10k=_check_number("targets.gp_per_10k", targets["gp_per_10k"], maximum=1000.0),
        gp_target_hard=targets["gp_target_hard"],
        min_covered_share=min_share,
        thresholds_minutes=thresholds,
        weights=weights,
        gp_eligibility=_eligibility("eligibility.gp", eligibility["gp"], known_requirements=EQUIPMENT),
        village_doctor_eligibility=_eligibility("eligibility.village_doctor", eligibility["village_doctor"],
                                                known_requirements=EQUIPMENT),
        equipment_eligibility={
            k: _eligibility(f"eligibility.equipment.{k}", eligibility["equipment"][k], known_requirements=EQUIPMENT)
            for k in EQUIPMENT
        },
        center_eligibility={
            k: _eligibility(f"eligibility.center.{k}", eligibility["center"][k], known_requirements=EQUIPMENT)
            for k in CENTERS
        },
        primary_care_provider=_provider(data["primary_care"]["provider"]),
        cases=_cases(data["cases"]),
        source=source,
    )


def _provider(value: Any) -> str:
    if value not in PROVIDER_DEFINITIONS:
        raise ScenarioError(f"key 'primary_care.provider' must be one of {', '.join(PROVIDER_DEFINITIONS)} "
                            f"(staffed: a GP or a village doctor makes a first-contact point; gp: a GP), got {value!r}")
    return str(value)
