"""Budget sweeps: the same scenario solved at a range of budgets, and the frontier of what each budget buys.

One prepared region (roads, travel matrix) serves every budget: each budget only rebuilds the Problem from
`Scenario.with_budget`, through the same `workflow.prepared_problem` and `optimize.optimize_problem` as
`optimize`. Budgets are solved in ascending order in chains; within a chain each budget starts from the
previous budget's plan, which stays feasible when the budget grows (the first budget of a chain starts from
today's network). On several workers the budgets are split into one contiguous chain per worker.

`frontier.csv` has one row per budget (FRONTIER_COLUMNS; `<service>_unserved` are the people each service
leaves unserved after the plan): `weighted_gap` is the `gap` objective's measure (people, with the
scenario's weights), `status` and `gap` the plan's status word and relative gap by the rule of
`optimize` (`solve.plan_status`, `solve.plan_gap`), and `marginal_people_per_10k_yuan` how much
the weighted gap fell per extra 10,000 yuan against the next lower budget. A budget that failed (say, a hard
target it cannot pay for) has status "error" and its message in `error`; the other budgets are unaffected.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from allocopt.engine import ProgressCallback, Task, TaskOutcome, open_engine
from allocopt.errors import AllocoptError, ScenarioError
from allocopt.export import atomic_output_dir, write_csv, write_json
from allocopt.i18n import Translator, translator
from allocopt.money import parse_money
from allocopt.optimize import TODAY, StartPlan, optimize_problem
from allocopt.results import Result
from allocopt.services import SERVICES
from allocopt.solve import DEFAULT_SOLVER
from allocopt.workflow import Prepared, optimize_years, plan_summary, prepared_problem

FRONTIER_FILE = "frontier.csv"
FRONTIER_CHART_FILE = "chart_budget_gap.png"
SWEEP_FILE = "sweep.json"
SUMMARIES_DIR = "summaries"
PER_10K_YUAN = 10_000.0
ERROR_STATUS = "error"

UNSERVED_COLUMNS = tuple(f"{service}_unserved" for service in SERVICES)
FRONTIER_COLUMNS = (
    "budget_yuan",
    "status",
    "objective",
    "weighted_gap",
    "gap",
    "cost_yuan",
    "capital_yuan",
    "annual_yuan",
    *UNSERVED_COLUMNS,
    "gp_shortage_people",
    "marginal_people_per_10k_yuan",
    "warm_started",
    "seconds",
    "error",
)


@dataclass(frozen=True)
class BudgetRun:
    """One budget's outcome as a worker returns it: the frontier row, summary.json (None when it failed),
    and the plan the next budget of the chain starts from (this budget's, or the one it was handed when it
    failed).
    """

    budget_yuan: float
    row: Mapping[str, Any]
    summary: Mapping[str, Any] | None
    start: StartPlan | None


@dataclass(frozen=True)
class Sweep:
    """A finished sweep: its frontier (FRONTIER_COLUMNS, by budget) and the solved budgets' summaries."""

    region: str
    scenario: str
    scenario_budget_yuan: float | None
    objective: str
    engine: str
    warm_start: bool
    frontier: pd.DataFrame
    summaries: Mapping[float, Mapping[str, Any]]

    @property
    def failed(self) -> pd.DataFrame:
        """The frontier rows of budgets that failed, with their errors."""
        return self.frontier[self.frontier["status"] == ERROR_STATUS]


