"""The pieces a report page is made of (sections of paragraphs, tables and figures) and how its numbers are shown.

`report_sections` builds these from a result directory; `report_page` renders them through the Jinja2 template
`templates/report.html.j2`, which escapes every text. Table cells keep the exact number beside its text
(`data-value` in the page), so tests and readers can check the page against summary.json.
"""

from __future__ import annotations

import base64
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from numbers import Real
from pathlib import Path
from typing import ClassVar

from allocopt.i18n import Translator

MISSING = "—"
"""Shown for a figure the result does not hold (an older result, an unreachable township)."""


@dataclass(frozen=True)
class Cell:
    """A table cell: the text shown and, for numbers, the exact value."""

    text: str
    value: float | None = None


@dataclass(frozen=True)
class Row:
    """A table row; `key` (a service, site or township id) lets readers and tests find it."""

    cells: tuple[Cell, ...]
    key: str | None = None


@dataclass(frozen=True)
class Table:
    """A table with its id in the page, column headings, rows and an optional totals row."""

    kind: ClassVar[str] = "table"
    id: str
    headers: tuple[str, ...]
    rows: tuple[Row, ...]
    footer: tuple[Cell, ...] | None = None
    caption: str = ""


@dataclass(frozen=True)
class Paragraph:
    """A paragraph of text; `note` paragraphs are warnings shown highlighted."""

    kind: ClassVar[str] = "paragraph"
    text: str
    note: bool = False


@dataclass(frozen=True)
class Figure:
    """An image embedded as a data URI, with its caption."""

    kind: ClassVar[str] = "figure"
    caption: str
    src: str


Block = Paragraph | Table | Figure


@dataclass(frozen=True)
class Section:
    """A numbered part of the plan document (`appendix` sections are not numbered)."""

    id: str
    heading: str
    blocks: tuple[Block, ...] = field(default_factory=tuple)
    appendix: bool = False


def png_figure(caption: str, path: Path) -> Figure:
    """The PNG file at `path` as an embedded figure."""
    encoded = base64.b64encode(path.read_bytes()).decode("ascii")
    return Figure(caption=caption, src=f"data:image/png;base64,{encoded}")


@dataclass(frozen=True)
class Numbers:
    """Table cells for each kind of figure, in the conventions of the translator's language.

    Money in tables is shown in 万元 with two decimals in Chinese (the unit of Chinese budget tables) and in whole
    yuan in English; the cell keeps the exact yuan either way.
    """

    tr: Translator

    def people(self, value: object) -> Cell:
        return self._cell(value, lambda v: self.tr.number(v))

    def count(self, value: object) -> Cell:
        return self._cell(value, lambda v: self.tr.number(v))

    def cases(self, value: object) -> Cell:
        """Expected yearly cases, to one decimal (a site may reach fewer than one case a year)."""
        return self._cell(value, lambda v: self.tr.number(v, decimals=1))

    def money(self, value: object) -> Cell:
        if self.tr.language == "zh":
            return self._cell(value, lambda v: self.tr.number(v / 1e4, decimals=2))
        return self._cell(value, lambda v: self.tr.number(v))

    def share(self, value: object) -> Cell:
        return self._cell(value, lambda v: self.tr.share(v))

    def ratio(self, value: object) -> Cell:
        return self._cell(value, lambda v: self.tr.number(v, decimals=2))

    def minutes(self, value: object) -> Cell:
        return self._cell(value, lambda v: self.tr.number(v, decimals=0 if float(v).is_integer() else 1))

    def seconds(self, value: object) -> Cell:
        return self._cell(value, lambda v: self.tr.number(v, decimals=2))

    def exact(self, value: object) -> Cell:
        """A number as the solver gave it (objective values and bounds in the appendix)."""
        return self._cell(value, lambda v: f"{v:.10g}")

    def text(self, value: object) -> Cell:
        return Cell(MISSING if value is None or value == "" else str(value))

    @staticmethod
    def _cell(value: object, show: Callable[[float], str]) -> Cell:
        if isinstance(value, bool) or not isinstance(value, Real):
            return Cell(MISSING)
        number = float(value)
        if not math.isfinite(number):
            return Cell(MISSING)
        return Cell(show(number), number)


def number_or_none(value: object) -> float | None:
    """`value` as a finite float, else None (booleans, text, NaN and missing figures)."""
    if isinstance(value, bool) or not isinstance(value, Real):
        return None
    number = float(value)
    return number if math.isfinite(number) else None
