"""The names a user picks from, in a module that imports nothing: the command line offers them as choices
without loading the library, and the library modules that own them take them from here (`solve.SOLVERS`,
`model.OBJECTIVES`, `model.robust.ROBUST_MODES`, `costs.DISTANCES`)."""

from __future__ import annotations

SOLVERS: tuple[str, ...] = ("highs", "cbc")
"""MILP solvers: HiGHS in process (the default, `solve.DEFAULT_SOLVER`), CBC as the binary PuLP ships."""

OBJECTIVES: tuple[str, ...] = ("gap", "equity", "travel", "cost")
"""`gap`: weighted people left unserved; `equity`: largest township gap share, then the gap; `travel`:
population-weighted minutes to the nearest primary-care site; `cost`: the cheapest plan meeting the hard
targets (the budget is not applied)."""

PLAN_OBJECTIVES: tuple[str, ...] = ("gap", "equity", "travel")
"""The objectives a plan is chosen by (`optimize`, `sweep`, `batch`); `cost` serves `model.explain`, which
prices the hard targets."""

ROBUST_MODES: tuple[str, ...] = ("expected", "worst")
"""`expected`: minimize the weighted gap over normal conditions and the closure scenarios; `worst`: minimize the
largest scenario gap, then the expected one."""

DISTANCES: tuple[str, ...] = ("euclidean", "great-circle")
"""Distances between points of a cost matrix: Euclidean in the coordinates' unit, great-circle in km."""
