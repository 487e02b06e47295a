"""Comparing result directories: one row per directory with its summary's figures, text formats, the chart."""

from __future__ import annotations

import dataclasses
import io
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from matplotlib.image import imread
from matplotlib.patches import Rectangle

from allocopt import workflow
from allocopt.compare import (
    COMPARISON_CHART_FILE,
    COMPARISON_FILE,
    COMPARISON_JSON_FILE,
    compare_results,
    comparison_chart,
    render_comparison,
    side_by_side,
    write_comparison,
)
from allocopt.errors import DataError
from allocopt.services import SERVICES

BUDGETS = (4e6, 16e6)


@pytest.fixture(scope="module")
def result_dirs(tmp_path_factory: pytest.TempPathFactory, tiny_region_path: Path) -> list[Path]:
    prepared = workflow.prepare(tiny_region_path)
    folder = tmp_path_factory.mktemp("results")
    dirs = []
    for budget in BUDGETS:
        at_budget = dataclasses.replace(prepared, scenario=prepared.scenario.with_budget(budget))
        result = workflow.optimize(at_budget, mip_gap=0.0)
        dirs.append(workflow.write_plan(at_budget, result, folder / f"plan-{budget:.0f}"))
    return dirs


def _summary(directory: Path) -> dict:
    return json.loads((directory / "summary.json").read_text(encoding="utf-8"))


def test_one_row_per_directory_with_its_figures(result_dirs: list[Path]) -> None:
    table = compare_results(result_dirs)
    assert table["result"].tolist() == ["plan-4000000", "plan-16000000"]
    for row, directory in zip(table.to_dict(orient="records"), result_dirs, strict=True):
        summary = _summary(directory)
        assert row["cost_yuan"] == summary["cost_yuan"] and row["status"] == summary["status"]
        assert row["budget_yuan"] == summary["budget_yuan"]
        assert row["gp_per_10k_after"] == summary["gp"]["per_10k_after"]
        assert row["gps_added"] == summary["gp"]["added"]
        for service in SERVICES:
            assert row[f"{service}_unserved_after"] == summary["services"][service]["unserved_after"]
    assert table["weighted_gap_after"].iloc[1] < table["weighted_gap_after"].iloc[0]


def test_labels_are_paths_when_folder_names_repeat(result_dirs: list[Path], tmp_path: Path) -> None:
    import shutil

    twin = tmp_path / result_dirs[0].name
    shutil.copytree(result_dirs[0], twin)
    table = compare_results([result_dirs[0], twin])
    assert table["result"].tolist() == [str(result_dirs[0]), str(twin)]
    with pytest.raises(DataError, match="more than once"):
        compare_results([result_dirs[0], result_dirs[0]])


def test_missing_or_no_directories(result_dirs: list[Path], tmp_path: Path) -> None:
    with pytest.raises(DataError, match="no result directories"):
        compare_results([])
    with pytest.raises(DataError, match="missing-plan"):
        compare_results([result_dirs[0], tmp_path / "missing-plan"])


def test_formats(result_dirs: list[Path]) -> None:
    table = compare_results(result_dirs)
    text = render_comparison(table, output_format="table")
    assert "plan-4000000" in text and "plan-16000000" in text and "Chest pain center: unserved after" in text
    assert side_by_side(table).loc["cost_yuan", "plan-16000000"] == table["cost_yuan"].iloc[1]
    back = pd.read_csv(io.StringIO(render_comparison(table, output_format="csv")))
    np.testing.assert_allclose(back["cost_yuan"], table["cost_yuan"])
    records = json.loads(render_comparison(table, output_format="json"))
    assert [r["result"] for r in records] == table["result"].tolist()
    assert records[1]["primary_care_unserved_after"] == table["primary_care_unserved_after"].iloc[1]
    with pytest.raises(ValueError, match="unknown format"):
        render_comparison(table, output_format="xml")


def test_chart_bars_are_the_unserved_people(result_dirs: list[Path]) -> None:
    table = compare_results(result_dirs)
    ax = comparison_chart(table).axes[0]
    widths = [patch.get_width() for patch in ax.patches if isinstance(patch, Rectangle)]
    expected = [table[f"{s}_unserved_after"].iloc[i] for i in range(len(table)) for s in SERVICES]
    assert widths == pytest.approx(expected)


def test_write_comparison(result_dirs: list[Path], tmp_path: Path) -> None:
    table = compare_results(result_dirs)
    out = write_comparison(table, tmp_path / "compare")
    written = pd.read_csv(out / COMPARISON_FILE, encoding="utf-8-sig")
    assert written["result"].tolist() == table["result"].tolist()
    data = json.loads((out / COMPARISON_JSON_FILE).read_text(encoding="utf-8"))
    assert [r["cost_yuan"] for r in data["results"]] == table["cost_yuan"].tolist()
    image = imread(out / COMPARISON_CHART_FILE)
    assert image.shape[0] > 500 and image.shape[1] > 500
