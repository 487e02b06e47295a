"""Budgeted, capacitated coverage on a cost matrix: buy whole units of resources at sites to cover the most demand.

Sets: demand units i (weight w_i), sites j, resource kinds k (each with a unit cost c_k, the units r_k a site
needs to provide the service, at most m_k units added per site and, optionally, p_k demand weight each unit can
serve). A site has e_jk units today.

Decisions: x_jk in {0..m_k} units added; y_j in {0, 1}, site j provides the service.

- provide: r_k y_j <= e_jk + x_jk for every kind k (e.g. at least one ICU bed and one ventilator);
- budget: sum_jk c_k x_jk <= B.

Without capacities (no kind has p_k) a demand unit is covered when some provider lies within the threshold:
z_i <= sum_{j: cost_ij <= T} y_j, maximize sum_i w_i z_i (the maximal covering model with a budget).
With capacities, covered demand must be assigned to providers within the threshold and fit their units:
a_ij in [0, 1] for cost_ij <= T only, sum_j a_ij <= 1, a_ij <= y_j, and for every kind k with p_k,
sum_i w_i a_ij <= p_k (e_jk + x_jk); maximize sum_ij w_i a_ij. Demand may be split over several providers.

Demand units with the same set of sites within the threshold are merged (weights added), which is exact in both
forms. Money that covers nobody is not spent: the objective subtracts cost x TIEBREAK_SHARE x total weight /
spendable budget, so a plan covering the most demand is preferred to a dearer one covering as much, at the price
of at most TIEBREAK_SHARE of the total weight in coverage (far below any solver's optimality gap).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import numpy as np
import pulp

from allocopt.costs import CostMatrix, weights_array
from allocopt.errors import DataError, ScenarioError, SolverError
from allocopt.money import parse_money
from allocopt.solve import DEFAULT_SOLVER, SolveOutcome, solve

_SPEC_KEYS = ("required", "max", "per_unit")
"""Options of a `ResourceKind.from_spec` string after NAME=UNIT_COST."""

TIEBREAK_SHARE = 1e-6
"""Spending the whole spendable budget weighs this share of the total demand weight in the objective."""


@dataclass(frozen=True)
class ResourceKind:
    """A resource sites can receive in whole units.

    `unit_cost` is in the budget's currency; `required` units make a site a provider; `max_added_per_site`
    bounds the units added at one site; `demand_per_unit` (demand weight one unit can serve, e.g. residents
    per ICU bed) switches the capacity condition on for this kind, None leaves it off.
    """

    name: str
    unit_cost: float
    required: int = 1
    max_added_per_site: int = 0
    demand_per_unit: float | None = None

    @classmethod
    def from_spec(cls, spec: str) -> ResourceKind:
        """Parse `NAME=UNIT_COST[,required=N][,max=N][,per_unit=W]` (the CLI's --kind); ScenarioError naming
        the spec and the part that is wrong. `max` defaults to 1 unit added per site."""
        head, *options = [part.strip() for part in spec.split(",")]
        name, _, cost = head.partition("=")
        if not name.strip() or not cost.strip():
            raise ScenarioError(f"--kind {spec!r}: start with NAME=UNIT_COST, e.g. icu_beds=50000,max=20")
        if any(option.isdigit() and len(option) == 3 for option in options):
            raise ScenarioError(f"--kind {spec!r}: commas separate the options here, not thousands; write the unit "
                                "cost as 60000 or 6e4 (or 60k, 6万)")
        fields: dict[str, str] = {}
        for option in options:
            key, _, value = option.partition("=")
            if key.strip() not in _SPEC_KEYS or not value.strip() or key.strip() in fields:
                raise ScenarioError(f"--kind {spec!r}: {option!r} is not one of required=N, max=N, per_unit=W "
                                    "(each at most once)")
            fields[key.strip()] = value.strip()
        try:
            unit_cost = parse_money(cost)
        except ScenarioError as exc:
            raise ScenarioError(f"--kind {spec!r}: the unit cost {exc}") from exc
        try:
            kind = cls(name=name.strip(), unit_cost=unit_cost, required=int(fields.get("required", "1")),
                       max_added_per_site=int(fields.get("max", "1")),
                       demand_per_unit=float(fields["per_unit"]) if "per_unit" in fields else None)
        except ValueError as exc:
            raise ScenarioError(f"--kind {spec!r}: {exc}; per_unit is a number, required and max whole numbers") \
                from exc
        _check_kind(kind)
        return kind


@dataclass(frozen=True)
class CoveragePlan:
    """The plan `capacity_coverage` chose, keyed by site, kind and demand IDs.

    `additions` lists units added (site -> kind -> units, sites and kinds with none left out); `units` holds the
    units of every site and kind after the plan. `covered_share` gives each demand unit's covered share of its
    weight (0 or 1 without capacities; a fraction when capacity splits it). `site_load` is the demand weight
    assigned to each provider (capacitated form only, else empty). Without a plan (status "not_solved") the
    figures are None and the mappings empty.
    """

    status: str
    capacitated: bool
    threshold: float
    budget: float
    total_weight: float
    covered_weight: float | None
    cost: float | None
    additions: Mapping[str, Mapping[str, int]]
    units: Mapping[str, Mapping[str, int]]
    providers: tuple[str, ...]
    covered_share: Mapping[str, float]
    site_load: Mapping[str, float] = field(default_factory=lambda: MappingProxyType({}))
    gap: float | None = None
    solver: str = ""
    solver_version: str = ""
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready dictionary."""
        return {
            "status": self.status,
            "capacitated": self.capacitated,
            "threshold": self.threshold,
            "budget": self.budget,
            "total_weight": self.total_weight,
            "covered_weight": self.covered_weight,
            "cost": self.cost,
            "additions": {site: dict(kinds) for site, kinds in self.additions.items()},
            "units": {site: dict(kinds) for site, kinds in self.units.items()},
            "providers": list(self.providers),
            "covered_share": dict(self.covered_share),
            "site_load": dict(self.site_load),
            "gap": self.gap,
            "solver": self.solver,
            "solver_version": self.solver_version,
            "seconds": self.seconds,
        }


def capacity_coverage(
    costs: CostMatrix,
    *,
    threshold: float,
    kinds: Sequence[ResourceKind],
    budget: float,
    existing: Mapping[str, Mapping[str, int]] | None = None,
    weights: Mapping[str, float] | None = None,
    solver: str = DEFAULT_SOLVER,
    time_limit_s: float | None = None,
    mip_gap: float | None = None,
) -> CoveragePlan:
    """A plan covering the most demand weight within `threshold` (cost units) under `budget`, wasting nothing.

    `existing` maps site id -> kind name -> units today (sites or kinds left out have none). With budget 0 the
    plan measures today's coverage. See the module docstring for the model. Raises ScenarioError for bad kinds,
    threshold or budget, DataError for existing units naming unknown sites or kinds, or negative counts.
    """
    _check_settings(threshold=threshold, budget=budget, kinds=kinds)
    w = weights_array(costs.demand_ids, weights)
    have = _existing_array(costs, kinds, existing or {})
    capacitated = any(kind.demand_per_unit is not None for kind in kinds)
    n_sites = len(costs.site_ids)
    required = np.array([kind.required for kind in kinds], dtype=np.float64)
    headroom = np.array([kind.max_added_per_site for kind in kinds], dtype=np.float64)
    eligible = np.asarray(((have + headroom) >= required).all(axis=1), dtype=bool)

    model = pulp.LpProblem("capacity_coverage", pulp.LpMaximize)
    y = {j: model.add_variable(f"provide_{j}", cat=pulp.LpBinary) for j in np.flatnonzero(eligible).tolist()}
    x: dict[tuple[int, int], pulp.LpVariable] = {}
    for j in y:
        for k, kind in enumerate(kinds):
            if kind.max_added_per_site > 0:
                x[j, k] = model.add_variable(f"add_{j}_{k}", 0, kind.max_added_per_site, pulp.LpInteger)
    for j, var in y.items():
        for k, kind in enumerate(kinds):
            if kind.required > 0:
                _add(model, [(var, float(kind.required)), *_terms(x.get((j, k)), -1.0)], pulp.LpConstraintLE,
                     float(have[j, k]), f"provide_{j}_{k}")
    cost_terms = [(var, float(kinds[k].unit_cost)) for (_j, k), var in x.items() if kinds[k].unit_cost != 0]
    _add(model, cost_terms, pulp.LpConstraintLE, float(budget), "budget")

    groups = [(sites, members) for sites, members in _coverage_groups(costs.costs <= threshold, eligible)
              if w[members].sum() > 0]
    covered_terms: list[tuple[pulp.LpVariable, float]] = []
    assign: dict[tuple[int, int], pulp.LpVariable] = {}
    cover: dict[int, pulp.LpVariable] = {}
    if capacitated:
        loads: list[list[tuple[pulp.LpVariable, float]]] = [[] for _ in range(n_sites)]
        for g, (sites, members) in enumerate(groups):
            weight = float(w[members].sum())
            for j in sites:
                assign[g, j] = model.add_variable(f"assign_{g}_{j}", 0, 1)
                covered_terms.append((assign[g, j], weight))
                loads[j].append((assign[g, j], weight))
                _add(model, [(assign[g, j], 1.0), (y[j], -1.0)], pulp.LpConstraintLE, 0.0, f"link_{g}_{j}")
            _add(model, [(assign[g, j], 1.0) for j in sites], pulp.LpConstraintLE, 1.0, f"share_{g}")
        for j in y:
            for k, kind in enumerate(kinds):
                if kind.demand_per_unit is not None and loads[j]:
                    per_unit = float(kind.demand_per_unit)
                    _add(model, [*loads[j], *_terms(x.get((j, k)), -per_unit)], pulp.LpConstraintLE,
                         per_unit * float(have[j, k]), f"capacity_{j}_{k}")
    else:
        for g, (sites, members) in enumerate(groups):
            cover[g] = model.add_variable(f"cover_{g}", 0, 1)
            covered_terms.append((cover[g], float(w[members].sum())))
            _add(model, [(cover[g], 1.0), *((y[j], -1.0) for j in sites)], pulp.LpConstraintLE, 0.0, f"reach_{g}")
    spendable = min(float(budget), sum(coefficient * float(var.upBound) for var, coefficient in cost_terms))
    penalty = TIEBREAK_SHARE * float(w.sum()) / spendable if spendable > 0 else 0.0
    model.setObjective(pulp.LpAffineExpression(
        [*covered_terms, *((var, -penalty * coefficient) for var, coefficient in cost_terms)]
    ))

    outcome = _run(model, solver=solver, time_limit_s=time_limit_s, mip_gap=mip_gap)
    if not outcome.has_plan:
        return _no_plan(outcome, capacitated=capacitated, threshold=threshold, budget=budget, total=float(w.sum()))
    added = np.zeros_like(have)
    for (j, k), var in x.items():
        added[j, k] = round(var.varValue or 0.0)
    providing = ((have + added) >= required).all(axis=1)
    share = np.zeros(len(costs.demand_ids))
    load = np.zeros(n_sites)
    for g, (sites, members) in enumerate(groups):
        if capacitated:
            values = [min(max(assign[g, j].varValue or 0.0, 0.0), 1.0) for j in sites]
            share[members] = min(sum(values), 1.0)
            for j, value in zip(sites, values, strict=True):
                load[j] += value * float(w[members].sum())
        else:
            share[members] = float(providing[list(sites)].any())
    return _plan(
        costs, kinds, outcome, capacitated=capacitated, threshold=threshold, budget=budget, weights=w,
        have=have, added=added, providing=providing, share=share, load=load,
    )


def _check_settings(*, threshold: float, budget: float, kinds: Sequence[ResourceKind]) -> None:
    """ScenarioError naming the first setting out of range."""
    if not (isinstance(threshold, int | float) and math.isfinite(threshold) and threshold >= 0):
        raise ScenarioError(f"threshold must be a finite number >= 0 in the units of the costs, got {threshold!r}")
    if not (isinstance(budget, int | float) and math.isfinite(budget) and budget >= 0):
        raise ScenarioError(f"budget must be a finite number >= 0, got {budget!r}")
    if not kinds:
        raise ScenarioError("give at least one resource kind")
    names = [kind.name for kind in kinds]
    if len(set(names)) != len(names):
        raise ScenarioError(f"resource kind names must be unique, got {', '.join(names)}")
    for kind in kinds:
        _check_kind(kind)


def _check_kind(kind: ResourceKind) -> None:
    """ScenarioError naming the kind and its first setting out of range."""
    where = f"resource kind {kind.name!r}"
    if not (math.isfinite(kind.unit_cost) and kind.unit_cost >= 0):
        raise ScenarioError(f"{where}: unit_cost must be a finite number >= 0, got {kind.unit_cost!r}")
    for label, value in (("required", kind.required), ("max_added_per_site", kind.max_added_per_site)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ScenarioError(f"{where}: {label} must be a whole number >= 0, got {value!r}")
    per_unit = kind.demand_per_unit
    if per_unit is not None and not (math.isfinite(per_unit) and per_unit > 0):
        raise ScenarioError(f"{where}: demand_per_unit must be a positive number or None, got {per_unit!r}")


def _existing_array(costs: CostMatrix, kinds: Sequence[ResourceKind],
                    existing: Mapping[str, Mapping[str, int]]) -> np.ndarray:
    """Units today as a sites x kinds array; DataError for unknown sites or kinds and bad counts."""
    site_index = {site: j for j, site in enumerate(costs.site_ids)}
    kind_index = {kind.name: k for k, kind in enumerate(kinds)}
    have = np.zeros((len(costs.site_ids), len(kinds)))
    for site, units in existing.items():
        if site not in site_index:
            raise DataError(f"existing units given for site {site!r}, which is not a site of the cost matrix")
        for name, count in units.items():
            if name not in kind_index:
                raise DataError(f"existing units of site {site!r}: {name!r} is not one of the resource kinds "
                                f"{', '.join(kind_index)}")
            if isinstance(count, bool) or not float(count).is_integer() or count < 0:
                raise DataError(f"existing units of site {site!r}, kind {name!r}: {count!r} is not a whole "
                                "number >= 0")
            have[site_index[site], kind_index[name]] = float(count)
    return have


def _coverage_groups(within: np.ndarray, eligible: np.ndarray) -> list[tuple[tuple[int, ...], np.ndarray]]:
    """Demand rows grouped by their set of eligible sites within the threshold (rows reaching none left out)."""
    groups: dict[tuple[int, ...], list[int]] = {}
    for i, row in enumerate(within & eligible):
        sites = tuple(np.flatnonzero(row).tolist())
        if sites:
            groups.setdefault(sites, []).append(i)
    return [(sites, np.asarray(members)) for sites, members in groups.items()]


def _terms(var: pulp.LpVariable | None, coefficient: float) -> list[tuple[pulp.LpVariable, float]]:
    """[(var, coefficient)] when the variable exists, else nothing."""
    return [] if var is None else [(var, coefficient)]


def _add(model: pulp.LpProblem, terms: Iterable[tuple[pulp.LpVariable, float]], sense: int, rhs: float,
         name: str) -> None:
    """Add the row sum(terms) <sense> rhs."""
    model.addConstraint(pulp.LpConstraint(pulp.LpAffineExpression(terms), sense, name, rhs))


def _run(model: pulp.LpProblem, *, solver: str, time_limit_s: float | None, mip_gap: float | None) -> SolveOutcome:
    """Solve; the model always has the empty plan, so "infeasible" or "unbounded" is a solver failure."""
    outcome = solve(model, solver=solver, time_limit_s=time_limit_s, mip_gap=mip_gap)
    if outcome.status in ("infeasible", "unbounded"):
        raise SolverError(f"solver {solver!r} reported the capacity coverage model {outcome.status}, which it "
                          "cannot be (adding nothing is always a plan)")
    return outcome


def _no_plan(outcome: SolveOutcome, *, capacitated: bool, threshold: float, budget: float,
             total: float) -> CoveragePlan:
    """The result of a run that stopped before finding any plan."""
    empty: Mapping[str, Any] = MappingProxyType({})
    return CoveragePlan(
        status=outcome.status, capacitated=capacitated, threshold=threshold, budget=budget, total_weight=total,
        covered_weight=None, cost=None, additions=empty, units=empty, providers=(), covered_share=empty,
        solver=outcome.solver, solver_version=outcome.solver_version, seconds=outcome.seconds,
    )


def _plan(costs: CostMatrix, kinds: Sequence[ResourceKind], outcome: SolveOutcome, *,
          capacitated: bool, threshold: float, budget: float, weights: np.ndarray, have: np.ndarray,
          added: np.ndarray, providing: np.ndarray, share: np.ndarray, load: np.ndarray) -> CoveragePlan:
    """Positions back to IDs; covered weight and cost recomputed from the plan's values."""
    names = [kind.name for kind in kinds]
    unit_cost = np.array([kind.unit_cost for kind in kinds])
    additions = {
        site: MappingProxyType({name: int(n) for name, n in zip(names, added[j], strict=True) if n > 0})
        for j, site in enumerate(costs.site_ids) if added[j].any()
    }
    after = have + added
    units = {site: MappingProxyType({name: int(n) for name, n in zip(names, after[j], strict=True)})
             for j, site in enumerate(costs.site_ids)}
    return CoveragePlan(
        status=outcome.status,
        capacitated=capacitated,
        threshold=threshold,
        budget=budget,
        total_weight=float(weights.sum()),
        covered_weight=float(weights @ share),
        cost=float((added * unit_cost).sum()),
        additions=MappingProxyType(additions),
        units=MappingProxyType(units),
        providers=tuple(costs.site_ids[j] for j in np.flatnonzero(providing).tolist()),
        covered_share=MappingProxyType({d: float(s) for d, s in zip(costs.demand_ids, share, strict=True)}),
        site_load=MappingProxyType(
            {costs.site_ids[j]: float(load[j]) for j in np.flatnonzero(providing).tolist()} if capacitated else {}
        ),
        gap=outcome.gap,
        solver=outcome.solver,
        solver_version=outcome.solver_version,
        seconds=outcome.seconds,
    )
