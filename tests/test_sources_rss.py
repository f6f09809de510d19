"""RSS / Atom source: parsing real SEC feeds and a newswire feed, polling a local server, per-entry faults."""

from __future__ import annotations

import logging
from pathlib import Path

import httpx
import pytest
from httpserver import LocalServer, Reply
from pydantic import ValidationError

from bot.errors import SourceError
from bot.sources.base import SourceState
from bot.sources.rss import RssSource, RssSpec, parse_feed
from tests.corpus import corpus_file as corpus

CORPUS = Path(__file__).resolve().parents[1].parent / "shared" / "corpus"
FIXTURES = Path(__file__).resolve().parent / "fixtures" / "sources"
UA = "Earnings Bot Tests ops@example.com"


COMPANY_FEED = "feeds/sec_company_filings_rss_feed_parser__company_filings_rss_feed.xml"
LATEST_FEED = "feeds/sec_latest_filings_rss_feed_parser__filings_atom_feed.xml"
TENK_FEED = "feeds/sec_latest_filings_rss_feed_parser__ex.xml"


@pytest.mark.corpus
@pytest.mark.parametrize(
    ("rel", "count", "key", "form", "company"),  # count: distinct filings
    [
        (COMPANY_FEED, 40, "0001564590-16-013773", "S-8", "TWITTER, INC."),
        (
            LATEST_FEED,
            100,
            "0001178913-18-001251",
            "13F-HR",
            "Mivtachim The Workers Social Insurance Fund Ltd.",
        ),
        (TENK_FEED, 32, "0000050104-16-000055", "10-K", "TESORO CORP /NEW/"),  # 40 entries, co-registrants
    ],
)
def test_sec_atom_feeds_parse(rel: str, count: int, key: str, form: str, company: str) -> None:
    entries = parse_feed(corpus(rel), rel)
    assert len(entries) == count
    first = entries[0]
    assert (first.key, first.form) == (key, form)
    assert first.link is not None and first.link.endswith(f"{key}-index.htm")
    assert first.published is not None and first.published.tzinfo is not None
    assert first.company is not None and first.company.startswith(company)


@pytest.mark.corpus
def test_company_feed_reads_the_misspelt_accession_and_8k_items() -> None:
    entries = parse_feed(corpus(COMPANY_FEED), COMPANY_FEED)
    eight_k = [e for e in entries if e.form == "8-K"]
    assert len(eight_k) == 13
    results = [e for e in eight_k if e.items is not None and "2.02" in e.items]
    assert len(results) == 5
    assert all(e.key.count("-") == 2 and len(e.key) == 20 for e in results)
    assert any(e.items == ("2.02", "2.05", "7.01", "9.01") for e in results)


def test_newswire_rss_fixture_parses() -> None:
    entries = parse_feed((FIXTURES / "newswire.xml").read_bytes(), "newswire.xml")
    assert [e.key for e in entries] == [
        "wire-20251104-0001",
        "wire-20251020-0007",
        "https://wire.example.com/news/acme-call-notice.html",
    ]
    assert entries[2].link == "https://wire.example.com/news/acme-call-notice.html"
    assert (
        entries[0].published is not None and entries[0].published.isoformat() == "2025-11-04T21:05:00+00:00"
    )
    assert entries[0].form is None


@pytest.mark.parametrize(
    ("body", "words"),
    [
        (b'<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY a "x">]><rss><channel/></rss>', "DOCTYPE or ENTITY"),
        (b"<!doctype rss SYSTEM 'file:///etc/passwd'><rss/>", "DOCTYPE or ENTITY"),
        (b'<!DOCTYPE z [<!ENTITY a "aa"><!ENTITY b "&a;&a;">]><rss>&b;</rss>', "DOCTYPE or ENTITY"),
        (b"<rss><channel><item><title>cut off", "malformed XML"),
        (b"", "malformed XML"),
        (b"<html><body>not a feed</body></html>", "not an RSS or Atom feed"),
    ],
)
def test_unsafe_or_bad_xml_is_refused(body: bytes, words: str) -> None:
    with pytest.raises(SourceError, match=words):
        parse_feed(body, "http://feeds.example/x")


@pytest.mark.parametrize(
    ("fields", "words"),
    [
        ({"url": "/relative.xml"}, "absolute http"),
        ({"url": "https://www.sec.gov/cgi-bin/browse-edgar?output=atom"}, "user_agent"),
        ({"url": "https://www.sec.gov/x", "user_agent": "no address here"}, "user_agent"),
        ({"url": "https://x.example/f", "link_pattern": "(unclosed"}, "link_pattern"),
        ({"url": "https://x.example/f", "name": "Bad Name"}, "name"),
    ],
)
def test_spec_validation_names_the_problem(fields: dict[str, str], words: str) -> None:
    with pytest.raises(ValidationError, match=words):
        RssSpec.model_validate({"name": "wire", **fields})


def _wire(server: LocalServer, **extra: object) -> RssSource:
    server.route(
        "/org/acme/rss",
        Reply.ok((FIXTURES / "newswire.xml").read_bytes(), "application/rss+xml", etag='"f1"'),
    )
    server.route("/news/acme-q3-2025.html", Reply.ok((FIXTURES / "acme_q3_release.html").read_bytes()))
    server.route(
        "/news/acme-dividend.txt", Reply.ok("Acme declares a dividend of $0.25 per share.", "text/plain")
    )
    server.route("/news/acme-call-notice.html", Reply.ok("<p>Call on Nov 4, 2025.</p>"))
    spec = RssSpec(
        name="acme_wire",
        url="https://wire.example.com/org/acme/rss",
        base_url=server.base_url,
        tickers=("ACME",),
        form="press_release",
        **extra,
    )
    return RssSource(spec)


