"""EDGAR source: real submissions and filing indexes served locally; User-Agent, rate limit, back-off."""

from __future__ import annotations

import asyncio
import json
import logging
from datetime import date
from pathlib import Path

import httpx
import pytest
from httpserver import LocalServer, Recorded, Reply
from pydantic import ValidationError

from bot.errors import SourceError
from bot.sources.base import SourceState
from bot.sources.edgar import (
    EdgarClient,
    EdgarSource,
    EdgarSpec,
    Exhibit,
    earnings_filings,
    exhibit_number,
    parse_index_html,
    parse_index_json,
    parse_submissions,
    press_release_exhibits,
)
from bot.sources.http import RateLimiter
from tests.corpus import corpus_file as corpus

CORPUS = Path(__file__).resolve().parents[1].parent / "shared" / "corpus"
FIXTURES = Path(__file__).resolve().parent / "fixtures" / "sources"
UA = "Earnings Bot Tests ops@example.com"
SUBMISSIONS = "edgar/edgartools__company_submission.json"
INDEX_JSON = "edgar/edgartools__0001213900-24-004875-index.json"
INDEX_HTML = "edgar/edgartools__0000796343-23-000044-index.html"
ADOBE_RELEASE = "press_releases/edgartools__adbeex991q123.htm"
TSLA_LATEST = ("0001564590-22-034639", "0001564590-22-033053", "0001564590-22-026048", "0001564590-22-025153")
DATS_EXHIBITS = ("ea191807ex99-1_datchat.htm", "ea191807ex99-2_datchat.htm", "ea191807ex99-3_datchat.htm")


def spec(server: LocalServer, **extra: object) -> EdgarSpec:
    fields: dict[str, object] = {
        "name": "sec",
        "tickers": ("TSLA",),
        "user_agent": UA,
        "base_url": server.base_url,
        "data_url": server.base_url,
        **extra,
    }
    return EdgarSpec.model_validate(fields)


def folder(accession: str, cik: int = 1318605) -> str:
    return f"/Archives/edgar/data/{cik}/{accession.replace('-', '')}/"


def serve_tesla(server: LocalServer) -> None:
    """Ticker list, Tesla's real submissions, and the real DatChat index.json as each filing's listing."""
    server.route("/files/company_tickers.json", Reply.ok((FIXTURES / "company_tickers.json").read_bytes()))
    server.route(
        "/submissions/CIK0001318605.json", Reply.ok(corpus(SUBMISSIONS), "application/json", etag='"s1"')
    )
    listing = corpus(INDEX_JSON)
    for accession in TSLA_LATEST:
        server.route(folder(accession) + "index.json", Reply.ok(listing, "application/json"))
        for name in DATS_EXHIBITS:
            server.route(folder(accession) + name, Reply.ok(f"<p>{accession} {name}</p>"))


def user_agents(requests: list[Recorded]) -> set[str | None]:
    return {r.headers.get("user-agent") for r in requests}


@pytest.mark.parametrize(
    ("name", "type_", "number"),
    [
        ("adbeex991q123.htm", "EX-99.1", 1),
        ("adbeex991q123.htm", None, 1),
        ("ea191807ex99-2_datchat.htm", None, 2),
        ("d447925dex991.htm", None, 1),
        ("tsla-ex99_12.htm", None, 12),
        ("exhibit99.htm", None, 0),
        ("release.htm", "EX-99", 0),
        ("ex5-1_001.htm", None, None),
        ("adbe-20230315.htm", "8-K", None),
        ("adbeex991q123.htm", "EX-101.SCH", None),
    ],
)
def test_exhibit_number(name: str, type_: str | None, number: int | None) -> None:
    assert exhibit_number(Exhibit(name=name, url="u", type=type_)) == number


def test_press_release_exhibits_order_and_kinds() -> None:
    names = ["ex99-2.htm", "ex99.htm", "ex99-1.htm", "ex99-1_001.jpg", "ex10-1.htm", "ex99-3.pdf"]
    picked = press_release_exhibits(tuple(Exhibit(name=n, url=n) for n in names))
    assert [e.name for e in picked] == ["ex99-1.htm", "ex99-2.htm", "ex99-3.pdf", "ex99.htm"]


