"""`allocopt locate`: the classic location models (p-median, MCLP, LSCP, p-center) as subcommands, each with
its own options and help, thin over `workflow.locate`."""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from allocopt._clitools import (
    column_names,
    echo_json,
    echo_table,
    exit_unless_optimal,
    handle_errors,
    solver_options,
    terminal_text,
)
from allocopt._startup import deferred
from allocopt.choices import DISTANCES

if TYPE_CHECKING:
    import pandas as pd

    from allocopt import workflow
else:  # loaded when a model runs, not for --help
    pd, workflow = deferred("pandas"), deferred("allocopt.workflow")

F = TypeVar("F", bound=Callable[..., Any])

LAYOUTS = {
    "long": "CSV demand,site,cost, one row per pair (names: --columns); a pair left out cannot be served.",
    "wide": "CSV: first column the demand id, one column per site id; an empty cell cannot be served.",
    "orlib": "OR-Library p-median graph: `n edges p`, then `i j cost` per edge; costs are shortest-path lengths, "
             "every vertex is a demand point and a site, p is the file's unless -p is given.",
    "orlib-cap": "OR-Library capacitated p-median (pmedcap): `problem optimum`, `n p capacity`, then `id x y "
                 "demand`; costs are Euclidean distances ROUNDED DOWN to whole numbers (the published optima "
                 "assume it), the objective is unweighted, demands load the capacities.",
    "lorena": "Lorena-Senne SJC capacitated p-median: `n p`, then `x y capacity demand`; costs are real "
              "(untruncated) Euclidean distances, the objective is unweighted, demands load the capacities.",
}
POINTS_HELP = ("--points FILE instead: CSV id,x,y (Euclidean, in the coordinates' unit) or id,lon,lat (great-circle "
               "km); every point is a demand point and a site; --truncate rounds the distances down as OR-Library "
               "does.")


def _layouts_help(formats: tuple[str, ...]) -> str:
    """The epilog listing each --format-in layout's conventions, kept as written (click's \\b marker)."""
    lines = ["\b", "Layouts of --costs (--format-in):"]
    for name in formats:
        lines += textwrap.wrap(LAYOUTS[name], 100, initial_indent=f"  {name:<10} ", subsequent_indent=" " * 13)
    return "\n".join([*lines, *textwrap.wrap(POINTS_HELP, 100)])


COST_FORMATS = ("long", "wide", "orlib")
CAPACITATED_FORMATS = (*COST_FORMATS, "orlib-cap", "lorena")


@click.group("locate", context_settings={"help_option_names": ["-h", "--help"]})
def locate_group() -> None:
    """Classic location models on a cost matrix or on points, keyed by IDs: pmedian, mclp, lscp, pcenter.

    Objective: pmedian, sum of weight x cost; pcenter, the largest assigned cost; mclp, covered weight; lscp, the
    number of sites. `allocopt locate MODEL --help` lists each model's options.

    Example: allocopt locate pmedian --costs distances.csv --weights population.csv -p 4
    """


def _input_options(formats: tuple[str, ...]) -> Callable[[F], F]:
    """--costs/--format-in/--columns or --points/--distance/--truncate, as every model reads them."""
    kinds = "long or wide CSV, an OR-Library p-median file (orlib)" + (
        ", an OR-Library capacitated file (orlib-cap: distances rounded down to whole numbers) or a Lorena-Senne "
        "file (lorena)" if "orlib-cap" in formats else "")

    def decorate(command: F) -> F:
        options = [
            click.option("--costs", "costs_path", type=click.Path(dir_okay=False, exists=True, path_type=Path),
                         default=None, help=f"Cost matrix: {kinds} (see --format-in). Or give --points."),
            click.option("--format-in", "costs_format", type=click.Choice(formats), default="long",
                         show_default=True, help="Layout of the --costs file; each layout's conventions are listed "
                         "at the end of this help (orlib-cap rounds distances down)."),
            click.option("--columns", "cost_columns", default="demand,site,cost", show_default=True,
                         help="Demand id, site id and cost columns of a long CSV."),
            click.option("--points", "points_path", type=click.Path(dir_okay=False, exists=True, path_type=Path),
                         default=None, help="CSV of points (id,x,y or id,lon,lat), each a demand point and a site; "
                         "costs are the distances between them."),
            click.option("--point-id-column", default="id", show_default=True, help="Id column of --points."),
            click.option("--distance", type=click.Choice(DISTANCES), default=None,
                         help="Distance between --points (default: euclidean for x,y, great-circle km for lon,lat)."),
            click.option("--truncate", is_flag=True,
                         help="Round distances between --points down to whole numbers (as OR-Library does)."),
        ]
        for option in reversed(options):
            command = option(command)
        return command

    return decorate


def _weight_options(command: F) -> F:
    command = click.option("--weight-columns", default="demand,weight", show_default=True,
                           help="Demand id and weight columns of the --weights CSV.")(command)
    return click.option("--weights", "weights_path", type=click.Path(dir_okay=False, exists=True, path_type=Path),
                        default=None, help="CSV demand,weight: objective weight (default: every weight 1).")(command)


def _capacity_options(command: F) -> F:
    options = [
        click.option("--capacities", "capacities_path", type=click.Path(dir_okay=False, exists=True, path_type=Path),
                     default=None, help="CSV site,capacity: each site serves at most this load, each demand point "
                     "from one site (replaces a capacitated layout's capacities)."),
        click.option("--capacity-columns", default="site,capacity", show_default=True,
                     help="Site id and capacity columns of the --capacities CSV."),
        click.option("--demand", "demand_path", type=click.Path(dir_okay=False, exists=True, path_type=Path),
                     default=None, help="CSV demand,load: each demand point's load on the capacities, apart from "
                     "its weight (default: a capacitated layout's demands, else the weights, else 1)."),
        click.option("--demand-columns", default="demand,load", show_default=True,
                     help="Demand id and load columns of the --demand CSV."),
    ]
    for option in reversed(options):
        command = option(command)
    return command


