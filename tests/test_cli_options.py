"""The command line offers what the library accepts: every --solver, --objective and --robust choice list is the
library's constant, and each solving option is declared once (`_clitools`), not per command."""

from __future__ import annotations

from collections.abc import Iterator

import click

from allocopt.choices import PLAN_OBJECTIVES, ROBUST_MODES, SOLVERS
from allocopt.cli import main
from allocopt.model import OBJECTIVES
from allocopt.model.robust import ROBUST_MODES as MODEL_ROBUST_MODES
from allocopt.solve import SOLVERS as SOLVE_SOLVERS


def _commands(group: click.Group, prefix: str = "") -> Iterator[tuple[str, click.Command]]:
    for name, command in group.commands.items():
        yield f"{prefix}{name}", command
        if isinstance(command, click.Group):
            yield from _commands(command, f"{prefix}{name} ")


def _choices(option: str) -> dict[str, tuple[str, ...]]:
    found = {}
    for name, command in _commands(main):
        for parameter in command.params:
            if option in getattr(parameter, "opts", ()) and isinstance(parameter.type, click.Choice):
                found[name] = tuple(parameter.type.choices)
    return found


def test_the_library_owns_the_constants() -> None:
    assert SOLVE_SOLVERS is SOLVERS and MODEL_ROBUST_MODES is ROBUST_MODES
    assert set(PLAN_OBJECTIVES) < set(OBJECTIVES)


def test_every_solver_choice_is_the_library_s() -> None:
    solvers = _choices("--solver")
    assert {"optimize", "cover", "consortium", "sweep", "batch", "locate pmedian", "locate mclp"} <= set(solvers)
    assert set(solvers.values()) == {SOLVERS}


def test_every_objective_and_robust_choice_is_the_library_s() -> None:
    objectives = _choices("--objective")
    assert set(objectives) == {"optimize", "sweep", "batch"} and set(objectives.values()) == {PLAN_OBJECTIVES}
    assert _choices("--robust") == {"optimize": ROBUST_MODES}


def test_solving_options_are_the_shared_ones() -> None:
    """--time-limit and --mip-gap take the same checked types everywhere (a --mip-gap of 1 is a usage error)."""
    for name, command in _commands(main):
        for parameter in command.params:
            if "--mip-gap" in getattr(parameter, "opts", ()):
                assert parameter.type.convert(0.5, None, None) == 0.5
                try:
                    parameter.type.convert(1, None, None)
                except click.BadParameter:
                    continue
                raise AssertionError(f"{name} --mip-gap accepts 1")
