"""Province-wide batches: today's access and the optimal plan for many regions, in one table.

Each region is one engine task (in process, or on a Dask cluster: see `allocopt.engine`): load and prepare the
region, measure today's access, optimize under the given scenario (else the region's own scenario.toml, else
the defaults), and return one row (BATCH_COLUMNS, with a covered share before and after per service). A region
that fails keeps whatever it got to (a region whose plan is infeasible still reports its population and
today's shares) and gets status "error" and the message in `error`; the other regions are unaffected.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from allocopt.engine import ProgressCallback, Task, TaskOutcome, describe_error, open_engine
from allocopt.errors import AllocoptError, DataError
from allocopt.export import atomic_output_dir, write_csv
from allocopt.services import SERVICES
from allocopt.workflow import access, optimize, prepare

BATCH_FILE = "batch.csv"
ERROR_STATUS = "error"
SHARE_COLUMNS = tuple(
    f"{service}_covered_share_{when}" for service in SERVICES for when in ("before", "after")
)
BATCH_COLUMNS = (
    "region",
    "name",
    "population",
    "gp_per_10k_before",
    "gp_per_10k_after",
    *SHARE_COLUMNS,
    "weighted_gap_before",
    "weighted_gap_after",
    "budget_yuan",
    "cost_yuan",
    "objective",
    "status",
    "gap",
    "seconds",
    "error",
)


@dataclass(frozen=True)
class BatchSettings:
    """What every region of a batch is solved with (sent to each worker once)."""

    scenario_path: Path | None = None
    objective: str = "gap"
    solver: str | None = None
    time_limit_s: float | None = None
    mip_gap: float | None = None
    cache_dir: Path | None = None


def find_regions(regions_dir: str | Path) -> tuple[Path, ...]:
    """The region bundles directly inside `regions_dir` (folders holding a region.toml), sorted by name.

    Raises DataError when `regions_dir` is not a folder or holds no bundle.
    """
    directory = Path(regions_dir)
    if not directory.is_dir():
        raise DataError(f"{directory}: not a folder; pass --regions-dir a folder that holds region bundles")
    bundles = tuple(sorted(path for path in directory.iterdir() if (path / "region.toml").is_file()))
    if not bundles:
        raise DataError(
            f"{directory}: no region bundle (a folder with a region.toml) inside; see "
            "docs/architecture.md for the bundle layout"
        )
    return bundles


def run_region(settings: BatchSettings, *, region: str) -> dict[str, Any]:
    """One region's batch row (an engine task): prepare, access, optimize; an AllocoptError ends the row."""
    row = _error_row(region, "")
    try:
        prepared = prepare(region, scenario_path=settings.scenario_path, cache_dir=settings.cache_dir)
        today = access(prepared)
        row.update(
            {
                "name": prepared.region.name,
                "population": today.population,
                "gp_per_10k_before": today.gp_per_10k,
                **{f"{v}_covered_share_before": share for v, share in today.covered_share.items()},
            }
        )
        result = optimize(
            prepared,
            objective=settings.objective,
            solver=settings.solver,
            time_limit_s=settings.time_limit_s,
            mip_gap=settings.mip_gap,
        )
    except AllocoptError as exc:
        row["error"] = describe_error(exc)
        return row
    summary = result.to_summary()
    row.update(
        {f"{v}_covered_share_after": figures["covered_share"] for v, figures in summary["services"].items()}
    )
    row.update(
        {
            "gp_per_10k_after": summary["gp"]["per_10k_after"],
            "weighted_gap_before": result.weighted_gap_before,
            "weighted_gap_after": result.weighted_gap_after,
            "budget_yuan": result.budget.total_yuan,
            "cost_yuan": result.cost_yuan,
            "objective": result.objective,
            "status": result.status,
            "gap": result.gap,
            "seconds": result.seconds,
        }
    )
    return row


def run_batch(
    regions: Sequence[str | Path],
    *,
    settings: BatchSettings | None = None,
    workers: int = 1,
    scheduler: str | None = None,
    progress: ProgressCallback | None = None,
) -> pd.DataFrame:
    """Access and the optimal plan of every region (a name or a bundle path), one row each in the given order.

    Regions run in process with one worker, on a local Dask cluster with more, on a running cluster with
    `scheduler`; every worker must be able to read the region bundles. Raises DataError for no regions or a
    region given twice, ClusterError when the cluster cannot be used; a failing region is reported in its row.
    """
    names = [str(region) for region in regions]
    if not names:
        raise DataError("no regions to run; name region bundles, or pass --regions-dir")
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise DataError(f"region(s) given more than once: {', '.join(repeated)}; name each region once")
    tasks = [Task(label=f"region {name}", arguments={"region": name}) for name in names]
    with open_engine(workers=workers, scheduler=scheduler) as engine:
        outcomes = engine.run(run_region, tasks, shared=settings or BatchSettings(), progress=progress)
    return pd.DataFrame([_row_of(outcome) for outcome in outcomes], columns=list(BATCH_COLUMNS))


def _row_of(outcome: TaskOutcome) -> dict[str, Any]:
    """The task's row, or an error row for a task that raised something other than an AllocoptError."""
    if outcome.ok:
        row: dict[str, Any] = outcome.value
        return row
    return _error_row(outcome.task.arguments["region"], outcome.error or "unknown error")


def _error_row(region: str, error: str) -> dict[str, Any]:
    """A row with no figures, status "error" and `error` (filled in as far as a region gets)."""
    row: dict[str, Any] = dict.fromkeys(BATCH_COLUMNS, math.nan)
    row.update({"region": region, "name": "", "status": ERROR_STATUS, "error": error})
    return row


BATCH_KIND = "batch"
"""The kind of folder `write_batch` writes (see `allocopt.export.MANIFEST_FILE`)."""


def write_batch(table: pd.DataFrame, out_dir: str | Path, *, overwrite: bool = False,
                inputs: Sequence[str | Path] = ()) -> Path:
    """Write the batch table as batch.csv into `out_dir`, atomically.

    `overwrite` and `inputs` (the region bundles and scenario read) as in `allocopt.export.check_output_dir`.
    """
    with atomic_output_dir(out_dir, kind=BATCH_KIND, overwrite=overwrite, inputs=inputs) as staging:
        write_csv(table, staging / BATCH_FILE)
    return Path(out_dir)
