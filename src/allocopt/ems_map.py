"""The ambulance-station map: response minutes of every demand point before and after a plan, and the stations.

Two panels side by side: demand points coloured by the response time of the nearest staffed 120 station (dispatch
plus drive; grey where none reaches), sized by residents, over the township outlines; stations as squares
labelled with their ambulances (green where the plan adds some, hollow for candidates left closed). Drawn on a
`matplotlib.figure.Figure` without pyplot, with the CJK font of `allocopt.fonts`, and saved through
`export.atomic_file`.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import geopandas as gpd
import matplotlib
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.cm import ScalarMappable
from matplotlib.colors import Normalize
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from mpl_toolkits.axes_grid1.anchored_artists import AnchoredSizeBar

from allocopt.export import atomic_file
from allocopt.fonts import font_families
from allocopt.i18n import FALLBACK_LANGUAGE, Translator, translator
from allocopt.map_frame import scale_bar_length_m

DPI = 200
"""Resolution of the PNG."""

_CMAP = "YlOrRd"
_STAFFED = "#2166ac"
_ADDED = "#1a9850"
_UNREACHED = "#bdbdbd"
_ENGLISH = translator(FALLBACK_LANGUAGE)


def ems_station_map(townships: gpd.GeoDataFrame, demand: gpd.GeoDataFrame, stations: gpd.GeoDataFrame, *,
                    demand_figures: pd.DataFrame, station_figures: pd.DataFrame, summary: Mapping[str, Any],
                    title: str, tr: Translator = _ENGLISH) -> Figure:
    """Before and after panels of response minutes and stations, in the language of `tr`.

    `townships` (polygons), `demand` (points with `id`) and `stations` (points with `id`) are in one metric CRS;
    `demand_figures` and `station_figures` are the tables of ems_demand.csv and ems_stations.csv
    (`EmsResult.demand`, `EmsResult.stations`), matched by id; `summary` is summary.json `ems`
    (`EmsResult.summary()`). Returns the figure (save it with `save_ems_map`).
    """
    figures = demand_figures.set_index(demand_figures["id"].astype(str)).reindex(demand["id"].astype(str))
    table = station_figures.set_index(station_figures["id"].astype(str)).reindex(stations["id"].astype(str))
    threshold = float(summary["response_threshold_minutes"])
    finite = figures[["response_minutes_before", "response_minutes_after"]].to_numpy()
    finite = finite[np.isfinite(finite)]
    norm = Normalize(vmin=0.0, vmax=max(float(finite.max()) if finite.size else threshold, threshold))
    with matplotlib.rc_context({"font.family": font_families(), "text.parse_math": False}), \
            warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r"Glyph \d+ .* missing from font", category=UserWarning)
        fig = Figure(figsize=(9, 9), layout="constrained")
        axes = fig.subplots(1, 2, sharex=True, sharey=True)
        for ax, label in zip(axes, ("before", "after"), strict=True):
            _panel(ax, townships, demand, stations, minutes=figures[f"response_minutes_{label}"].to_numpy(),
                   population=figures["population"].to_numpy(dtype=float),
                   ambulances=table[f"ambulances_{label}"].to_numpy(dtype=np.int64),
                   added=table["added"].to_numpy(dtype=np.int64) if label == "after"
                   else np.zeros(len(table), dtype=np.int64), norm=norm, tr=tr)
            state = summary[label]
            ax.set_title(tr("maps.ems.panel", when=tr("maps.before") if label == "before" else tr("maps.after"),
                            fleet=tr.number(state["fleet"]), share=tr.share(state["covered_share"], decimals=0),
                            minutes=f"{threshold:g}"), fontsize=10)
        fig.colorbar(ScalarMappable(norm=norm, cmap=_CMAP), ax=list(axes), shrink=0.6,
                     label=tr("maps.ems.colour_bar"))
        fig.legend(handles=_legend(tr), loc="outside lower center", ncols=2, fontsize=8, frameon=False)
        fig.suptitle(title)
    return fig


def save_ems_map(fig: Figure, path: str | Path, *, dpi: int = DPI) -> Path:
    """Render `fig` to a PNG at `path`, replacing it only once the image is complete."""
    with matplotlib.rc_context({"font.family": font_families()}), warnings.catch_warnings(), \
            atomic_file(path) as staging:
        warnings.filterwarnings("ignore", message=r"Glyph \d+ .* missing from font", category=UserWarning)
        fig.savefig(staging, format="png", dpi=dpi)
    return Path(path)


def _panel(ax: Axes, townships: gpd.GeoDataFrame, demand: gpd.GeoDataFrame, stations: gpd.GeoDataFrame, *,
           minutes: np.ndarray, population: np.ndarray, ambulances: np.ndarray, added: np.ndarray,
           norm: Normalize, tr: Translator) -> None:
    """One state: township outlines, demand points by response minutes, stations by ambulances."""
    townships.boundary.plot(ax=ax, color="#636363", linewidth=0.6)
    xy = np.column_stack([demand.geometry.x, demand.geometry.y])
    size = 6.0 + 60.0 * np.sqrt(population / max(float(population.max(initial=0.0)), 1.0))
    reached = np.isfinite(minutes)
    ax.scatter(xy[~reached, 0], xy[~reached, 1], s=size[~reached], c=_UNREACHED, edgecolors="none", zorder=2)
    ax.scatter(xy[reached, 0], xy[reached, 1], s=size[reached], c=minutes[reached], cmap=_CMAP, norm=norm,
               edgecolors="#525252", linewidths=0.3, zorder=2)
    sxy = np.column_stack([stations.geometry.x, stations.geometry.y])
    staffed, grown = ambulances > 0, added > 0
    ax.scatter(sxy[~staffed, 0], sxy[~staffed, 1], marker="s", s=40, facecolors="none", edgecolors=_STAFFED,
               linewidths=0.8, zorder=3)
    ax.scatter(sxy[staffed, 0], sxy[staffed, 1], marker="s", s=70, c=np.where(grown[staffed], _ADDED, _STAFFED),
               edgecolors="white", linewidths=0.6, zorder=4)
    for (x, y), count, more in zip(sxy[staffed], ambulances[staffed], added[staffed], strict=True):
        ax.annotate(f"{count}" + (f" (+{more})" if more else ""), (x, y), xytext=(5, 4),
                    textcoords="offset points", fontsize=7, zorder=5)
    ax.set_aspect("equal")
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_xlabel("")
    ax.set_ylabel("")
    length_m = scale_bar_length_m(float(np.ptp(townships.total_bounds[[0, 2]])))
    ax.add_artist(AnchoredSizeBar(ax.transData, length_m, tr("common.unit.km", count=f"{length_m / 1000:g}"),
                                  "lower left", frameon=False, size_vertical=length_m / 50))
    ax.annotate(tr("maps.north"), xy=(0.95, 0.97), xytext=(0.95, 0.88), xycoords="axes fraction", ha="center",
                arrowprops={"arrowstyle": "-|>", "color": "black"}, fontsize=9)


def _legend(tr: Translator) -> list[Line2D]:
    return [
        Line2D([], [], marker="s", linestyle="", color=_STAFFED, label=tr("maps.ems.staffed")),
        Line2D([], [], marker="s", linestyle="", color=_ADDED, label=tr("maps.ems.added")),
        Line2D([], [], marker="s", linestyle="", markerfacecolor="none", color=_STAFFED,
               label=tr("maps.ems.not_opened")),
        Line2D([], [], marker="o", linestyle="", color=_UNREACHED, label=tr("maps.ems.unreached")),
    ]
