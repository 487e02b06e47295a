"""The interactive map of a result: an HTML fragment that works offline, under the report's Content-Security-Policy.

Townships are drawn as polygons in the result's projected coordinates (no map tiles, no network request),
coloured by one indicator chosen from a menu: each service's covered share before or after the plan, on one
shared 0-100 % scale. Sites are drawn by level, with what the plan opens and adds; referral lines, the care
pathways after the plan (one line set per condition) and township names can be switched on and off in the
legend; hovering a township or a site shows its numbers.

Built with Plotly: plotly.js ships inside the `plotly` Python package and is inlined into the fragment, so the
page needs no network. The fragment holds two inline scripts (plotly.js and the figure); the page's CSP must
allow exactly them with `script-src` plus the `'sha256-...'` sources of `InteractiveMap.csp_sources` (plotly.js
adds its own `<style>` elements, which the report's `style-src 'unsafe-inline'` allows).
"""

from __future__ import annotations

import base64
import hashlib
import html
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import matplotlib
import numpy as np
import plotly.graph_objects as go
from matplotlib.colors import to_hex
from plotly.offline import get_plotlyjs
from shapely.geometry.base import BaseGeometry

from allocopt import map_sites
from allocopt.errors import OutputError
from allocopt.i18n import FALLBACK_LANGUAGE, Translator, translator
from allocopt.map_frame import metric
from allocopt.maps import REFERRAL_COLOUR

if TYPE_CHECKING:
    from allocopt.report import ResultData

SHARE_CMAP = "RdYlBu"
"""Colours of covered shares: red where few are covered, blue where most are (as the static maps: blue is good)."""
NO_DATA_COLOUR = "#d9d9d9"
DEFAULT_DIV_ID = "allocopt-interactive-map"
HEIGHT_PX = 680
SIMPLIFY_SHARE = 1 / 1500
"""Township outlines are simplified to this share of the map's larger side (a fraction of a pixel)."""
FONT_FAMILY = '"Noto Sans CJK SC", "Microsoft YaHei", "PingFang SC", sans-serif'
"""Font of the map's text when the page names none."""
_ENGLISH = translator(FALLBACK_LANGUAGE)
_SITE_TRACES: tuple[tuple[tuple[str, ...], str, float, str], ...] = (
    (("village_clinic",), "circle", 5.0, "#404040"),
    (("township_hc", "community_hc"), "square", 9.0, "#404040"),
    (("county_hospital", "tertiary_hospital"), "triangle-up", 14.0, "#000000"),
)
"""Existing sites by level: levels, marker symbol, size (px), colour."""
PATHWAY_COLOURS = ("#d7301f", "#6a51a3", "#238b45")
"""Colours of the care-pathway lines, one per condition in the result's order."""


@dataclass(frozen=True)
class InteractiveMap:
    """The fragment and the CSP sources its inline scripts need."""

    html: str
    """A `<div>` and two inline `<script>` elements (plotly.js, then the figure)."""
    csp_sources: tuple[str, ...]
    """`'sha256-...'` source expressions, one per inline script, for the page's `script-src`."""
    text: str
    """Every string of the figure, for a page that embeds only the glyphs it shows (a font subset)."""


def interactive_map(result: ResultData, *, tr: Translator = _ENGLISH, div_id: str = DEFAULT_DIV_ID,
                    font_family: str = FONT_FAMILY) -> InteractiveMap:
    """The interactive map of `result` (read by `allocopt.report.read_result_dir`) in the language of `tr`,
    its text set in `font_family` (CSS font-family list; a report embedding a font names it here)."""
    figure = map_figure(result, tr=tr, font_family=font_family)
    config = {"displaylogo": False, "responsive": True, "scrollZoom": True,
              "modeBarButtonsToRemove": ["select2d", "lasso2d", "autoScale2d"]}
    data = figure.to_json()
    arguments = ", ".join(_json_in_script(part) for part in (json.dumps(div_id), data, json.dumps(config)))
    call = f"Plotly.newPlot({arguments}).then(function (gd) {{ gd.dataset.ready = 'true'; }});"
    scripts = (_plotly_js(), call)
    fragment = (f"<div id=\"{html.escape(div_id)}\" class=\"interactive-map\" style=\"height:{HEIGHT_PX}px\"></div>"
                + "".join(f"<script>{script}</script>" for script in scripts))
    return InteractiveMap(html=fragment, csp_sources=tuple(csp_hash(script) for script in scripts),
                          text="".join(_strings(json.loads(data))))


