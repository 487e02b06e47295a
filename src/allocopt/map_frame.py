"""The frame every allocopt map shares: metric CRS, a tight extent and figure size, travel-time classes, the
scale bar and the north arrow, the CJK font, and the checks on the layers drawn.

Travel times are drawn in classes relative to the service's standard (threshold), so one colour means the same
thing on every travel-time map: blue within the standard, reds beyond it, grey hatched where nothing is reachable.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import geopandas as gpd
import matplotlib
import numpy as np
import pandas as pd
from matplotlib import patheffects
from matplotlib.axes import Axes
from matplotlib.colors import BoundaryNorm, ListedColormap
from matplotlib.patches import Patch
from mpl_toolkits.axes_grid1.anchored_artists import AnchoredSizeBar
from pyproj import CRS, Transformer

from allocopt.errors import DataError
from allocopt.fonts import font_families
from allocopt.i18n import Translator

CLASS_COLOURS: tuple[str, ...] = ("#2166ac", "#92c5de", "#fddbc7", "#f4a582", "#d6604d", "#b2182b")
"""Travel-time classes, nearest first: two blues within the standard, four reds beyond it (ColorBrewer RdBu,
safe for colour-blind readers)."""

CLASS_BOUNDS_OF_STANDARD: tuple[float, ...] = (0.0, 0.5, 1.0, 1.5, 2.0, 3.0)
"""Lower bound of each class as a multiple of the standard; the last class is open-ended."""

FALLBACK_BOUNDS_MINUTES: tuple[float, ...] = (0.0, 10.0, 20.0, 30.0, 60.0, 90.0)
"""Class bounds where a map has no standard to measure against."""

UNREACHABLE_FACE = "#d9d9d9"
UNREACHABLE_HATCH = "///"
HALO = (patheffects.withStroke(linewidth=2.0, foreground="white"),)
"""White outline around text drawn over a map."""

PANEL_HEIGHT_IN = 6.5
"""Height of one map panel; its width follows the region's shape."""


@contextmanager
def font_context() -> Iterator[None]:
    """Text created (and drawn) inside uses the CJK font first, so Chinese names render, and is set literally:
    a name such as "$x$" is not read as mathtext. A character no font holds is drawn as a box, without a
    warning."""
    with matplotlib.rc_context({"font.family": font_families(), "text.parse_math": False}), \
            warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r"Glyph \d+ .* missing from font", category=UserWarning)
        yield


def require_columns(table: pd.DataFrame, columns: Sequence[str], *, layer: str) -> None:
    """Raise `DataError` naming the layer and every missing column."""
    missing = [c for c in columns if c not in table.columns]
    if missing:
        raise DataError(
            f"{layer}: missing column(s) {', '.join(missing)}; docs/results.md lists the columns of each "
            "result layer (a result directory written by `allocopt optimize` has them)"
        )


def numbers(table: pd.DataFrame, column: str, *, layer_name: str) -> np.ndarray:
    """`column` as floats; a cell that is not a number is a `DataError` naming its row."""
    values = pd.to_numeric(table[column], errors="coerce")
    bad = values.isna() & table[column].notna()
    if bad.any():
        row = table.index[bad.to_numpy().argmax()]
        raise DataError(f"{layer_name}: column {column!r}, row {row!r} holds {table[column][row]!r}, not a number")
    return values.to_numpy(dtype=float)


def metric(frame: gpd.GeoDataFrame, *, layer: str, crs: CRS | None = None) -> gpd.GeoDataFrame:
    """`frame` in `crs`, or (without one) in its own CRS when that is metric, else in its UTM zone."""
    if frame.crs is None:
        raise DataError(f"{layer}: the layer has no CRS; write it with one (allocopt writes a metric CRS)")
    if frame.empty:
        raise DataError(f"{layer}: the layer has no rows, so there is nothing to map")
    target = crs if crs is not None else (frame.crs if _is_metric(frame.crs) else frame.estimate_utm_crs())
    return frame if frame.crs == target else frame.to_crs(target)


def _is_metric(crs: CRS) -> bool:
    return bool(crs.is_projected) and all(axis.unit_name in ("metre", "meter") for axis in crs.axis_info)


def panel_size_in(layer: gpd.GeoDataFrame, *, height_in: float = PANEL_HEIGHT_IN,
                  min_width_share: float = 1 / 3) -> tuple[float, float]:
    """Width and height (inches) of a panel that holds `layer` with little white space: a thin county gets a
    narrow panel (at least `min_width_share` of the height, room for titles and labels), a wide one a wide panel
    (at most twice the height)."""
    xmin, ymin, xmax, ymax = layer.total_bounds
    aspect = (xmax - xmin) / max(ymax - ymin, 1.0)
    width = min(max(height_in * aspect, height_in * min_width_share), 2.0 * height_in)
    return width, min(height_in, width / aspect)


