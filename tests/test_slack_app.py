"""The Slack app over real HTTP: signed slash commands and button clicks sent to the app served by uvicorn on
127.0.0.1, its answers posted to the fake Slack's response_url; Socket Mode against the fake's WebSocket."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import time
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
import uvicorn
from fakeslack import APP_TOKEN, BOT_TOKEN, TEAM, FakeSlack
from pydantic import SecretStr

from bot.config import BotConfig, Settings
from bot.errors import ConfigError, StoreError
from bot.platforms.slack import SlackApp, build_slack
from bot.store import Store
from tests.reports import COMPANIES, OUTLOOK, REPORTS, CountingStore, open_store

SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
CHANNEL = "C0CHANNEL1"
USER = "U0USER0001"


def settings(slack: FakeSlack, **overrides: Any) -> Settings:
    values: dict[str, Any] = {"slack_bot_token": SecretStr(BOT_TOKEN), "slack_signing_secret": SecretStr(SECRET),
                              "slack_api_url": slack.api_url}
    values.update(overrides)
    return Settings(**values)


def signed(body: str, *, secret: str = SECRET, at: float | None = None) -> dict[str, str]:
    """Headers as Slack signs a request: v0=HMAC-SHA256(secret, "v0:{timestamp}:{body}")."""
    ts = str(int(at if at is not None else time.time()))
    digest = hmac.new(secret.encode(), f"v0:{ts}:{body}".encode(), hashlib.sha256).hexdigest()
    return {"X-Slack-Request-Timestamp": ts, "X-Slack-Signature": f"v0={digest}",
            "Content-Type": "application/x-www-form-urlencoded"}


def command_body(slack: FakeSlack, text: str, reply: str) -> str:
    return urlencode({
        "token": "deprecated", "team_id": TEAM, "team_domain": "fake", "channel_id": CHANNEL,
        "channel_name": "earnings", "user_id": USER, "user_name": "ana", "command": "/earnings", "text": text,
        "api_app_id": "A0FAKE001", "is_enterprise_install": "false", "response_url": slack.response_url(reply),
        "trigger_id": "123.456.abc",
    })


class Served:
    """The app's ASGI handler served by uvicorn on an ephemeral 127.0.0.1 port."""

    def __init__(self, app: SlackApp) -> None:
        self.app = app
        self.server = uvicorn.Server(uvicorn.Config(app.asgi, host="127.0.0.1", port=0, lifespan="off",
                                                    log_level="warning", access_log=False))
        self.task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> Served:
        self.task = asyncio.create_task(self.server.serve())
        while not self.server.started:
            await asyncio.sleep(0.01)
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.server.should_exit = True
        if self.task is not None:
            await self.task
        await self.app.stop()

    @property
    def url(self) -> str:
        port = self.server.servers[0].sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{port}/slack/events"

    async def post(self, body: str, headers: dict[str, str], timeout: float = 3.0) -> httpx.Response:
        """One request as Slack sends it; Slack gives up after 3 seconds, and so does this client."""
        async with httpx.AsyncClient(timeout=timeout) as client:
            return await client.post(self.url, content=body, headers=headers)


@pytest.fixture
async def store(sqlite_url: str) -> AsyncIterator[Store]:
    async with open_store(sqlite_url, REPORTS) as opened:
        yield opened


@pytest.fixture
async def served(store: Store, slack: FakeSlack) -> AsyncIterator[Served]:
    async with Served(build_slack(settings(slack), store, BotConfig(companies=COMPANIES))) as running:
        yield running


async def ask(served: Served, slack: FakeSlack, text: str, reply: str = "r1") -> dict[str, Any]:
    body = command_body(slack, text, reply)
    response = await served.post(body, signed(body))
    assert (response.status_code, response.text) == (200, "")
    found = await slack.wait_for(lambda: [r for r in slack.responses if r["id"] == reply])
    return dict(found[0])


def shown(message: dict[str, Any]) -> str:
    return json.dumps(message["blocks"], ensure_ascii=False)


