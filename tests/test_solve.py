"""Solver layer: statuses, objective with constants, bounds and gaps, limits, warm starts and errors."""

from __future__ import annotations

import inspect
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pulp
import pytest

from allocopt import solve as solve_module
from allocopt.errors import SolverError
from allocopt.highs import HighsSession
from allocopt.model import build_model, solve_model
from allocopt.model import objectives as objectives_module
from allocopt.solve import (
    DEFAULT_SOLVER,
    SOLVERS,
    SolveOutcome,
    plan_gap,
    plan_status,
    proven_optimal,
    relative_gap,
    solve,
)
from test_model import random_problem


def knapsack(sense: int, *, constant: float = 0.0) -> tuple[pulp.LpProblem, float]:
    """A 0/1 knapsack small enough to enumerate; returns the model and its optimum found by enumeration."""
    values = [10, 13, 7, 8, 4, 9]
    weights = [5, 7, 4, 5, 2, 6]
    capacity = 14
    sign = 1 if sense == pulp.LpMaximize else -1
    model = pulp.LpProblem("knapsack", sense)
    x = [model.add_variable(f"x_{i}", cat=pulp.LpBinary) for i in range(len(values))]
    model += pulp.lpSum(sign * v * var for v, var in zip(values, x, strict=True)) + constant
    model += pulp.lpSum(w * var for w, var in zip(weights, x, strict=True)) <= capacity
    best = max(
        sum(v for v, bit in zip(values, bits, strict=True) if bit)
        for bits in np.ndindex(*(2,) * len(values))
        if sum(w for w, bit in zip(weights, bits, strict=True) if bit) <= capacity
    )
    return model, sign * best + constant


def market_split(seed: int) -> tuple[pulp.LpProblem, list[pulp.LpVariable], list[int], float]:
    """Equality knapsacks (market split): plans are very hard to find without a start, one is known by design."""
    rng = np.random.default_rng(seed)
    n = 40
    a = rng.integers(0, 100, (4, n))
    known = rng.integers(0, 2, n).tolist()
    costs = rng.integers(1, 10, n).tolist()
    model = pulp.LpProblem("split", pulp.LpMinimize)
    x = [model.add_variable(f"x_{i}", cat=pulp.LpBinary) for i in range(n)]
    model += pulp.lpSum(c * var for c, var in zip(costs, x, strict=True))
    for row in a:
        model += pulp.lpSum(int(c) * var for c, var in zip(row, x, strict=True)) == int(row @ known)
    return model, x, known, float(np.dot(costs, known))


def test_default_solver_is_one_of_the_solvers() -> None:
    assert DEFAULT_SOLVER in SOLVERS == ("highs", "cbc")


@pytest.mark.parametrize("solver", SOLVERS)
@pytest.mark.parametrize("sense", [pulp.LpMinimize, pulp.LpMaximize])
def test_optimal_knapsack_with_constant(solver: str, sense: int) -> None:
    model, best = knapsack(sense, constant=100.0)
    outcome = solve(model, solver=solver, mip_gap=0.0)
    assert outcome.status == "optimal"
    assert outcome.objective == pytest.approx(best)
    assert outcome.best_bound == pytest.approx(best, abs=1.0)  # CBC stops within one unit on integral objectives
    assert outcome.gap is not None and outcome.gap < 0.01
    assert outcome.solver == solver
    assert outcome.solver_version[0].isdigit()
    assert outcome.seconds >= 0
    assert outcome.has_plan


@pytest.mark.parametrize("solver", SOLVERS)
def test_infeasible_model(solver: str) -> None:
    model = pulp.LpProblem("infeasible", pulp.LpMinimize)
    x = model.add_variable("x", cat=pulp.LpBinary)
    y = model.add_variable("y", cat=pulp.LpBinary)
    model += x + y
    model += x + y >= 3
    outcome = solve(model, solver=solver)
    assert outcome.status == "infeasible"
    assert (outcome.objective, outcome.best_bound, outcome.gap) == (None, None, None)
    assert not outcome.has_plan


