"""Teams outgoing webhook over real HTTP (uvicorn on 127.0.0.1): HMAC, replays, each query form, the 5 s limit."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import os
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
import uvicorn
from jsonschema.protocols import Validator
from pydantic import SecretStr
from starlette.applications import Starlette

from bot.config import BotConfig, Settings
from bot.errors import ConfigError
from bot.models import Change, CompanyConfig, Guidance, Metric, Period, Report
from bot.platforms.teams import PATH, ReplayGuard, command_text, teams_endpoint, verify_hmac
from bot.store import Store
from tests.faketeams import card_texts
from tests.reports import open_store

KEY = os.urandom(32)
SECRET = base64.b64encode(KEY).decode()
CHANNEL = "19:3f1c2a@thread.tacv2"
CONFIG = BotConfig(
    companies=(
        CompanyConfig(ticker="NWC", name="Northwind Cloud"),
        CompanyConfig(ticker="CTSO", name="Contoso Data"),
    )
)


def metric(key: str, name: str, value: float, unit: str, text: str, change: Change | None = None) -> Metric:
    quote = f"{name} was {text} in the quarter, said the finance chief."
    return Metric(
        key=key, name=name, value=value, unit=unit, change=change or Change(), quote=quote, speaker="Jane Roe",
        value_text=text, start=0, end=len(quote),
    )


def report(ticker: str, company: str, quarter: int, revenue: float, *, guidance: bool = False) -> Report:
    outlook = Guidance(
        metric="gross_margin", kind="qualitative", text="Gross margin to widen next year",
        quote="We expect gross margin to widen next year.", speaker="Jane Roe", start=0, end=42, section="qa",
    )
    return Report(
        company=company, ticker=ticker, kind="transcript", currency="USD",
        period=Period(fiscal_year=2025, fiscal_quarter=quarter, label=f"Q{quarter} 2025"),
        title=f"{company} Q{quarter} 2025", url=f"https://ir.example.test/{ticker}/2025q{quarter}",
        metrics=(
            metric("revenue", "Total revenue", revenue * 1e6, "USD", f"${revenue:,.1f} million", Change(qoq_pct=4.0)),
            metric("gross_margin", "Gross margin", 41.5, "%", "41.5%"),
        ),
        guidance=(outlook,) if guidance else (),
    )


REPORTS = (
    report("NWC", "Northwind Cloud", 1, 880.0),
    report("NWC", "Northwind Cloud", 2, 915.5, guidance=True),
    report("CTSO", "Contoso Data", 2, 312.25),
)


@pytest.fixture
async def store(sqlite_url: str) -> AsyncIterator[Store]:
    async with open_store(sqlite_url, REPORTS) as opened:
        yield opened


class SlowStore:
    """The real store, `delay` seconds slower on every read."""

    def __init__(self, store: Store, delay: float) -> None:
        self._store = store
        self._delay = delay

    def __getattr__(self, name: str) -> Any:
        method = getattr(self._store, name)

        async def slow(*args: Any, **kwargs: Any) -> Any:
            await asyncio.sleep(self._delay)
            return await method(*args, **kwargs)

        return slow


@asynccontextmanager
async def serve(store: Any, **kwargs: Any) -> AsyncIterator[httpx.AsyncClient]:
    """The endpoint under uvicorn on an ephemeral 127.0.0.1 port, and a client pointed at it."""
    settings = Settings(teams_outgoing_webhook_secret=SecretStr(SECRET))
    app = Starlette(routes=[teams_endpoint(settings, store, CONFIG, **kwargs)])
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="off"))
    task = asyncio.create_task(server.serve())
    for _ in range(500):
        if server.started:
            break
        await asyncio.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=10) as client:
            yield client
    finally:
        server.should_exit = True
        await task


def activity(text: str, *, when: datetime | None = None, ident: str | None = None) -> bytes:
    """An outgoing-webhook activity as Teams sends it for "@EarningsBot <text>" in a channel."""
    stamp = (when or datetime.now(UTC)).isoformat(timespec="microseconds").replace("+00:00", "Z")
    body = {
        "type": "message",
        "id": ident or str(int(time.time() * 1000) + uuid.uuid4().int % 1000),
        "timestamp": stamp,
        "localTimestamp": stamp,
        "serviceUrl": "https://smba.trafficmanager.net/emea/",
        "channelId": "msteams",
        "from": {"id": "29:1-user", "name": "Ana Analyst", "aadObjectId": str(uuid.uuid4())},
        "conversation": {"isGroup": True, "id": f"{CHANNEL};messageid=1700000000000", "conversationType": "channel"},
        "textFormat": "plain",
        "text": f"<at>EarningsBot</at>&nbsp;{text}\n",
        "attachments": [{"contentType": "text/html", "content": f"<div><at>EarningsBot</at> {text}</div>"}],
        "entities": [{"type": "clientInfo", "locale": "en-US", "country": "US", "platform": "Web"}],
        "channelData": {"teamsChannelId": CHANNEL, "channel": {"id": CHANNEL}, "tenant": {"id": str(uuid.uuid4())}},
    }
    return json.dumps(body).encode()


def signed(body: bytes, key: bytes = KEY) -> dict[str, str]:
    digest = hmac.new(key, body, hashlib.sha256).digest()
    return {"Authorization": f"HMAC {base64.b64encode(digest).decode()}", "Content-Type": "application/json"}


def card_of(resp: httpx.Response, schema: Validator) -> dict[str, Any]:
    assert resp.status_code == 200, resp.text
    message = resp.json()
    assert message["type"] == "message"
    [attachment] = message["attachments"]
    assert attachment["contentType"] == "application/vnd.microsoft.card.adaptive"
    card: dict[str, Any] = attachment["content"]
    errors = [e.message[:200] for e in schema.iter_errors(card)]
    assert not errors, errors[:3]
    return card


# --------------------------------------------------------------------------- authentication


@pytest.mark.parametrize(
    ("headers", "status"),
    [
        (lambda body: signed(body), 200),
        (lambda body: signed(body, key=b"another token, same length......"), 401),
        (lambda body: signed(body + b" "), 401),
        (lambda body: {"Authorization": signed(body)["Authorization"].replace("HMAC ", "Bearer ")}, 401),
        (lambda body: {"Authorization": "HMAC not-base64!"}, 401),
        (lambda body: {"Authorization": "HMAC"}, 401),
        (lambda body: {}, 401),
    ],
    ids=["valid", "wrong-key", "other-body", "wrong-scheme", "garbage", "empty", "missing"],
)
async def test_only_a_valid_hmac_is_answered(store: Store, schema: Validator, headers: Any, status: int) -> None:
    body = activity("NWC revenue")
    async with serve(store) as client:
        resp = await client.post(PATH, content=body, headers=headers(body))
    assert resp.status_code == status
    if status == 200:
        assert any("Total revenue" in t for t in card_texts(card_of(resp, schema)))
    else:
        assert "Total revenue" not in resp.text


async def test_hmac_is_checked_before_the_body_is_parsed(store: Store) -> None:
    async with serve(store) as client:
        unsigned = await client.post(PATH, content=b"{not json", headers={"Authorization": "HMAC AAAA"})
        signed_garbage = await client.post(PATH, content=b"{not json", headers=signed(b"{not json"))
    assert (unsigned.status_code, signed_garbage.status_code) == (401, 400)


async def test_a_replayed_body_is_refused(store: Store, schema: Validator) -> None:
    body = activity("NWC revenue")
    async with serve(store) as client:
        first = await client.post(PATH, content=body, headers=signed(body))
        again = await client.post(PATH, content=body, headers=signed(body))
    card_of(first, schema)
    assert again.status_code == 401


@pytest.mark.parametrize(
    ("age", "status"),
    [(timedelta(seconds=0), 200), (timedelta(minutes=4), 200), (timedelta(minutes=6), 401), (timedelta(hours=-1), 401)],
)
async def test_old_activities_are_refused(store: Store, age: timedelta, status: int) -> None:
    body = activity("NWC revenue", when=datetime.now(UTC) - age)
    async with serve(store) as client:
        resp = await client.post(PATH, content=body, headers=signed(body))
    assert resp.status_code == status


@pytest.mark.parametrize(
    "body",
    [b"[]", b'{"type": "message", "text": "hi"}', b'{"id": "1", "timestamp": "yesterday", "text": "hi"}'],
)
async def test_activities_without_id_or_timestamp_are_refused(store: Store, body: bytes) -> None:
    async with serve(store) as client:
        resp = await client.post(PATH, content=body, headers=signed(body))
    assert resp.status_code == 400


@pytest.mark.parametrize(("secret", "message"), [(None, "not set"), ("", "not set"), ("!!not base64!!", "base64")])
async def test_the_endpoint_needs_the_security_token(store: Store, secret: str | None, message: str) -> None:
    settings = Settings(teams_outgoing_webhook_secret=None if secret is None else SecretStr(secret))
    with pytest.raises(ConfigError, match=f"TEAMS_OUTGOING_WEBHOOK_SECRET: .*{message}"):
        teams_endpoint(settings, store, CONFIG)


@pytest.mark.parametrize(
    ("authorization", "ok"),
    [("HMAC " + base64.b64encode(hmac.new(b"k", b"body", hashlib.sha256).digest()).decode(), True),
     ("HMAC " + base64.b64encode(hmac.new(b"k", b"bodY", hashlib.sha256).digest()).decode(), False),
     ("hmac " + base64.b64encode(hmac.new(b"k", b"body", hashlib.sha256).digest()).decode(), False),
     ("HMAC ünïcode", False), (None, False)],
)
def test_verify_hmac(authorization: str | None, ok: bool) -> None:
    assert verify_hmac(b"k", authorization, b"body") is ok


def test_replay_guard_forgets_after_its_window() -> None:
    guard = ReplayGuard(window=10.0)
    assert guard.first(("1", "t"), now=100.0) and guard.first(("2", "t"), now=105.0)
    assert not guard.first(("1", "t"), now=109.0)
    assert guard.first(("1", "t"), now=111.0)  # outside the window: its timestamp check refuses it anyway


# --------------------------------------------------------------------------- queries


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("<at>EarningsBot</at> NWC revenue", "NWC revenue"),
        ("<at>EarningsBot</at>&nbsp;NWC&amp;CTSO\n", "NWC&CTSO"),
        ("<p><at id=\"0\">Earnings Bot</at> compare NWC CTSO revenue</p>", "compare NWC CTSO revenue"),
        ("NWC guidance <at>EarningsBot</at>", "NWC guidance"),
        ("<at>EarningsBot</at>", ""),
    ],
)
def test_command_text_drops_the_mention_and_markup(text: str, expected: str) -> None:
    assert command_text(text) == expected


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("help", "Earnings bot"),
        ("NWC", "Northwind Cloud (NWC) · Q2 2025 earnings call"),
        ("northwind cloud revenue", "“Total revenue was $915.5 million in the quarter, said the finance chief.”"),
        ("NWC gross margin Q1 2025", "Northwind Cloud (NWC) · Q1 2025 · Gross margin"),
        ("NWC guidance", "“We expect gross margin to widen next year.”"),
        ("NWC revenue history", "Northwind Cloud (NWC) · Total revenue by quarter"),
        ("compare NWC CTSO revenue", "Total revenue: NWC vs CTSO"),
        ("NWC revenu", "Did you mean: Total revenue?"),
    ],
)
async def test_each_query_form_is_answered_with_a_card(
    store: Store, schema: Validator, query: str, expected: str
) -> None:
    body = activity(query)
    async with serve(store) as client:
        resp = await client.post(PATH, content=body, headers=signed(body))
    assert any(expected in t for t in card_texts(card_of(resp, schema)))


async def test_history_is_a_table_newest_first(store: Store, schema: Validator) -> None:
    body = activity("NWC revenue history")
    async with serve(store) as client:
        card = card_of(await client.post(PATH, content=body, headers=signed(body)), schema)
    [table] = [e for e in card["body"] if e["type"] == "Table"]
    periods = [card_texts(row["cells"][0])[0] for row in table["rows"][1:]]
    assert periods == ["Q2 2025", "Q1 2025"]


@pytest.mark.parametrize("query", ["watch NWC", "unwatch NWC", "watchlist"])
async def test_watchlists_are_refused_with_the_way_to_get_digests(
    store: Store, schema: Validator, query: str
) -> None:
    body = activity(query)
    async with serve(store) as client:
        card = card_of(await client.post(PATH, content=body, headers=signed(body)), schema)
    assert card["body"][0] == {
        "type": "TextBlock", "text": "Watchlists are not available in Teams.", "wrap": True, "size": "large",
        "weight": "bolder", "style": "heading", "color": "attention",
    }
    assert "Workflows webhook routes" in card_texts(card)[1]
    assert await store.watchlist("teams", CHANNEL) == []  # nothing queued that no webhook could carry


async def test_a_slow_store_still_gets_a_reply_within_five_seconds(store: Store, schema: Validator) -> None:
    slow = SlowStore(store, delay=3.0)  # an answer reads the store twice: 6 s, past the 5 s limit
    first, again = activity("NWC revenue"), activity("NWC revenue")
    async with serve(slow) as client:
        started = time.monotonic()
        resp = await client.post(PATH, content=first, headers=signed(first))
        elapsed = time.monotonic() - started
        assert 4.0 < elapsed < 5.0, elapsed
        assert card_texts(card_of(resp, schema))[:2] == [
            "Still looking this up…",
            "Mention me again with “NWC revenue” in a moment to get the answer.",
        ]
        started = time.monotonic()
        resp = await client.post(PATH, content=again, headers=signed(again))  # joins the lookup in flight
        assert time.monotonic() - started < 5.0
    assert any("Total revenue was $915.5 million" in t for t in card_texts(card_of(resp, schema)))
