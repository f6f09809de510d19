"""The shared GET helper against a local server: validators, limits, redirects, faults, redaction."""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime

import httpx
import pytest
from httpserver import LocalServer, Reply

from bot.errors import SourceError
from bot.sources.base import Validator, rebase, remember
from bot.sources.http import RateLimiter, fetch, parse_retry_after, redact

NOW = datetime(2025, 11, 4, 12, 0, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("120", 120.0),
        ("0", 0.0),
        ("Tue, 04 Nov 2025 12:01:30 GMT", 90.0),
        ("Tue, 04 Nov 2025 11:00:00 GMT", 0.0),
        ("soon", None),
        ("", None),
        (None, None),
    ],
)
def test_parse_retry_after(header: str | None, expected: float | None) -> None:
    assert parse_retry_after(header, NOW) == expected


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://api.example.com/v1/t?apikey=s3cret&symbol=X", "https://api.example.com/v1/t"),
        ("https://user:pw@example.com:8443/a#frag", "https://example.com:8443/a"),
        ("http://127.0.0.1:9/feed.xml", "http://127.0.0.1:9/feed.xml"),
    ],
)
def test_redact_drops_secrets(url: str, expected: str) -> None:
    assert redact(url) == expected


@pytest.mark.parametrize(
    ("url", "base", "expected"),
    [
        ("https://www.sec.gov/Archives/x.htm", None, "https://www.sec.gov/Archives/x.htm"),
        (
            "https://www.sec.gov/Archives/x.htm?a=1",
            "http://127.0.0.1:8000",
            "http://127.0.0.1:8000/Archives/x.htm?a=1",
        ),
        ("https://www.sec.gov/Archives/x.htm", "http://h:1/mirror/", "http://h:1/mirror/Archives/x.htm"),
        ("/feed.xml", "http://h:1/mirror", "http://h:1/mirror/feed.xml"),
        ("feed.xml", "http://h:1", "http://h:1/feed.xml"),
    ],
)
def test_rebase_moves_urls_to_the_mirror(url: str, base: str | None, expected: str) -> None:
    assert rebase(url, base) == expected


@pytest.mark.parametrize(
    ("seen", "keys", "limit", "expected"),
    [
        ((), ["a", "b"], 5, ("a", "b")),
        (("a", "b"), ["a", "c"], 5, ("b", "a", "c")),
        (("a", "b", "c"), ["d", "e"], 3, ("c", "d", "e")),
        (("a",), [], 5, ("a",)),
    ],
)
def test_remember_keeps_newest_last_and_bounded(
    seen: tuple[str, ...], keys: list[str], limit: int, expected: tuple[str, ...]
) -> None:
    assert remember(seen, keys, limit) == expected


async def test_fetch_returns_body_and_validators_then_none_when_not_modified(
    server: LocalServer, client: httpx.AsyncClient
) -> None:
    lm = "Tue, 04 Nov 2025 21:05:00 GMT"
    server.route("/doc", Reply.ok(b"hello", "text/plain", etag='"v1"', last_modified=lm))
    got = await fetch(client, server.url("/doc"), validator=None, timeout=5)
    assert got is not None
    assert (got.content, got.status, got.content_type) == (b"hello", 200, "text/plain")
    assert got.validator == Validator(etag='"v1"', last_modified=lm)
    assert await fetch(client, server.url("/doc"), validator=got.validator, timeout=5) is None
    assert server.requests[-1].headers["if-none-match"] == '"v1"'
    assert server.requests[-1].headers["if-modified-since"] == lm
    assert server.requests[0].headers["user-agent"].startswith("earnings-bot/")


async def test_fetch_follows_a_few_redirects(server: LocalServer, client: httpx.AsyncClient) -> None:
    server.route("/a", Reply.redirect("/b"))
    server.route("/b", Reply.redirect(server.url("/c"), code=301))
    server.route("/c", Reply.ok("done"))
    got = await fetch(client, server.url("/a"), validator=None, timeout=5)
    assert got is not None and got.content == b"done" and got.url == server.url("/c")


