"""Maps, charts and the CJK font: colour scales, decorations, CRS handling, Chinese glyphs, PNG output."""

from __future__ import annotations

import importlib.util
import io
import re
import warnings
from pathlib import Path

import geopandas as gpd
import matplotlib
import numpy as np
import pytest
from matplotlib import font_manager
from matplotlib.collections import LineCollection
from matplotlib.figure import Figure
from mpl_toolkits.axes_grid1.anchored_artists import AnchoredSizeBar
from PIL import Image
from shapely.geometry import LineString, box

import result_fixture as fx
from allocopt import fonts, map_frame, map_sites, maps
from allocopt.errors import AllocoptError, DataError, FontMissingError
from allocopt.i18n import translator
from allocopt.services import service_label

CHINESE = "县人民医院 城关镇卫生院 石桥乡"


@pytest.fixture(scope="module")
def layers() -> dict[str, gpd.GeoDataFrame]:
    return fx.layers(fx.township_table(), referrals=True)


def _glyph_warnings(family: list[str] | str, text: str) -> list[str]:
    """Render `text` in `family` and return matplotlib's missing-glyph warnings."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fig = Figure(figsize=(3, 1))
        fig.text(0.05, 0.5, text, family=family)
        fig.savefig(io.BytesIO(), format="png")
    return [str(w.message) for w in caught if "missing from font" in str(w.message)]


def _map_axes(fig: Figure) -> list:
    """Visible map panels (colour-bar axes have no title)."""
    return [ax for ax in fig.axes if ax.get_visible() and ax.get_title()]


def _scale_bar_labels(ax) -> list[str]:
    return [a.txt_label.get_text() for a in ax.artists if isinstance(a, AnchoredSizeBar)]


def _texts(fig: Figure) -> list[str]:
    return [t.get_text() for t in fig.findobj(matplotlib.text.Text)]


def test_cjk_font_renders_chinese_where_dejavu_cannot():
    assert _glyph_warnings(fonts.font_families(), CHINESE) == []
    missing = {int(re.match(r"Glyph (\d+)", m).group(1)) for m in _glyph_warnings("DejaVu Sans", CHINESE)}
    assert missing == {ord(ch) for ch in CHINESE if ch != " "}


def test_cjk_font_family_resolves_to_the_packaged_file_without_fallback():
    family = fonts.cjk_font_family()
    found = font_manager.findfont(font_manager.FontProperties(family=family), fallback_to_default=False)
    assert Path(found) == fonts.cjk_font_path()
    assert "DejaVu" not in family


def test_missing_font_package_says_what_to_install(monkeypatch):
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    with pytest.raises(FontMissingError, match="pip install mplfonts") as raised:
        fonts.cjk_font_path()
    assert isinstance(raised.value, AllocoptError) and raised.value.exit_code == 1


def _class_colours(classes: list[int]) -> np.ndarray:
    return np.array([matplotlib.colors.to_rgba(map_frame.CLASS_COLOURS[c]) for c in classes])


def test_before_after_map_shares_one_colour_scale_in_classes_of_the_standard(layers):
    fig = maps.before_after_map(layers["townships"], "primary_care", region="r", scenario="s",
                                threshold_minutes=15.0)
    before, after = _map_axes(fig)
    # standard 15 min: classes start at 0, 7.5, 15, 22.5, 30, 45 minutes; before 8, 22, 14, 35; after 8, 12, 14, 9
    assert np.allclose(before.collections[0].get_facecolor(), _class_colours([1, 2, 1, 4]))
    assert np.allclose(after.collections[0].get_facecolor(), _class_colours([1, 1, 1, 1]))
    assert [before.get_title(), after.get_title()] == ["Before the plan", "After the plan"]
    legend = [t.get_text() for t in fig.legends[0].get_texts()]
    assert legend[:3] == ["0–7.5 min", "7.5–15 min", "15–22.5 min"] and legend[5] == "over 45 min"


def test_unreachable_townships_are_hatched(layers):
    fig = maps.before_after_map(layers["townships"], "cath_lab", region="r", scenario="s", threshold_minutes=90.0)
    before, after = _map_axes(fig)
    assert len(before.collections) == 1
    assert before.collections[0].get_hatch() == "///"
    assert len(before.collections[0].get_paths()) == 4
    assert np.allclose(after.collections[0].get_facecolor(), _class_colours([0, 0, 0, 1]))  # 5, 18, 20, 75 of 90


def test_before_after_map_marks_the_sites_providing_the_service(layers):
    fig = maps.before_after_map(layers["townships"], "dr", region="r", scenario="s", threshold_minutes=30.0,
                                facilities=layers["facilities"])
    before, after = _map_axes(fig)

    def marked(ax, face: str) -> set[tuple[float, float]]:
        return {tuple(xy) for c in ax.collections if len(c.get_offsets()) and c.get_facecolor().size
                and np.allclose(c.get_facecolor()[0], matplotlib.colors.to_rgba(face)) for xy in c.get_offsets()}

    def at(*ids: str) -> set[tuple[float, float]]:
        sites = layers["facilities"].set_index("id")
        return {(sites.geometry[i].x, sites.geometry[i].y) for i in ids}

    # DR today at H1, THC1, THC3; the plan adds one at THC2
    assert marked(before, "white") == marked(after, "white") == at("H1", "THC1", "THC3")
    assert marked(before, map_sites.NEW_PROVIDER_FACE) == set()
    assert marked(after, map_sites.NEW_PROVIDER_FACE) == at("THC2")


def test_maps_speak_the_chosen_language(layers):
    zh = translator("zh")
    fig = maps.before_after_map(layers["townships"], "stroke", region="r", scenario="s", threshold_minutes=60.0,
                                tr=zh)
    texts = _texts(fig)
    assert "规划前" in texts and "规划后" in texts and "北" in texts
    assert any("卒中中心" in t for t in texts)
    assert "0–30分钟" in [t.get_text() for t in fig.legends[0].get_texts()]
    fig = maps.facilities_map(layers["facilities"], townships=layers["townships"], referrals=layers["referrals"],
                              region="r", scenario="s", tr=zh)
    shown = [fig.texts, *(ax.texts for ax in fig.axes), *(legend.get_texts() for legend in fig.legends)]
    texts = "\n".join([*(t.get_text() for group in shown for t in group), *(ax.get_title() for ax in fig.axes)])
    assert "城关镇卫生院\n全科+2" in texts and "新增全科医生" in texts and "县级医院" in texts
    assert not re.search(r"[A-Za-z]{3,}", texts.replace("DSA", "")), "an English word on a Chinese map"


def test_every_map_has_title_legend_scale_bar_and_north_arrow(layers):
    figures = [
        maps.before_after_map(layers["townships"], "dr", region="valley-county", scenario=fx.SCENARIO),
        maps.facilities_map(layers["facilities"], townships=layers["townships"], referrals=layers["referrals"],
                            region="valley-county", scenario=fx.SCENARIO),
        maps.access_map(layers["townships"].rename(columns={"dr_minutes_before": "dr_minutes"}),
                        region="valley-county", scenario=fx.SCENARIO),
    ]
    for fig in figures:
        titles = [t for t in _texts(fig) if "valley-county" in t]
        assert titles and fx.SCENARIO in titles[0]
        assert fig.legends or any(ax.get_legend() for ax in fig.axes)
        for ax in _map_axes(fig):
            # 10 km across plus margins: the bar is the largest 1-2-5 length within a fifth of that
            assert _scale_bar_labels(ax) == ["2 km"]
            assert "N" in [t.get_text() for t in ax.texts]


def test_layers_in_degrees_are_projected_so_the_scale_bar_stays_in_metres(layers):
    in_degrees = {k: v.to_crs("EPSG:4326") for k, v in layers.items()}
    fig = maps.facilities_map(in_degrees["facilities"], townships=in_degrees["townships"], region="r", scenario="s")
    (ax,) = _map_axes(fig)
    assert _scale_bar_labels(ax) == ["2 km"]


def test_layer_without_crs_or_columns_is_a_data_error(layers):
    no_crs = layers["townships"].set_crs(None, allow_override=True)
    with pytest.raises(DataError, match="townships: the layer has no CRS"):
        maps.before_after_map(no_crs, "dr", region="r", scenario="s")
    with pytest.raises(DataError, match="stroke_minutes_before"):
        maps.before_after_map(layers["townships"].drop(columns=["stroke_minutes_before"]), "stroke",
                              region="r", scenario="s")
    with pytest.raises(DataError, match="new_trauma_center"):
        maps.facilities_map(layers["facilities"].drop(columns=["new_trauma_center"]),
                            townships=layers["townships"], region="r", scenario="s")


def test_facilities_map_marks_additions_names_sites_and_draws_referrals(layers):
    fig = maps.facilities_map(layers["facilities"], townships=layers["townships"], referrals=layers["referrals"],
                              region="r", scenario="s")
    (ax,) = _map_axes(fig)
    colours = (map_sites.GP_RING_COLOUR, map_sites.CENTER_RING_COLOUR)
    rings = {
        colour: len(c.get_offsets()) for c in ax.collections for colour in colours
        if np.allclose(c.get_edgecolor()[:1], matplotlib.colors.to_rgba(colour)) and c.get_facecolor().size == 0
    }
    # GPs at THC1, THC2, C1; chest pain at H1
    assert rings == {map_sites.GP_RING_COLOUR: 3, map_sites.CENTER_RING_COLOUR: 1}
    labels = "\n".join(t.get_text() for t in ax.texts)
    for expected in ("县人民医院\n+1 cath lab\nchest pain center", "城关镇卫生院\n+2 GP",
                     "白河乡卫生院\n+1 GP · +1 DR", "石桥乡新卫生院\nnew site\n+2 GP"):
        assert expected in labels
    assert "白河乡南站点" not in labels  # a candidate the plan does not open stays unnamed
    lines = [c for c in ax.collections if isinstance(c, LineCollection)]
    assert sum(len(c.get_paths()) for c in lines) == len(fx.REFERRALS)


def test_facilities_map_draws_into_a_given_axes(layers):
    fig = Figure()
    ax = fig.subplots()
    assert maps.facilities_map(layers["facilities"], townships=layers["townships"], region="r", scenario="s",
                               ax=ax) is fig


def test_access_map_has_one_panel_per_service_column(layers):
    today = layers["townships"].rename(columns={f"{s}_minutes_before": f"{s}_minutes" for s in maps.SERVICES})
    fig = maps.access_map(today, region="r", scenario="s", thresholds_minutes=fx.THRESHOLDS_MINUTES)
    assert [ax.get_title() for ax in _map_axes(fig)] == [
        f"{service_label(s)}\n(standard {fx.THRESHOLDS_MINUTES[s]:g} min)" for s in maps.SERVICES]
    assert {"城关镇", "白河乡", "青山镇", "石桥乡"} <= set(_texts(fig))  # township names on every panel
    # a travel-time matrix marks the unreachable with infinity: drawn hatched, the scale stays finite
    today["stroke_minutes"] = [5.0, np.inf, 20.0, 25.0]
    fig = maps.access_map(today, region="r", scenario="s", services=["stroke"])
    (ax,) = _map_axes(fig)
    assert ax.get_title() == "Stroke center"
    reachable, unreachable = ax.collections[:2]
    # no standard given: classes start at 0, 10, 20, 30, 60, 90 minutes
    assert np.allclose(reachable.get_facecolor(), _class_colours([0, 2, 2]))
    assert unreachable.get_hatch() == "///" and len(unreachable.get_paths()) == 1
    with pytest.raises(DataError, match="primary_care_minutes"):
        maps.access_map(layers["townships"], region="r", scenario="s")


def test_budget_gap_chart_rings_runs_not_proven_optimal():
    frontier = fx.frontier_table()
    fig = maps.budget_gap_chart(frontier, region="r", scenario="s", budget_yuan=15_000_000.0)
    (ax,) = fig.axes
    service_lines = [line for line in ax.lines if line.get_label() in set(map(service_label, maps.SERVICES))]
    assert len(service_lines) == len(maps.SERVICES)
    assert np.allclose(service_lines[0].get_xdata(), [5, 10, 15, 20])
    rings = sum(len(c.get_offsets()) for c in ax.collections)
    assert rings == len(maps.SERVICES)  # one run of four stopped at a gap, ringed on every service's line
    assert any(np.allclose(line.get_xdata(), 15.0) for line in ax.lines if line.get_linestyle() == "--")
    with pytest.raises(DataError, match="_unserved"):
        maps.budget_gap_chart(frontier[["budget_yuan", "status"]], region="r", scenario="s")


def test_save_png_writes_a_300_dpi_png_with_chinese_labels_and_no_missing_glyph(layers, tmp_path):
    fig = maps.facilities_map(layers["facilities"], townships=layers["townships"], referrals=layers["referrals"],
                              region="valley-county", scenario=fx.SCENARIO)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        path = maps.save_png(fig, tmp_path / "facilities.png")
    assert not [w for w in caught if "missing from font" in str(w.message)]
    with Image.open(path) as image:
        image.verify()
    with Image.open(path) as image:
        assert image.format == "PNG"
        assert image.size == (round(fig.get_figwidth() * 300), round(fig.get_figheight() * 300))
        assert image.info["dpi"] == pytest.approx((300, 300), abs=0.01)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["facilities.png"]


def test_referral_links_are_drawn_one_line_per_township_and_hospital_town():
    townships = gpd.GeoDataFrame({"name": ["A", "B"]}, geometry=[box(0, 0, 5, 5), box(5, 0, 10, 5)],
                                 crs=fx.CRS)
    starts = [(1.0, 1.0), (2.0, 2.0), (1.5, 1.5), (1.2, 3.0), (7.0, 1.0)]
    ends = [(50.0, 50.0), (50.0, 50.0), (50.0, 50.0), (50.2, 50.0), (50.0, 50.0)]  # two hospitals in one town
    links = gpd.GeoDataFrame({"load_visits": [100.0, 900.0, 50.0, 10.0, 70.0]},
                             geometry=[LineString([s, e]) for s, e in zip(starts, ends, strict=True)], crs=fx.CRS)
    bundles = map_sites.referral_bundles(links, townships)
    assert sorted(bundles["sites"]) == [1, 4]
    by_sites = {row.sites: list(row.geometry.coords) for row in bundles.itertuples()}
    assert by_sites[4] == [(2.0, 2.0), (50.0, 50.0)]  # from A's busiest site
    assert by_sites[1] == [(7.0, 1.0), (50.0, 50.0)]
