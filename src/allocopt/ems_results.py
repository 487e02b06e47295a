"""Ambulances before and after a plan, recomputed from the plan's decisions and the travel minutes alone.

Per station: today's ambulances, those added, whether a candidate opens, the residents within the response
threshold and those it reaches first; per demand point: response minutes from the nearest staffed station, the
ambulances within reach and the chance 1 - q^k of finding one free; for the region: residents covered, expected
coverage (Daskin 1983) and the fleet against the norm of one ambulance per `residents_per_ambulance`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import pulp

from allocopt.ems import EmsData, covered_counts
from allocopt.errors import SolverError

if TYPE_CHECKING:
    from allocopt.model.allocation import AllocationModel
    from allocopt.model.problem import Problem

STATION_LEVEL = "ems_station"
"""The `level` of ambulance and station rows in allocations.csv."""


@dataclass(frozen=True)
class EmsState:
    """Ambulances at every station and what they reach, in one state (before or after the plan)."""

    ambulances: np.ndarray
    response_minutes: np.ndarray
    within: np.ndarray
    expected_share: np.ndarray

    @property
    def covered(self) -> np.ndarray:
        """Per demand point: a staffed station within the response threshold."""
        return self.within > 0


@dataclass(frozen=True, eq=False)
class EmsResult:
    """Ambulances before and after a plan: tables `stations` and `demand` (docs/results.md) and region figures."""

    data: EmsData
    population: np.ndarray
    demand_ids: tuple[str, ...]
    demand_township: tuple[str, ...]
    added: np.ndarray
    opened: np.ndarray
    before: EmsState
    after: EmsState

    def expected_covered(self, state: EmsState) -> float:
        """Residents expected to find a free ambulance within the threshold: sum_i w_i (1 - q^k_i)."""
        return float((self.population * state.expected_share).sum())

    def objective(self, state: EmsState) -> float:
        """The `gap` objective's ambulance term: weight x residents not expected to be reached in time."""
        return self.data.settings.weight * (self.data.population - self.expected_covered(state))

    @property
    def stations(self) -> pd.DataFrame:
        """One row per station: today's and added ambulances, residents within reach and reached first, cost."""
        inputs, settings = self.data.inputs, self.data.settings
        capital = self.added * settings.ambulance_capital_yuan + self.opened * settings.station_capital_yuan
        annual = self.added * settings.ambulance_annual_yuan + self.opened * settings.station_annual_yuan
        table = {"id": list(inputs.station_ids), "name": list(inputs.station_names),
                 "township_code": list(inputs.station_township), "candidate": inputs.candidate,
                 "opened": self.opened | ~inputs.candidate,
                 "ambulances_before": self.before.ambulances, "added": self.added,
                 "ambulances_after": self.after.ambulances}
        for label, state in (("before", self.before), ("after", self.after)):
            table[f"residents_within_{label}"] = self._within_threshold(state)
        for label, state in (("before", self.before), ("after", self.after)):
            table[f"first_due_residents_{label}"] = self._first_due(state)
        return pd.DataFrame({**table, "capital_yuan": capital, "annual_yuan": annual, "cost_yuan": capital + annual})

    @property
    def demand(self) -> pd.DataFrame:
        """One row per demand point: response minutes, ambulances within reach and expected coverage."""
        table: dict[str, Any] = {"id": list(self.demand_ids), "township_code": list(self.demand_township),
                                 "population": self.population}
        for label, state in (("before", self.before), ("after", self.after)):
            table[f"response_minutes_{label}"] = state.response_minutes
        for label, state in (("before", self.before), ("after", self.after)):
            table[f"ambulances_within_{label}"] = state.within
        for label, state in (("before", self.before), ("after", self.after)):
            table[f"expected_coverage_{label}"] = state.expected_share
        return pd.DataFrame(table)

    def allocations(self, columns: tuple[str, ...]) -> pd.DataFrame:
        """Rows of allocations.csv (`columns`): new stations (`ems_station`) and ambulances (`ambulance`)."""
        inputs, settings = self.data.inputs, self.data.settings
        rows = []
        for resource, quantity, capital, annual in (
                ("ems_station", self.opened.astype(np.int64), settings.station_capital_yuan,
                 settings.station_annual_yuan),
                ("ambulance", self.added, settings.ambulance_capital_yuan, settings.ambulance_annual_yuan)):
            for j in np.flatnonzero(quantity > 0):
                q = int(quantity[j])
                rows.append((inputs.station_ids[j], inputs.station_names[j], STATION_LEVEL,
                             inputs.station_township[j], resource, q, capital * q, annual * q, (capital + annual) * q))
        return pd.DataFrame(rows, columns=list(columns)).astype(
            {"quantity": np.int64, "capital_yuan": float, "annual_yuan": float, "cost_yuan": float})

    def summary(self) -> dict[str, Any]:
        """summary.json `ems`: coverage within the threshold, expected coverage and the fleet, before and after."""
        settings, total = self.data.settings, self.data.population
        norm = settings.fleet_norm(total)
        figures: dict[str, Any] = {
            "response_threshold_minutes": settings.response_threshold_minutes,
            "dispatch_minutes": settings.dispatch_minutes,
            "busy_fraction": settings.busy_fraction,
            "weight": settings.weight,
            "fleet_norm": norm,
            "residents_per_ambulance_norm": settings.residents_per_ambulance,
            "fleet_norm_hard": settings.fleet_norm_hard,
            "fleet_cap": settings.fleet_cap_ambulances(total, self.data.fleet_today),
            "stations_opened": int(self.opened.sum()),
            "ambulances_added": int(self.added.sum()),
        }
        for label, state in (("before", self.before), ("after", self.after)):
            covered = float(self.population[state.covered].sum())
            expected = self.expected_covered(state)
            reached = np.isfinite(state.response_minutes) & (self.population > 0)
            mean = (float((self.population * state.response_minutes)[reached].sum() / self.population[reached].sum())
                    if reached.any() else None)
            figures[label] = {
                "fleet": int(state.ambulances.sum()),
                "fleet_meets_norm": bool(state.ambulances.sum() >= norm),
                "residents_per_ambulance": total / state.ambulances.sum() if state.ambulances.sum() else None,
                "covered_population": covered,
                "covered_share": covered / total if total > 0 else None,
                "expected_covered_population": expected,
                "expected_coverage": expected / total if total > 0 else None,
                "mean_response_minutes": mean,
                "unreached_population": float(self.population[~reached].sum()),
                "objective": self.objective(state),
            }
        return figures

    def _within_threshold(self, state: EmsState) -> np.ndarray:
        """Per station: residents within the threshold of it (counted while it holds ambulances)."""
        inputs = self.data.inputs
        within = inputs.response_minutes(self.data.settings) <= self.data.settings.response_threshold_minutes
        return np.where(state.ambulances > 0, self.population @ within, 0.0)

    def _first_due(self, state: EmsState) -> np.ndarray:
        """Per station: residents for whom it is the nearest staffed station (ties to the first in layer order)."""
        minutes = np.where(state.ambulances[None, :] > 0, self.data.inputs.response_minutes(self.data.settings),
                           np.inf)
        reached = np.isfinite(minutes).any(axis=1) if minutes.shape[1] else np.zeros(len(minutes), dtype=bool)
        nearest = minutes.argmin(axis=1) if minutes.shape[1] else np.zeros(len(minutes), dtype=np.int64)
        return np.bincount(nearest[reached], weights=self.population[reached], minlength=minutes.shape[1])


