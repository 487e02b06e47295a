"""Messages and numbers in the planner's language: Babel catalogues (gettext .po files) read at run time.

Every sentence, heading, legend and column title that a person reads comes from a catalogue under
`allocopt/locale/<language>/<domain>.po`, never from a string literal in the code. Message ids are keys whose
first part names the domain file that holds them (`report.title` lives in `report.po`), so each output
(report, maps, workbook, cli) keeps its own catalogue and `common.po` holds the shared vocabulary (services,
resources, facility levels, indicators, units). Both languages must hold every key (tests/test_i18n.py).

Use: `tr = translator("zh")`, then `tr("report.title", region=name)`; placeholders are `str.format` fields.
Numbers follow the language's conventions (`format_people`, `format_yuan`, `format_share`): Chinese documents
count in 万 and 亿, English ones in thousands and millions.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType

from babel.messages.pofile import read_po
from babel.numbers import format_decimal, format_percent

LANGUAGES: tuple[str, ...] = ("zh", "en")
"""Languages with a complete catalogue: Simplified Chinese (the planners' language) and English."""

FALLBACK_LANGUAGE = "en"
"""Language of outputs when neither the command line nor the region names one."""

BABEL_LOCALES: Mapping[str, str] = MappingProxyType({"zh": "zh_Hans_CN", "en": "en"})
"""Babel locale behind each language, for digit grouping and percent signs."""

LOCALE_DIR = Path(__file__).with_name("locale")


class MissingMessageError(KeyError):
    """A message key that the language's catalogues do not hold (a defect, caught by the tests)."""


@functools.cache
def catalogue(language: str) -> Mapping[str, str]:
    """Every key of `language` (all domain files merged) mapped to its text. Unknown languages raise ValueError."""
    if language not in LANGUAGES:
        raise ValueError(f"unknown language {language!r}; choose one of: {', '.join(LANGUAGES)}")
    messages: dict[str, str] = {}
    for path in sorted((LOCALE_DIR / language).glob("*.po")):
        with path.open("rb") as handle:
            for message in read_po(handle, locale=BABEL_LOCALES[language]):
                if message.id:
                    messages[str(message.id)] = str(message.string)
    return MappingProxyType(messages)


@dataclass(frozen=True)
class Translator:
    """The texts of one language: call it with a key (and format fields) to get the sentence."""

    language: str

    def __call__(self, key: str, /, **fields: object) -> str:
        try:
            text = catalogue(self.language)[key]
        except KeyError:
            raise MissingMessageError(f"message {key!r} is missing from the {self.language!r} catalogue") from None
        return text.format(**fields) if fields else text

    def has(self, key: str) -> bool:
        """Whether the catalogue holds `key` (for vocabularies with open-ended members, e.g. a scenario's services)."""
        return key in catalogue(self.language)

    def term(self, family: str, name: str) -> str:
        """The word for `name` in a vocabulary family (`common.service`, `common.level` ...), else `name` itself."""
        key = f"{family}.{name}"
        return self(key) if self.has(key) else name

    def number(self, value: float, *, decimals: int = 0) -> str:
        """`value` with the language's digit grouping and `decimals` places."""
        pattern = "#,##0" + ("." + "0" * decimals if decimals > 0 else "")
        return format_decimal(value, format=pattern, locale=BABEL_LOCALES[self.language])

    def share(self, value: float, *, decimals: int = 1) -> str:
        """A share in [0, 1] as a percentage ("85.3%")."""
        pattern = "0" + ("." + "0" * decimals if decimals > 0 else "") + "%"
        return format_percent(value, format=pattern, locale=BABEL_LOCALES[self.language])

    def people(self, value: float) -> str:
        """A count of people: "12.3万人" in Chinese from 10,000 up, "12,345 people" in English."""
        return self("common.unit.people", count=self.large_number(value))

    def yuan(self, value: float) -> str:
        """An amount of money: "3,000万元" in Chinese, "30.0 million yuan" in English."""
        if self.language == "zh":
            return self("common.unit.yuan", amount=self.large_number(value))
        if abs(value) >= 1e6:
            return self("common.unit.million_yuan", amount=self.number(value / 1e6, decimals=1))
        return self("common.unit.yuan", amount=self.number(value))

    def large_number(self, value: float) -> str:
        """A count as Chinese documents write it (in 万 from 10,000, in 亿 from 100,000,000), else grouped digits."""
        if not math.isfinite(value):
            return str(value)
        if self.language == "zh":
            if abs(value) >= 1e8:
                return self("common.number.hundred_millions", amount=self.number(value / 1e8, decimals=2))
            if abs(value) >= 1e4:
                return self("common.number.ten_thousands",
                            amount=self.number(value / 1e4, decimals=_decimals_for(value / 1e4)))
        return self.number(value)


def _decimals_for(value: float) -> int:
    """One decimal for counts of 万 below 100 ("3.5万"), none above ("2,031万")."""
    return 1 if abs(value) < 100 else 0


def translator(language: str) -> Translator:
    """The translator of `language` (one of LANGUAGES); raises ValueError for any other."""
    catalogue(language)
    return Translator(language)