def frame_map(ax: Axes, layer: gpd.GeoDataFrame, tr: Translator) -> None:
    """Frame the map tightly on `layer` and add the scale bar and the north arrow."""
    xmin, ymin, xmax, ymax = layer.total_bounds
    pad = 0.02 * max(xmax - xmin, ymax - ymin)
    ax.set_xlim(xmin - pad, xmax + pad)
    ax.set_ylim(ymin - pad, ymax + pad)
    ax.set_aspect("equal")
    ax.set_axis_off()
    _scale_bar(ax, width_m=xmax - xmin + 2 * pad, tr=tr)
    _north_arrow(ax, layer.crs, x=(xmin + xmax) / 2, y=(ymin + ymax) / 2, tr=tr)


def scale_bar_length_m(width_m: float) -> float:
    """The largest 1, 2 or 5 x 10^k metres not longer than a fifth of the map width."""
    target = width_m / 5.0
    exponent = math.floor(math.log10(target))
    return next(step * 10.0**exponent for step in (5, 2, 1) if step * 10.0**exponent <= target)


def _scale_bar(ax: Axes, *, width_m: float, tr: Translator) -> None:
    length = scale_bar_length_m(width_m)
    label = tr("common.unit.km", count=f"{length / 1000:g}") if length >= 1000 else tr("maps.unit.metres",
                                                                                        count=f"{length:g}")
    bar = AnchoredSizeBar(ax.transData, length, label, loc="lower left", pad=0.3, borderpad=0.6, sep=3,
                          frameon=False, size_vertical=width_m / 250.0, fontproperties={"size": 7})
    ax.add_artist(bar)


def _north_arrow(ax: Axes, crs: CRS, *, x: float, y: float, tr: Translator) -> None:
    """Arrow towards true north at the map centre, computed from the CRS (grid north differs off a meridian)."""
    lon, lat = Transformer.from_crs(crs, "EPSG:4326", always_xy=True).transform(x, y)
    north_x, north_y = Transformer.from_crs("EPSG:4326", crs, always_xy=True).transform(lon, min(lat + 0.01, 89.9))
    angle = math.atan2(north_x - x, north_y - y)
    length_pt = 18.0
    dx, dy = math.sin(angle), math.cos(angle)
    head = (0.93, 0.9)
    ax.annotate("", xy=head, xycoords="axes fraction", xytext=(-length_pt * dx, -length_pt * dy),
                textcoords="offset points", arrowprops={"arrowstyle": "-|>", "color": "black", "linewidth": 1.2},
                zorder=7)
    ax.annotate(tr("maps.north"), xy=head, xycoords="axes fraction", xytext=(7.0 * dx, 7.0 * dy),
                textcoords="offset points", ha="center", va="center", fontsize=8, zorder=7)


def class_bounds_minutes(threshold_minutes: float | None) -> np.ndarray:
    """Lower bound (minutes) of each travel-time class: multiples of the standard, else fixed minutes."""
    if threshold_minutes is None or not threshold_minutes > 0:
        return np.asarray(FALLBACK_BOUNDS_MINUTES)
    return np.asarray(CLASS_BOUNDS_OF_STANDARD) * float(threshold_minutes)


def class_colours(minutes: np.ndarray, threshold_minutes: float | None) -> np.ndarray:
    """RGBA of each finite travel time by its class (`class_bounds_minutes`)."""
    bounds = class_bounds_minutes(threshold_minutes)
    norm = BoundaryNorm([*bounds, np.inf], len(CLASS_COLOURS))
    return np.asarray(ListedColormap(CLASS_COLOURS)(norm(minutes)))


def class_handles(tr: Translator, threshold_minutes: float | None, *, relative: bool = False) -> list[Patch]:
    """Legend entries of the travel-time classes (minutes, or multiples of the standard when `relative`),
    then the unreachable hatch."""
    bounds = np.asarray(CLASS_BOUNDS_OF_STANDARD) if relative else class_bounds_minutes(threshold_minutes)
    key_range, key_above = (("maps.class.range_standard", "maps.class.above_standard") if relative
                            else ("maps.class.range_minutes", "maps.class.above_minutes"))
    handles = []
    for i, colour in enumerate(CLASS_COLOURS):
        lower = f"{bounds[i]:g}"
        label = (tr(key_range, lower=lower, upper=f"{bounds[i + 1]:g}") if i + 1 < len(bounds)
                 else tr(key_above, lower=lower))
        handles.append(Patch(facecolor=colour, edgecolor="white", label=label))
    handles.append(Patch(facecolor=UNREACHABLE_FACE, hatch=UNREACHABLE_HATCH, edgecolor="white",
                         label=tr("maps.legend.unreachable")))
    return handles


def travel_choropleth(ax: Axes, layer: gpd.GeoDataFrame, minutes: np.ndarray,
                      threshold_minutes: float | None) -> None:
    """Townships filled by travel-time class; unreachable ones (NaN or infinite) grey and hatched."""
    reachable = np.isfinite(minutes)
    if reachable.any():
        layer.loc[reachable].plot(ax=ax, color=class_colours(minutes[reachable], threshold_minutes),
                                  edgecolor="white", linewidth=0.6)
    if not reachable.all():
        layer.loc[~reachable].plot(
            ax=ax, facecolor=UNREACHABLE_FACE, edgecolor="white", hatch=UNREACHABLE_HATCH, linewidth=0.6
        )
