"""Solver choice and options, status, bound and gap.

HiGHS runs in process through highspy (the model handed over as whole arrays, 3.5x faster than PuLP's
row-by-row calls: 0.42 s against 1.55 s for 160,000 columns and rows), CBC as the binary PuLP ships.
HiGHS is the default because, measured as build plus solve wall time on 2 cores (HiGHS 1.16, CBC 2.10.3), it
proved the 300-400-node OR-Library p-medians pmed11/pmed16/pmed18 optimal in 12/27/16 s where CBC took
63 s/stopped at the 300 s limit 5% above the optimum/46 s, while on coverage models neither won throughout
(MCLP 5,000 x 1,000 demand-site pairs within radius 4/6: HiGHS 0.7/12.5 s, CBC 1.5/4.3 s).
"""

from __future__ import annotations

import math
import re
import tempfile
import threading
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pulp

from allocopt.choices import SOLVERS
from allocopt.errors import SolverError
from allocopt.highs import HighsSession, anchored_bound, highs_version, objective_value, solve_highs
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
    objective = objective_value(model) if status in ("optimal", "feasible") else None
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
            bound = anchored_bound(objective_value(model), objective, bound)
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
    return highs_version() if solver == "highs" else "unknown"


def relative_gap(objective: float | None, bound: float | None) -> float | None:
    """|objective - bound| / max(|objective|, 1e-9), or None when either is unknown."""
    if objective is None or bound is None or not math.isfinite(bound):
        return None
    return abs(objective - bound) / max(abs(objective), 1e-9)


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


_RUNNERS: dict[str, Callable[..., tuple[str, float | None, str]]] = {"highs": solve_highs, "cbc": _solve_cbc}
"""How each solver runs: (model, time_limit_s, mip_gap, threads, warm_start, best, session) -> (status, bound,
version); CBC ignores the session."""
