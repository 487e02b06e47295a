"""Amounts of money as planners write them: 30000000, 3e7, 30,000,000, 30M, 3000万 or 0.3亿 (yuan, or the
currency of a cost matrix's unit costs).

Every money option of the CLI and the budget lines of a scenario read amounts through `parse_money`, so one
spelling works everywhere. Accepted: a plain or exponent number; digits grouped in threes by commas or
underscores; a multiplier suffix k (thousand), M (million), 万 (ten thousand) or 亿 (hundred million), case
ignored; a leading ¥ and a trailing 元 or "yuan". Decimal arithmetic keeps 0.3亿 exactly 30000000. Anything else
is refused with the spellings that work: a guess at "30 million" or "3kw" could plan with the wrong money.
"""

from __future__ import annotations

import math
import re
from decimal import Decimal

from allocopt.errors import ScenarioError

MULTIPLIERS = {"k": 10**3, "m": 10**6, "万": 10**4, "亿": 10**8}
"""Suffix (lower case) -> the factor it multiplies the number by."""

HOW_TO_WRITE = "write 30000000 or 3e7 (30M, 3000万 and 30,000,000 work too)"

_GROUPED = re.compile(r"[+-]?\d{1,3}(?:[,_]\d{3})+(?:\.\d+)?")
_PLAIN = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:e[+-]?\d+)?", re.IGNORECASE)
_AMOUNT = re.compile(r"[¥￥]?\s*(?P<number>[\d.,_eE+-]+)\s*(?P<suffix>[kKmM万亿]?)\s*(?:元|yuan)?", re.IGNORECASE)


def parse_money(text: str) -> float:
    """The amount of money `text` writes (see the module docstring); ScenarioError saying how to write it.

    A sign is read, not judged: each caller checks the range its amount must lie in (budgets and costs >= 0).
    """
    match = _AMOUNT.fullmatch(text.strip())
    number = match.group("number") if match else ""
    if _GROUPED.fullmatch(number):
        number = number.replace(",", "").replace("_", "")
    if not _PLAIN.fullmatch(number):
        raise ScenarioError(f"{text!r} is not an amount of money; {HOW_TO_WRITE}")
    try:
        value = float(Decimal(number) * MULTIPLIERS.get(match.group("suffix").lower(), 1))  # type: ignore[union-attr]
    except ArithmeticError:  # Decimal's overflow: an exponent beyond its range
        value = math.inf
    if not math.isfinite(value):
        raise ScenarioError(f"{text!r} is beyond any amount of money; {HOW_TO_WRITE}")
    return value


def money_setting(key: str, value: object) -> object:
    """A scenario value that may be an amount of yuan as written ("800000", "80万", "0.8M"): text read by
    `parse_money` (its error prefixed with `key`), anything else returned as is for the caller's number check."""
    if not isinstance(value, str):
        return value
    try:
        return parse_money(value)
    except ScenarioError as exc:
        raise ScenarioError(f"key {key!r}: {exc}") from exc