def csp_hash(script: str) -> str:
    """The CSP source expression allowing the inline script whose text is `script`."""
    digest = hashlib.sha256(script.encode("utf-8")).digest()
    return f"'sha256-{base64.b64encode(digest).decode('ascii')}'"


def map_figure(result: ResultData, *, tr: Translator = _ENGLISH, font_family: str = FONT_FAMILY) -> go.Figure:
    """The Plotly figure of the interactive map (see the module docstring)."""
    townships = metric(result.township_layer, layer="townships")
    sites = metric(result.facilities, layer="facilities", crs=townships.crs)
    services = [s for s in result.summary["services"] if f"{s}_covered_share_after" in townships.columns]
    options = [(service, when) for service in services for when in ("before", "after")]
    first = options.index((services[0], "after")) if services else 0
    names = [html.escape(str(name)) for name in townships["name"]]
    colours = _township_colours(townships, *options[first]) if options else [NO_DATA_COLOUR] * len(names)
    texts = _township_texts(townships, result.summary, tr, *options[first]) if options else names
    figure = go.Figure()
    tolerance = SIMPLIFY_SHARE * _extent_m(townships)
    for geometry, name, colour, text in zip(townships.geometry, names, colours, texts, strict=True):
        xs, ys = _outline(geometry.simplify(tolerance))
        figure.add_trace(go.Scatter(
            x=xs, y=ys, mode="lines", fill="toself", line={"color": "white", "width": 0.8}, hoveron="fills",
            hoverinfo="text", name=name, showlegend=False, fillcolor=colour, text=text,
        ))
    count = len(townships)
    if result.referrals is not None and not result.referrals.empty:
        figure.add_trace(_referral_trace(metric(result.referrals, layer="referrals", crs=townships.crs), tr))
    if result.pathways is not None and not result.pathways.empty:
        for trace in _pathway_traces(metric(result.pathways, layer="pathways", crs=townships.crs), tr):
            figure.add_trace(trace)
    figure.add_trace(_names_trace(townships, tr))
    for trace in _site_traces(sites, tr):
        figure.add_trace(trace)
    figure.add_trace(_colour_bar_trace(townships, tr))
    figure.update_layout(_layout(tr, _menu(townships, result.summary, tr, options, count), first, font_family))
    return figure


def _extent_m(layer: gpd.GeoDataFrame) -> float:
    xmin, ymin, xmax, ymax = layer.total_bounds
    return float(max(xmax - xmin, ymax - ymin, 1.0))


def _outline(geometry: BaseGeometry) -> tuple[list[float | None], list[float | None]]:
    """Exterior rings of a (multi)polygon as one path, parts separated by None (Plotly fills each part)."""
    parts = list(getattr(geometry, "geoms", [geometry]))
    xs: list[float | None] = []
    ys: list[float | None] = []
    for part in parts:
        x, y = part.exterior.coords.xy
        xs += [round(v, 1) for v in x] + [None]
        ys += [round(v, 1) for v in y] + [None]
    return xs[:-1], ys[:-1]


def _share_colour(share: float) -> str:
    if not math.isfinite(share):
        return NO_DATA_COLOUR
    return to_hex(matplotlib.colormaps[SHARE_CMAP](min(max(share, 0.0), 1.0)))


def _township_colours(townships: gpd.GeoDataFrame, service: str, when: str) -> list[str]:
    shares = townships[f"{service}_covered_share_{when}"].to_numpy(dtype=float)
    return [_share_colour(float(share)) for share in shares]


def _township_texts(townships: gpd.GeoDataFrame, summary: dict[str, Any], tr: Translator, service: str,
                    when: str) -> list[str]:
    """Popup of each township for one indicator: name, residents, covered share and minutes before and after."""
    threshold = (summary["services"].get(service) or {}).get("threshold_minutes")
    service_name = tr.term("common.service", service)
    texts = []
    for _, row in townships.iterrows():
        shares = [tr.share(float(row[f"{service}_covered_share_{w}"])) for w in ("before", "after")]
        minutes = [_minutes(tr, row.get(f"{service}_minutes_{w}")) for w in ("before", "after")]
        lines = [f"<b>{html.escape(str(row['name']))}</b>",
                 tr("maps.interactive.population", people=tr.people(float(row["population"]))),
                 tr("maps.interactive.covered", service=html.escape(service_name),
                    minutes=f"{threshold:g}" if threshold is not None else "—", before=shares[0], after=shares[1]),
                 tr("maps.interactive.minutes", before=minutes[0], after=minutes[1])]
        texts.append("<br>".join(lines))
    return texts


