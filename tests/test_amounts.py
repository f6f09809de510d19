"""Figures found in earnings sentences: spans, values in base units, and the numbers that are not figures."""

from __future__ import annotations

import random
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.errors import InputError
from bot.extract.amount_format import decimals, format_amount
from bot.extract.amounts import Amount, find_amounts, parse_amount
from tests.corpus import SEED, corpus_documents, require_shared


def only(text: str, default: str | None = None) -> Amount:
    found = find_amounts(text, default)
    assert len(found) == 1, [a.raw for a in found]
    assert found[0].raw == text[found[0].start : found[0].end]
    return found[0]


# text, raw, value, high, kind, unit
@pytest.mark.parametrize(
    ("text", "raw", "value", "high", "kind", "unit"),
    [
        ("Net sales came to RMB2,468.3 million.", "RMB2,468.3 million", 2468300000.0, None, "money", "RMB"),
        ("Sales were 2468.3 million RMB this year.", "2468.3 million RMB", 2468300000.0, None, "money", "RMB"),
        ("Cash stood at US$612.4 million.", "US$612.4 million", 612400000.0, None, "money", "USD"),
        ("Opex was USD 41 million.", "USD 41 million", 41000000.0, None, "money", "USD"),
        ("Orders hit $7.25B last quarter.", "$7.25B", 7250000000.0, None, "money", "USD"),
        ("Capex of $19M was lower.", "$19M", 19000000.0, None, "money", "USD"),
        ("Debt fell to $3.4bn.", "$3.4bn", 3400000000.0, None, "money", "USD"),
        ("The deal is worth $12 mn.", "$12 mn", 12000000.0, None, "money", "USD"),
        ("A fee of $650k applies.", "$650k", 650000.0, None, "money", "USD"),
        ("Revenue rose to HK$8.06 billion.", "HK$8.06 billion", 8060000000.0, None, "money", "HKD"),
        ("Revenue was HKD 3.3 billion.", "HKD 3.3 billion", 3300000000.0, None, "money", "HKD"),
        ("Sales reached NT$431.3 billion.", "NT$431.3 billion", 431300000000.0, None, "money", "TWD"),
        ("Sales reached TWD 97 billion.", "TWD 97 billion", 97000000000.0, None, "money", "TWD"),
        ("Profit was EUR 88 million.", "EUR 88 million", 88000000.0, None, "money", "EUR"),
        ("Profit was €1.9bn.", "€1.9bn", 1900000000.0, None, "money", "EUR"),
        ("Costs were £740 thousand.", "£740 thousand", 740000.0, None, "money", "GBP"),
        ("Costs were GBP 2.1 million.", "GBP 2.1 million", 2100000.0, None, "money", "GBP"),
        ("Sales of ¥31.5 billion in Japan.", "¥31.5 billion", 31500000000.0, None, "money", "JPY"),
        ("Net income of 6 million dollars.", "6 million dollars", 6000000.0, None, "money", "USD"),
        ("EPS grew to 47 cents.", "47 cents", 0.47, None, "money", "USD"),
        ("Spend of 3.6 billion yuan is planned.", "3.6 billion yuan", 3600000000.0, None, "money", "RMB"),
        ("Each share earned $2.23 in the quarter.", "$2.23", 2.23, None, "money", "USD"),
        ("Total assets of $ 1,204,556 at year end.", "$ 1,204,556", 1204556.0, None, "money", "USD"),
        ("營收為人民幣23.41億元。", "人民幣23.41億元", 2341000000.0, None, "money", "RMB"),
        ("淨利潤為8.6億元。", "8.6億元", 860000000.0, None, "money", "RMB"),
        ("用戶達3.2萬", "3.2萬", 32000.0, None, "number", None),
        ("毛利率提升2.4個百分點", "2.4個百分點", 2.4, None, "pp", "pp"),
        ("Gross margin was 22.7%.", "22.7%", 22.7, None, "percent", "%"),
        ("Gross margin was 22.7 %.", "22.7 %", 22.7, None, "percent", "%"),
        ("Margin reached 22.7 percent.", "22.7 percent", 22.7, None, "percent", "%"),
        ("Margin reached 22.7 per cent.", "22.7 per cent", 22.7, None, "percent", "%"),
        ("A yield of .75% on deposits.", ".75%", 0.75, None, "percent", "%"),
        ("Margin widened 2.3 percentage points.", "2.3 percentage points", 2.3, None, "pp", "pp"),
        ("Margin widened 2.3 ppts.", "2.3 ppts", 2.3, None, "pp", "pp"),
        ("Margin widened 2.3pp.", "2.3pp", 2.3, None, "pp", "pp"),
        ("Margin widened 120 basis points.", "120 basis points", 120.0, None, "bps", "bps"),
        ("Margin widened 120 bps.", "120 bps", 120.0, None, "bps", "bps"),
        ("Margin widened 120bp.", "120bp", 120.0, None, "bps", "bps"),
        ("Net leverage is 2.7x.", "2.7x", 2.7, None, "multiple", "x"),
        ("Net leverage is 2.7 times.", "2.7 times", 2.7, None, "multiple", "x"),
        ("We added 312 new customers.", "312", 312.0, None, "number", None),
        ("A track record of 17 years.", "17", 17.0, None, "number", None),
        ("Market cap passed $1.3 trillion.", "$1.3 trillion", 1.3e12, None, "money", "USD"),
        ("Capex of $12m this year.", "$12m", 12000000.0, None, "money", "USD"),
        ("A grant of $650K was received.", "$650K", 650000.0, None, "money", "USD"),
        ("收入为人民币9.8亿元", "人民币9.8亿元", 980000000.0, None, "money", "RMB"),
        ("員工5千人", "5千", 5000.0, None, "number", None),
        ("We served 4.1 million users.", "4.1 million", 4100000.0, None, "number", None),
        ("EBITDA was negative RMB58.2 million.", "negative RMB58.2 million", -58200000.0, None, "money", "RMB"),
        ("Margin was minus 4%.", "minus 4%", -4.0, None, "percent", "%"),
        ("Growth was -3.7% this year.", "-3.7%", -3.7, None, "percent", "%"),
        ("Growth was \u22123.7% this year.", "\u22123.7%", -3.7, None, "percent", "%"),
        ("Other income (41.6) in the table.", "(41.6)", -41.6, None, "number", None),
        ("Net loss of $(41.6) million.", "$(41.6) million", -41600000.0, None, "money", "USD"),
        ("Net loss of ($2.5) million.", "($2.5) million", -2500000.0, None, "money", "USD"),
        ("Operating loss of -$7.1 million.", "-$7.1 million", -7100000.0, None, "money", "USD"),
        ("Margin change (0.8)% year on year.", "(0.8)%", -0.8, None, "percent", "%"),
        ("They booked a loss of $9 million.", "$9 million", 9000000.0, None, "money", "USD"),
        ("Gross margin (31.2%) was stable.", "31.2%", 31.2, None, "percent", "%"),
    ],
)
def test_single_figure(text: str, raw: str, value: float, high: float | None, kind: str, unit: str | None) -> None:
    a = only(text)
    assert (a.raw, a.value, a.high, a.kind, a.unit) == (raw, value, high, kind, unit)


