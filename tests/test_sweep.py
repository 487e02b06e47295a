"""Budget sweeps: monotone frontiers, warm starts that keep the optimum, failures per budget, the same
frontier in process, on a local cluster and through a real scheduler with two workers on loopback."""

from __future__ import annotations

import dataclasses
import json
import math
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pulp
import pytest

import allocopt
from allocopt import workflow
from allocopt.errors import ScenarioError
from allocopt.generate import generate_region, write_region
from allocopt.model import build_model, build_problem
from allocopt.optimize import StartPlan, optimize_problem
from allocopt.scenario import scenario_from_dict
from allocopt.sweep import (
    FRONTIER_COLUMNS,
    FRONTIER_FILE,
    Sweep,
    error_row,
    frontier_table,
    parse_budgets,
    sweep_budgets,
    sweep_record,
    write_sweep,
)

TINY_BUDGETS = (0.0, 4e6, 8e6, 12e6, 16e6, 20e6)
SRC_DIR = Path(allocopt.__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def tiny(tiny_region_path: Path) -> workflow.Prepared:
    return workflow.prepare(tiny_region_path)


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> workflow.Prepared:
    folder = tmp_path_factory.mktemp("generated") / "gen-3"
    write_region(generate_region(townships=3, villages=30, seed=11, name="gen-3"), folder)
    return workflow.prepare(folder)


@pytest.fixture(scope="module")
def tiny_sweep(tiny: workflow.Prepared) -> Sweep:
    return sweep_budgets(tiny, TINY_BUDGETS, mip_gap=0.0)


# ---------------------------------------------------------------- parsing and the frontier table


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("0:30000000:4", (0.0, 10e6, 20e6, 30e6)),
        ("1e6:1e6:1", (1e6,)),
        ("5_000_000, 1e6", (5e6, 1e6)),
    ],
)
def test_parse_budgets(text: str, expected: tuple[float, ...]) -> None:
    assert parse_budgets(text) == pytest.approx(expected)


@pytest.mark.parametrize("text", ["a:1:3", "10:0:3", "0:10:1", "0:10:x", "-5", "0:1:2:3", "1e6,,2e6", "nan"])
def test_parse_budgets_rejects(text: str) -> None:
    with pytest.raises(ScenarioError, match="--budgets"):
        parse_budgets(text)


def _row(budget: float, weighted_gap: float) -> dict[str, float | str]:
    return {
        "budget_yuan": budget,
        "status": "optimal",
        "objective": weighted_gap,
        "weighted_gap": weighted_gap,
    }


def test_frontier_table_sorts_and_computes_the_marginal_by_hand() -> None:
    rows = [
        _row(40_000.0, 60.0),
        _row(0.0, 100.0),
        _row(20_000.0, 60.0),
        error_row(60_000.0, "SolverError: x"),
        _row(80_000.0, 10.0),
        _row(100_000.0, 0.0),
    ]
    table = frontier_table(rows)
    assert list(table.columns) == list(FRONTIER_COLUMNS)
    assert table["budget_yuan"].tolist() == [0.0, 20_000.0, 40_000.0, 60_000.0, 80_000.0, 100_000.0]
    # (100 - 60) people / 2 units of 10,000 yuan = 20; then 0; next to the failed budget empty; 10 / 2 = 5.
    np.testing.assert_array_equal(
        table["marginal_people_per_10k_yuan"].to_numpy(), [np.nan, 20.0, 0.0, np.nan, np.nan, 5.0]
    )
    assert table["status"].tolist()[3] == "error" and table["error"].tolist()[3] == "SolverError: x"


def test_sweep_rejects_no_budgets_and_negative_ones(tiny: workflow.Prepared) -> None:
    with pytest.raises(ScenarioError, match="no budgets"):
        sweep_budgets(tiny, [])
    with pytest.raises(ScenarioError, match="-1"):
        sweep_budgets(tiny, [1e6, -1.0])


# ---------------------------------------------------------------- frontiers


def _assert_monotone(frontier: pd.DataFrame) -> None:
    assert (frontier["status"] == "optimal").all(), frontier[["budget_yuan", "status", "error"]]
    gaps = frontier["weighted_gap"].to_numpy()
    assert np.all(np.diff(gaps) <= 1e-6 * max(1.0, gaps[0])), gaps
    assert np.all(frontier["cost_yuan"] <= frontier["budget_yuan"] + 1.0)
    assert np.all(frontier["marginal_people_per_10k_yuan"].iloc[1:] >= -1e-9)


def test_tiny_frontier_is_monotone_and_starts_at_today(tiny_sweep: Sweep) -> None:
    frontier = tiny_sweep.frontier
    _assert_monotone(frontier)
    assert frontier["budget_yuan"].tolist() == list(TINY_BUDGETS)
    first = tiny_sweep.summaries[0.0]
    assert frontier["cost_yuan"].iloc[0] == 0.0
    assert frontier["weighted_gap"].iloc[0] == pytest.approx(first["weighted_gap_before"])
    assert frontier["weighted_gap"].iloc[-1] < frontier["weighted_gap"].iloc[0]
    for service, figures in tiny_sweep.summaries[20e6]["services"].items():
        assert frontier[f"{service}_unserved"].iloc[-1] == pytest.approx(figures["unserved_after"])
    assert frontier["warm_started"].tolist() == [False] + [True] * (len(TINY_BUDGETS) - 1)