@pytest.mark.parametrize("solver", SOLVERS)
def test_unbounded_model(solver: str) -> None:
    model = pulp.LpProblem("unbounded", pulp.LpMaximize)
    x = model.add_variable("x", lowBound=0, cat=pulp.LpInteger)
    y = model.add_variable("y", cat=pulp.LpBinary)
    model += x + y
    model += x - y >= 0
    assert solve(model, solver=solver).status == "unbounded"


@pytest.mark.parametrize("solver", SOLVERS)
def test_lp_bound_equals_objective(solver: str) -> None:
    model = pulp.LpProblem("lp", pulp.LpMinimize)
    x = model.add_variable("x", lowBound=0)
    y = model.add_variable("y", lowBound=0)
    model += 2 * x + 3 * y
    model += x + y >= 4
    model += x <= 1
    outcome = solve(model, solver=solver)
    assert outcome.status == "optimal"
    assert outcome.objective == pytest.approx(11.0)
    assert outcome.best_bound == pytest.approx(11.0)
    assert outcome.gap == pytest.approx(0.0)


def test_both_solvers_reach_the_same_optimum_on_the_same_model() -> None:
    model, best = knapsack(pulp.LpMinimize)
    first = solve(model, solver="highs", mip_gap=0.0)
    second = solve(model, solver="cbc", mip_gap=0.0)
    assert first.objective == pytest.approx(second.objective) == pytest.approx(best)


@pytest.mark.parametrize("solver", SOLVERS)
def test_time_limit_on_hard_instance_reports_consistently(solver: str) -> None:
    model, _x, _known, _cost = market_split(seed=0)
    outcome = solve(model, solver=solver, time_limit_s=0.3)
    assert outcome.status in ("feasible", "not_solved")
    if outcome.status == "feasible":
        assert outcome.objective is not None and outcome.best_bound is not None
        assert outcome.best_bound <= outcome.objective + 1e-6
        assert outcome.gap == pytest.approx(relative_gap(outcome.objective, outcome.best_bound))
    else:
        assert (outcome.objective, outcome.gap) == (None, None)


@pytest.mark.parametrize("solver", SOLVERS)
def test_warm_start_hands_over_the_known_plan(solver: str) -> None:
    model, x, known, cost = market_split(seed=1)
    for var, value in zip(x, known, strict=True):
        var.setInitialValue(value)
    outcome = solve(model, solver=solver, time_limit_s=0.3, warm_start=True)
    assert outcome.has_plan
    assert outcome.objective is not None and outcome.objective <= cost + 1e-9


def test_unknown_solver_is_a_solver_error() -> None:
    model, _ = knapsack(pulp.LpMinimize)
    with pytest.raises(SolverError, match="unknown solver 'gurobi'; choose one of: highs, cbc"):
        solve(model, solver="gurobi")


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        ({"time_limit_s": 0}, "time limit must be a positive number of seconds"),
        ({"time_limit_s": float("inf")}, "time limit must be a positive number of seconds"),
        ({"mip_gap": 1.5}, r"MIP gap must be a fraction in \[0, 1\)"),
        ({"threads": 0}, "threads must be at least 1"),
    ],
)
def test_bad_options_are_solver_errors(options: dict[str, float], expected: str) -> None:
    model, _ = knapsack(pulp.LpMinimize)
    with pytest.raises(SolverError, match=expected):
        solve(model, **options)  # type: ignore[arg-type]


def test_missing_cbc_binary_says_how_to_fix(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pulp.PULP_CBC_CMD, "available", lambda self: False)
    model, _ = knapsack(pulp.LpMinimize)
    with pytest.raises(SolverError, match=r"solver 'cbc' is not available.*--solver highs"):
        solve(model, solver="cbc")