def parse_budgets(text: str) -> tuple[float, ...]:
    """Budgets in yuan from `START:STOP:STEPS` (STEPS evenly spaced budgets, both ends included) or a comma
    list.

    Raises ScenarioError naming the part that is not a number, a negative budget, or fewer than one step.
    """
    parts = text.split(":")
    if len(parts) == 3:
        start, stop = (_budget_number(part, text) for part in parts[:2])
        try:
            steps = int(parts[2].strip())
        except ValueError:
            steps = 0
        if steps < 1 or (steps == 1 and start != stop):
            raise ScenarioError(
                f"--budgets {text!r}: STEPS must be a whole number of budgets, at least 2 (or 1 when "
                "START equals STOP), e.g. 0:30000000:7"
            )
        if stop < start:
            raise ScenarioError(f"--budgets {text!r}: STOP is below START; write the lower budget first")
        return tuple(float(value) for value in np.linspace(start, stop, steps))
    if len(parts) == 1:
        if re.search(r"\d,\d{3}(?!\d)", text):
            raise ScenarioError(f"--budgets {text!r}: commas separate budgets here, not thousands; write each "
                                "budget as 30000000 or 3e7 (or 30M, 3000万)")
        return tuple(_budget_number(part, text) for part in text.split(","))
    raise ScenarioError(
        f"--budgets {text!r}: write START:STOP:STEPS (e.g. 0:30000000:7) or a comma list of yuan"
    )


def _budget_number(part: str, text: str) -> float:
    try:
        value = parse_money(part)
    except ScenarioError as exc:
        raise ScenarioError(f"--budgets {text!r}: {exc}") from exc
    if value < 0:
        raise ScenarioError(f"--budgets {text!r}: {part.strip()!r} is below 0; a budget is at least 0 yuan")
    return value


def sweep_budgets(
    prepared: Prepared,
    budgets: Sequence[float],
    *,
    objective: str = "gap",
    solver: str | None = None,
    time_limit_s: float | None = None,
    mip_gap: float | None = None,
    warm_start: bool = True,
    workers: int = 1,
    scheduler: str | None = None,
    progress: ProgressCallback | None = None,
) -> Sweep:
    """Solve `prepared`'s scenario at each budget (total yuan) and tabulate the frontier.

    In process with one worker; on a local Dask cluster with more; on a running cluster with `scheduler`.
    A budget that fails is reported in the frontier (status "error"); raises ScenarioError for no budgets or a
    negative one, ClusterError when the cluster cannot be used.
    """
    ordered = sorted({_checked_budget(b) for b in budgets})
    if not ordered:
        raise ScenarioError("no budgets to sweep; give at least one, e.g. --budgets 0:30000000:7")
    years = prepared.scenario.years
    if years is not None and years.budget:
        raise ScenarioError(f"{prepared.scenario.source}: a sweep of a multi-year plan varies each year's total "
                            "budget, which [years.budget] would override; drop [years.budget] to sweep")
    options = {
        "objective": objective,
        "solver": solver or DEFAULT_SOLVER,
        "time_limit_s": time_limit_s,
        "mip_gap": mip_gap,
        "warm_start": warm_start,
    }
    with open_engine(workers=workers, scheduler=scheduler) as engine:
        chains = _chains(ordered, engine.workers if warm_start else len(ordered))
        tasks = [
            Task(
                label=f"budget {budget:,.0f} yuan", arguments={"budget_yuan": budget, **options}, after=after
            )
            for budget, after in chains
        ]
        outcomes = engine.run(solve_budget, tasks, shared=prepared, progress=progress)
        description = engine.description
    runs = [_run_of(outcome) for outcome in outcomes]
    return Sweep(
        region=prepared.region.name,
        scenario=prepared.scenario.name,
        scenario_budget_yuan=prepared.scenario.budget.total_yuan,
        objective=objective,
        engine=description,
        warm_start=warm_start,
        frontier=frontier_table([run.row for run in runs]),
        summaries={run.budget_yuan: run.summary for run in runs if run.summary is not None},
    )


def _checked_budget(budget: float) -> float:
    value = float(budget)
    if not (math.isfinite(value) and value >= 0):
        raise ScenarioError(f"budget {budget!r} yuan: a budget must be a finite number >= 0")
    return value