async def test_cross_origin_redirect_drops_custom_headers(client: httpx.AsyncClient) -> None:
    with LocalServer() as first, LocalServer() as second:
        second.route("/t", Reply.ok("moved"))
        first.route("/t", Reply.redirect(second.url("/t")))
        await fetch(
            client, first.url("/t"), validator=None, timeout=5, headers={"X-Api-Key": "k", "User-Agent": "ua"}
        )
        assert first.requests[0].headers["x-api-key"] == "k"
        assert "x-api-key" not in second.requests[0].headers
        assert second.requests[0].headers["user-agent"] == "ua"


FAULTS = [
    ("http 500", Reply.status(500), "HTTP 500", 500, None),
    ("http 404", Reply.status(404), "HTTP 404", 404, None),
    ("429 seconds", Reply.status(429, headers={"Retry-After": "7"}), "retry after 7s", 429, 7.0),
    ("503 seconds", Reply.status(503, headers={"Retry-After": "30"}), "HTTP 503", 503, 30.0),
    ("slow", Reply.ok("late", delay=2.0), "within 0.5s", None, None),
    ("30 MB declared", Reply.huge(30 * 1024 * 1024), "exceeds", None, None),
    ("30 MB streamed", Reply.huge(30 * 1024 * 1024, declare_length=False), "exceeds", None, None),
    ("redirect loop", Reply.redirect("/fault"), "redirect loop", 302, None),
    ("reset", Reply.reset(), "connection failed", None, None),
]


@pytest.mark.parametrize(
    ("label", "reply", "words", "status", "retry_after"), FAULTS, ids=[f[0] for f in FAULTS]
)
async def test_fetch_faults_raise_source_error(
    server: LocalServer,
    client: httpx.AsyncClient,
    label: str,
    reply: Reply,
    words: str,
    status: int | None,
    retry_after: float | None,
) -> None:
    server.route("/fault", reply)
    with pytest.raises(SourceError) as info:
        await fetch(client, server.url("/fault?token=abc"), validator=None, timeout=0.5)
    assert words in str(info.value)
    assert server.url("/fault") in str(info.value) and "token=abc" not in str(info.value)
    assert (info.value.status, info.value.retry_after) == (status, retry_after)


async def test_retry_after_as_http_date(server: LocalServer, client: httpx.AsyncClient) -> None:
    later = datetime.now(UTC).timestamp() + 120
    stamp = datetime.fromtimestamp(later, UTC).strftime("%a, %d %b %Y %H:%M:%S GMT")
    server.route("/busy", Reply.status(429, headers={"Retry-After": stamp}))
    with pytest.raises(SourceError) as info:
        await fetch(client, server.url("/busy"), validator=None, timeout=5)
    assert info.value.retry_after is not None and 100 <= info.value.retry_after <= 121


async def test_chain_of_six_redirects_is_refused(server: LocalServer, client: httpx.AsyncClient) -> None:
    for i in range(7):
        server.route(f"/r{i}", Reply.redirect(f"/r{i + 1}"))
    server.route("/r7", Reply.ok("too far"))
    with pytest.raises(SourceError, match="more than 5 redirects"):
        await fetch(client, server.url("/r0"), validator=None, timeout=5)


async def test_connection_refused_is_a_source_error(client: httpx.AsyncClient) -> None:
    with LocalServer() as gone:
        url = gone.url("/x")
    with pytest.raises(SourceError, match="connection failed"):
        await fetch(client, url, validator=None, timeout=2)


async def test_httpx_request_log_carries_no_query_string(
    server: LocalServer, client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    server.route("/t", Reply.ok("{}", "application/json"))
    with caplog.at_level(logging.DEBUG):
        await fetch(client, server.url("/t?apikey=TOPSECRET123"), validator=None, timeout=5)
    assert any("/t" in r.getMessage() for r in caplog.records if r.name == "httpx")
    assert not any("TOPSECRET123" in r.getMessage() for r in caplog.records)


async def test_rate_limiter_spaces_requests() -> None:
    limiter = RateLimiter(50.0)
    stamps = []
    for _ in range(11):
        await limiter.acquire()
        stamps.append(time.monotonic())
    assert stamps[-1] - stamps[0] >= 10 / 50.0 - 0.005
