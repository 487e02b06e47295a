"""Terminal plumbing of the CLI: error handling and exit codes, shared options, output and the status line."""

from __future__ import annotations

import contextlib
import functools
import json
import os
import re
import sys
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from allocopt._startup import EXIT_OUT_OF_MEMORY, deferred
from allocopt.choices import PLAN_OBJECTIVES, SOLVERS
from allocopt.errors import AllocoptError, AllocoptWarning, ScenarioError
from allocopt.i18n import FALLBACK_LANGUAGE, LANGUAGES, Translator, translator
from allocopt.money import parse_money
from allocopt.watchdog import solvers_left_running

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

    from allocopt import workflow
    from allocopt.travel import TravelMatrix
else:  # loaded when a command first uses them, not to declare the options
    np, pd, workflow = deferred("numpy"), deferred("pandas"), deferred("allocopt.workflow")

F = TypeVar("F", bound=Callable[..., Any])

EXIT_INTERNAL_ERROR = 70
EXIT_INTERRUPTED = 130
EXIT_BROKEN_PIPE = 141
"""128 + SIGPIPE: what the shell reports for a program a closed pipe ended (`allocopt regions | head -1`)."""
DEBUG_VARIABLE = "ALLOCOPT_DEBUG"
"""Set to 1 to see the traceback of an internal error instead of the one-line message."""


_TERMINAL_CONTROLS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")
"""Characters that steer a terminal rather than show: C0 controls but tab and newline (ESC starts colour and
cursor sequences), DEL, C1 controls, and the bidirectional marks, embeddings, overrides and isolates."""


def terminal_text(text: object, *, one_line: bool = False) -> str:
    """`text` safe to print: each terminal control character is shown as its escape (`\\x1b`, `\\u202e`);
    `one_line` escapes newlines and tabs too (table cells)."""
    pattern = _ONE_LINE_CONTROLS if one_line else _TERMINAL_CONTROLS
    return pattern.sub(lambda match: _escape(match.group()), str(text))


_ONE_LINE_CONTROLS = re.compile(f"[\t\n{_TERMINAL_CONTROLS.pattern[1:-1]}]")


def _escape(character: str) -> str:
    code = ord(character)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def handle_errors(command: F) -> F:
    """Turn library errors into one clear message on stderr and the error's exit code, with no traceback.

    A reader that stops early (`| head -1`) ends the command quietly with exit code 141. Any other exception is
    a bug: a one-line message asking for a report and exit code 70, or the traceback when ALLOCOPT_DEBUG is set.
    Click's own usage errors pass through (exit code 2).
    """

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            try:
                with _warnings_as_lines():
                    return command(*args, **kwargs)
            finally:
                sys.stdout.flush()  # a closed pipe shows here, where it is handled, not at interpreter exit
        except BrokenPipeError:
            _discard_stdout()
            sys.exit(EXIT_BROKEN_PIPE)
        except AllocoptError as exc:
            click.echo(f"Error: {terminal_text(exc)}", err=True)
            sys.exit(exc.exit_code)
        except MemoryError:
            click.echo("Error: out of memory; the input needs more memory than this machine has available. Use "
                       "a smaller input, or run on a machine with more memory.", err=True)
            sys.exit(EXIT_OUT_OF_MEMORY)
        except KeyboardInterrupt:
            click.echo("Interrupted: no partial results were written; an output folder holds either its earlier "
                       "files or a complete new result.", err=True)
            sys.exit(EXIT_INTERRUPTED)
        except (click.ClickException, click.exceptions.Exit, click.exceptions.Abort):
            raise
        except Exception as exc:
            if os.environ.get(DEBUG_VARIABLE, "") not in ("", "0"):
                raise
            click.echo(f"Internal error ({type(exc).__name__}: {terminal_text(exc)}). This is a bug in allocopt; "
                       f"please report it with the command you ran. Set {DEBUG_VARIABLE}=1 to see the traceback.",
                       err=True)
            sys.exit(EXIT_INTERNAL_ERROR)

    return wrapper  # type: ignore[return-value]


def _discard_stdout() -> None:
    """Point stdout at the null device, so that the flush at interpreter exit does not fail on the closed pipe
    again (Python's documentation, "Note on SIGPIPE")."""
    with contextlib.suppress(OSError, ValueError):  # a stdout with no file descriptor (click's test runner)
        null = os.open(os.devnull, os.O_WRONLY)
        os.dup2(null, sys.stdout.fileno())


class Money(click.ParamType):
    """An amount of money >= 0, written as `money.parse_money` reads it (30000000, 3e7, 30,000,000, 30M, 3000万)."""

    name = "amount"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> float:
        try:
            amount = parse_money(value) if isinstance(value, str) else float(value)
        except ScenarioError as exc:
            self.fail(str(exc), param, ctx)
        if amount < 0:
            self.fail(f"{value!r} is below 0; an amount of money is at least 0", param, ctx)
        return amount


MONEY = Money()


