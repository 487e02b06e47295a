"""Sites on maps: markers by level and staffing, rings for what the plan adds, the labels that say it, and the
sites providing a service before and after the plan.

Reads the result's `facilities` layer (docs/results.md). Columns of village doctors (`village_doctors`,
`added_village_doctors`) are optional: results written before they existed count none.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import geopandas as gpd
import numpy as np
import shapely
from matplotlib.axes import Axes
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from allocopt.i18n import Translator
from allocopt.map_frame import numbers
from allocopt.map_labels import Label
from allocopt.services import CENTERS, EQUIPMENT, HOSPITAL_LEVELS, LEVELS, center_column, providers

FACILITY_COLUMNS = (
    "id", "name", "kind", "level", "opened", "added_gps",
    *(f"added_{kind}" for kind in EQUIPMENT), *(f"new_{center_column(c)}" for c in CENTERS),
)
"""Columns of the facilities layer a map needs."""

LEVEL_MARKERS: dict[str, tuple[str, float]] = {
    "village_clinic": ("o", 9.0),
    "township_hc": ("s", 30.0),
    "community_hc": ("D", 26.0),
    "county_hospital": ("^", 70.0),
    "tertiary_hospital": ("P", 90.0),
}
"""Marker and marker area (points²) of each facility level."""

EXISTING_FACE = "#404040"
OPENED_FACE = "#1a9850"
GP_RING_COLOUR = "#2166ac"
"""Ring around a site that receives GPs."""
VILLAGE_DOCTOR_RING_COLOUR = "#35978f"
"""Ring around a village clinic that receives a village doctor."""
EQUIPMENT_RING_COLOUR = "#f46d43"
"""Ring around a site that receives equipment."""
CENTER_RING_COLOUR = "#d73027"
"""Star around a site newly designated a specialty center."""
NEW_PROVIDER_FACE = "#ffd700"
"""Sites the plan makes providers of a service, on the service's maps."""
LABEL_TIERS: dict[str, float] = {"county_hospital": 3.0, "tertiary_hospital": 3.0, "township_hc": 2.0,
                                 "community_hc": 2.0}
"""Importance of a label by level (hospitals first, then health centers, then clinics at 1)."""
LABEL_LINE_CHARS = 22
"""What a site receives is broken into lines of about this many characters, so labels stay narrow."""
CO_LOCATED_SHARE = 0.02
"""Sites closer than this share of the map's larger side are one place (e.g. a seat town's hospitals)."""


def column_or_zero(sites: gpd.GeoDataFrame, column: str) -> np.ndarray:
    """A count column as floats, zeros where the layer lacks it."""
    if column not in sites.columns:
        return np.zeros(len(sites))
    return np.nan_to_num(numbers(sites, column, layer_name="facilities"))


def flag(sites: gpd.GeoDataFrame, column: str) -> np.ndarray:
    """A boolean column, False where empty."""
    return sites[column].fillna(False).astype(bool).to_numpy()


