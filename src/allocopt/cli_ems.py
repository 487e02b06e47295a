"""`allocopt ems`: 120 stations and ambulances alone, under a budget (the family of `model.ems` by itself)."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from allocopt._clitools import (
    MONEY,
    cache_option,
    echo_json,
    echo_table,
    exit_unless_optimal,
    handle_errors,
    overwrite_option,
    region_argument,
    scenario_option,
    solver_options,
    status_line,
    terminal_text,
)
from allocopt._startup import deferred

if TYPE_CHECKING:
    import pandas as pd

    from allocopt import workflow
    from allocopt.export import check_output_dir
else:  # loaded when the command runs, not for --help
    pd, workflow = deferred("pandas"), deferred("allocopt.workflow")
    check_output_dir = deferred("allocopt.export", "check_output_dir")


@click.command("ems")
@region_argument
@scenario_option
@click.option("--budget", "budget_yuan", type=MONEY, default=None,
              help="Total budget in yuan (capital plus a year of crews), e.g. 10M or 1000万 (default: the "
                   "scenario's).")
@solver_options
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Write summary.json, allocations.csv, ems_stations.csv, ems_demand.csv, result.gpkg and "
                   "ems_map.png here.")
@overwrite_option
@click.option("--format", "output_format", type=click.Choice(["table", "json"]), default="table", show_default=True)
@cache_option
@handle_errors
def ems_command(region: str, scenario_path: Path | None, budget_yuan: float | None, solver: str | None,
                time_limit_s: float | None, mip_gap: float | None, out_dir: Path | None, overwrite: bool,
                output_format: str, cache_dir: Path | None) -> None:
    """Place 120 ambulances and open candidate stations to reach the most residents in time, within a budget.

    Uses the region's ems_stations layer and the scenario's [ems] table (its defaults when absent); nothing
    else is placed. Exits 6 (after writing) when a time limit stopped the solver before optimality was proven.

    Example: allocopt ems valley-county --budget 10M --out ems-plan/
    """
    from allocopt.ems_plan import EMS_KIND, plan_ambulances, write_ems_plan

    status = status_line()
    try:
        prepared = workflow.prepare(region, scenario_path=scenario_path,
                                    cache_dir=cache_dir or workflow.default_cache_dir(), on_step=status)
        if budget_yuan is not None:
            prepared = dataclasses.replace(prepared, scenario=prepared.scenario.with_budget(budget_yuan))
        if out_dir is not None:
            check_output_dir(out_dir, kind=EMS_KIND, overwrite=overwrite, inputs=workflow.input_paths(prepared))
        status("Solving the ambulance model")
        plan = plan_ambulances(prepared, solver=solver, time_limit_s=time_limit_s, mip_gap=mip_gap)
        if out_dir is not None:
            status(f"Writing results to {out_dir}")
            write_ems_plan(prepared, plan, out_dir, overwrite=overwrite)
    finally:
        status.clear()
    summary = plan.summary(prepared)
    if output_format == "json":
        echo_json(summary)
    else:
        _echo(summary, plan.ems.stations, out_dir)
    gap = "unknown" if plan.gap is None else f"{plan.gap:.4%}"
    exit_unless_optimal(plan.status, f"status {plan.status}, gap {gap}")


def _echo(summary: dict[str, Any], stations: pd.DataFrame, out_dir: Path | None) -> None:
    ems, before, after = summary["ems"], summary["ems"]["before"], summary["ems"]["after"]
    click.echo(f"Ambulance plan for {terminal_text(summary['region'])}: status {summary['status']}; cost "
               f"{summary['cost_yuan']:,.0f} yuan (capital {summary['capital_yuan']:,.0f}, annual "
               f"{summary['annual_yuan']:,.0f})")
    click.echo(f"Fleet {before['fleet']} -> {after['fleet']} ambulances (norm {ems['fleet_norm']}: one per "
               f"{ems['residents_per_ambulance_norm']:,.0f} residents); {ems['stations_opened']} stations opened")
    click.echo(f"Residents within {ems['response_threshold_minutes']:g} minutes of a staffed station: "
               f"{before['covered_share']:.1%} -> {after['covered_share']:.1%}; expected coverage with busy "
               f"fraction {ems['busy_fraction']:g}: {before['expected_coverage']:.1%} -> "
               f"{after['expected_coverage']:.1%}")
    shown = stations[["id", "name", "ambulances_before", "added", "ambulances_after", "residents_within_after",
                      "first_due_residents_after", "cost_yuan"]]
    echo_table(shown.round(0))
    if out_dir is not None:
        click.echo(f"Results written to {out_dir}")