@pytest.mark.corpus
def test_real_filing_index_page_lists_adobe_ex99() -> None:
    page = "https://www.sec.gov/Archives/edgar/data/796343/0000796343-23-000044-index.html"
    exhibits = parse_index_html(corpus(INDEX_HTML), page)
    assert (
        exhibits[0].url
        == "https://www.sec.gov/Archives/edgar/data/796343/000079634323000044/adbe-20230315.htm"
    )
    releases = press_release_exhibits(exhibits)
    assert [(e.name, e.type) for e in releases] == [("adbeex991q123.htm", "EX-99.1")]
    assert releases[0].url.endswith("/796343/000079634323000044/adbeex991q123.htm")


@pytest.mark.corpus
def test_real_index_json_lists_three_ex99() -> None:
    listing = parse_index_json(
        corpus(INDEX_JSON), "https://www.sec.gov/Archives/edgar/data/1648960/000121390024004875/index.json"
    )
    assert len(listing) == 25
    releases = press_release_exhibits(listing)
    assert tuple(e.name for e in releases) == DATS_EXHIBITS
    assert releases[0].url == (
        "https://www.sec.gov/Archives/edgar/data/1648960/000121390024004875/ea191807ex99-1_datchat.htm"
    )


@pytest.mark.corpus
def test_real_submissions_select_8k_item_202() -> None:
    name, filings, pages = parse_submissions(corpus(SUBMISSIONS), "submissions")
    assert name == "Tesla, Inc." and len(filings) == 1001
    wanted = earnings_filings(filings, ("8-K", "6-K"))
    assert len(wanted) == 71
    assert tuple(f.accession for f in wanted[:4]) == TSLA_LATEST
    assert wanted[0].filing_date == date(2022, 10, 19) and wanted[0].items == ("2.02", "9.01")
    assert wanted[0].accepted is not None and wanted[0].accepted.tzinfo is not None
    assert pages[0]["name"] == "CIK0001318605-submissions-001.json"


@pytest.mark.parametrize(
    ("fields", "words"),
    [
        ({"user_agent": "EarningsBot/1.0"}, "user_agent must contain a contact e-mail"),
        ({"user_agent": UA, "tickers": ()}, "at least one ticker"),
        ({"user_agent": UA, "base_url": "ftp://mirror"}, "base_url"),
    ],
)
def test_spec_validation_names_the_field(fields: dict[str, object], words: str) -> None:
    with pytest.raises(ValidationError, match=words) as info:
        EdgarSpec.model_validate({"name": "sec", "tickers": ("TSLA",), **fields})
    if "user_agent" in words:
        assert info.value.errors()[0]["loc"] == ("user_agent",)


@pytest.mark.corpus
async def test_poll_emits_ex99_of_latest_results_filings(
    server: LocalServer, client: httpx.AsyncClient
) -> None:
    serve_tesla(server)
    source = EdgarSource(spec(server))
    first = await source.poll(client, SourceState())
    assert [d.key for d in first.documents] == [f"{a}/{n}" for a in TSLA_LATEST for n in DATS_EXHIBITS]
    doc = first.documents[0]
    assert doc.content == f"<p>{TSLA_LATEST[0]} {DATS_EXHIBITS[0]}</p>".encode()
    assert (doc.ticker, doc.company, doc.form, doc.source) == ("TSLA", "Tesla, Inc.", "8-K", "sec")
    assert doc.published is not None and doc.published.isoformat() == "2022-10-19T17:15:46+00:00"
    assert doc.url == server.url(folder(TSLA_LATEST[0]) + DATS_EXHIBITS[0])
    assert set(first.state.seen) == set(TSLA_LATEST)
    assert user_agents(server.requests) == {UA}

    second = await source.poll(client, first.state)
    assert second.documents == ()
    assert server.requests_to("/submissions/CIK0001318605.json")[-1].headers["if-none-match"] == '"s1"'


