"""HiGHS in process through highspy: the model loaded as whole arrays, one instance kept across the stages of a
solve (`HighsSession`), the best plan and bound reported as the search goes, and HiGHS's status and bound read
back in the model's sense. `solve.solve` runs it under the watchdog (`solve._RUNNERS`).

The loader overrides PuLP's HiGHS hooks (createAndConfigureSolver, buildSolverModel, callSolver) and relies on
PuLP reading results by `var.index` and `constraint.index`; tests/test_solve.py checks that they still exist,
and PuLP is pinned below its next major version.
"""

from __future__ import annotations

import contextlib
import math
import os
import sys
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pulp

from allocopt.errors import SolverError

if TYPE_CHECKING:
    from allocopt.solve import Incumbent

_HIGHS_FIX = "install it with `pip install highspy`, or try `--solver cbc`"


def objective_value(model: pulp.LpProblem) -> float:
    """The model's objective at the current variable values, constant term included."""
    value = pulp.value(model.objective)
    return float(value) if value is not None else 0.0


def highs_version() -> str:
    """The version of the highspy library, as a Highs object tells it (its banner muted)."""
    with stdout_muted():
        highs = highspy_module().Highs()
    return f"{highs.versionMajor()}.{highs.versionMinor()}.{highs.versionPatch()}"


def highspy_module() -> Any:
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


class BulkHiGHS(pulp.HiGHS):
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
        """Create the Highs object with the process's standard output muted (see `stdout_muted`), or take the
        session's, its solution cleared and its options set again as PuLP sets them on a new one."""
        kept = None if self.session is None else self.session.highs
        if kept is None:
            with stdout_muted():
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
                kinds = np.full(len(cols), int(highspy_module().HighsVarType.kInteger), dtype=np.uint8)
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
        inf = highspy_module().kHighsInf
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
        inf = highspy_module().kHighsInf
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
            core = highspy_module()._Highs
            (getattr(core, "resetThreadScheduler", None) or core.resetGlobalScheduler)(False)


@contextlib.contextmanager
def stdout_muted() -> Iterator[None]:
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


def solve_highs(
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
    highspy = highspy_module()
    engine = BulkHiGHS(warm_start=warm_start, best=best, session=session, msg=False, timeLimit=time_limit_s,
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
        bound = anchored_bound(objective_value(model), sense * info.objective_function_value,
                                sense * info.mip_dual_bound)
    return status, bound, version


def anchored_bound(plan_objective: float, reported_objective: float | None, reported_bound: float) -> float:
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
