"""Robust optimize (`optimize --robust`): one plan for normal conditions and every closure scenario, each
scenario's coverage before and after it, what robustness costs in normal conditions, and the critical road
links of the region (`allocopt.vulnerability`, with today's sites) for result.gpkg and the report.

The plan comes from the allocation MILP with the robust families of `model.robust`; the plain plan (the same
scenario without `--robust`) is solved too, so that the cost of robustness, the robust plan's normal-conditions
gap minus the plain plan's, is known. Every figure here is recomputed from the plans and the travel minutes
(`results.recompute_access`), not read from the model.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from allocopt.closures import closure_matrix
from allocopt.model import Problem, build_problem
from allocopt.model.robust import ClosureProblem, add_robust
from allocopt.network import RoadNetwork
from allocopt.optimize import optimize_problem
from allocopt.pathways import transfer_matrix
from allocopt.plan import Plan
from allocopt.regions import Region
from allocopt.results import Result, recompute_access, weighted_gap
from allocopt.scenario import Scenario
from allocopt.services import CENTERS, EQUIPMENT, center_column
from allocopt.solve import DEFAULT_SOLVER
from allocopt.travel import MatrixLike
from allocopt.vulnerability import Vulnerability, vulnerability

NORMAL = "normal conditions"
"""Name of the no-closure scenario in tables."""


@dataclass(frozen=True)
class RobustPlan:
    """The robust plan, the plain plan, per scenario and service the residents beyond the threshold today, with
    the robust plan and with the plain plan (`scenarios`), the weighted gaps (`gaps`), and each road line ranked
    by the residents it pushes beyond a threshold when closed with today's sites (`critical_links`)."""

    mode: str
    result: Result
    plain: Result
    scenarios: pd.DataFrame
    gaps: pd.DataFrame
    critical_links: Vulnerability

    def to_summary(self) -> dict[str, Any]:
        """The robust figures for summary.json: mode, gaps per scenario, expected and worst, cost of robustness."""
        gaps = self.gaps.set_index("scenario")
        normal = gaps.loc[NORMAL]
        return {
            "mode": self.mode,
            "gaps": self.gaps.to_dict("records"),
            "expected_gap": {col: float((gaps["weight"] * gaps[col]).sum()) for col in ("today", "robust", "plain")},
            "worst_gap": {col: float(gaps[col].max()) for col in ("today", "robust", "plain")},
            "cost_of_robustness": float(normal["robust"] - normal["plain"]),
        }


def plan_under_closures(region: Region, network: RoadNetwork, matrix: MatrixLike, scenario: Scenario, *,
                        mode: str, objective: str = "gap", solver: str = DEFAULT_SOLVER,
                        time_limit_s: float | None = None, mip_gap: float | None = None, cache_dir: Path | None = None,
                        on_step: Callable[[str], None] | None = None) -> RobustPlan:
    """Solve the robust plan (`mode`: expected or worst) and the plain one for `scenario`'s closures.

    ScenarioError when the scenario has no closures, or for an objective other than gap (`model.robust`)."""
    step = on_step or (lambda _: None)
    # Care pathways ([pathways]) are planned under normal conditions: every scenario's problem takes the normal
    # site x site minutes, and the pathway term is the same in every scenario's gap (model.robust).
    transfers = (transfer_matrix(region, network, cache_dir=cache_dir) if scenario.pathways is not None else None)
    problem = build_problem(region, matrix, scenario, transfer_matrix=transfers)
    closures = []
    for closure in scenario.closures:
        step(f"Travel times under closure {closure.name!r}")
        closed = closure_matrix(region, network, closure, cache_dir=cache_dir)
        closures.append(ClosureProblem(closure.name, closure.weight,
                                       build_problem(region, closed, scenario, transfer_matrix=transfers)))
    settings: dict[str, Any] = {"objective": objective, "solver": solver, "time_limit_s": time_limit_s,
                                "mip_gap": mip_gap}
    result = optimize_problem(problem, on_step=on_step, extend=lambda m: add_robust(m, closures, mode), **settings)
    step("Solving the plain plan, for the cost of robustness")
    plain = optimize_problem(problem, **settings)
    problems = [ClosureProblem(NORMAL, 1.0 - sum(c.weight for c in closures), problem), *closures]
    plans = {"today": Plan.empty(problem), "robust": _plan_of(problem, result), "plain": _plan_of(problem, plain)}
    pathway_terms = ({"today": result.pathways.before.objective, "robust": result.pathways.after.objective,
                      "plain": plain.pathways.after.objective}
                     if result.pathways is not None and plain.pathways is not None else {})
    step("Ranking the critical road links")
    links = vulnerability(region, network, scenario, services=problem.services)
    return RobustPlan(mode, result, plain, *_tables(problems, plans, pathway_terms), critical_links=links)


def _plan_of(problem: Problem, result: Result) -> Plan:
    """The decisions of a result, read back from its per-site table."""
    sites = result.sites.set_index("id").loc[list(problem.site_ids)]
    return Plan(
        opened=sites["opened"].to_numpy(dtype=bool) & problem.is_candidate,
        added_gps=sites["added_gps"].to_numpy(dtype=np.int64),
        added_equipment={k: sites[f"added_{k}"].to_numpy(dtype=np.int64) for k in EQUIPMENT},
        new_centers={s: sites[f"new_{center_column(s)}"].to_numpy(dtype=bool) for s in CENTERS},
        added_village_doctors=sites["added_village_doctors"].to_numpy(dtype=np.int64),
        tier_centers=({c: lower | upper for c, (lower, upper) in result.pathways.after.holds.items()}
                      if result.pathways is not None else {}),
    )


def _tables(problems: list[ClosureProblem], plans: dict[str, Plan], pathway_terms: dict[str, float]
            ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Residents beyond each threshold and weighted gaps per scenario under each plan, recomputed; each plan's
    untreated pathway cases (`pathway_terms`, normal conditions) are part of its gap in every scenario."""
    rows, gaps = [], []
    for closure in problems:
        p = closure.problem
        access = {label: recompute_access(p, plan, travel_cutoff_minutes=p.default_travel_cutoff())
                  for label, plan in plans.items()}
        rows += [{"scenario": closure.name, "weight": closure.weight, "service": v,
                  "threshold_minutes": float(p.scenario.thresholds_minutes[v]),
                  "unserved_before": access["today"].unserved[v], "unserved_after": access["robust"].unserved[v],
                  "unserved_after_plain": access["plain"].unserved[v]} for v in p.services]
        gaps.append({"scenario": closure.name, "weight": closure.weight,
                     **{label: weighted_gap(p, value) + pathway_terms.get(label, 0.0)
                        for label, value in access.items()}})
    return pd.DataFrame(rows), pd.DataFrame(gaps)
