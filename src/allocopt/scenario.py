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
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from allocopt.closures import Closure, closures_to_dict, parse_closures
from allocopt.errors import DataError, ScenarioError
from allocopt.inputs import read_bytes
from allocopt.money import parse_money
from allocopt.services import CENTERS, EQUIPMENT, GP_SHORTAGE, LEVELS, SERVICES
from allocopt.tiers import TiersSettings, parse_tiers, tiers_to_dict

DEFAULTS: dict[str, Any] = {
    "scenario": {"name": "default", "description": ""},
    # A single total budget unless capital_yuan / annual_yuan are given (then each is a separate limit).
    "budget": {"total_yuan": 20_000_000.0},
    "costs": {
        "gp": {"capital_yuan": 50_000.0, "annual_yuan": 150_000.0},
        "open_site": {"annual_yuan": 300_000.0},
        "equipment": {
            "ct": {"capital_yuan": 3_000_000.0, "annual_yuan": 200_000.0},
            "dr": {"capital_yuan": 800_000.0, "annual_yuan": 50_000.0},
            "ultrasound": {"capital_yuan": 400_000.0, "annual_yuan": 20_000.0},
            "cath_lab": {"capital_yuan": 6_000_000.0, "annual_yuan": 500_000.0},
        },
        "center": {
            "chest_pain": {"capital_yuan": 1_500_000.0, "annual_yuan": 300_000.0},
            "stroke": {"capital_yuan": 1_500_000.0, "annual_yuan": 300_000.0},
            "trauma": {"capital_yuan": 2_000_000.0, "annual_yuan": 400_000.0},
        },
    },
    "targets": {
        "gp_per_10k": 3.0,
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
    },
    "weights": {
        "primary_care": 1.0,
        "chest_pain": 1.0,
        "stroke": 1.0,
        "trauma": 1.0,
        "ct": 0.5,
        "dr": 0.5,
        "ultrasound": 0.5,
        "cath_lab": 0.5,
        GP_SHORTAGE: 1.0,
    },
    "eligibility": {
        "gp": {"levels": ["village_clinic", "township_hc", "community_hc"], "max_per_site": 10, "requires": []},
        "equipment": {
            "ct": {"levels": ["township_hc", "county_hospital", "tertiary_hospital"],
                   "max_per_site": 1, "requires": []},
            "dr": {"levels": ["township_hc", "community_hc", "county_hospital", "tertiary_hospital"],
                   "max_per_site": 1, "requires": []},
            "ultrasound": {"levels": ["township_hc", "community_hc", "county_hospital", "tertiary_hospital"],
                           "max_per_site": 1, "requires": []},
            "cath_lab": {"levels": ["county_hospital", "tertiary_hospital"], "max_per_site": 1, "requires": []},
        },
        "center": {
            "chest_pain": {"levels": ["county_hospital", "tertiary_hospital"], "requires": ["cath_lab"],
                           "max_per_site": 1},
            "stroke": {"levels": ["county_hospital", "tertiary_hospital"], "requires": ["ct"], "max_per_site": 1},
            "trauma": {"levels": ["county_hospital", "tertiary_hospital"], "requires": ["ct"], "max_per_site": 1},
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
    """Where a resource may be placed: facility levels, most units added per site, prerequisites at the site."""

    levels: tuple[str, ...]
    max_per_site: int = 1
    requires: tuple[str, ...] = ()


@dataclass(frozen=True)
class Scenario:
    """A planning scenario, fully resolved (defaults filled in)."""

    name: str
    description: str
    budget: Budget
    gp_cost: ItemCost
    open_site_annual_yuan: float
    equipment_costs: dict[str, ItemCost]
    center_costs: dict[str, ItemCost]
    gp_target_per_10k: float
    gp_target_hard: bool
    min_covered_share: dict[str, float]
    thresholds_minutes: dict[str, float]
    weights: dict[str, float]
    gp_eligibility: Eligibility
    equipment_eligibility: dict[str, Eligibility]
    center_eligibility: dict[str, Eligibility]
    source: str = "defaults"
    tiers: TiersSettings | None = None
    closures: tuple[Closure, ...] = ()
    """Road closure scenarios (`[[closures]]`, allocopt.closures); none by default."""

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
        own = {k: v for k, v in data.items() if k not in ("tiers", "closures")}
        scenario = _build(_merge(DEFAULTS, own, prefix=""), source)
        if "closures" in data:
            scenario = replace(scenario, closures=parse_closures(data["closures"], source=source))
        return replace(scenario, tiers=parse_tiers(data["tiers"])) if "tiers" in data else scenario
    except ScenarioError as exc:
        raise ScenarioError(f"{source}: {exc}") from None


def scenario_to_dict(scenario: Scenario) -> dict[str, Any]:
    """The resolved scenario as a mapping in the TOML layout (for summaries and audit)."""
    budget = {k: v for k, v in vars(scenario.budget).items() if v is not None}
    result: dict[str, Any] = {
        "scenario": {"name": scenario.name, "description": scenario.description},
        "budget": budget,
        "costs": {
            "gp": vars(scenario.gp_cost).copy(),
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
        "eligibility": {
            "gp": _eligibility_dict(scenario.gp_eligibility),
            "equipment": {k: _eligibility_dict(v) for k, v in scenario.equipment_eligibility.items()},
            "center": {k: _eligibility_dict(v) for k, v in scenario.center_eligibility.items()},
        },
    }
    if scenario.tiers is not None:
        result["tiers"] = tiers_to_dict(scenario.tiers)
    if scenario.closures:
        result["closures"] = closures_to_dict(scenario.closures)
    return result


def _eligibility_dict(rule: Eligibility) -> dict[str, Any]:
    return {"levels": list(rule.levels), "max_per_site": rule.max_per_site, "requires": list(rule.requires)}


# Tables that a scenario replaces whole rather than overlays key by key; their keys are checked in `_build`.
_REPLACED_TABLES = {"budget", "targets.min_covered_share"}


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
    if isinstance(value, str):
        try:
            value = parse_money(value)
        except ScenarioError as exc:
            raise ScenarioError(f"key {key!r}: {exc}") from exc
    return _check_number(key, value)


def _cost(key: str, table: Mapping[str, Any]) -> ItemCost:
    for part in table:
        if part not in ("capital_yuan", "annual_yuan"):
            raise ScenarioError(f"unknown key '{key}.{part}'; use capital_yuan and annual_yuan")
    return ItemCost(
        capital_yuan=_money(f"{key}.capital_yuan", table.get("capital_yuan", 0.0)),
        annual_yuan=_money(f"{key}.annual_yuan", table.get("annual_yuan", 0.0)),
    )


def _eligibility(key: str, table: Mapping[str, Any], *, known_requirements: tuple[str, ...]) -> Eligibility:
    for part in table:
        if part not in ("levels", "max_per_site", "requires"):
            raise ScenarioError(f"unknown key '{key}.{part}'; use levels, max_per_site and requires")
    levels = table.get("levels", [])
    if not isinstance(levels, list) or any(level not in LEVELS for level in levels):
        raise ScenarioError(f"key '{key}.levels' must list facility levels from: {', '.join(LEVELS)}; got {levels!r}")
    requires = table.get("requires", [])
    if not isinstance(requires, list) or any(item not in known_requirements for item in requires):
        raise ScenarioError(
            f"key '{key}.requires' must list equipment types from: {', '.join(known_requirements)}; got {requires!r}"
        )
    max_per_site = table.get("max_per_site", 1)
    if isinstance(max_per_site, bool) or not isinstance(max_per_site, int) or max_per_site < 0:
        raise ScenarioError(f"key '{key}.max_per_site' must be a whole number >= 0, got {max_per_site!r}")
    return Eligibility(levels=tuple(levels), max_per_site=max_per_site, requires=tuple(requires))


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
        open_site_annual_yuan=_money("costs.open_site.annual_yuan", costs["open_site"]["annual_yuan"]),
        equipment_costs={k: _cost(f"costs.equipment.{k}", costs["equipment"][k]) for k in EQUIPMENT},
        center_costs={k: _cost(f"costs.center.{k}", costs["center"][k]) for k in CENTERS},
        gp_target_per_10k=_check_number("targets.gp_per_10k", targets["gp_per_10k"], maximum=1000.0),
        gp_target_hard=targets["gp_target_hard"],
        min_covered_share=min_share,
        thresholds_minutes=thresholds,
        weights=weights,
        gp_eligibility=_eligibility("eligibility.gp", eligibility["gp"], known_requirements=EQUIPMENT),
        equipment_eligibility={
            k: _eligibility(f"eligibility.equipment.{k}", eligibility["equipment"][k], known_requirements=EQUIPMENT)
            for k in EQUIPMENT
        },
        center_eligibility={
            k: _eligibility(f"eligibility.center.{k}", eligibility["center"][k], known_requirements=EQUIPMENT)
            for k in CENTERS
        },
        source=source,
    )
