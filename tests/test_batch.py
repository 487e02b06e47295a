"""Batches of regions: one row per region agreeing with a single run, failures kept in their rows, the same
table in process and on a local cluster."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from allocopt import workflow
from allocopt.batch import BATCH_COLUMNS, BATCH_FILE, BatchSettings, find_regions, run_batch, write_batch
from allocopt.errors import DataError
from allocopt.generate import generate_region, write_region
from allocopt.services import SERVICES

INFEASIBLE_SCENARIO = """\
[budget]
total_yuan = 0
[targets.min_covered_share]
chest_pain = 1.0
"""


@pytest.fixture(scope="module")
def regions_dir(tmp_path_factory: pytest.TempPathFactory, tiny_region_path: Path) -> Path:
    """tiny (ok), gen-3 (ok), broken (region.toml without a CRS), tiny-hard (infeasible own scenario)."""
    folder = tmp_path_factory.mktemp("regions")
    shutil.copytree(tiny_region_path, folder / "tiny")
    write_region(generate_region(townships=3, villages=30, seed=5, name="gen-3"), folder / "gen-3")
    (folder / "broken").mkdir()
    (folder / "broken" / "region.toml").write_text('[region]\nname = "broken"\n', encoding="utf-8")
    shutil.copytree(tiny_region_path, folder / "tiny-hard")
    (folder / "tiny-hard" / "scenario.toml").write_text(INFEASIBLE_SCENARIO, encoding="utf-8")
    (folder / "notes").mkdir()
    return folder


@pytest.fixture(scope="module")
def batch(regions_dir: Path) -> pd.DataFrame:
    return run_batch(find_regions(regions_dir), settings=BatchSettings(mip_gap=0.0))


def test_find_regions_lists_bundles_only(regions_dir: Path) -> None:
    assert [p.name for p in find_regions(regions_dir)] == ["broken", "gen-3", "tiny", "tiny-hard"]


def test_find_regions_errors(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="not a folder"):
        find_regions(tmp_path / "missing")
    with pytest.raises(DataError, match="no region bundle"):
        find_regions(tmp_path)


def test_rows_follow_the_regions_and_match_single_runs(batch: pd.DataFrame, regions_dir: Path) -> None:
    assert list(batch.columns) == list(BATCH_COLUMNS)
    assert [Path(r).name for r in batch["region"]] == ["broken", "gen-3", "tiny", "tiny-hard"]
    for name in ("gen-3", "tiny"):
        row = batch.set_index("region").loc[str(regions_dir / name)]
        prepared = workflow.prepare(regions_dir / name)
        today = workflow.access(prepared)
        result = workflow.optimize(prepared, mip_gap=0.0)
        summary = result.to_summary()
        assert row["status"] == "optimal" and row["error"] == ""
        assert row["population"] == today.population
        assert row["cost_yuan"] == pytest.approx(result.cost_yuan)
        assert row["weighted_gap_after"] == pytest.approx(result.weighted_gap_after)
        for service in SERVICES:
            assert row[f"{service}_covered_share_before"] == pytest.approx(today.covered_share[service])
            assert row[f"{service}_covered_share_after"] == pytest.approx(
                summary["services"][service]["covered_share"]
            )
        assert row["gp_per_10k_after"] >= row["gp_per_10k_before"]


def test_failed_regions_keep_what_they_reached(batch: pd.DataFrame) -> None:
    rows = {
        Path(r).name: row for r, row in zip(batch["region"], batch.to_dict(orient="records"), strict=True)
    }
    broken, hard = rows["broken"], rows["tiny-hard"]
    assert (
        broken["status"] == "error" and broken["error"].startswith("DataError:") and "crs" in broken["error"]
    )
    assert np.isnan(broken["population"])
    assert hard["status"] == "error" and hard["error"].startswith("InfeasibleError:")
    assert hard["name"] == "tiny-region" and hard["population"] == 40_000.0
    assert hard["chest_pain_covered_share_before"] == 0.0
    assert np.isnan(hard["chest_pain_covered_share_after"]) and np.isnan(hard["cost_yuan"])


def test_a_shared_scenario_replaces_each_region_s_own(regions_dir: Path, tmp_path: Path) -> None:
    scenario = tmp_path / "scenario.toml"
    scenario.write_text("[budget]\ntotal_yuan = 0\n", encoding="utf-8")
    table = run_batch(
        [regions_dir / "tiny", regions_dir / "tiny-hard"], settings=BatchSettings(scenario_path=scenario)
    )
    assert table["status"].tolist() == ["optimal", "optimal"]
    assert table["cost_yuan"].tolist() == [0.0, 0.0]
    np.testing.assert_allclose(table["weighted_gap_after"], table["weighted_gap_before"])


def test_a_tiers_scenario_runs_in_a_batch_as_alone(regions_dir: Path, tmp_path: Path) -> None:
    scenario = tmp_path / "tiers.toml"
    scenario.write_text("[budget]\ntotal_yuan = 3000000\n[tiers]\n", encoding="utf-8")
    table = run_batch([regions_dir / "tiny"], settings=BatchSettings(scenario_path=scenario, mip_gap=0.0))
    assert table["status"].tolist() == ["optimal"], table["error"].tolist()
    alone = workflow.optimize(workflow.prepare(regions_dir / "tiny", scenario_path=scenario), mip_gap=0.0)
    assert alone.tiers is not None
    assert table["weighted_gap_after"].iloc[0] == pytest.approx(alone.weighted_gap_after, rel=1e-9)


def test_no_regions_or_repeated_ones_are_refused(regions_dir: Path) -> None:
    with pytest.raises(DataError, match="no regions"):
        run_batch([])
    with pytest.raises(DataError, match="more than once"):
        run_batch([regions_dir / "tiny", regions_dir / "tiny"])


def test_local_cluster_gives_the_same_table(batch: pd.DataFrame, regions_dir: Path) -> None:
    clustered = run_batch(find_regions(regions_dir), settings=BatchSettings(mip_gap=0.0), workers=2)
    pd.testing.assert_frame_equal(
        clustered.drop(columns="seconds"), batch.drop(columns="seconds"), check_exact=True
    )


def test_write_batch(batch: pd.DataFrame, tmp_path: Path) -> None:
    out = write_batch(batch, tmp_path / "batch")
    written = pd.read_csv(out / BATCH_FILE, encoding="utf-8-sig", keep_default_na=False, na_values=[""])
    assert list(written.columns) == list(BATCH_COLUMNS)
    assert written["status"].tolist() == batch["status"].tolist()
    np.testing.assert_allclose(written["population"], batch["population"])
