"""The store's pure rules: content hashes, company names, event identity, novelty, retries, URLs."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bot.errors import ConfigError, InputError
from bot.models import Document, Guidance, Metric, Period, Report
from bot.sources.base import FetchedDocument
from bot.store import database_url
from bot.store.keys import (
    adds_information,
    content_hash,
    identify,
    normalise_company,
    report_rank,
    require_ticker,
)
from bot.store.outbox import retry_delay
from bot.store.polls import health_after, one_line


@pytest.mark.parametrize(
    ("a", "b", "same"),
    [
        ("Revenue was $1.0 billion.", "Revenue was $1.0 billion.", True),
        ("Revenue was $1.0 billion.", "  Revenue was\n$1.0   billion.\n", True),
        ("Revenue was $1.0 billion.", "Revenue was $1.1 billion.", False),
        ("Revenue was $1.0 billion.", "revenue was $1.0 billion.", False),
    ],
)
def test_content_hash(a: str, b: str, same: bool) -> None:
    assert (content_hash(a) == content_hash(b)) is same
    assert len(content_hash(a)) == 64


@pytest.mark.parametrize(
    ("name", "normalised"),
    [
        ("Kingsoft Cloud Holdings Limited", "kingsoft cloud"),
        ("Kingsoft Cloud Holdings Ltd.", "kingsoft cloud"),
        ("The Buckle, Inc.", "buckle"),
        ("Adobe Inc.", "adobe"),
        ("Alibaba Group Holding Limited", "alibaba"),
        ("Procter & Gamble Co", "procter and gamble"),
        ("3M Company", "3m"),
        ("Group", "group"),
        ("  ", None),
        (None, None),
    ],
)
def test_normalise_company(name: str | None, normalised: str | None) -> None:
    assert normalise_company(name) == normalised


@pytest.mark.parametrize(
    ("ticker", "expected"),
    [("kc", "KC"), (" brk.b ", "BRK.B"), ("03888.HK", "03888.HK"), ("RDS-A", "RDS-A")],
)
def test_require_ticker_accepts(ticker: str, expected: str) -> None:
    assert require_ticker(ticker) == expected


@pytest.mark.parametrize("ticker", ["", "   ", "K C", "KC!", ".KC", "A" * 21])
def test_require_ticker_rejects(ticker: str) -> None:
    with pytest.raises(InputError, match="is not a valid ticker"):
        require_ticker(ticker)


def _fetched(**fields: object) -> FetchedDocument:
    return FetchedDocument(source="s", key="k", content=b"x", **fields)


def _report(ticker: str | None = None, year: int | None = None, quarter: int | None = None) -> Report:
    return Report(kind="press_release", ticker=ticker, period=Period(fiscal_year=year, fiscal_quarter=quarter))


DOC = Document(text="t", kind="press_release", format="text")


@pytest.mark.parametrize(
    ("fetched", "report", "document", "key"),
    [
        (_fetched(ticker="kc"), _report("OTHER", 2024, 1), DOC, "t:KC:2024:Q1"),  # the source's ticker wins
        (_fetched(), _report("kc", 2024, 1), DOC, "t:KC:2024:Q1"),
        (_fetched(fiscal_year=2023, fiscal_quarter=4), _report("KC", 2024, 1), DOC, "t:KC:2024:Q1"),
        (_fetched(fiscal_year=2023, fiscal_quarter=4), _report("KC", 2024), DOC, "t:KC:2023:Q4"),
        (_fetched(), _report("KC"), DOC.model_copy(update={"fiscal_year": 2022, "fiscal_quarter": 2}), "t:KC:2022:Q2"),
        (_fetched(company="Kingsoft Cloud Holdings Ltd"), _report(None, 2024, 1), DOC, "c:kingsoft cloud:2024:Q1"),
        (_fetched(), _report("KC", 2024), DOC, None),  # no quarter: no period
        (_fetched(), _report(None, 2024, 1), DOC, None),  # nobody
    ],
)
def test_identify(fetched: FetchedDocument, report: Report, document: Document, key: str | None) -> None:
    assert identify(fetched, document, report).key == key


def _m(key: str, value: float) -> Metric:
    return Metric(key=key, name=key, value=value, unit="USD", quote="q", value_text="v", start=0, end=1)


def _g(low: float, high: float) -> Guidance:
    return Guidance(metric="revenue", low=low, high=high, text="t", quote="q", start=0, end=1)


RELEASE = Report(kind="press_release", metrics=(_m("revenue", 100.0), _m("eps", 1.0)), guidance=(_g(1, 2),))


@pytest.mark.parametrize(
    ("report", "earlier", "novel"),
    [
        (RELEASE, [], True),
        (RELEASE, [RELEASE], False),
        (Report(kind="press_release", metrics=(_m("revenue", 100.0),)), [RELEASE], False),  # a subset
        (Report(kind="press_release", metrics=(_m("revenue", 101.0),)), [RELEASE], True),  # another figure
        (Report(kind="press_release", metrics=(_m("margin", 0.3),)), [RELEASE], True),  # a new metric
        (Report(kind="press_release", guidance=(_g(1, 3),)), [RELEASE], True),  # changed guidance
        (Report(kind="transcript", metrics=(_m("revenue", 100.0),)), [RELEASE], True),  # the call
        (
            RELEASE,
            [RELEASE.model_copy(update={"guidance": ()}), Report(kind="press_release", guidance=(_g(1, 2),))],
            False,
        ),
    ],
)
def test_adds_information(report: Report, earlier: list[Report], novel: bool) -> None:
    assert adds_information(report, earlier) is novel


def test_report_rank_prefers_figures_then_guidance_then_release_then_newest() -> None:
    old, new = datetime(2024, 1, 1, tzinfo=UTC), datetime(2024, 2, 1, tzinfo=UTC)
    call = Report(kind="transcript", metrics=RELEASE.metrics, guidance=RELEASE.guidance)
    ranked = sorted(
        [
            (report_rank(Report(kind="press_release"), new), "empty"),
            (report_rank(call, new), "call"),
            (report_rank(RELEASE, old), "release"),
            (report_rank(RELEASE.model_copy(update={"guidance": ()}), new), "release without guidance"),
            (report_rank(RELEASE, new), "newer release"),
        ],
        reverse=True,
    )
    assert [name for _, name in ranked] == ["newer release", "release", "call", "release without guidance", "empty"]


@pytest.mark.parametrize(("attempts", "seconds"), [(1, 30), (2, 60), (3, 120), (7, 1920), (8, 3600), (50, 3600)])
def test_retry_delay(attempts: int, seconds: float) -> None:
    assert retry_delay(attempts) == seconds


@pytest.mark.parametrize(("failures", "health"), [(0, "ok"), (1, "backing_off"), (4, "backing_off"), (5, "failing")])
def test_health_after(failures: int, health: str) -> None:
    assert health_after(failures) == health


@pytest.mark.parametrize(
    ("message", "line"),
    [("HTTP 503\nTraceback ...", "HTTP 503"), ("", "unknown error"), ("  x  ", "x"), ("a" * 600, "a" * 499 + "…")],
)
def test_one_line(message: str, line: str) -> None:
    assert one_line(message) == line


@pytest.mark.parametrize(
    ("url", "driver"),
    [
        ("sqlite+aiosqlite:///./data/bot.db", "sqlite+aiosqlite"),
        ("sqlite:///./data/bot.db", "sqlite+aiosqlite"),
        ("postgresql://u@db/bot", "postgresql+asyncpg"),
        ("postgres://u@db/bot", "postgresql+asyncpg"),
        ("postgresql+asyncpg://u@db/bot", "postgresql+asyncpg"),
    ],
)
def test_database_url_picks_the_async_driver(url: str, driver: str) -> None:
    assert database_url(url).drivername == driver


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("mysql://u:pw@db/bot", "unsupported database 'mysql'"),
        ("sqlite+aiosqlite://", "give SQLite a file path"),
        ("sqlite:///:memory:", "give SQLite a file path"),
        ("::", "not a database URL"),
    ],
)
def test_database_url_rejects(url: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        database_url(url)
