"""Tiered-care results: first contact and referral before and after a plan, recomputed from its decisions.

The figures come from `model.referral.evaluate_tiers` on today's staff and consortium links (before) and on the
plan's GPs, opened sites and links (after), never from the model's flow variables; `tier_result` then checks the
model claimed nothing the plan does not deliver. `results.build_result` attaches the TierResult to its Result.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import pulp

from allocopt.access import ratio_array
from allocopt.errors import SolverError
from allocopt.model.allocation import AllocationModel
from allocopt.model.problem import Problem
from allocopt.model.referral import TierState, evaluate_tiers, plan_leads


@dataclass(frozen=True, eq=False)
class TierResult:
    """First contact and referral before the plan (today's GPs and consortium leads, else the nearest hospital)
    and after it (the plan's GPs, opened sites and links).

    Tables: `referrals` (REFERRAL_COLUMNS, one row per site giving first contact after the plan), `hospitals`
    (HOSPITAL_COLUMNS), `first_contact` (FIRST_CONTACT_COLUMNS, one row per demand point).
    """

    before: TierState
    after: TierState
    referrals: pd.DataFrame
    hospitals: pd.DataFrame
    first_contact: pd.DataFrame
    target_grassroots_share: float
    min_grassroots_share: float

    def summary(self) -> dict[str, Any]:
        """The `tiers` figures of summary.json (docs/results.md)."""
        before, after = self.before, self.after
        figures: dict[str, Any] = {"visits_per_year": after.total_visits,
                                   "target_grassroots_share": self.target_grassroots_share,
                                   "min_grassroots_share": self.min_grassroots_share}
        for label, state in (("before", before), ("after", after)):
            figures |= {
                f"grassroots_share_{label}": state.grassroots_share,
                f"grassroots_visits_{label}": float(state.met_visits.sum()),
                f"mean_primary_minutes_{label}": state.mean_primary_minutes,
                f"referral_visits_{label}": float(state.load_visits.sum()),
                f"mean_referral_minutes_{label}": state.mean_referral_minutes,
                f"stepdown_patients_{label}": float(state.stepdown_patients.sum()),
                f"objective_terms_{label}": dict(state.terms),
            }
        hospitals = self.hospitals
        share = after.grassroots_share
        figures |= {
            "meets_target_after": share is not None and share >= self.target_grassroots_share - 1e-9,
            "stepdown_demand_patients": float(hospitals["stepdown_demand_patients"].sum()),
            "hospitals_over_capacity_before": int((hospitals["capacity_used_share_before"] > 1 + 1e-9).sum()),
            "links_changed": int(((self.referrals["lead_hospital_id_before"] != "")
                                  & (self.referrals["lead_hospital_id_before"]
                                     != self.referrals["lead_hospital_id"])).sum()),
        }
        return figures


REFERRAL_COLUMNS = ("primary_site_id", "primary_site_name", "level", "lead_hospital_id", "lead_hospital_name",
                    "load_visits", "travel_minutes", "capacity_visits", "capacity_used_share", "fixed",
                    "lead_hospital_id_before", "lead_hospital_name_before", "load_visits_before",
                    "travel_minutes_before", "first_contact_capacity_visits", "met_visits", "met_visits_before",
                    "stepdown_patients", "stepdown_capacity_patients")
HOSPITAL_COLUMNS = ("hospital_id", "hospital_name", "level", "beds", "capacity_visits", "load_visits_before",
                    "load_visits_after", "capacity_used_share_before", "capacity_used_share_after",
                    "linked_sites_before", "linked_sites_after", "stepdown_demand_patients",
                    "stepdown_patients_before", "stepdown_patients_after")
FIRST_CONTACT_COLUMNS = ("demand_id", "township_code", "visits", "met_visits_before", "met_visits_after",
                         "minutes_before", "minutes_after", "primary_site_id_before", "primary_site_id_after")


def tier_result(m: AllocationModel, *, added_gps: np.ndarray, opened: np.ndarray, solver: str,
                relative_tolerance: float) -> TierResult:
    """Tier figures recomputed from the plan (GPs added and sites opened, per site) and the model's links;
    SolverError if the model claims more than they give (beyond `relative_tolerance`)."""
    p, t, tm = m.problem, m.problem.tiers, m.tiers
    assert t is not None and tm is not None, "only for models with tiers"
    sites = len(p.site_ids)
    before = evaluate_tiers(p, added_gps=np.zeros(sites, dtype=np.int64), opened=np.zeros(sites, dtype=bool),
                            leads=t.lead_before, enforce_capacity=False, solver=solver)
    after = evaluate_tiers(p, added_gps=added_gps, opened=opened, leads=plan_leads(m), enforce_capacity=True,
                           solver=solver)
    claimed = float(pulp.value(tm.objective))
    if claimed < after.objective - relative_tolerance * max(1.0, abs(after.objective)):
        raise SolverError(f"the solver's plan does not deliver what the model claims (report this as a bug): tiers: "
                          f"the model counts {claimed:,.1f} people-equivalents, the plan gives {after.objective:,.1f}")
    share = t.settings.min_grassroots_share
    if share > 0 and (after.grassroots_share or 0.0) < share - relative_tolerance:
        raise SolverError(f"the plan meets {after.grassroots_share:.1%} of visits at the grassroots, below the hard "
                          f"target of {share:.1%} (report this as a bug)")
    return TierResult(before=before, after=after, referrals=_referral_table(p, before, after),
                      hospitals=_hospital_table(p, before, after), first_contact=_first_contact_table(p, before, after),
                      target_grassroots_share=t.settings.target_grassroots_share, min_grassroots_share=share)


def _referral_table(p: Problem, before: TierState, after: TierState) -> pd.DataFrame:
    t = p.tiers
    assert t is not None
    rows = np.flatnonzero(after.active)
    hospital_ids = np.array([p.site_ids[h] for h in t.hospitals] + [""], dtype=object)
    hospital_names = np.array([p.site_names[h] for h in t.hospitals] + [""], dtype=object)
    lead, lead_before = after.lead[rows], before.lead[rows]
    capacity = np.append(t.referral_capacity, np.nan)[lead]
    used = ratio_array(after.hospital_load_visits, t.referral_capacity)
    return pd.DataFrame({
        "primary_site_id": [p.site_ids[j] for j in rows], "primary_site_name": [p.site_names[j] for j in rows],
        "level": [p.site_level[j] for j in rows],
        "lead_hospital_id": hospital_ids[lead], "lead_hospital_name": hospital_names[lead],
        "load_visits": after.load_visits[rows], "travel_minutes": after.referral_minutes[rows],
        "capacity_visits": capacity, "capacity_used_share": np.append(used, np.nan)[lead],
        "fixed": t.fixed_lead[rows] >= 0,
        "lead_hospital_id_before": hospital_ids[lead_before], "lead_hospital_name_before": hospital_names[lead_before],
        "load_visits_before": before.load_visits[rows], "travel_minutes_before": before.referral_minutes[rows],
        "first_contact_capacity_visits": after.capacity_visits[rows], "met_visits": after.met_visits[rows],
        "met_visits_before": before.met_visits[rows], "stepdown_patients": after.stepdown_patients[rows],
        "stepdown_capacity_patients": t.stepdown_capacity[rows],
    }, columns=list(REFERRAL_COLUMNS))


def _hospital_table(p: Problem, before: TierState, after: TierState) -> pd.DataFrame:
    t = p.tiers
    assert t is not None
    count = len(t.hospitals)
    table: dict[str, Any] = {
        "hospital_id": [p.site_ids[h] for h in t.hospitals], "hospital_name": [p.site_names[h] for h in t.hospitals],
        "level": [p.site_level[h] for h in t.hospitals], "beds": t.hospital_beds,
        "capacity_visits": t.referral_capacity,
    }
    for label, state in (("before", before), ("after", after)):
        table[f"load_visits_{label}"] = state.hospital_load_visits
    for label, state in (("before", before), ("after", after)):
        table[f"capacity_used_share_{label}"] = ratio_array(state.hospital_load_visits, t.referral_capacity)
    for label, state in (("before", before), ("after", after)):
        table[f"linked_sites_{label}"] = np.bincount(state.lead[state.lead >= 0], minlength=count)
    table["stepdown_demand_patients"] = t.stepdown_demand
    for label, state in (("before", before), ("after", after)):
        table[f"stepdown_patients_{label}"] = state.hospital_stepdown_patients
    return pd.DataFrame(table, columns=list(HOSPITAL_COLUMNS))


def _first_contact_table(p: Problem, before: TierState, after: TierState) -> pd.DataFrame:
    t = p.tiers
    assert t is not None
    site_ids = np.array([*p.site_ids, ""], dtype=object)
    return pd.DataFrame({
        "demand_id": list(p.demand_ids), "township_code": [p.township_ids[k] for k in p.demand_township],
        "visits": t.demand_visits, "met_visits_before": before.demand_met_visits,
        "met_visits_after": after.demand_met_visits, "minutes_before": before.demand_minutes,
        "minutes_after": after.demand_minutes, "primary_site_id_before": site_ids[before.demand_site],
        "primary_site_id_after": site_ids[after.demand_site],
    }, columns=list(FIRST_CONTACT_COLUMNS))