def test_every_budget_agrees_with_a_single_optimize_run(tiny: workflow.Prepared, tiny_sweep: Sweep) -> None:
    for budget, weighted_gap in zip(TINY_BUDGETS, tiny_sweep.frontier["weighted_gap"], strict=True):
        alone = workflow.optimize(
            dataclasses.replace(tiny, scenario=tiny.scenario.with_budget(budget)), mip_gap=0.0
        )
        assert weighted_gap == pytest.approx(alone.weighted_gap_after, rel=1e-9)


def test_a_tiers_scenario_sweeps_and_agrees_with_single_runs(tiny_region_path: Path, tmp_path: Path) -> None:
    # sweeps once built the problem without the site-to-hospital minutes [tiers] needs, failing every budget
    scenario = tmp_path / "tiers.toml"
    scenario.write_text("[tiers]\n", encoding="utf-8")
    prepared = workflow.prepare(tiny_region_path, scenario_path=scenario)
    budgets = (0.0, 4e6, 12e6)
    sweep = sweep_budgets(prepared, budgets, mip_gap=0.0)
    assert sweep.frontier["status"].tolist() == ["optimal"] * 3, sweep.frontier["error"].tolist()
    for budget, weighted_gap in zip(budgets, sweep.frontier["weighted_gap"], strict=True):
        alone = workflow.optimize(dataclasses.replace(prepared, scenario=prepared.scenario.with_budget(budget)),
                                  mip_gap=0.0)
        assert alone.tiers is not None
        assert weighted_gap == pytest.approx(alone.weighted_gap_after, rel=1e-9)
        assert sweep.summaries[budget]["tiers"] == alone.to_summary()["tiers"]


def test_generated_frontier_is_monotone_with_and_without_warm_start(generated: workflow.Prepared) -> None:
    budgets = parse_budgets("0:12000000:5")
    warm = sweep_budgets(generated, budgets, mip_gap=0.0).frontier
    cold = sweep_budgets(generated, budgets, mip_gap=0.0, warm_start=False).frontier
    _assert_monotone(warm)
    _assert_monotone(cold)
    np.testing.assert_allclose(warm["objective"], cold["objective"], rtol=1e-9)
    assert not cold["warm_started"].any()
    assert warm["warm_started"].tolist() == [False, True, True, True, True]


def test_equity_objective_starts_its_first_stage_from_the_previous_plan(tiny: workflow.Prepared) -> None:
    warm = sweep_budgets(tiny, [4e6, 8e6], objective="equity", mip_gap=0.0).frontier
    cold = sweep_budgets(tiny, [4e6, 8e6], objective="equity", mip_gap=0.0, warm_start=False).frontier
    assert (warm["status"] == "optimal").all()
    assert warm["warm_started"].tolist() == [False, True]
    np.testing.assert_allclose(warm["objective"], cold["objective"], rtol=1e-9)
    assert warm["objective"].iloc[1] <= warm["objective"].iloc[0] + 1e-9


def test_start_plan_reproduces_the_plan_it_was_read_from(tiny: workflow.Prepared) -> None:
    problem = build_problem(tiny.region, tiny.matrix, tiny.scenario.with_budget(15e6))
    result = optimize_problem(problem, mip_gap=0.0)
    model = build_model(problem)
    StartPlan.from_result(result).apply(model)
    assert pulp.value(model.capital_yuan) == pytest.approx(result.capital_yuan)
    assert pulp.value(model.annual_yuan) == pytest.approx(result.annual_yuan)
    assert (
        sum(var.varValue for var in model.gp.values())
        == result.townships["gp_after"].sum() - result.townships["gp_before"].sum()
    )


def test_an_infeasible_budget_is_reported_and_the_others_complete(tiny: workflow.Prepared) -> None:
    hard = scenario_from_dict(
        {"targets": {"min_covered_share": {"chest_pain": 1.0}}}, source="hard chest pain"
    )
    # A cath lab and a chest pain center cost 10.8 + 2.7 million yuan (capital plus a year): 4 million is short.
    sweep = sweep_budgets(dataclasses.replace(tiny, scenario=hard), [0.0, 4e6, 14e6, 20e6], mip_gap=0.0)
    frontier = sweep.frontier
    assert frontier["status"].tolist() == ["error", "error", "optimal", "optimal"]
    assert all(
        error.startswith("InfeasibleError:") and "budget" in error for error in frontier["error"].iloc[:2]
    )
    assert frontier["error"].iloc[2:].tolist() == ["", ""]
    assert frontier["chest_pain_unserved"].iloc[2:].tolist() == [0.0, 0.0]
    assert sorted(sweep.summaries) == [14e6, 20e6]
    assert [row["budget_yuan"] for row in sweep_record(sweep)["failed"]] == [0.0, 4e6]