def overwrite_option(command: F) -> F:
    return click.option(
        "--overwrite", is_flag=True,
        help="Write into a folder holding other files or another kind of result: that result's files are "
             "replaced, files allocopt did not write are kept (never replaced or deleted).",
    )(command)


class Group(click.Group):
    """The command group, ending the process at once when a solver the watchdog abandoned is still running.

    A native solver thread still running at interpreter exit aborts the process ("terminate called without an
    active exception", exit 134) after the results were written; os._exit skips that teardown. Only a call of
    the group (the console script) ends this way, not `Group.main` as click's test runner calls it.
    """

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        try:
            return super().__call__(*args, **kwargs)
        except SystemExit as exc:
            if solvers_left_running():
                sys.stdout.flush()
                sys.stderr.flush()
                os._exit(exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1))
            raise


@contextlib.contextmanager
def _warnings_as_lines() -> Iterator[None]:
    """Show each AllocoptWarning the library raises as one "Warning: ..." line on stderr, as it happens."""
    with warnings.catch_warnings():
        warnings.simplefilter("always", AllocoptWarning)
        shown = warnings.showwarning

        def show(message: Warning | str, category: type[Warning], *args: Any, **kwargs: Any) -> None:
            if issubclass(category, AllocoptWarning):
                click.echo(f"Warning: {terminal_text(message)}", err=True)
            else:
                shown(message, category, *args, **kwargs)

        warnings.showwarning = show
        yield


def warn_unreachable(matrix: TravelMatrix) -> None:
    """Warn of demand points that reach no site, and of sites no demand point reaches, by road."""
    unreachable = matrix.unreachable_origins
    if unreachable:
        click.echo(f"Warning: {len(unreachable)} demand points reach no site by road: "
                   f"{terminal_text(', '.join(unreachable[:10]))}", err=True)
    reached = np.isfinite(matrix.minutes).any(axis=0)
    unreached = [matrix.destination_ids[j] for j in np.flatnonzero(~reached)]
    if unreached:
        click.echo(f"Warning: {len(unreached)} sites are reached by no demand point by road, so the plan cannot use "
                   f"them: {terminal_text(', '.join(unreached[:10]))}", err=True)


def region_argument(command: F) -> F:
    # a callable default is called only when REGION is left out (the workflow is not loaded to declare it)
    return click.argument("region", default=lambda: workflow.DEFAULT_REGION, required=False)(command)


def scenario_option(command: F) -> F:
    return click.option(
        "--scenario", "scenario_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
        help="Scenario TOML file (default: the region's scenario.toml, else the built-in defaults).",
    )(command)


def cache_option(command: F) -> F:
    return click.option(
        "--cache-dir", type=click.Path(file_okay=False, path_type=Path), default=None,
        help="Where travel-time matrices are cached (default: $ALLOCOPT_CACHE_DIR or ~/.cache/allocopt).",
    )(command)


def language_option(command: F) -> F:
    """--lang: the language of everything the command writes for people (tables, report, workbook, maps)."""
    return click.option(
        "--lang", "language", type=click.Choice(LANGUAGES), default=None,
        help="Language of what people read: printed tables, report, workbook and maps (zh: Chinese, en: English; "
             f"default: the region's `language` in region.toml, else {FALLBACK_LANGUAGE}). JSON and CSV keys stay "
             "English.",
    )(command)


def output_translator(language: str | None, region_language: str | None) -> Translator:
    """The translator of --lang, else of the region's (or result's) language, else of FALLBACK_LANGUAGE."""
    return translator(language or region_language or FALLBACK_LANGUAGE)


def echo_table(table: pd.DataFrame) -> None:
    """Print a table; text cells and headers with terminal control characters are shown escaped."""
    shown = table.rename(columns=lambda c: terminal_text(c, one_line=True))
    for column in shown.columns:
        if not pd.api.types.is_numeric_dtype(shown[column]) and not pd.api.types.is_bool_dtype(shown[column]):
            shown[column] = shown[column].map(lambda v: terminal_text(v, one_line=True) if isinstance(v, str) else v)
    with pd.option_context("display.max_rows", 500, "display.max_columns", 50, "display.width", 160,
                           "display.unicode.east_asian_width", True):  # Chinese text takes two columns
        click.echo(shown.to_string(index=False))


def township_labels(townships: pd.DataFrame) -> Callable[[Any], str]:
    """A township code -> "name (code)" as tables print it: the code alone where the name adds nothing."""
    names = dict(zip(townships["code"], townships["name"], strict=True))

    def label(code: Any) -> str:
        if code is None or (isinstance(code, float) and pd.isna(code)):
            return "none"
        name = names.get(code)
        return f"{name} ({code})" if name and name != code else str(code)

    return label


def echo_json(data: Any) -> None:
    """Print JSON; control characters JSON leaves raw (DEL, C1, bidirectional marks) are written as \\uXXXX."""
    text = json.dumps(data, indent=2, ensure_ascii=False, allow_nan=False)
    click.echo(_TERMINAL_CONTROLS.sub(lambda match: f"\\u{ord(match.group()):04x}", text))


