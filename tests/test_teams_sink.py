"""TeamsSink against a local fake Workflows endpoint: posted cards, rate limit, retries, errors, secrecy."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from jsonschema.protocols import Validator

from bot.digest.model import Digest, FigureLine, OutlookLine
from bot.errors import DeliveryError
from bot.models import Report
from bot.platforms.teams import TeamsSink, WebhookLimiter
from bot.store.types import DeliveryItem
from tests.faketeams import MAX_BODY, FakeWorkflows, Scripted

ENV = "TEAMS_WEBHOOK_ALERTS"
REFUSED = f"Teams webhook {ENV} refused the card: HTTP"
FAILED = f"Teams webhook {ENV}: HTTP"
VARIABLE = f"Teams webhook: environment variable {ENV}"


@pytest.fixture
def teams(schema: Validator) -> Iterator[FakeWorkflows]:
    with FakeWorkflows(validator=schema) as fake:
        yield fake


def item(kind: str = "new_event", target: str = ENV, n: int = 1) -> DeliveryItem:
    now = datetime.now(UTC)
    return DeliveryItem(
        id=n,
        event_id=1,
        document_id=n,
        kind=kind,
        platform="teams",
        target=target,
        state="pending",
        attempts=0,
        next_attempt_at=now,
        last_error=None,
        external_id=None,
        thread_id=None,
        created_at=now,
        sent_at=None,
        ticker="NWC",
        company="Northwind Cloud",
        revision=0,
        source="inbox",
        report=Report(kind="transcript"),
    )


def digest(
    figures: int = 3, quote: str = "Revenue reached RMB1,775.7 million, up 3.1% sequentially."
) -> Digest:
    lines = tuple(
        FigureLine(
            key=f"m{i}", label=f"Metric {i}", value=f"RMB{i}.0M", change="3.1% QoQ", trend="up", quote=quote
        )
        for i in range(figures)
    )
    return Digest(
        title="Northwind Cloud (NWC) · Q2 2025 earnings call",
        source_label="Transcript",
        url="https://investors.northwind.example/q2-2025",
        headline=lines[:3],
        outlook=(
            OutlookLine(text="Margins to improve", quote="We expect margins to improve.", kind="qualitative"),
        ),
        warnings=("Metric 1: the text says an increase; the figures show a decrease.",),
        figures=lines,
        footer=f"Transcript · {figures} figures",
    )


def sink(teams: FakeWorkflows, *flows: str, **kwargs: Any) -> TeamsSink:
    environ = {ENV: teams.url("alerts"), **{f"TEAMS_WEBHOOK_{f.upper()}": teams.url(f) for f in flows}}
    return TeamsSink(environ=environ, backoff=0.05, **kwargs)


def all_text(*things: Any) -> str:
    return "\n".join(str(t) for t in things)


@pytest.mark.parametrize(
    ("kind", "header"),
    [
        ("new_event", "Northwind Cloud (NWC) · Q2 2025 earnings call"),
        ("event_update", "Update: Northwind Cloud (NWC) · Q2 2025 earnings call"),
        ("revision", "Corrected release: Northwind Cloud (NWC) · Q2 2025 earnings call"),
    ],
)
async def test_posts_one_valid_card_per_delivery(teams: FakeWorkflows, kind: str, header: str) -> None:
    s = sink(teams)
    try:
        assert await s.send(item(kind), digest()) is None
    finally:
        await s.aclose()
    assert [r.status for r in teams.requests] == [202], teams.errors
    posted = teams.requests[0]
    assert posted.headers["content-type"] == "application/json"
    assert posted.json()["type"] == "message"
    [card] = posted.cards()
    assert card["type"] == "AdaptiveCard" and card["version"] == "1.5"
    assert card["body"][0]["text"] == header


async def test_a_huge_digest_is_posted_under_28_kb(teams: FakeWorkflows) -> None:
    s = sink(teams)
    try:
        await s.send(item(), digest(figures=300, quote="A long sentence about revenue and margins. " * 20))
    finally:
        await s.aclose()
    assert [r.status for r in teams.requests] == [202], teams.errors
    assert len(teams.requests[0].body) <= MAX_BODY


async def test_429_then_202_gives_one_post_after_retry_after(teams: FakeWorkflows) -> None:
    teams.script(Scripted(429, retry_after="1"))
    s = sink(teams)
    try:
        await s.send(item(), digest())
    finally:
        await s.aclose()
    assert [r.status for r in teams.requests] == [429, 202]
    assert len(teams.accepted) == 1
    assert teams.requests[1].at - teams.requests[0].at >= 0.95


async def test_5xx_is_retried_with_backoff(teams: FakeWorkflows) -> None:
    teams.script(Scripted(502), Scripted(503))
    s = sink(teams)
    try:
        await s.send(item(), digest())
    finally:
        await s.aclose()
    assert [r.status for r in teams.requests] == [502, 503, 202]


@pytest.mark.parametrize(
    ("replies", "permanent", "retry_after", "message"),
    [
        ([Scripted(400, body=b'{"error":{"code":"BadCard"}}')], True, None, f"{REFUSED} 400 (BadCard)"),
        ([Scripted(403)], True, None, f"{REFUSED} 403"),
        ([Scripted(404, body=b'{"error":{"code":"see https://x.test/?sig=a"}}')], True, None, f"{REFUSED} 404"),
        ([Scripted(429, retry_after="120")], False, 120.0, f"{FAILED} 429 after 1 attempt(s)"),
        ([Scripted(500)] * 3, False, 0.2, f"{FAILED} 500 after 3 attempt(s)"),
    ],
)
async def test_failures_raise_delivery_errors(
    teams: FakeWorkflows, replies: list[Scripted], permanent: bool, retry_after: float | None, message: str
) -> None:
    teams.script(*replies)
    s = sink(teams)
    try:
        with pytest.raises(DeliveryError) as err:
            await s.send(item(), digest())
    finally:
        await s.aclose()
    assert (str(err.value), err.value.permanent, err.value.retry_after) == (message, permanent, retry_after)
    assert len(teams.requests) == len(replies)


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({}, f"{VARIABLE} is not set"),
        ({ENV: "  "}, f"{VARIABLE} is not set"),
        ({ENV: "not a url"}, f"{VARIABLE} does not hold an http(s) URL"),
        ({ENV: "ftp://x.test/hook"}, f"{VARIABLE} does not hold an http(s) URL"),
    ],
)
async def test_missing_or_bad_webhook_variable_is_a_permanent_error(
    environ: dict[str, str], message: str
) -> None:
    s = TeamsSink(environ=environ)
    try:
        with pytest.raises(DeliveryError) as err:
            await s.send(item(), digest())
    finally:
        await s.aclose()
    assert (str(err.value), err.value.permanent) == (message, True)


async def test_unreachable_webhook_is_a_transient_error() -> None:
    with FakeWorkflows() as closed:
        url = closed.url("gone")
    s = TeamsSink(environ={ENV: url}, attempts=2, backoff=0.05)
    try:
        with pytest.raises(DeliveryError) as err:
            await s.send(item(), digest())
    finally:
        await s.aclose()
    assert str(err.value) == f"Teams webhook {ENV}: connection failed (ConnectError) after 2 attempt(s)"
    assert not err.value.permanent and url not in str(err.value)


async def test_at_most_four_requests_per_second_per_webhook() -> None:
    with FakeWorkflows() as teams:  # no schema check here: its time per request would only slow the test
        s = sink(teams, "other")
        started = time.monotonic()
        try:
            await asyncio.gather(
                *(s.send(item(n=n), digest()) for n in range(9)),
                *(s.send(item(target="TEAMS_WEBHOOK_OTHER", n=n), digest()) for n in range(4)),
            )
        finally:
            await s.aclose()
    assert len(teams.accepted) == 13, teams.errors
    alerts = sorted(r.at for r in teams.requests if r.flow == "alerts")
    other = sorted(r.at for r in teams.requests if r.flow == "other")
    assert all(alerts[i + 4] - alerts[i] >= 1.0 for i in range(len(alerts) - 4)), alerts  # as Teams receives
    assert alerts[-1] - started >= 2.0  # 9 posts need three one-second windows
    assert other[-1] - started < 0.9  # another webhook is not held back by the first one's limit


async def test_limiter_counts_a_request_until_per_seconds_after_it_ends() -> None:
    limiter = WebhookLimiter(rate=2, per=0.3)
    starts: list[float] = []
    ends: list[float] = []

    async def request(duration: float) -> None:
        async with limiter.slot("webhook"):
            starts.append(time.monotonic())
            await asyncio.sleep(duration)
            ends.append(time.monotonic())

    await asyncio.gather(request(0.2), request(0.0), request(0.0), request(0.0))
    assert starts[1] - starts[0] < 0.05  # two at once
    assert starts[2] - min(ends[:2]) >= 0.29  # the third waits for a slot to be `per` past its response
    assert starts[3] - max(ends[:2]) >= 0.29


async def test_webhook_url_never_in_logs_or_errors(
    teams: FakeWorkflows, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    url = teams.url("alerts")
    sig = httpx.URL(url).params["sig"]
    teams.script(Scripted(429, retry_after="0"), Scripted(500), Scripted(400))
    s = sink(teams, attempts=3)
    errors: list[BaseException] = []
    try:
        with pytest.raises(DeliveryError) as err:
            await s.send(item(), digest())
        errors.append(err.value)
        await s.send(item(), digest())  # a clean post: httpx logs its request line
    finally:
        await s.aclose()
    assert [r.status for r in teams.requests] == [429, 500, 400, 202]
    logged = all_text(
        caplog.text, *(r.getMessage() for r in caplog.records), *(r.args for r in caplog.records)
    )
    assert "HTTP Request: POST" in logged  # the records are there, with the URL taken out
    assert ENV in logged
    for secret in (url, sig, str(httpx.URL(url)), url.split("?")[0]):  # not even without its query string
        assert secret not in logged
        assert secret not in all_text(*errors, *(repr(e) for e in errors), *(e.__context__ for e in errors))
