"""Solver choice and options, status, bound and gap.

HiGHS runs in process through highspy (the model handed over as whole arrays, 3.5x faster than PuLP's
row-by-row calls: 0.42 s against 1.55 s for 160,000 columns and rows), CBC as the binary PuLP ships.
HiGHS is the default because, measured as build plus solve wall time on 2 cores (HiGHS 1.16, CBC 2.10.3), it
proved the 300-400-node OR-Library p-medians pmed11/pmed16/pmed18 optimal in 12/27/16 s where CBC took
63 s/stopped at the 300 s limit 5% above the optimum/46 s, while on coverage models neither won throughout
(MCLP 5,000 x 1,000 demand-site pairs within radius 4/6: HiGHS 0.7/12.5 s, CBC 1.5/4.3 s).
"""

from __future__ import annotations

import contextlib
import math
import os
import re
import sys
import tempfile
import threading
import time
import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pulp

from allocopt.choices import SOLVERS
from allocopt.errors import SolverError
from allocopt.watchdog import watch

DEFAULT_SOLVER = "highs"
DEFAULT_MIP_GAP = 1e-4
"""The relative gap within which a plan counts as optimal when no MIP gap is given (HiGHS's own default)."""
ABSOLUTE_GAP = 1e-6
"""An absolute gap this small proves a plan optimal whatever its relative gap (HiGHS's mip_abs_gap default), so
that an objective of zero with a bound a rounding error below it still counts as proven."""

Progress = Callable[[float, "float | None", bool], None]
"""Told, about once a second during a solve, the seconds elapsed, the gap of the best plan so far (None while
no bound is proven) and whether there is a plan yet; must not raise."""

_HIGHS_FIX = "install it with `pip install highspy`, or try `--solver cbc`"
_CBC_FIX = "reinstall PuLP (`pip install --force-reinstall pulp`, it ships CBC), or try `--solver highs`"
_CRASH_FIX = {"highs": "try `--solver cbc`, or reinstall highspy (`pip install --force-reinstall highspy`)",
              "cbc": _CBC_FIX}
_SOLVER_FAILURES = (pulp.PulpSolverError, OSError, RuntimeError)
"""What a missing, broken or crashing solver raises (a CBC binary that cannot run, an error inside HiGHS)."""


@dataclass(frozen=True)
class SolveOutcome:
    """What a solver run gave: status, objective, proven bound and gap, and which solver took how long.

    `status` is "optimal" (proven within the requested MIP gap, see `proven_optimal`), "feasible" (a plan not
    proven within that gap, say because a limit stopped the search), "infeasible", "unbounded" or "not_solved"
    (a limit stopped the search before any plan was found). `gap` is |objective - best_bound| /
    max(|objective|, 1e-9). Variable values stay on the PuLP model.
    """

    status: str
    objective: float | None
    best_bound: float | None
    gap: float | None
    solver: str
    solver_version: str
    seconds: float

    @property
    def has_plan(self) -> bool:
        """True when the variables of the model hold a feasible plan ("optimal" or "feasible")."""
        return self.status in ("optimal", "feasible")