def _p_option(command: F) -> F:
    return click.option("-p", "p", type=click.IntRange(min=1), default=None,
                        help="Number of sites to open (OR-Library and Lorena files: the file's p unless "
                        "given).")(command)


def _radius_option(command: F) -> F:
    return click.option("--radius", type=click.FloatRange(min=0), default=None,
                        help="Coverage radius, in the costs' unit (required).")(command)


def _output_option(command: F) -> F:
    return click.option("--format", "output_format", type=click.Choice(["table", "json"]), default="table",
                        show_default=True)(command)


def _inputs(options: dict[str, Any]) -> workflow.LocateInputs:
    """The input files and column names from the command's options (absent options take their defaults)."""
    demand, site, cost = column_names(options["cost_columns"], 3, "--columns")
    weight_id, weight = column_names(options.get("weight_columns", "demand,weight"), 2, "--weight-columns")
    capacity_id, capacity = column_names(options.get("capacity_columns", "site,capacity"), 2, "--capacity-columns")
    load_id, load = column_names(options.get("demand_columns", "demand,load"), 2, "--demand-columns")
    columns = workflow.CostColumns(demand=demand, site=site, cost=cost, weight_id=weight_id, weight=weight,
                                   capacity_id=capacity_id, capacity=capacity, load_id=load_id, load=load,
                                   point_id=options["point_id_column"])
    return workflow.LocateInputs(
        costs_path=options["costs_path"], costs_format=options["costs_format"], points_path=options["points_path"],
        distance=options["distance"], truncate=options["truncate"], weights_path=options.get("weights_path"),
        demand_path=options.get("demand_path"), capacities_path=options.get("capacities_path"), columns=columns,
    )


def _run(model: str, options: dict[str, Any], **settings: Any) -> None:
    """Run the model, print its plan (table or JSON) and exit 6 when it is not proven optimal."""
    result = workflow.locate(model, _inputs(options), solver=options["solver"], time_limit_s=options["time_limit_s"],
                             mip_gap=options["mip_gap"], **settings)
    data = result.to_dict()
    if options["output_format"] == "json":
        echo_json(data)
    else:
        objective = "none" if data["objective"] is None else f"{data['objective']:,.6g}"
        click.echo(f"{model}: status {data['status']}, objective {objective} ({data['objective_meaning']})")
        click.echo(f"Sites ({len(data['sites'])}): {terminal_text(', '.join(data['sites']))}")
        if data["assignment"]:
            assigned = pd.DataFrame(sorted(data["assignment"].items()), columns=["demand", "site"])
            echo_table(assigned.groupby("site", sort=True).size().rename("demand_points").reset_index())
    exit_unless_optimal(result.status, f"status {result.status}, gap {result.gap}")


@locate_group.command("pmedian", epilog=_layouts_help(CAPACITATED_FORMATS))
@_input_options(CAPACITATED_FORMATS)
@_weight_options
@_capacity_options
@_p_option
@click.option("--formulation", type=click.Choice(["auto", "radius", "assignment"]), default="auto",
              show_default=True, help="p-median formulation (radius scales further; capacities need assignment).")
@solver_options
@_output_option
@handle_errors
def pmedian_command(p: int | None, formulation: str, **options: Any) -> None:
    """Open p sites minimizing the sum of weight x cost, each demand point served by its assigned site.

    With capacities (--capacities, or a capacitated layout) each demand point is served by one site and the
    loads a site serves must fit its capacity.

    Example: allocopt locate pmedian --costs distances.csv --weights population.csv -p 4
    """
    _run("pmedian", options, p=p, formulation=formulation)


@locate_group.command("pcenter", epilog=_layouts_help(CAPACITATED_FORMATS))
@_input_options(CAPACITATED_FORMATS)
@_capacity_options
@_p_option
@solver_options
@_output_option
@handle_errors
def pcenter_command(p: int | None, **options: Any) -> None:
    """Open p sites minimizing the largest cost from a demand point to its site.

    With capacities (--capacities, or a capacitated layout) each demand point is served by one site, not
    always its nearest, and the loads a site serves must fit its capacity.

    Example: allocopt locate pcenter --points villages.csv --capacities clinics.csv --demand residents.csv -p 3
    """
    _run("pcenter", options, p=p)


@locate_group.command("mclp", epilog=_layouts_help(COST_FORMATS))
@_input_options(COST_FORMATS)
@_weight_options
@_p_option
@_radius_option
@solver_options
@_output_option
@handle_errors
def mclp_command(p: int | None, radius: float | None, **options: Any) -> None:
    """Open p sites maximizing the weight of demand points within --radius of an open site.

    Example: allocopt locate mclp --costs distances.csv --weights population.csv -p 4 --radius 5000
    """
    _run("mclp", options, p=p, radius=radius)


@locate_group.command("lscp", epilog=_layouts_help(COST_FORMATS))
@_input_options(COST_FORMATS)
@_radius_option
@solver_options
@_output_option
@handle_errors
def lscp_command(radius: float | None, **options: Any) -> None:
    """Open the fewest sites putting every demand point within --radius of an open site.

    Example: allocopt locate lscp --costs distances.csv --radius 8000
    """
    _run("lscp", options, radius=radius)
