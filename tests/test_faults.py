"""Faults through the CLI: a missing or crashing solver, time limits, a full or unwritable disk, Ctrl-C, bugs.

Each fault must give its exit code and one clear message without a traceback, leave the earlier results in --out
byte for byte, and leave no staging (`.partial`) or retired (`.old-`) directories behind.
"""

from __future__ import annotations

import contextlib
import dataclasses
import errno
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import textwrap
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import cloudpickle
import geopandas as gpd
import numpy as np
import pandas as pd
import pulp
import pytest
from click.testing import CliRunner, Result

from allocopt import engine, export, highs, solve, watchdog
from allocopt._clitools import EXIT_INTERNAL_ERROR, EXIT_INTERRUPTED
from allocopt.cli import main
from allocopt.model import objectives

_EARLIER_FILES = {"summary.json": b'{"earlier": true}\n', "allocations.csv": b"\xef\xbb\xbfsite_id\nA\n",
                  "maps/coverage.png": b"\x89PNG earlier"}
EARLIER = {**_EARLIER_FILES, export.MANIFEST_FILE: json.dumps(
    {"kind": "optimize", "allocopt_version": "0.1.0", "files": sorted(_EARLIER_FILES)}).encode()}
"""An earlier optimize result: its files and the manifest that marks them as allocopt's."""


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


@pytest.fixture
def earlier(tmp_path: Path) -> Path:
    """A result directory from an earlier run, which no failed run may change."""
    out = tmp_path / "work" / "plan"
    for name, data in EARLIER.items():
        (out / name).parent.mkdir(parents=True, exist_ok=True)
        (out / name).write_bytes(data)
    return out


def snapshot(directory: Path) -> dict[str, bytes]:
    """Every file under `directory` (relative path -> bytes)."""
    return {str(p.relative_to(directory)): p.read_bytes() for p in sorted(directory.rglob("*")) if p.is_file()}


def assert_untouched(earlier: Path) -> None:
    """The earlier results are there byte for byte and nothing else was left beside them."""
    assert snapshot(earlier) == EARLIER
    assert sorted(p.name for p in earlier.parent.iterdir()) == ["plan"]


def optimize(runner: CliRunner, region: Path, out: Path, *extra: str, env: dict[str, str] | None = None) -> Result:
    return runner.invoke(main, ["optimize", str(region), "--out", str(out), "--budget", "3000000",
                                "--cache-dir", str(out.parent.parent / "cache"), *extra], env=env)


def assert_one_error(result: Result, code: int, *phrases: str) -> None:
    """Exit `code` with one message line on stderr holding every phrase, no traceback, no success line."""
    assert result.exit_code == code, (result.exit_code, result.output, result.exception)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.output and "Results written" not in result.stdout
    for phrase in phrases:
        assert phrase in lines[0], (phrase, lines[0])


# ---------------------------------------------------------------- the solver missing or crashing


@pytest.mark.parametrize("error", [RuntimeError("HiGHS internal error"),
                                   OSError(errno.ENOMEM, "Cannot allocate memory"),
                                   pulp.PulpSolverError("Pulp: Error while executing HiGHS")],
                         ids=["runtime", "oserror", "pulp"])
def test_highs_crash_exits_4_naming_the_fix(runner: CliRunner, tiny_region_path: Path, earlier: Path,
                                            monkeypatch: pytest.MonkeyPatch, error: Exception) -> None:
    def crash(self: Any, lp: pulp.LpProblem) -> None:
        raise error

    monkeypatch.setattr(highs.BulkHiGHS, "callSolver", crash)
    result = optimize(runner, tiny_region_path, earlier)
    assert_one_error(result, 4, "solver 'highs' failed", type(error).__name__, "--solver cbc", "pip install")
    assert_untouched(earlier)


def test_highspy_missing_exits_4(runner: CliRunner, tiny_region_path: Path, earlier: Path,
                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "highspy", None)  # `import highspy` now raises ImportError
    result = optimize(runner, tiny_region_path, earlier)
    assert_one_error(result, 4, "solver 'highs' is not available", "pip install highspy", "--solver cbc")
    assert_untouched(earlier)


def _write_executable(path: Path, data: bytes) -> str:
    path.write_bytes(data)
    path.chmod(0o755)
    return str(path)


