"""The command grammar: text after /earnings (or the bot's mention) -> Query, the same on every platform."""

from __future__ import annotations

import pytest

from bot.commands import find_period, parse, parse_period


@pytest.mark.parametrize(("text", "action", "words"), [
    ("", "help", ()),
    ("help", "help", ()),
    ("  HELP ", "help", ()),
    ("?", "help", ()),
    ("KC", "digest", ("KC",)),
    ("kingsoft cloud", "digest", ("kingsoft", "cloud")),
    ("/earnings KC", "digest", ("KC",)),
    ("KC?", "digest", ("KC",)),
    ("KC revenue", "figure", ("KC", "revenue")),
    ("KC adjusted ebitda margin", "figure", ("KC", "adjusted", "ebitda", "margin")),
    ("kingsoft cloud revenue", "figure", ("kingsoft", "cloud", "revenue")),
    ("KC ebita", "digest", ("KC", "ebita")),
    ("KC guidance", "guidance", ("KC",)),
    ("KC outlook", "guidance", ("KC",)),
    ("KC revenue guidance", "guidance", ("KC", "revenue")),
    ("KC revenue history", "history", ("KC", "revenue")),
    ("KC adjusted gross margin trend", "history", ("KC", "adjusted", "gross", "margin")),
    ("compare KC BIDU revenue", "compare", ("KC", "BIDU", "revenue")),
    ("compare KC, BIDU revenue", "compare", ("KC", "BIDU", "revenue")),
    ("compare KC with BIDU revenue", "compare", ("KC", "BIDU", "revenue")),
    ("KC vs BIDU revenue", "compare", ("KC", "BIDU", "revenue")),
    ("KC versus BIDU", "compare", ("KC", "BIDU")),
    ("watch KC", "watch", ("KC",)),
    ("watch KC BIDU", "watch", ("KC", "BIDU")),
    ("follow kingsoft cloud", "watch", ("kingsoft", "cloud")),
    ("unwatch KC", "unwatch", ("KC",)),
    ("watchlist", "watchlist", ()),
    ("list", "watchlist", ()),
    ("guidance", "digest", ("guidance",)),
    ("history", "digest", ("history",)),
])
def test_actions_and_words(text: str, action: str, words: tuple[str, ...]) -> None:
    query = parse(text)
    assert (query.action, query.words) == (action, words)
    assert query.text == text.strip()


@pytest.mark.parametrize(("text", "year", "quarter", "label"), [
    ("Q1 2024", 2024, 1, "Q1 2024"),
    ("q3 2023", 2023, 3, "Q3 2023"),
    ("Q1'24", 2024, 1, "Q1 2024"),
    ("Q1-2024", 2024, 1, "Q1 2024"),
    ("Q4 FY24", 2024, 4, "Q4 2024"),
    ("1Q24", 2024, 1, "Q1 2024"),
    ("2Q 2023", 2023, 2, "Q2 2023"),
    ("2024 Q1", 2024, 1, "Q1 2024"),
    ("2024Q2", 2024, 2, "Q2 2024"),
    ("first quarter 2024", 2024, 1, "Q1 2024"),
    ("fourth quarter of fiscal 2023", 2023, 4, "Q4 2023"),
    ("FY2024", 2024, None, "FY2024"),
    ("FY 23", 2023, None, "FY2023"),
    ("fiscal year 2022", 2022, None, "FY2022"),
    ("full-year 2024", 2024, None, "FY2024"),
])
def test_periods(text: str, year: int, quarter: int | None, label: str) -> None:
    period = parse_period(text)
    assert period is not None
    assert (period.fiscal_year, period.fiscal_quarter, period.label) == (year, quarter, label)


@pytest.mark.parametrize("text", ["", "revenue", "Q5 2024", "Q1", "2024", "FY", "HQ1 2024", "1Q2024x"])
def test_no_period(text: str) -> None:
    assert parse_period(text) is None


@pytest.mark.parametrize(("text", "action", "words", "label"), [
    ("KC capex Q1 2024", "figure", ("KC", "capex"), "Q1 2024"),
    ("KC Q1 2024 capex", "figure", ("KC", "capex"), "Q1 2024"),
    ("KC 1Q24 revenue", "figure", ("KC", "revenue"), "Q1 2024"),
    ("KC revenue FY2023", "figure", ("KC", "revenue"), "FY2023"),
    ("KC Q4 2023", "digest", ("KC",), "Q4 2023"),
    ("KC guidance Q1 2024", "guidance", ("KC",), "Q1 2024"),
    ("compare KC BIDU revenue Q1 2024", "compare", ("KC", "BIDU", "revenue"), "Q1 2024"),
])
def test_a_period_anywhere_is_taken_out_of_the_words(
    text: str, action: str, words: tuple[str, ...], label: str
) -> None:
    query = parse(text)
    assert (query.action, query.words) == (action, words)
    assert query.period is not None and query.period.label == label


def test_first_period_named_wins() -> None:
    found = find_period("KC Q4 2023 vs Q1 2024")
    assert found is not None and found[0].label == "Q4 2023" and found[1] == (3, 10)


@pytest.mark.parametrize("text", ["<!channel> KC", "KC <@U123> revenue", "\x00\x01 KC", "a" * 5000, "watch " * 300])
def test_parse_never_raises_on_odd_input(text: str) -> None:
    assert parse(text).action in ("help", "digest", "figure", "watch", "compare")
