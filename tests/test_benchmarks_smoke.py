"""The benchmark runner works: it lists its benchmarks and its smallest locate case gives the known optima.

No timing is asserted; the runner's figures live in benchmarks/README.md.
"""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

RUNNER = Path(__file__).resolve().parent.parent / "benchmarks" / "run.py"


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(RUNNER), *args], capture_output=True, text=True, timeout=120,
                          check=False)


@pytest.fixture(scope="module")
def sf_figures(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Figures of `run.py locate --instances sf` (San Francisco p-median and MCLP, p = 4)."""
    out = tmp_path_factory.mktemp("bench") / "sf.json"
    done = _run("locate", "--instances", "sf", "--json", str(out))
    assert done.returncode == 0, done.stdout + done.stderr
    return {(row["instance"], row["model"]): row for row in json.loads(out.read_text())["benchmarks"]["locate"]["rows"]}


def test_list_names_every_benchmark_and_runs_nothing(tmp_path: Path) -> None:
    done = _run("--list", "--json", str(tmp_path / "never.json"))
    assert done.returncode == 0, done.stderr
    headers = [line.split(":")[0] for line in done.stdout.splitlines() if not line.startswith(" ")]
    assert headers == ["travel", "locate", "optimize", "budgets", "years", "orlib900"]
    assert "sf/pmedian  allocopt" in done.stdout
    assert not (tmp_path / "never.json").exists()


def test_unknown_benchmark_is_refused() -> None:
    done = _run("nosuch")
    assert done.returncode == 2
    assert "unknown benchmark(s) nosuch" in done.stderr


def test_sf_locate_gives_spopt_reference_optima(sf_figures: dict[Any, Any]) -> None:
    # spopt's own test results on this instance: mean weighted distance 2982.1268579890657 m (p-median),
    # 875,247 residents covered within 5,000 m (MCLP).
    with (RUNNER.parent.parent / "tests" / "data" / "sf" / "SF_demand_205_centroid_uniform_weight.csv").open() as fh:
        total_pop2000 = sum(float(row["POP2000"]) for row in csv.DictReader(fh))
    assert sf_figures["sf", "pmedian"]["allocopt_obj"] / total_pop2000 == pytest.approx(2982.1268579890657, rel=1e-9)
    assert sf_figures["sf", "mclp"]["allocopt_obj"] == 875_247


def test_sf_locate_objectives_equal_spopt(sf_figures: dict[Any, Any]) -> None:
    pytest.importorskip("spopt")
    for model in ("pmedian", "mclp"):
        row = sf_figures["sf", model]
        assert row["equal"] is True
        assert row["allocopt_obj"] == pytest.approx(row["spopt_obj"], rel=1e-9)
        assert row["speedup"] > 0