def ems_state(data: EmsData, ambulances: np.ndarray) -> EmsState:
    """What stations holding `ambulances` reach: response, ambulances within reach, chance of one free."""
    within = covered_counts(data, ambulances)
    return EmsState(ambulances=np.asarray(ambulances, dtype=np.int64),
                    response_minutes=data.inputs.nearest_staffed_minutes(data.settings, ambulances),
                    within=within, expected_share=data.settings.expected_share(within))


def ems_result(p: Problem, *, added: np.ndarray, opened: np.ndarray) -> EmsResult:
    """The EmsResult of adding `added` ambulances per station and opening the candidate stations `opened`."""
    data = p.ems
    assert data is not None, "ems_result is called for problems with [ems]"
    today = np.asarray(data.inputs.ambulances, dtype=np.int64)
    return EmsResult(data=data, population=p.demand_population, demand_ids=p.demand_ids,
                     demand_township=tuple(p.township_ids[t] for t in p.demand_township),
                     added=np.asarray(added, dtype=np.int64), opened=np.asarray(opened, dtype=bool),
                     before=ems_state(data, today), after=ems_state(data, today + added))


def ems_result_from_model(m: AllocationModel, *, relative_tolerance: float) -> EmsResult:
    """The EmsResult of a solved model's decisions; SolverError when the model claims more expected coverage than
    the plan delivers."""
    p, e = m.problem, m.ems
    assert p.ems is not None and e is not None, "the model has the ambulance family"
    ids = p.ems.inputs.station_ids
    added = np.array([round(float(e.amb[s].varValue or 0.0)) if s in e.amb else 0 for s in ids], dtype=np.int64)
    opened = np.array([round(float(e.amb_open[s].varValue or 0.0)) >= 1 if s in e.amb_open else False
                       for s in ids], dtype=bool)
    result = ems_result(p, added=added, opened=opened)
    claimed, actual = float(pulp.value(e.expected_uncovered)), p.ems.population - result.expected_covered(result.after)
    if claimed < actual - relative_tolerance * max(1.0, p.ems.population):
        raise SolverError(f"the solver's plan does not deliver what the model claims (report this as a bug): the "
                          f"model expects {claimed:,.1f} residents not reached by an ambulance in time, the plan "
                          f"leaves {actual:,.1f}")
    return result
