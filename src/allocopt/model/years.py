"""Multi-year plans in one MILP: the single-year model once per year, linked by stocks, yearly budgets and lead times.

Each year y of the horizon Y = y_0..y_n gets the whole single-year model (`build_model`, every constraint family,
whatever families later versions add) built from that year's problem (its residents and expected cases, its
targets) into one shared LpProblem, its names prefixed `y<year>_`, its budget rows left out. Every variable is
then a *stock*: what the plan holds in year y (sites open, GPs added since today, equipment, designations). The
families below link the years without knowing any single-year family: they work on `AllocationModel.stocks` (every
integer decision by name) and on the capital and annual cost expressions, which are linear in the stocks.

Notation: x_y a stock variable of year y (x_{y_0 - 1} = 0: nothing added before the plan), C_y and A_y the capital
and annual cost expressions of year y's model, B_y^line the budget lines of year y, delta the discount rate.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace

import pulp

from allocopt.errors import ScenarioError
from allocopt.model.allocation import AllocationModel, build_model, unique_name
from allocopt.model.problem import Problem
from allocopt.years_settings import YearsSettings


@dataclass(eq=False)
class YearsModel:
    """The multi-year MILP: one AllocationModel per year in `models`, sharing `lp`.

    Expressions per year: `built[y][stock]` the amount of each stock built in year y, `spend_yuan[y]` capital
    spent in year y, `added_gps[y]` GPs
    added in year y, `supply_gps[y]` the pipeline's limit on them (absent: no limit); `limits[line]` the yearly
    budget limits; `shortfall[y, v]` the people short of a soft coverage milestone. `stages` are the objectives
    solved in turn (`solve_model`)."""

    years: tuple[int, ...]
    settings: YearsSettings
    objective: str
    lp: pulp.LpProblem
    models: dict[int, AllocationModel]
    limits: dict[str, tuple[float, ...]]
    cost_line: str = "total"
    spend_yuan: dict[int, pulp.LpAffineExpression] = field(default_factory=dict)
    built: dict[int, dict[str, pulp.LpAffineExpression]] = field(default_factory=dict)
    added_gps: dict[int, pulp.LpAffineExpression] = field(default_factory=dict)
    supply_gps: dict[int, float] = field(default_factory=dict)
    shortfall: dict[tuple[int, str], pulp.LpVariable] = field(default_factory=dict)
    stages: list[pulp.LpAffineExpression] = field(default_factory=list)
    names: set[str] = field(default_factory=set)

    def name(self, family: str, *keys: str) -> str:
        """`family[key,...]`, unique among the rows linking the years."""
        return unique_name(self.names, family, *keys)

    def constrain(self, family: str, keys: tuple[str, ...], expression: pulp.LpAffineExpression, sense: int,
                  rhs: float) -> None:
        """Add `expression <sense> rhs` named `family[keys]`."""
        self.lp.addConstraint(pulp.LpConstraint(expression, sense, self.name(family, *keys), rhs))

    def discount(self, y: int) -> float:
        """Weight of year y in the objective: (1 + delta)^-(y - y_0)."""
        return float((1.0 + self.settings.discount_rate) ** -(y - self.years[0]))


def build_years_model(problems: Mapping[int, Problem], settings: YearsSettings,
                      limits: Mapping[str, tuple[float, ...]], *, objective: str = "gap",
                      travel_cutoff_minutes: float | None = None, cost_line: str = "total",
                      discounted: bool = True) -> YearsModel:
    """The multi-year MILP of one problem per year (consecutive years; each year's problem holds its residents
    and targets) under the yearly budget `limits` (line -> one limit per year, `YearsSettings.yearly_limits`).
    `discounted` False weighs every year alike (the least-cost explanation)."""
    years = tuple(sorted(problems))
    if list(years) != list(range(years[0], years[-1] + 1)):
        raise ScenarioError(f"the plan's years {years} are not consecutive")
    lp = pulp.LpProblem(f"allocopt_{objective}_years", pulp.LpMinimize)
    models = {y: build_model(problems[y], objective=objective, travel_cutoff_minutes=travel_cutoff_minutes,
                             cost_line=cost_line, lp=lp, prefix=f"y{y}_", budget_rows=False) for y in years}
    first = problems[years[0]]
    ym = YearsModel(years=years, settings=settings if discounted else _undiscounted(settings), objective=objective,
                    lp=lp, models=models, cost_line=cost_line,
                    limits=dict(limits))
    add_stock_links(ym)
    add_spending(ym)
    add_yearly_budgets(ym)
    add_pipeline(ym, first.total_population)
    add_center_lag(ym)
    add_build_time(ym)
    add_soft_milestones(ym)
    add_years_objective(ym)
    return ym


def _undiscounted(settings: YearsSettings) -> YearsSettings:
    return replace(settings, discount_rate=0.0)


def _predecessor(ym: YearsModel, y: int, base: str) -> pulp.LpVariable | None:
    """The stock `base` of the year before y (None in the first year: nothing added before the plan)."""
    return ym.models[y - 1].stocks.get(base) if y > ym.years[0] else None


def add_stock_links(ym: YearsModel) -> None:
    """x_y >= x_{y-1} for every stock x (unless `retire`), and the amount built in year y of every stock:
    b_y(x) = x_y - x_{y-1}, or with `retire` a variable b_y(x) >= x_y - x_{y-1}, b_y(x) >= 0 (what is retired
    costs nothing and refunds nothing)."""
    for y in ym.years:
        built: dict[str, pulp.LpAffineExpression] = {}
        for base, var in ym.models[y].stocks.items():
            before = _predecessor(ym, y, base)
            step = pulp.LpAffineExpression([(var, 1.0)] + ([(before, -1.0)] if before is not None else []))
            if not ym.settings.retire:
                if before is not None:
                    ym.constrain("stock", (str(y), base), step, pulp.LpConstraintGE, 0.0)
                built[base] = step
                continue
            build = ym.lp.add_variable(ym.name("build", str(y), base), lowBound=0)
            ym.constrain("build", (str(y), base), build - step, pulp.LpConstraintGE, 0.0)
            built[base] = pulp.LpAffineExpression([(build, 1.0)])
        ym.built[y] = built


def add_spending(ym: YearsModel) -> None:
    """Capital spent in year y: S_y = sum_x c_x b_y(x) over the capital terms of C_y (without retiring, S_y =
    C_y - C_{y-1}, capital being linear in the stocks). Every capital term must be a stock (a family that
    charges capital creates its decisions with `var(..., integer=True)` or `stock=True`); RuntimeError (a bug of
    that family) if not."""
    for y in ym.years:
        model = ym.models[y]
        by_name = {var.name: base for base, var in model.stocks.items()}
        spend = pulp.LpAffineExpression()
        for var, coefficient in model.capital_yuan.items():
            base = by_name.get(var.name)
            if base is None:
                raise RuntimeError(f"the capital cost of {var.name} cannot be phased over years: it is no stock "
                                   "variable")
            spend.addInPlace(ym.built[y][base] * coefficient)
        ym.spend_yuan[y] = spend


def add_yearly_budgets(ym: YearsModel) -> None:
    """Per year y: S_y + A_y <= B_y^total, or S_y <= B_y^capital and A_y <= B_y^annual (running costs accrue every
    year from the year a resource is added). With `carry_over`, unspent capital (total) budget moves on: the
    capital and total rows hold cumulatively, sum_{t<=y} ... <= sum_{t<=y} B_t. The `cost` objective has none."""
    if ym.objective == "cost":
        return
    for line, limits in ym.limits.items():
        running = pulp.LpAffineExpression()
        allowed = 0.0
        for index, y in enumerate(ym.years):
            spent = {"capital": ym.spend_yuan[y], "annual": ym.models[y].annual_yuan,
                     "total": ym.spend_yuan[y] + ym.models[y].annual_yuan}[line]
            if ym.settings.carry_over and line != "annual":
                running = running + spent
                allowed += limits[index]
                ym.constrain("budget", (line, str(y)), running, pulp.LpConstraintLE, allowed)
            else:
                ym.constrain("budget", (line, str(y)), pulp.LpAffineExpression(spent), pulp.LpConstraintLE,
                             limits[index])


def add_pipeline(ym: YearsModel, population: float) -> None:
    """GPs added in year y (sum over sites of b_y(gp)) <= the pipeline's supply of year y, the sum over streams of
    quota (1 - attrition) once the stream's lead time has passed, the output of cohorts already enrolled before."""
    streams = ym.settings.streams()
    for index, y in enumerate(ym.years):
        model = ym.models[y]
        by_name = {var.name: base for base, var in model.stocks.items()}
        added = pulp.LpAffineExpression()
        for var in model.gp.values():
            added.addInPlace(ym.built[y][by_name[var.name]])
        ym.added_gps[y] = added
        if not streams or not model.gp:
            continue
        supply = sum(stream.supply(index, population) for stream in streams)
        ym.supply_gps[y] = supply
        ym.constrain("pipeline", (str(y),), added, pulp.LpConstraintLE, supply)