@pytest.mark.parametrize(
    ("text", "raw", "value", "high", "kind", "unit"),
    [
        ("Sales of $2.10 billion to $2.18 billion.", "$2.10 billion to $2.18 billion", 2.1e9, 2.18e9, "money", "USD"),
        ("EPS of $5.40 to $5.55 per share.", "$5.40 to $5.55", 5.4, 5.55, "money", "USD"),
        ("Revenue of $8.20 to $8.35 billion.", "$8.20 to $8.35 billion", 8.2e9, 8.35e9, "money", "USD"),
        ("Margin of 38 to 40 percent.", "38 to 40 percent", 38.0, 40.0, "percent", "%"),
        ("Margin of 38% to 40%.", "38% to 40%", 38.0, 40.0, "percent", "%"),
        ("Margin of 38-40%.", "38-40%", 38.0, 40.0, "percent", "%"),
        ("Between $1.05 billion and $1.09 billion.", "$1.05 billion and $1.09 billion", 1.05e9, 1.09e9, "money", "USD"),
        ("Sales of $3.15-$3.19 billion.", "$3.15-$3.19 billion", 3.15e9, 3.19e9, "money", "USD"),
        ("Sales: $3.15 billion - $3.19 billion.", "$3.15 billion - $3.19 billion", 3.15e9, 3.19e9, "money", "USD"),
        ("Opex of $41\u201344 million.", "$41\u201344 million", 41e6, 44e6, "money", "USD"),
        ("Other income $(2.0) million to $2.0 million.", "$(2.0) million to $2.0 million", -2e6, 2e6, "money", "USD"),
        ("Other income ($2.0) million - $2.0 million.", "($2.0) million - $2.0 million", -2e6, 2e6, "money", "USD"),
        ("Sales $21.0 billion, plus or minus 2%.", "$21.0 billion, plus or minus 2%", 20.58e9, 21.42e9, "money", "USD"),
        ("Revenue of $21.0 billion, \u00b12%.", "$21.0 billion, \u00b12%", 20.58e9, 21.42e9, "money", "USD"),
        ("61.5%, plus or minus 50 basis points", "61.5%, plus or minus 50 basis points", 61.0, 62.0, "percent", "%"),
        ("17%, plus or minus 1 percentage point", "17%, plus or minus 1 percentage point", 16.0, 18.0, "percent", "%"),
        ("Tax rate of 17%, plus or minus 1%.", "17%, plus or minus 1%", 16.0, 18.0, "percent", "%"),
        ("Opex $900 million, \u00b1 $20 million", "$900 million, \u00b1 $20 million", 880e6, 920e6, "money", "USD"),
        ("FX moves sales by \u00b13%.", "\u00b13%", -3.0, 3.0, "percent", "%"),
        ("Sales should be flat to down 4%.", "flat to down 4%", -4.0, 0.0, "percent", "%"),
        ("Sales should be flat to up 5%.", "flat to up 5%", 0.0, 5.0, "percent", "%"),
        ("Sales should be down 4% to flat.", "4% to flat", -4.0, 0.0, "percent", "%"),
        ("Sales should be up 3% to 6%.", "3% to 6%", 3.0, 6.0, "percent", "%"),
        ("Sales should be down 3% to 6%.", "3% to 6%", 3.0, 6.0, "percent", "%"),
        ("Leverage of 2.5 to 3 times.", "2.5 to 3 times", 2.5, 3.0, "multiple", "x"),
        ("Expansion of 40 to 60 basis points.", "40 to 60 basis points", 40.0, 60.0, "bps", "bps"),
        ("預計收入17億至18億元", "17億至18億元", 1.7e9, 1.8e9, "money", "RMB"),
    ],
)
def test_ranges(text: str, raw: str, value: float, high: float, kind: str, unit: str) -> None:
    a = only(text)
    assert (a.raw, a.value, a.high, a.kind, a.unit) == (raw, value, high, kind, unit)