def sites_after(sites: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """The sites as the plan leaves them: opened candidates become existing, additions are counted in."""
    after = sites.copy()
    after["kind"] = np.where((sites["kind"] == "candidate").to_numpy() & flag(sites, "opened"), "existing",
                             sites["kind"].to_numpy())
    after["gps"] = column_or_zero(sites, "gps") + column_or_zero(sites, "added_gps")
    after["village_doctors"] = column_or_zero(sites, "village_doctors") + column_or_zero(sites,
                                                                                          "added_village_doctors")
    for kind in EQUIPMENT:
        after[kind] = column_or_zero(sites, kind) + column_or_zero(sites, f"added_{kind}")
    for center in CENTERS:
        after[center_column(center)] = flag(sites, center_column(center)) | flag(sites, f"new_{center_column(center)}")
    return after


def service_providers(sites: gpd.GeoDataFrame, service: str, *, provider: str) -> tuple[np.ndarray, np.ndarray]:
    """Which sites provide `service` before the plan, and which only after it."""
    before_frame = sites.assign(gps=column_or_zero(sites, "gps"),
                                village_doctors=column_or_zero(sites, "village_doctors"),
                                **{k: column_or_zero(sites, k) for k in EQUIPMENT},
                                **{center_column(c): flag(sites, center_column(c)) for c in CENTERS})
    before = providers(before_frame, service, provider=provider)
    after = providers(sites_after(sites), service, provider=provider)
    return before, after & ~before


def draw_providers(ax: Axes, sites: gpd.GeoDataFrame, chosen: np.ndarray, *, new: bool) -> None:
    """Mark service sites: today's white, ringed black (seen on every class colour), those the plan adds gold."""
    subset = sites.loc[chosen]
    if subset.empty:
        return
    style: dict[str, Any] = ({"s": 46.0, "c": NEW_PROVIDER_FACE, "edgecolors": "black", "linewidths": 0.8,
                              "marker": "o"} if new else
                             {"s": 16.0, "c": "white", "edgecolors": "black", "linewidths": 0.8, "marker": "o"})
    ax.scatter(subset.geometry.x, subset.geometry.y, zorder=4, **style)


def provider_handles(tr: Translator, *, any_new: bool) -> list[Line2D | Patch]:
    handles: list[Line2D | Patch] = [Line2D([], [], marker="o", linestyle="", color="white", markeredgecolor="black",
                                            markersize=4.5, label=tr("maps.legend.provider_today"))]
    if any_new:
        handles.append(Line2D([], [], marker="o", linestyle="", color=NEW_PROVIDER_FACE, markeredgecolor="black",
                              markersize=7.0, label=tr("maps.legend.provider_added")))
    return handles


def draw_sites(ax: Axes, sites: gpd.GeoDataFrame, tr: Translator) -> list[Line2D | Patch]:
    """Markers by level: existing sites dark (village clinics without a doctor hollow), opened candidates green,
    candidates not opened small and hollow."""
    candidate = (sites["kind"] == "candidate").to_numpy()
    opened = flag(sites, "opened")
    staffed = column_or_zero(sites, "gps") + column_or_zero(sites, "village_doctors") > 0
    unstaffed_clinic = ~candidate & (sites["level"] == "village_clinic").to_numpy() & ~staffed
    if "village_doctors" not in sites.columns:
        unstaffed_clinic[:] = False
    groups: tuple[tuple[np.ndarray, dict[str, Any]], ...] = (
        (~candidate & ~unstaffed_clinic, {"c": EXISTING_FACE}),
        (unstaffed_clinic, {"facecolors": "white", "edgecolors": EXISTING_FACE}),
        (candidate & opened, {"c": OPENED_FACE}),
        (candidate & ~opened, {"facecolors": "none", "edgecolors": "#b0b0b0"}),
    )
    handles: list[Line2D | Patch] = []
    for level in (*LEVELS, *sorted(set(sites["level"]) - set(LEVELS))):
        marker, size = LEVEL_MARKERS.get(level, ("o", 16.0))
        at_level = (sites["level"] == level).to_numpy()
        if not at_level.any():
            continue
        for chosen, style in groups:
            subset = sites.loc[at_level & chosen]
            if not subset.empty:
                ax.scatter(subset.geometry.x, subset.geometry.y, marker=marker, s=size, linewidths=0.7,
                           zorder=3, **style)
        handles.append(Line2D([], [], marker=marker, linestyle="", color=EXISTING_FACE,
                              markersize=math.sqrt(size), label=tr.term("common.level", str(level))))
    extra = (
        (unstaffed_clinic.any(), "white", EXISTING_FACE, "maps.legend.unstaffed_clinic"),
        ((candidate & opened).any(), OPENED_FACE, OPENED_FACE, "maps.legend.opened"),
        ((candidate & ~opened).any(), "none", "#b0b0b0", "maps.legend.not_opened"),
    )
    handles += [Line2D([], [], marker="o", linestyle="", markerfacecolor=face, markeredgecolor=edge, markersize=4.5,
                       label=tr(key)) for present, face, edge, key in extra if present]
    return handles


def additions(sites: gpd.GeoDataFrame) -> dict[str, np.ndarray]:
    """Per site: added GPs, village doctors, equipment units (all kinds), whether a center is newly designated."""
    return {
        "gps": column_or_zero(sites, "added_gps"),
        "village_doctors": column_or_zero(sites, "added_village_doctors"),
        "equipment": sum((column_or_zero(sites, f"added_{kind}") for kind in EQUIPMENT), start=np.zeros(len(sites))),
        "centers": np.any([flag(sites, f"new_{center_column(c)}") for c in CENTERS], axis=0),
    }


_RINGS: tuple[tuple[str, str, float, str, str], ...] = (
    ("village_doctors", "o", 70.0, VILLAGE_DOCTOR_RING_COLOUR, "maps.legend.new_village_doctors"),
    ("gps", "o", 130.0, GP_RING_COLOUR, "maps.legend.new_gps"),
    ("equipment", "s", 230.0, EQUIPMENT_RING_COLOUR, "maps.legend.new_equipment"),
    ("centers", "*", 330.0, CENTER_RING_COLOUR, "maps.legend.new_center"),
)
"""What the plan adds, as rings: addition, marker, area (points²), colour, legend key."""


def draw_additions(ax: Axes, sites: gpd.GeoDataFrame, tr: Translator) -> list[Line2D | Patch]:
    """Rings around sites that receive village doctors or GPs (circles), equipment (square) or a center (star)."""
    added = additions(sites)
    handles: list[Line2D | Patch] = []
    for key, marker, size, colour, text in _RINGS:
        chosen = np.asarray(added[key]) > 0
        if not chosen.any():
            continue
        subset = sites.loc[chosen]
        ax.scatter(subset.geometry.x, subset.geometry.y, marker=marker, s=size, facecolors="none",
                   edgecolors=colour, linewidths=1.3, zorder=4)
        handles.append(Line2D([], [], marker=marker, linestyle="", markerfacecolor="none",
                              markeredgecolor=colour, markeredgewidth=1.3, markersize=math.sqrt(size) * 0.6,
                              label=tr(text)))
    return handles


def addition_texts(sites: gpd.GeoDataFrame, tr: Translator, *, line_chars: int | None = None) -> list[str]:
    """What each site receives, e.g. "+2 GP · +1 CT · chest pain/stroke center" ("全科+2 · CT+1 · 胸痛/卒中中心"),
    broken into lines of about `line_chars` characters when given."""
    counts = [("gp", column_or_zero(sites, "added_gps")),
              ("village_doctor", column_or_zero(sites, "added_village_doctors")),
              *((kind, column_or_zero(sites, f"added_{kind}")) for kind in EQUIPMENT)]
    centers = [(c, flag(sites, f"new_{center_column(c)}")) for c in CENTERS]
    texts = []
    for i in range(len(sites)):
        parts = [tr("maps.addition.count", what=tr.term("maps.short", kind), count=f"{values[i]:g}")
                 for kind, values in counts if values[i] > 0]
        named = [tr.term("maps.short", center) for center, chosen in centers if chosen[i]]
        if named:
            parts.append(tr("maps.addition.centers", names="/".join(named)))
        texts.append(_wrapped(parts, line_chars) if line_chars else " · ".join(parts))
    return texts


def _wrapped(parts: list[str], line_chars: int) -> str:
    """`parts` joined by " · ", a new line started wherever a line would grow past `line_chars` characters."""
    lines: list[str] = []
    for part in parts:
        if lines and len(lines[-1]) + 3 + len(part) <= line_chars:
            lines[-1] += " · " + part
        else:
            lines.append(part)
    return "\n".join(lines)


def referral_bundles(links: gpd.GeoDataFrame, townships: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """One line per township and lead-hospital town instead of one per site, with `sites`, the number of links it
    stands for. Lines are read by their ends (first point: the referring site, last point: the hospital); a bundle
    starts at its busiest site (largest `load_visits`, when the layer has it; else the site nearest the middle of
    the township's referring sites) and ends at the hospital of its first link. Hospitals at one place
    (CO_LOCATED_SHARE of the map) count as one town, so a county seat's hospitals draw one line per township."""
    lines = _lines(links)
    starts = np.array([line.coords[0][:2] for line in lines])
    ends = np.array([line.coords[-1][:2] for line in lines])
    reach = CO_LOCATED_SHARE * max(float(np.ptp(np.vstack([starts, ends]), axis=0).max()), 1.0)
    points = gpd.GeoDataFrame(geometry=gpd.points_from_xy(starts[:, 0], starts[:, 1]), crs=links.crs)
    within = gpd.sjoin(points, townships[["geometry"]], how="left", predicate="within")
    township = within[~within.index.duplicated()]["index_right"].fillna(-1).to_numpy()
    load = (column_or_zero(links, "load_visits") if "load_visits" in links.columns else None)
    groups: dict[tuple[Any, ...], list[int]] = {}
    for i in range(len(lines)):
        groups.setdefault((township[i], *np.round(ends[i] / reach).astype(int)), []).append(i)
    rows = []
    for members in groups.values():
        chosen = starts[members]
        spread = ((chosen - chosen.mean(axis=0)) ** 2).sum(axis=1)
        first = members[int(np.argmax(load[members])) if load is not None else int(np.argmin(spread))]
        rows.append({"sites": len(members), "geometry": shapely.LineString([starts[first], ends[members[0]]])})
    return gpd.GeoDataFrame(rows, geometry="geometry", crs=links.crs)


def _lines(links: gpd.GeoDataFrame) -> list[shapely.LineString]:
    """Each link as one line (the first part of a multi-line)."""
    return [getattr(line, "geoms", [line])[0] for line in links.geometry]


@dataclass(frozen=True)
class _Place:
    members: list[int]
    x: float
    y: float


def site_labels(sites: gpd.GeoDataFrame, tr: Translator) -> list[Label]:
    """Labels of hospitals and of every site the plan opens or adds to, sites at one place (closer than
    CO_LOCATED_SHARE of the map) merged into one label; importance by level, then by what the site receives."""
    texts = addition_texts(sites, tr, line_chars=LABEL_LINE_CHARS)
    opened = (sites["kind"] == "candidate").to_numpy() & flag(sites, "opened")
    hospital = sites["level"].isin(HOSPITAL_LEVELS).to_numpy()
    wanted = [i for i in range(len(sites)) if texts[i] or opened[i] or hospital[i]]
    tier = np.array([LABEL_TIERS.get(str(level), 1.0) for level in sites["level"]])
    cost = column_or_zero(sites, "cost_yuan") if "cost_yuan" in sites.columns else np.zeros(len(sites))
    wanted.sort(key=lambda i: (-tier[i], -cost[i], str(sites["id"].iloc[i])))
    labels = []
    for place in _places(sites, wanted, tier):
        first = place.members[0]
        name = str(sites["name"].iloc[first])
        if len(place.members) > 1:
            name = tr("maps.label.group", name=name, count=len(place.members))
        lines = [name]
        lines += [tr("maps.label.opened")] if any(opened[i] for i in place.members) else []
        lines += [t for t in (texts[i] for i in place.members) if t]
        priority = tier[first] * 1e12 + float(sum(cost[i] for i in place.members))
        size = LEVEL_MARKERS.get(str(sites["level"].iloc[first]), ("o", 16.0))[1]
        radius = math.sqrt(max(size, 130.0 if any(texts[i] for i in place.members) else size)) / 2.0
        labels.append(Label("\n".join(lines), place.x, place.y, priority=priority,
                            fontsize=7.0 if hospital[first] else 6.5, marker_radius_pt=radius))
    return labels


def _places(sites: gpd.GeoDataFrame, ordered: list[int], tier: np.ndarray) -> list[_Place]:
    """Group `ordered` sites of one tier that lie at one place; each group keeps the order of its first member."""
    xmin, ymin, xmax, ymax = sites.total_bounds
    reach = CO_LOCATED_SHARE * max(xmax - xmin, ymax - ymin, 1.0)
    xs, ys = sites.geometry.x.to_numpy(), sites.geometry.y.to_numpy()
    places: list[_Place] = []
    for i in ordered:
        home = next((p for p in places if tier[p.members[0]] == tier[i]
                     and math.hypot(xs[i] - p.x, ys[i] - p.y) <= reach), None)
        if home is None:
            places.append(_Place([i], float(xs[i]), float(ys[i])))
        else:
            home.members.append(i)
    return places