def _chains(budgets: Sequence[float], count: int) -> list[tuple[float, int | None]]:
    """Each budget with the index of the budget before it in its chain: `count` contiguous chains."""
    pairs: list[tuple[float, int | None]] = []
    for chunk in np.array_split(np.asarray(budgets, dtype=float), min(count, len(budgets))):
        for position, budget in enumerate(chunk):
            pairs.append((float(budget), len(pairs) - 1 if position else None))
    return pairs


def solve_budget(
    prepared: Prepared,
    *,
    budget_yuan: float,
    objective: str,
    solver: str,
    time_limit_s: float | None,
    mip_gap: float | None,
    warm_start: bool,
    previous: BudgetRun | None = None,
) -> BudgetRun:
    """Solve `prepared` at one total budget, from `previous`'s plan when `warm_start` (an engine task).

    An AllocoptError (infeasible, solver failure) becomes a row with status "error"; the start plan is handed
    on.
    """
    start = previous.start if previous is not None and warm_start else None
    at_budget = replace(prepared, scenario=prepared.scenario.with_budget(budget_yuan))
    if at_budget.scenario.years is not None:
        return _solve_years_budget(at_budget, budget_yuan, objective=objective, solver=solver,
                                   time_limit_s=time_limit_s, mip_gap=mip_gap)
    try:
        result = optimize_problem(
            prepared_problem(at_budget),
            objective=objective,
            solver=solver,
            time_limit_s=time_limit_s,
            mip_gap=mip_gap,
            start=start or TODAY,
        )
    except AllocoptError as exc:
        return BudgetRun(budget_yuan, error_row(budget_yuan, f"{type(exc).__name__}: {exc}"), None, start)
    return BudgetRun(
        budget_yuan,
        frontier_row(result, warm_started=start is not None),
        plan_summary(at_budget, result),
        StartPlan.from_result(result),
    )


def _solve_years_budget(prepared: Prepared, budget_yuan: float, *, objective: str, solver: str,
                        time_limit_s: float | None, mip_gap: float | None) -> BudgetRun:
    """A multi-year plan at a total budget of `budget_yuan` every year (no warm start: a start plan is one
    year's). Its frontier row gives the plan's discounted sum of yearly gaps as `objective` and `weighted_gap`,
    its spending over all years as the costs, and the last year's unserved people."""
    try:
        plan = optimize_years(prepared, objective=objective, solver=solver, time_limit_s=time_limit_s,
                              mip_gap=mip_gap)
    except AllocoptError as exc:
        return BudgetRun(budget_yuan, error_row(budget_yuan, f"{type(exc).__name__}: {exc}"), None, None)
    capital, annual = float(plan.table["capital_yuan"].sum()), float(plan.table["annual_yuan"].sum())
    row = frontier_row(plan.final, warm_started=False) | {
        "budget_yuan": budget_yuan, "objective": plan.objective, "weighted_gap": plan.objective,
        "cost_yuan": capital + annual, "capital_yuan": capital, "annual_yuan": annual}
    return BudgetRun(budget_yuan, row, plan_summary(prepared, plan.final, years=plan), None)


def frontier_row(result: Result, *, warm_started: bool) -> dict[str, Any]:
    """One budget's frontier figures from its Result (the marginal is left empty: it needs the neighbours)."""
    row: dict[str, Any] = {
        "budget_yuan": result.budget.total_yuan,
        "status": result.status,
        "objective": result.objective,
        "weighted_gap": result.weighted_gap_after,
        "gap": result.gap,
        "cost_yuan": result.cost_yuan,
        "capital_yuan": result.capital_yuan,
        "annual_yuan": result.annual_yuan,
    }
    row.update({f"{v}_unserved": result.unserved_after.get(v, math.nan) for v in SERVICES})
    row.update(
        {
            "gp_shortage_people": float(result.townships["gp_shortage_people_after"].sum()),
            "marginal_people_per_10k_yuan": math.nan,
            "warm_started": warm_started,
            "seconds": result.seconds,
            "error": "",
        }
    )
    return row