@pytest.mark.parametrize(
    ("text", "raws"),
    [
        ("Costs fell from RMB88.1 million to RMB80.2 million.", ["RMB88.1 million", "RMB80.2 million"]),
        ("Margin improved from 12.5% to 14.0% this year.", ["12.5%", "14.0%"]),
        ("Opex were $3.1 million and $4.2 million, respectively.", ["$3.1 million", "$4.2 million"]),
        ("Sales grew 8% to $1.4 billion.", ["8%", "$1.4 billion"]),
        ("Margin rose 1.2 percentage points to 41%.", ["1.2 percentage points", "41%"]),
        ("A 50-50 joint venture.", ["50", "50"]),
        ("Margins of 74.1% and 74.6%, respectively, plus or minus 50 basis points.",
         ["74.1%", "74.6%", "plus or minus 50 basis points"]),
    ],
)
def test_figures_that_stay_apart(text: str, raws: list[str]) -> None:
    assert [a.raw for a in find_amounts(text)] == raws


# text, approximate, bound
@pytest.mark.parametrize(
    ("text", "approximate", "bound"),
    [
        ("Revenue of approximately $5.1 billion.", True, None),
        ("Revenue of about $5.1 billion.", True, None),
        ("Revenue of around $5.1 billion.", True, None),
        ("Revenue of roughly $5.1 billion.", True, None),
        ("Revenue of nearly $5.1 billion.", True, None),
        ("Revenue of ~$5.1 billion.", True, None),
        ("Revenue of ~ 5.1%.", True, None),
        ("Revenue of over $5.1 billion.", True, "min"),
        ("Revenue of more than $5.1 billion.", True, "min"),
        ("Revenue exceeding $5.1 billion.", True, "min"),
        ("Revenue above $5.1 billion.", True, "min"),
        ("Revenue of at least $5.1 billion.", True, "min"),
        ("Revenue of less than $5.1 billion.", True, "max"),
        ("Revenue under $5.1 billion.", True, "max"),
        ("Revenue below $5.1 billion.", True, "max"),
        ("Revenue of up to $5.1 billion.", True, "max"),
        ("Revenue of at most $5.1 billion.", True, "max"),
        ("Revenue of no more than $5.1 billion.", True, "max"),
        ("Revenue of $5.1 billion.", False, None),
        ("Revenue up 9%, over $5.1 billion in 2023.", True, "min"),
        ("約人民幣5億元", True, None),
        ("超過人民幣5億元", True, "min"),
    ],
)
def test_qualifiers(text: str, approximate: bool, bound: str | None) -> None:
    a = find_amounts(text)[-1]
    assert a.raw in ("$5.1 billion", "5.1%", "人民幣5億元")  # the qualifier stays outside the span
    assert (a.approximate, a.bound) == (approximate, bound)


