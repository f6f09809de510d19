"""The seed transcript (Kingsoft Cloud Q1 2024) gives the digest the product was conceived for."""

from __future__ import annotations

import pytest

from bot.extract import extract
from bot.extract.load import load_path
from bot.models import Metric, Report
from tests.corpus import SEED, require_shared


@pytest.fixture(scope="module")
def report() -> Report:
    require_shared()
    return extract(load_path(SEED))


def metric(report: Report, key: str) -> Metric:
    found = report.metric(key)
    assert found is not None, f"{key} missing; have {[m.key for m in report.metrics]}"
    return found


def test_identity(report: Report) -> None:
    assert report.company == "Kingsoft Cloud"
    assert report.ticker == "KC"
    assert report.kind == "transcript"
    assert (report.period.fiscal_year, report.period.fiscal_quarter, report.period.label) == (2024, 1, "Q1 2024")
    assert report.currency == "RMB"


@pytest.mark.parametrize(
    ("key", "value", "unit", "basis"),
    [
        ("revenue", 1_775_700_000, "RMB", None),
        ("adjusted_gross_profit", 299_100_000, "RMB", "adjusted"),
        ("adjusted_gross_margin", 16.8, "%", "adjusted"),
        ("adjusted_ebitda", 33_190_000, "RMB", "adjusted"),
        ("adjusted_ebitda_margin", 1.9, "%", "adjusted"),
        ("public_cloud_revenue", 1_187_400_000, "RMB", None),
        ("enterprise_cloud_revenue", 588_200_000, "RMB", None),
        ("ai_revenue", 160_000_000, "RMB", None),
        ("capex", 1_212_200_000, "RMB", None),
        ("cash", 1_800_000_000, "RMB", None),
        ("cost_of_revenue", 1_482_400_000, "RMB", None),
        ("idc_costs", 768_500_000, "RMB", None),
        ("depreciation_and_amortization_costs", 183_500_000, "RMB", None),
        ("solution_development_and_services_costs", 446_000_000, "RMB", None),
        ("fulfillment_costs", 36_100_000, "RMB", None),
        ("other_costs", 48_300_000, "RMB", None),
        ("adjusted_operating_expenses", 469_600_000, "RMB", "adjusted"),
        ("adjusted_rd_expenses", 193_000_000, "RMB", "adjusted"),
        ("adjusted_sm_expenses", 97_900_000, "RMB", "adjusted"),
        ("adjusted_ga_expenses", 178_700_000, "RMB", "adjusted"),
    ],
)
def test_headline_values(report: Report, key: str, value: float, unit: str, basis: str | None) -> None:
    m = metric(report, key)
    assert m.value == pytest.approx(value)
    assert m.unit == unit
    assert m.basis == basis
    assert m.value_text in m.quote


def test_total_revenue_keeps_the_precise_statement_and_lists_the_other(report: Report) -> None:
    m = metric(report, "revenue")
    assert m.value_text == "RMB1,775.7 million"
    assert m.change.qoq_pct == pytest.approx(3.1)
    assert any(x.value_text == "RMB1.78 billion" for x in m.mentions)
    assert m.speaker == "Haijian He"


def test_public_cloud_prior_is_a_prior_not_a_figure(report: Report) -> None:
    m = metric(report, "public_cloud_revenue")
    assert m.change.qoq_pct == pytest.approx(12.9)
    assert m.prior.prior_quarter == pytest.approx(1_052_000_000)
    assert m.verified is True
    assert not any(x.value == pytest.approx(1_052_000_000) for x in report.metrics)


def test_changes_and_priors(report: Report) -> None:
    gp = metric(report, "adjusted_gross_profit")
    assert gp.change.yoy_pct == pytest.approx(53.8)
    gm = metric(report, "adjusted_gross_margin")
    assert gm.prior.prior_year == pytest.approx(10.4)
    assert gm.prior.prior_quarter == pytest.approx(15.2)
    assert gm.change.qoq_pp == pytest.approx(1.6)
    assert gm.verified is True
    ebitda = metric(report, "adjusted_ebitda")
    assert ebitda.prior.prior_year == pytest.approx(-130_500_000)
    assert ebitda.prior.prior_quarter == pytest.approx(-27_700_000)
    margin = metric(report, "adjusted_ebitda_margin")
    assert margin.prior.prior_year == pytest.approx(-7)
    assert margin.prior.prior_quarter == pytest.approx(-1.6)
    ai = metric(report, "ai_revenue")
    assert ai.change.qoq_pct == pytest.approx(93)
    idc = metric(report, "idc_costs")
    assert idc.change.yoy_pct == pytest.approx(-11.9)
    assert idc.prior.prior_year == pytest.approx(872_400_000)
    assert idc.verified is True


def test_enterprise_cloud_contradiction_is_flagged(report: Report) -> None:
    m = metric(report, "enterprise_cloud_revenue")
    assert m.prior.prior_quarter == pytest.approx(670_300_000)
    assert m.verified is False
    flags = [f for f in report.flags if f.kind == "contradiction"]
    assert len(flags) == 1
    assert "RMB670.3 million" in flags[0].quote and "increase" in flags[0].message
    assert "12.2% decrease" in flags[0].message


def test_doubtful_figures_are_flagged(report: Report) -> None:
    doubtful = [f for f in report.flags if f.kind == "doubtful"]
    assert any("sic" in f.message for f in doubtful)
    assert any("[RMB469.6 million]" in f.message for f in doubtful)


def test_outlook(report: Report) -> None:
    quotes = [g.quote for g in report.guidance]
    assert any("both gross margin and EBITDA margin will continue to improve" in q for q in quotes)
    assert any("few more times multiplied by this quarter" in q for q in quotes)
    refusals = [g for g in report.guidance if g.kind == "refusal"]
    assert len(refusals) == 1 and "numeric guidance on the EBITDA margin" in refusals[0].quote
    assert refusals[0].metric is not None and "EBITDA margin" in refusals[0].metric
    assert all(g.section == "qa" for g in report.guidance if "few more times" in g.quote)


def test_no_safe_harbour_as_guidance(report: Report) -> None:
    for g in report.guidance:
        assert "forward-looking" not in g.quote.lower()
        assert "Securities" not in g.quote


def test_quotes_are_verbatim(report: Report) -> None:
    text = load_path(SEED).text
    for m in report.metrics:
        assert text[m.start : m.end] == m.quote
    for g in report.guidance:
        assert text[g.start : g.end] == g.quote


def test_ebitda_said_twice_keeps_the_ceos_more_precise_figure(report: Report) -> None:
    m = metric(report, "adjusted_ebitda")
    assert m.value_text == "RMB33.19 million"
    assert [x.value_text for x in m.mentions] == ["RMB33.2 million"]
    assert m.prior.prior_quarter == pytest.approx(-27_700_000)
    assert m.qualifier == "first positive"
    margin = metric(report, "adjusted_ebitda_margin")
    assert margin.change.yoy_pp == pytest.approx(8.9)
    assert margin.verified is True


def test_ecosystem_share_is_a_kpi(report: Report) -> None:
    share = metric(report, "xiaomi_and_kingsoft_ecosystem_revenue_share")
    assert share.value == pytest.approx(19) and share.unit == "%"
    assert share.change.yoy_pp == pytest.approx(4)
