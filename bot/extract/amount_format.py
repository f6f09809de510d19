"""Display of amounts: the short form of a value with its unit, and the decimals a figure was written with."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Final

from bot.errors import InputError
from bot.extract.amount_words import CURRENCY_CODE

_NUMERIC_PART: Final = re.compile(r"\d[\d,]*(?:\.(\d+))?|\.(\d+)", re.ASCII)


def decimals(raw: str) -> int:
    """Decimals written in the numeric part ("RMB1,775.7 million" -> 1; a range: its most precise end)."""
    parts = _NUMERIC_PART.findall(raw)
    if not parts:
        raise InputError(f"no number in {raw[:40]!r}")
    return max(len(a or b) for a, b in parts)


_SYMBOLS: Final = {"USD": "$", "HKD": "HK$", "TWD": "NT$", "EUR": "€", "GBP": "£", "JPY": "¥", "AUD": "A$",
            "CAD": "C$", "SGD": "S$", "CNY": "RMB"}
_SUFFIXES: Final = {"%": "%", "pp": "pp", "bps": "bps", "x": "x"}
_DISPLAY_SCALES: Final = ((12, "T"), (9, "B"), (6, "M"), (3, "K"), (0, ""))


def _places(q: Decimal) -> int:
    return max(0, -int(q.normalize().as_tuple().exponent))


def format_amount(value: float, unit: str | None, *, decimals: int | None = None) -> str:
    """Short display form: "RMB1,775.7M", "$4.75B", "16.8%", "1.6pp", "50bps", "3.5x", "$2.23" ("count": "4.1M").

    Money and plain numbers take the largest scale that shows the value exactly with `decimals` places
    (at most two when not given), else the largest scale rounded.
    """
    if value != value or value in (float("inf"), float("-inf")):
        raise InputError(f"cannot format the non-finite amount {value}")
    if decimals is not None and decimals < 0:
        raise InputError(f"decimals must be zero or more, got {decimals}")
    unit = None if unit == "count" else unit
    if unit is not None and unit not in _SUFFIXES and not CURRENCY_CODE.fullmatch(unit):
        raise InputError(f"unknown unit {unit!r}: expected a currency code, '%', 'pp', 'bps', 'x', 'count' or None")
    v = abs(Decimal(repr(value)))
    most = 2 if decimals is None else decimals
    q, letter = v, ""
    if unit not in _SUFFIXES:
        fits = [(q, s) for e, s in _DISPLAY_SCALES if (q := v.scaleb(-e)) < 10000 and (q >= 1 or not e)]
        exact = [(q, s) for q, s in fits if _places(q) <= most]
        q, letter = (exact or fits or [(v.scaleb(-12), "T")])[0]
    places = decimals if decimals is not None else _places(round(q, min(_places(q), most)))
    number = f"{q:,.{places}f}"
    sign = "-" if value < 0 and any(c in "123456789" for c in number) else ""
    if unit in _SUFFIXES:
        return f"{sign}{number}{_SUFFIXES[unit]}"
    return f"{sign}{_SYMBOLS.get(unit, unit) if unit else ''}{number}{letter}"