def test_comparison_is_not_a_bound() -> None:
    grew, base = find_amounts("Sales grew 12% over $4.4 billion a year ago.")
    assert (grew.raw, base.raw, base.bound, base.approximate) == ("12%", "$4.4 billion", None, False)


def test_range_keeps_qualifier_and_between() -> None:
    a = only("We expect between approximately $1.1 billion and $1.2 billion.")
    assert (a.value, a.high, a.approximate) == (1.1e9, 1.2e9, True)


# a figure must not be found in any of these
@pytest.mark.parametrize(
    "text",
    [
        "Results for 2024 were filed.",
        "Our FY2024 plan.",
        "In fiscal 2023 we grew.",
        "Compared with 2022 and 2023.",
        "As of March 31, 2024 we had cash.",
        "As of 30 June 2024 we had cash.",
        "As of Sept. 30, 2024 we had cash.",
        "Dated 2024-06-30.",
        "Dated 6/30/2024.",
        "Q1 results.",
        "Q4 2023 results.",
        "First-quarter 2024 results.",
        "1Q24 results.",
        "H1 2024 results.",
        "3Q FY25 results.",
        "Q2'24 results.",
        "Dial 1-888-555-0142 to join.",
        "Dial +1 (646) 555-0173 to join.",
        "Dial (866) 555-0129 to join.",
        "Dial 1 (866) 555-0129 to join.",
        "Dial +852 3018 6771 to join.",
        "The call starts at 8:00 a.m. Eastern.",
        "The call starts at 8 p.m. Eastern.",
        "(00:14:52) Thank you.",
        "Please turn to slide 7.",
        "As shown on page 12.",
        "See Item 7.01 of the filing.",
        "Under Section 27A of the Act.",
        "Refer to Note 4.",
        "See pages 9 and 10 of the deck.",
        "Part of the S&P 500 index.",
        "Powered by the Snapdragon 8 chip family.",
        "Launch of the Xiaomi YU7 model.",
        "Shipping the DGX GB200 system.",
        "Deploying 128 and 1024 node clusters.",
        "Built on a 3 nm process.",
        "Listed as (NYSE: ABC).",
        "Shares of 09988.HK rose.",
        "Shares of 2330.TW rose.",
        "Listed on HKEX: 9988 since 2019.",
        "Accession number 0001104659-24-012345.",
        "CIK 0001045810 files quarterly.",
        "Headquarters in Austin, TX 78701.",
        "Suite 400, Austin.",
        "Office at Haidian District, Beijing 100085.",
        "Amid COVID-19 disruptions.",
        "Filed on Form 10-Q.",
        "Over a 12-month period.",
        "Trading under Rule 10b5-1 plans.",
        "Available 24/7 to customers.",
        "Release 2.4.1 shipped.",
        "(1) Adjusted EBITDA excludes items.",
        "1. Revenue by segment",
        "Adjusted EBITDA(1) rose.",
        "It is our No. 1 priority.",
        "2024年第一季",
    ],
)
def test_not_figures(text: str) -> None:
    assert find_amounts(text, "USD") == []


