"""Side-by-side comparison of result directories (scenarios, budgets, objectives, regions) and its chart.

Each directory is read with `report.read_result_dir` (so it is checked the same way `allocopt report` checks
it) and contributes one row of COMPARISON_COLUMNS, then `<service>_unserved_after` and
`<service>_covered_share_after` per service, from its summary.json; when some result has tiered care, pathways or
years, their figures follow (TIER_COLUMNS, `pathway_<condition>_timely_share_after`, YEAR_COLUMNS). The csv and
json keep these English keys; the side-by-side table and the chart are in the chosen language.
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
from allocopt.i18n import Translator, translator
from allocopt.report import SUMMARY_FILE, read_result_dir
from allocopt.services import SERVICES

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

TIER_COLUMNS = ("grassroots_share_before", "grassroots_share_after", "mean_referral_minutes_after", "links_changed")
"""summary.json `tiers` figures a comparison shows for results with tiered care."""
YEAR_COLUMNS = ("years_first", "years_last")
"""The horizon of a multi-year result (summary.json `years`)."""


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
    table = pd.DataFrame(rows)
    return table[[c for c in table.columns if c in _BASE_COLUMNS or table[c].notna().any()]]


def result_language(result_dir: str | Path) -> str | None:
    """The region language recorded in a result's summary.json (None when it has none or cannot be read)."""
    try:
        summary = json.loads((Path(result_dir) / SUMMARY_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    language = summary.get("region_language") if isinstance(summary, dict) else None
    return language if isinstance(language, str) else None


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
    tiers = summary.get("tiers") or {}
    row.update({key: tiers.get(key) for key in TIER_COLUMNS})
    for condition, figures in ((summary.get("pathways") or {}).get("conditions") or {}).items():
        row[f"pathway_{condition}_timely_share_after"] = figures.get("timely_share_after")
    years = summary.get("years") or {}
    row.update({"years_first": years.get("first"), "years_last": years.get("last")})
    return row


_BASE_COLUMNS = frozenset({*COMPARISON_COLUMNS, *(f"{s}_{k}" for s in SERVICES
                                                   for k in ("unserved_after", "covered_share_after"))})
"""Columns every comparison has, even when empty; the tier, pathway and year columns only when some result
has them."""


def side_by_side(table: pd.DataFrame, tr: Translator | None = None) -> pd.DataFrame:
    """The comparison turned on its side: one row per figure, one column per result; with `tr`, the figures
    named in its language and shares, money and people written as its documents write them."""
    turned = table.set_index("result").T.rename_axis("figure").rename_axis(None, axis=1)
    if tr is None:
        return turned
    words = turned.apply(lambda row: row.map(lambda v, name=row.name: _value_text(str(name), v, tr)), axis=1)
    return words.rename(index=lambda name: figure_label(str(name), tr)).rename_axis(tr("cli.compare.figure"))


def figure_label(column: str, tr: Translator) -> str:
    """A comparison column as a figure's name in words (`cli.figure.*`)."""
    if tr.has(f"cli.figure.{column}"):
        return tr(f"cli.figure.{column}")
    for suffix in ("unserved_after", "covered_share_after", "timely_share_after"):
        head = column.removesuffix(f"_{suffix}")
        if head != column:
            family = "common.condition" if head.startswith("pathway_") else "common.service"
            return tr(f"cli.figure.service_{suffix}", service=tr.term(family, head.removeprefix("pathway_")))
    return column


def _value_text(column: str, value: Any, tr: Translator) -> str:
    """One cell of the side-by-side table, formatted by the unit its column carries."""
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return "—"
    if isinstance(value, bool | np.bool_):
        return tr("cli.value.yes") if value else tr("cli.value.no")
    if isinstance(value, str):
        if column == "status":
            return tr.term("cli.value.status", value)
        return tr.term("cli.value.objective", value) if column == "objective_name" else value
    number = float(value)
    if "share" in column or column == "gap":
        return tr.share(number, decimals=4 if column == "gap" else 1)
    if column.endswith("_yuan"):
        return tr.yuan(number)
    if "per_10k" in column or "minutes" in column:
        return tr.number(number, decimals=2)
    return str(int(number)) if column.startswith("years_") else tr.number(number)


def render_comparison(table: pd.DataFrame, *, output_format: str = "table", tr: Translator | None = None) -> str:
    """The comparison as text: `table` (side by side, in `tr`'s language; English by default), `csv` (a row per
    result) or `json` (a list of rows), both with English keys."""
    if output_format == "table":
        with pd.option_context("display.max_rows", 500, "display.max_columns", 50, "display.width", 160):
            return side_by_side(table, tr or translator("en")).to_string()
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


def comparison_chart(table: pd.DataFrame, tr: Translator | None = None) -> Figure:
    """Grouped bars: the people each result leaves unserved, per service (one bar per result), labelled in
    `tr`'s language (English by default)."""
    tr = tr or translator("en")
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
        ax.set_yticks(positions + width * (len(table) - 1) / 2, [tr.term("common.service", s) for s in services])
        ax.invert_yaxis()
        ax.set_xlabel(tr("cli.compare.chart_axis"))
        ax.xaxis.set_major_formatter(StrMethodFormatter("{x:,.0f}"))
        ax.grid(axis="x", alpha=0.3)
        ax.legend(fontsize=8, frameon=False, loc="best")
        ax.set_title(tr("cli.compare.chart_title"))
    return fig


COMPARE_KIND = "compare"
"""The kind of folder `write_comparison` writes (see `allocopt.export.MANIFEST_FILE`)."""


def write_comparison(table: pd.DataFrame, out_dir: str | Path, *, overwrite: bool = False,
                     inputs: Sequence[str | Path] = (), tr: Translator | None = None) -> Path:
    """Write comparison.csv, comparison.json and chart_compare.png (labelled in `tr`'s language) into `out_dir`,
    atomically.

    `overwrite` and `inputs` (the result directories compared) as in `allocopt.export.check_output_dir`.
    """
    from allocopt.maps import save_png

    figure = comparison_chart(table, tr)
    with atomic_output_dir(out_dir, kind=COMPARE_KIND, overwrite=overwrite, inputs=inputs) as staging:
        write_csv(table, staging / COMPARISON_FILE)
        write_json({"results": _records(table)}, staging / COMPARISON_JSON_FILE)
        save_png(figure, staging / COMPARISON_CHART_FILE)
    return Path(out_dir)