def add_center_lag(ym: YearsModel) -> None:
    """ctr_y[j,s] <= eq_{y-L}[j,k] for each equipment k that center s requires and site j lacks today, L the
    `center_lag_years` (accreditation needs months of operation): none before y_0 + L where k must be placed."""
    lag = ym.settings.center_lag_years
    if lag <= 0:
        return
    for y in ym.years:
        model = ym.models[y]
        scenario = model.problem.scenario
        earlier = ym.models.get(y - lag)
        for (site, s), var in model.ctr.items():
            for k in scenario.center_eligibility[s].requires:
                if (site, k) not in model.eq:
                    continue
                if earlier is None:
                    var.upBound = 0
                    continue
                ym.constrain("center_lag", (str(y), site, s), var - earlier.eq[site, k], pulp.LpConstraintLE, 0.0)


def add_build_time(ym: YearsModel) -> None:
    """open_y[j] = 0 for y < y_0 + `open_build_years`: a candidate site takes that long to build (its capital is
    counted in the year it opens)."""
    for y in ym.years[:ym.settings.open_build_years]:
        for var in ym.models[y].open.values():
            var.upBound = 0


def add_soft_milestones(ym: YearsModel) -> None:
    """A soft coverage milestone (share s of v in year y): shortfall >= unserved_v,y - (1 - s) P_y, counted in
    people in the gap stage. Hard milestones are the year problem's hard targets (`plan_years.year_problems`)."""
    for milestone in ym.settings.milestones:
        if milestone.hard or milestone.year not in ym.models:
            continue
        model = ym.models[milestone.year]
        for v, share in milestone.min_covered_share.items():
            key = f"years.milestones.{milestone.year}.min_covered_share.{v}"
            if ym.objective not in ("gap", "equity"):
                raise ScenarioError(f"key {key!r}: a soft milestone counts in the gap objective; use --objective "
                                    "gap or equity, or make the milestone hard")
            if v not in model.unserved:
                raise ScenarioError(f"key {key!r}: {v} is not planned for (weight 0); give weights.{v} a positive "
                                    "weight or make the milestone hard")
            var = ym.lp.add_variable(ym.name("shortfall", str(milestone.year), v), lowBound=0)
            ym.shortfall[milestone.year, v] = var
            allowed = (1.0 - share) * model.problem.total_population
            ym.constrain("milestone", (str(milestone.year), v), var - model.unserved[v], pulp.LpConstraintGE,
                         -allowed)


def add_years_objective(ym: YearsModel) -> None:
    """Each quality stage of the single-year objective summed over the years with weight (1 + delta)^-(y - y_0)
    (soft milestone shortfalls added to the gap stage), then the cost stage: the discounted sum of each year's
    spending on the cost line (S_y + A_y, S_y or A_y)."""
    count = len(ym.models[ym.years[0]].stages) - 1
    stages = [pulp.LpAffineExpression() for _ in range(count)]
    cost = pulp.LpAffineExpression()
    for y in ym.years:
        weight = ym.discount(y)
        model = ym.models[y]
        for index in range(count):
            stages[index].addInPlace(model.stages[index] * weight)
        spent = {"total": ym.spend_yuan[y] + model.annual_yuan, "capital": ym.spend_yuan[y],
                 "annual": model.annual_yuan}[ym.cost_line]
        cost.addInPlace(spent * weight)
    gap_stage = 1 if ym.objective == "equity" else 0
    for (y, _), var in ym.shortfall.items():
        stages[gap_stage].addInPlace(pulp.LpAffineExpression([(var, ym.discount(y))]))
    ym.stages = [*stages, cost]
    ym.lp.setObjective(pulp.LpAffineExpression(ym.stages[0]))