def _minutes(tr: Translator, value: Any) -> str:
    number = float(value) if value is not None else math.nan
    return tr("common.unit.minutes", count=tr.number(number, decimals=1)) if math.isfinite(number) else "—"


def _menu(townships: gpd.GeoDataFrame, summary: dict[str, Any], tr: Translator,
          options: Sequence[tuple[str, str]], count: int) -> list[dict[str, Any]]:
    """One menu entry per indicator, restyling the township polygons' colours and popups."""
    buttons = []
    for service, when in options:
        label = tr("maps.interactive.option", service=tr.term("common.service", service),
                   when=tr("maps.before") if when == "before" else tr("maps.after"))
        restyle = {"fillcolor": _township_colours(townships, service, when),
                   "text": _township_texts(townships, summary, tr, service, when)}
        buttons.append({"label": label, "method": "restyle", "args": [restyle, list(range(count))]})
    return buttons


def _names_trace(townships: gpd.GeoDataFrame, tr: Translator) -> go.Scatter:
    points = townships.geometry.representative_point()
    names = [html.escape(str(name)) for name in townships["name"]]  # Plotly reads text as HTML: names stay text
    return go.Scatter(x=points.x.round(1), y=points.y.round(1), mode="text", text=names,
                      textfont={"size": 11, "color": "#333333"}, name=tr("maps.interactive.township_names"),
                      hoverinfo="skip", visible="legendonly")


def _referral_trace(links: gpd.GeoDataFrame, tr: Translator) -> go.Scatter:
    xs, ys = _line_path(links.geometry)
    return go.Scatter(x=xs, y=ys, mode="lines", line={"color": REFERRAL_COLOUR, "width": 1.2}, opacity=0.6,
                      name=tr("maps.interactive.referrals"), hoverinfo="skip")


def _pathway_traces(pathways: gpd.GeoDataFrame, tr: Translator) -> list[go.Scatter]:
    """Per care-pathway condition, the lines of the best pathway after the plan (demand point, first door, center),
    each drawn once, hidden until switched on in the legend."""
    traces = []
    for number, (condition, rows) in enumerate(pathways.groupby("condition", sort=False)):
        lines = rows.geometry[~rows.geometry.is_empty]
        unique = lines[~lines.to_wkb().duplicated()]
        xs, ys = _line_path(unique)
        traces.append(go.Scatter(x=xs, y=ys, mode="lines", opacity=0.7, hoverinfo="skip", visible="legendonly",
                                 line={"color": PATHWAY_COLOURS[number % len(PATHWAY_COLOURS)], "width": 1.0},
                                 name=tr("maps.interactive.pathways",
                                         condition=tr.term("common.service", str(condition)))))
    return traces


def _line_path(lines: Sequence[BaseGeometry] | gpd.GeoSeries) -> tuple[list[float | None], list[float | None]]:
    """(Multi)line strings as one path, parts separated by None."""
    xs: list[float | None] = []
    ys: list[float | None] = []
    for line in lines:
        for part in getattr(line, "geoms", [line]):
            x, y = part.coords.xy
            xs += [round(v, 1) for v in x] + [None]
            ys += [round(v, 1) for v in y] + [None]
    return xs, ys


def _site_traces(sites: gpd.GeoDataFrame, tr: Translator) -> list[go.Scatter]:
    """Existing sites by level, sites opened by the plan, and a ring on every site the plan adds to."""
    texts = _site_texts(sites, tr)
    candidate = (sites["kind"] == "candidate").to_numpy()
    opened = candidate & map_sites.flag(sites, "opened")
    added = np.asarray([bool(t) for t in map_sites.addition_texts(sites, tr)])
    traces = []
    for levels, symbol, size, colour in _SITE_TRACES:
        chosen = ~candidate & sites["level"].isin(levels).to_numpy()
        if chosen.any():
            traces.append(_points(sites, chosen, texts, name=tr.term("common.level", levels[0]),
                                  marker={"symbol": symbol, "size": size, "color": colour,
                                          "line": {"color": "white", "width": 0.6}}))
    if opened.any():
        traces.append(_points(sites, opened, texts, name=tr("maps.legend.opened"),
                              marker={"symbol": "circle", "size": 8, "color": map_sites.OPENED_FACE}))
    if added.any():
        traces.append(_points(sites, added, texts, name=tr("maps.interactive.additions"),
                              marker={"symbol": "circle-open", "size": 16, "color": map_sites.NEW_PROVIDER_FACE,
                                      "line": {"width": 3}}))
    return traces