def test_missing_highspy_says_how_to_fix(monkeypatch: pytest.MonkeyPatch) -> None:
    import builtins

    real_import = builtins.__import__

    def no_highspy(name: str, *args: object, **kwargs: object) -> object:
        if name == "highspy":
            raise ImportError("No module named 'highspy'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_highspy)
    model, _ = knapsack(pulp.LpMinimize)
    with pytest.raises(SolverError, match=r"pip install highspy.*--solver cbc"):
        solve(model, solver="highs")


def test_relative_gap_definition() -> None:
    assert relative_gap(100.0, 90.0) == pytest.approx(0.1)
    assert relative_gap(-100.0, -110.0) == pytest.approx(0.1)
    assert relative_gap(0.0, 0.0) == 0.0
    assert relative_gap(None, 1.0) is None
    assert relative_gap(1.0, None) is None


def test_outcome_is_frozen() -> None:
    outcome = SolveOutcome("optimal", 1.0, 1.0, 0.0, "highs", "1.0", 0.1)
    with pytest.raises(AttributeError):
        outcome.status = "feasible"  # type: ignore[misc]


def test_highs_writes_nothing_to_standard_output() -> None:
    # HiGHS prints a banner on the first Highs object of a process; it must not reach stdout (CLI JSON goes there)
    code = (
        "import pulp\n"
        "from allocopt.solve import solve\n"
        "m = pulp.LpProblem('m', pulp.LpMinimize)\n"
        "x = m.add_variable('x', 1, 2, cat='Integer')\n"
        "m += x\n"
        "print(solve(m, solver='highs').status)\n"
    )
    src = str(Path(__file__).resolve().parents[1] / "src")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([src, os.environ.get("PYTHONPATH", "")])}
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    assert run.stdout == "optimal\n"


@pytest.mark.parametrize(("objective", "bound", "mip_gap", "proven"), [
    (100.0, 99.995, None, True),  # 5e-5 within the default 1e-4
    (100.0, 99.98, None, False),  # 2e-4
    (100.0, 99.0, 0.02, True),
    (100.0, 99.0, 0.0, False),
    (0.0, -1e-9, 0.0, True),  # an absolute gap within 1e-6 proves a zero objective
    (-50.0, -49.5, 0.02, True),  # maximizing: the bound lies above; the gap is relative to |objective|
    (100.0, None, None, False),
    (100.0, float("-inf"), None, False),
])
def test_the_word_optimal_needs_a_proven_gap_within_the_requested_one(
        objective: float, bound: float | None, mip_gap: float | None, proven: bool) -> None:
    assert proven_optimal(objective, bound, mip_gap) is proven


def _outcome(status: str, gap: float | None) -> SolveOutcome:
    return SolveOutcome(status=status, objective=1.0, best_bound=None, gap=gap, solver="highs",
                        solver_version="1", seconds=0.0)


def test_a_staged_plan_takes_the_word_and_gap_of_its_least_proven_stage() -> None:
    assert plan_status([_outcome("optimal", 0.0), _outcome("optimal", 1e-5)]) == "optimal"
    assert plan_status([_outcome("optimal", 0.0), _outcome("feasible", 0.03)]) == "feasible"
    assert plan_gap([_outcome("optimal", 1e-5), _outcome("feasible", 0.03)]) == 0.03
    assert plan_gap([_outcome("feasible", 0.2), _outcome("feasible", None)]) is None
    assert plan_status([]) == "feasible"


def test_a_solver_calling_a_plan_optimal_outside_the_requested_gap_gets_feasible(
        monkeypatch: pytest.MonkeyPatch) -> None:
    model, best = knapsack(pulp.LpMinimize, constant=1000.0)
    real = solve_module._RUNNERS["highs"]

    def optimistic(model: pulp.LpProblem, **options: object) -> tuple[str, float | None, str]:
        status, _, version = real(model, **options)
        return status, pulp.value(model.objective) - 50.0, version  # "optimal" with a 5% gap

    monkeypatch.setitem(solve_module._RUNNERS, "highs", optimistic)
    outcome = solve(model, solver="highs")
    assert outcome.status == "feasible" and outcome.gap == pytest.approx(50.0 / abs(best))
    assert solve(model, solver="highs", mip_gap=0.06).status == "optimal"


def test_highs_measures_its_gap_on_the_objective_with_its_constant() -> None:
    # without the constant HiGHS judged its relative gap on a shifted objective: "optimal" at a real gap of 5.7%
    model, best = knapsack(pulp.LpMinimize, constant=1000.0)
    outcome = solve(model, solver="highs", mip_gap=0.0)
    highs = model.solverModel
    assert highs.getObjectiveOffset()[1] == pytest.approx(1000.0)
    assert highs.getInfo().objective_function_value == pytest.approx(best) == pytest.approx(outcome.objective)


