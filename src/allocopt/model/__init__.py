"""The allocation MILP: the problem (sets and parameters), the model (constraint families) and its objectives."""

from allocopt.model.allocation import COST_LINES, OBJECTIVES, AllocationModel, build_model
from allocopt.model.explain import check_attainable, explain_infeasible
from allocopt.model.objectives import solve_model
from allocopt.model.problem import Problem, build_problem

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