def solve(
    model: pulp.LpProblem,
    *,
    solver: str = DEFAULT_SOLVER,
    time_limit_s: float | None = None,
    mip_gap: float | None = None,
    threads: int | None = None,
    warm_start: bool = False,
    progress: Progress | None = None,
    session: HighsSession | None = None,
) -> SolveOutcome:
    """Solve a PuLP model with HiGHS or CBC and report status, objective, proven bound and relative gap.

    `time_limit_s` is wall-clock time for this call, held by the watchdog whatever the solver does: the solver is
    told the limit, and one that has not stopped `watchdog.WATCHDOG_GRACE_S` later is abandoned with the best plan
    it had reported (HiGHS reports each better plan as it finds it). `mip_gap` is the relative gap at which the
    search stops and the plan counts as optimal (None: DEFAULT_MIP_GAP). With `warm_start` the current variable
    values are handed to the solver as a starting plan; a start that sets only the integer decisions is first
    completed (`complete_start`), so that the watchdog holds a plan from the outset. Raises SolverError when the
    solver is unknown, missing or fails. Ctrl-C (KeyboardInterrupt) stops the solver, or abandons it after
    `watchdog.INTERRUPT_GRACE_S`, and propagates. A `session` keeps the HiGHS instance for the next solve of
    the same model (see `HighsSession`); CBC ignores it.
    """
    if solver not in SOLVERS:
        raise SolverError(f"unknown solver {solver!r}; choose one of: {', '.join(SOLVERS)}")
    check_options(time_limit_s=time_limit_s, mip_gap=mip_gap, threads=threads)
    runner = _RUNNERS[solver]
    start = time.perf_counter()
    best = Incumbent()
    if warm_start and model.isMIP() and any(var.varValue is None for var in model.variables()):
        completed = complete_start(model, solver=solver, time_limit_s=time_limit_s, threads=threads)
        if completed is not None:
            best.offer(np.array([var.varValue for var in model.variables()], dtype=float), completed, None)
    left_s = None if time_limit_s is None else max(time_limit_s - (time.perf_counter() - start), 0.01)
    try:
        ran = watch(
            lambda: runner(model, time_limit_s=left_s, mip_gap=mip_gap, threads=threads,
                           warm_start=warm_start, best=best, session=session),
            cancel=best.cancel, time_limit_s=left_s,
            on_tick=None if progress is None else lambda seconds: progress(seconds, best.gap(), best.has_plan),
        )
    except _SOLVER_FAILURES as exc:
        if session is not None:
            session.discard()
        raise SolverError(f"solver {solver!r} failed ({type(exc).__name__}: {exc}); {_CRASH_FIX[solver]}") from exc
    except BaseException:
        if session is not None:
            session.discard()
        raise
    seconds = time.perf_counter() - start
    if ran is None and session is not None:  # abandoned: its thread may still hold the instance
        session.discard()
    if ran is None or (ran[0] == "not_solved" and best.has_plan):  # abandoned, or stopped before taking the start
        ran = best.restore(model, solver)
    status, bound_raw, version = ran
    objective = _objective_value(model) if status in ("optimal", "feasible") else None
    bound = bound_raw
    if status == "optimal" and (bound is None or not model.isMIP()):
        bound = objective
    if status == "optimal" and not proven_optimal(objective, bound, mip_gap):
        status = "feasible"
    return SolveOutcome(
        status=status,
        objective=objective,
        best_bound=bound,
        gap=relative_gap(objective, bound),
        solver=solver,
        solver_version=version,
        seconds=seconds,
    )


def complete_start(model: pulp.LpProblem, *, solver: str, time_limit_s: float | None,
                   threads: int | None) -> float | None:
    """Fill in the continuous values of a start plan that sets the integer decisions: solve the LP with those
    decisions fixed. Returns the completed plan's objective (its values then on the variables), or None when
    the start plan is infeasible or the LP did not finish (the variables keep the start's values).

    HiGHS completes such a start itself, but reports it only after presolve, which on a badly scaled model can
    outlast the whole time limit (20 s of probing on a 60-township county).
    """
    saved = [(var, var.varValue, var.lowBound, var.upBound, var.cat) for var in model.variables()]
    for var, value, *_ in saved:
        if var.cat == pulp.LpInteger and value is not None:
            var.lowBound = var.upBound = round(value)
            var.cat = pulp.LpContinuous
    try:
        outcome = solve(model, solver=solver, time_limit_s=time_limit_s, threads=threads)
    finally:
        for var, _, low, up, cat in saved:
            var.lowBound, var.upBound, var.cat = low, up, cat
    if outcome.status == "optimal":
        return outcome.objective
    for var, value, *_ in saved:
        var.varValue = value
    return None


def plan_status(outcomes: Sequence[SolveOutcome]) -> str:
    """The status word of a plan solved in stages: "optimal" only when every stage was proven (see
    `proven_optimal`), else "feasible" -- the word follows the least-proven stage."""
    return "optimal" if outcomes and all(o.status == "optimal" for o in outcomes) else "feasible"


def plan_gap(outcomes: Sequence[SolveOutcome]) -> float | None:
    """The gap of a plan solved in stages: the largest stage gap (None when a stage's gap is unknown)."""
    gaps = [o.gap for o in outcomes]
    return None if not gaps or any(g is None for g in gaps) else max(g for g in gaps if g is not None)