def test_the_pulp_hooks_the_highs_loader_relies_on_still_exist() -> None:
    """highs.BulkHiGHS overrides PuLP's HiGHS steps and relies on how PuLP reads results back: a PuLP release
    that renames or reorders them must fail here, not as wrong plans (PuLP is pinned below its next major)."""
    highs = pulp.HiGHS
    for hook in ("createAndConfigureSolver", "buildSolverModel", "callSolver", "findSolutionValues"):
        assert callable(getattr(highs, hook, None)), f"pulp.HiGHS.{hook} is gone"
    steps = inspect.getsource(highs.actualSolve)
    order = [steps.find(f"self.{hook}(lp)") for hook in
             ("createAndConfigureSolver", "buildSolverModel", "callSolver", "findSolutionValues")]
    assert -1 not in order and order == sorted(order), "pulp.HiGHS.actualSolve no longer runs the hooks in order"
    reading = inspect.getsource(highs.findSolutionValues)
    assert "var.index" in reading and "constraint.index" in reading, "PuLP reads results by another key"
    assert "lp.solverModel" in inspect.getsource(highs.createAndConfigureSolver)
    parameters = inspect.signature(highs.__init__).parameters
    assert {"msg", "timeLimit", "gapRel", "threads"} <= set(parameters)
    assert callable(getattr(pulp.LpProblem, "add_variable", None))  # model/_lp.py's NamedRows.var


def _values(model: pulp.LpProblem) -> dict[str, float | None]:
    return {var.name: var.varValue for var in model.variables()}


def test_a_session_keeps_the_highs_instance_when_only_rows_are_added() -> None:
    """Stage two (one added row, a new objective) on the kept instance gives what a fresh load of the same
    model gives, and loads nothing but the new row and costs."""
    model, _ = knapsack(pulp.LpMaximize)
    session = HighsSession()
    first = solve(model, mip_gap=0.0, session=session)
    kept = session.highs
    x = model.variables()
    model += pulp.lpSum(x) <= 2, "keep_small"
    model.setObjective(pulp.lpSum((i + 1) * var for i, var in enumerate(x)))
    second = solve(model, mip_gap=0.0, warm_start=True, session=session)
    assert session.highs is kept and session.full_loads == 1
    assert kept.getNumRow() == 2 == len(model.constraints())
    reused = _values(model)
    fresh = solve(model, mip_gap=0.0, warm_start=True)
    assert first.status == second.status == fresh.status == "optimal"
    assert second.objective == pytest.approx(fresh.objective) and reused == _values(model)


def test_a_session_reloads_when_the_columns_changed() -> None:
    model, _ = knapsack(pulp.LpMaximize)
    session = HighsSession()
    solve(model, mip_gap=0.0, session=session)
    model.variables()[0].upBound = 0  # as complete_start fixes bounds: the kept instance no longer fits
    outcome = solve(model, mip_gap=0.0, session=session)
    assert session.full_loads == 2
    assert model.variables()[0].varValue == 0
    assert outcome.objective == pytest.approx(solve(model, mip_gap=0.0).objective)


def test_staged_solve_on_one_instance_gives_the_plan_of_fresh_loads(monkeypatch: pytest.MonkeyPatch) -> None:
    """The stages of an equity solve (three stages, two added rows) give the same plan whether each stage
    reuses the instance or loads the model afresh."""
    problem = random_problem(seed=5, budget=1.5e7)
    reused_model = build_model(problem, objective="equity")
    reused = solve_model(reused_model, mip_gap=0.0)

    sessions: list[HighsSession] = []

    class FreshEachTime(HighsSession):
        def __init__(self) -> None:
            super().__init__()
            sessions.append(self)

        def fits(self, *args: object) -> bool:
            return False

    monkeypatch.setattr(objectives_module, "HighsSession", FreshEachTime)
    fresh_model = build_model(problem, objective="equity")
    fresh = solve_model(fresh_model, mip_gap=0.0)
    assert [session.full_loads for session in sessions] == [3]
    assert [o.status for o in reused] == [o.status for o in fresh] == ["optimal"] * 3
    assert [o.objective for o in reused] == pytest.approx([o.objective for o in fresh])
    assert _values(reused_model.lp) == pytest.approx(_values(fresh_model.lp))