@pytest.mark.parametrize(("text", "expected"), [
    ("KC", '"text": "Kingsoft Cloud (KC) · Q1 2024 earnings call"'),
    ("kingsoft cloud", '"text": "Kingsoft Cloud (KC) · Q1 2024 earnings call"'),
    ("KC revenue", "*Kingsoft Cloud (KC) · Q1 2024 · Total revenues*"),
    ("KC adjusted ebitda margin", "*Adjusted EBITDA margin*  2.2%  ▲ 9pp YoY  (a year earlier -6.8%)  ✓ checked"),
    ("KC capex Q4 2023", "*Capex*  RMB600.0M"),
    ("KC guidance", f"• {OUTLOOK.text} _(Jane Roe, Q&amp;A)_"),
    ("KC revenue history", "```Period   Total revenues"),
    ("compare KC BIDU revenue", "Baidu (BIDU)         Q1 2024  RMB31.5B"),
    ("watch KC", "*Now watching Kingsoft Cloud (KC) here.*"),
    ("watchlist", "*This channel watches no companies yet.*"),
    ("help", "KC revenue history: the last quarters in a table, newest first"),
    ("KC ebita", '⚠ *No metric \\"ebita\\" for KC. Did you mean: Adjusted EBITDA, Adjusted EBITDA margin?*'),
    ("kingsoft clod", '⚠ *No company \\"kingsoft clod\\". Did you mean: Kingsoft Cloud (KC)?*'),
])
async def test_every_query_form_is_answered_ephemerally(
    served: Served, slack: FakeSlack, text: str, expected: str
) -> None:
    reply = await ask(served, slack, text)
    assert reply["response_type"] == "ephemeral"
    assert expected in shown(reply), shown(reply)
    buttons = [b for b in reply["blocks"] if b["type"] == "actions"]
    if buttons:
        assert buttons[0]["elements"][0]["value"] == text


async def test_the_app_talks_to_slack_api_url_with_the_bot_token(served: Served, slack: FakeSlack) -> None:
    body = share_body(slack, "KC revenue")  # interactivity goes through bolt, which authorizes with auth.test
    assert (await served.post(body, signed(body))).status_code == 200
    (auth,) = await slack.wait_for(lambda: slack.calls("auth.test"))
    assert auth.headers["Authorization"] == f"Bearer {BOT_TOKEN}"


async def test_watch_then_watchlist_is_kept_per_channel(served: Served, slack: FakeSlack, store: Store) -> None:
    await ask(served, slack, "watch KC", "r1")
    listed = await ask(served, slack, "watchlist", "r2")
    assert "Kingsoft Cloud (KC)" in shown(listed)
    assert await store.watchlist("slack", CHANNEL) == ["KC"]


@pytest.mark.parametrize("headers", [
    pytest.param({"Content-Type": "application/x-www-form-urlencoded"}, id="missing"),
    pytest.param("wrong-secret", id="wrong"),
    pytest.param("stale", id="stale"),
    pytest.param("tampered", id="tampered"),
])
async def test_unsigned_wrongly_signed_and_stale_requests_get_401(
    served: Served, slack: FakeSlack, headers: dict[str, str] | str
) -> None:
    body = command_body(slack, "KC", "r1")
    if headers == "wrong-secret":
        headers = signed(body, secret="not-the-secret")
    elif headers == "stale":
        headers = signed(body, at=time.time() - 5 * 60 - 30)
    elif headers == "tampered":
        headers = signed(body)
        body = body.replace("text=KC", "text=BIDU")
    assert isinstance(headers, dict)
    response = await served.post(body, headers)
    assert response.status_code == 401
    await asyncio.sleep(0.2)
    assert slack.responses == [] and slack.calls("auth.test") == []


async def test_the_command_is_acked_before_a_slow_answer(store: Store, slack: FakeSlack) -> None:
    slow = CountingStore(store)
    slow.gate.clear()  # reports are read only once the test opens the gate
    async with Served(build_slack(settings(slack), slow, BotConfig(companies=COMPANIES))) as running:
        body = command_body(slack, "KC revenue", "slow")
        response = await running.post(body, signed(body), timeout=3.0)  # would time out if the ack waited
        assert response.status_code == 200 and slack.responses == []
        slow.gate.set()
        (reply,) = await slack.wait_for(lambda: slack.responses)
    assert "Total revenues" in shown(reply)


class DownStore(CountingStore):
    async def companies(self) -> list[tuple[str | None, str | None]]:
        raise StoreError("store: companies failed: OperationalError: database is locked")