def proven_optimal(objective: float | None, bound: float | None, mip_gap: float | None) -> bool:
    """The one rule for the word "optimal": the plan's proven gap is within `mip_gap` (None: DEFAULT_MIP_GAP),
    or its absolute gap within ABSOLUTE_GAP.

    Solvers measure their gap without the objective's constant term (HiGHS before this package passed it, CBC
    still), so a solver's "optimal" alone can stand beside a real gap of several percent.
    """
    if objective is None or bound is None or not math.isfinite(bound):
        return False
    tolerance = DEFAULT_MIP_GAP if mip_gap is None else mip_gap
    gap = relative_gap(objective, bound)
    return abs(objective - bound) <= ABSOLUTE_GAP or (gap is not None and gap <= tolerance * (1 + 1e-9))


class Incumbent:
    """The best plan a running solver has reported, its bound, and the request to stop, shared between the
    solver's thread and the watchdog.

    `values` are the plan's column values in the order of `model.variables()`; `objective` and `bound` are in
    the model's sense with its constant term.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.values: np.ndarray | None = None
        self.objective: float | None = None
        self.bound: float | None = None
        self.cancelled = threading.Event()
        self.stoppers: list[Callable[[], None]] = []

    def offer(self, values: np.ndarray | None, objective: float | None, bound: float | None) -> None:
        """Record a better plan (values and objective) and/or a better bound."""
        with self._lock:
            if values is not None:
                self.values = np.array(values, dtype=float)
                self.objective = objective
            if bound is not None and math.isfinite(bound):
                self.bound = bound

    def gap(self) -> float | None:
        with self._lock:
            return relative_gap(self.objective, self.bound) if self.values is not None else None

    @property
    def has_plan(self) -> bool:
        return self.values is not None

    def cancel(self) -> None:
        """Ask the solver to stop (each solver registers how in `stoppers`)."""
        self.cancelled.set()
        for stop in list(self.stoppers):
            stop()

    def restore(self, model: pulp.LpProblem, solver: str) -> tuple[str, float | None, str]:
        """Put the best reported plan on the model's variables; (status, bound, version) of an abandoned solve."""
        with self._lock:
            values, objective, bound = self.values, self.objective, self.bound
        version = solver_version(solver)
        if values is None:
            return "not_solved", None, version
        for var, value in zip(model.variables(), values, strict=True):
            var.varValue = float(value)
        if bound is not None:
            bound = _anchored_bound(_objective_value(model), objective, bound)
        return "feasible", bound, version


def check_options(
    *, time_limit_s: float | None = None, mip_gap: float | None = None, threads: int | None = None
) -> None:
    """Reject option values no solver accepts, naming the option."""
    if time_limit_s is not None and not (time_limit_s > 0 and math.isfinite(time_limit_s)):
        raise SolverError(f"time limit must be a positive number of seconds, got {time_limit_s!r}")
    if mip_gap is not None and not (0 <= mip_gap < 1):
        raise SolverError(f"MIP gap must be a fraction in [0, 1), got {mip_gap!r}")
    if threads is not None and threads < 1:
        raise SolverError(f"threads must be at least 1, got {threads!r}")


def solver_version(solver: str) -> str:
    """The version of the solver's library or binary, "unknown" when it cannot be told without a run."""
    if solver == "highs":
        with _stdout_muted():
            highs = _highspy().Highs()
        return f"{highs.versionMajor()}.{highs.versionMinor()}.{highs.versionPatch()}"
    return "unknown"


def _objective_value(model: pulp.LpProblem) -> float:
    """The model's objective at the current variable values, constant term included."""
    value = pulp.value(model.objective)
    return float(value) if value is not None else 0.0


def relative_gap(objective: float | None, bound: float | None) -> float | None:
    """|objective - bound| / max(|objective|, 1e-9), or None when either is unknown."""
    if objective is None or bound is None or not math.isfinite(bound):
        return None
    return abs(objective - bound) / max(abs(objective), 1e-9)


# ---------------------------------------------------------------- HiGHS


def _highspy() -> Any:
    """The highspy module, or SolverError saying how to install it."""
    try:
        import highspy
    except ImportError as exc:
        raise SolverError(f"solver 'highs' is not available (highspy cannot be imported: {exc}); {_HIGHS_FIX}") from exc
    return highspy


