"""Every HTTP source against every fault: a whole-source failure raises, a single bad item is logged and retried."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from httpserver import LocalServer, Reply

from bot.errors import SourceError
from bot.sources import build_source
from bot.sources.base import Source, SourceState
from bot.sources.edgar import EdgarSource, EdgarSpec
from bot.sources.http import RateLimiter
from bot.sources.rss import RssSpec
from bot.sources.transcripts import TranscriptsSpec
from bot.sources.webpage import WebpageSpec

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "sources"
UA = "Earnings Bot Tests ops@example.com"
OLD = SourceState(seen=("earlier-key",), cursor=None)
ACCESSION = "0001234567-25-000042"
FOLDER = f"/Archives/edgar/data/1234567/{ACCESSION.replace('-', '')}/"


@dataclass(frozen=True)
class Setup:
    source: Source
    main: str  # the path whose failure fails the whole source
    good: Reply  # what that path answers when healthy
    item: str | None  # the path of one item's document
    item_key: str | None
    malformed: bytes | None  # a body the source cannot parse (None: nothing to parse, e.g. HTML)


def rss(server: LocalServer) -> Setup:
    server.route("/news/acme-q3-2025.html", Reply.ok((FIXTURES / "acme_q3_release.html").read_bytes()))
    server.route("/news/acme-dividend.txt", Reply.ok("dividend", "text/plain"))
    server.route("/news/acme-call-notice.html", Reply.ok("call"))
    spec = RssSpec(
        name="wire", url="https://wire.example.com/rss", base_url=server.base_url, timeout_seconds=0.5
    )
    feed = Reply.ok((FIXTURES / "newswire.xml").read_bytes(), "application/rss+xml")
    return Setup(
        build_source(spec), "/rss", feed, "/news/acme-q3-2025.html", "wire-20251104-0001", b"<rss><chan"
    )


def webpage(server: LocalServer) -> Setup:
    server.route(
        "/investors/news/2025/acme-q3-2025-results.pdf", Reply.ok(b"%PDF-1.4 stub", "application/pdf")
    )
    server.route("/investors/news/2025/acme-dividend.html", Reply.ok("dividend"))
    spec = WebpageSpec(
        name="ir",
        url="https://ir.acme.example/investors/news",
        base_url=server.base_url,
        link_pattern=r"/news/2025/",
        timeout_seconds=0.5,
    )
    page = Reply.ok((FIXTURES / "ir_news.html").read_bytes())
    key = "https://ir.acme.example/investors/news/2025/acme-dividend.html"
    return Setup(
        build_source(spec), "/investors/news", page, "/investors/news/2025/acme-dividend.html", key, None
    )


def edgar(server: LocalServer) -> Setup:
    columns = {
        "accessionNumber": [ACCESSION],
        "form": ["8-K"],
        "items": ["2.02,9.01"],
        "filingDate": ["2025-11-04"],
        "acceptanceDateTime": ["2025-11-04T16:05:00.000Z"],
    }
    server.route("/files/company_tickers.json", Reply.ok((FIXTURES / "company_tickers.json").read_bytes()))
    server.route(
        FOLDER + "index.json", Reply.ok(json.dumps({"directory": {"item": [{"name": "acme-ex991.htm"}]}}))
    )
    server.route(FOLDER + "acme-ex991.htm", Reply.ok((FIXTURES / "acme_q3_release.html").read_bytes()))
    spec = EdgarSpec(
        name="sec",
        tickers=("ACME",),
        user_agent=UA,
        base_url=server.base_url,
        data_url=server.base_url,
        timeout_seconds=0.5,
    )
    good = Reply.ok(
        json.dumps({"name": "Acme Widgets, Inc.", "filings": {"recent": columns}}), "application/json"
    )
    source = EdgarSource(spec, limiter=RateLimiter(200.0))
    return Setup(
        source,
        "/submissions/CIK0001234567.json",
        good,
        FOLDER + "acme-ex991.htm",
        ACCESSION,
        b'{"filings": [',
    )


def transcripts(server: LocalServer) -> Setup:
    spec = TranscriptsSpec(
        name="calls",
        base_url=server.base_url,
        tickers=("ACME",),
        path="/t/{ticker}/{year}/{quarter}",
        start="2025Q3",
        timeout_seconds=0.5,
    )
    good = Reply.ok((FIXTURES / "fmp_transcripts.json").read_bytes(), "application/json")
    return Setup(build_source(spec), "/t/ACME/2025/3", good, None, None, b'[{"symbol": "ACME", "content": ')


KINDS: dict[str, Callable[[LocalServer], Setup]] = {
    "rss": rss,
    "webpage": webpage,
    "edgar": edgar,
    "transcripts": transcripts,
}
SOURCE_FAULTS: dict[str, tuple[Reply | None, float | None]] = {
    "500": (Reply.status(500), None),
    "429": (Reply.status(429, headers={"Retry-After": "9"}), 9.0),
    "slow": (Reply.ok(b"late", delay=1.0), None),
    "malformed": (None, None),
    "30MB": (Reply.huge(30 * 1024 * 1024, declare_length=False), None),
    "redirect loop": (Reply.redirect("/loop-a"), None),
    "reset": (Reply.reset(), None),
}


@pytest.fixture
def server() -> Iterator[LocalServer]:
    with LocalServer() as s:
        s.route("/loop-a", Reply.redirect("/loop-b"))
        s.route("/loop-b", Reply.redirect("/loop-a"))
        yield s


@pytest.fixture(autouse=True)
def api_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRANSCRIPTS_API_KEY", "test-key")


SOURCE_CASES = [
    (kind, fault)
    for kind in KINDS
    for fault in SOURCE_FAULTS
    if not (fault == "malformed" and kind == "webpage")  # HTML is parsed leniently: no page is malformed
]


@pytest.mark.parametrize(("kind", "fault"), SOURCE_CASES)
async def test_source_failure_raises_naming_the_source(
    server: LocalServer, client: httpx.AsyncClient, kind: str, fault: str
) -> None:
    setup = KINDS[kind](server)
    reply, retry_after = SOURCE_FAULTS[fault]
    if reply is None:
        assert setup.malformed is not None
        reply = Reply.ok(setup.malformed, "application/octet-stream")
    server.route(setup.main, reply)
    with pytest.raises(SourceError) as info:
        await setup.source.poll(client, OLD)
    assert f"source {setup.source.spec.name}" in str(info.value)
    assert info.value.retry_after == retry_after
    server.route(setup.main, setup.good)  # nothing was lost: the next poll from the same state emits
    healthy = await setup.source.poll(client, OLD)
    assert healthy.documents and "earlier-key" in healthy.state.seen


ITEM_FAULTS = {k: v[0] for k, v in SOURCE_FAULTS.items() if k not in ("429", "malformed")}


@pytest.mark.parametrize("fault", list(ITEM_FAULTS))
@pytest.mark.parametrize("kind", ["rss", "webpage", "edgar"])
async def test_one_bad_item_is_logged_and_left_out(
    server: LocalServer, client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture, kind: str, fault: str
) -> None:
    setup = KINDS[kind](server)
    assert setup.item is not None and setup.item_key is not None
    server.route(setup.main, setup.good)
    server.route(setup.item, ITEM_FAULTS[fault] or Reply.status(500))
    with caplog.at_level(logging.WARNING, logger="bot.sources"):
        result = await setup.source.poll(client, OLD)
    assert setup.item_key not in result.state.seen
    assert not any(d.key.startswith(setup.item_key) for d in result.documents)
    logged = [r for r in caplog.records if getattr(r, "key", None) == setup.item_key]
    assert logged and logged[0].source == setup.source.spec.name  # type: ignore[attr-defined]
    assert setup.source.spec.name in logged[0].getMessage()
