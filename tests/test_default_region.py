"""The embedded default region: it validates, its access figures add up, and more budget never hurts."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from allocopt import workflow
from allocopt.services import SERVICES


@pytest.fixture(scope="module")
def prepared(tmp_path_factory: pytest.TempPathFactory) -> workflow.Prepared:
    return workflow.prepare("valley-county", cache_dir=tmp_path_factory.mktemp("cache"))


def test_default_region_validates_and_is_synthetic() -> None:
    check = workflow.check_region("valley-county")
    facts = check.to_dict()
    assert facts["synthetic"] is True
    assert facts["townships"] == 10
    assert facts["population"] == 203_977
    assert facts["demand_off_main_network"] == [] and facts["sites_off_main_network"] == []
    assert "Lushui" in check.region.meta["region"]["calibration"]


def test_access_figures_add_up_to_the_population(prepared: workflow.Prepared) -> None:
    report = workflow.access(prepared)
    assert report.population == pytest.approx(203_977)
    for service in SERVICES:
        row = report.services.loc[service]
        assert row["covered_population"] + row["unserved_population"] == pytest.approx(203_977)
        township_covered = report.townships[f"covered_population_{service}"].sum()
        assert township_covered == pytest.approx(row["covered_population"])


def test_more_budget_never_gives_a_worse_optimal_gap(prepared: workflow.Prepared, tmp_path: Path) -> None:
    gaps = []
    for budget in (0.0, 5_000_000.0, 15_000_000.0, 30_000_000.0):
        scenario = prepared.scenario.with_budget(budget)
        result = workflow.optimize(dataclasses.replace(prepared, scenario=scenario), mip_gap=0.0)
        assert result.status == "optimal"
        assert result.cost_yuan <= budget + 1e-6
        gaps.append(result.objective)  # the whole gap objective: ring services, GP staffing and pathways
    assert gaps == sorted(gaps, reverse=True)
    assert gaps[-1] < gaps[0]
