"""Map labels: never two overlapping label boxes, even on the crowded 60-township generated region; the most
important labels win; what does not fit is counted on the map."""

from __future__ import annotations

import io
import itertools

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.text import Text

from allocopt import map_sites, maps
from allocopt.generate import generate_region
from allocopt.i18n import translator
from allocopt.map_labels import LABEL_GID, Label, place_labels
from allocopt.services import CENTERS, EQUIPMENT, SERVICES, center_column


@pytest.fixture(scope="module")
def crowded() -> dict[str, gpd.GeoDataFrame]:
    """The generated 60-township region with a plan that adds something almost everywhere (more crowded than
    any optimized plan): GPs at every township health center, a village doctor at every clinic without one, a cath
    lab and all centers at every people's hospital, equipment at every third health center, half the candidates
    opened with a village doctor each."""
    region = generate_region(townships=60, villages=1200, seed=3, name="crowded").layers()
    existing = region["facilities"].assign(kind="existing", opened=True)
    candidates = region["candidates"].assign(kind="candidate", opened=[i % 2 == 0 for i in range(
        len(region["candidates"]))])
    sites = gpd.GeoDataFrame(pd.concat([existing, candidates], ignore_index=True), crs=existing.crs)
    for column in ("gps", "village_doctors", *EQUIPMENT, *(center_column(c) for c in CENTERS)):
        sites[column] = sites[column].fillna(0)
    health_center = (sites["level"] == "township_hc").to_numpy()
    order = np.cumsum(health_center)
    people = (sites["hospital_kind"] == "general").to_numpy()
    unstaffed = (sites["level"] == "village_clinic").to_numpy() & (sites["village_doctors"] == 0).to_numpy()
    sites["added_gps"] = np.where(health_center, 1 + order % 5, 0)
    sites["added_village_doctors"] = (unstaffed | (sites["kind"] == "candidate") & sites["opened"]).astype(int)
    for kind in EQUIPMENT:
        sites[f"added_{kind}"] = 0
    sites["added_dr"] = (health_center & (order % 3 == 0)).astype(int)
    sites["added_cath_lab"] = people.astype(int)
    for center in CENTERS:
        sites[f"new_{center_column(center)}"] = people
    sites["cost_yuan"] = sites["added_gps"] * 200_000.0 + sites["added_cath_lab"] * 10_000_000.0
    townships = region["townships"].copy()
    rng = np.random.default_rng(0)
    for service in SERVICES:
        before = rng.uniform(2.0, 150.0, len(townships))
        townships[f"{service}_minutes_before"] = before
        townships[f"{service}_minutes_after"] = before * rng.uniform(0.3, 1.0, len(townships))
    return {"townships": townships, "facilities": sites}


def _label_boxes(fig: Figure) -> np.ndarray:
    """Window extents (left, bottom, right, top) of the placed label texts, after a full draw."""
    canvas = FigureCanvasAgg(fig)
    fig.savefig(io.BytesIO(), format="png", dpi=fig.dpi)
    renderer = canvas.get_renderer()
    texts = [t for t in fig.findobj(Text) if t.get_gid() == LABEL_GID]
    return np.array([Text.get_window_extent(t, renderer).extents for t in texts]).reshape(-1, 4)


def _overlapping_pairs(boxes: np.ndarray) -> list[tuple[int, int]]:
    return [(i, j) for i, j in itertools.combinations(range(len(boxes)), 2)
            if boxes[i, 0] < boxes[j, 2] and boxes[j, 0] < boxes[i, 2]
            and boxes[i, 1] < boxes[j, 3] and boxes[j, 1] < boxes[i, 3]]