class StatusLine:
    """A live one-line status on a terminal's stderr; silent in pipes, files and with --quiet."""

    def __init__(self, *, enabled: bool) -> None:
        self.enabled = enabled
        self.shown = False

    def __call__(self, text: str) -> None:
        if self.enabled:
            click.echo(f"\r\x1b[K{text} ...", err=True, nl=False, color=True)
            self.shown = True

    def clear(self) -> None:
        """Erase the status line before ordinary output."""
        if self.shown:
            click.echo("\r\x1b[K", err=True, nl=False, color=True)
            self.shown = False


def status_line() -> StatusLine:
    quiet = bool(click.get_current_context().find_root().params.get("quiet"))
    return StatusLine(enabled=not quiet and sys.stderr.isatty())


EXIT_NOT_PROVEN_OPTIMAL = 6


class _FiniteRange(click.FloatRange):
    """A FloatRange that also refuses nan, which passes every comparison of FloatRange's check."""

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        number = super().convert(value, param, ctx)
        if number != number or number in (float("inf"), float("-inf")):
            self.fail(f"{value!r} is not a finite number.", param, ctx)
        return number


MIP_GAP = _FiniteRange(min=0, max=1, max_open=True)
"""--mip-gap values: a fraction in [0, 1), so that a mistyped 1 (or 5 for 5%) is a usage error."""
TIME_LIMIT = _FiniteRange(min=0, min_open=True)


def solver_option(command: F) -> F:
    """--solver, one of the library's solvers (`choices.SOLVERS`)."""
    return click.option("--solver", type=click.Choice(SOLVERS), default=None,
                        help=f"MILP solver (default: {SOLVERS[0]}, the faster on our benchmarks).")(command)


def solver_options_for(limited: str) -> Callable[[F], F]:
    """--solver, --time-limit and --mip-gap, with the time limit holding for `limited` ("each budget's whole
    solve")."""

    def decorate(command: F) -> F:
        command = click.option("--mip-gap", type=MIP_GAP, default=None,
                               help="Relative optimality gap within which a plan counts as optimal, a fraction in "
                                    "[0, 1) (default 1e-4).")(command)
        command = click.option("--time-limit", "time_limit_s", type=TIME_LIMIT, default=None,
                               help=f"Wall-clock seconds for {limited}; past it the best plan found is returned "
                                    "with its gap (exit 6).")(command)
        return solver_option(command)

    return decorate


solver_options = solver_options_for("the whole solve (all stages)")
"""--solver, --time-limit and --mip-gap, as the solving commands share them."""


def objective_option(command: F) -> F:
    """--objective, one of the objectives a plan is chosen by (`choices.PLAN_OBJECTIVES`)."""
    return click.option("--objective", type=click.Choice(PLAN_OBJECTIVES), default="gap", show_default=True,
                        help="gap: fewest people unserved (weighted); equity: smallest worst-township gap share, "
                             "then gap; travel: least population-weighted time to primary care. Each then takes "
                             "the cheapest plan of that quality.")(command)


def workers_options(command: F) -> F:
    command = click.option("--scheduler", default=None, metavar="ADDRESS",
                           help="Run on an existing Dask cluster, e.g. tcp://10.0.0.5:8786.")(command)
    return click.option("--workers", type=click.IntRange(min=1), default=1, show_default=True,
                        help="Parallel workers on this machine (a local Dask cluster when more than 1).")(command)


def progress_reporter(status: StatusLine) -> Callable[[int, int, str], None]:
    def report(done: int, total: int, label: str) -> None:
        status(f"[{done}/{total}] {label}")

    return report


def exit_unless_optimal(status: str, detail: str, *, what: str = "plan") -> None:
    """Warn on stderr and exit 6 when `status` is not proven optimal; `detail` says the status and gap as known."""
    if status != "optimal":
        click.echo(f"Warning: the {what} is not proven optimal ({detail}).", err=True)
        sys.exit(EXIT_NOT_PROVEN_OPTIMAL)


def exit_for_statuses(table: pd.DataFrame) -> None:
    statuses = set(table["status"])
    if "error" in statuses:
        click.echo("Warning: some runs failed; their rows give the reason.", err=True)
        sys.exit(3)
    if statuses - {"optimal"}:
        click.echo("Warning: some runs were not proven optimal; see their gap.", err=True)
        sys.exit(EXIT_NOT_PROVEN_OPTIMAL)


def column_names(value: str, count: int, option: str) -> list[str]:
    names = [name.strip() for name in value.split(",")]
    if len(names) != count or not all(names):
        raise click.BadParameter(f"{value!r}: give {count} comma-separated column names", param_hint=option)
    return names


def column_map(values: tuple[str, ...]) -> dict[str, str]:
    mapping: dict[str, str] = {}
    for value in values:
        field, sep, column = value.partition("=")
        if not sep or not field or not column:
            raise click.BadParameter(f"{value!r}: write FIELD=COLUMN, e.g. level=医院等级", param_hint="--map")
        mapping[field.strip()] = column.strip()
    return mapping
