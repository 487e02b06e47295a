"""The allocation MILP: the problem (sets and parameters), the model (constraint families) and its objectives.

Names are loaded on first use, so that importing a cost-matrix model (`allocopt.model.classic`) does not load the
allocation model and its geographic inputs.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from allocopt.model.allocation import COST_LINES, OBJECTIVES, AllocationModel, build_model
    from allocopt.model.explain import check_attainable, explain_infeasible
    from allocopt.model.objectives import solve_model
    from allocopt.model.problem import Problem, build_problem

_HOMES = {
    "COST_LINES": "allocation",
    "OBJECTIVES": "allocation",
    "AllocationModel": "allocation",
    "build_model": "allocation",
    "check_attainable": "explain",
    "explain_infeasible": "explain",
    "solve_model": "objectives",
    "Problem": "problem",
    "build_problem": "problem",
}

__all__ = [
    "COST_LINES",
    "OBJECTIVES",
    "AllocationModel",
    "Problem",
    "build_model",
    "build_problem",
    "check_attainable",
    "explain_infeasible",
    "solve_model",
]


def __getattr__(name: str) -> Any:
    """Load `name` from the module that defines it (PEP 562)."""
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{home}"), name)
