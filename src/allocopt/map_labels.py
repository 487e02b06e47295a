"""Map labels that never overlap: greedy placement by importance around each point, with leader lines.

Labels are placed most important first. A movable label tries eight positions around its point (the cartographic
"eight-position" model, upper right preferred) at growing distances, joined to the point by a thin leader line
once it leaves the first ring; a fixed label (a township name) stays on its point or moves by a little of its
size. A position is taken only if its box (with a small margin) lies inside the figure and clears every label
already placed, the markers of labelled points, the scale bar and north arrow, titles, legends and other panels
(labels may run into the white space beside a map). A label with no free position is left out, so on a crowded
map the minor labels give way; the caller says how many were left out.

Boxes are measured in display pixels after the figure's layout is settled; the layout is then frozen (the figure's
layout engine is switched off), so the boxes drawn are the boxes checked, at any output resolution.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from matplotlib.axes import Axes
from matplotlib.backend_bases import RendererBase
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.layout_engine import PlaceHolderLayoutEngine
from matplotlib.text import Annotation, Text

from allocopt.map_frame import HALO

LABEL_GID = "allocopt-map-label"
"""gid of every label text placed here (tests find the labels by it)."""

_DIRECTIONS: tuple[tuple[float, float, str, str], ...] = (
    (1.0, 1.0, "left", "bottom"), (1.0, 0.0, "left", "center"), (1.0, -1.0, "left", "top"),
    (-1.0, 1.0, "right", "bottom"), (-1.0, 0.0, "right", "center"), (-1.0, -1.0, "right", "top"),
    (0.0, 1.0, "center", "bottom"), (0.0, -1.0, "center", "top"),
)
"""Offset (in marker radii plus gap: a diagonal label clears the marker's square box), horizontal and vertical
alignment of the eight positions, in order of preference."""
_RINGS_PT: tuple[float, ...] = (2.0, 12.0, 24.0, 38.0)
"""Gap between a marker's edge and its label on each ring; labels beyond the first get a leader line."""
_FIXED_SHIFTS: tuple[tuple[float, float], ...] = (
    (0.0, 0.0), (0.0, 1.0), (0.0, -1.0), (0.6, 0.0), (-0.6, 0.0), (0.0, 2.0), (0.0, -2.0), (0.0, 3.0), (0.0, -3.0),
    (1.1, 0.0), (-1.1, 0.0), (1.1, 1.5), (-1.1, 1.5), (1.1, -1.5), (-1.1, -1.5),
)
"""Shifts (in label widths, label heights) a fixed label may take off its point."""
_MARGIN_PT = 1.5
_LEADER_COLOUR = "#6b6b6b"


@dataclass(frozen=True)
class Label:
    """A text to place at a point (data coordinates) with its importance (higher is placed first)."""

    text: str
    x: float
    y: float
    priority: float
    fontsize: float = 6.5
    colour: str = "black"
    marker_radius_pt: float = 3.0
    """Radius of the marker at the point, kept clear of every label."""
    fixed: bool = False
    """Centred on the point (or shifted by a little of its size), never given a leader line."""


@dataclass(frozen=True)
class _Candidate:
    box: np.ndarray
    """Left, bottom, right, top in display pixels, with the margin."""
    offset_pt: tuple[float, float]
    ha: str
    va: str
    leader: bool


def place_labels(ax: Axes, labels: Sequence[Label], *, zorder: float = 6.0,
                 obstacles: Sequence[tuple[float, float]] = (), obstacle_radius_pt: float = 3.0,
                 ) -> tuple[list[Text], list[Label]]:
    """Draw the labels that fit, most important first; return the texts drawn and the labels left out.

    `obstacles` are further points (data coordinates, e.g. unlabelled markers) that labels keep clear of.
    """
    fig = _settled_figure(ax)
    canvas = fig.canvas if isinstance(fig.canvas, FigureCanvasAgg) else FigureCanvasAgg(fig)
    renderer = canvas.get_renderer()
    px_per_pt = fig.dpi / 72.0
    anchors = ax.transData.transform(np.array([[lab.x, lab.y] for lab in labels], dtype=float).reshape(-1, 2))
    markers = [_box_around(xy, lab.marker_radius_pt * px_per_pt)
               for xy, lab in zip(anchors, labels, strict=True) if lab.marker_radius_pt > 0]
    others = ax.transData.transform(np.asarray(obstacles, dtype=float).reshape(-1, 2))
    markers += [_box_around(xy, obstacle_radius_pt * px_per_pt) for xy in others]
    taken = np.array([*_occupied_boxes(ax, fig, renderer), *markers], dtype=float).reshape(-1, 4)
    inside = np.asarray(fig.bbox.extents)
    drawn: list[Text] = []
    left_out: list[Label] = []
    for i in sorted(range(len(labels)), key=lambda k: -labels[k].priority):
        label = labels[i]
        size = _text_size_px(ax, label, renderer)
        chosen = next((c for c in _candidates(label, anchors[i], size, px_per_pt)
                       if _fits(c.box, inside, taken)), None)
        if chosen is None:
            left_out.append(label)
            continue
        taken = np.vstack([taken, chosen.box])
        drawn.append(_draw(ax, label, chosen, zorder))
    return drawn, left_out


def _settled_figure(ax: Axes) -> Figure:
    """The axes' root figure with its layout computed and then frozen, so pixel boxes stay where they are."""
    fig = ax.get_figure(root=True)
    if not isinstance(fig, Figure):
        raise ValueError("ax must belong to a figure")
    if fig.get_layout_engine() is not None and not isinstance(fig.get_layout_engine(), PlaceHolderLayoutEngine):
        fig.draw_without_rendering()
        fig.set_layout_engine("none")
    return fig


def _box_around(xy: np.ndarray, radius_px: float) -> np.ndarray:
    return np.array([xy[0] - radius_px, xy[1] - radius_px, xy[0] + radius_px, xy[1] + radius_px])


def _occupied_boxes(ax: Axes, fig: Figure, renderer: RendererBase) -> list[np.ndarray]:
    """Boxes labels must not cover: the axes' texts, title and anchored artists (scale bar, north arrow), the
    figure's texts (titles, notes) and legends, and every other axes (other panels, colour bars) with the labels
    placed in it. Labels may otherwise run past their axes into the figure's white space."""
    artists: list[Any] = [*ax.texts, *ax.artists, ax.title, *fig.texts, *fig.legends]
    artists += [other for other in fig.axes if other is not ax]
    artists += [text for other in fig.axes if other is not ax for text in other.texts]
    return [np.asarray(a.get_window_extent(renderer).extents) for a in artists if a.get_visible() and not _blank(a)]


def _blank(artist: Any) -> bool:
    """A text without characters or arrow (an empty placeholder), which occupies nothing."""
    arrow = isinstance(artist, Annotation) and artist.arrow_patch is not None
    return isinstance(artist, Text) and not artist.get_text().strip() and not arrow


def _text_size_px(ax: Axes, label: Label, renderer: RendererBase) -> tuple[float, float]:
    probe = ax.text(0.0, 0.0, label.text, fontsize=label.fontsize, transform=None)
    extent = probe.get_window_extent(renderer)
    probe.remove()
    return extent.width, extent.height


def _candidates(label: Label, anchor: np.ndarray, size: tuple[float, float],
                px_per_pt: float) -> list[_Candidate]:
    """Positions to try, in order of preference (see the module docstring)."""
    width, height = size
    margin = _MARGIN_PT * px_per_pt
    if label.fixed:
        offsets = [((dx * width / px_per_pt, dy * height / px_per_pt), "center", "center") for dx, dy in _FIXED_SHIFTS]
        return [_candidate(anchor, offset, ha, va, width, height, margin, px_per_pt, leader=False)
                for offset, ha, va in offsets]
    found = []
    for ring, gap in enumerate(_RINGS_PT):
        distance = label.marker_radius_pt + gap
        for ux, uy, ha, va in _DIRECTIONS:
            found.append(_candidate(anchor, (ux * distance, uy * distance), ha, va, width, height, margin,
                                    px_per_pt, leader=ring > 0))
    return found


def _candidate(anchor: np.ndarray, offset_pt: tuple[float, float], ha: str, va: str, width: float,
               height: float, margin: float, px_per_pt: float, *, leader: bool) -> _Candidate:
    x = anchor[0] + offset_pt[0] * px_per_pt - {"left": 0.0, "center": width / 2, "right": width}[ha]
    y = anchor[1] + offset_pt[1] * px_per_pt - {"bottom": 0.0, "center": height / 2, "top": height}[va]
    box = np.array([x - margin, y - margin, x + width + margin, y + height + margin])
    return _Candidate(box=box, offset_pt=offset_pt, ha=ha, va=va, leader=leader)


def _fits(box: np.ndarray, inside: np.ndarray, taken: np.ndarray) -> bool:
    """Whether `box` lies within `inside` and overlaps none of the `taken` boxes."""
    if box[0] < inside[0] or box[1] < inside[1] or box[2] > inside[2] or box[3] > inside[3]:
        return False
    if not len(taken):
        return True
    overlap = ((taken[:, 0] < box[2]) & (box[0] < taken[:, 2]) & (taken[:, 1] < box[3]) & (box[1] < taken[:, 3]))
    return not bool(overlap.any())


def _draw(ax: Axes, label: Label, chosen: _Candidate, zorder: float) -> Text:
    arrow = ({"arrowstyle": "-", "color": _LEADER_COLOUR, "linewidth": 0.5, "shrinkA": 0.0,
              "shrinkB": label.marker_radius_pt} if chosen.leader else None)
    text = ax.annotate(label.text, (label.x, label.y), xytext=chosen.offset_pt, textcoords="offset points",
                       ha=chosen.ha, va=chosen.va, fontsize=label.fontsize, color=label.colour,
                       path_effects=HALO, zorder=zorder, arrowprops=arrow, annotation_clip=False)
    text.set_gid(LABEL_GID)
    return text
