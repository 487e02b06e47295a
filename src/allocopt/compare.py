"""Side-by-side comparison of result directories (scenarios, budgets, objectives, regions) and its chart.

Each directory is read with `report.read_result_dir` (so it is checked the same way `allocopt report` checks
it) and contributes one row of COMPARISON_COLUMNS, then `<service>_unserved_after` and
`<service>_covered_share_after` per service, from its summary.json.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import matplotlib
import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import StrMethodFormatter

from allocopt.errors import DataError
from allocopt.export import atomic_output_dir, write_csv, write_json
from allocopt.fonts import font_families
from allocopt.report import read_result_dir
from allocopt.services import SERVICES, service_label

COMPARISON_FILE = "comparison.csv"
COMPARISON_JSON_FILE = "comparison.json"
COMPARISON_CHART_FILE = "chart_compare.png"
FORMATS = ("table", "csv", "json")

_SUMMARY_KEYS = (
    "objective_name",
    "status",
    "gap",
    "budget_yuan",
    "cost_yuan",
    "capital_yuan",
    "annual_yuan",
    "population",
    "weighted_gap_before",
    "weighted_gap_after",
    "max_gap_share_after",
)
"""summary.json keys copied as they are into a comparison row."""

COMPARISON_COLUMNS = (
    "result",
    "region",
    "scenario",
    *_SUMMARY_KEYS,
    "gp_per_10k_before",
    "gp_per_10k_after",
    "gp_shortage_people_after",
    "gps_added",
)


def compare_results(result_dirs: Sequence[str | Path]) -> pd.DataFrame:
    """One row per result directory, in the given order; `result` is the folder name (its path when names
    repeat).

    Raises DataError for no directories, or naming the directory whose files are missing or malformed.
    """
    if not result_dirs:
        raise DataError("no result directories to compare; pass the directories `allocopt optimize` wrote")
    paths = [Path(d) for d in result_dirs]
    names = [p.name or str(p) for p in paths]
    labels = names if len(set(names)) == len(names) else [str(p) for p in paths]
    if len(set(labels)) != len(labels):
        raise DataError(f"result directories given more than once: {', '.join(sorted(set(labels)))}")
    rows = [_row(label, read_result_dir(path).summary) for label, path in zip(labels, paths, strict=True)]
    return pd.DataFrame(rows)


def _row(label: str, summary: Mapping[str, Any]) -> dict[str, Any]:
    gp = summary.get("gp") or {}
    services = summary.get("services") or {}
    row: dict[str, Any] = {
        "result": label,
        "region": summary.get("region"),
        "scenario": (summary.get("scenario") or {}).get("name"),
        **{key: summary.get(key) for key in _SUMMARY_KEYS},
        "gp_per_10k_before": gp.get("per_10k_before"),
        "gp_per_10k_after": gp.get("per_10k_after"),
        "gp_shortage_people_after": gp.get("shortage_people_after"),
        "gps_added": gp.get("added"),
    }
    for service in SERVICES:
        figures = services.get(service) or {}
        row[f"{service}_unserved_after"] = figures.get("unserved_after")
        row[f"{service}_covered_share_after"] = figures.get("covered_share")
    return row


def side_by_side(table: pd.DataFrame) -> pd.DataFrame:
    """The comparison turned on its side: one row per figure, one column per result."""
    return table.set_index("result").T.rename_axis("figure").rename_axis(None, axis=1)


def render_comparison(table: pd.DataFrame, *, output_format: str = "table") -> str:
    """The comparison as text: `table` (side by side), `csv` (a row per result) or `json` (a list of rows)."""
    if output_format == "table":
        with pd.option_context("display.max_rows", 500, "display.max_columns", 50, "display.width", 160):
            return side_by_side(table).to_string()
    if output_format == "csv":
        return str(table.to_csv(index=False))
    if output_format == "json":
        return json.dumps(_records(table), indent=2, ensure_ascii=False, allow_nan=False)
    raise ValueError(f"unknown format {output_format!r}; choose one of: {', '.join(FORMATS)}")


def _records(table: pd.DataFrame) -> list[dict[str, Any]]:
    """Rows as JSON-safe dicts (NaN as None)."""
    clean = table.astype(object).where(table.notna(), None)
    return [
        {str(k): (v.item() if isinstance(v, np.generic) else v) for k, v in row.items()}
        for row in clean.to_dict(orient="records")
    ]


def comparison_chart(table: pd.DataFrame) -> Figure:
    """Grouped bars: the people each result leaves unserved, per service (one bar per result)."""
    services = [s for s in SERVICES if f"{s}_unserved_after" in table.columns]
    values = (
        table[[f"{s}_unserved_after" for s in services]].apply(pd.to_numeric, errors="coerce").to_numpy(float)
    )
    positions = np.arange(len(services))
    width = 0.8 / max(len(table), 1)
    with matplotlib.rc_context({"font.family": font_families()}):
        fig = Figure(figsize=(9.0, 1.5 + 0.25 * len(services) * max(1, len(table))), layout="constrained")
        ax = fig.subplots()
        for index, label in enumerate(table["result"]):
            ax.barh(positions + index * width, np.nan_to_num(values[index]), height=width, label=str(label))
        ax.set_yticks(positions + width * (len(table) - 1) / 2, [service_label(s) for s in services])
        ax.invert_yaxis()
        ax.set_xlabel("unserved people after the plan")
        ax.xaxis.set_major_formatter(StrMethodFormatter("{x:,.0f}"))
        ax.grid(axis="x", alpha=0.3)
        ax.legend(fontsize=8, frameon=False, loc="best")
        ax.set_title("Unserved people after each plan")
    return fig


COMPARE_KIND = "compare"
"""The kind of folder `write_comparison` writes (see `allocopt.export.MANIFEST_FILE`)."""


def write_comparison(table: pd.DataFrame, out_dir: str | Path, *, overwrite: bool = False,
                     inputs: Sequence[str | Path] = ()) -> Path:
    """Write comparison.csv, comparison.json and chart_compare.png into `out_dir`, atomically.

    `overwrite` and `inputs` (the result directories compared) as in `allocopt.export.check_output_dir`.
    """
    from allocopt.maps import save_png

    figure = comparison_chart(table)
    with atomic_output_dir(out_dir, kind=COMPARE_KIND, overwrite=overwrite, inputs=inputs) as staging:
        write_csv(table, staging / COMPARISON_FILE)
        write_json({"results": _records(table)}, staging / COMPARISON_JSON_FILE)
        save_png(figure, staging / COMPARISON_CHART_FILE)
    return Path(out_dir)
