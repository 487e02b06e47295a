"""The `[pathways]` scenario settings: center tiers per condition, process times, self-presentation, telemedicine.

A scenario with a `[pathways]` table (even an empty one) switches the pathway model on (`allocopt.pathways`,
`allocopt.model.pathways`); without it the model is exactly the ring model. Every condition has two tiers, the
lower one first (chest pain: basic 基层版 and PCI; stroke: thrombolysis 防治卒中中心 and thrombectomy 高级卒中中心;
trauma: stabilisation station 创伤救治站 and trauma center). A site holding the upper tier holds the lower one.
Defaults and their sources: `SOURCES` and docs/scenario.md. This module only validates; it knows nothing of
travel times or the MILP.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from typing import Any

from allocopt.errors import ScenarioError
from allocopt.services import CENTERS, EQUIPMENT, HOSPITAL_KINDS, LEVELS

_HOSPITALS = ("county_hospital", "tertiary_hospital")


@dataclass(frozen=True)
class TierSettings:
    """One center tier of a condition: where it may be designated, what it needs, what it costs, how fast it treats.

    `central_only`: at township and community level only central health centers (中心卫生院) are eligible;
    `telemedicine_required_at`: levels where the tier also needs a telemedicine terminal at the site (remote ECG
    or tele-stroke: a township center thrombolyses only with a specialist's remote decision). Costs come on top
    of the lower tier's (an upper tier holds the lower one). `min_cases_per_year`: if designated, the tier's
    center receives at least so many expected cases a year over timely pathways (0: no minimum)."""

    name: str
    levels: tuple[str, ...]
    kinds: tuple[str, ...] = ("general",)
    central_only: bool = False
    requires: tuple[str, ...] = ()
    telemedicine_required_at: tuple[str, ...] = ()
    door_to_treatment_minutes: float = 60.0
    capital_yuan: float = 0.0
    annual_yuan: float = 0.0
    min_cases_per_year: float = 0.0


@dataclass(frozen=True)
class ConditionSettings:
    """Times of one condition: `window_minutes` from the call to the first treatment (at either tier),
    `ship_window_minutes` from the call to treatment at the upper tier after a drip-and-ship transfer,
    `door_in_door_out_minutes` at a first door that transfers, and the share of patients who come by themselves
    to their nearest door instead of calling 120."""

    name: str
    lower: TierSettings
    upper: TierSettings
    window_minutes: float
    ship_window_minutes: float
    door_in_door_out_minutes: float
    self_presentation_share: float
    weight: float | None = None
    """People-equivalents per untreated case-equivalent in the `gap` objective; None: `weights.<condition>`."""

    @property
    def tiers(self) -> tuple[TierSettings, TierSettings]:
        """The lower and the upper tier."""
        return self.lower, self.upper


@dataclass(frozen=True)
class TelemedicineSettings:
    """Remote-ECG / tele-stroke terminals: where they may go, their cost per site, and the minutes they save on the
    decision at a first door (its door-in-door-out and its lower tier's door-to-treatment)."""

    levels: tuple[str, ...] = ("township_hc", "village_clinic")
    capital_yuan: float = 50_000.0
    annual_yuan: float = 20_000.0
    minutes_saved: float = 15.0


@dataclass(frozen=True)
class PathwaySettings:
    """The resolved `[pathways]` settings."""

    conditions: tuple[ConditionSettings, ...]
    response_minutes: float = 20.0
    on_scene_minutes: float = 15.0
    self_delay_minutes: float = 15.0
    self_presentation_levels: tuple[str, ...] = ("township_hc", "community_hc", *_HOSPITALS)
    telemedicine: TelemedicineSettings = TelemedicineSettings()

    def condition(self, name: str) -> ConditionSettings:
        """The settings of condition `name`."""
        return next(c for c in self.conditions if c.name == name)


def _default_conditions() -> dict[str, ConditionSettings]:
    return {
        "chest_pain": ConditionSettings(
            "chest_pain",
            TierSettings("basic", levels=("county_hospital", "township_hc"), central_only=True, requires=("ecg",),
                         telemedicine_required_at=("township_hc",), door_to_treatment_minutes=30.0,
                         capital_yuan=500_000.0, annual_yuan=300_000.0),
            TierSettings("pci", levels=_HOSPITALS, requires=("ecg", "cath_lab"), door_to_treatment_minutes=90.0,
                         capital_yuan=1_000_000.0, annual_yuan=900_000.0),
            window_minutes=140.0, ship_window_minutes=1_440.0 + 140.0, door_in_door_out_minutes=30.0,
            self_presentation_share=0.7),
        "stroke": ConditionSettings(
            "stroke",
            TierSettings("thrombolysis", levels=_HOSPITALS, requires=("ct",), door_to_treatment_minutes=60.0,
                         capital_yuan=1_000_000.0, annual_yuan=800_000.0),
            TierSettings("thrombectomy", levels=_HOSPITALS, requires=("ct", "cath_lab"),
                         door_to_treatment_minutes=90.0, capital_yuan=500_000.0, annual_yuan=400_000.0),
            window_minutes=270.0, ship_window_minutes=360.0, door_in_door_out_minutes=60.0,
            self_presentation_share=0.7),
        "trauma": ConditionSettings(
            "trauma",
            TierSettings("stabilisation", levels=("township_hc", *_HOSPITALS), kinds=HOSPITAL_KINDS,
                         central_only=True, door_to_treatment_minutes=10.0, capital_yuan=300_000.0,
                         annual_yuan=300_000.0),
            TierSettings("trauma_center", levels=_HOSPITALS, requires=("ct",), door_to_treatment_minutes=30.0,
                         capital_yuan=1_700_000.0, annual_yuan=1_200_000.0),
            window_minutes=60.0, ship_window_minutes=180.0, door_in_door_out_minutes=30.0,
            self_presentation_share=0.3),
    }


def default_settings() -> PathwaySettings:
    """The documented defaults (an empty `[pathways]` table)."""
    return PathwaySettings(conditions=tuple(_default_conditions().values()))


SOURCES: Mapping[str, str] = {
    "response_minutes": "unconfirmed planning value for rural counties when no station layer gives a response "
                        "time per village: urban Shanghai reported a 12.4-minute mean in 2019; rural service radii "
                        "of 10-20 km (国卫医发〔2020〕19号) mean longer drives",
    "on_scene_minutes": "unconfirmed; a common EMS on-scene time for STEMI and stroke in the literature",
    "self_delay_minutes": "unconfirmed; time for a self-presenting patient to find transport",
    "self_presentation_levels": "facilities a patient reaches without calling 120: health centers and hospitals",
    "chest_pain.window_minutes": "first medical contact to wire <= 120 min in a transfer (ESC 2017 STEMI), plus "
                                 "the 20-minute default response: 140 from the call; door-to-needle <= 30 min for "
                                 "lysis at a basic center (Chinese chest pain center standard)",
    "chest_pain.ship_window_minutes": "after lysis, angiography/PCI within 24 h (ESC 2017 pharmaco-invasive "
                                      "strategy): 1,440 minutes after the first-treatment window",
    "chest_pain.door_in_door_out_minutes": "door-in-door-out <= 30 min for transfer (Chinese chest pain center "
                                           "standard, basic version)",
    "chest_pain.self_presentation_share": "unconfirmed; in China most STEMI patients do not arrive by 120 "
                                          "(CAMI registry; Feng 2019)",
    "chest_pain.basic": "basic (基层版) chest pain center: 12-lead ECG, thrombolysis, transfer agreement; at general "
                        "county hospitals and central township health centers (DOMAIN.md); door-to-needle 30 min "
                        "(Chinese standard); costs unconfirmed",
    "chest_pain.pci": "standard chest pain center: cath lab (DSA) and a 24/7 team; door-to-wire 90 min (Chinese "
                      "standard); with the basic tier below it, it costs what the ring model's chest pain center "
                      "costs (unconfirmed)",
    "stroke.window_minutes": "intravenous thrombolysis within 4.5 h of onset (270 min), taken from the call: an "
                             "optimistic zero onset-to-call delay",
    "stroke.ship_window_minutes": "thrombectomy within 6 h of onset (360 min) for most patients",
    "stroke.door_in_door_out_minutes": "unconfirmed; 60 min, half the 120-minute AHA drip-and-ship goal",
    "stroke.self_presentation_share": "unconfirmed",
    "stroke.thrombolysis": "防治卒中中心: CT and IV thrombolysis, door-to-needle <= 60 min (DOMAIN.md); costs "
                           "unconfirmed",
    "stroke.thrombectomy": "高级卒中中心: CT and DSA; door-to-puncture 90 min (unconfirmed); with thrombolysis below "
                           "it, it costs what the ring model's stroke center costs (unconfirmed)",
    "trauma.window_minutes": "the golden hour from injury, EMS response included (DOMAIN.md)",
    "trauma.ship_window_minutes": "unconfirmed; definitive care within 3 h of injury after stabilisation",
    "trauma.door_in_door_out_minutes": "unconfirmed",
    "trauma.self_presentation_share": "unconfirmed",
    "trauma.stabilisation": "创伤救治站 at central township health centers (2025 Zhejiang expert consensus, "
                            "DOMAIN.md); 10 minutes to stabilisation and costs unconfirmed",
    "trauma.trauma_center": "county hospital with CT and 24/7 surgery (the surgery team is in its annual cost); "
                            "with stabilisation below it, it costs what the ring model's trauma center costs "
                            "(unconfirmed)",
    "telemedicine": "remote ECG / tele-stroke terminal per site, 50,000 yuan plus 20,000 a year, saving 15 minutes "
                    "on the first door's decision: unconfirmed (DOMAIN.md: Hebei's 5G ambulances and remote ECG)",
}
"""Where each `[pathways]` default comes from (for docs/scenario.md)."""

EXISTING_FLAG_TIER = "the highest tier whose required equipment the site holds today"
"""What a facility's `<condition>_center` flag of today means under the pathway model."""

_TIME_KEYS = ("response_minutes", "on_scene_minutes", "self_delay_minutes")
_CONDITION_TIME_KEYS = ("window_minutes", "ship_window_minutes", "door_in_door_out_minutes")


def parse_pathways(table: Any) -> PathwaySettings:
    """PathwaySettings from the scenario's `[pathways]` table over the defaults; ScenarioError naming a bad key."""
    if not isinstance(table, Mapping):
        raise ScenarioError("key 'pathways' must be a table ([pathways])")
    defaults = default_settings()
    known = {"conditions", "self_presentation_levels", "telemedicine", *_TIME_KEYS, *CENTERS}
    _known_keys("pathways", table, known)
    values: dict[str, Any] = {k: _number(f"pathways.{k}", table[k]) for k in _TIME_KEYS if k in table}
    if "self_presentation_levels" in table:
        values["self_presentation_levels"] = _words("pathways.self_presentation_levels",
                                                    table["self_presentation_levels"], LEVELS)
    names = _words("pathways.conditions", table.get("conditions", list(CENTERS)), CENTERS)
    values["conditions"] = tuple(_condition(defaults.condition(c), table.get(c, {})) for c in names)
    if "telemedicine" in table:
        values["telemedicine"] = _telemedicine(table["telemedicine"])
    settings = replace(defaults, **values)
    _check_windows(settings)
    return settings


def pathways_to_dict(settings: PathwaySettings) -> dict[str, Any]:
    """The settings in the TOML layout."""
    result: dict[str, Any] = {k: getattr(settings, k) for k in _TIME_KEYS}
    result["self_presentation_levels"] = list(settings.self_presentation_levels)
    result["conditions"] = [c.name for c in settings.conditions]
    result["telemedicine"] = {**vars(settings.telemedicine), "levels": list(settings.telemedicine.levels)}
    for c in settings.conditions:
        table: dict[str, Any] = {k: getattr(c, k) for k in (*_CONDITION_TIME_KEYS, "self_presentation_share")}
        if c.weight is not None:
            table["weight"] = c.weight
        for tier in c.tiers:
            table[tier.name] = {f.name: (list(v) if isinstance(v := getattr(tier, f.name), tuple) else v)
                                for f in fields(TierSettings) if f.name != "name"}
        result[c.name] = table
    return result


def _condition(default: ConditionSettings, table: Any) -> ConditionSettings:
    key = f"pathways.{default.name}"
    if not isinstance(table, Mapping):
        raise ScenarioError(f"key {key!r} must be a table")
    tier_names = tuple(t.name for t in default.tiers)
    _known_keys(key, table, {*_CONDITION_TIME_KEYS, "self_presentation_share", "weight", *tier_names})
    values: dict[str, Any] = {k: _number(f"{key}.{k}", table[k]) for k in _CONDITION_TIME_KEYS if k in table}
    if "self_presentation_share" in table:
        values["self_presentation_share"] = _number(f"{key}.self_presentation_share",
                                                    table["self_presentation_share"], maximum=1.0)
    if "weight" in table:
        values["weight"] = _number(f"{key}.weight", table["weight"])
    values["lower"] = _tier(key, default.lower, table.get(default.lower.name, {}))
    values["upper"] = _tier(key, default.upper, table.get(default.upper.name, {}))
    return replace(default, **values)


def _tier(prefix: str, default: TierSettings, table: Any) -> TierSettings:
    key = f"{prefix}.{default.name}"
    if not isinstance(table, Mapping):
        raise ScenarioError(f"key {key!r} must be a table")
    _known_keys(key, table, {f.name for f in fields(TierSettings)} - {"name"})
    values: dict[str, Any] = {}
    for name, known, what in (("levels", LEVELS, "facility levels"), ("kinds", HOSPITAL_KINDS, "hospital kinds"),
                              ("requires", EQUIPMENT, "equipment types"),
                              ("telemedicine_required_at", LEVELS, "facility levels")):
        if name in table:
            values[name] = _words(f"{key}.{name}", table[name], known, what)
    if "central_only" in table:
        if not isinstance(table["central_only"], bool):
            raise ScenarioError(f"key '{key}.central_only' must be true or false, got {table['central_only']!r}")
        values["central_only"] = table["central_only"]
    if "door_to_treatment_minutes" in table:
        values["door_to_treatment_minutes"] = _number(f"{key}.door_to_treatment_minutes",
                                                       table["door_to_treatment_minutes"])
    for name in ("capital_yuan", "annual_yuan", "min_cases_per_year"):
        if name in table:
            values[name] = _number(f"{key}.{name}", table[name])
    return replace(default, **values)


def _telemedicine(table: Any) -> TelemedicineSettings:
    if not isinstance(table, Mapping):
        raise ScenarioError("key 'pathways.telemedicine' must be a table")
    _known_keys("pathways.telemedicine", table, {f.name for f in fields(TelemedicineSettings)})
    values: dict[str, Any] = {}
    if "levels" in table:
        values["levels"] = _words("pathways.telemedicine.levels", table["levels"], LEVELS)
    for name in ("capital_yuan", "annual_yuan"):
        if name in table:
            values[name] = _number(f"pathways.telemedicine.{name}", table[name])
    if "minutes_saved" in table:
        values["minutes_saved"] = _number("pathways.telemedicine.minutes_saved", table["minutes_saved"])
    return replace(TelemedicineSettings(), **values)


def _check_windows(settings: PathwaySettings) -> None:
    """Every process time must fit in its condition's window (one that does not can never give timely care)."""
    for c in settings.conditions:
        window = c.window_minutes
        if window <= 0:
            raise ScenarioError(f"key 'pathways.{c.name}.window_minutes' must be above 0, got {window:g}")
        if c.ship_window_minutes < window:
            raise ScenarioError(f"key 'pathways.{c.name}.ship_window_minutes' ({c.ship_window_minutes:g}) is "
                                f"shorter than window_minutes ({window:g}); give at least the window")
        times = [(f"pathways.{k}", getattr(settings, k)) for k in _TIME_KEYS]
        times.append((f"pathways.{c.name}.door_in_door_out_minutes", c.door_in_door_out_minutes))
        times += [(f"pathways.{c.name}.{t.name}.door_to_treatment_minutes", t.door_to_treatment_minutes)
                  for t in c.tiers]
        for key, minutes in times:
            if minutes >= window:
                raise ScenarioError(f"key {key!r} ({minutes:g} minutes) is not shorter than the {c.name} window "
                                    f"of {window:g} minutes, so no {c.name} patient could be treated in time; "
                                    f"shorten it or lengthen pathways.{c.name}.window_minutes")


def _known_keys(prefix: str, table: Mapping[str, Any], known: set[str]) -> None:
    for key in table:
        if key not in known:
            raise ScenarioError(f"unknown key '{prefix}.{key}'; known keys here: {', '.join(sorted(known))}")


def _words(key: str, value: Any, known: tuple[str, ...], what: str = "names") -> tuple[str, ...]:
    if not isinstance(value, list) or any(item not in known for item in value):
        raise ScenarioError(f"key '{key}' must list {what} from: {', '.join(known)}; got {value!r}")
    return tuple(value)


def _number(key: str, value: Any, *, maximum: float | None = None) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ScenarioError(f"key {key!r} must be a number, got {value!r}")
    number = float(value)
    if not math.isfinite(number) or number < 0 or (maximum is not None and number > maximum):
        bound = f" and at most {maximum:g}" if maximum is not None else ""
        raise ScenarioError(f"key {key!r} must be a finite number at least 0{bound}, got {value!r}")
    return number