@pytest.mark.parametrize(
    ("text", "default", "raw", "value", "kind", "unit", "explicit"),
    [
        ("Revenue was 4.6 billion this quarter.", "RMB", "4.6 billion", 4.6e9, "money", "RMB", False),
        ("Revenue was 4.6 billion this quarter.", None, "4.6 billion", 4.6e9, "number", None, False),
        ("We have 4.6 billion users.", "RMB", "4.6 billion", 4.6e9, "number", None, False),
        ("We have 4.6 million monthly active users.", "RMB", "4.6 million", 4.6e6, "number", None, False),
        ("We bought back 4.6 million shares.", "USD", "4.6 million", 4.6e6, "number", None, False),
        ("Shipments of 4.6 million tons.", "USD", "4.6 million", 4.6e6, "number", None, False),
        ("There were 46 stores.", "RMB", "46", 46.0, "number", None, False),
        ("Revenue of $4.6 billion.", "HKD", "$4.6 billion", 4.6e9, "money", "HKD", True),
        ("Revenue of US$4.6 billion.", "HKD", "US$4.6 billion", 4.6e9, "money", "USD", True),
        ("Revenue of ¥4.6 billion.", "RMB", "¥4.6 billion", 4.6e9, "money", "RMB", True),
        ("Revenue of ¥4.6 billion.", "USD", "¥4.6 billion", 4.6e9, "money", "JPY", True),
        ("營收46億元", "TWD", "46億元", 4.6e9, "money", "TWD", True),
        ("Revenue of 4.6 billion.", "CNY", "4.6 billion", 4.6e9, "money", "RMB", False),
        ("Revenue of 46M.", "USD", None, 0.0, "", None, False),
        ("A 3M product line.", "USD", None, 0.0, "", None, False),
    ],
)
def test_default_currency(
    text: str, default: str | None, raw: str | None, value: float, kind: str, unit: str | None, explicit: bool
) -> None:
    found = find_amounts(text, default)
    if raw is None:
        assert found == []
        return
    assert [(a.raw, a.value, a.kind, a.unit, a.currency_explicit) for a in found] == [
        (raw, value, kind, unit, explicit)
    ]


def test_scale_written() -> None:
    assert [a.scale_written for a in find_amounts("RMB5 million, RMB5, 5%, $2B and $4-5 million")] == [
        True, False, False, True, True
    ]


def test_values_are_exact() -> None:
    text = "RMB1,775.7 million, RMB33.19 million, $0.07, 16.8%, 1.6 percentage points and $1.1 billion"
    assert [a.value for a in find_amounts(text)] == [1775700000.0, 33190000.0, 0.07, 16.8, 1.6, 1100000000.0]


def test_spans_in_a_longer_text() -> None:
    text = "Revenue (RMB m): 1,062.4 vs 998.0; margin 9.1% (up 0.4pp), per page 3 of the Q2 2024 deck."
    found = find_amounts(text)
    assert [a.raw for a in found] == ["1,062.4", "998.0", "9.1%", "0.4pp"]
    assert all(text[a.start : a.end] == a.raw for a in found)


@pytest.mark.parametrize(
    ("fragment", "raw", "value", "high"),
    [
        ("RMB1,775.7 million", "RMB1,775.7 million", 1775700000.0, None),
        ("  43% to 45% ", "43% to 45%", 43.0, 45.0),
        ("around RMB300 million", "RMB300 million", 300000000.0, None),
        ("revenue", None, 0.0, None),
        ("RMB1.2 billion, up 5%", None, 0.0, None),
    ],
)
def test_parse_amount(fragment: str, raw: str | None, value: float, high: float | None) -> None:
    a = parse_amount(fragment)
    if raw is None:
        assert a is None
        return
    assert a is not None
    assert (a.raw, a.value, a.high, fragment[a.start : a.end]) == (raw, value, high, raw)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("RMB1,775.7 million", 1),
        ("$4.75B", 2),
        ("16.8%", 1),
        ("1,052", 0),
        ("$(12.30) million", 2),
        (".5 percent", 1),
        ("$4.75-$4.8 billion", 2),
        ("人民幣17.76億元", 2),
    ],
)
def test_decimals(raw: str, expected: int) -> None:
    assert decimals(raw) == expected