def _points(sites: gpd.GeoDataFrame, chosen: np.ndarray, texts: list[str], *, name: str,
            marker: dict[str, Any]) -> go.Scatter:
    subset = sites.loc[chosen]
    return go.Scatter(x=subset.geometry.x.round(1), y=subset.geometry.y.round(1), mode="markers", marker=marker,
                      name=name, text=[texts[i] for i in np.flatnonzero(chosen)], hoverinfo="text")


def _site_texts(sites: gpd.GeoDataFrame, tr: Translator) -> list[str]:
    """Popup of each site: name, level, GPs and village doctors before and after, what the plan adds, its cost."""
    after = map_sites.sites_after(sites)
    additions = map_sites.addition_texts(sites, tr)
    gps_before = map_sites.column_or_zero(sites, "gps")
    doctors_before = map_sites.column_or_zero(sites, "village_doctors")
    cost = map_sites.column_or_zero(sites, "cost_yuan")
    texts = []
    for i in range(len(sites)):
        lines = [f"<b>{html.escape(str(sites['name'].iloc[i]))}</b>",
                 html.escape(tr.term("common.level", str(sites["level"].iloc[i]))),
                 tr("maps.interactive.gps", before=f"{gps_before[i]:g}", after=f"{after['gps'].iloc[i]:g}")]
        if doctors_before[i] or after["village_doctors"].iloc[i]:
            lines.append(tr("maps.interactive.village_doctors", before=f"{doctors_before[i]:g}",
                            after=f"{after['village_doctors'].iloc[i]:g}"))
        if additions[i]:
            lines.append(tr("maps.interactive.adds", what=html.escape(additions[i]), cost=tr.yuan(float(cost[i]))))
        texts.append("<br>".join(lines))
    return texts


def _colour_bar_trace(townships: gpd.GeoDataFrame, tr: Translator) -> go.Scatter:
    """An invisible point that carries the colour bar of the shared 0-100 % scale."""
    cmap = matplotlib.colormaps[SHARE_CMAP]
    scale = [[step, to_hex(cmap(step))] for step in np.linspace(0.0, 1.0, 11)]
    point = townships.geometry.representative_point().iloc[0]
    return go.Scatter(x=[point.x], y=[point.y], mode="markers", hoverinfo="skip", showlegend=False,
                      marker={"size": 0.1, "opacity": 0, "color": [0.0], "cmin": 0.0, "cmax": 1.0,
                              "colorscale": scale, "showscale": True,
                              "colorbar": {"title": {"text": tr("maps.interactive.colour_bar")},
                                           "tickformat": ".0%", "thickness": 14, "len": 0.6, "x": -0.08,
                                           "xanchor": "right"}})


def _layout(tr: Translator, buttons: list[dict[str, Any]], active: int, font_family: str) -> dict[str, Any]:
    hidden = {"visible": False, "showgrid": False, "zeroline": False}
    menus = [{"type": "dropdown", "buttons": buttons, "active": active, "x": 0.0, "xanchor": "left", "y": 1.0,
              "yanchor": "bottom", "showactive": True}] if buttons else []
    return {
        "xaxis": hidden, "yaxis": {**hidden, "scaleanchor": "x", "scaleratio": 1},
        "plot_bgcolor": "white", "paper_bgcolor": "white", "hovermode": "closest", "dragmode": "pan",
        "margin": {"l": 70, "r": 10, "t": 60, "b": 10}, "updatemenus": menus,
        "legend": {"orientation": "h", "x": 0.5, "xanchor": "center", "y": 0.0, "yanchor": "top"},
        "font": {"family": font_family},
        "title": {"text": tr("maps.interactive.title"), "x": 0.5, "y": 0.99, "font": {"size": 15}},
    }


def _strings(value: Any) -> list[str]:
    """Every string inside a JSON value."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [text for item in value.values() for text in _strings(item)]
    if isinstance(value, list):
        return [text for item in value for text in _strings(item)]
    return []


def _json_in_script(text: str) -> str:
    """JSON text safe inside a <script> element: every "<" (found only in strings) written as an escape, so no
    name such as "</script>" can end the element."""
    return text.replace("<", "\\u003c")


def _plotly_js() -> str:
    """The plotly.js bundle of the installed `plotly` package, checked to hold nothing that ends a <script>."""
    script = get_plotlyjs()
    if "</script" in script.lower():
        raise OutputError("the installed plotly.js holds '</script' and cannot be inlined; reinstall plotly")
    return script
