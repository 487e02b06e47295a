"""Command-line interface: thin click adapters over the library; errors become messages and exit codes.

Exit codes: 0 success; 1 bad input (file, layer, scenario); 2 usage error; 3 infeasible scenario; 4 solver failure;
5 results could not be written, or memory ran out; 6 a limit stopped the solver before optimality was proven (the
plan found is written, marked with its gap); 70 internal error (a bug: the message asks for a report; the
traceback is shown with ALLOCOPT_DEBUG=1); 130 interrupted (Ctrl-C); 141 the reader of the output closed the
pipe early (`| head -1`), a quiet exit. Earlier results are never overwritten by partial ones.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import TYPE_CHECKING, Any

from allocopt._startup import deferred, libraries_loaded

with libraries_loaded():
    import click

    from allocopt._clitools import (
        MONEY,
        Group,
        cache_option,
        column_names,
        echo_json,
        echo_table,
        exit_for_statuses,
        exit_unless_optimal,
        handle_errors,
        language_option,
        objective_option,
        output_translator,
        overwrite_option,
        progress_reporter,
        region_argument,
        scenario_option,
        solver_option,
        solver_options,
        solver_options_for,
        status_line,
        terminal_text,
        township_labels,
        warn_unreachable,
        workers_options,
    )
    from allocopt.choices import ROBUST_MODES
    from allocopt.cli_bundle import build_region_command, generate_region_command
    from allocopt.cli_ems import ems_command
    from allocopt.cli_locate import locate_group
    from allocopt.cli_text import echo_plan, gap_text, shown
    from allocopt.errors import ScenarioError
    from allocopt.services import SERVICES
    from allocopt.years_settings import parse_year_range

if TYPE_CHECKING:
    import pandas as pd

    from allocopt import workflow
    from allocopt.export import check_output_dir
    from allocopt.i18n import translator
    from allocopt.model.capacity_coverage import ResourceKind
else:  # loaded when a command first uses them (`allocopt --help` needs none)
    pd, workflow = deferred("pandas"), deferred("allocopt.workflow")
    check_output_dir = deferred("allocopt.export", "check_output_dir")
    translator = deferred("allocopt.i18n", "translator")
    ResourceKind = deferred("allocopt.model.capacity_coverage", "ResourceKind")


@click.group(cls=Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="allocopt")
@click.option("--quiet", "-q", is_flag=True, help="No progress status line (it is never shown in pipes).")
def main(quiet: bool) -> None:
    """Place GPs, equipment and specialty centers so that people reach care in time, within a budget.

    Start with `allocopt access` to see today's gaps in the embedded default region, then `allocopt optimize`.
    """


@main.command("regions")
@handle_errors
def regions_command() -> None:
    """List the embedded regions.

    Example: allocopt regions
    """
    from allocopt.regions import list_regions

    rows = [
        {"name": info.name, "synthetic": info.synthetic, "description": info.description}
        for info in list_regions()
    ]
    echo_table(pd.DataFrame(rows, columns=["name", "synthetic", "description"]))


@main.command("validate")
@region_argument
@click.option("--format", "output_format", type=click.Choice(["table", "json"]), default="table", show_default=True)
@handle_errors
def validate_command(region: str, output_format: str) -> None:
    """Check a region bundle: layers, columns, CRS, IDs, and how demand and sites connect to the roads.

    REGION is an embedded region name or a bundle directory (default: valley-county).

    Example: allocopt validate data/regions/valley-county
    """
    check = workflow.check_region(region)
    facts = check.to_dict()
    if output_format == "json":
        echo_json(facts)
        return
    click.echo(f"Region {terminal_text(facts['region'])} is valid{' (synthetic data)' if facts['synthetic'] else ''}.")
    for key in ("crs", "townships", "demand_points", "facilities", "candidates", "ems_stations", "ambulances",
                "roads", "road_nodes", "road_components", "population"):
        click.echo(f"  {key.replace('_', ' ')}: {facts[key]:,}" if key != "crs" else f"  crs: {facts[key]}")
    for key in ("demand_off_main_network", "sites_off_main_network"):
        if facts[key]:
            click.echo(f"  Warning: {len(facts[key])} {key.split('_')[0]} points lie off the main road network "
                       f"and reach only their own road fragment: {terminal_text(', '.join(facts[key][:10]))}")


@main.command("access")
@region_argument
@scenario_option
@click.option("--format", "output_format", type=click.Choice(["table", "csv", "json"]), default="table",
              show_default=True, help="How to print the per-service figures.")
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Also write access.json, services.csv, townships.csv and demand.csv to this directory.")
@click.option("--map", "map_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Also draw today's travel times per township and service to this PNG file.")
@overwrite_option
@language_option
@cache_option
@handle_errors
def access_command(region: str, scenario_path: Path | None, output_format: str, out_dir: Path | None,
                   map_path: Path | None, overwrite: bool, language: str | None, cache_dir: Path | None) -> None:
    """Today's access gaps: travel time to each service, population within its threshold, GPs per 10,000.

    REGION is an embedded region name or a bundle directory (default: valley-county).

    Example: allocopt access valley-county --format json
    """
    status = status_line()
    prepared = workflow.prepare(region, scenario_path=scenario_path,
                                cache_dir=cache_dir or workflow.default_cache_dir(), on_step=status)
    inputs = workflow.input_paths(prepared)
    if out_dir is not None:
        check_output_dir(out_dir, kind=workflow.ACCESS_KIND, overwrite=overwrite, inputs=inputs)
    status("Measuring access")
    report = workflow.access(prepared)
    status.clear()
    if out_dir is not None:
        workflow.write_access(report, out_dir, overwrite=overwrite, inputs=inputs)
    if map_path is not None:
        workflow.write_access_map(prepared, report, map_path, language=language)
    services = report.services.reset_index(drop=True)
    if output_format == "json":
        echo_json(report.to_dict())
    elif output_format == "csv":
        click.echo(services.to_csv(index=False), nl=False)
    else:
        tr = output_translator(language, prepared.region.language)
        label = township_labels(report.townships)
        click.echo(tr("cli.access.heading", region=terminal_text(report.region),
                      population=tr.number(report.population), gp=tr.number(report.gp_per_10k, decimals=2),
                      target=f"{report.gp_target_per_10k:g}",
                      worst=terminal_text(label(report.worst_township))))
        named = services.assign(worst_township=services["worst_township"].map(label))
        echo_table(shown(named[["service", "threshold_minutes", "covered_population", "covered_share",
                                "unserved_population", "mean_minutes", "worst_township"]].round(3), tr))
    warn_unreachable(prepared.matrix)


@main.command("optimize")
@region_argument
@scenario_option
@click.option("--budget", "budget_yuan", type=MONEY, default=None,
              help="Total budget in yuan, e.g. 30000000, 3e7, 30M or 3000万 (replaces the scenario's budget lines).")
@objective_option
@solver_options
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Result directory (default: results/<region>-<timestamp>/).")
@click.option("--report", "with_report", is_flag=True, help="Also write maps, plan.xlsx and report.html.")
@overwrite_option
@click.option("--robust", type=click.Choice(ROBUST_MODES), default=None,
              help="Plan for the scenario's [[closures]] too: least expected gap, or least worst-scenario gap.")
@click.option("--years", "years_text", default=None, metavar="START:END",
              help="Plan year by year, e.g. 2026:2030, under the scenario's [years] section (docs/years.md); "
                   "writes schedule.csv and years.csv too.")
@click.option("--format", "output_format", type=click.Choice(["table", "json"]), default="table", show_default=True)
@language_option
@cache_option
@handle_errors
def optimize_command(region: str, scenario_path: Path | None, budget_yuan: float | None, objective: str,
                     solver: str | None, time_limit_s: float | None, mip_gap: float | None, out_dir: Path | None,
                     with_report: bool, overwrite: bool, robust: str | None, years_text: str | None,
                     output_format: str, language: str | None, cache_dir: Path | None) -> None:
    """Place GPs, equipment, specialty centers and new sites to close access gaps within the budget.

    Writes allocations.csv, townships.csv, summary.json and result.gpkg to --out. Exits 6 (after writing) when a
    time limit stopped the solver before it proved the plan optimal; the summary gives the gap. With --years (or
    a scenario [years] section) the plan is phased over the years: schedule.csv and years.csv say what comes in
    which year, and the other files describe the last year.

    Example: allocopt optimize valley-county --budget 30000000 --objective gap --out plan/
    """
    years_option = parse_year_range(years_text) if years_text is not None else None
    status = status_line()
    try:
        prepared = workflow.prepare(region, scenario_path=scenario_path,
                                    cache_dir=cache_dir or workflow.default_cache_dir(), on_step=status)
        if budget_yuan is not None:
            prepared = dataclasses.replace(prepared, scenario=prepared.scenario.with_budget(budget_yuan))
        target = out_dir or workflow.default_out_dir(prepared.region.name)
        check_output_dir(target, kind=workflow.PLAN_KIND, overwrite=overwrite, inputs=workflow.input_paths(prepared))
        settings: dict[str, Any] = {"objective": objective, "solver": solver, "time_limit_s": time_limit_s,
                                    "mip_gap": mip_gap, "on_step": status}
        multi_year = years_option is not None or prepared.scenario.years is not None
        if multi_year and robust is not None:
            raise ScenarioError("--robust and a multi-year plan (--years or [years]) together are not supported "
                                "yet; drop one of them")
        robust_plan = None if robust is None else workflow.optimize_robust(
            prepared, mode=robust, cache_dir=cache_dir or workflow.default_cache_dir(), **settings)
        years_plan = workflow.optimize_years(prepared, years=years_option, **settings) if multi_year else None
        result = (robust_plan.result if robust_plan is not None else years_plan.final if years_plan is not None
                  else workflow.optimize(prepared, **settings))
        tr = output_translator(language, prepared.region.language)
        status(f"Writing results{' and the report' if with_report else ''} to {target}")
        workflow.write_plan(prepared, result, target, overwrite=overwrite, report=with_report, robust=robust_plan,
                            years=years_plan, language=tr.language)
    finally:
        status.clear()
    warn_unreachable(prepared.matrix)
    summary = workflow.plan_summary(prepared, result, robust=robust_plan, years=years_plan)
    if output_format == "json":
        echo_json(summary)
    else:
        echo_plan(summary, result.allocations, target, tr)
        if result.n_minus_1 is not None:
            click.echo(tr("cli.plan.n_minus_1"))
            echo_table(shown(result.n_minus_1.overview(), tr))
        if robust_plan is not None:
            click.echo(tr("cli.plan.robust", mode=robust,
                          cost=tr.number(summary["robust"]["cost_of_robustness"])))
            echo_table(shown(robust_plan.gaps.round({"today": 1, "robust": 1, "plain": 1}), tr))
    exit_unless_optimal(result.status, f"status {result.status}, gap {gap_text(summary['gap'], translator('en'))}; "
                        "the plan written is the best found at the requested MIP gap")


main.add_command(locate_group)
main.add_command(generate_region_command)
main.add_command(build_region_command)
main.add_command(ems_command)


@main.command("cover")
@click.option("--costs", "costs_path", type=click.Path(dir_okay=False, exists=True, path_type=Path), required=True,
              help="Cost matrix (travel minutes, distance, ...): long CSV (demand,site,cost) or wide CSV.")
@click.option("--format-in", "costs_format", type=click.Choice(["long", "wide", "orlib"]), default="long",
              show_default=True, help="Layout of the --costs file.")
@click.option("--threshold", type=click.FloatRange(min=0), required=True,
              help="A demand unit is covered by a provider within this cost (the costs' unit).")
@click.option("--budget", type=MONEY, required=True,
              help="Money for new units, in the unit costs' currency (e.g. 2000000, 2e6, 2M or 200万).")
@click.option("--kind", "kind_specs", multiple=True, required=True,
              metavar="NAME=COST[,required=N][,max=N][,per_unit=W]",
              help="A resource bought in whole units (repeat for several): unit cost, units a site needs to provide "
                   "the service (default 1), units addable per site (default 1), demand weight one unit serves "
                   "(capacity; default none).")
@click.option("--existing", "existing_path", type=click.Path(dir_okay=False, exists=True, path_type=Path),
              default=None, help="CSV of units today: a site column and one column per kind (e.g. site,icu_beds).")
@click.option("--weights", "weights_path", type=click.Path(dir_okay=False, exists=True, path_type=Path),
              default=None, help="CSV demand,weight (default: every weight 1).")
@click.option("--columns", "cost_columns", default="demand,site,cost", show_default=True,
              help="Demand id, site id and cost columns of a long CSV.")
@click.option("--weight-columns", default="demand,weight", show_default=True,
              help="Demand id and weight columns of the --weights CSV.")
@click.option("--site-column", default="site", show_default=True, help="Site id column of the --existing CSV.")
@solver_options
@click.option("--format", "output_format", type=click.Choice(["table", "json"]), default="table", show_default=True)
@handle_errors
def cover_command(costs_path: Path, costs_format: str, threshold: float, budget: float, kind_specs: tuple[str, ...],
                  existing_path: Path | None, weights_path: Path | None, cost_columns: str, weight_columns: str,
                  site_column: str, solver: str | None, time_limit_s: float | None, mip_gap: float | None,
                  output_format: str) -> None:
    """Buy whole units of resources at sites to cover the most demand within a threshold, under a budget.

    A site provides the service once it has the required units of every kind; with per_unit capacities the
    covered demand must also fit its units. Money that covers nobody is not spent.

    Example: allocopt cover --costs minutes.csv --weights over50.csv --threshold 10 --budget 2000000
    --kind icu_beds=60000,max=20,per_unit=2000 --kind ventilators=25000,max=10 --existing hospitals.csv
    """
    demand, site, cost = column_names(cost_columns, 3, "--columns")
    weight_id, weight = column_names(weight_columns, 2, "--weight-columns")
    columns = workflow.CostColumns(demand=demand, site=site, cost=cost, weight_id=weight_id, weight=weight,
                                   capacity_id=site_column)
    kinds = [ResourceKind.from_spec(spec) for spec in kind_specs]
    plan = workflow.cover(costs_path, threshold=threshold, budget=budget, kinds=kinds, costs_format=costs_format,
                          weights_path=weights_path, existing_path=existing_path, columns=columns, solver=solver,
                          time_limit_s=time_limit_s, mip_gap=mip_gap)
    if output_format == "json":
        echo_json(plan.to_dict())
    else:
        share = None if plan.covered_weight is None else plan.covered_weight / max(plan.total_weight, 1e-12)
        click.echo(f"cover: status {plan.status}, covered weight {plan.covered_weight or 0:,.10g} of "
                   f"{plan.total_weight:,.10g} ({(share or 0):.1%}), cost {plan.cost or 0:,.10g} of {budget:,.10g}")
        click.echo(f"Providers ({len(plan.providers)}): {terminal_text(', '.join(plan.providers))}")
        added = [(site_id, kind, units)
                 for site_id, by_kind in plan.additions.items() for kind, units in by_kind.items()]
        if added:
            echo_table(pd.DataFrame(added, columns=["site", "kind", "units_added"]))
    exit_unless_optimal(plan.status, f"status {plan.status}, gap {plan.gap}")


@main.command("consortium")
@region_argument
@scenario_option
@click.option("--max-referral-minutes", type=click.FloatRange(min=0, min_open=True), default=None,
              help="Hard limit on a primary site's travel time to its lead hospital.")
@solver_option
@click.option("--format", "output_format", type=click.Choice(["table", "json"]), default="table", show_default=True)
@cache_option
@handle_errors
def consortium_command(region: str, scenario_path: Path | None, max_referral_minutes: float | None,
                       solver: str | None, output_format: str, cache_dir: Path | None) -> None:
    """Redraw medical-consortium links alone: each grassroots site to one lead hospital, within capacity.

    Minimizes referral-load-weighted travel minutes; hospital referral capacity comes from beds ([tiers] settings
    of the scenario, or their defaults).

    Example: allocopt consortium valley-county --max-referral-minutes 150 --format json
    """
    design = workflow.design_consortium(region, scenario_path=scenario_path,
                                        max_referral_minutes=max_referral_minutes, solver=solver,
                                        cache_dir=cache_dir or workflow.default_cache_dir())
    if output_format == "json":
        echo_json(design.to_dict())
    else:
        echo_table(design.links)
        click.echo("")
        echo_table(design.hospitals)
    exit_unless_optimal(design.status, f"status {design.status}", what="design")


@main.command("vulnerability")
@region_argument
@scenario_option
@click.option("--service", "services", multiple=True, type=click.Choice(SERVICES),
              help="Service to measure (repeat for several; default: all).")
@click.option("--top", type=click.IntRange(min=1), default=20, show_default=True,
              help="How many of the ranked closures to print and map.")
@click.option("--hazard-buffer-m", type=click.FloatRange(min=0), default=None,
              help="Rank the region's hazard zones, each closing the roads within this many metres, not road lines.")
@click.option("--format", "output_format", type=click.Choice(["table", "csv", "json"]), default="table",
              show_default=True)
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Also write vulnerability.csv/.json, critical_links.gpkg/.png and scenarios.csv here.")
@cache_option
@handle_errors
def vulnerability_command(region: str, scenario_path: Path | None, services: tuple[str, ...], top: int,
                          hazard_buffer_m: float | None, output_format: str, out_dir: Path | None,
                          cache_dir: Path | None) -> None:
    """Critical road links: residents pushed beyond each service's threshold when one road line closes, ranked.

    With [[closures]] in the scenario, also today's unserved residents under each closure scenario.

    Example: allocopt vulnerability valley-county --service stroke --top 10
    """
    from allocopt import vulnerability as vuln

    status = status_line()
    prepared = workflow.prepare(region, scenario_path=scenario_path,
                                cache_dir=cache_dir or workflow.default_cache_dir(), on_step=status)
    chosen = services or None
    scenarios = None
    if prepared.scenario.closures:
        status("Travel times under each closure scenario")
        scenarios = vuln.closure_coverage(prepared.region, prepared.network, prepared.matrix, prepared.scenario,
                                          services=chosen, cache_dir=cache_dir or workflow.default_cache_dir())
    status("Ranking road closures")
    result = vuln.vulnerability(prepared.region, prepared.network, prepared.scenario, services=chosen,
                                hazard_buffer_m=hazard_buffer_m)
    status.clear()
    if out_dir is not None:
        vuln.write_vulnerability(prepared.region, result, out_dir, top=top, scenarios=scenarios)
    if output_format == "json":
        echo_json({**result.to_dict(top), "scenarios": [] if scenarios is None else scenarios.to_dict("records")})
    elif output_format == "csv":
        click.echo(result.table.head(top).to_csv(index=False), nl=False)
    else:
        echo_table(result.table.head(top).round(3))
        if scenarios is not None:
            click.echo("\nUnserved residents under each closure scenario (today's sites):")
            echo_table(scenarios.round(3))


@main.command("sweep")
@region_argument
@scenario_option
@click.option("--budgets", required=True, metavar="START:STOP:STEPS",
              help="Budgets in yuan: STEPS evenly spaced from START to STOP, or a comma-separated list "
                   "(amounts as --budget takes them: 0:60M:7, 20M,30M).")
@objective_option
@solver_options_for("each budget's whole solve")
@click.option("--no-warm-start", is_flag=True, help="Solve each budget from scratch.")
@workers_options
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Where to write frontier.csv, the chart and each budget's summary.")
@overwrite_option
@language_option
@cache_option
@handle_errors
def sweep_command(region: str, scenario_path: Path | None, budgets: str, objective: str, solver: str | None,
                  time_limit_s: float | None, mip_gap: float | None, no_warm_start: bool, workers: int,
                  scheduler: str | None, out_dir: Path | None, overwrite: bool, language: str | None,
                  cache_dir: Path | None) -> None:
    """What each extra yuan buys: the optimal plan at every budget, and the budget-gap frontier.

    Exits 3 after writing when some budget failed (its row says why), 6 when some budget was not proven optimal.

    Example: allocopt sweep valley-county --budgets 0:60000000:7 --workers 2 --out sweep/
    """
    from allocopt import sweep

    values = sweep.parse_budgets(budgets)
    status = status_line()
    try:
        prepared = workflow.prepare(region, scenario_path=scenario_path,
                                    cache_dir=cache_dir or workflow.default_cache_dir(), on_step=status)
        target = out_dir or workflow.default_out_dir(f"{prepared.region.name}-sweep")
        inputs = workflow.input_paths(prepared)
        check_output_dir(target, kind=sweep.SWEEP_KIND, overwrite=overwrite, inputs=inputs)
        result = sweep.sweep_budgets(prepared, values, objective=objective, solver=solver,
                                     time_limit_s=time_limit_s, mip_gap=mip_gap, warm_start=not no_warm_start,
                                     workers=workers, scheduler=scheduler, progress=progress_reporter(status))
        tr = output_translator(language, prepared.region.language)
        sweep.write_sweep(result, target, overwrite=overwrite, inputs=inputs, tr=tr)
    finally:
        status.clear()
    columns = ["budget_yuan", "cost_yuan", "status", "gap", "weighted_gap", "marginal_people_per_10k_yuan"]
    echo_table(shown(result.frontier[[c for c in columns if c in result.frontier.columns]], tr))
    click.echo(tr("cli.sweep.written", target=target))
    exit_for_statuses(result.frontier)


@main.command("compare")
@click.argument("result_dirs", nargs=-1, required=True, type=click.Path(file_okay=False, exists=True, path_type=Path))
@click.option("--format", "output_format", type=click.Choice(["table", "csv", "json"]), default="table",
              show_default=True)
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Also write comparison.csv, comparison.json and a chart here.")
@overwrite_option
@language_option
@handle_errors
def compare_command(result_dirs: tuple[Path, ...], output_format: str, out_dir: Path | None,
                    overwrite: bool, language: str | None) -> None:
    """Several results or scenarios side by side: cost, status, each service's unserved population, GPs.

    Example: allocopt compare plan-20m/ plan-30m/ plan-equity/
    """
    from allocopt import compare

    if out_dir is not None:
        check_output_dir(out_dir, kind=compare.COMPARE_KIND, overwrite=overwrite, inputs=result_dirs)
    table = compare.compare_results(result_dirs)
    tr = output_translator(language, compare.result_language(result_dirs[0]))
    click.echo(compare.render_comparison(table, output_format=output_format, tr=tr))
    if out_dir is not None:
        compare.write_comparison(table, out_dir, overwrite=overwrite, inputs=result_dirs, tr=tr)


@main.command("batch")
@click.argument("regions", nargs=-1)
@click.option("--regions-dir", type=click.Path(file_okay=False, exists=True, path_type=Path), default=None,
              help="Run every region bundle found in this directory.")
@scenario_option
@objective_option
@solver_options_for("each region's whole solve")
@workers_options
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Where to write batch.csv (default: results/batch-<timestamp>/).")
@overwrite_option
@cache_option
@handle_errors
def batch_command(regions: tuple[str, ...], regions_dir: Path | None, scenario_path: Path | None, objective: str,
                  solver: str | None, time_limit_s: float | None, mip_gap: float | None, workers: int,
                  scheduler: str | None, out_dir: Path | None, overwrite: bool, cache_dir: Path | None) -> None:
    """Access and the optimal plan for many regions (a province's counties), in one combined table.

    Exits 3 after writing when some region failed (its row says why).

    Example: allocopt batch --regions-dir province/ --workers 2 --out province-results/
    """
    from allocopt import batch

    names: list[str | Path] = [*regions, *(batch.find_regions(regions_dir) if regions_dir is not None else ())]
    settings = batch.BatchSettings(scenario_path=scenario_path, objective=objective, solver=solver,
                                   time_limit_s=time_limit_s, mip_gap=mip_gap,
                                   cache_dir=cache_dir or workflow.default_cache_dir())
    target = out_dir or workflow.default_out_dir("batch")
    inputs = [*workflow.region_paths(names), *(p for p in (regions_dir, scenario_path) if p is not None)]
    check_output_dir(target, kind=batch.BATCH_KIND, overwrite=overwrite, inputs=inputs)
    status = status_line()
    try:
        table = batch.run_batch(names, settings=settings, workers=workers, scheduler=scheduler,
                                progress=progress_reporter(status))
        batch.write_batch(table, target, overwrite=overwrite, inputs=inputs)
    finally:
        status.clear()
    echo_table(table[["region", "population", "status", "cost_yuan", "error"]])
    click.echo(f"Batch table written to {target}")
    exit_for_statuses(table)


@main.command("report")
@click.argument("result_dir", type=click.Path(file_okay=False, exists=True, path_type=Path))
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Where to write the report (default: RESULT_DIR itself).")
@overwrite_option
@language_option
@handle_errors
def report_command(result_dir: Path, out_dir: Path | None, overwrite: bool, language: str | None) -> None:
    """Maps, an Excel workbook and a self-contained HTML report of an optimize result directory.

    Example: allocopt report results/valley-county-20250101-120000
    """
    from allocopt.report import write_report

    files = write_report(result_dir, out_dir=out_dir, overwrite=overwrite, language=language)
    click.echo(f"Report: {files.report}")
    click.echo(f"Workbook: {files.workbook}")
    click.echo(f"Maps: {len(files.maps)} PNG files in {files.report.parent}")


if __name__ == "__main__":
    main()