async def test_poll_emits_new_entries_then_nothing(server: LocalServer, client: httpx.AsyncClient) -> None:
    source = _wire(server)
    first = await source.poll(client, SourceState())
    assert [d.key for d in first.documents] == [
        "https://wire.example.com/news/acme-call-notice.html",
        "wire-20251020-0007",
        "wire-20251104-0001",
    ]
    q3 = first.documents[-1]
    assert q3.content == (FIXTURES / "acme_q3_release.html").read_bytes()
    assert (q3.title, q3.ticker, q3.form, q3.source) == (
        "Acme Widgets Reports Third Quarter 2025 Results",
        "ACME",
        "press_release",
        "acme_wire",
    )
    assert q3.url == server.url("/news/acme-q3-2025.html")
    assert q3.published is not None and q3.published.year == 2025
    assert first.state.seen == tuple(d.key for d in first.documents)

    second = await source.poll(client, first.state)  # feed answers 304
    assert second.documents == () and second.state == first.state
    assert server.requests_to("/org/acme/rss")[-1].headers["if-none-match"] == '"f1"'

    server.route(
        "/org/acme/rss",
        Reply.ok((FIXTURES / "newswire.xml").read_bytes(), "application/rss+xml", etag='"f2"'),
    )
    third = await source.poll(client, first.state)  # changed feed, same entries: all seen
    assert third.documents == ()
    assert len(server.requests_to("/news/acme-q3-2025.html")) == 1


async def test_link_pattern_keeps_matching_entries(server: LocalServer, client: httpx.AsyncClient) -> None:
    result = await _wire(server, link_pattern=r"-q\d-\d{4}\.html$").poll(client, SourceState())
    assert [d.key for d in result.documents] == ["wire-20251104-0001"]


async def test_failed_entry_is_logged_left_out_and_retried(
    server: LocalServer, client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    source = _wire(server)
    server.route("/news/acme-dividend.txt", Reply.status(500), Reply.ok("dividend", "text/plain"))
    with caplog.at_level(logging.WARNING, logger="bot.sources"):
        first = await source.poll(client, SourceState())
    assert [d.key for d in first.documents] == [
        "https://wire.example.com/news/acme-call-notice.html",
        "wire-20251104-0001",
    ]
    assert "wire-20251020-0007" not in first.state.seen
    record = next(r for r in caplog.records if getattr(r, "key", None) == "wire-20251020-0007")
    assert record.source == "acme_wire" and "HTTP 500" in record.getMessage()  # type: ignore[attr-defined]
    assert first.state.validators == {}  # the feed is read again in full next time

    second = await source.poll(client, first.state)
    assert [d.key for d in second.documents] == ["wire-20251020-0007"]
    assert "if-none-match" not in server.requests_to("/org/acme/rss")[-1].headers


async def test_rate_limited_entry_backs_off_the_whole_source(
    server: LocalServer, client: httpx.AsyncClient
) -> None:
    source = _wire(server)
    server.route("/news/acme-q3-2025.html", Reply.status(429, headers={"Retry-After": "42"}))
    with pytest.raises(SourceError) as info:
        await source.poll(client, SourceState())
    assert "acme_wire" in str(info.value) and info.value.retry_after == 42.0


def _index_paths(feed: bytes) -> dict[str, str]:
    """accession -> local path of each 8-K Item 2.02 entry's filing index in the company feed."""
    entries = parse_feed(feed, "feed")
    return {
        e.key: httpx.URL(e.link or "").path
        for e in entries
        if e.form == "8-K" and e.items is not None and "2.02" in e.items
    }


@pytest.mark.corpus
async def test_sec_company_feed_resolves_filing_index_to_ex99(
    server: LocalServer, client: httpx.AsyncClient
) -> None:
    feed = corpus(COMPANY_FEED)
    index = corpus("edgar/edgartools__0000796343-23-000044-index.html")
    release = corpus("press_releases/edgartools__adbeex991q123.htm")
    paths = _index_paths(feed)
    no_exhibit = sorted(paths)[0]
    server.route("/cgi-bin/browse-edgar", Reply.ok(feed, "application/atom+xml"))
    for accession, path in paths.items():
        page = index if accession != no_exhibit else b'<table class="tableFile"><tr><td>1</td></tr></table>'
        server.route(path, Reply.ok(page))
    server.route("/Archives/edgar/data/796343/000079634323000044/adbeex991q123.htm", Reply.ok(release))
    spec = RssSpec(
        name="twtr_sec",
        url="https://www.sec.gov/cgi-bin/browse-edgar?action=getcompany&CIK=0001418091&type=8-K&output=atom",
        base_url=server.base_url,
        forms=("8-K",),
        items=("2.02",),
        user_agent=UA,
        tickers=("TWTR",),
    )
    assert spec.is_edgar
    result = await RssSource(spec).poll(client, SourceState())
    emitted = {d.key.split("/")[0] for d in result.documents}
    assert emitted == set(paths) - {no_exhibit}
    assert all(d.key.endswith("/adbeex991q123.htm") and d.content == release for d in result.documents)
    assert all((d.form, d.company, d.ticker) == ("8-K", "TWITTER, INC.", "TWTR") for d in result.documents)
    assert set(result.state.seen) == set(paths)  # the filing without an exhibit is done with, too
    assert all(r.headers.get("user-agent") == UA for r in server.requests)
