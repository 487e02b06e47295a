"""The allocation problem as plain arrays: demand, townships, sites, travel minutes, eligibility and coverage sets.

`Problem` holds no geodata. It is built once per (region, matrix, scenario) and carries the pre-processing that
keeps the MILP small at city scale:

- coverage sets: for each service v, the sparse (unit x site) matrix of pairs within the threshold T_v whose
  site provides v today or could be given it (a site that can never provide v covers nobody for v);
- merged demand: demand points of one township whose coverage sets are identical for every service form one
  *unit* whose population is their sum; `unit_of_demand` maps every original point to its unit, so results are
  reported per original point. Coverage and GP staffing are the same for every point of a unit under any plan,
  so the merge changes no optimum.

Township population is the sum of the township's demand points (as in `allocopt.access`), so township figures
add up to the region's.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence, Sized
from dataclasses import dataclass, replace
from typing import Any, Protocol

import numpy as np
import pandas as pd
from scipy import sparse

from allocopt.ems import EmsData, EmsInputs, EmsSettings, prepare_ems, region_ems_inputs
from allocopt.errors import DataError, ScenarioError
from allocopt.model.tier_data import TierData, TierInputs, hospital_sites, prepare_tiers
from allocopt.n_minus_1 import FailureSets
from allocopt.pathways import PathwayData, PathwayInputs, prepare_pathways, region_pathway_inputs
from allocopt.scenario import Eligibility, Scenario
from allocopt.services import (
    CENTERS,
    EQUIPMENT,
    GP_SHORTAGE,
    GRASSROOTS_LEVELS,
    HOSPITAL_KINDS,
    LEVELS,
    PRIMARY_CARE,
    SERVICES,
    center_column,
    first_contact,
    hospital_kinds,
)
from allocopt.travel import MatrixLike, aligned_minutes

PER_10K = 10_000.0
"""Residents per unit of GP density."""

SITE_KINDS = ("existing", "candidate")


class RegionLike(Protocol):
    """What the problem needs of a region: its demand, township and site tables (see docs/architecture.md)."""

    @property
    def demand(self) -> pd.DataFrame: ...

    @property
    def townships(self) -> pd.DataFrame: ...

    @property
    def sites(self) -> pd.DataFrame: ...


@dataclass(frozen=True, eq=False)
class Problem:
    """Sets and parameters of the allocation MILP; build it with `build_problem` or `Problem.from_arrays`.

    Demand arrays are per original demand point, `unit_*` arrays per merged unit, site arrays per site.
    `provides_now[v]` marks sites providing service v today; `can_provide[v]` those that do or could (given
    eligibility); `cover_sets[v]` is the boolean (unit x site) CSR matrix of pairs within T_v restricted to
    `can_provide[v]`. `gp_eligible`, `eq_eligible[k]` and `ctr_eligible[s]` mark where a decision variable may
    exist: GPs at eligible levels (and hospital kinds); equipment at eligible levels and kinds lacking it (a second
    unit costs and covers nobody more); centers at eligible levels and kinds not yet designated whose prerequisites
    are present or placeable; village doctors at eligible sites that are not yet first-contact points (provider
    "staffed"), the only thing they change. `gp_limit` and `vd_limit` are the most GPs and village doctors added
    per site (0 where none may be). `demand_cases[s]` are the expected yearly cases of condition s per demand point and
    `demand_weight[v]` and `unit_weight[v]` the people-equivalents of each point and unit for service v (its
    population, or with case weighting its expected cases over the region's cases per resident), which the
    coverage terms count. `ems` holds the ambulance sets (`allocopt.ems.EmsData`) when the scenario has `[ems]`;
    `ems_response_minutes` is, per demand point, the response time (dispatch plus drive, `allocopt.ems`) from the
    nearest station with ambulances today (inf where none reaches), None when the region has no 120 stations.
    """

    scenario: Scenario
    demand_ids: tuple[str, ...]
    demand_population: np.ndarray
    demand_township: np.ndarray
    township_ids: tuple[str, ...]
    township_names: tuple[str, ...]
    township_population: np.ndarray
    site_ids: tuple[str, ...]
    site_names: tuple[str, ...]
    site_kind: tuple[str, ...]
    site_level: tuple[str, ...]
    site_township: np.ndarray
    existing_gps: np.ndarray
    existing_village_doctors: np.ndarray
    site_beds: np.ndarray
    site_hospital_kind: tuple[str, ...]
    existing_equipment: Mapping[str, np.ndarray]
    existing_centers: Mapping[str, np.ndarray]
    open_cost_yuan: np.ndarray
    minutes: np.ndarray
    services: tuple[str, ...]
    provides_now: Mapping[str, np.ndarray]
    can_provide: Mapping[str, np.ndarray]
    gp_eligible: np.ndarray
    gp_limit: np.ndarray
    vd_eligible: np.ndarray
    vd_limit: np.ndarray
    eq_eligible: Mapping[str, np.ndarray]
    ctr_eligible: Mapping[str, np.ndarray]
    unit_ids: tuple[str, ...]
    unit_of_demand: np.ndarray
    unit_population: np.ndarray
    unit_township: np.ndarray
    cover_sets: Mapping[str, sparse.csr_array]
    demand_cases: Mapping[str, np.ndarray]
    demand_weight: Mapping[str, np.ndarray]
    unit_weight: Mapping[str, np.ndarray]
    tiers: TierData | None = None
    ems: EmsData | None = None
    ems_response_minutes: np.ndarray | None = None
    n_minus_1: FailureSets | None = None
    """The coverage sets under single road failures (`allocopt.failure_coverage`) when the scenario has
    `[n_minus_1]`."""
    pathways: PathwayData | None = None

    @property
    def is_candidate(self) -> np.ndarray:
        """Boolean per site: a candidate site (must be opened before it receives anything)."""
        return np.array([kind == "candidate" for kind in self.site_kind], dtype=bool)

    @property
    def total_population(self) -> float:
        """Residents of all demand points."""
        return float(self.demand_population.sum())

    def covered_now(self, service: str) -> np.ndarray:
        """Boolean per unit: some site providing `service` today is within its threshold."""
        providers = self.provides_now[service].astype(np.int64)
        return np.asarray(self.cover_sets[service] @ providers) > 0

    def default_travel_cutoff(self) -> float:
        """Largest finite time from any demand point to any site that has or may get primary care (0 if none).

        Column maxima over the finite entries first, so that no copy of the (demand x sites) matrix is made.
        """
        column_max = np.max(self.minutes, axis=0, initial=-np.inf, where=np.isfinite(self.minutes))
        largest = float(np.max(column_max[self.can_provide[PRIMARY_CARE]], initial=-np.inf))
        return largest if math.isfinite(largest) else 0.0

    def township_gps_now(self) -> np.ndarray:
        """GPs on the staff of existing sites, summed per township (sites outside every township excluded)."""
        inside = self.site_township >= 0
        return np.bincount(self.site_township[inside], weights=self.existing_gps[inside].astype(float),
                           minlength=len(self.township_ids))

    def with_population(self, population: np.ndarray, population_65plus: np.ndarray | None) -> Problem:
        """The problem for other residents per point (a year of a multi-year plan): populations, cases, weights and
        ambulance groups follow; units stay merged (coverage does not depend on population). Not with `[tiers]`."""
        older = _optional_float_array(population_65plus, "demand_population_65plus", len(self.demand_ids))
        population = _float_array(population, "demand_population", len(self.demand_ids))
        cases, units = expected_cases(self.scenario, population, older), len(self.unit_ids)
        weight = _people_equivalents(self.scenario, population, cases)
        return replace(
            self, demand_population=population, demand_cases=cases, demand_weight=weight,
            ems=None if self.ems is None else prepare_ems(self.ems.settings, self.ems.inputs, population),
            township_population=np.bincount(self.demand_township, weights=population, minlength=len(self.township_ids)),
            unit_population=np.bincount(self.unit_of_demand, weights=population, minlength=units),
            unit_weight={v: np.bincount(self.unit_of_demand, weights=weight[v], minlength=units)
                         for v in self.services})

    @classmethod
    def from_arrays(
        cls,
        *,
        scenario: Scenario,
        demand_ids: Sequence[str],
        demand_population: Sequence[float] | np.ndarray,
        demand_township: Sequence[str],
        township_ids: Sequence[str],
        site_ids: Sequence[str],
        site_kind: Sequence[str],
        site_level: Sequence[str],
        minutes: np.ndarray,
        township_names: Sequence[str] | None = None,
        site_names: Sequence[str] | None = None,
        site_township: Sequence[str | None] | None = None,
        existing_gps: Sequence[int] | np.ndarray | None = None,
        existing_equipment: Mapping[str, Sequence[int] | np.ndarray] | None = None,
        existing_centers: Mapping[str, Sequence[bool] | np.ndarray] | None = None,
        open_cost_yuan: Sequence[float] | np.ndarray | None = None,
        merge_demand: bool = True,
        tier_inputs: TierInputs | None = None,
        existing_village_doctors: Sequence[int] | np.ndarray | None = None,
        site_hospital_kind: Sequence[str] | None = None,
        demand_population_65plus: Sequence[float] | np.ndarray | None = None,
        site_beds: Sequence[int] | np.ndarray | None = None,
        ems_inputs: EmsInputs | None = None,
        pathway_inputs: PathwayInputs | None = None,
    ) -> Problem:
        """Build a problem from plain sequences (tests and non-geographic callers).

        `minutes` is (demand x sites) with `inf` for unreachable pairs; omitted site attributes default to none
        (no GPs, equipment or designations, zero opening cost, no township; names equal to IDs).
        `site_township` entries that are None or "" mark sites outside every township. With
        `merge_demand=False` every demand point is its own unit. With a scenario holding `[tiers]`,
        `tier_inputs` gives beds, consortium leads, 65+ counts and site-to-hospital minutes (`tiers.TierInputs`).
        `site_hospital_kind` entries are hospital kinds ("" or omitted: general at hospital levels);
        `demand_population_65plus` entries may be NaN (unknown: the scenario's `share_65plus_when_unknown`).
        `ems_inputs` are the region's 120 stations and their drive minutes to the demand points (needed by a
        scenario with `[ems]`). Raises DataError naming the offending array and entry.
        """
        n_sites = len(site_ids)
        demand_ids_t = _id_tuple(demand_ids, "demand_ids")
        site_ids_t = _id_tuple(site_ids, "site_ids")
        township_ids_t = _id_tuple(township_ids, "township_ids")
        population = _float_array(demand_population, "demand_population", len(demand_ids_t))
        township_index = {code: t for t, code in enumerate(township_ids_t)}
        demand_town = _township_positions(demand_township, township_index, "demand_township",
                                          len(demand_ids_t), allow_missing=False)
        site_town = (np.full(n_sites, -1, dtype=np.int64) if site_township is None else
                     _township_positions(site_township, township_index, "site_township", n_sites,
                                         allow_missing=True))
        kinds = tuple(str(k) for k in site_kind)
        levels = tuple(str(v) for v in site_level)
        _check_length(kinds, "site_kind", n_sites)
        _check_length(levels, "site_level", n_sites)
        for name, values, allowed in (("site_kind", kinds, SITE_KINDS),
                                      ("site_level", levels, LEVELS)):
            bad = [v for v in values if v not in allowed]
            if bad:
                raise DataError(f"{name}: unknown value(s) {_few(bad)}; use one of {', '.join(allowed)}")
        names = tuple(str(n) for n in site_names) if site_names is not None else site_ids_t
        _check_length(names, "site_names", n_sites)
        town_names = tuple(str(n) for n in township_names) if township_names is not None else township_ids_t
        _check_length(town_names, "township_names", len(township_ids_t))
        matrix = np.asarray(minutes, dtype=float)
        if matrix.shape != (len(demand_ids_t), n_sites):
            raise DataError(f"minutes: shape {matrix.shape}, expected ({len(demand_ids_t)}, {n_sites}) "
                            "(demand points x sites)")
        if np.isnan(matrix).any() or (matrix < 0).any():
            raise DataError("minutes: NaN or negative travel times; use numpy.inf for unreachable pairs")
        is_candidate = np.array([k == "candidate" for k in kinds], dtype=bool)
        gps = _count_array(existing_gps, "existing_gps", n_sites)
        doctors = _count_array(existing_village_doctors, "existing_village_doctors", n_sites)
        beds = _count_array(site_beds, "site_beds", n_sites)
        kinds_given = tuple(str(k) for k in site_hospital_kind) if site_hospital_kind is not None else ("",) * n_sites
        _check_length(kinds_given, "site_hospital_kind", n_sites)
        unknown_kinds = [k for k in kinds_given if k not in ("", *HOSPITAL_KINDS)]
        if unknown_kinds:
            raise DataError(f"site_hospital_kind: unknown value(s) {_few(unknown_kinds)}; use one of "
                            f"{', '.join(HOSPITAL_KINDS)}")
        hospital_kind = tuple(str(k) for k in hospital_kinds(levels, kinds_given)) if n_sites else ()
        equipment = {k: _count_array((existing_equipment or {}).get(k), f"existing_equipment[{k}]", n_sites)
                     for k in EQUIPMENT}
        centers = {s: _bool_array((existing_centers or {}).get(s), f"existing_centers[{s}]", n_sites)
                   for s in CENTERS}
        for label, held in (("existing_gps", gps), ("existing_village_doctors", doctors), ("site_beds", beds),
                            *((f"existing_equipment[{k}]", v) for k, v in equipment.items()),
                            *((f"existing_centers[{s}]", v) for s, v in centers.items())):
            if (np.asarray(held)[is_candidate] != 0).any():
                raise DataError(f"{label}: candidate sites hold nothing before they open; set 0 for candidates")
        open_cost = _float_array(open_cost_yuan if open_cost_yuan is not None else np.zeros(n_sites),
                                 "open_cost_yuan", n_sites)
        services = _services(scenario)
        eligibility = _eligibility(scenario, levels, hospital_kind, equipment, centers)
        provides_now, can_provide = _provision(scenario, levels, is_candidate, first_contact(
            levels, gps, doctors, scenario.primary_care_provider), equipment, centers, eligibility)
        # A village doctor changes nothing the model counts but first contact: only where a site lacks it.
        doctors_useful = (eligibility["village_doctor"] & ~provides_now[PRIMARY_CARE]
                          & (scenario.primary_care_provider == "staffed"))
        site_cover = {v: sparse.csr_array((matrix <= scenario.thresholds_minutes[v]) & can_provide[v][None, :])
                      for v in services}
        unit_of_demand = (_merge_units(demand_town, site_cover, services) if merge_demand
                          else np.arange(len(demand_ids_t)))
        # Units are numbered in order of first appearance; each is named after its first demand point.
        representative = np.unique(unit_of_demand, return_index=True)[1]
        n_units = len(representative)
        older = _optional_float_array(demand_population_65plus, "demand_population_65plus", len(demand_ids_t))
        if older is not None and (older > population).any():
            row = int(np.flatnonzero(older > population)[0])
            raise DataError(f"demand_population_65plus: entry {row} ({demand_ids_t[row]}) is above the point's "
                            "population; the age bands must add up to the population")
        cases = expected_cases(scenario, population, older)
        weight = _people_equivalents(scenario, population, cases)
        problem = cls(
            scenario=scenario,
            demand_ids=demand_ids_t,
            demand_population=population,
            demand_township=demand_town,
            township_ids=township_ids_t,
            township_names=town_names,
            township_population=np.bincount(demand_town, weights=population, minlength=len(township_ids_t)),
            site_ids=site_ids_t,
            site_names=names,
            site_kind=kinds,
            site_level=levels,
            site_township=site_town,
            existing_gps=gps,
            existing_village_doctors=doctors,
            site_beds=beds,
            site_hospital_kind=hospital_kind,
            existing_equipment=equipment,
            existing_centers=centers,
            open_cost_yuan=open_cost,
            minutes=matrix,
            services=services,
            provides_now=provides_now,
            can_provide=can_provide,
            gp_eligible=eligibility["gp"],
            gp_limit=_limits(scenario.gp_eligibility, levels, eligibility["gp"]),
            vd_eligible=doctors_useful,
            vd_limit=_limits(scenario.village_doctor_eligibility, levels, doctors_useful),
            eq_eligible={k: eligibility[k] for k in EQUIPMENT},
            ctr_eligible={s: eligibility[s] for s in CENTERS},
            unit_ids=tuple(demand_ids_t[r] for r in representative),
            unit_of_demand=unit_of_demand,
            unit_population=np.bincount(unit_of_demand, weights=population, minlength=n_units),
            unit_township=demand_town[representative],
            cover_sets={v: sparse.csr_array(site_cover[v][representative]) for v in services},
            demand_cases=cases,
            demand_weight=weight,
            unit_weight={v: np.bincount(unit_of_demand, weights=weight[v], minlength=n_units) for v in services},
        )
        if ems_inputs is not None:
            if ems_inputs.drive_minutes.shape[0] != len(demand_ids_t):
                raise DataError(f"{ems_inputs.source}: drive minutes for {ems_inputs.drive_minutes.shape[0]} demand "
                                f"points, expected {len(demand_ids_t)}")
            settings = scenario.ems or EmsSettings()
            problem = replace(problem, ems_response_minutes=ems_inputs.nearest_staffed_minutes(
                settings, ems_inputs.ambulances))
        if scenario.ems is not None:
            problem = replace(problem, ems=prepare_ems(scenario.ems, ems_inputs, population))
        if scenario.tiers is not None:
            problem = replace(problem, tiers=prepare_tiers(problem, tier_inputs))
        if scenario.pathways is not None:
            problem = replace(problem, pathways=prepare_pathways(problem, pathway_inputs))
        return problem


def build_problem(region: RegionLike, matrix: MatrixLike, scenario: Scenario, *,
                  merge_demand: bool = True, site_matrix: MatrixLike | None = None,
                  ems_matrix: MatrixLike | None = None, transfer_matrix: MatrixLike | None = None) -> Problem:
    """The allocation problem of a region: its demand, townships and sites, aligned to the travel matrix by ID.

    A scenario with `[tiers]` also needs `site_matrix`, the site x hospital minutes (rows: every site; columns:
    the existing county and tertiary hospitals; see `consortium.site_hospital_matrix`). A region with 120
    stations (`ems_stations`) gives `ems_matrix`, the station x demand drive minutes (a scenario with `[ems]`
    needs them). A scenario with `[pathways]` needs `transfer_matrix`, site x site minutes
    (`allocopt.pathways.transfer_matrix`). Raises DataError when a table lacks a column, an ID is missing from a
    matrix, or a township code is unknown.
    """
    demand, townships, sites = region.demand, region.townships, region.sites
    _require(demand, ("id", "township_code", "population"), "demand")
    _require(townships, ("code",), "townships")
    site_columns = ("id", "name", "kind", "level", "gps", "open_cost_yuan", "township_code",
                    *EQUIPMENT, *(center_column(s) for s in CENTERS))
    _require(sites, site_columns, "sites")
    demand_ids = [str(i) for i in demand["id"]]
    site_ids = [str(i) for i in sites["id"]]
    minutes = aligned_minutes(matrix, demand_ids, site_ids)
    codes = sites["township_code"].astype(object).where(sites["township_code"].notna(), None)
    return Problem.from_arrays(
        scenario=scenario,
        demand_ids=demand_ids,
        demand_population=demand["population"].to_numpy(dtype=float),
        demand_township=[str(c) for c in demand["township_code"]],
        township_ids=[str(c) for c in townships["code"]],
        township_names=([str(n) for n in townships["name"]] if "name" in townships.columns else None),
        site_ids=site_ids,
        site_kind=list(sites["kind"]),
        site_level=list(sites["level"]),
        minutes=minutes,
        site_names=[str(n) for n in sites["name"]],
        site_township=[None if c is None else str(c) for c in codes],
        existing_gps=sites["gps"].to_numpy(dtype=np.int64),
        existing_equipment={k: sites[k].to_numpy(dtype=np.int64) for k in EQUIPMENT},
        existing_centers={s: sites[center_column(s)].to_numpy(dtype=bool) for s in CENTERS},
        open_cost_yuan=sites["open_cost_yuan"].to_numpy(dtype=float),
        existing_village_doctors=(sites["village_doctors"].to_numpy(dtype=np.int64)
                                  if "village_doctors" in sites.columns else None),
        site_hospital_kind=([str(k) for k in sites["hospital_kind"]] if "hospital_kind" in sites.columns else None),
        demand_population_65plus=(demand["population_65plus"].to_numpy(dtype=float)
                                  if "population_65plus" in demand.columns else None),
        site_beds=sites["beds"].to_numpy(dtype=np.int64) if "beds" in sites.columns else None,
        merge_demand=merge_demand,
        tier_inputs=_tier_inputs(region, site_matrix) if scenario.tiers is not None else None,
        ems_inputs=region_ems_inputs(region, ems_matrix, demand_ids, needed=scenario.ems is not None),
        pathway_inputs=region_pathway_inputs(sites, transfer_matrix) if scenario.pathways is not None else None,
    )


def _tier_inputs(region: RegionLike, site_matrix: MatrixLike | None) -> TierInputs:
    """Beds, consortium leads, 65+ counts and site x hospital minutes of a region, aligned by ID."""
    sites, demand = region.sites, region.demand
    _require(sites, ("beds", "consortium_lead"), "sites")
    if site_matrix is None:
        raise DataError("the scenario's [tiers] table needs site-to-hospital travel times; compute them with "
                        "consortium.site_hospital_matrix and pass site_matrix")
    site_ids = [str(i) for i in sites["id"]]
    hospitals = hospital_sites(list(sites["level"]), list(sites["kind"]))
    leads = sites["consortium_lead"].astype(object).where(sites["consortium_lead"].notna(), "")
    old = (demand["population_65plus"].to_numpy(dtype=float) if "population_65plus" in demand.columns
           else np.full(len(demand), np.nan))
    return TierInputs(
        referral_minutes=aligned_minutes(site_matrix, site_ids, [site_ids[h] for h in hospitals],
                                  layers=("site", "hospital")),
        site_beds=sites["beds"].to_numpy(dtype=float),
        consortium_lead=tuple(str(v) for v in leads),
        demand_population_65plus=old,
    )


def _services(scenario: Scenario) -> tuple[str, ...]:
    """Every service, checked to have a threshold and a weight (and GP shortage a weight); ScenarioError if not."""
    needed = [("thresholds_minutes", scenario.thresholds_minutes, v) for v in SERVICES]
    needed += [("weights", scenario.weights, v) for v in (*SERVICES, GP_SHORTAGE)]
    for key, table, name in needed:
        if name not in table:
            raise ScenarioError(f"{scenario.source}: key '{key}.{name}' is missing; give a value")
    return SERVICES


def _eligibility(scenario: Scenario, levels: tuple[str, ...], kinds: tuple[str, ...],
                 equipment: Mapping[str, np.ndarray], centers: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Per decision family, the sites where a variable may exist (see `Problem`)."""
    level = np.asarray(levels, dtype=object)
    kind = np.asarray(kinds, dtype=object)

    def allowed_at(rule: Eligibility) -> np.ndarray:
        if not len(level):
            return np.zeros(0, dtype=bool)
        at_level = np.isin(level, np.asarray(rule.levels, dtype=object))
        kind_ok = (kind == "") | np.isin(kind, np.asarray(rule.kinds, dtype=object))
        limits = np.array([rule.limit(str(v)) for v in level], dtype=np.int64)
        return at_level & kind_ok & (limits >= 1)

    def with_requirements(allowed: np.ndarray, requires: tuple[str, ...]) -> np.ndarray:
        for k in requires:
            allowed = allowed & ((equipment[k] >= 1) | result[k])
        return allowed

    result: dict[str, np.ndarray] = {}
    for k in EQUIPMENT:
        result[k] = allowed_at(scenario.equipment_eligibility[k]) & (equipment[k] == 0)
    for k in EQUIPMENT:
        result[k] = with_requirements(result[k], scenario.equipment_eligibility[k].requires)
    for name, rules in (("gp", scenario.gp_eligibility), ("village_doctor", scenario.village_doctor_eligibility)):
        result[name] = with_requirements(allowed_at(rules), rules.requires)
    for s in CENTERS:
        rule = scenario.center_eligibility[s]
        result[s] = with_requirements(allowed_at(rule) & ~centers[s], rule.requires)
    return result


def _limits(rule: Eligibility, levels: tuple[str, ...], eligible: np.ndarray) -> np.ndarray:
    """Most units of a resource added per site: the rule's limit at the site's level, 0 where not eligible."""
    return np.array([rule.limit(level) if ok else 0 for level, ok in zip(levels, eligible, strict=True)],
                    dtype=np.int64)


def _provision(scenario: Scenario, levels: tuple[str, ...], is_candidate: np.ndarray, contact: np.ndarray,
               equipment: Mapping[str, np.ndarray], centers: Mapping[str, np.ndarray],
               eligibility: Mapping[str, np.ndarray]) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Which sites provide each service today, and which do or could after some plan.

    Primary care: a first-contact point (`contact`, per the scenario's provider definition; a candidate health
    center is one once open); it could become one where GPs, or (provider "staffed") village doctors, may be
    added."""
    grassroots = np.isin(np.asarray(levels, dtype=object), np.asarray(GRASSROOTS_LEVELS, dtype=object))
    existing = ~is_candidate
    now = {PRIMARY_CARE: existing & contact}
    addable = eligibility["gp"] | (eligibility["village_doctor"] if scenario.primary_care_provider == "staffed"
                                   else False)
    can = {PRIMARY_CARE: contact | (grassroots & addable)}
    for k in EQUIPMENT:
        now[k] = existing & (equipment[k] >= 1)
        can[k] = now[k] | eligibility[k]
    for s in CENTERS:
        now[s] = existing & centers[s]
        can[s] = now[s] | eligibility[s]
    return now, can


def expected_cases(scenario: Scenario, population: np.ndarray, population_65plus: np.ndarray | None
                   ) -> dict[str, np.ndarray]:
    """Expected yearly cases of each condition with an incidence (`cases.incidence`) per demand point.

    cases_s,i = (P_i - O_i) r_s,under_65 + O_i r_s,65_plus, with O_i the residents aged 65+ (where unknown,
    `share_65plus_when_unknown` of P_i)."""
    settings = scenario.cases
    older = (np.full(len(population), np.nan) if population_65plus is None else population_65plus)
    older = np.where(np.isnan(older), settings.share_65plus_when_unknown * population, older)
    return {s: (population - older) * rates["under_65"] + older * rates["65_plus"]
            for s, rates in settings.incidence.items()}


def _people_equivalents(scenario: Scenario, population: np.ndarray, cases: Mapping[str, np.ndarray]
                        ) -> dict[str, np.ndarray]:
    """Weight of each demand point per service: its residents, or (case weighting, conditions with cases) its
    expected cases divided by the region's cases per resident, which keeps the region's total at its population."""
    weights = {v: population for v in SERVICES}
    total = float(population.sum())
    if not scenario.cases.weighting or total <= 0:
        return weights
    for s, per_point in cases.items():
        region_cases = float(per_point.sum())
        if s in weights and region_cases > 0:
            weights[s] = per_point * (total / region_cases)
    return weights


def _merge_units(township: np.ndarray, cover: Mapping[str, sparse.csr_array],
                 services: tuple[str, ...]) -> np.ndarray:
    """Unit index of each demand point: points of one township with identical coverage sets share a unit."""
    stacked = sparse.csr_array(sparse.hstack([cover[v] for v in services], format="csr"))
    stacked.sort_indices()
    indptr, indices = stacked.indptr, stacked.indices.astype(np.int64)
    keys: dict[tuple[int, bytes], int] = {}
    units = np.empty(len(township), dtype=np.int64)
    for row in range(len(township)):
        key = (int(township[row]), indices[indptr[row]:indptr[row + 1]].tobytes())
        units[row] = keys.setdefault(key, len(keys))
    return units


def _require(table: pd.DataFrame, columns: tuple[str, ...], layer: str) -> None:
    missing = [c for c in columns if c not in table.columns]
    if missing:
        raise DataError(f"{layer}: missing column(s) {', '.join(missing)}; load the region with regions.load_region")


def _id_tuple(ids: Sequence[Any], name: str) -> tuple[str, ...]:
    values = tuple(str(i) for i in ids)
    seen: set[str] = set()
    duplicated = [v for v in values if v in seen or seen.add(v)]  # type: ignore[func-returns-value]
    if duplicated:
        raise DataError(f"{name}: duplicate id(s) {_few(duplicated)}; give every row its own id")
    return values


def _check_length(values: Sized, name: str, expected: int) -> None:
    if len(values) != expected:
        raise DataError(f"{name}: {len(values)} entries, expected {expected}")


def _float_array(values: Sequence[float] | np.ndarray, name: str, expected: int) -> np.ndarray:
    array = np.asarray(values, dtype=float).reshape(-1)
    _check_length(array, name, expected)
    bad = ~np.isfinite(array) | (array < 0)
    if bad.any():
        raise DataError(f"{name}: entry {int(np.flatnonzero(bad)[0])} is {array[bad][0]!r}; "
                        "give a finite number >= 0")
    return array


def _count_array(values: Sequence[int] | np.ndarray | None, name: str, expected: int) -> np.ndarray:
    if values is None:
        return np.zeros(expected, dtype=np.int64)
    array = _float_array(values, name, expected)
    if (array != np.round(array)).any():
        raise DataError(f"{name}: counts must be whole numbers")
    return array.astype(np.int64)


def _optional_float_array(values: Sequence[float] | np.ndarray | None, name: str, expected: int
                          ) -> np.ndarray | None:
    """A float array that may hold NaN (unknown) but no negative or infinite entries; None stays None."""
    if values is None:
        return None
    array = np.asarray(values, dtype=float).reshape(-1)
    _check_length(array, name, expected)
    bad = np.isinf(array) | (array < 0)
    if bad.any():
        raise DataError(f"{name}: entry {int(np.flatnonzero(bad)[0])} is {array[bad][0]!r}; "
                        "give a finite number >= 0 or NaN (unknown)")
    return array


def _bool_array(values: Sequence[bool] | np.ndarray | None, name: str, expected: int) -> np.ndarray:
    if values is None:
        return np.zeros(expected, dtype=bool)
    array = np.asarray(values).reshape(-1).astype(bool)
    _check_length(array, name, expected)
    return array


def _township_positions(codes: Sequence[str | None], index: Mapping[str, int], name: str, expected: int, *,
                        allow_missing: bool) -> np.ndarray:
    _check_length(codes, name, expected)
    positions = np.empty(expected, dtype=np.int64)
    unknown = []
    for row, code in enumerate(codes):
        if allow_missing and (code is None or code == ""):
            positions[row] = -1
        elif code in index:
            positions[row] = index[str(code)]
        else:
            unknown.append(code)
    if unknown:
        raise DataError(f"{name}: township code(s) {_few(unknown)} not among the township ids; "
                        "fix the code or add the township")
    return positions


def _few(values: Sequence[Any] | np.ndarray | pd.Index, limit: int = 5) -> str:
    items = [str(v) for v in list(values)]
    shown = ", ".join(items[:limit])
    return shown if len(items) <= limit else f"{shown} (and {len(items) - limit} more)"