def error_row(budget_yuan: float, error: str) -> dict[str, Any]:
    """The frontier row of a budget that failed: status "error", the message, no figures."""
    row: dict[str, Any] = dict.fromkeys(FRONTIER_COLUMNS, math.nan)
    row.update({"budget_yuan": budget_yuan, "status": ERROR_STATUS, "warm_started": False, "error": error})
    return row


def _run_of(outcome: TaskOutcome) -> BudgetRun:
    """A task's BudgetRun, or an error row for a task that raised (the engine caught it)."""
    if outcome.ok:
        run: BudgetRun = outcome.value
        return run
    budget = float(outcome.task.arguments["budget_yuan"])
    return BudgetRun(budget, error_row(budget, outcome.error or "unknown error"), None, None)


def frontier_table(rows: Sequence[Mapping[str, Any]]) -> pd.DataFrame:
    """The frontier (FRONTIER_COLUMNS) by ascending budget, with the marginal people per extra 10,000 yuan.

    marginal = (weighted gap at the next lower budget - weighted gap here) / ((budget - that one) / 10,000);
    empty for the lowest budget and next to a failed one.
    """
    table = pd.DataFrame(list(rows), columns=list(FRONTIER_COLUMNS))
    table = table.sort_values("budget_yuan", kind="stable").reset_index(drop=True)
    budgets = table["budget_yuan"].to_numpy(dtype=float)
    gaps = table["weighted_gap"].to_numpy(dtype=float)
    marginal = np.full(len(table), np.nan)
    steps = np.diff(budgets)
    np.divide(gaps[:-1] - gaps[1:], steps / PER_10K_YUAN, out=marginal[1:], where=steps > 0)
    table["marginal_people_per_10k_yuan"] = marginal
    return table.astype({"warm_started": bool, "error": str})


SWEEP_KIND = "sweep"
"""The kind of result folder `write_sweep` writes (see `allocopt.export.MANIFEST_FILE`)."""


def write_sweep(sweep: Sweep, out_dir: str | Path, *, overwrite: bool = False,
                inputs: Sequence[str | Path] = (), tr: Translator | None = None) -> Path:
    """Write frontier.csv, the budget-gap chart (labelled in `tr`'s language, English by default), sweep.json and
    summaries/budget-<yuan>.json, atomically.

    `overwrite` and `inputs` (the files and folders the sweep read) as in `allocopt.export.check_output_dir`.
    """
    from allocopt import maps

    figure = maps.budget_gap_chart(
        sweep.frontier, region=sweep.region, scenario=sweep.scenario, budget_yuan=sweep.scenario_budget_yuan,
        tr=tr or translator("en"),
    )
    with atomic_output_dir(out_dir, kind=SWEEP_KIND, overwrite=overwrite, inputs=inputs) as staging:
        write_csv(sweep.frontier, staging / FRONTIER_FILE)
        maps.save_png(figure, staging / FRONTIER_CHART_FILE)
        write_json(sweep_record(sweep), staging / SWEEP_FILE)
        for budget, summary in sweep.summaries.items():
            write_json(summary, staging / SUMMARIES_DIR / f"budget-{_budget_name(budget)}.json")
    return Path(out_dir)


def sweep_record(sweep: Sweep) -> dict[str, Any]:
    """sweep.json: what was swept, how, and which budgets failed."""
    return {
        "region": sweep.region,
        "scenario": sweep.scenario,
        "scenario_budget_yuan": sweep.scenario_budget_yuan,
        "objective": sweep.objective,
        "engine": sweep.engine,
        "warm_start": sweep.warm_start,
        "budgets_yuan": [float(b) for b in sweep.frontier["budget_yuan"]],
        "failed": [
            {"budget_yuan": float(row.budget_yuan), "error": str(row.error)}
            for row in sweep.failed.itertuples()
        ],
    }


def _budget_name(budget: float) -> str:
    """A file-name form of a budget: whole yuan as digits, otherwise to the fen."""
    return f"{budget:.0f}" if float(budget).is_integer() else f"{budget:.2f}"
