"""The timeline chart of a multi-year plan: what each year adds and spends against its budget, and the indicators
year by year (from schedule.csv and years.csv, docs/years.md), in the language of a translator (`maps` catalogue)
with the CJK font of `allocopt.map_frame`."""

from __future__ import annotations

from pathlib import Path

import matplotlib
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from allocopt.errors import DataError
from allocopt.export import atomic_file
from allocopt.i18n import FALLBACK_LANGUAGE, Translator, translator
from allocopt.map_frame import font_context

_SHARES = ("covered_share_primary_care", "covered_share_chest_pain", "covered_share_stroke", "covered_share_trauma")
_SHARE_COLOURS = ("#ff7f0e", "#2ca02c", "#d62728", "#9467bd")
"""Colours of the covered-share lines, apart from the GP density line's blue."""
_BAR_COLOURS = matplotlib.colormaps["tab20"]
"""Twenty distinct colours, so that a plan's many resources do not share one."""
_MONEY_UNIT_YUAN = {"zh": 1e4, "en": 1e6}
"""Unit of the spending axis: 万元 in Chinese, million yuan in English (as `allocopt.maps`)."""
_ENGLISH = translator(FALLBACK_LANGUAGE)


def timeline_chart(schedule: pd.DataFrame, years: pd.DataFrame, *, title: str = "",
                   tr: Translator = _ENGLISH) -> Figure:
    """Left: capital spent per year by resource (stacked bars) and yearly running cost, against the capital,
    annual or total budget line of each year; right: GP density and the covered shares per year."""
    with font_context():
        return _chart(schedule, years, title=title, tr=tr)


def _chart(schedule: pd.DataFrame, years: pd.DataFrame, *, title: str, tr: Translator) -> Figure:
    for column in ("year", "capital_yuan", "annual_yuan", "gp_per_10k"):
        if column not in years.columns:
            raise DataError(f"years.csv: missing column {column!r}; write it with allocopt optimize --years")
    fig = Figure(figsize=(14.0, 5.0), layout="constrained")
    spend, indicators = fig.subplots(1, 2)
    labels = years["year"].astype(int).to_numpy()
    added = schedule[schedule["quantity"] > 0]
    capital = added.pivot_table(index="year", columns="resource", values="capital_yuan", aggfunc="sum",
                                fill_value=0.0).reindex(labels, fill_value=0.0)
    unit = _MONEY_UNIT_YUAN.get(tr.language, 1e6)
    bottom = np.zeros(len(labels))
    for number, resource in enumerate(capital.columns):
        values = capital[resource].to_numpy() / unit
        spend.bar(labels, values, bottom=bottom, label=tr.term("common.resource", str(resource)),
                  color=_BAR_COLOURS(number % _BAR_COLOURS.N))
        bottom += values
    spend.plot(labels, years["annual_yuan"].to_numpy() / unit, color="black", marker="o",
               label=tr("maps.timeline.running_cost"))
    for line, style in (("capital", "--"), ("annual", ":"), ("total", "-.")):
        column = f"budget_{line}_yuan"
        if column in years.columns:
            spend.plot(labels, years[column].to_numpy() / unit, color="grey", linestyle=style,
                       label=tr(f"maps.timeline.budget_{line}"))
    spend.set_xlabel(tr("maps.timeline.year"))
    spend.set_ylabel(tr("maps.timeline.money_axis"))
    spend.set_xticks(labels)
    spend.legend(fontsize=7, frameon=False, loc="upper left", bbox_to_anchor=(1.0, 1.0))  # beside the bars
    spend.set_title(tr("maps.timeline.spending"))
    indicators.plot(labels, years["gp_per_10k"].to_numpy(), marker="o", label=tr("common.indicator.gp_per_10k"))
    indicators.set_ylabel(tr("common.indicator.gp_per_10k"))
    indicators.set_xticks(labels)
    shares = indicators.twinx()
    for column, colour in zip(_SHARES, _SHARE_COLOURS, strict=True):
        if column in years.columns:
            shares.plot(labels, years[column].to_numpy() * 100, linestyle="--", marker=".", color=colour,
                        label=tr.term("common.service", column.removeprefix("covered_share_")))
    shares.set_ylabel(tr("maps.timeline.share_axis"))
    if shares.lines:  # years.csv of an older run may hold no covered shares
        shares.legend(fontsize=7, frameon=False, loc="lower right")
    indicators.legend(fontsize=7, frameon=False, loc="upper left")
    indicators.set_title(tr("maps.timeline.indicators"))
    if title:
        fig.suptitle(title)
    return fig


def save_timeline(schedule: pd.DataFrame, years: pd.DataFrame, path: str | Path, *, title: str = "",
                  tr: Translator = _ENGLISH, dpi: int = 120) -> Path:
    """Draw `timeline_chart` to a PNG at `path`, replacing it only once the image is complete."""
    figure = timeline_chart(schedule, years, title=title, tr=tr)
    with font_context(), atomic_file(path) as staging:
        figure.savefig(staging, format="png", dpi=dpi)
    return Path(path)
