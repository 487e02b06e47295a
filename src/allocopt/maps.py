"""Maps and charts for planners: travel times before and after, the plan's facilities, today's gaps, budget sweeps.

Every map is drawn in a metric CRS (a layer in degrees is projected to its UTM zone first) so that its scale bar
measures metres, and carries a title naming region and scenario, a legend, a scale bar and a north arrow.
Chinese names are set in the CJK font of `allocopt.fonts`. Figures are built on `matplotlib.figure.Figure`
without pyplot, so no global figure registry is touched; `save_png` writes them through the Agg renderer.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import geopandas as gpd
import matplotlib
import numpy as np
import pandas as pd
from matplotlib import patheffects
from matplotlib.axes import Axes
from matplotlib.cm import ScalarMappable
from matplotlib.colors import Colormap, Normalize
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.ticker import StrMethodFormatter
from mpl_toolkits.axes_grid1.anchored_artists import AnchoredSizeBar
from pyproj import CRS, Transformer

from allocopt.errors import DataError
from allocopt.export import atomic_file
from allocopt.fonts import font_families
from allocopt.i18n import Translator
from allocopt.services import (
    CENTERS,
    EQUIPMENT,
    HOSPITAL_LEVELS,
    LEVELS,
    SERVICES,
    center_column,
    service_label,
)

DPI = 300
"""Resolution of every PNG written."""

MINUTES_CMAP = "YlOrRd"
"""Colour map of travel times: pale is near, dark red is far."""

LEVEL_MARKERS: dict[str, tuple[str, float, str]] = {
    "village_clinic": ("o", 14.0, "village clinic"),
    "township_hc": ("s", 34.0, "township health center"),
    "community_hc": ("D", 30.0, "community health center"),
    "county_hospital": ("^", 80.0, "county hospital"),
    "tertiary_hospital": ("P", 110.0, "tertiary hospital"),
}
"""Marker, marker area (points²) and legend text of each facility level."""

_UNREACHABLE_FACE = "#d9d9d9"
_UNREACHABLE_HATCH = "///"
_EXISTING_FACE = "#404040"
_OPENED_FACE = "#1a9850"
_REFERRAL_COLOUR = "#7b5ea7"
GP_RING_COLOUR = "#2166ac"
"""Ring around a site that receives GPs."""
EQUIPMENT_RING_COLOUR = "#f46d43"
"""Ring around a site that receives equipment."""
CENTER_RING_COLOUR = "#d73027"
"""Star around a site newly designated a specialty center."""
_HALO = (patheffects.withStroke(linewidth=2.0, foreground="white"),)
_FACILITY_COLUMNS = (
    "id", "name", "kind", "level", "opened", "added_gps",
    *(f"added_{kind}" for kind in EQUIPMENT), *(f"new_{center_column(c)}" for c in CENTERS),
)


def before_after_map(
    townships: gpd.GeoDataFrame,
    service: str,
    *,
    region: str,
    scenario: str,
    threshold_minutes: float | None = None,
    tr: Translator | None = None,
) -> Figure:
    """Township choropleth of `service` travel time before and after the plan, side by side on one colour scale.

    Reads `<service>_minutes_before` and `<service>_minutes_after` (population-weighted mean minutes; NaN where
    no provider is reachable, drawn hatched). The colour bar is in minutes and marks `threshold_minutes`.
    """
    columns = (f"{service}_minutes_before", f"{service}_minutes_after")
    _require_columns(townships, columns, layer="townships")
    layer = _metric(townships, layer="townships")
    values = [_numbers(layer, column, layer_name="townships") for column in columns]
    norm = Normalize(vmin=0.0, vmax=_colour_max(values, threshold_minutes))
    cmap = matplotlib.colormaps[MINUTES_CMAP]
    with _font_context():
        fig = Figure(figsize=(11.0, 5.8), layout="constrained")
        axes = fig.subplots(1, 2)
        for ax, minutes, subtitle in zip(axes, values, ("Before the plan", "After the plan"), strict=True):
            _choropleth(ax, layer, minutes, norm=norm, cmap=cmap)
            _finish_map(ax, layer)
            ax.set_title(subtitle)
        _minutes_colourbar(fig, list(axes), norm=norm, cmap=cmap, threshold_minutes=threshold_minutes,
                           label="minutes (population-weighted mean)")
        fig.legend(
            handles=_choropleth_handles(threshold_minutes), loc="outside lower center", ncols=2, frameon=False
        )
        fig.suptitle(_title(region, scenario, f"{service_label(service)}: travel time to the nearest provider"))
    return fig


def access_map(
    townships: gpd.GeoDataFrame,
    *,
    region: str,
    scenario: str,
    services: Sequence[str] | None = None,
    thresholds_minutes: Mapping[str, float] | None = None,
) -> Figure:
    """Today's gaps: one township choropleth per service of its `<service>_minutes` column, each on its own scale.

    `services` defaults to every service of `allocopt.services.SERVICES` that has a `<service>_minutes` column.
    Thresholds, when given, are marked on each colour bar.
    """
    chosen = tuple(services) if services is not None else tuple(
        s for s in SERVICES if f"{s}_minutes" in townships.columns
    )
    if not chosen:
        expected = ", ".join(f"{s}_minutes" for s in SERVICES)
        raise DataError(f"townships: no travel-time column to map; expected one or more of {expected}")
    _require_columns(townships, tuple(f"{s}_minutes" for s in chosen), layer="townships")
    layer = _metric(townships, layer="townships")
    thresholds = dict(thresholds_minutes or {})
    ncols = min(4, len(chosen))
    nrows = math.ceil(len(chosen) / ncols)
    cmap = matplotlib.colormaps[MINUTES_CMAP]
    with _font_context():
        fig = Figure(figsize=(4.2 * ncols, 4.4 * nrows + 0.8), layout="constrained")
        grid = np.atleast_1d(fig.subplots(nrows, ncols)).ravel()
        for ax, service in zip(grid, chosen, strict=False):
            minutes = _numbers(layer, f"{service}_minutes", layer_name="townships")
            threshold = thresholds.get(service)
            norm = Normalize(vmin=0.0, vmax=_colour_max([minutes], threshold))
            _choropleth(ax, layer, minutes, norm=norm, cmap=cmap)
            _finish_map(ax, layer, label_townships=False)
            ax.set_title(service_label(service))
            _minutes_colourbar(fig, [ax], norm=norm, cmap=cmap, threshold_minutes=threshold, label="minutes")
        for ax in grid[len(chosen):]:
            ax.set_visible(False)
        fig.legend(handles=_choropleth_handles(None), loc="outside lower center", frameon=False)
        fig.suptitle(_title(region, scenario, "Today's travel time to the nearest provider"))
    return fig


def facilities_map(
    facilities: gpd.GeoDataFrame,
    *,
    townships: gpd.GeoDataFrame,
    region: str,
    scenario: str,
    referrals: gpd.GeoDataFrame | None = None,
    ax: Axes | None = None,
    tr: Translator | None = None,
) -> Figure:
    """The plan on a map: sites by level, opened sites, added GPs, equipment and center designations.

    `facilities` is the result's `facilities` layer. Hospitals and every site the plan changes are labelled with
    their (Chinese) names and what they receive; referral links are drawn as lines when `referrals` is given.
    """
    _require_columns(facilities, _FACILITY_COLUMNS, layer="facilities")
    base = _metric(townships, layer="townships")
    sites = _metric(facilities, layer="facilities", crs=base.crs)
    links = None if referrals is None else _metric(referrals, layer="referrals", crs=base.crs)
    with _font_context():
        fig, ax = _figure_and_axes(ax, figsize=(10.0, 8.0))
        base.plot(ax=ax, facecolor="#f4f1ea", edgecolor="#9a9a9a", linewidth=0.7, zorder=1)
        handles: list[Line2D | Patch] = []
        if links is not None and not links.empty:
            links.plot(ax=ax, color=_REFERRAL_COLOUR, linewidth=0.9, alpha=0.7, zorder=2)
            handles.append(Line2D([], [], color=_REFERRAL_COLOUR, linewidth=0.9, label="referral link"))
        handles += _draw_sites(ax, sites)
        handles += _draw_additions(ax, sites)
        _label_sites(ax, sites)
        _finish_map(ax, base)
        fig.legend(handles=handles, loc="outside right upper", fontsize=8, frameon=False)
        ax.set_title(_title(region, scenario, "Facilities and the plan's additions"))
    return fig


def budget_gap_chart(
    frontier: pd.DataFrame,
    *,
    region: str,
    scenario: str,
    budget_yuan: float | None = None,
    ax: Axes | None = None,
    tr: Translator | None = None,
) -> Figure:
    """Unserved people of each service against the budget, from a sweep's frontier table.

    `frontier` has `budget_yuan`, `status` and one `<service>_unserved` column per service. Runs a limit stopped
    before optimality was proven (status other than "optimal") are ringed; `budget_yuan` marks this plan's budget.
    """
    _require_columns(frontier, ("budget_yuan", "status"), layer="frontier.csv")
    services = [c.removesuffix("_unserved") for c in frontier.columns if c.endswith("_unserved")]
    if not services:
        raise DataError("frontier.csv: no `<service>_unserved` column; the sweep must write one per service")
    table = frontier.sort_values("budget_yuan")
    budget_million = _numbers(table, "budget_yuan", layer_name="frontier.csv") / 1e6
    not_optimal = (table["status"].astype(str) != "optimal").to_numpy()
    with _font_context():
        fig, ax = _figure_and_axes(ax, figsize=(9.0, 5.5))
        for service in services:
            unserved = _numbers(table, f"{service}_unserved", layer_name="frontier.csv")
            ax.plot(budget_million, unserved, marker="o", markersize=4, label=service_label(service))
            if not_optimal.any():
                ax.scatter(budget_million[not_optimal], unserved[not_optimal], s=90, facecolors="none",
                           edgecolors="black", linewidths=1.0, zorder=4)
        if not_optimal.any():
            ax.scatter([], [], s=90, facecolors="none", edgecolors="black", label="not proven optimal (see gap)")
        if budget_yuan is not None:
            ax.axvline(budget_yuan / 1e6, color="grey", linestyle="--", linewidth=1.0, label="this plan's budget")
        ax.set_xlabel("budget (million yuan)")
        ax.set_ylabel("unserved people")
        ax.yaxis.set_major_formatter(StrMethodFormatter("{x:,.0f}"))
        ax.set_ylim(bottom=0.0)
        ax.grid(alpha=0.3)
        fig.legend(loc="outside right upper", fontsize=8, frameon=False)
        ax.set_title(_title(region, scenario, "Unserved people by budget"))
    return fig


def critical_links_map(
    links: gpd.GeoDataFrame,
    *,
    roads: gpd.GeoDataFrame,
    townships: gpd.GeoDataFrame,
    region: str,
    scenario: str,
    top: int = 20,
    tr: Translator | None = None,
) -> Figure:
    """The `top` first rows of `links` (ranked road lines or hazard zones with `rank`, `id` and `residents_most`,
    from `allocopt vulnerability`) over the grey road network, coloured by the residents they push beyond a
    threshold when closed, each labelled with its id."""
    _require_columns(links, ("rank", "id", "residents_most"), layer="critical_links")
    layer = _metric(townships, layer="townships")
    chosen = _metric(links, layer="critical_links", crs=layer.crs)
    chosen = chosen[(chosen["rank"] <= top) & (chosen["residents_most"] > 0)]
    norm = Normalize(vmin=0.0, vmax=max(float(chosen["residents_most"].to_numpy(dtype=float).max(initial=0.0)), 1.0))
    cmap = matplotlib.colormaps[MINUTES_CMAP]
    with _font_context():
        xmin, ymin, xmax, ymax = layer.total_bounds
        aspect = (xmax - xmin) / max(ymax - ymin, 1.0)
        fig, ax = _figure_and_axes(None, figsize=(min(12.0, max(5.5, 7.0 * aspect + 2.5)), 7.5))
        layer.boundary.plot(ax=ax, color="#bdbdbd", linewidth=0.6)
        _metric(roads, layer="roads", crs=layer.crs).plot(ax=ax, color="#969696", linewidth=0.5, zorder=1)
        if len(chosen):
            colours = cmap(norm(chosen["residents_most"].to_numpy(dtype=float)))
            chosen.plot(ax=ax, color=colours, linewidth=2.6, markersize=40, zorder=3)
            for point, label in zip(chosen.geometry.representative_point(), chosen["id"], strict=True):
                ax.annotate(str(label), (point.x, point.y), fontsize=7, path_effects=_HALO, zorder=4)
        _finish_map(ax, layer, label_townships=False)
        fig.colorbar(ScalarMappable(norm=norm, cmap=cmap), ax=ax, shrink=0.7,
                     label="residents pushed beyond a threshold (most of any service)")
        ax.set_title(_title(region, scenario, f"Critical links: the {top} closures\nthat strand the most residents"))
    return fig


def save_png(fig: Figure, path: str | Path, *, dpi: int = DPI) -> Path:
    """Render `fig` with Agg to a PNG at `dpi`, replacing `path` only once the image is complete."""
    with _font_context(), atomic_file(path) as staging:
        fig.savefig(staging, format="png", dpi=dpi)
    return Path(path)


@contextmanager
def _font_context() -> Iterator[None]:
    """Text created (and drawn) inside uses the CJK font first, so Chinese names render, and is set literally:
    a name such as "$x$" is not read as mathtext. A character no font holds is drawn as a box, without a
    warning."""
    with matplotlib.rc_context({"font.family": font_families(), "text.parse_math": False}), \
            warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r"Glyph \d+ .* missing from font", category=UserWarning)
        yield


def _figure_and_axes(ax: Axes | None, *, figsize: tuple[float, float]) -> tuple[Figure, Axes]:
    """The given axes and its figure, or a new figure with one axes."""
    if ax is None:
        new = Figure(figsize=figsize, layout="constrained")
        return new, new.subplots()
    root = ax.get_figure(root=True)
    if root is None:
        raise ValueError("ax must belong to a figure")
    return root, ax


def _title(region: str, scenario: str, what: str) -> str:
    return f"{region} · {scenario}\n{what}"


def _require_columns(table: pd.DataFrame, columns: Sequence[str], *, layer: str) -> None:
    missing = [c for c in columns if c not in table.columns]
    if missing:
        raise DataError(
            f"{layer}: missing column(s) {', '.join(missing)}; docs/results.md lists the columns of each "
            "result layer (a result directory written by `allocopt optimize` has them)"
        )


def _numbers(table: pd.DataFrame, column: str, *, layer_name: str) -> np.ndarray:
    values = pd.to_numeric(table[column], errors="coerce")
    bad = values.isna() & table[column].notna()
    if bad.any():
        row = table.index[bad.to_numpy().argmax()]
        raise DataError(f"{layer_name}: column {column!r}, row {row!r} holds {table[column][row]!r}, not a number")
    return values.to_numpy(dtype=float)


def _is_metric(crs: CRS) -> bool:
    return bool(crs.is_projected) and all(axis.unit_name in ("metre", "meter") for axis in crs.axis_info)


def _metric(frame: gpd.GeoDataFrame, *, layer: str, crs: CRS | None = None) -> gpd.GeoDataFrame:
    """`frame` in `crs`, or (without one) in its own CRS when that is metric, else in its UTM zone."""
    if frame.crs is None:
        raise DataError(f"{layer}: the layer has no CRS; write it with one (allocopt writes a metric CRS)")
    if frame.empty:
        raise DataError(f"{layer}: the layer has no rows, so there is nothing to map")
    target = crs if crs is not None else (frame.crs if _is_metric(frame.crs) else frame.estimate_utm_crs())
    return frame if frame.crs == target else frame.to_crs(target)


def _colour_max(values: Sequence[np.ndarray], threshold_minutes: float | None) -> float:
    """Top of the colour scale: the largest finite value or the threshold, at least one minute."""
    finite = [float(v[np.isfinite(v)].max()) for v in values if np.isfinite(v).any()]
    return max([*finite, threshold_minutes or 0.0, 1.0])


def _choropleth(ax: Axes, layer: gpd.GeoDataFrame, minutes: np.ndarray, *, norm: Normalize,
                cmap: Colormap) -> None:
    reachable = np.isfinite(minutes)
    if reachable.any():
        colours = cmap(norm(minutes[reachable]))
        layer.loc[reachable].plot(ax=ax, color=colours, edgecolor="white", linewidth=0.6)
    if not reachable.all():
        layer.loc[~reachable].plot(
            ax=ax, facecolor=_UNREACHABLE_FACE, edgecolor="white", hatch=_UNREACHABLE_HATCH, linewidth=0.6
        )


def _choropleth_handles(threshold_minutes: float | None) -> list[Line2D | Patch]:
    handles: list[Line2D | Patch] = [
        Patch(facecolor=_UNREACHABLE_FACE, hatch=_UNREACHABLE_HATCH, edgecolor="white",
              label="no provider reachable")
    ]
    if threshold_minutes is not None:
        handles.append(Line2D([], [], color="black", linestyle="--",
                              label=f"threshold {threshold_minutes:g} min (on the colour bar)"))
    return handles


def _minutes_colourbar(fig: Figure, axes: list[Axes], *, norm: Normalize, cmap: Colormap,
                       threshold_minutes: float | None, label: str) -> None:
    bar = fig.colorbar(ScalarMappable(norm=norm, cmap=cmap), ax=axes, shrink=0.8, label=label)
    if threshold_minutes is not None:
        bar.ax.axhline(threshold_minutes, color="black", linestyle="--", linewidth=1.2)


def _finish_map(ax: Axes, layer: gpd.GeoDataFrame, *, label_townships: bool = True) -> None:
    """Frame the map on `layer`, label townships, add the scale bar and the north arrow."""
    xmin, ymin, xmax, ymax = layer.total_bounds
    pad = 0.04 * max(xmax - xmin, ymax - ymin)
    ax.set_xlim(xmin - pad, xmax + pad)
    ax.set_ylim(ymin - pad, ymax + pad)
    ax.set_aspect("equal")
    ax.set_axis_off()
    if label_townships and "name" in layer.columns:
        for point, name in zip(layer.geometry.representative_point(), layer["name"], strict=True):
            ax.annotate(str(name), (point.x, point.y), ha="center", va="center", fontsize=7, color="#6b6b6b",
                        path_effects=_HALO, zorder=2)
    _scale_bar(ax, width_m=xmax - xmin + 2 * pad)
    _north_arrow(ax, layer.crs, x=(xmin + xmax) / 2, y=(ymin + ymax) / 2)


def _scale_bar_length_m(width_m: float) -> float:
    """The largest 1, 2 or 5 x 10^k metres not longer than a fifth of the map width."""
    target = width_m / 5.0
    exponent = math.floor(math.log10(target))
    return next(step * 10.0**exponent for step in (5, 2, 1) if step * 10.0**exponent <= target)


def _scale_bar(ax: Axes, *, width_m: float) -> None:
    length = _scale_bar_length_m(width_m)
    label = f"{length / 1000:g} km" if length >= 1000 else f"{length:g} m"
    bar = AnchoredSizeBar(ax.transData, length, label, loc="lower left", pad=0.3, borderpad=0.6, sep=3,
                          frameon=False, size_vertical=width_m / 250.0, fontproperties={"size": 7})
    ax.add_artist(bar)


def _north_arrow(ax: Axes, crs: CRS, *, x: float, y: float) -> None:
    """Arrow towards true north at the map centre, computed from the CRS (grid north differs off a meridian)."""
    lon, lat = Transformer.from_crs(crs, "EPSG:4326", always_xy=True).transform(x, y)
    north_x, north_y = Transformer.from_crs("EPSG:4326", crs, always_xy=True).transform(lon, min(lat + 0.01, 89.9))
    angle = math.atan2(north_x - x, north_y - y)
    length_pt = 22.0
    dx, dy = math.sin(angle), math.cos(angle)
    head = (0.95, 0.88)
    ax.annotate("", xy=head, xycoords="axes fraction", xytext=(-length_pt * dx, -length_pt * dy),
                textcoords="offset points", arrowprops={"arrowstyle": "-|>", "color": "black", "linewidth": 1.4})
    ax.annotate("N", xy=head, xycoords="axes fraction", xytext=(7.0 * dx, 7.0 * dy), textcoords="offset points",
                ha="center", va="center", fontsize=9)


def _flag(sites: gpd.GeoDataFrame, column: str) -> np.ndarray:
    return sites[column].fillna(False).astype(bool).to_numpy()


def _count(sites: gpd.GeoDataFrame, column: str) -> np.ndarray:
    return _numbers(sites, column, layer_name="facilities")


def _draw_sites(ax: Axes, sites: gpd.GeoDataFrame) -> list[Line2D | Patch]:
    """Markers by level: existing sites dark, opened candidates green, candidates not opened hollow."""
    candidate = (sites["kind"] == "candidate").to_numpy()
    opened = _flag(sites, "opened")
    groups: tuple[tuple[np.ndarray, dict[str, Any]], ...] = (
        (~candidate, {"c": _EXISTING_FACE}),
        (candidate & opened, {"c": _OPENED_FACE}),
        (candidate & ~opened, {"facecolors": "white", "edgecolors": "#8c8c8c"}),
    )
    handles: list[Line2D | Patch] = []
    for level in (*LEVELS, *sorted(set(sites["level"]) - set(LEVELS))):
        marker, size, text = LEVEL_MARKERS.get(level, ("o", 20.0, str(level)))
        at_level = (sites["level"] == level).to_numpy()
        if not at_level.any():
            continue
        for chosen, style in groups:
            subset = sites.loc[at_level & chosen]
            if not subset.empty:
                ax.scatter(subset.geometry.x, subset.geometry.y, marker=marker, s=size, linewidths=0.8,
                           zorder=3, **style)
        handles.append(Line2D([], [], marker=marker, linestyle="", color=_EXISTING_FACE,
                              markersize=math.sqrt(size), label=text))
    if (candidate & opened).any():
        handles.append(Patch(facecolor=_OPENED_FACE, label="candidate site opened by the plan"))
    if (candidate & ~opened).any():
        handles.append(Patch(facecolor="white", edgecolor="#8c8c8c", label="candidate site not opened"))
    return handles


def _additions(sites: gpd.GeoDataFrame) -> dict[str, np.ndarray]:
    """Per site: added GPs, added equipment units (all kinds) and whether a center is newly designated."""
    return {
        "gps": _count(sites, "added_gps"),
        "equipment": sum((_count(sites, f"added_{kind}") for kind in EQUIPMENT), start=np.zeros(len(sites))),
        "centers": np.any([_flag(sites, f"new_{center_column(c)}") for c in CENTERS], axis=0),
    }


def _draw_additions(ax: Axes, sites: gpd.GeoDataFrame) -> list[Line2D | Patch]:
    """Rings around sites that receive GPs (circle), equipment (square) or a center designation (star)."""
    added = _additions(sites)
    rings = (
        ("gps", "o", 200.0, GP_RING_COLOUR, "new GPs"),
        ("equipment", "s", 330.0, EQUIPMENT_RING_COLOUR, "new equipment"),
        ("centers", "*", 420.0, CENTER_RING_COLOUR, "new center designation"),
    )
    handles: list[Line2D | Patch] = []
    for key, marker, size, colour, text in rings:
        chosen = np.asarray(added[key]) > 0
        if not chosen.any():
            continue
        subset = sites.loc[chosen]
        ax.scatter(subset.geometry.x, subset.geometry.y, marker=marker, s=size, facecolors="none",
                   edgecolors=colour, linewidths=1.6, zorder=4)
        handles.append(Line2D([], [], marker=marker, linestyle="", markerfacecolor="none",
                              markeredgecolor=colour, markeredgewidth=1.6, markersize=math.sqrt(size) * 0.6,
                              label=text))
    return handles


def _addition_text(sites: gpd.GeoDataFrame) -> list[str]:
    """What each site receives, e.g. "+2 GP · +1 CT · chest pain center"."""
    parts: list[list[str]] = [[] for _ in range(len(sites))]
    counts = [("GP", _count(sites, "added_gps"))]
    counts += [(kind.upper() if len(kind) <= 2 else kind.replace("_", " "), _count(sites, f"added_{kind}"))
               for kind in EQUIPMENT]
    for name, values in counts:
        for i in np.flatnonzero(values > 0):
            parts[i].append(f"+{values[i]:g} {name}")
    for center in CENTERS:
        for i in np.flatnonzero(_flag(sites, f"new_{center_column(center)}")):
            parts[i].append(f"{center.replace('_', ' ')} center")
    return [" · ".join(p) for p in parts]


def _label_sites(ax: Axes, sites: gpd.GeoDataFrame) -> None:
    """Name hospitals and every site the plan opens or adds to, with what it receives under the name."""
    opened_candidate = (sites["kind"] == "candidate").to_numpy() & _flag(sites, "opened")
    hospital = sites["level"].isin(HOSPITAL_LEVELS).to_numpy()
    for i, addition in enumerate(_addition_text(sites)):
        if not (addition or opened_candidate[i] or hospital[i]):
            continue
        lines = [str(sites["name"].iloc[i])]
        lines += ["opened"] if opened_candidate[i] else []
        lines += [addition] if addition else []
        point = sites.geometry.iloc[i]
        ax.annotate("\n".join(lines), (point.x, point.y), xytext=(7, 5), textcoords="offset points", fontsize=6.5,
                    path_effects=_HALO, zorder=6)