def test_write_sweep(tiny_sweep: Sweep, tmp_path: Path) -> None:
    out = write_sweep(tiny_sweep, tmp_path / "sweep")
    frontier = pd.read_csv(out / FRONTIER_FILE, encoding="utf-8-sig", keep_default_na=False, na_values=[""])
    assert list(frontier.columns) == list(FRONTIER_COLUMNS)
    np.testing.assert_allclose(frontier["weighted_gap"], tiny_sweep.frontier["weighted_gap"])
    assert (out / "chart_budget_gap.png").stat().st_size > 10_000
    summaries = sorted((out / "summaries").glob("budget-*.json"))
    assert [p.name for p in summaries] == sorted(f"budget-{b:.0f}.json" for b in TINY_BUDGETS)
    summary = json.loads((out / "summaries" / "budget-8000000.json").read_text(encoding="utf-8"))
    assert summary["budget_yuan"] == 8e6 and summary["region"] == "tiny-region"
    record = json.loads((out / "sweep.json").read_text(encoding="utf-8"))
    assert record["budgets_yuan"] == list(TINY_BUDGETS) and record["failed"] == []


# ---------------------------------------------------------------- on a cluster


def _same_frontier(left: pd.DataFrame, right: pd.DataFrame) -> None:
    pd.testing.assert_frame_equal(
        left.drop(columns="seconds"), right.drop(columns="seconds"), check_exact=True
    )


def test_local_cluster_gives_the_sequential_frontier(tiny: workflow.Prepared) -> None:
    sequential = sweep_budgets(tiny, TINY_BUDGETS, warm_start=False)
    progress: list[str] = []
    clustered = sweep_budgets(
        tiny,
        TINY_BUDGETS,
        warm_start=False,
        workers=2,
        progress=lambda done, total, label: progress.append(label),
    )
    _same_frontier(clustered.frontier, sequential.frontier)
    assert clustered.summaries.keys() == sequential.summaries.keys()
    assert sorted(progress) == sorted(f"budget {b:,.0f} yuan" for b in TINY_BUDGETS)
    assert "2 workers" in clustered.engine


@pytest.fixture(scope="module")
def scheduler_address(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real `dask scheduler` and two `dask worker` processes on 127.0.0.1, stopped after the module."""
    from distributed import Client

    scheduler_file = tmp_path_factory.mktemp("dask") / "scheduler.json"
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(SRC_DIR), os.environ.get("PYTHONPATH")])),
    }
    dask = [sys.executable, "-m", "dask"]
    processes = [
        subprocess.Popen(
            [
                *dask,
                "scheduler",
                "--host",
                "127.0.0.1",
                "--port",
                "0",
                "--no-dashboard",
                "--scheduler-file",
                str(scheduler_file),
            ],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
    ]
    try:
        deadline = time.monotonic() + 60
        while not scheduler_file.is_file() or not scheduler_file.read_text():
            assert time.monotonic() < deadline, "the scheduler did not start within 60 s"
            assert processes[0].poll() is None, "the scheduler exited"
            time.sleep(0.2)
        address = json.loads(scheduler_file.read_text())["address"]
        assert address.startswith("tcp://127.0.0.1:")
        for _ in range(2):
            processes.append(
                subprocess.Popen(
                    [
                        *dask,
                        "worker",
                        "--scheduler-file",
                        str(scheduler_file),
                        "--host",
                        "127.0.0.1",
                        "--no-nanny",
                        "--nthreads",
                        "1",
                        "--no-dashboard",
                        "--death-timeout",
                        "30",
                    ],
                    env=env,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
            )
        with Client(address, timeout=30) as client:
            client.wait_for_workers(2, timeout=60)
        yield address
    finally:
        for process in reversed(processes):
            process.terminate()
        for process in processes:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=5)


def test_sweep_through_a_running_scheduler(tiny: workflow.Prepared, scheduler_address: str) -> None:
    sequential = sweep_budgets(tiny, TINY_BUDGETS, warm_start=False)
    remote = sweep_budgets(tiny, TINY_BUDGETS, warm_start=False, scheduler=scheduler_address)
    _same_frontier(remote.frontier, sequential.frontier)
    assert scheduler_address in remote.engine and "2 workers" in remote.engine
    for budget, summary in sequential.summaries.items():
        assert remote.summaries[budget]["services"] == summary["services"]


def test_warm_chains_on_a_running_scheduler_keep_the_optimum(
    tiny: workflow.Prepared, tiny_sweep: Sweep, scheduler_address: str
) -> None:
    remote = sweep_budgets(tiny, TINY_BUDGETS, mip_gap=0.0, scheduler=scheduler_address).frontier
    columns = ["budget_yuan", "status", "objective", "weighted_gap"]
    pd.testing.assert_frame_equal(remote[columns], tiny_sweep.frontier[columns], rtol=1e-9)
    # Two workers, two chains of three budgets: each chain's first budget starts cold.
    assert remote["warm_started"].tolist() == [False, True, True, False, True, True]
    assert not math.isnan(remote["marginal_people_per_10k_yuan"].iloc[3])