class HighsSession:
    """One HiGHS instance kept across the solves of one PuLP model whose later solves only add rows and change
    the objective: the stages of `model.objectives.solve_model`, where each stage keeps the earlier objective by
    one added row. The next solve loads only the new rows and the new costs instead of the whole model again.

    Before reusing the instance the loader checks that the model still has the same columns (the same
    variables, bounds and integrality) and that the rows loaded before are still its first rows, by identity;
    otherwise (say `complete_start` changed bounds) it loads the model afresh. Rows must not be changed in
    place between solves: only appended. The solver state (plan, basis) is cleared before each run, so a run
    on the kept instance starts as a fresh one would, from the warm start it is given. A solve that is
    abandoned or fails discards the instance.
    """

    def __init__(self) -> None:
        self.highs: Any = None
        self.columns: list[pulp.LpVariable] = []
        self.column_state: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None
        self.rows: list[pulp.LpConstraint] = []
        self.full_loads = 0
        """How many times the whole model was loaded (1 when every later solve reused the instance)."""

    def discard(self) -> None:
        """Forget the instance: the next solve loads the model afresh."""
        self.highs, self.columns, self.column_state, self.rows = None, [], None, []

    def fits(self, variables: list[pulp.LpVariable], state: tuple[np.ndarray, np.ndarray, np.ndarray],
             constraints: list[pulp.LpConstraint]) -> bool:
        """The kept instance holds these columns (same variables, bounds, integrality) and the first rows."""
        return (self.highs is not None and self.column_state is not None
                and len(variables) == len(self.columns) and len(constraints) >= len(self.rows)
                and all(a is b for a, b in zip(variables, self.columns, strict=True))
                and all(np.array_equal(a, b) for a, b in zip(state, self.column_state, strict=True))
                and all(a is b for a, b in zip(constraints, self.rows, strict=False)))

    def remember(self, highs: Any, variables: list[pulp.LpVariable],
                 state: tuple[np.ndarray, np.ndarray, np.ndarray], constraints: list[pulp.LpConstraint]) -> None:
        self.highs, self.columns, self.column_state, self.rows = highs, variables, state, constraints


