"""Chinese facility words: levels, hospital kinds and central township health centers, as build-region reads them.

Facility level words (`LEVEL_WORDS`, blanks ignored; any word starting with 三级/二级/一级, the hospital grades,
maps by its grade):

| words                                                         | level             |
|---------------------------------------------------------------|-------------------|
| 村卫生室, 卫生室, 村卫生所, 村诊所, 诊所, 社区卫生服务站        | village_clinic    |
| 乡镇卫生院, 乡卫生院, 镇卫生院, 中心卫生院, 卫生院, 一级…        | township_hc       |
| 社区卫生服务中心                                               | community_hc      |
| 县医院, 县人民医院, 县中医院, 县中医医院, 县级医院, 二级…        | county_hospital   |
| 市人民医院, 市医院, 市级医院, 三甲, 三级…                       | tertiary_hospital |

Hospital kinds (`HOSPITAL_KIND_WORDS`): a `hospital_kind` column (or the column mapped to it with
`--map hospital_kind=COLUMN`) holds general/tcm/mch/specialty or a Chinese word; without one, a hospital's kind is
read from its name (the longest listed word it contains), and names naming no kind leave it blank (general).
A township health center is central when its level word or name says 中心卫生院 and the file has no `central`
column. Village doctors come from a `village_doctors` column (`--map village_doctors=乡村医生`).

| words                                                         | hospital_kind     |
|---------------------------------------------------------------|-------------------|
| 人民医院, 综合医院, 中心医院                                   | general           |
| 中医医院, 中医院, 中西医结合医院, 民族医医院, 藏医院, 蒙医医院  | tcm               |
| 妇幼保健院, 妇幼保健计划生育服务中心, 妇幼保健所                | mch               |
| 专科医院, 精神病医院, 传染病医院, 肿瘤医院, 口腔医院, 眼科医院  | specialty         |
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import geopandas as gpd
import pandas as pd

from allocopt.errors import DataError
from allocopt.services import HOSPITAL_KINDS, HOSPITAL_LEVELS, LEVELS

LEVEL_WORDS: Mapping[str, str] = {
    **{level: level for level in LEVELS},
    **dict.fromkeys(("村卫生室", "卫生室", "村卫生所", "村诊所", "诊所", "社区卫生服务站"), "village_clinic"),
    **dict.fromkeys(("乡镇卫生院", "乡卫生院", "镇卫生院", "中心卫生院", "卫生院"), "township_hc"),
    "社区卫生服务中心": "community_hc",
    **dict.fromkeys(("县医院", "县人民医院", "县中医院", "县中医医院", "县级医院"), "county_hospital"),
    **dict.fromkeys(("市人民医院", "市医院", "市级医院", "三甲"), "tertiary_hospital"),
}
"""Facility level words -> level (see the module docstring)."""

HOSPITAL_KIND_WORDS: Mapping[str, str] = {
    **{kind: kind for kind in HOSPITAL_KINDS},
    **dict.fromkeys(("人民医院", "综合医院", "中心医院"), "general"),
    **dict.fromkeys(("中医医院", "中医院", "中西医结合医院", "民族医医院", "藏医院", "蒙医医院"), "tcm"),
    **dict.fromkeys(("妇幼保健院", "妇幼保健计划生育服务中心", "妇幼保健所"), "mch"),
    **dict.fromkeys(("专科医院", "精神病医院", "传染病医院", "肿瘤医院", "口腔医院", "眼科医院"), "specialty"),
}
"""Hospital kind words -> hospital kind (see the module docstring)."""

_CENTRAL_WORD = "中心卫生院"

_GRADE_PREFIXES = (("三级", "tertiary_hospital"), ("二级", "county_hospital"), ("一级", "township_hc"))


def level_of(word: object) -> str | None:
    """The facility level a level word names (`LEVEL_WORDS`, hospital grades by prefix); None if unknown."""
    if not isinstance(word, str):
        return None
    text = "".join(word.split()).lower()
    if text in LEVEL_WORDS:
        return LEVEL_WORDS[text]
    return next((level for prefix, level in _GRADE_PREFIXES if text.startswith(prefix)), None)


def hospital_kind_of(word: object) -> str | None:
    """The hospital kind a word or name names: an exact `HOSPITAL_KIND_WORDS` entry, else the longest entry the
    text contains; "" for a blank, None when it names none."""
    text = "" if word is None or (isinstance(word, float) and pd.isna(word)) else str(word).strip()
    if not text:
        return ""
    if text in HOSPITAL_KIND_WORDS:
        return HOSPITAL_KIND_WORDS[text]
    contained = [w for w in HOSPITAL_KIND_WORDS if len(w) > 1 and w in text and not w.isascii()]
    return HOSPITAL_KIND_WORDS[max(contained, key=len)] if contained else None


def facility_types(frame: gpd.GeoDataFrame, level_words: pd.Series, path: Path
                   ) -> tuple[gpd.GeoDataFrame, str]:
    """Hospital kinds mapped from a `hospital_kind` column or read from hospital names, and `central` from the
    level word or name (中心卫生院) where the file has no such column; with a note of what was read from names
    ("" if nothing). DataError listing unknown kind words."""
    note = ""
    if "hospital_kind" in frame:
        kinds = frame["hospital_kind"].map(hospital_kind_of)
        unknown = sorted({str(v) for v in frame["hospital_kind"][kinds.isna()]})
        if unknown:
            raise DataError(
                f"{path}: field 'hospital_kind': {', '.join(repr(u) for u in unknown[:5])} name no hospital kind; "
                f"use one of {', '.join(HOSPITAL_KINDS)} or a Chinese word "
                f"({', '.join(w for w in HOSPITAL_KIND_WORDS if not w.isascii())}), or map another column with "
                "--map hospital_kind=COLUMN")
        frame = frame.assign(hospital_kind=kinds)
    elif "name" in frame:
        hospital = frame["level"].isin(HOSPITAL_LEVELS)
        named = frame["name"].map(hospital_kind_of).fillna("")
        frame = frame.assign(hospital_kind=named.where(hospital, ""))
        note = (f"{path.name}: hospital kinds read from names ({int((named[hospital] != '').sum())} of "
                f"{int(hospital.sum())} hospitals named one; the others are taken as general hospitals)")
    if "central" not in frame:
        words = level_words.astype(str) + " " + (frame["name"].astype(str) if "name" in frame else "")
        central = words.str.contains(_CENTRAL_WORD, regex=False) & (frame["level"] == "township_hc")
        frame = frame.assign(central=central)
    return frame, note


def mapped_levels(values: pd.Series, path: Path) -> pd.Series:
    """Level words -> levels; DataError listing the words that name no level."""
    mapped = values.map(level_of)
    unknown = sorted({str(v) for v in values[mapped.isna()]})
    if unknown:
        raise DataError(
            f"{path}: field 'level': {', '.join(repr(u) for u in unknown[:5])} name no facility level; use one of "
            f"{', '.join(LEVELS)} or a Chinese level word (村卫生室, 乡镇卫生院, 社区卫生服务中心, 县医院, 三级...)"
        )
    return mapped
