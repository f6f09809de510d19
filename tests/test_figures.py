"""Reading figures sentence by sentence: which metric, which role, which period (one line per case)."""

from __future__ import annotations

import pytest

from bot.extract import extract
from bot.models import Document, Segment


def doc(*paragraphs: str, kind: str = "transcript") -> Document:
    text = "\n".join(paragraphs)
    segments, pos = [], 0
    for p in paragraphs:
        segments.append(Segment(start=pos, end=pos + len(p), section="prepared"))
        pos += len(p) + 1
    return Document(text=text, kind=kind, format="test", segments=tuple(segments))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("sentence", "key", "value", "unit"),
    [
        ("Net revenues were $412.5 million for the quarter.", "revenue", 412_500_000, "USD"),
        ("Total revenue reached RMB2.3 billion, up 8% year over year.", "revenue", 2_300_000_000, "RMB"),
        ("Gross margin was 41.2% compared with 39.0% a year ago.", "gross_margin", 41.2, "%"),
        ("Adjusted EBITDA was €12.4 million this quarter.", "adjusted_ebitda", 12_400_000, "EUR"),
        ("Non-GAAP diluted EPS was $1.23.", "adjusted_eps", 1.23, "USD"),
        ("Net loss was $3.2 million in the quarter.", "net_income", -3_200_000, "USD"),
        ("We reported a net loss of $(5.1) million.", "net_income", -5_100_000, "USD"),
        ("Free cash flow was $88 million.", "free_cash_flow", 88_000_000, "USD"),
        ("Capital expenditures were $45.0 million in the period.", "capex", 45_000_000, "USD"),
        ("Same-store sales increased 3.4% in the quarter.", "same_store_sales", 3.4, "%"),
        ("Net interest margin was 3.12% for the quarter.", "net_interest_margin", 3.12, "%"),
        ("Data Center revenue was $26.3 billion, up 16% sequentially.", "data_center_revenue", 26_300_000_000, "USD"),
        ("Revenues from our advertising services were $1.1 billion.", "advertising_revenue", 1_100_000_000, "USD"),
        ("R&D expenses were $210.4 million.", "rd_expenses", 210_400_000, "USD"),
        ("Cash and cash equivalents were $1.5 billion as of June 30, 2024.", "cash", 1_500_000_000, "USD"),
        ("Backlog was $2.1 billion at quarter end.", "backlog", 2_100_000_000, "USD"),
    ],
)
def test_value(sentence: str, key: str, value: float, unit: str) -> None:
    report = extract(doc(sentence))
    m = report.metric(key)
    assert m is not None, [x.key for x in report.metrics]
    assert m.value == pytest.approx(value)
    assert m.unit == unit
    assert m.value_text in m.quote


@pytest.mark.parametrize(
    ("sentence", "key", "field", "value"),
    [
        ("Total revenue reached RMB2.3 billion, up 8% year over year.", "revenue", "yoy_pct", 8),
        ("Revenue was $10.0 million, a decrease of 5% sequentially.", "revenue", "qoq_pct", -5),
        ("Revenue was $10.0 million, down 12% from the prior year.", "revenue", "yoy_pct", -12),
        ("Gross margin was 40.1%, up 150 basis points year over year.", "gross_margin", "yoy_pp", 1.5),
        ("Gross margin was 40.1%, down 2.1 percentage points quarter over quarter.", "gross_margin", "qoq_pp", -2.1),
        ("Net sales grew 7.5% year-over-year to $1.2 billion.", "revenue", "yoy_pct", 7.5),
    ],
)
def test_change(sentence: str, key: str, field: str, value: float) -> None:
    m = extract(doc(sentence)).metric(key)
    assert m is not None
    assert getattr(m.change, field) == pytest.approx(value)


@pytest.mark.parametrize(
    ("sentence", "key", "field", "value"),
    [
        ("Revenue was $110 million compared with $100 million in the same period of last year.", "revenue",
         "prior_year", 100_000_000),
        ("Revenue was $110 million, up from $100 million last quarter.", "revenue", "prior_quarter", 100_000_000),
        ("Revenue increased 10% year over year from $100 million to $110 million.", "revenue", "prior_year",
         100_000_000),
    ],
)
def test_prior(sentence: str, key: str, field: str, value: float) -> None:
    report = extract(doc(sentence))
    m = report.metric(key)
    assert m is not None
    assert getattr(m.prior, field) == pytest.approx(value)
    assert m.value == pytest.approx(110_000_000)
    assert len([x for x in report.metrics if x.key == key]) == 1