class _BulkHiGHS(pulp.HiGHS):
    """PuLP's in-process HiGHS interface, loading the model as whole arrays and able to start from a plan.

    PuLP hands HiGHS one column and one row per call, which on models of 10^5 pairs costs more than the
    solve; here columns and rows go over in one call each, in compressed sparse form. PuLP's own result
    reading (`findSolutionValues`) relies on `var.index` and `constraint.index`, which are set the same way.
    """

    def __init__(self, *, warm_start: bool, best: Incumbent, session: HighsSession | None = None,
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.warm_start = warm_start
        self.best = best
        self.session = session

    def createAndConfigureSolver(self, lp: pulp.LpProblem) -> None:
        """Create the Highs object with the process's standard output muted (see `_stdout_muted`), or take the
        session's, its solution cleared and its options set again as PuLP sets them on a new one."""
        kept = None if self.session is None else self.session.highs
        if kept is None:
            with _stdout_muted():
                super().createAndConfigureSolver(lp)
            return
        kept.clearSolver()
        kept.resetOptions()
        kept.setOptionValue("output_flag", bool(self.msg))
        for option, value in (("mip_rel_gap", self.gapRel), ("mip_abs_gap", self.gapAbs),
                              ("threads", self.threads), ("time_limit", self.timeLimit)):
            if value is not None:
                kept.setOptionValue(option, float(value) if option == "time_limit" else value)
        for option, value in self.optionsDict.items():
            kept.setOptionValue(option, value)
        lp.solverModel = kept

    def buildSolverModel(self, lp: pulp.LpProblem) -> None:
        """Pass columns (costs, bounds, integrality), the objective's constant and rows (CSR) to HiGHS in bulk;
        on the session's kept instance only the costs, the constant and the rows added since.

        The constant matters: HiGHS measures its relative gap on the objective it holds, and without the
        constant a weighted gap of 997 people held as -896,806 stopped at a real gap of 5.7%.
        """
        highs = lp.solverModel
        variables = lp.variables()
        costs, lower, upper, integer = self._columns(lp, variables)
        state_arrays = (lower, upper, integer)
        constraints = lp.constraints()
        session = self.session
        sense = -1.0 if lp.sense == pulp.LpMaximize else 1.0
        if session is not None and session.highs is highs and session.fits(variables, state_arrays, constraints):
            highs.changeColsCost(len(costs), np.arange(len(costs), dtype=np.int32), costs)
            new_rows = constraints[len(session.rows):]
            first_row = len(session.rows)
        else:
            if session is not None and session.highs is highs:  # the model changed: a fresh instance
                session.discard()
                self.createAndConfigureSolver(lp)
                highs = lp.solverModel
            highs.addCols(len(costs), costs, lower, upper, 0, np.zeros(0, np.int32), np.zeros(0, np.int32),
                          np.zeros(0))
            cols = np.flatnonzero(integer).astype(np.int32)
            if len(cols):
                kinds = np.full(len(cols), int(_highspy().HighsVarType.kInteger), dtype=np.uint8)
                highs.changeColsIntegrality(len(cols), cols, kinds)
            new_rows, first_row = constraints, 0
            if session is not None:
                session.full_loads += 1
        highs.changeObjectiveOffset(sense * float(lp.objective.constant))
        self._add_rows(highs, new_rows, first_row)
        if session is not None:
            session.remember(highs, variables, state_arrays, constraints)

    def _columns(self, lp: pulp.LpProblem, variables: list[pulp.LpVariable]
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Costs (in HiGHS's minimizing sense), lower and upper bounds and integrality of the columns; sets
        each variable's `index`, by which PuLP reads the plan back."""
        inf = _highspy().kHighsInf
        sense = -1.0 if lp.sense == pulp.LpMaximize else 1.0
        n = len(variables)
        costs, lower, upper = np.empty(n), np.empty(n), np.empty(n)
        integer = np.zeros(n, dtype=bool)
        for i, var in enumerate(variables):
            var.index = i
            costs[i] = sense * lp.objective.get(var, 0.0)
            lower[i] = -inf if var.lowBound is None else var.lowBound
            upper[i] = inf if var.upBound is None else var.upBound
            integer[i] = var.cat == pulp.LpInteger and self.mip
        return costs, lower, upper, integer

    @staticmethod
    def _add_rows(highs: Any, constraints: Sequence[pulp.LpConstraint], first_row: int) -> None:
        """Add `constraints` as rows `first_row`, `first_row + 1`, ... in one call (CSR); sets each `index`."""
        inf = _highspy().kHighsInf
        m = len(constraints)
        row_lower = np.empty(m)
        row_upper = np.empty(m)
        starts = np.empty(m, dtype=np.int32)
        indices: list[int] = []
        values: list[float] = []
        for r, constraint in enumerate(constraints):
            constraint.index = first_row + r
            starts[r] = len(indices)
            for var, coefficient in constraint.items():
                if coefficient != 0:
                    indices.append(var.index)
                    values.append(coefficient)
            lb, ub = constraint.getLb(), constraint.getUb()
            row_lower[r] = -inf if lb is None else lb
            row_upper[r] = inf if ub is None else ub
        if m:
            highs.addRows(m, row_lower, row_upper, len(indices), starts, np.asarray(indices, dtype=np.int32),
                          np.asarray(values, dtype=np.float64))

    def callSolver(self, lp: pulp.LpProblem) -> None:
        """Hand over the current variable values as a starting plan when asked, then run until done or stopped.

        Every better plan HiGHS finds, and its bound as the search goes, is offered to `best`, so that a
        watchdog that abandons a stalled solve still has the best plan; `best.cancel()` stops the search through
        HiGHS's interrupt callbacks (which cost about 1%: 9.8 s against 9.6 s on OR-Library pmed6).
        """
        highs = lp.solverModel
        if self.warm_start:
            start = [(var.index, var.varValue) for var in lp.variables() if var.varValue is not None]
            if start:
                cols, vals = zip(*start, strict=True)
                highs.setSolution(len(cols), np.asarray(cols, dtype=np.int32), np.asarray(vals, dtype=np.float64))
        sense = -1.0 if lp.sense == pulp.LpMaximize else 1.0
        best = self.best

        def improved(event: Any) -> None:
            out = event.data_out
            best.offer(np.asarray(out.mip_solution), sense * out.objective_function_value,
                       sense * out.mip_dual_bound)

        def searching(event: Any) -> None:
            best.offer(None, None, sense * event.data_out.mip_dual_bound)

        highs.cbMipImprovingSolution.clear()  # a kept instance holds the callbacks of the last solve
        highs.cbMipInterrupt.clear()
        highs.cbMipImprovingSolution.subscribe(improved)
        highs.cbMipInterrupt.subscribe(searching)
        highs.HandleUserInterrupt = True
        best.stoppers.append(highs.cancelSolve)
        if best.cancelled.is_set():
            return
        try:
            highs.run()
        finally:  # as highspy's own solve thread does (the method's name before 1.16: resetGlobalScheduler)
            core = _highspy()._Highs
            (getattr(core, "resetThreadScheduler", None) or core.resetGlobalScheduler)(False)


@contextlib.contextmanager
def _stdout_muted() -> Iterator[None]:
    """Point file descriptor 1 at os.devnull for the block.

    HiGHS writes its banner straight to the process's standard output when the first Highs object is created,
    past any output option, which would corrupt JSON that a caller prints there.
    """
    sys.stdout.flush()
    saved = os.dup(1)
    try:
        with open(os.devnull, "wb") as sink:
            os.dup2(sink.fileno(), 1)
            yield
    finally:
        os.dup2(saved, 1)
        os.close(saved)


def _solve_highs(
    model: pulp.LpProblem,
    *,
    time_limit_s: float | None,
    mip_gap: float | None,
    threads: int | None,
    warm_start: bool,
    best: Incumbent,
    session: HighsSession | None = None,
) -> tuple[str, float | None, str]:
    """Run HiGHS in process; return (status, best bound in the model's sense, version)."""
    highspy = _highspy()
    engine = _BulkHiGHS(warm_start=warm_start, best=best, session=session, msg=False, timeLimit=time_limit_s,
                        gapRel=mip_gap, threads=threads)
    model.solve(engine)
    highs = model.solverModel
    version = f"{highs.versionMajor()}.{highs.versionMinor()}.{highs.versionPatch()}"
    status_enum = highspy.HighsModelStatus
    model_status = highs.getModelStatus()
    info = highs.getInfo()
    has_plan = info.primal_solution_status == 2  # kSolutionStatusFeasible
    if model_status == status_enum.kUnboundedOrInfeasible:
        if session is not None:  # the check below changes the instance's costs and options
            session.discard()
        status = _infeasible_or_unbounded(highs, highspy)
    elif model_status == status_enum.kOptimal:
        status = "optimal"
    elif model_status == status_enum.kInfeasible:
        status = "infeasible"
    elif model_status == status_enum.kUnbounded:
        status = "unbounded"
    elif model_status == status_enum.kModelEmpty:
        status = "optimal"
    elif model_status in (
        status_enum.kTimeLimit,
        status_enum.kIterationLimit,
        status_enum.kInterrupt,
        status_enum.kSolutionLimit,
        status_enum.kObjectiveBound,
        status_enum.kObjectiveTarget,
    ):
        status = "feasible" if has_plan else "not_solved"
    else:
        raise SolverError(
            f"solver 'highs' stopped with status {highs.modelStatusToString(model_status)!r}; try `--solver cbc`"
        )
    bound = None
    if model.isMIP() and status in ("optimal", "feasible") and math.isfinite(info.mip_dual_bound):
        sense = -1.0 if model.sense == pulp.LpMaximize else 1.0
        bound = _anchored_bound(_objective_value(model), sense * info.objective_function_value,
                                sense * info.mip_dual_bound)
    return status, bound, version


def _anchored_bound(plan_objective: float, reported_objective: float | None, reported_bound: float) -> float:
    """HiGHS's bound moved by the difference between the plan's objective (recomputed from its values) and the
    objective HiGHS reports for it, so that the gap is HiGHS's own primal-dual difference.

    Given a start plan, HiGHS 1.16 can report objective and bound both short of the plan it returns (a cost
    stage: 2.4 M yuan reported, the plan's columns cost 3.0 M, the true optimum; without the start it reports
    3.0 M), which would read as a 20% gap on a proven plan.
    """
    if reported_objective is None or not math.isfinite(reported_objective):
        return reported_bound
    return plan_objective - (reported_objective - reported_bound)


def _infeasible_or_unbounded(highs: Any, highspy: Any) -> str:
    """Tell infeasible from unbounded: drop the objective and ask whether any plan exists at all."""
    num_cols = highs.getNumCol()
    highs.changeColsCost(num_cols, np.arange(num_cols, dtype=np.int32), np.zeros(num_cols))
    highs.setOptionValue("presolve", "off")
    highs.run()
    return "unbounded" if highs.getModelStatus() == highspy.HighsModelStatus.kOptimal else "infeasible"


# ---------------------------------------------------------------- CBC

_CBC_VERSION = re.compile(r"^Version:\s*(\S+)", re.MULTILINE)
_CBC_RESULT_BOUND = re.compile(r"^(?:Lower|Upper) bound:\s*(\S+)", re.MULTILINE)
_CBC_BEST_POSSIBLE = re.compile(r"best possible (\S+?)[\s)]")
_CBC_TIME_STOP = re.compile(r"Stopped on time|Exiting on maximum time")


def _solve_cbc(
    model: pulp.LpProblem,
    *,
    time_limit_s: float | None,
    mip_gap: float | None,
    threads: int | None,
    warm_start: bool,
    best: Incumbent,
    session: HighsSession | None = None,
) -> tuple[str, float | None, str]:
    """Run PuLP's bundled CBC with its log in a temporary file; return (status, best bound, version).

    CBC reports no plan before it ends, so a CBC run the watchdog abandons has none (`best` stays empty); CBC
    holds its time limit itself and stops on the same Ctrl-C as this process.
    """
    with tempfile.TemporaryDirectory(prefix="allocopt-cbc-") as tmp:
        log_path = Path(tmp) / "cbc.log"
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="PULP_CBC_CMD is deprecated", category=DeprecationWarning)
            engine = pulp.PULP_CBC_CMD(
                msg=False,
                timeLimit=time_limit_s,
                gapRel=mip_gap,
                threads=threads,
                warmStart=warm_start,
                logPath=str(log_path),
            )
        if not engine.available():
            raise SolverError(f"solver 'cbc' is not available (no CBC binary at {engine.path}); {_CBC_FIX}")
        model.solve(engine)
        log = log_path.read_text(encoding="utf-8", errors="replace") if log_path.exists() else ""
    version_match = _CBC_VERSION.search(log)
    version = version_match.group(1) if version_match else "unknown"
    if model.status == pulp.LpStatusOptimal:
        status = "optimal" if model.sol_status == pulp.LpSolutionOptimal else "feasible"
    elif model.status == pulp.LpStatusInfeasible and not _CBC_TIME_STOP.search(log):
        status = "infeasible"
    elif model.status == pulp.LpStatusUnbounded:
        status = "unbounded"
    elif model.status in (pulp.LpStatusNotSolved, pulp.LpStatusInfeasible):
        # a time limit hit before the first LP is through leaves CBC's solution file saying "Infeasible"
        status = "not_solved"
    else:
        raise SolverError(f"solver 'cbc' returned an undefined status; see its log:\n{log[-2000:]}")
    bound = _cbc_bound(log, model) if status in ("optimal", "feasible") else None
    return status, bound, version


def _cbc_bound(log: str, model: pulp.LpProblem) -> float | None:
    """The best proven bound from CBC's log, in the model's sense and with its constant term.

    The result block ("Lower bound:" or, when maximizing, "Upper bound:") is already in the model's sense;
    the progress lines ("best possible") are in CBC's internal minimizing sense. Neither holds the constant.
    """
    result = _CBC_RESULT_BOUND.findall(log)
    progress = _CBC_BEST_POSSIBLE.findall(log)
    try:
        if result:
            raw = float(result[-1])
        elif progress:
            raw = (-1.0 if model.sense == pulp.LpMaximize else 1.0) * float(progress[-1])
        else:
            return None
    except ValueError:
        return None
    return raw + float(model.objective.constant)


_RUNNERS: dict[str, Callable[..., tuple[str, float | None, str]]] = {"highs": _solve_highs, "cbc": _solve_cbc}
"""How each solver runs: (model, time_limit_s, mip_gap, threads, warm_start, best, session) -> (status, bound,
version); CBC ignores the session."""