async def test_a_store_outage_is_told_to_the_user(store: Store, slack: FakeSlack) -> None:
    async with Served(build_slack(settings(slack), DownStore(store), BotConfig(companies=COMPANIES))) as running:
        body = command_body(slack, "KC", "down")
        assert (await running.post(body, signed(body))).status_code == 200
        (reply,) = await slack.wait_for(lambda: slack.responses)
    assert "The earnings store is unavailable right now" in shown(reply)
    assert "OperationalError" not in shown(reply)


def share_body(slack: FakeSlack, value: str) -> str:
    payload = {
        "type": "block_actions", "team": {"id": TEAM, "domain": "fake"}, "user": {"id": USER, "name": "ana"},
        "api_app_id": "A0FAKE001", "token": "deprecated", "trigger_id": "123.456.abc",
        "channel": {"id": CHANNEL, "name": "earnings"}, "container": {"type": "message", "is_ephemeral": True},
        "response_url": slack.response_url("share"),
        "actions": [{"type": "button", "action_id": "share_answer", "block_id": "b1", "value": value,
                     "text": {"type": "plain_text", "text": "Share in channel"}, "action_ts": "1700000000.1"}],
    }
    return urlencode({"payload": json.dumps(payload)})


async def test_share_in_channel_reposts_the_answer_for_everyone(served: Served, slack: FakeSlack) -> None:
    body = share_body(slack, "KC revenue")
    assert (await served.post(body, signed(body))).status_code == 200
    posted, deleted = await slack.wait_for(lambda: slack.responses if len(slack.responses) >= 2 else None)
    assert posted["response_type"] == "in_channel" and posted["replace_original"] is False
    assert "*Kingsoft Cloud (KC) · Q1 2024 · Total revenues*" in shown(posted)
    assert f"Shared by <@{USER}>" in shown(posted)
    assert all(b["type"] != "actions" for b in posted["blocks"])
    assert deleted["delete_original"] is True


async def test_socket_mode_answers_commands_over_the_websocket(store: Store, slack: FakeSlack) -> None:
    app = build_slack(settings(slack, slack_app_token=SecretStr(APP_TOKEN), slack_signing_secret=None), store,
                      BotConfig(companies=COMPANIES))
    assert app.socket_mode and not app.connected
    await app.start_socket_mode()
    try:
        await slack.wait_for(lambda: slack.socket_clients)
        assert app.connected
        payload = {"team_id": TEAM, "channel_id": CHANNEL, "user_id": USER, "command": "/earnings",
                   "text": "KC capex", "response_url": slack.response_url("sock"), "trigger_id": "1.2.3",
                   "api_app_id": "A0FAKE001"}
        slack.send_socket({"envelope_id": "env-1", "type": "slash_commands", "payload": payload,
                           "accepts_response_payload": True})
        (ack,) = await slack.wait_for(lambda: slack.socket_acks)
        assert ack["envelope_id"] == "env-1"
        (reply,) = await slack.wait_for(lambda: slack.responses)
        assert "*Capex*  RMB1.2B" in shown(reply)
        assert slack.calls("apps.connections.open")[0].headers["Authorization"] == f"Bearer {APP_TOKEN}"
    finally:
        await app.stop()
    assert not app.connected


async def test_http_requests_are_refused_in_socket_mode_without_a_signing_secret(
    store: Store, slack: FakeSlack
) -> None:
    app = build_slack(settings(slack, slack_app_token=SecretStr(APP_TOKEN), slack_signing_secret=None), store,
                      BotConfig(companies=COMPANIES))
    async with Served(app) as running:
        body = command_body(slack, "KC", "r1")
        assert (await running.post(body, signed(body, secret=""))).status_code == 401


@pytest.mark.parametrize(("overrides", "message"), [
    ({"slack_bot_token": None}, "SLACK_BOT_TOKEN is not set"),
    ({"slack_signing_secret": None}, "SLACK_SIGNING_SECRET is not set"),
])
async def test_missing_secrets_are_a_config_error(
    store: Store, slack: FakeSlack, overrides: dict[str, Any], message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        build_slack(settings(slack, **overrides), store, BotConfig())


async def test_command_latency_is_recorded_for_metrics(served: Served, slack: FakeSlack) -> None:
    from prometheus_client import REGISTRY

    def count() -> float:
        value = REGISTRY.get_sample_value("earnings_bot_command_latency_seconds_count", {"platform": "slack"})
        return value or 0.0

    before = count()
    await ask(served, slack, "help")
    assert count() == before + 1
