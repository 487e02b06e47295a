"""The `[years]` scenario section: a multi-year plan's horizon, yearly budgets, lead times, GP pipeline, demand
change and milestones, checked key by key (`ScenarioError` names the key). Sources of every default:
docs/scenario.md, "Five-year plans".
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from allocopt.errors import ScenarioError
from allocopt.money import money_setting
from allocopt.services import SERVICES

BUDGET_LINES: tuple[str, ...] = ("total", "capital", "annual")

DEFAULT_STREAMS: dict[str, dict[str, float]] = {
    # GPs reaching the county a year per 100,000 residents, years from intake to service, share lost on the way.
    "rural_targeted": {"quota_per_100k": 1.0, "lead_time_years": 8, "attrition": 0.1},
    "standardized": {"quota_per_100k": 1.5, "lead_time_years": 3, "attrition": 0.3},
    "conversion": {"quota_per_100k": 2.0, "lead_time_years": 1, "attrition": 0.05},
}
"""GP pipeline streams when the scenario gives none (docs/scenario.md: the lead times are those of DOMAIN.md; the
quotas and attrition are unconfirmed)."""

AGEING_RELATIVE = 0.047
"""Default yearly rise of a township's 65+ share, relative to its share: China's 65+ share rose from 13.5% (2020
census) to 15.4% (2023 statistical bulletin), 4.7% of the share a year."""

_KEYS = ("first", "last", "carry_over", "discount_rate", "retire", "center_lag_years", "open_build_years",
         "budget", "demand", "pipeline", "milestones")
_DEMAND_KEYS = ("base_year", "growth", "ageing", "growth_by_township", "ageing_by_township", "projection")
_STREAM_KEYS = ("yearly_quota", "lead_time_years", "attrition", "enrolled_yearly")
_MILESTONE_KEYS = ("gp_per_10k", "min_covered_share", "hard")


@dataclass(frozen=True)
class Stream:
    """One GP pipeline stream: `yearly_quota` intakes a year from the first plan year on, reaching the county
    `lead_time_years` later less `attrition`; until then cohorts enrolled before the plan arrive at
    `enrolled_yearly` a year (None: the quota, a programme that has run at that quota). `yearly_quota` None
    takes the default rate per 100,000 residents (`DEFAULT_STREAMS`)."""

    name: str
    yearly_quota: float | None
    lead_time_years: int
    attrition: float
    enrolled_yearly: float | None = None

    def supply(self, index: int, population: float) -> float:
        """GPs this stream adds in plan year `index` (0: the first year) for a region of `population`."""
        quota = (self.yearly_quota if self.yearly_quota is not None
                 else DEFAULT_STREAMS[self.name]["quota_per_100k"] * population / 100_000.0)
        arriving = quota if index >= self.lead_time_years else (
            self.enrolled_yearly if self.enrolled_yearly is not None else quota)
        return arriving * (1.0 - self.attrition)


@dataclass(frozen=True)
class Milestone:
    """Targets of one year: GP density (every township, as `targets.gp_per_10k`) and covered shares; `hard`
    ones must be met, soft ones count in the gap objective."""

    year: int
    gp_per_10k: float | None = None
    min_covered_share: Mapping[str, float] = field(default_factory=dict)
    hard: bool = True


@dataclass(frozen=True)
class DemandChange:
    """How residents change from year to year without a projection table: population grows by `growth` a year
    (a fraction), the 65+ share rises by `ageing` share points a year (None: `AGEING_RELATIVE` of the township's
    share); per-township values override. `base_year` is the year the bundle's figures describe (None: the first
    plan year). `projection` names a CSV in the bundle (None: projection.csv when the bundle has one)."""

    base_year: int | None = None
    growth: float = 0.0
    ageing: float | None = None
    growth_by_township: Mapping[str, float] = field(default_factory=dict)
    ageing_by_township: Mapping[str, float] = field(default_factory=dict)
    projection: str | None = None


@dataclass(frozen=True)
class YearsSettings:
    """A multi-year plan (`model.years`): horizon `first`..`last` (None: from `--years`), yearly budget lines
    (each a number for every year or one per year; empty: the scenario's `[budget]` every year), carry-over of
    unspent capital, discount rate of the objective, whether stock may be retired, lead times, GP pipeline
    (None: `DEFAULT_STREAMS`; empty: no limit), demand change and milestones."""

    first: int | None = None
    last: int | None = None
    budget: Mapping[str, float | tuple[float, ...]] = field(default_factory=dict)
    carry_over: bool = False
    discount_rate: float = 0.0
    retire: bool = False
    center_lag_years: int = 1
    open_build_years: int = 1
    pipeline: tuple[Stream, ...] | None = None
    demand: DemandChange = field(default_factory=DemandChange)
    milestones: tuple[Milestone, ...] = ()

    def horizon(self) -> tuple[int, ...]:
        """The plan's years; ScenarioError when the range is unset, empty or reversed."""
        return year_range(self.first, self.last, key="years.first/years.last")

    def streams(self) -> tuple[Stream, ...]:
        """The pipeline streams in force (the defaults when the scenario gives none)."""
        if self.pipeline is not None:
            return self.pipeline
        return tuple(Stream(name, None, int(d["lead_time_years"]), d["attrition"])
                     for name, d in DEFAULT_STREAMS.items())

    def yearly_limits(self, years: Sequence[int], scenario_budget: Mapping[str, float | None]
                      ) -> dict[str, tuple[float, ...]]:
        """Each limited budget line ("total", "capital", "annual") and its limit per year: `budget` here, else
        the scenario's `[budget]` (`vars(Budget)`, keys `<line>_yuan`) every year."""
        if not self.budget:
            return {line.removesuffix("_yuan"): (float(limit),) * len(years)
                    for line, limit in scenario_budget.items() if limit is not None}
        limits = {}
        for line, value in self.budget.items():
            values = value if isinstance(value, tuple) else (value,) * len(years)
            if len(values) != len(years):
                raise ScenarioError(f"key 'years.budget.{line}_yuan' lists {len(values)} amounts for the "
                                    f"{len(years)} years {years[0]}-{years[-1]}; give one per year or a single one")
            limits[line] = tuple(values)
        return limits


def year_range(first: int | None, last: int | None, *, key: str) -> tuple[int, ...]:
    """first..last inclusive; ScenarioError naming `key` when unset, empty or reversed."""
    if first is None or last is None:
        raise ScenarioError(f"{key}: the plan's years are not set; give --years START:END or years.first and "
                            "years.last")
    if last < first:
        raise ScenarioError(f"{key}: the year range {first}:{last} is reversed; write START:END with START <= END")
    return tuple(range(first, last + 1))


def parse_year_range(text: str) -> tuple[int, int]:
    """`2026:2030` (or a single year `2026`) as (first, last); ScenarioError naming --years otherwise."""
    parts = text.split(":")
    if len(parts) not in (1, 2) or not all(part.strip().isdigit() for part in parts):
        raise ScenarioError(f"--years {text!r}: write START:END, e.g. 2026:2030 (or one year, 2026)")
    first, last = int(parts[0]), int(parts[-1])
    year_range(first, last, key=f"--years {text}")
    return first, last


def parse_years(table: Any) -> YearsSettings:
    """The `[years]` table as YearsSettings; ScenarioError naming the key of any bad value."""
    _table("years", table, _KEYS)
    budget = _budget(table.get("budget", {}))
    demand = table.get("demand", {})
    _table("years.demand", demand, _DEMAND_KEYS)
    pipeline = table.get("pipeline")
    return YearsSettings(
        first=_year("years.first", table["first"]) if "first" in table else None,
        last=_year("years.last", table["last"]) if "last" in table else None,
        budget=budget,
        carry_over=_bool("years.carry_over", table.get("carry_over", False)),
        discount_rate=_number("years.discount_rate", table.get("discount_rate", 0.0), maximum=1.0),
        retire=_bool("years.retire", table.get("retire", False)),
        center_lag_years=_whole("years.center_lag_years", table.get("center_lag_years", 1)),
        open_build_years=_whole("years.open_build_years", table.get("open_build_years", 1)),
        pipeline=_pipeline(pipeline),
        demand=DemandChange(
            base_year=_year("years.demand.base_year", demand["base_year"]) if "base_year" in demand else None,
            growth=_number("years.demand.growth", demand.get("growth", 0.0), minimum=-1.0, maximum=1.0),
            ageing=(_number("years.demand.ageing", demand["ageing"], minimum=-1.0, maximum=1.0)
                    if "ageing" in demand else None),
            growth_by_township=_rates("years.demand.growth_by_township", demand.get("growth_by_township", {})),
            ageing_by_township=_rates("years.demand.ageing_by_township", demand.get("ageing_by_township", {})),
            projection=_text("years.demand.projection", demand["projection"]) if "projection" in demand else None),
        milestones=_milestones(table.get("milestones", {})),
    )


def years_to_dict(settings: YearsSettings) -> dict[str, Any]:
    """The settings in the TOML layout (for summaries and audit)."""
    demand = settings.demand
    result: dict[str, Any] = {
        "first": settings.first, "last": settings.last,
        "budget": {f"{line}_yuan": list(v) if isinstance(v, tuple) else v for line, v in settings.budget.items()},
        "carry_over": settings.carry_over, "discount_rate": settings.discount_rate, "retire": settings.retire,
        "center_lag_years": settings.center_lag_years, "open_build_years": settings.open_build_years,
        "pipeline": {s.name: {"yearly_quota": s.yearly_quota, "lead_time_years": s.lead_time_years,
                              "attrition": s.attrition, "enrolled_yearly": s.enrolled_yearly}
                     for s in settings.streams()},
        "demand": {"base_year": demand.base_year, "growth": demand.growth, "ageing": demand.ageing,
                   "growth_by_township": dict(demand.growth_by_township),
                   "ageing_by_township": dict(demand.ageing_by_township), "projection": demand.projection},
        "milestones": {str(m.year): {"gp_per_10k": m.gp_per_10k, "min_covered_share": dict(m.min_covered_share),
                                     "hard": m.hard} for m in settings.milestones},
    }
    return {k: v for k, v in result.items() if v is not None}


def _table(key: str, value: Any, known: Sequence[str]) -> None:
    if not isinstance(value, Mapping):
        raise ScenarioError(f"key {key!r} must be a table")
    for part in value:
        if part not in known:
            raise ScenarioError(f"unknown key '{key}.{part}'; known keys here: {', '.join(known)}")


def _budget(table: Any) -> dict[str, float | tuple[float, ...]]:
    _table("years.budget", table, tuple(f"{line}_yuan" for line in BUDGET_LINES))
    if "total_yuan" in table and ({"capital_yuan", "annual_yuan"} & set(table)):
        raise ScenarioError("key 'years.budget': give either total_yuan, or capital_yuan and/or annual_yuan, "
                            "not both")
    result: dict[str, float | tuple[float, ...]] = {}
    for key, value in table.items():
        name = f"years.budget.{key}"
        result[key.removesuffix("_yuan")] = (tuple(_money(f"{name}[{i}]", v) for i, v in enumerate(value))
                                             if isinstance(value, list) else _money(name, value))
    return result


def _pipeline(value: Any) -> tuple[Stream, ...] | None:
    if value is None:
        return None
    if value is False:
        return ()
    if not isinstance(value, Mapping):
        raise ScenarioError("key 'years.pipeline' must be a table of streams, or false for no pipeline limit")
    streams = []
    for name, table in value.items():
        key = f"years.pipeline.{name}"
        _table(key, table, _STREAM_KEYS)
        default = DEFAULT_STREAMS.get(name)
        if default is None and ("lead_time_years" not in table or "yearly_quota" not in table):
            raise ScenarioError(f"key {key!r}: a stream of your own needs yearly_quota and lead_time_years (known "
                                f"streams with defaults: {', '.join(DEFAULT_STREAMS)})")
        streams.append(Stream(
            name=str(name),
            yearly_quota=_number(f"{key}.yearly_quota", table["yearly_quota"]) if "yearly_quota" in table else None,
            lead_time_years=_whole(f"{key}.lead_time_years",
                                   table.get("lead_time_years", int((default or {}).get("lead_time_years", 0)))),
            attrition=_number(f"{key}.attrition", table.get("attrition", (default or {}).get("attrition", 0.0)),
                              maximum=1.0),
            enrolled_yearly=(_number(f"{key}.enrolled_yearly", table["enrolled_yearly"])
                             if "enrolled_yearly" in table else None)))
    return tuple(streams)


def _milestones(table: Any) -> tuple[Milestone, ...]:
    if not isinstance(table, Mapping):
        raise ScenarioError("key 'years.milestones' must be a table of years, e.g. [years.milestones.2028]")
    result = []
    for year_text, values in table.items():
        key = f"years.milestones.{year_text}"
        if not str(year_text).isdigit():
            raise ScenarioError(f"key {key!r}: milestones are keyed by year, e.g. [years.milestones.2028]")
        _table(key, values, _MILESTONE_KEYS)
        shares = values.get("min_covered_share", {})
        _table(f"{key}.min_covered_share", shares, SERVICES)
        result.append(Milestone(
            year=int(year_text),
            gp_per_10k=(_number(f"{key}.gp_per_10k", values["gp_per_10k"], maximum=1000.0)
                        if "gp_per_10k" in values else None),
            min_covered_share={v: _number(f"{key}.min_covered_share.{v}", s, maximum=1.0) for v, s in shares.items()},
            hard=_bool(f"{key}.hard", values.get("hard", True))))
    return tuple(sorted(result, key=lambda m: m.year))


def _rates(key: str, table: Any) -> dict[str, float]:
    if not isinstance(table, Mapping):
        raise ScenarioError(f"key {key!r} must be a table of township code = yearly rate")
    return {str(code): _number(f"{key}.{code}", v, minimum=-1.0, maximum=1.0) for code, v in table.items()}


def _number(key: str, value: Any, *, minimum: float = 0.0, maximum: float | None = None) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(float(value)):
        raise ScenarioError(f"key {key!r} must be a finite number, got {value!r}")
    if value < minimum or (maximum is not None and value > maximum):
        upper = f" and at most {maximum:g}" if maximum is not None else ""
        raise ScenarioError(f"key {key!r} must be at least {minimum:g}{upper}, got {value!r}")
    return float(value)


def _money(key: str, value: Any) -> float:
    return _number(key, money_setting(key, value))


def _whole(key: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ScenarioError(f"key {key!r} must be a whole number >= 0, got {value!r}")
    return value


def _year(key: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1900 <= value <= 2200:
        raise ScenarioError(f"key {key!r} must be a year such as 2026, got {value!r}")
    return value


def _bool(key: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise ScenarioError(f"key {key!r} must be true or false, got {value!r}")
    return value


def _text(key: str, value: Any) -> str:
    if not isinstance(value, str) or not value:
        raise ScenarioError(f"key {key!r} must be a file name in quotes, got {value!r}")
    return value