@pytest.mark.parametrize(("binary", "phrase"), [
    (lambda d: str(d / "no-such-cbc"), "solver 'cbc' is not available"),
    (lambda d: _write_executable(d / "cbc", b"\x7fELF not a program"), "solver 'cbc' failed (OSError"),
    (lambda d: _write_executable(d / "cbc", b"#!/bin/sh\nkill -SEGV $$\n"), "solver 'cbc' failed (PulpSolverError"),
], ids=["missing", "not-executable-format", "segfault"])
def test_cbc_missing_or_crashing_exits_4(runner: CliRunner, tiny_region_path: Path, earlier: Path, tmp_path: Path,
                                         monkeypatch: pytest.MonkeyPatch, binary: Callable[[Path], str],
                                         phrase: str) -> None:
    monkeypatch.setattr(pulp.PULP_CBC_CMD, "pulp_cbc_path", binary(tmp_path))
    result = optimize(runner, tiny_region_path, earlier, "--solver", "cbc")
    assert_one_error(result, 4, phrase, "pip install", "--solver highs")
    assert_untouched(earlier)


def test_no_new_result_directory_after_a_solver_failure(runner: CliRunner, tiny_region_path: Path, tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    def crash(self: Any, lp: pulp.LpProblem) -> None:
        raise RuntimeError("HiGHS internal error")

    monkeypatch.setattr(highs.BulkHiGHS, "callSolver", crash)
    with runner.isolated_filesystem(temp_dir=tmp_path) as cwd:
        result = runner.invoke(main, ["optimize", str(tiny_region_path), "--cache-dir", str(tmp_path / "cache")])
        assert result.exit_code == 4
        assert list(Path(cwd).iterdir()) == []  # no results/<region>-<timestamp>/


# ---------------------------------------------------------------- time limits


def test_time_limit_with_a_plan_writes_it_marked_not_optimal_and_exits_6(
        runner: CliRunner, tiny_region_path: Path, earlier: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real_solve = objectives.solve

    def stopped_by_the_limit(model: pulp.LpProblem, **options: Any) -> solve.SolveOutcome:
        outcome = real_solve(model, **options)
        bound = outcome.objective - 0.05 * abs(outcome.objective) - 1.0
        return dataclasses.replace(outcome, status="feasible", best_bound=bound,
                                   gap=solve.relative_gap(outcome.objective, bound))

    monkeypatch.setattr(objectives, "solve", stopped_by_the_limit)
    result = optimize(runner, tiny_region_path, earlier, "--time-limit", "5")
    assert result.exit_code == 6, result.output
    assert "Traceback" not in result.output
    assert "NOT proven optimal" in result.stdout and "not proven optimal" in result.stderr
    summary = json.loads((earlier / "summary.json").read_text(encoding="utf-8"))
    assert summary["status"] == "feasible" and summary["gap"] > 0.04
    assert summary["best_bound"] < summary["objective"] and summary["solver"]["time_limit_s"] == 5
    assert (earlier / "allocations.csv").read_bytes() != EARLIER["allocations.csv"]
    assert not (earlier / "maps").exists()  # the new directory replaced the old one whole
    as_json = optimize(runner, tiny_region_path, earlier, "--time-limit", "5", "--format", "json")
    assert as_json.exit_code == 6 and json.loads(as_json.stdout)["status"] == "feasible"


@pytest.mark.parametrize("solver", ["highs", "cbc"])
def test_a_time_limit_too_short_to_search_still_returns_a_plan_and_exits_6(
        runner: CliRunner, tiny_region_path: Path, earlier: Path, solver: str) -> None:
    result = optimize(runner, tiny_region_path, earlier, "--time-limit", "0.000001", "--solver", solver,
                      "--format", "json")
    assert result.exit_code == 6, result.output
    summary = json.loads(result.stdout)
    assert summary["status"] == "feasible" and summary["cost_yuan"] <= 3_000_000
    assert summary["weighted_gap_after"] <= summary["weighted_gap_before"]
    assert "not proven optimal" in result.stderr


# ---------------------------------------------------------------- the watchdog, with solvers that stall


def _stalling(*, with_plan: bool = False, lp_too: bool = False,
              later_stages: bool = False) -> Callable[..., tuple[str, float | None, str]]:
    """A stand-in for HiGHS that, on a MIP (and on an LP when `lp_too`; only in a later stage when
    `later_stages`), ignores its time limit and every request to stop: it offers the real plan (and a bound 5%
    below it) when `with_plan`, then never returns."""
    def stall(model: pulp.LpProblem, *, best: solve.Incumbent, **options: Any) -> tuple[str, float | None, str]:
        later = any(constraint.name.startswith("stage_keep") for constraint in model.constraints())
        if not (model.isMIP() or lp_too) or (later_stages and not later):
            return highs.solve_highs(model, best=best, **options)
        if with_plan:
            highs.solve_highs(model, best=solve.Incumbent(), **options)
            objective = float(pulp.value(model.objective))
            best.offer(np.array([var.varValue for var in model.variables()]), objective,
                       objective - 0.05 * abs(objective) - 1.0)
        threading.Event().wait()
        raise AssertionError("unreachable")

    return stall


@pytest.fixture
def quick_watchdog(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(watchdog, "WATCHDOG_GRACE_S", 0.2)
    monkeypatch.setattr(watchdog, "INTERRUPT_GRACE_S", 0.2)


@pytest.mark.usefixtures("quick_watchdog")
def test_the_watchdog_returns_the_best_plan_of_a_solver_that_ignores_its_time_limit(
        runner: CliRunner, tiny_region_path: Path, earlier: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(solve._RUNNERS, "highs", _stalling(with_plan=True))
    result = optimize(runner, tiny_region_path, earlier, "--time-limit", "1")
    assert result.exit_code == 6, result.output
    summary = json.loads((earlier / "summary.json").read_text(encoding="utf-8"))
    assert summary["status"] == "feasible" and summary["gap"] is None  # the cost stage had no time left
    assert summary["stage_gaps"][0] == pytest.approx(0.05, abs=0.01) and summary["stage_gaps"][1] is None
    assert summary["stage_objectives"][0] == pytest.approx(summary["objective"])
    assert summary["best_bound"] < summary["objective"]
    assert summary["cost_yuan"] > 0  # the stand-in's plan, not today's network


@pytest.mark.usefixtures("quick_watchdog")
def test_a_long_solve_reports_elapsed_seconds_and_the_best_plan_s_gap(
        tiny_region_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from allocopt import workflow

    monkeypatch.setitem(solve._RUNNERS, "highs", _stalling(with_plan=True))
    steps: list[str] = []
    prepared = workflow.prepare(tiny_region_path)
    workflow.optimize(prepared, time_limit_s=2.5, on_step=steps.append)
    progress = [step for step in steps if step.startswith("Solving with highs: ")]
    assert progress and all(re.fullmatch(r"Solving with highs: [0-9]+ s, best plan's gap [0-9.]+%", step)
                            for step in progress), progress
    assert 5.0 <= float(progress[-1].split()[-1][:-1]) < 10.0  # the stand-in's bound lies 5% (and 1) below


@pytest.mark.usefixtures("quick_watchdog")
def test_a_stalled_solver_without_a_plan_leaves_todays_network(
        runner: CliRunner, tiny_region_path: Path, earlier: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(solve._RUNNERS, "highs", _stalling())
    result = optimize(runner, tiny_region_path, earlier, "--time-limit", "1", "--format", "json")
    assert result.exit_code == 6, result.output
    summary = json.loads(result.stdout)
    assert summary["status"] == "feasible" and summary["cost_yuan"] == 0 and summary["gp"]["added"] == 0
    assert summary["weighted_gap_after"] == pytest.approx(summary["weighted_gap_before"])


@pytest.mark.usefixtures("quick_watchdog")
def test_a_cost_stage_that_stalls_without_a_plan_leaves_the_first_stage_plan(
        runner: CliRunner, tiny_region_path: Path, earlier: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(solve._RUNNERS, "highs", _stalling(later_stages=True))
    result = optimize(runner, tiny_region_path, earlier, "--time-limit", "3", "--format", "json")
    assert result.exit_code == 6, result.output
    summary = json.loads(result.stdout)
    assert summary["status"] == "feasible" and summary["gap"] is None
    assert summary["stage_gaps"][0] == pytest.approx(0.0, abs=1e-4) and summary["stage_gaps"][1] is None
    assert summary["objective"] == pytest.approx(summary["stage_objectives"][0])
    assert summary["cost_yuan"] == pytest.approx(summary["stage_objectives"][1])


@pytest.mark.usefixtures("quick_watchdog")
def test_no_plan_when_todays_network_misses_the_hard_targets_says_so(
        runner: CliRunner, tiny_region_path: Path, earlier: Path, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(solve._RUNNERS, "highs", _stalling())
    scenario = tmp_path / "hard.toml"
    scenario.write_text("[targets.min_covered_share]\nchest_pain = 1.0\n", encoding="utf-8")
    result = optimize(runner, tiny_region_path, earlier, "--time-limit", "1", "--scenario", str(scenario),
                      "--budget", "1e9")
    assert_one_error(result, 4, "found no plan within the time limit of 1 s",
                     "today's network with nothing added is no fallback", "chest_pain covered share >= 100.0%")
    assert_untouched(earlier)


@pytest.mark.usefixtures("quick_watchdog")
def test_the_watchdog_gives_no_plan_when_a_stalled_solver_had_none(
        runner: CliRunner, tiny_region_path: Path, earlier: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(solve._RUNNERS, "highs", _stalling(lp_too=True))
    result = optimize(runner, tiny_region_path, earlier, "--time-limit", "0.5")
    assert_one_error(result, 4, "found no plan within the time limit of 0.5 s", "raise the time limit")
    assert_untouched(earlier)


# ---------------------------------------------------------------- a full disk, an unwritable directory


def _fail_on(predicate: Callable[[Path, Path], bool], error: BaseException) -> Callable[..., None]:
    """os.replace that raises `error` when predicate(src, dst) holds."""
    real_replace = os.replace

    def replace(src: Any, dst: Any) -> None:
        if predicate(Path(src), Path(dst)):
            raise error
        real_replace(src, dst)

    return replace


def _staging_to(target: Path) -> Callable[[Path, Path], bool]:
    """Whether a move is the finished staging directory's onto `target`."""
    return lambda src, dst: dst == target and src.name.endswith(".partial")


def _disk_full() -> OSError:
    return OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


def _full_geopackage(self: gpd.GeoDataFrame, path: Any, *args: Any, **kwargs: Any) -> None:
    Path(path).write_bytes(b"SQLite format 3\x00 half")
    raise _disk_full()


@pytest.mark.parametrize("where", ["file", "geopackage", "swap"])
def test_disk_full_exits_5_and_keeps_earlier_results(runner: CliRunner, tiny_region_path: Path, earlier: Path,
                                                     monkeypatch: pytest.MonkeyPatch, where: str) -> None:
    if where == "file":  # the first file moved into place inside the staging directory
        monkeypatch.setattr(export.os, "replace",
                            _fail_on(lambda src, dst: dst.parent.name.endswith(".partial"), _disk_full()))
    elif where == "geopackage":  # mid-write of result.gpkg, after the CSV and JSON files
        monkeypatch.setattr(gpd.GeoDataFrame, "to_file", _full_geopackage)
    else:  # the finished staging directory moved over the earlier one
        monkeypatch.setattr(export.os, "replace", _fail_on(_staging_to(earlier), _disk_full()))
    result = optimize(runner, tiny_region_path, earlier)
    assert_one_error(result, 5, str(earlier), "No space left on device", "--out", "Earlier results there are unchanged")
    assert result.stderr.count("could not write results") == 1
    assert_untouched(earlier)


def test_unwritable_parent_exits_5(runner: CliRunner, tiny_region_path: Path, earlier: Path,
                                   monkeypatch: pytest.MonkeyPatch) -> None:
    # running as root makes chmod ineffective, so the refusal is simulated where the staging directory is made
    def refuse(*args: Any, **kwargs: Any) -> str:
        raise PermissionError(errno.EACCES, os.strerror(errno.EACCES))

    monkeypatch.setattr(export.tempfile, "mkdtemp", refuse)
    result = optimize(runner, tiny_region_path, earlier)
    assert_one_error(result, 5, str(earlier), "Permission denied")
    assert_untouched(earlier)


@pytest.mark.skipif(hasattr(os, "geteuid") and os.geteuid() == 0, reason="root ignores directory permissions")
def test_read_only_parent_exits_5(runner: CliRunner, tiny_region_path: Path, earlier: Path) -> None:
    earlier.parent.chmod(0o500)
    try:
        result = optimize(runner, tiny_region_path, earlier)
    finally:
        earlier.parent.chmod(0o700)
    assert_one_error(result, 5, str(earlier), "Permission denied")
    assert_untouched(earlier)


def test_out_below_a_file_exits_5(runner: CliRunner, tiny_region_path: Path, tmp_path: Path) -> None:
    blocker = tmp_path / "work" / "not-a-directory"
    blocker.parent.mkdir()
    blocker.write_text("a file", encoding="utf-8")
    result = optimize(runner, tiny_region_path, blocker / "plan")
    assert_one_error(result, 5, str(blocker / "plan"), "could not write results")
    assert not [p.name for p in blocker.parent.iterdir() if p.name.startswith(".")]


# ---------------------------------------------------------------- Ctrl-C


def test_ctrl_c_during_the_solve_exits_130(runner: CliRunner, tiny_region_path: Path, earlier: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    def interrupted(self: Any, lp: pulp.LpProblem) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(highs.BulkHiGHS, "callSolver", interrupted)
    result = optimize(runner, tiny_region_path, earlier)
    assert_one_error(result, EXIT_INTERRUPTED, "Interrupted", "no partial results")
    assert_untouched(earlier)


@pytest.mark.parametrize("where", ["geopackage", "swap"])
def test_ctrl_c_during_the_write_exits_130_and_keeps_earlier_results(
        runner: CliRunner, tiny_region_path: Path, earlier: Path, monkeypatch: pytest.MonkeyPatch,
        where: str) -> None:
    if where == "geopackage":
        def interrupted(self: gpd.GeoDataFrame, path: Any, *args: Any, **kwargs: Any) -> None:
            Path(path).write_bytes(b"SQLite format 3\x00 half")
            raise KeyboardInterrupt

        monkeypatch.setattr(gpd.GeoDataFrame, "to_file", interrupted)
    else:  # between moving the earlier directory aside and moving the new one in
        monkeypatch.setattr(export.os, "replace", _fail_on(_staging_to(earlier), KeyboardInterrupt()))
    result = optimize(runner, tiny_region_path, earlier)
    assert_one_error(result, EXIT_INTERRUPTED, "Interrupted")
    assert_untouched(earlier)


_INTERRUPTED_SOLVE = textwrap.dedent("""
    import sys
    sys.path.insert(0, sys.argv[1])
    from test_solve import market_split
    from allocopt.solve import solve
    model, *_ = market_split(seed=0)
    print("solving", flush=True)
    try:
        solve(model, solver="highs", time_limit_s=60)
    except KeyboardInterrupt:
        print("interrupted:", model.solverModel.modelStatusToString(model.solverModel.getModelStatus()), flush=True)
""")


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
def test_a_real_ctrl_c_stops_highs_mid_solve(tmp_path: Path) -> None:
    # HiGHS stops on the interrupt itself (status "Interrupted by user"), not when its time limit runs out
    script = tmp_path / "interrupted.py"
    script.write_text(_INTERRUPTED_SOLVE, encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": str(Path(solve.__file__).resolve().parents[1])}
    child = subprocess.Popen([sys.executable, str(script), str(Path(__file__).parent)], env=env, text=True,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    try:
        assert child.stdout is not None and child.stdout.readline() == "solving\n"
        subprocess.run([sys.executable, "-c", "import time; time.sleep(1.5)"], check=True)
        child.send_signal(signal.SIGINT)
        out, err = child.communicate(timeout=180)
    finally:
        child.kill()
    assert out.strip() == "interrupted: Interrupted by user", err


# ---------------------------------------------------------------- real processes on one --out


def _allocopt(*args: str, tmp_path: Path) -> subprocess.Popen[str]:
    """`allocopt ARGS` as a separate process (Ctrl-C reaches it as it would from a terminal)."""
    env = {**os.environ, "PYTHONPATH": str(Path(solve.__file__).resolve().parents[1])}
    return subprocess.Popen([sys.executable, "-m", "allocopt.cli", *args], env=env, text=True, cwd=tmp_path,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))


def _plan_args(region: Path, out: Path, budget: str) -> list[str]:
    return ["optimize", str(region), "--out", str(out), "--budget", budget, "--report", "--cache-dir",
            str(out.parent / "cache")]


def _one_run(out: Path) -> bool:
    """Whether every file of `out` is one its manifest lists, and summary.json and plan.xlsx are of one run."""
    import openpyxl

    manifest = export.read_manifest(out)
    listed = set(manifest.files) | {export.MANIFEST_FILE} if manifest is not None else set()
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    sheet = openpyxl.load_workbook(out / "plan.xlsx", read_only=True)["Technical appendix"]
    figures = {row[0]: row[1] for row in sheet.iter_rows(min_row=2, values_only=True)}
    return (set(snapshot(out)) == listed
            and figures["Solve time (seconds)"] == pytest.approx(summary["solver"]["seconds"])
            and figures["Objective value"] == pytest.approx(summary["objective"]))


def _staged(out: Path, child: subprocess.Popen[str]) -> bool:
    """Wait until `child` is writing its staging folder beside `out`; False if it ended first."""
    while child.poll() is None:
        if any(p.name.endswith(".partial") for p in out.parent.glob(f".{out.name}.*")):
            return True
        subprocess.run([sys.executable, "-c", "import time; time.sleep(0.01)"], check=True)
    return False


def _leftovers(out: Path) -> list[str]:
    return sorted(p.name for p in out.parent.iterdir() if p.name.startswith(f".{out.name}."))


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals and locks")
def test_two_concurrent_runs_on_one_out_leave_one_complete_result(runner: CliRunner, tiny_region_path: Path,
                                                                  tmp_path: Path) -> None:
    out = tmp_path / "plan"
    runs = [_allocopt(*_plan_args(tiny_region_path, out, budget), tmp_path=tmp_path) for budget in ("3000000",
                                                                                                  "1000000")]
    outcomes = [run.communicate(timeout=600) for run in runs]
    assert [run.returncode for run in runs] == [0, 0], outcomes
    assert _one_run(out)
    assert _leftovers(out) == []


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
@pytest.mark.parametrize("how", ["kill -9", "Ctrl-C"])
def test_a_run_stopped_while_writing_leaves_the_earlier_result_whole(runner: CliRunner, tiny_region_path: Path,
                                                                     tmp_path: Path, how: str) -> None:
    out = tmp_path / "plan"
    first = runner.invoke(main, _plan_args(tiny_region_path, out, "3000000"))
    assert first.exit_code == 0, first.output
    (out / "budget-2025.docx").write_bytes(b"the planner's own")
    earlier = snapshot(out)
    child = _allocopt(*_plan_args(tiny_region_path, out, "1000000"), tmp_path=tmp_path)
    try:
        assert _staged(out, child), child.communicate()
        child.send_signal(signal.SIGKILL if how == "kill -9" else signal.SIGINT)
        _, err = child.communicate(timeout=120)
    finally:
        child.kill()
    assert snapshot(out) == earlier
    if how == "Ctrl-C":
        assert child.returncode == EXIT_INTERRUPTED, err
        assert err.strip().splitlines()[-1].startswith("Interrupted: no partial results were written")
        assert _leftovers(out) == []
    else:
        assert [name.endswith(".partial") for name in _leftovers(out)] == [True]
    again = runner.invoke(main, _plan_args(tiny_region_path, out, "1000000"))
    assert again.exit_code == 0, again.output
    assert _leftovers(out) == []  # the killed run's staging folder is cleaned up
    assert set(snapshot(out)) - {"budget-2025.docx"} == {*export.read_manifest(out).files,  # type: ignore[union-attr]
                                                          export.MANIFEST_FILE}
    assert (out / "budget-2025.docx").read_bytes() == b"the planner's own"
    assert json.loads((out / "summary.json").read_text(encoding="utf-8"))["budget_yuan"] == 1_000_000


_STALLED_CLI = textwrap.dedent("""
    import sys, threading
    from pathlib import Path
    from allocopt import solve
    from allocopt.cli import main

    def stall(model, **options):  # a solver that ignores its time limit and Ctrl-C alike
        Path(sys.argv[1]).write_text("stalled")
        threading.Event().wait()

    solve._RUNNERS["highs"] = stall
    main(["optimize", sys.argv[2], "--budget", "3000000", "--time-limit", "3600", "--out", sys.argv[3],
          "--cache-dir", sys.argv[4]])
""")


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
def test_ctrl_c_holds_when_the_solver_ignores_it(tmp_path: Path, tiny_region_path: Path) -> None:
    script, marker = tmp_path / "stalled.py", tmp_path / "stalled"
    script.write_text(_STALLED_CLI, encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": str(Path(solve.__file__).resolve().parents[1])}
    child = subprocess.Popen([sys.executable, str(script), str(marker), str(tiny_region_path),
                              str(tmp_path / "plan"), str(tmp_path / "cache")], env=env, text=True,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    try:
        while not marker.exists() and child.poll() is None:
            subprocess.run([sys.executable, "-c", "import time; time.sleep(0.2)"], check=True)
        child.send_signal(signal.SIGINT)
        out, err = child.communicate(timeout=60)  # the stand-in never returns: only the watchdog ends this
    finally:
        child.kill()
    assert child.returncode == EXIT_INTERRUPTED, (out, err)
    assert "Interrupted" in err and "Traceback" not in err
    assert not (tmp_path / "plan").exists()


# ---------------------------------------------------------------- bugs


def test_an_internal_error_exits_70_asking_for_a_report(runner: CliRunner, tiny_region_path: Path, earlier: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    from allocopt import workflow

    def bug(*args: Any, **kwargs: Any) -> None:
        raise ZeroDivisionError("float division by zero")

    monkeypatch.setattr(workflow, "optimize", bug)
    result = optimize(runner, tiny_region_path, earlier)
    assert_one_error(result, EXIT_INTERNAL_ERROR, "Internal error (ZeroDivisionError: float division by zero)",
                     "please report", "ALLOCOPT_DEBUG=1")
    assert_untouched(earlier)
    debug = optimize(runner, tiny_region_path, earlier, env={"ALLOCOPT_DEBUG": "1"})
    assert isinstance(debug.exception, ZeroDivisionError)
    assert_untouched(earlier)


def test_usage_errors_still_exit_2(runner: CliRunner, tmp_path: Path) -> None:
    costs = tmp_path / "costs.csv"
    costs.write_text("demand,site,cost\na,x,1\n", encoding="utf-8")
    result = runner.invoke(main, ["locate", "pmedian", "--costs", str(costs), "-p", "1", "--columns", "a,b"])
    assert result.exit_code == 2 and "Internal error" not in result.output


@pytest.mark.parametrize("command", [["optimize"], ["sweep", "--budgets", "0,1000"], ["batch"],
                                     ["locate", "pmedian", "--costs", "costs.csv", "-p", "1"]])
@pytest.mark.parametrize("gap", ["1", "1.5", "-0.1", "nan"])
def test_a_mip_gap_outside_0_to_1_is_a_usage_error(runner: CliRunner, command: list[str], gap: str) -> None:
    with runner.isolated_filesystem():
        Path("costs.csv").write_text("demand,site,cost\na,x,1\n", encoding="utf-8")
        result = runner.invoke(main, [*command, "--mip-gap", gap])
    assert result.exit_code == 2, result.output
    assert "--mip-gap" in result.output and "Internal error" not in result.output


def test_a_consortium_design_not_proven_optimal_exits_6(runner: CliRunner, tiny_region_path: Path, tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    real = solve._RUNNERS["highs"]

    def optimistic(model: pulp.LpProblem, **options: Any) -> tuple[str, float | None, str]:
        status, _, version = real(model, **options)
        return status, float(pulp.value(model.objective)) * 0.9 - 1.0, version  # "optimal" beside a 10% gap

    monkeypatch.setitem(solve._RUNNERS, "highs", optimistic)
    result = runner.invoke(main, ["consortium", str(tiny_region_path), "--format", "json", "--cache-dir",
                                  str(tmp_path / "cache")])
    assert result.exit_code == 6, result.output
    assert json.loads(result.stdout)["status"] == "feasible" and "not proven optimal" in result.stderr


@pytest.mark.usefixtures("quick_watchdog")
def test_locate_holds_its_time_limit_with_a_stalled_solver(runner: CliRunner, tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    costs = tmp_path / "costs.csv"
    costs.write_text("demand,site,cost\n" + "".join(f"d{d},s{s},{abs(d - 2 * s) + 1}\n"
                                                    for d in range(8) for s in range(4)), encoding="utf-8")
    monkeypatch.setitem(solve._RUNNERS, "highs", _stalling(with_plan=True))
    result = runner.invoke(main, ["locate", "pmedian", "--costs", str(costs), "-p", "2", "--time-limit", "1",
                                  "--format", "json"])
    assert result.exit_code == 6, result.output
    located = json.loads(result.stdout)
    assert located["status"] == "feasible" and len(located["sites"]) == 2 and located["gap"] > 0.04


# ---------------------------------------------------------------- a scheduler that is not one, failing workers

# Worker processes cannot import this test module by name, so its task functions travel by value.
cloudpickle.register_pickle_by_value(sys.modules[__name__])


@contextlib.contextmanager
def _tcp_server(reply: bytes | None) -> Iterator[str]:
    """A server on a free 127.0.0.1 port that answers anything with `reply` (None: never answers), for the
    duration of the block; yields its tcp:// address."""
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.2)
    stop = threading.Event()
    held: list[socket.socket] = []

    def serve() -> None:
        while not stop.is_set():
            try:
                connection, _ = listener.accept()
            except TimeoutError:
                continue
            held.append(connection)
            if reply is not None:
                connection.settimeout(2.0)
                with contextlib.suppress(OSError):
                    connection.recv(65536)
                    connection.sendall(reply)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"tcp://127.0.0.1:{listener.getsockname()[1]}"
    finally:
        stop.set()
        thread.join(5.0)
        for connection in held:
            connection.close()
        listener.close()


HTTP_REPLY = b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n" + b"x" * 64


@pytest.mark.parametrize("reply", [None, HTTP_REPLY], ids=["silent", "http"])
def test_a_scheduler_address_that_is_no_dask_scheduler_times_out_and_explains(
    reply: bytes | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A silent server and an HTTP server (the dashboard's port mistaken for the scheduler's) each give one
    ClusterError naming the address and the default ports, within the connect timeout and a short grace (Dask
    then either waits for a handshake that never comes or reads the HTTP reply as a message length of 3 EiB)."""
    monkeypatch.setattr(engine, "_HANDSHAKE_GRACE_S", 1.0)
    with _tcp_server(reply) as address, pytest.raises(engine.ClusterError) as caught, \
            engine.open_engine(scheduler=address, connect_timeout_s=1.0):
        pass
    message = str(caught.value)
    assert "did not answer as a Dask scheduler within 1 s" in message or "does not speak Dask's protocol" in message
    assert address in message and "8786" in message and "8787 is the dashboard" in message
    _wait_for_abandoned_connections()


def _wait_for_abandoned_connections() -> None:
    """Let a connection attempt given up on end (its server is closed now), so that it cannot disturb the Dask
    clusters of later tests."""
    for _ in range(100):
        if not any(thread.name == "allocopt-dask-connect" for thread in threading.enumerate()):
            return
        threading.Event().wait(0.1)


def _recurse(shared: Any, *, depth: int) -> int:
    """Recurse without end when depth > 0: a task that fails with a RecursionError on its worker."""
    return _recurse(shared, depth=depth + 1) + 1 if depth > 0 else 0


def test_batch_on_workers_reports_one_line_per_failed_region(runner: CliRunner, tiny_region_path: Path,
                                                             tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    """One bad region on a local cluster: one row with one line of error, as in process; and a task failing
    with a RecursionError on a worker is one line too, with no traceback on the terminal."""
    regions = tmp_path / "regions"
    shutil.copytree(tiny_region_path, regions / "good")
    shutil.copytree(tiny_region_path, regions / "bad")
    (regions / "bad" / "region.toml").write_text("[region]\nx = " + "[" * 5000 + "]" * 5000 + "\n",
                                                 encoding="utf-8")
    out = tmp_path / "batch"
    result = runner.invoke(main, ["batch", "--regions-dir", str(regions), "--workers", "2", "--out", str(out),
                                  "--cache-dir", str(tmp_path / "cache")])
    assert result.exit_code == 3, result.output
    table = pd.read_csv(out / "batch.csv", encoding="utf-8-sig")
    errors = dict(zip(table["region"].map(lambda p: Path(p).name), table["error"], strict=True))
    assert pd.isna(errors["good"]) and errors["bad"].startswith("DataError: ") and "nested too deeply" in errors["bad"]
    with engine.open_engine(workers=2) as cluster:
        outcomes = cluster.run(_recurse, [engine.Task("deep", {"depth": 1}), engine.Task("flat", {"depth": 0})])
    assert outcomes[0].error is not None and outcomes[0].error.startswith("RecursionError: ")
    assert "\n" not in outcomes[0].error and outcomes[1].value == 0
    captured = capfd.readouterr()
    assert "Traceback" not in captured.err + captured.out + result.output
    assert len(result.stderr.splitlines()) == 1  # "Warning: some runs failed; their rows give the reason."


# ---------------------------------------------------------------- a cache that cannot be written, no memory


def test_a_cold_read_only_cache_falls_back_to_memory_with_a_warning(runner: CliRunner, tiny_region_path: Path,
                                                                    tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-directory"
    blocker.write_bytes(b"")  # the cache directory cannot be made below a file, even by root
    result = runner.invoke(main, ["access", str(tiny_region_path), "--format", "json", "--cache-dir",
                                  str(blocker / "cache")])
    assert result.exit_code == 0, result.output
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("Warning: travel-time cache") and "kept in memory" in lines[0]
    assert json.loads(result.stdout)["population"] == 40_000.0


_FAILING_IMPORT = textwrap.dedent("""
    import sys

    class NoMemory:
        def find_spec(self, name, path=None, target=None):
            if name != "networkx":
                return None
            if sys.argv[1] == "memory-error":
                raise MemoryError
            # as scipy does: the loader's failure re-raised as a broken install
            try:
                raise ImportError("libgeos.so: failed to map segment from shared object")
            except ImportError as exc:
                raise ImportError("the install seems to be broken") from exc

    sys.meta_path.insert(0, NoMemory())
    from allocopt.cli import main
    main(["validate"])  # --help loads no geographic library; a command loads them when it runs
""")


@pytest.mark.parametrize("failure", ["memory-error", "unmappable-library"])
def test_too_little_memory_to_load_the_libraries_gives_one_line(failure: str, tmp_path: Path) -> None:
    """Under a small memory limit the imports fail with MemoryError or a loader error (seen with ulimit -v
    150000 to 400000): one line and exit 5, not a 28-line traceback, whether at start or, as the CLI loads a
    command's libraries when it runs, when the command first needs them."""
    script = tmp_path / "start.py"
    script.write_text(_FAILING_IMPORT, encoding="utf-8")
    done = subprocess.run([sys.executable, str(script), failure], capture_output=True, text=True, timeout=120,
                          env={**os.environ, "PYTHONPATH": str(Path(export.__file__).parents[1])}, check=False)
    assert done.returncode == 5, done.stderr
    assert done.stderr.count("\n") == 1 and done.stderr.startswith("Error: out of memory while loading")
    assert "Traceback" not in done.stderr and done.stdout == ""
