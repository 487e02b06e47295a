"""The timeline chart of a multi-year plan: what each year adds and spends against its budget, and the indicators
year by year (from schedule.csv and years.csv, docs/years.md)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from allocopt.errors import DataError
from allocopt.export import atomic_file

_SHARES = ("covered_share_primary_care", "covered_share_chest_pain", "covered_share_stroke", "covered_share_trauma")


def timeline_chart(schedule: pd.DataFrame, years: pd.DataFrame, *, title: str = "") -> Figure:
    """Left: capital spent per year by resource (stacked bars) and yearly running cost, against the capital,
    annual or total budget line of each year; right: GP density and the covered shares per year."""
    for column in ("year", "capital_yuan", "annual_yuan", "gp_per_10k"):
        if column not in years.columns:
            raise DataError(f"years.csv: missing column {column!r}; write it with allocopt optimize --years")
    fig = Figure(figsize=(12.0, 5.0), layout="constrained")
    spend, indicators = fig.subplots(1, 2)
    labels = years["year"].astype(int).to_numpy()
    added = schedule[schedule["quantity"] > 0]
    capital = added.pivot_table(index="year", columns="resource", values="capital_yuan", aggfunc="sum",
                                fill_value=0.0).reindex(labels, fill_value=0.0)
    bottom = np.zeros(len(labels))
    for resource in capital.columns:
        values = capital[resource].to_numpy() / 1e6
        spend.bar(labels, values, bottom=bottom, label=f"{resource} (capital)")
        bottom += values
    spend.plot(labels, years["annual_yuan"].to_numpy() / 1e6, color="black", marker="o", label="running cost")
    for line, style in (("capital", "--"), ("annual", ":"), ("total", "-.")):
        column = f"budget_{line}_yuan"
        if column in years.columns:
            spend.plot(labels, years[column].to_numpy() / 1e6, color="grey", linestyle=style,
                       label=f"{line} budget")
    spend.set_xlabel("year")
    spend.set_ylabel("million yuan")
    spend.set_xticks(labels)
    spend.legend(fontsize=7, frameon=False)
    spend.set_title("Spending per year")
    indicators.plot(labels, years["gp_per_10k"].to_numpy(), marker="o", label="GPs per 10,000")
    indicators.set_ylabel("GPs per 10,000")
    indicators.set_xticks(labels)
    shares = indicators.twinx()
    for column in _SHARES:
        if column in years.columns:
            shares.plot(labels, years[column].to_numpy() * 100, linestyle="--", marker=".",
                        label=column.removeprefix("covered_share_"))
    shares.set_ylabel("covered share (%)")
    shares.legend(fontsize=7, frameon=False, loc="lower right")
    indicators.legend(fontsize=7, frameon=False, loc="upper left")
    indicators.set_title("Indicators after each year")
    if title:
        fig.suptitle(title)
    return fig


def save_timeline(schedule: pd.DataFrame, years: pd.DataFrame, path: str | Path, *, title: str = "") -> Path:
    """Draw `timeline_chart` to a PNG at `path`, replacing it only once the image is complete."""
    figure = timeline_chart(schedule, years, title=title)
    with atomic_file(path) as staging:
        figure.savefig(staging, format="png", dpi=120)
    return Path(path)