@pytest.mark.corpus
async def test_index_page_fallback_and_failed_filing_retried(
    server: LocalServer, client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    serve_tesla(server)
    no_names = json.dumps({"directory": {"item": [{"name": "tsla-8k_20221003.htm"}]}}).encode()
    second = folder(TSLA_LATEST[1])
    server.route(second + "index.json", Reply.ok(no_names, "application/json"))
    server.route(f"{second}{TSLA_LATEST[1]}-index.html", Reply.ok(corpus(INDEX_HTML)))
    server.route(
        "/Archives/edgar/data/796343/000079634323000044/adbeex991q123.htm", Reply.ok(corpus(ADOBE_RELEASE))
    )
    server.route(folder(TSLA_LATEST[2]) + "index.json", Reply.status(500), Reply.ok(corpus(INDEX_JSON)))
    source = EdgarSource(spec(server))
    with caplog.at_level(logging.WARNING, logger="bot.sources"):
        first = await source.poll(client, SourceState())
    keys = [d.key for d in first.documents]
    assert f"{TSLA_LATEST[1]}/adbeex991q123.htm" in keys
    assert next(d for d in first.documents if d.key.endswith("adbeex991q123.htm")).content == corpus(
        ADOBE_RELEASE
    )
    assert not any(k.startswith(TSLA_LATEST[2]) for k in keys)
    assert TSLA_LATEST[2] not in first.state.seen
    assert any(getattr(r, "key", None) == TSLA_LATEST[2] and r.source == "sec" for r in caplog.records)  # type: ignore[attr-defined]
    assert first.state.validators == {}

    retry = await source.poll(client, first.state)
    assert [d.key for d in retry.documents] == [f"{TSLA_LATEST[2]}/{n}" for n in DATS_EXHIBITS]


@pytest.mark.parametrize(
    ("reply", "status", "retry_after"),
    [
        (Reply.status(403), 403, 600.0),
        (Reply.status(429), 429, 600.0),
        (Reply.status(429, headers={"Retry-After": "90"}), 429, 90.0),
    ],
)
async def test_refusal_backs_off(
    server: LocalServer, client: httpx.AsyncClient, reply: Reply, status: int, retry_after: float
) -> None:
    server.route("/files/company_tickers.json", Reply.ok((FIXTURES / "company_tickers.json").read_bytes()))
    server.route("/submissions/CIK0001318605.json", reply)
    with pytest.raises(SourceError) as info:
        await EdgarSource(spec(server)).poll(client, SourceState())
    assert "source sec" in str(info.value)
    assert (info.value.status, info.value.retry_after) == (status, retry_after)


async def test_unknown_ticker_is_skipped_others_polled(
    server: LocalServer, client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    server.route("/files/company_tickers.json", Reply.ok((FIXTURES / "company_tickers.json").read_bytes()))
    server.route("/submissions/CIK0001234567.json", Reply.ok(json.dumps(_columns([])), "application/json"))
    with caplog.at_level(logging.WARNING, logger="bot.sources"):
        result = await EdgarSource(spec(server, tickers=("NOPE", "ACME"))).poll(client, SourceState())
    assert result.documents == ()
    assert any("NOPE" in r.getMessage() for r in caplog.records)
    assert len(server.requests_to("/submissions/CIK0001234567.json")) == 1


def _columns(rows: list[tuple[str, str, str, str]]) -> dict[str, list[str]]:
    return {
        "accessionNumber": [r[0] for r in rows],
        "form": [r[1] for r in rows],
        "items": [r[2] for r in rows],
        "filingDate": [r[3] for r in rows],
        "acceptanceDateTime": [f"{r[3]}T16:05:00.000Z" for r in rows],
        "primaryDocument": ["primary.htm" for _ in rows],
    }


async def test_backfill_walks_quarters_into_older_pages(
    server: LocalServer, client: httpx.AsyncClient
) -> None:
    recent = [
        ("0000000001-25-000004", "8-K", "2.02,9.01", "2025-10-30"),
        ("0000000001-25-000003", "8-K", "5.02", "2025-09-01"),
        ("0000000001-25-000002", "6-K", "", "2025-07-30"),
        ("0000000001-25-000001", "8-K", "2.02,9.01", "2025-04-30"),
    ]
    older = [
        ("0000000001-25-000000", "8-K", "2.02", "2025-01-30"),
        ("0000000001-24-000009", "8-K", "2.02", "2024-10-30"),
    ]
    submissions = {
        "name": "Acme Widgets, Inc.",
        "filings": {
            "recent": _columns(recent),
            "files": [
                {
                    "name": "CIK0001234567-submissions-001.json",
                    "filingFrom": "2020-01-01",
                    "filingTo": "2025-03-31",
                }
            ],
        },
    }
    server.route("/files/company_tickers.json", Reply.ok((FIXTURES / "company_tickers.json").read_bytes()))
    server.route("/submissions/CIK0001234567.json", Reply.ok(json.dumps(submissions), "application/json"))
    server.route(
        "/submissions/CIK0001234567-submissions-001.json",
        Reply.ok(json.dumps(_columns(older)), "application/json"),
    )
    for accession, *_ in recent + older:
        base = folder(accession, 1234567)
        server.route(
            base + "index.json", Reply.ok(json.dumps({"directory": {"item": [{"name": "acme-ex991.htm"}]}}))
        )
        server.route(base + "acme-ex991.htm", Reply.ok(f"release {accession}"))
    source = EdgarSource(spec(server, tickers=("ACME",)), limiter=RateLimiter(500.0))
    two = await source.backfill(client, "acme", 2)
    assert [d.key.split("/")[0] for d in two] == ["0000000001-25-000004", "0000000001-25-000002"]
    four = await source.backfill(client, "ACME", 4)
    assert [d.key.split("/")[0] for d in four] == [
        "0000000001-25-000004",
        "0000000001-25-000002",
        "0000000001-25-000001",
        "0000000001-25-000000",
    ]
    assert all(d.ticker == "ACME" and d.company == "Acme Widgets, Inc." for d in four)
    assert user_agents(server.requests) == {UA}


async def warm_up(server: LocalServer, client: httpx.AsyncClient) -> None:
    """Open the client's connection first: the limiter spaces requests as they start, and a first
    connection's set-up (tens of ms in-process) would otherwise delay one request onto the next."""
    server.route("/warm-up", Reply.ok("ok"))
    await client.get(server.url("/warm-up"))


def _max_in_any_second(times: list[float], tolerance: float = 0.05) -> int:
    """The most requests that arrived within any one-second window, less `tolerance`: an in-process
    server thread notes arrivals up to ~30 ms late now and then. (At 11 requests per second, 11 of them
    span 0.91 s, so this still tells 10/s from 11/s.)"""
    times = sorted(times)
    return max(sum(1 for t in times[i:] if t - start < 1.0 - tolerance) for i, start in enumerate(times))


@pytest.mark.corpus
async def test_all_edgar_sources_together_stay_under_ten_per_second(
    server: LocalServer, client: httpx.AsyncClient
) -> None:
    serve_tesla(server)
    await warm_up(server, client)
    sources = [EdgarSource(spec(server, name=f"sec{i}")) for i in range(2)]  # both share the process-wide limiter
    results = await asyncio.gather(*(s.poll(client, SourceState()) for s in sources))
    assert all(len(r.documents) == 12 for r in results)
    edgar = [r for r in server.requests if r.path != "/warm-up"]
    times = [r.time for r in edgar]
    assert len(times) >= 30
    assert _max_in_any_second(times) <= 10
    assert max(times) - min(times) >= (len(times) - 1) / 10.0 - 0.05
    assert user_agents(edgar) == {UA}


async def test_limiter_rate_is_configurable(server: LocalServer, client: httpx.AsyncClient) -> None:
    server.route("/x", Reply.ok("x"))
    await warm_up(server, client)
    edgar = EdgarClient(client, user_agent=UA, timeout=5, limiter=RateLimiter(25.0))
    await asyncio.gather(*(edgar.get(server.url("/x")) for _ in range(30)))
    times = sorted(r.time for r in server.requests_to("/x"))
    assert len(times) == 30
    assert times[-1] - times[0] >= 29 / 25.0 - 0.05
    assert _max_in_any_second(times) <= 25


def test_user_agent_comes_from_sec_user_agent_when_the_config_has_none(monkeypatch: pytest.MonkeyPatch) -> None:
    from bot.sources.edgar import EdgarSpec

    monkeypatch.setenv("SEC_USER_AGENT", "Example Research ops@example.com")
    assert EdgarSpec(name="sec", tickers=("KC",)).user_agent == "Example Research ops@example.com"
    monkeypatch.delenv("SEC_USER_AGENT")
    with pytest.raises(ValueError, match="SEC_USER_AGENT"):
        EdgarSpec(name="sec", tickers=("KC",))
