"""Maps and charts for planners: travel times before and after, the plan's facilities, today's gaps, budget sweeps.

Every map is drawn in a metric CRS (a layer in degrees is projected to its UTM zone first) on a panel shaped like
the region, and carries a title naming region and scenario, a legend, a scale bar and a north arrow. Every text
comes from the message catalogue of the `tr` passed (`allocopt.i18n`); Chinese is set in the CJK font of
`allocopt.fonts`. Labels are placed by `allocopt.map_labels` so that none overlaps another; travel times are
coloured by the classes of `allocopt.map_frame`, one scale for every travel-time map. Figures are built on
`matplotlib.figure.Figure` without pyplot, so no global figure registry is touched; `save_png` writes them through
the Agg renderer.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path

import geopandas as gpd
import matplotlib
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.cm import ScalarMappable
from matplotlib.colors import Normalize
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.ticker import FuncFormatter, StrMethodFormatter

from allocopt import map_sites
from allocopt.errors import DataError
from allocopt.export import atomic_file
from allocopt.i18n import FALLBACK_LANGUAGE, Translator, translator
from allocopt.map_frame import (
    class_handles,
    font_context,
    frame_map,
    metric,
    numbers,
    panel_size_in,
    require_columns,
    travel_choropleth,
)
from allocopt.map_labels import Label, place_labels
from allocopt.services import SERVICES

DPI = 300
"""Resolution of every PNG written."""

LINKS_CMAP = "YlOrRd"
"""Colour map of the residents a road closure strands: pale is few, dark red is many."""

REFERRAL_COLOUR = "#7b5ea7"
_ENGLISH = translator(FALLBACK_LANGUAGE)
_LEGEND_IN = 2.6
"""Width (inches) kept beside a map for its legend."""
_TOWNSHIP_NAME_COLOUR = "#4d4d4d"
_MONEY_UNIT_YUAN = {"zh": 1e4, "en": 1e6}
"""Unit of the budget axis: 万元 in Chinese, million yuan in English."""


def before_after_map(
    townships: gpd.GeoDataFrame,
    service: str,
    *,
    region: str,
    scenario: str,
    threshold_minutes: float | None = None,
    facilities: gpd.GeoDataFrame | None = None,
    provider: str = "staffed",
    what: str | None = None,
    legend_title: str | None = None,
    tr: Translator = _ENGLISH,
) -> Figure:
    """Township choropleth of `service` travel time before and after the plan, side by side in the classes of
    `allocopt.map_frame` (relative to `threshold_minutes`, the service's standard).

    Reads `<service>_minutes_before` and `<service>_minutes_after` (population-weighted mean minutes; NaN where
    no provider is reachable, drawn hatched). With `facilities` (the result's layer) the sites providing the
    service are marked, those the plan adds in gold (`provider`: the scenario's primary-care provider rule).
    `what` and `legend_title` replace the title's "travel time to the nearest site" and the legend's "travel time"
    for other minutes on the same scale (the minutes to definitive treatment of a care pathway).
    """
    columns = (f"{service}_minutes_before", f"{service}_minutes_after")
    require_columns(townships, columns, layer="townships")
    layer = metric(townships, layer="townships")
    values = [numbers(layer, column, layer_name="townships") for column in columns]
    sites = None if facilities is None else metric(facilities, layer="facilities", crs=layer.crs)
    width, height = panel_size_in(layer, height_in=6.0)
    service_name = tr.term("common.service", service)
    providers = None if sites is None else map_sites.service_providers(sites, service, provider=provider)
    shown = [None, None] if providers is None else [providers[0], providers[0] | providers[1]]
    with font_context():
        fig = Figure(figsize=(2 * width + _LEGEND_IN, height + 1.2), layout="constrained")
        axes = fig.subplots(1, 2)
        for ax, minutes, subtitle, marked in zip(axes, values, (tr("maps.before"), tr("maps.after")), shown,
                                                 strict=True):
            travel_choropleth(ax, layer, minutes, threshold_minutes)
            if sites is not None and providers is not None and marked is not None:
                map_sites.draw_providers(ax, sites, providers[0], new=False)
                map_sites.draw_providers(ax, sites, marked & ~providers[0], new=True)
            frame_map(ax, layer, tr)
            ax.set_title(subtitle)
        handles: list[Line2D | Patch] = list(class_handles(tr, threshold_minutes))
        if providers is not None:
            handles += map_sites.provider_handles(tr, any_new=bool(providers[1].any()))
        fig.legend(handles=handles, loc="outside right center", fontsize=8, frameon=False,
                   title=legend_title or _class_title(tr, threshold_minutes), title_fontsize=8)
        fig.suptitle(map_title(tr, region, scenario, what or tr("maps.before_after.title", service=service_name)))
        for ax, marked in zip(axes, shown, strict=True):
            points = [] if sites is None or marked is None else list(
                zip(sites.geometry.x[marked], sites.geometry.y[marked], strict=True))
            place_labels(ax, _township_labels(layer), obstacles=points, obstacle_radius_pt=3.5)
    return fig


def access_map(
    townships: gpd.GeoDataFrame,
    *,
    region: str,
    scenario: str,
    services: Sequence[str] | None = None,
    thresholds_minutes: Mapping[str, float] | None = None,
    tr: Translator = _ENGLISH,
) -> Figure:
    """Today's gaps: one township choropleth per service of its `<service>_minutes` column, with township names.

    `services` defaults to every service of `allocopt.services.SERVICES` that has a `<service>_minutes` column.
    All panels share one colour scale: classes relative to each service's threshold when every service has one
    (the panel title gives it in minutes), else classes in minutes.
    """
    chosen = tuple(services) if services is not None else tuple(
        s for s in SERVICES if f"{s}_minutes" in townships.columns
    )
    if not chosen:
        expected = ", ".join(f"{s}_minutes" for s in SERVICES)
        raise DataError(f"townships: no travel-time column to map; expected one or more of {expected}")
    require_columns(townships, tuple(f"{s}_minutes" for s in chosen), layer="townships")
    layer = metric(townships, layer="townships")
    thresholds = dict(thresholds_minutes or {})
    relative = all(thresholds.get(s) for s in chosen)
    width, height = panel_size_in(layer, height_in=4.2 if len(chosen) > 1 else 6.5)
    most = 5 if width < 2.2 else 3 if width > 4.0 else 4
    nrows = math.ceil(len(chosen) / most)
    ncols = math.ceil(len(chosen) / nrows)
    with font_context():
        fig = Figure(figsize=(ncols * max(width, 1.8) + _LEGEND_IN, nrows * (height + 0.6) + 0.8),
                     layout="constrained")
        grid = np.atleast_1d(fig.subplots(nrows, ncols)).ravel()
        for ax, service in zip(grid, chosen, strict=False):
            minutes = numbers(layer, f"{service}_minutes", layer_name="townships")
            threshold = thresholds.get(service) if relative else None
            travel_choropleth(ax, layer, minutes, threshold)
            frame_map(ax, layer, tr)
            name = tr.term("common.service", service)
            ax.set_title(tr("maps.access.panel", service=name, minutes=f"{threshold:g}") if threshold else name,
                         fontsize=9)
        for ax in grid[len(chosen):]:
            ax.set_visible(False)
        fig.legend(handles=class_handles(tr, None, relative=relative), loc="outside right center", fontsize=8,
                   frameon=False, title=tr("maps.legend.classes_standard") if relative else tr("maps.legend.minutes"),
                   title_fontsize=8)
        fig.suptitle(map_title(tr, region, scenario, tr("maps.access.title")))
        for ax in grid[:len(chosen)]:
            place_labels(ax, _township_labels(layer, fontsize=6.0 if len(chosen) > 1 else 7.0))
    return fig


def facilities_map(
    facilities: gpd.GeoDataFrame,
    *,
    townships: gpd.GeoDataFrame,
    region: str,
    scenario: str,
    referrals: gpd.GeoDataFrame | None = None,
    ax: Axes | None = None,
    tr: Translator = _ENGLISH,
) -> Figure:
    """The plan on a map: sites by level and staffing, opened sites, added GPs, village doctors, equipment and
    center designations, referral links when `referrals` is given.

    `facilities` is the result's `facilities` layer; referral links are drawn one line per township and lead
    hospital, as wide as the number of sites it stands for. Hospitals and every site the plan changes are labelled with
    their names and what they receive, hospitals first, then health centers, then clinics, the largest additions
    first within each; sites at one place share a label, and labels that find no free place are left out (the
    figure says how many: the allocation table lists every one).
    """
    require_columns(facilities, map_sites.FACILITY_COLUMNS, layer="facilities")
    base = metric(townships, layer="townships")
    sites = metric(facilities, layer="facilities", crs=base.crs)
    links = None if referrals is None else metric(referrals, layer="referrals", crs=base.crs)
    width, height = panel_size_in(base, height_in=7.5, min_width_share=0.6)
    with font_context():
        fig, ax = _figure_and_axes(ax, figsize=(width + _LEGEND_IN + 0.4, height + 1.2))
        base.plot(ax=ax, facecolor="#f4f1ea", edgecolor="#9a9a9a", linewidth=0.7, zorder=1)
        handles: list[Line2D | Patch] = []
        if links is not None and not links.empty:
            bundles = map_sites.referral_bundles(links, base)
            bundles.plot(ax=ax, color=REFERRAL_COLOUR, linewidth=0.5 + 0.5 * np.sqrt(bundles["sites"]), alpha=0.5,
                         zorder=2)
            handles.append(Line2D([], [], color=REFERRAL_COLOUR, linewidth=1.5, alpha=0.6,
                                  label=tr("maps.legend.referral")))
        handles += map_sites.draw_sites(ax, sites, tr)
        handles += map_sites.draw_additions(ax, sites, tr)
        frame_map(ax, base, tr)
        fig.legend(handles=handles, loc="outside right upper", fontsize=8, frameon=False)
        ax.set_title(map_title(tr, region, scenario, tr("maps.facilities.title")))
        labels = [*map_sites.site_labels(sites, tr), *_township_labels(base, priority=-1.0)]
        note = fig.supxlabel(tr("maps.facilities.omitted", count=len(labels)), fontsize=7, color="#555555")
        _, left_out = place_labels(ax, labels)  # the note holds its longest text while labels are placed
        omitted = sum(1 for label in left_out if label.priority >= 0)
        note.set_text(tr("maps.facilities.omitted", count=omitted) if omitted else "")
    return fig


def budget_gap_chart(
    frontier: pd.DataFrame,
    *,
    region: str,
    scenario: str,
    budget_yuan: float | None = None,
    ax: Axes | None = None,
    tr: Translator = _ENGLISH,
) -> Figure:
    """Unserved people of each service against the budget, from a sweep's frontier table.

    `frontier` has `budget_yuan`, `status` and one `<service>_unserved` column per service. Runs a limit stopped
    before optimality was proven (status other than "optimal") are ringed; `budget_yuan` marks this plan's budget.
    The budget axis is in 万元 (Chinese) or million yuan (English).
    """
    require_columns(frontier, ("budget_yuan", "status"), layer="frontier.csv")
    services = [c.removesuffix("_unserved") for c in frontier.columns if c.endswith("_unserved")]
    if not services:
        raise DataError("frontier.csv: no `<service>_unserved` column; the sweep must write one per service")
    table = frontier.sort_values("budget_yuan")
    unit = _MONEY_UNIT_YUAN.get(tr.language, 1e6)
    budget = numbers(table, "budget_yuan", layer_name="frontier.csv") / unit
    not_optimal = (table["status"].astype(str) != "optimal").to_numpy()
    with font_context():
        fig, ax = _figure_and_axes(ax, figsize=(9.0, 5.5))
        for service in services:
            unserved = numbers(table, f"{service}_unserved", layer_name="frontier.csv")
            ax.plot(budget, unserved, marker="o", markersize=4, label=tr.term("common.service", service))
            if not_optimal.any():
                ax.scatter(budget[not_optimal], unserved[not_optimal], s=90, facecolors="none",
                           edgecolors="black", linewidths=1.0, zorder=4)
        if not_optimal.any():
            ax.scatter([], [], s=90, facecolors="none", edgecolors="black", label=tr("maps.budget.not_optimal"))
        if budget_yuan is not None:
            ax.axvline(budget_yuan / unit, color="grey", linestyle="--", linewidth=1.0,
                       label=tr("maps.budget.this_plan"))
        ax.set_xlabel(tr("maps.budget.x_axis"))
        ax.set_ylabel(tr("maps.budget.y_axis"))
        ax.xaxis.set_major_formatter(StrMethodFormatter("{x:,.0f}"))
        ax.yaxis.set_major_formatter(FuncFormatter(lambda value, _: tr.large_number(value)))
        ax.set_ylim(bottom=0.0)
        ax.grid(alpha=0.3)
        fig.legend(loc="outside right upper", fontsize=8, frameon=False)
        ax.set_title(map_title(tr, region, scenario, tr("maps.budget.title")))
    return fig


def critical_links_map(
    links: gpd.GeoDataFrame,
    *,
    roads: gpd.GeoDataFrame,
    townships: gpd.GeoDataFrame,
    region: str,
    scenario: str,
    top: int = 20,
    tr: Translator = _ENGLISH,
) -> Figure:
    """The `top` first rows of `links` (ranked road lines or hazard zones with `rank`, `id` and `residents_most`,
    from `allocopt vulnerability`) over the grey road network, coloured by the residents they push beyond a
    threshold when closed, each labelled with its id (most harmful first where labels would collide)."""
    require_columns(links, ("rank", "id", "residents_most"), layer="critical_links")
    layer = metric(townships, layer="townships")
    chosen = metric(links, layer="critical_links", crs=layer.crs)
    chosen = chosen[(chosen["rank"] <= top) & (chosen["residents_most"] > 0)]
    norm = Normalize(vmin=0.0, vmax=max(float(chosen["residents_most"].to_numpy(dtype=float).max(initial=0.0)), 1.0))
    cmap = matplotlib.colormaps[LINKS_CMAP]
    width, height = panel_size_in(layer, height_in=7.0)
    with font_context():
        fig, ax = _figure_and_axes(None, figsize=(width + 2.2, height + 1.2))
        layer.boundary.plot(ax=ax, color="#bdbdbd", linewidth=0.6)
        metric(roads, layer="roads", crs=layer.crs).plot(ax=ax, color="#969696", linewidth=0.5, zorder=1)
        labels = []
        if len(chosen):
            colours = cmap(norm(chosen["residents_most"].to_numpy(dtype=float)))
            chosen.plot(ax=ax, color=colours, linewidth=2.6, markersize=40, zorder=3)
            for point, label, rank in zip(chosen.geometry.representative_point(), chosen["id"], chosen["rank"],
                                          strict=True):
                labels.append(Label(str(label), point.x, point.y, priority=-float(rank), fontsize=7.0))
        frame_map(ax, layer, tr)
        fig.colorbar(ScalarMappable(norm=norm, cmap=cmap), ax=ax, shrink=0.7, label=tr("maps.critical.colourbar"))
        ax.set_title(map_title(tr, region, scenario, tr("maps.critical.title", top=top)))
        place_labels(ax, labels)
    return fig


def save_png(fig: Figure, path: str | Path, *, dpi: int = DPI) -> Path:
    """Render `fig` with Agg to a PNG at `dpi`, replacing `path` only once the image is complete."""
    with font_context(), atomic_file(path) as staging:
        fig.savefig(staging, format="png", dpi=dpi)
    return Path(path)


def _figure_and_axes(ax: Axes | None, *, figsize: tuple[float, float]) -> tuple[Figure, Axes]:
    """The given axes and its figure, or a new figure with one axes."""
    if ax is None:
        new = Figure(figsize=figsize, layout="constrained")
        return new, new.subplots()
    root = ax.get_figure(root=True)
    if not isinstance(root, Figure):
        raise ValueError("ax must belong to a figure")
    return root, ax


def map_title(tr: Translator, region: str, scenario: str, what: str) -> str:
    """The title of a map or chart: the region and scenario, then what it shows."""
    return tr("maps.title", region=region, scenario=scenario, what=what)


def _class_title(tr: Translator, threshold_minutes: float | None) -> str:
    if threshold_minutes is None:
        return tr("maps.legend.minutes")
    return tr("maps.legend.minutes_standard", minutes=f"{threshold_minutes:g}")


def _township_labels(layer: gpd.GeoDataFrame, *, priority: float = 0.0, fontsize: float = 7.0) -> list[Label]:
    """Township names at their representative points, the most populous first where they collide."""
    if "name" not in layer.columns:
        return []
    population = (numbers(layer, "population", layer_name="townships") if "population" in layer.columns
                  else np.zeros(len(layer)))
    share = np.nan_to_num(population) / max(float(np.nansum(population)), 1.0)
    return [Label(str(name), point.x, point.y, priority=priority + float(s) * 1e-3, fontsize=fontsize,
                  colour=_TOWNSHIP_NAME_COLOUR, marker_radius_pt=0.0, fixed=True)
            for point, name, s in zip(layer.geometry.representative_point(), layer["name"], share, strict=True)]