@pytest.mark.parametrize(
    ("value", "unit", "places", "expected"),
    [
        (1775700000.0, "RMB", 1, "RMB1,775.7M"),
        (1775700000.0, "RMB", None, "RMB1,775.7M"),
        (4750000000.0, "USD", None, "$4.75B"),
        (4750000000.0, "USD", 2, "$4.75B"),
        (1780000000.0, "RMB", 2, "RMB1.78B"),
        (33190000.0, "RMB", None, "RMB33.19M"),
        (2.23, "USD", None, "$2.23"),
        (2.2345, "USD", None, "$2.23"),
        (1234567891.0, "USD", None, "$1.23B"),
        (28000.0, "EUR", None, "€28K"),
        (-130500000.0, "RMB", 1, "-RMB130.5M"),
        (-0.001, "USD", None, "$0"),
        (5200000000.0, "HKD", None, "HK$5.2B"),
        (5200000000.0, "CHF", None, "CHF5.2B"),
        (16.8, "%", None, "16.8%"),
        (16.8, "%", 2, "16.80%"),
        (-1.6, "%", None, "-1.6%"),
        (1.6, "pp", None, "1.6pp"),
        (50.0, "bps", None, "50bps"),
        (3.5, "x", None, "3.5x"),
        (84.0, None, None, "84"),
        (4100000.0, None, None, "4.1M"),
        (4100000.0, "count", None, "4.1M"),
    ],
)
def test_format_amount(value: float, unit: str | None, places: int | None, expected: str) -> None:
    assert format_amount(value, unit, decimals=places) == expected


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: find_amounts("RMB5 million", "renminbi"), "default_currency"),
        (lambda: decimals("no digits"), "no number"),
        (lambda: format_amount(float("nan"), "USD"), "non-finite"),
        (lambda: format_amount(1.0, "USD", decimals=-1), "decimals"),
        (lambda: format_amount(1.0, "dollars"), "unknown unit"),
    ],
)
def test_bad_input(call: object, message: str) -> None:
    with pytest.raises(InputError, match=message):
        call()  # type: ignore[operator]


def _check_shape(text: str, found: list[Amount]) -> None:
    previous_end = 0
    for a in found:
        assert a.raw == text[a.start : a.end]
        assert previous_end <= a.start < a.end
        assert a.high is None or a.value <= a.high
        previous_end = a.end


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_any_text_never_raises(text: str) -> None:
    _check_shape(text, find_amounts(text, "RMB"))


FIGURE_ALPHABET = "0123456789.,%$()-−–±~ \n元億萬RMBbnmillionKMBxpercntagoisflatdwu"


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=FIGURE_ALPHABET, max_size=200))
def test_figure_like_text_never_raises(text: str) -> None:
    _check_shape(text, find_amounts(text))


TOKENS = (
    "to up down flat between and from approximately about more than at least up plus or minus negative million "
    "billion bn M B RMB US$ $ ( ) - – ± % , . 5 12 0.5 1,234.5 2024 Q1 page March 31 node 元 億 3.5x bps pp "
    "percentage points times users (1) 1-800-555-0100 5:00 \n"
).split(" ")


@settings(max_examples=500, deadline=None)
@given(st.lists(st.sampled_from(TOKENS), max_size=30), st.sampled_from(["", " "]))
def test_token_soup_never_raises(tokens: list[str], glue: str) -> None:
    text = glue.join(tokens)
    _check_shape(text, find_amounts(text, "USD"))


def test_pathological_input_finishes() -> None:
    rng = random.Random(7)
    text = "".join(rng.choice("0123456789,. ") for _ in range(200_000))
    found = find_amounts(text, "USD")
    _check_shape(text, found)
    assert found and all(a.kind == "number" for a in found)
    long_run = "1," * 20_000 + "5"
    _check_shape(long_run, find_amounts(long_run))


ENGLISH = re.compile(r"^[^\u4e00-\u9fff]*$")
RMB_FIGURE = re.compile(r"(?:negative )?RMB[\d,.]+ (?:million|billion)")


@pytest.mark.corpus
def test_seed_rmb_figures() -> None:
    require_shared()
    lines = [line for line in SEED.read_text(encoding="utf-8").splitlines() if ENGLISH.match(line)]
    expected = [m.group(0) for line in lines for m in RMB_FIGURE.finditer(line)]
    found = [a for line in lines for a in find_amounts(line, "RMB") if a.unit == "RMB"]
    assert len(expected) >= 30
    assert [a.raw for a in found] == expected
    for a in found:
        number = float(re.sub(r"[^\d.]", "", a.raw.split("RMB")[1]))
        scale = 1e9 if a.raw.endswith("billion") else 1e6
        assert a.value == pytest.approx(number * scale * (-1 if a.raw.startswith("negative") else 1), rel=1e-12)
        assert a.currency_explicit


@pytest.mark.corpus
def test_seed_has_no_years_or_labels() -> None:
    require_shared()
    text = SEED.read_text(encoding="utf-8")
    raws = {a.raw for a in find_amounts(text, "RMB")}
    assert not raws & {"2024", "2023", "2022", "1934", "1995", "21", "6", "7"}


@pytest.mark.corpus
def test_corpus_spans_are_exact() -> None:
    require_shared()
    for path in corpus_documents():
        text = path.read_text(encoding="utf-8", errors="replace")
        _check_shape(text, find_amounts(text, "USD"))