@pytest.mark.parametrize(
    ("sentence", "verified", "flag"),
    [
        ("Revenue was $110 million, up 10% from $100 million in the last quarter.", True, None),
        ("Revenue was $110 million, up 15% from $100 million in the last quarter.", False, "arithmetic_mismatch"),
        ("Revenue was $90 million, representing an increase from $100 million in the last quarter.", False,
         "contradiction"),
        ("Revenue was $110 million, up 10%.", None, None),
    ],
)
def test_checks(sentence: str, verified: bool | None, flag: str | None) -> None:
    report = extract(doc(sentence))
    m = report.metric("revenue")
    assert m is not None
    assert m.verified is verified
    assert [f.kind for f in report.flags] == ([flag] if flag else [])


def test_respectively_pairs_lines_in_order() -> None:
    report = extract(doc("Shipping costs and other costs were $3.1 million and $4.2 million, respectively."))
    assert report.metric("shipping_costs").value == pytest.approx(3_100_000)  # type: ignore[union-attr]
    assert report.metric("other_costs").value == pytest.approx(4_200_000)  # type: ignore[union-attr]


def test_same_figure_said_twice_keeps_the_most_precise() -> None:
    report = extract(doc("Revenue reached $1.78 billion.", "Revenue was $1,775.7 million this quarter."))
    m = report.metric("revenue")
    assert m is not None and m.value_text == "$1,775.7 million"
    assert [x.value_text for x in m.mentions] == ["$1.78 billion"]


@pytest.mark.parametrize(
    "sentence",
    [
        "The call will be held on March 31, 2024 at 5:00 p.m.",
        "Please dial 1-877-407-0789 to join.",
        "Turning to slide 5, our results for fiscal 2023 were strong.",
        "We opened 12 new stores in Q4 2023.",
    ],
)
def test_not_figures(sentence: str) -> None:
    assert extract(doc(sentence)).metrics == ()


@pytest.mark.parametrize(
    ("sentence", "metric", "low", "high", "unit", "direction"),
    [
        ("For the third quarter, we expect revenue between $2.35 billion and $2.39 billion.", "Total revenues",
         2.35e9, 2.39e9, "USD", None),
        ("We are raising our full-year revenue guidance to $6.50 to $6.65 billion.", "Total revenues", 6.5e9, 6.65e9,
         "USD", "raised"),
        ("We expect gross margin of 43 to 45 percent next quarter.", "Gross margin", 43, 45, "%", None),
        ("We reaffirm our fiscal 2025 adjusted EPS guidance of $7.70 to $7.80.", "Adjusted EPS", 7.7, 7.8, "USD",
         "reaffirmed"),
    ],
)
def test_numeric_guidance(
    sentence: str, metric: str, low: float, high: float, unit: str, direction: str | None
) -> None:
    report = extract(doc(sentence))
    numeric = [g for g in report.guidance if g.kind == "numeric"]
    assert len(numeric) == 1
    g = numeric[0]
    assert (g.metric, g.unit, g.direction) == (metric, unit, direction)
    assert g.low == pytest.approx(low) and g.high == pytest.approx(high)


@pytest.mark.parametrize(
    ("sentence", "kind"),
    [
        ("We are not going to provide numeric guidance on EBITDA margin.", "refusal"),
        ("We expect gross margin to continue to improve in the coming quarters.", "qualitative"),
        ("Revenue came in above the high end of our guidance range at $5 million.", None),
        ("These forward-looking statements involve risks and uncertainties; we expect revenue to grow.", None),
        ("What is your expectation for gross margin next year?", None),
    ],
)
def test_guidance_kinds(sentence: str, kind: str | None) -> None:
    kinds = [g.kind for g in extract(doc(sentence)).guidance]
    assert kinds == ([kind] if kind else [])


@pytest.mark.parametrize(
    ("sentence", "key", "value"),
    [
        ("Non-GAAP EPS increased by $0.06 to $0.43.", "adjusted_eps", 0.43),
        ("Net income was $35.4 million or $0.94 per diluted share.", "eps", 0.94),
        ("On an adjusted basis, net income was $22 million or $0.67 per diluted share.", "adjusted_eps", 0.67),
    ],
)
def test_per_share_figures(sentence: str, key: str, value: float) -> None:
    m = extract(doc(sentence)).metric(key)
    assert m is not None
    assert m.value == pytest.approx(value)