@pytest.mark.parametrize("language", ["zh", "en"])
def test_no_two_labels_overlap_on_the_crowded_region(crowded, language):
    tr = translator(language)
    figures = {
        "facilities": maps.facilities_map(crowded["facilities"], townships=crowded["townships"], region="crowded",
                                          scenario="s", tr=tr),
        "before/after": maps.before_after_map(crowded["townships"], "stroke", region="crowded", scenario="s",
                                              threshold_minutes=60.0, facilities=crowded["facilities"], tr=tr),
        "access": maps.access_map(crowded["townships"].rename(columns={"dr_minutes_before": "dr_minutes"}),
                                  region="crowded", scenario="s", services=["dr"], tr=tr),
    }
    for name, fig in figures.items():
        boxes = _label_boxes(fig)
        assert len(boxes) >= 40, f"{name}: only {len(boxes)} labels drawn"
        assert _overlapping_pairs(boxes) == [], f"{name}: labels overlap"


def test_hospitals_at_one_place_share_a_label_and_left_out_sites_are_counted(crowded):
    tr = translator("zh")
    fig = maps.facilities_map(crowded["facilities"], townships=crowded["townships"], region="crowded",
                              scenario="s", tr=tr)
    labels = [t.get_text() for t in fig.findobj(Text) if t.get_gid() == LABEL_GID]
    seats = int((crowded["facilities"]["hospital_kind"] == "general").sum())  # one people's hospital per seat
    grouped = [text for text in labels if "等3家" in text]
    assert len(grouped) == seats  # three hospitals in each county seat: one label each, never three
    assert all("DSA+1" in text and "胸痛/卒中/创伤中心" in text for text in grouped)
    places = map_sites.site_labels(crowded["facilities"], tr)  # every site with an addition, merged by place
    township_names = set(crowded["townships"]["name"])
    site_labels = [text for text in labels if text not in township_names]
    assert set(site_labels) <= {label.text for label in places}
    note = fig.get_supxlabel()
    omitted = len(places) - len(site_labels)
    assert omitted > 0 and note == tr("maps.facilities.omitted", count=omitted)


def _axes(width_in: float = 3.0) -> tuple[Figure, Axes]:
    fig = Figure(figsize=(width_in, width_in), dpi=100)
    ax = fig.add_axes((0.0, 0.0, 1.0, 1.0))
    ax.set_xlim(0, 100)
    ax.set_ylim(0, 100)
    return fig, ax


def test_the_most_important_label_takes_the_preferred_place_and_the_other_moves_aside():
    fig, ax = _axes()
    drawn, left_out = place_labels(ax, [Label("minor", 50, 50, priority=1.0), Label("major", 50, 50, priority=2.0)])
    assert left_out == [] and [t.get_text() for t in drawn] == ["major", "minor"]
    assert (drawn[0].get_ha(), drawn[0].get_va()) == ("left", "bottom")  # upper right of the point
    assert (drawn[1].get_ha(), drawn[1].get_va()) != ("left", "bottom")
    assert _overlapping_pairs(_label_boxes(fig)) == []


def test_a_label_with_no_free_place_is_left_out():
    _, ax = _axes(width_in=1.0)
    wide = Label("a label far wider than the whole map", 50, 50, priority=1.0)
    drawn, left_out = place_labels(ax, [Label("x", 50, 50, priority=2.0), wide])
    assert [t.get_text() for t in drawn] == ["x"] and left_out == [wide]


def test_labels_keep_clear_of_the_north_arrow():
    fig, ax = _axes()
    ax.annotate("", xy=(0.5, 0.6), xycoords="axes fraction", xytext=(0.5, 0.4), textcoords="axes fraction",
                arrowprops={"arrowstyle": "-|>"})
    renderer = FigureCanvasAgg(fig).get_renderer()
    arrow = ax.texts[0].get_window_extent(renderer).extents
    (label,), _ = place_labels(ax, [Label("a label", 50, 50, priority=1.0, fixed=True)])
    box = Text.get_window_extent(label, renderer).extents
    assert box[2] <= arrow[0] or box[0] >= arrow[2] or box[3] <= arrow[1] or box[1] >= arrow[3]
