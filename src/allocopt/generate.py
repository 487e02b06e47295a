"""Seeded synthetic regions: a mountainous county (or a city of several valleys) with villages, roads and facilities.

Geometry, names, roads and facilities are invented. Only the scale is calibrated on real figures (by default those
of 泸水市 Lushui, Yunnan), which each bundle lists in its region.toml `calibration` text.

The geometry (valley strips, township bands, villages, roads) is laid out by `allocopt._valley`; this module draws
populations, names, facilities, staff, equipment and candidate sites on it, and writes the bundle.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import shapely
from numpy.typing import NDArray

from allocopt._valley import (
    Frame,
    Layout,
    band_polygons,
    largest_remainder,
    make_bands,
    make_frame,
    place_villages_and_roads,
    seat_townships,
)
from allocopt.errors import DataError
from allocopt.export import REGION_KIND, atomic_output_dir, toml_text, write_geopackage, write_text
from allocopt.schema import LAYERS

CRS = "EPSG:32647"
"""UTM zone 47N: the metric CRS of generated regions (it covers western Yunnan)."""

CENTRE_LONLAT = (98.85, 25.85)
"""Where generated regions are placed: about the real Lushui county (synthetic geometry, real neighbourhood)."""

LUSHUI_POPULATION = 203_977
LUSHUI_65PLUS = 16_928
LUSHUI_URBAN_CORE = 73_750
LUSHUI_TOWNSHIPS = 10
LUSHUI_AREA_KM2 = 3_100.0

_CALIBRATION_SOURCES = (
    "Defaults are calibrated on 泸水市 (Lushui), Yunnan. "
    f"Resident population {LUSHUI_POPULATION:,}, residents aged 65+ {LUSHUI_65PLUS:,} (8.30%, sum of the 65+ "
    f"age bands) and urban-core (城区) population {LUSHUI_URBAN_CORE:,}: 2020 census, 《中国人口普查分县资料2020》, "
    "via github.com/leiii/census (MIT), row 533301 of census2020_targets.csv. "
    f"{LUSHUI_TOWNSHIPS} township-level units: NBS 统计用区划代码 2023 via "
    "github.com/modood/Administrative-divisions-of-China (MIT). "
    f"Area about {LUSHUI_AREA_KM2:,.0f} km² and the layout (a long north-south valley of the Nu river with one trunk "
    "road and steep branch roads up side valleys): approximate public geography, rounded. "
    "Everything else (township polygons, village locations and populations, roads, facilities, staff, equipment, "
    "candidate sites, all names) is synthetic."
)

_MAX_TOWNSHIP_HC_GPS = 4
_REMOTE_SHARE = 0.3  # share of townships, the farthest from the county seat, whose health center has no GP

_FIRST = "石岩河龙松白青金马黑新高上下大小东西南北红云平双三五茶竹桃麻"
_SECOND = "门脚口塘坪沙山水坝江河寨岭沟湾田桥坡箐洼树街场头林溪石地凹"
_REAL_NAMES = ("大练地", "六库", "鲁掌", "片马", "上江", "老窝", "大兴地", "称杆", "古登", "洛本卓")
"""Real Lushui township names: never given to synthetic townships or villages."""


@dataclass(frozen=True, eq=False)
class GeneratedRegion:
    """A generated region: its layers (GeoDataFrames in `crs`) and the contents of region.toml and scenario.toml."""

    name: str
    crs: pyproj.CRS
    meta: dict[str, Any]
    scenario: dict[str, Any]
    townships: gpd.GeoDataFrame
    demand: gpd.GeoDataFrame
    facilities: gpd.GeoDataFrame
    candidates: gpd.GeoDataFrame
    roads: gpd.GeoDataFrame
    ems_stations: gpd.GeoDataFrame

    def layers(self) -> dict[str, gpd.GeoDataFrame]:
        """The layers by name, in bundle order; `candidates` only when there are any."""
        layers = {"townships": self.townships, "demand": self.demand, "facilities": self.facilities,
                  "candidates": self.candidates, "roads": self.roads, "ems_stations": self.ems_stations}
        return {k: v for k, v in layers.items() if k != "candidates" or len(v) > 0}


def generate_region(
    *,
    townships: int,
    villages: int,
    seed: int,
    name: str = "valley-county",
    population: int | None = None,
    area_km2: float | None = None,
    candidates: int | None = None,
    share_65plus: float = LUSHUI_65PLUS / LUSHUI_POPULATION,
    urban_core_share: float = LUSHUI_URBAN_CORE / LUSHUI_POPULATION,
    gp_per_10k: float = 1.5,
    clinic_share: float = 0.5,
    budget_yuan: float | None = None,
) -> GeneratedRegion:
    """Generate a synthetic region, the same for the same arguments (one seeded numpy Generator drives it all).

    `townships` bands over valleys of about ten townships each, each valley a county; `villages` demand points
    whose integer populations sum exactly to `population` (default: Lushui's residents per township times
    `townships`; the region's seat holds `urban_core_share` of it); `area_km2` defaults to Lushui's area per
    township times `townships`; `candidates` new village-clinic sites (default: 0.8 per township, as far as
    villages without a clinic allow) in large villages far from staffed sites; `gp_per_10k` GPs per 10,000
    residents in all (exact after rounding); village clinics in `clinic_share` of the non-seat villages; the
    scenario budget `budget_yuan` defaults to 3 million yuan per township. 120 stations (`ems_stations`) are
    placed without random draws, so every other layer is the same as without them (`_ems_stations`).
    """
    scale = townships / LUSHUI_TOWNSHIPS
    population = round(LUSHUI_POPULATION * scale) if population is None else population
    area_km2 = LUSHUI_AREA_KM2 * scale if area_km2 is None else area_km2
    free_villages = _villages_without_clinic(villages, townships, clinic_share)
    args = {"townships": townships, "villages": villages, "seed": seed, "population": population,
            "area_km2": float(area_km2), "candidates": candidates if candidates is not None
            else min(round(0.8 * townships), free_villages),
            "share_65plus": share_65plus, "urban_core_share": urban_core_share, "gp_per_10k": gp_per_10k,
            "clinic_share": clinic_share,
            "budget_yuan": 3_000_000.0 * townships if budget_yuan is None else float(budget_yuan)}
    _check_arguments(args)
    rng = np.random.default_rng(seed)
    x0, y0 = pyproj.Transformer.from_crs("EPSG:4326", CRS, always_xy=True).transform(*CENTRE_LONLAT)
    frame = make_frame(rng, townships=townships, area_km2=area_km2, origin=(round(x0), round(y0)))
    towns = make_bands(rng, frame, townships)
    names = _names(rng, frame.n + townships + villages)
    county_names = names[:frame.n]
    seat_township = seat_townships(rng, towns)
    layout, seat_node = place_villages_and_roads(rng, frame, towns, villages, seat_township)
    places = layout.places()
    pop, pop65 = _village_population(rng, places, seat_township, population=population,
                                     urban_core_share=urban_core_share,
                                     total_65plus=round(population * share_65plus))
    xy = np.round(frame.to_xy(places["uv"]), 2)
    vill = pd.DataFrame({"id": _ids("V", villages), "stem": names[frame.n + townships:], "township": places["township"],
                         "is_seat": places["is_seat"], "pop": pop, "pop65": pop65, "x": xy[:, 0], "y": xy[:, 1]})
    towns["code"] = _ids("T", townships)
    towns["population"] = np.bincount(vill["township"], weights=pop, minlength=townships)
    towns["population_65plus"] = np.bincount(vill["township"], weights=pop65, minlength=townships)
    suffix = np.where(towns["population"] >= towns["population"].median(), "镇", "乡").astype("U2")
    suffix[seat_township[0]] = "街道"
    towns["name"] = np.char.add(names[frame.n:frame.n + townships], suffix)
    towns["seat_node"] = seat_node
    towns["seat_village"] = np.flatnonzero(places["is_seat"])
    towns["seat"] = np.isin(np.arange(townships), seat_township)
    facilities = _facilities(rng, frame, towns, vill, layout, county_names=county_names, seats=seat_township,
                             gp_total=round(population * gp_per_10k / 10_000), clinic_share=clinic_share)
    staffed = (facilities["level"] != "county_hospital") & ((facilities["gps"] + facilities["village_doctors"]) >= 1)
    clinic_villages = facilities.loc[facilities["level"] == "village_clinic", "id"].str.removeprefix("VC-")
    return GeneratedRegion(
        name=name,
        crs=pyproj.CRS.from_user_input(CRS),
        meta=_region_meta(name, county_names[0], frame.n, args),
        scenario=_scenario(name, args["budget_yuan"]),
        townships=_layer("townships", towns, band_polygons(frame, towns)),
        demand=_layer("demand", {"id": vill["id"], "township_code": towns["code"].to_numpy()[vill["township"]],
                                 "population": pop, "population_65plus": pop65}, shapely.points(xy)),
        facilities=facilities,
        candidates=_candidates(rng, vill, shapely.get_coordinates(facilities.geometry.values[staffed]),
                               vill["id"].isin(clinic_villages).to_numpy(), int(args["candidates"])),
        roads=_layer("roads", *layout.roads(frame)),
        ems_stations=_ems_stations(facilities, towns, seat_township, county_names),
    )


def write_region(generated: GeneratedRegion, out_dir: str | Path, *, overwrite: bool = False) -> Path:
    """Write `generated` as a region bundle (region.toml, region.gpkg, scenario.toml, README.md) into `out_dir`.

    The bundle is built in a temporary directory beside `out_dir` and renamed into place
    (`allocopt.export.atomic_output_dir`); an earlier bundle in `out_dir`, or other files there, need
    `overwrite=True`, which replaces only the files of an earlier bundle allocopt wrote and keeps every other file.
    """
    target = Path(out_dir)
    with atomic_output_dir(target, kind=REGION_KIND, overwrite=overwrite, replace_earlier=False) as staging:
        write_text(toml_text(generated.meta, header=f"Region bundle {generated.name}: SYNTHETIC geometry and "
                                                    "facilities."), staging / "region.toml")
        write_text(toml_text(generated.scenario, header=f"Default scenario of the synthetic region {generated.name}.",
                             comments=_SCENARIO_COMMENTS), staging / "scenario.toml")
        write_text(_readme(generated), staging / "README.md")
        write_geopackage(generated.layers(), staging / "region.gpkg")
    return target


MAX_PLACES = 20_000
"""Most townships plus villages a generated region holds: the syllable lists make about 25,000 distinct names,
some of which go to the county's frame."""


def _check_arguments(args: Mapping[str, Any]) -> None:
    townships, villages = args["townships"], args["villages"]
    checks = [
        ("townships", townships >= 1, "at least 1"),
        ("villages", villages >= townships, f"at least townships ({townships}): every township has a seat"),
        ("villages", townships + villages <= MAX_PLACES,
         f"at most {MAX_PLACES:,} - townships ({townships:,}): every place gets a distinct generated name"),
        ("population", args["population"] >= villages, f"at least villages ({villages})"),
        ("area_km2", args["area_km2"] > 0, "positive"),
        ("candidates", 0 <= args["candidates"] <= _villages_without_clinic(villages, townships, args["clinic_share"]),
         f"between 0 and the non-seat villages without a clinic "
         f"({_villages_without_clinic(villages, townships, args['clinic_share'])}): candidates are new clinics"),
        *((key, 0 <= args[key] < 1, "in [0, 1)") for key in ("share_65plus", "urban_core_share", "clinic_share")),
        ("gp_per_10k", args["gp_per_10k"] >= 0, "at least 0"),
        ("budget_yuan", args["budget_yuan"] >= 0, "at least 0"),
    ]
    for key, ok, rule in checks:
        if not ok:
            raise DataError(f"generator argument {key} must be {rule}, got {args[key]!r}")



def _villages_without_clinic(villages: int, townships: int, clinic_share: float) -> int:
    """Non-seat villages left without a village clinic (where candidate clinic sites may go)."""
    non_seat = max(villages - townships, 0)
    return non_seat - round(clinic_share * non_seat)


def _names(rng: np.random.Generator, count: int) -> NDArray[np.str_]:
    """Distinct Chinese-style place-name stems from syllable lists, none of them a real Lushui township name."""
    two = [a + b for a in _FIRST for b in _SECOND if a != b]
    three = [a + b + c for a in _FIRST for b in _SECOND for c in _SECOND if len({a, b, c}) == 3]
    pool = [n for n in (two if count <= len(two) // 2 else two + three) if n not in _REAL_NAMES]
    return np.asarray(pool)[rng.permutation(len(pool))[:count]]


def _ids(prefix: str, count: int) -> NDArray[np.str_]:
    width = max(2, len(str(count)))
    return np.asarray([f"{prefix}{i + 1:0{width}d}" for i in range(count)])




def _village_population(rng: np.random.Generator, places: Mapping[str, NDArray[Any]],
                        seat_township: NDArray[np.int64], *, population: int, urban_core_share: float,
                        total_65plus: int) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """Integer residents and residents aged 65+ per village, summing exactly to `population` and `total_65plus`.

    Lognormal sizes, each township seat its largest village, the county seat holding `urban_core_share` of
    everyone; the 65+ share is higher up side valleys (young people move down) and lower in the seats."""
    n = len(places["kind"])
    weight = rng.lognormal(0.0, 0.8, n) * np.where(places["is_seat"], 4.0, 1.0)
    largest_other = pd.Series(np.where(places["is_seat"], 0.0, weight)).groupby(places["township"]).max()
    seats = np.flatnonzero(places["is_seat"])  # one per township, in township order
    weight[seats] = np.maximum(weight[seats], 1.5 * largest_other.to_numpy())  # the seat is the largest village
    seat_villages = seats[seat_township]
    weight[seat_villages[1:]] *= 3.0
    main = seat_villages[0]
    pop = np.zeros(n, dtype=np.int64)
    pop[main] = population if n == 1 else max(1, round(population * urban_core_share))
    rest = np.flatnonzero(np.arange(n) != main)
    if len(rest):
        floor_people = min(50, (population - int(pop[main])) // len(rest))
        pop[rest] = floor_people + largest_remainder(
            population - int(pop[main]) - floor_people * len(rest), weight[rest])
    older = np.array([0.8, 1.0, 1.25])[places["kind"]] * rng.lognormal(0.0, 0.2, n)
    return pop, np.minimum(largest_remainder(total_65plus, pop * older), pop)


def _capped_apportion(total: int, weights: NDArray[np.float64], cap: int) -> NDArray[np.int64]:
    """Up to `total` units handed out by highest weight per unit held (D'Hondt), at most `cap` each, none where
    the weight is zero (so the sum may fall short of `total`)."""
    counts = np.zeros(len(weights), dtype=np.int64)
    for _ in range(total):
        score = np.where((counts < cap) & (weights > 0), weights / (counts + 1), -1.0)
        best = int(np.argmax(score))
        if score[best] < 0:
            break
        counts[best] += 1
    return counts


HOSPITALS_PER_COUNTY = (("general", "县人民医院"), ("tcm", "县中医医院"), ("mch", "县妇幼保健院"))
"""Each county's hospitals: the people's hospital, the TCM hospital and the maternal and child health hospital."""

_VILLAGE_DOCTORS = (0, 1, 2, 3)
_VILLAGE_DOCTOR_ODDS = (0.15, 0.35, 0.35, 0.15)
"""Village doctors per clinic: about 2.3 staff per clinic nationally (2023 statistical bulletin), with some clinics
vacant (no doctor)."""


def _facilities(rng: np.random.Generator, frame: Frame, towns: pd.DataFrame, vill: pd.DataFrame, layout: Layout,
                *, county_names: NDArray[np.str_], seats: NDArray[np.int64], gp_total: int,
                clinic_share: float) -> gpd.GeoDataFrame:
    """Per county (valley) a people's, a TCM and an MCH hospital in its seat; one township health center per
    township (one or two central ones per county); village clinics with village doctors.

    The people's hospitals have CT, DR, ultrasound and ECG; TCM hospitals DR, ultrasound and ECG but no CT; MCH
    hospitals ultrasound and ECG. GPs total exactly `gp_total`: a few at the hospitals, rarely one at a village
    clinic, the rest at township health centers near the region's seat (at most four each, none in the most remote
    townships), any surplus at the first people's hospital. People's hospitals lead the consortium of their
    county's health centers and clinics, the TCM hospital of the region's seat some of its county's."""
    n_townships = len(towns)
    main = int(seats[0])
    seat_u = np.array([layout.nodes[n][0] for n in towns["seat_node"]])
    valley = towns["valley"].to_numpy()
    kinds = [kind for kind, _ in HOSPITALS_PER_COUNTY]
    hospital_t = np.repeat(seats, len(kinds))
    hospital_kind = np.array(kinds * len(seats), dtype=object)
    n_hospitals = len(hospital_t)
    hospital_ids = _ids("H", n_hospitals)
    hospital_names = [f"{county_names[c]}{suffix}" for c in range(len(seats)) for _, suffix in HOSPITALS_PER_COUNTY]
    offsets = {"general": (-0.04, -0.04), "tcm": (0.05, -0.04), "mch": (0.01, 0.04)}
    hospital_uv = []
    for t, kind in zip(hospital_t, hospital_kind, strict=True):
        span = towns["u1"].iloc[t] - towns["u0"].iloc[t]
        du, dv = offsets[kind]
        uv = (seat_u[t] + span * du, float(frame.centre(valley[t])) + dv * frame.width_m)
        layout.line(layout.node(*uv), int(towns["seat_node"].iloc[t]), "township", speed_kmh=30.0)
        hospital_uv.append(uv)
    general, tcm = hospital_kind == "general", hospital_kind == "tcm"
    gp_draw = np.where(general, rng.integers(2, 5, n_hospitals), np.where(tcm, rng.integers(1, 3, n_hospitals),
                                                                          rng.integers(0, 2, n_hospitals)))
    remaining = gp_total
    hospital_gps = np.zeros(n_hospitals, dtype=np.int64)
    for k, base in enumerate(gp_draw):
        hospital_gps[k] = min(int(base), remaining)
        remaining -= int(hospital_gps[k])
    non_seat = np.flatnonzero(~vill["is_seat"].to_numpy())
    n_clinics = round(clinic_share * len(non_seat))
    weight = 1.0 + np.sqrt(vill["pop"].to_numpy()[non_seat])  # larger villages more likely to have a clinic
    keys = rng.random(len(non_seat)) ** (1.0 / weight)  # weighted sampling without replacement
    clinic = vill.iloc[np.sort(non_seat[np.argsort(-keys, kind="stable")[:n_clinics]])]
    clinic_gps = (rng.random(n_clinics) < 0.05).astype(np.int64)
    clinic_gps[np.cumsum(clinic_gps) > remaining] = 0
    remaining -= int(clinic_gps.sum())
    village_doctors = rng.choice(_VILLAGE_DOCTORS, size=n_clinics, p=_VILLAGE_DOCTOR_ODDS)
    is_main = np.arange(n_townships) == main
    distance = np.abs(seat_u - seat_u[main]) + np.abs(valley - valley[main]) * frame.width_m
    weight = towns["population"].to_numpy() * np.exp(-distance / (frame.length_m / 3)) * np.where(is_main, 3, 1)
    weight[np.argsort(distance, kind="stable")[n_townships - math.floor(_REMOTE_SHARE * n_townships):]] = 0.0
    hc_gps = _capped_apportion(remaining, weight, _MAX_TOWNSHIP_HC_GPS)
    hospital_gps[0] += remaining - int(hc_gps.sum())
    lead = _consortium_leads(rng, valley, seats, hospital_ids, main)
    central = _central_health_centers(towns, seats)
    beds = {"general": (300, 501), "tcm": (120, 201), "mch": (60, 121)}
    hospital = {"beds": np.array([rng.integers(*beds[k]) for k in hospital_kind]),
                "ct": general.astype(int), "dr": np.where(general, 2, np.where(tcm, 1, 0)),
                "ultrasound": np.where(general, 3, np.where(tcm, 1, 2)), "ecg": np.where(general, 4, 1)}
    bed_draw = np.round(towns["population"] / 1_000 + rng.normal(0, 4, n_townships))
    township_hc = {"beds": np.clip(bed_draw + 20 * central, 10, 60), "ct": np.zeros(n_townships),
                   "dr": (rng.random(n_townships) < 0.5) | is_main | central,
                   "ultrasound": (rng.random(n_townships) < 0.7) | is_main | central,
                   "ecg": (rng.random(n_townships) < 0.8) | is_main | central}
    none = np.zeros(n_hospitals + n_townships + n_clinics)
    seat = vill.iloc[towns["seat_village"]]
    return _layer("facilities", {
        "id": np.r_[hospital_ids, "HC-" + towns["code"], "VC-" + clinic["id"]],
        "name": np.r_[hospital_names, towns["name"] + np.where(central, "中心卫生院", "卫生院"),
                      clinic["stem"] + "村卫生室"],
        "level": ["county_hospital"] * n_hospitals + ["township_hc"] * n_townships + ["village_clinic"] * n_clinics,
        "hospital_kind": np.r_[hospital_kind, [""] * (n_townships + n_clinics)],
        "central": np.r_[np.zeros(n_hospitals, dtype=bool), central, np.zeros(n_clinics, dtype=bool)],
        "gps": np.r_[hospital_gps, hc_gps, clinic_gps],
        "village_doctors": np.r_[np.zeros(n_hospitals + n_townships, dtype=np.int64), village_doctors],
        **{key: np.r_[hospital[key], township_hc[key], np.zeros(n_clinics)] for key in hospital},
        "cath_lab": none, "chest_pain_center": none, "stroke_center": none, "trauma_center": none,
        "consortium_lead": np.r_[[""] * n_hospitals, lead, lead[clinic["township"]]],
    }, shapely.points(np.r_[np.round(frame.to_xy(np.asarray(hospital_uv)), 2), seat[["x", "y"]].to_numpy(),
                            clinic[["x", "y"]].to_numpy()]))


def _consortium_leads(rng: np.random.Generator, valley: NDArray[np.int64], seats: NDArray[np.int64],
                      hospital_ids: NDArray[np.str_], main: int) -> NDArray[np.object_]:
    """Lead hospital of each township: its county's people's hospital; in the region's seat county about a third
    of the other townships (at least one) are led by the TCM hospital."""
    per_county = len(HOSPITALS_PER_COUNTY)
    lead = np.empty(len(valley), dtype=object)
    for c, t in enumerate(seats):
        lead[valley == valley[t]] = hospital_ids[c * per_county]
    in_main = np.flatnonzero((valley == valley[main]) & (np.arange(len(valley)) != main))
    if len(in_main):
        lead[in_main[rng.random(len(in_main)) < 0.35]] = hospital_ids[1]
        lead[rng.choice(in_main)] = hospital_ids[1]
    return lead


def _central_health_centers(towns: pd.DataFrame, seats: NDArray[np.int64]) -> NDArray[np.bool_]:
    """Central township health centers (中心卫生院): in each county the most populous township outside the seat,
    and the second most populous too where the county has at least ten townships."""
    central = np.zeros(len(towns), dtype=bool)
    valley, population = towns["valley"].to_numpy(), towns["population"].to_numpy()
    for t in seats:
        members = np.flatnonzero((valley == valley[t]) & (np.arange(len(towns)) != t))
        count = 2 if len(members) + 1 >= 10 else 1
        central[members[np.argsort(-population[members], kind="stable")[:count]]] = True
    return central


def _candidates(rng: np.random.Generator, vill: pd.DataFrame, staffed_xy: NDArray[np.float64],
                has_clinic: NDArray[np.bool_], count: int) -> gpd.GeoDataFrame:
    """Candidate village-clinic sites (a new site in a village is a clinic, not a health center): greedily the
    non-seat village without a clinic with the most residents times straight-line distance to the nearest staffed
    grassroots site or earlier candidate; building and equipping one costs 0.2-0.5 million yuan."""
    xy = vill[["x", "y"]].to_numpy()
    nearest_m = np.min(np.hypot(*(xy[:, None, :] - staffed_xy[None, :, :]).transpose(2, 0, 1)), axis=1)
    chosen: list[int] = []
    for _ in range(count):
        score = np.where(vill["is_seat"] | has_clinic, -1.0, vill["pop"] * nearest_m)
        score[chosen] = -1.0
        chosen.append(int(np.argmax(score)))
        nearest_m = np.minimum(nearest_m, np.hypot(*(xy - xy[chosen[-1]]).T))
    site = vill.iloc[chosen]
    return _layer("candidates", {
        "id": "NEW-" + site["id"], "name": site["stem"] + "村（候选卫生室址）",
        "open_cost_yuan": np.round(rng.uniform(2e5, 5e5, count), -4), "level": ["village_clinic"] * count,
    }, shapely.points(xy[chosen]))


def _ems_stations(facilities: gpd.GeoDataFrame, towns: pd.DataFrame, seats: NDArray[np.int64],
                  county_names: NDArray[np.str_]) -> gpd.GeoDataFrame:
    """120 stations, at facilities: each county's emergency center (120急救中心) at its people's hospital with one
    ambulance per 60,000 residents of the county (at least two, about half the norm of one per 30,000); a station
    with one ambulance at each central township health center; a candidate station at every other township
    health center outside the seats. No random draws, so the other layers do not change."""
    general = facilities.loc[facilities["hospital_kind"] == "general"].reset_index(drop=True)
    valley = towns["valley"].to_numpy()
    county_population = np.array([towns["population"].to_numpy()[valley == valley[t]].sum() for t in seats])
    center_ambulances = np.maximum(2, np.round(county_population / 60_000)).astype(np.int64)
    health_centers = facilities.loc[facilities["level"] == "township_hc"].reset_index(drop=True)
    outside_seats = ~health_centers["id"].isin("HC-" + towns["code"].to_numpy()[seats]).to_numpy()
    stations = health_centers.loc[outside_seats].reset_index(drop=True)
    central = stations["central"].to_numpy(dtype=bool)
    township_names = stations["name"].str.replace("中心卫生院", "").str.replace("卫生院", "")
    return _layer("ems_stations", {
        "id": np.r_["EMS-" + general["id"], "EMS-" + stations["id"]],
        "name": np.r_[np.char.add(county_names[:len(seats)], "120急救中心"),
                      township_names + np.where(central, "急救站", "急救站（候选）")],
        "township_code": np.r_[towns["code"].to_numpy()[seats], stations["id"].str.removeprefix("HC-")],
        "ambulances": np.r_[center_ambulances, central.astype(np.int64)],
        "candidate": np.r_[np.zeros(len(general), dtype=bool), ~central],
    }, np.r_[general.geometry.to_numpy(), stations.geometry.to_numpy()])


_DTYPES = {"str": "str", "int": "int64", "float": "float64", "bool": "bool"}


def _layer(name: str, columns: Mapping[str, Any], geometry: Any) -> gpd.GeoDataFrame:
    """A layer with the columns of `schema.LAYERS[name]`, in order and with their dtypes, in `CRS`; a generated
    id column (roads) is left out when not given, so ids come from row numbers when the bundle is read."""
    data = {}
    for spec in LAYERS[name].columns:
        if spec.name not in columns and spec.name == LAYERS[name].id_column:
            continue
        data[spec.name] = pd.Series(np.asarray(columns[spec.name]), dtype=_DTYPES[spec.dtype])
    return gpd.GeoDataFrame(pd.DataFrame(data), geometry=gpd.GeoSeries(geometry), crs=CRS)


_LICENSE = "BSD-3-Clause (generated by allocopt, same terms as its code)"

_LAYER_SOURCES = {
    "townships": "SYNTHETIC: band polygons along invented valleys; population = sum of the demand layer",
    "demand": "SYNTHETIC villages: invented locations, lognormal populations scaled to the calibrated totals",
    "facilities": "SYNTHETIC facilities: invented hospitals, health centers, clinics, staff and equipment",
    "candidates": "SYNTHETIC candidate village-clinic sites in large villages without a clinic, far from staffed sites",
    "roads": "SYNTHETIC road network: trunk along each valley, branch roads up side valleys, village roads",
    "ems_stations": "SYNTHETIC 120 stations: an emergency center at each people's hospital, stations at central "
                    "township health centers, candidates at the other health centers",
}

_SCENARIO_COMMENTS = {
    "scenario.name": "shown in reports",
    "scenario.description": "what this scenario is for",
    "budget.total_yuan": "capital plus one year of running cost; buys part, not all, of the needed improvements",
}


def _region_meta(name: str, county: str, valleys: int, arguments: Mapping[str, Any]) -> dict[str, Any]:
    """Contents of region.toml: region facts (flagged synthetic), generator arguments, layer sources."""
    shape = ("a mountainous county along one north-south river valley" if valleys == 1
             else f"a prefecture-level city of {valleys} parallel north-south river valleys")
    description = (
        f"SYNTHETIC region 「{county}」: {shape}, {arguments['townships']} townships, {arguments['villages']} "
        f"villages, {arguments['population']:,} residents, about {arguments['area_km2']:,.0f} km², placed near "
        f"{CENTRE_LONLAT[0]}E {CENTRE_LONLAT[1]}N. Geometry, names, roads and facilities are invented, not real."
    )
    calibration = (
        f"Generated by allocopt.generate with the arguments under [generator]. {_CALIBRATION_SOURCES} "
        f"GP density is set to {arguments['gp_per_10k']:g} per 10,000 residents (the national target for 2020 was "
        "2-3, 国办发〔2018〕3号)."
    )
    layers = [layer for layer in ("townships", "demand", "facilities", "candidates", "roads", "ems_stations")
              if layer != "candidates" or arguments["candidates"] > 0]
    source_note = f" (allocopt.generate, seed {arguments['seed']})"
    return {
        "region": {"name": name, "title": f"{county}县" if valleys == 1 else f"{county}等{valleys}县",
                   "description": description, "crs": CRS, "synthetic": True, "language": "zh",
                   "calibration": calibration},
        "generator": {"module": "allocopt.generate", **arguments},
        "layers": {layer: {"file": "region.gpkg", "layer": layer, "source": _LAYER_SOURCES[layer] + source_note,
                           "license": _LICENSE} for layer in layers},
        "network": {"access_speed_kmh": 5.0},
    }


def _scenario(name: str, budget_yuan: float) -> dict[str, Any]:
    """Contents of the region's default scenario.toml (keys of `allocopt.scenario`)."""
    return {
        "scenario": {"name": f"{name} default",
                     "description": f"Default plan for the synthetic region {name}: defaults plus a budget."},
        "budget": {"total_yuan": float(budget_yuan)},
    }


def _readme(generated: GeneratedRegion) -> str:
    """README.md of a bundle: what is synthetic, what it is calibrated on, what it holds, how to regenerate it."""
    region, args = generated.meta["region"], generated.meta["generator"]
    facilities = generated.facilities
    gps = int(facilities["gps"].sum())
    levels = facilities["level"].value_counts().sort_index()
    staff = facilities["village_doctors"] + facilities["gps"]
    vacant = int(((facilities["level"] == "village_clinic") & (staff == 0)).sum())
    call = ", ".join(f"{k}={v!r}" for k, v in args.items() if k != "module")
    rows = [f"| `{name}` | {len(layer):,} | {generated.meta['layers'][name]['source']} |"
            for name, layer in generated.layers().items()]
    return "\n".join([
        f"# {generated.name}: a SYNTHETIC region", "",
        "Township polygons, villages, roads, facilities, staff, equipment, candidate sites and all place names in",
        "this bundle are invented by `allocopt.generate`; they are not real places and must not be presented as",
        "such. Only the scale is calibrated on published figures.", "",
        region["description"], "",
        "## Calibration", "", region["calibration"], "",
        "## Contents", "",
        '- `region.toml`: metadata (`synthetic = true`; `language = "zh"`: reports, workbook and tables in '
        "Chinese), generator arguments, layer sources and licenses.",
        "- `scenario.toml`: the region's default scenario (budget; everything else from the allocopt defaults).",
        "- `region.gpkg` (CRS EPSG:32647, UTM zone 47N):", "",
        "| layer | rows | source |", "|---|---|---|", *rows, "",
        f"Facilities by level: {', '.join(f'{k} {v}' for k, v in levels.items())}. GPs: {gps} "
        f"({gps / generated.demand['population'].sum() * 1e4:.2f} per 10,000 residents). Each county has a "
        "people's hospital (`hospital_kind` general: CT, DR, ultrasound, ECG), a TCM hospital (tcm: DR, ultrasound, "
        "ECG, no CT) and a maternal and child health hospital (mch: ultrasound, ECG); "
        f"{int(facilities['central'].sum())} township health centers are central ones (`central`). Village clinics "
        f"hold {int(facilities['village_doctors'].sum())} village doctors, "
        f"{vacant} clinics none (vacant). No site is a designated chest pain, stroke or trauma center or has a cath "
        "lab yet.",
        "",
        f"120 stations (`ems_stations`): {int((~generated.ems_stations['candidate']).sum())} with "
        f"{int(generated.ems_stations['ambulances'].sum())} ambulances today (an emergency center at each people's "
        "hospital, a station at each central township health center) and "
        f"{int(generated.ems_stations['candidate'].sum())} candidate stations at the other township health centers.",
        "",
        "## Regenerate", "",
        "The data equal a fresh generation with the arguments in `region.toml` (a test checks this):", "",
        "```python",
        "from allocopt.generate import generate_region, write_region",
        f"write_region(generate_region({call}, name={generated.name!r}), OUT_DIR, overwrite=True)",
        "```", "",
    ])
