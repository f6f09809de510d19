"""Who and when a document is about: the period and currency read from its head, and the fast leftmost search."""

from __future__ import annotations

import re
from collections import Counter

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.extract.identity import (
    DENOMINATED,
    DENOMINATED_WORDS,
    FULL_YEAR,
    HALF_YEAR,
    QUARTER_YEAR,
    WELCOME,
    WELCOME_WORDS,
    _leftmost,
    default_currency,
    identify,
)
from bot.models import Document

# (pattern, the anchors every match holds, how far after the match start the anchor may be)
SEARCHES = [
    (QUARTER_YEAR, ("q",), 7),
    (FULL_YEAR, ("results", "earnings"), 27),
    (HALF_YEAR, ("interim", "half", "h1"), 6),
    (DENOMINATED, DENOMINATED_WORDS, 0),
    (WELCOME, WELCOME_WORDS, 0),
]
PIECES = [
    "welcome to",
    "joining us for",
    "thank you for joining",
    "Acme",
    "Widgets",
    "the",
    "first",
    "second",
    "third",
    "fourth",
    "quarter",
    "q",
    "q3",
    "3q",
    "fy",
    "fy24",
    "fiscal",
    "year",
    "full-year",
    "full",
    "of",
    "2024",
    "1999",
    "24",
    "results",
    "earnings",
    "financial",
    "interim",
    "first half",
    "h1",
    "half-year",
    "denominated",
    "expressed",
    "stated",
    "in",
    "rmb",
    "u.s. dollars",
    "yen",
    "x",
    "-",
    ",",
    "\n",
    "\t",
    " ",
    "  ",
]


@pytest.mark.parametrize(
    ("head", "label", "year", "quarter"),
    [
        ("Acme Reports Fourth-Quarter Fiscal 2023 Results", "Q4 2023", 2023, 4),
        ("Q3 FY24 earnings call", "Q3 2024", 2024, 3),
        ("3Q23 results", "Q3 2023", 2023, 3),
        ("Second quarter of fiscal year 2021 conference call", "Q2 2021", 2021, 2),
        ("Fiscal Year 2024 Financial Results", "FY2024", 2024, None),
        ("Full-year 2022 earnings", "FY2022", 2022, None),
        ("Interim 2021 report", "H1 2021", 2021, None),
        ("A quarterly update with no year", None, None, None),
    ],
)
def test_period_from_the_head(head: str, label: str | None, year: int | None, quarter: int | None) -> None:
    document = Document(text=head + "\n\nRevenue was $5 million.", kind="press_release", format="text")
    ident = identify(document, Counter(), ())
    assert (ident.period.label, ident.period.fiscal_year, ident.period.fiscal_quarter) == (label, year, quarter)


@pytest.mark.parametrize(
    ("text", "currency"),
    [
        ("All amounts are denominated in RMB unless noted.", "RMB"),
        ("Figures are expressed\tin U.S. dollars.", "USD"),
        ("Amounts are stated in New Taiwan dollars.", "TWD"),
        ("We said in RMB terms, nothing is denominated here.", None),
    ],
)
def test_declared_currency(text: str, currency: str | None) -> None:
    assert default_currency(text) == currency


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(PIECES), max_size=40), st.integers(0, len(SEARCHES) - 1))
def test_leftmost_finds_what_a_full_search_finds(pieces: list[str], which: int) -> None:
    pattern, anchors, reach = SEARCHES[which]
    low = "".join(p + (" " if i % 3 else "") for i, p in enumerate(pieces))
    expected = pattern.search(low)
    found = _leftmost(pattern, low, anchors, reach)
    assert (found.span() if found else None) == (expected.span() if expected else None)


def test_every_match_holds_an_anchor_within_reach() -> None:
    """The promise `_leftmost` relies on, checked on the longest forms each pattern accepts."""
    longest = {
        QUARTER_YEAR: "fourth-quarter of fiscal year 2024",
        FULL_YEAR: "fiscal year 2024 financial results",
        HALF_YEAR: "first half of 2024",
        DENOMINATED: "denominated in hong kong dollars",
        WELCOME: "thank you for joining the today's Acme Widgets earnings",
    }
    for pattern, anchors, reach in SEARCHES:
        m = pattern.search(longest[pattern])
        assert m is not None and m.start() == 0
        assert any(re.match(re.escape(a), longest[pattern][i:]) for a in anchors for i in range(reach + 1))
