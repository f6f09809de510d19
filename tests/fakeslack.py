"""A fake Slack Web API for tests: a real HTTP (and Socket Mode WebSocket) server on 127.0.0.1.

It answers the methods the bot calls with Slack's JSON shapes (auth.test, chat.postMessage, chat.update,
chat.getPermalink, conversations.history, conversations.replies, apps.connections.open), enforces the
Block Kit limits Slack enforces, keeps the channels' messages, records every request, serves the
`response_url` endpoint that `respond()` posts to, and can be scripted to fail::

    with FakeSlack() as slack:
        slack.fail("chat.postMessage", status=429, retry_after=1)      # the next call is rate limited
        slack.fail("chat.postMessage", status=500)                     # then a server error
        slack.fail("chat.postMessage", error="channel_not_found")      # then ok=false
        client = AsyncWebClient(token=slack.bot_token, base_url=slack.api_url)
        ...
        slack.messages["C1"]          # top-level messages and replies, oldest first
        slack.calls("chat.postMessage")
        await slack.wait_for(lambda: slack.responses)                 # what respond() sent

Socket Mode: `apps.connections.open` hands out ws://127.0.0.1:<port>/socket; `send_socket(envelope)` pushes
an envelope to the connected app and `socket_acks` records what it sent back.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

from aiohttp import WSMsgType, web

BOT_TOKEN = "xoxb-0000-test-bot-token"
APP_TOKEN = "xapp-1-test-app-token"
BOT_USER = "UBOT0001"
BOT_ID = "BBOT0001"
TEAM = "T0FAKE001"

_PAGE = 100


@dataclass
class Fault:
    status: int = 200
    error: str | None = None
    retry_after: float | None = None
    after: int = 0  # calls that succeed before this fault applies


@dataclass
class Request:
    method: str
    path: str
    headers: dict[str, str]
    body: dict[str, Any]
    at: float = field(default_factory=time.monotonic)


def _truthy(value: Any) -> bool:
    return value in (True, 1, "1", "true", "True")


def check_blocks(blocks: Any) -> str | None:
    """Why Slack would reject these blocks (None when it would accept them): the limits Slack enforces."""
    if blocks is None:
        return None
    if isinstance(blocks, str):
        blocks = json.loads(blocks)
    if not isinstance(blocks, list) or len(blocks) > 50:
        return "invalid_blocks: more than 50 blocks"
    for block in blocks:
        kind = block.get("type")
        text = block.get("text") or {}
        if kind == "header" and (text.get("type") != "plain_text" or len(text.get("text", "")) > 150):
            return "invalid_blocks: header must be plain_text up to 150 characters"
        if kind == "section":
            if len(text.get("text", "")) > 3000:
                return "invalid_blocks: section text over 3000 characters"
            fields = block.get("fields") or []
            if len(fields) > 10 or any(len(f.get("text", "")) > 2000 for f in fields):
                return "invalid_blocks: more than 10 fields or a field over 2000 characters"
            if not text and not fields:
                return "invalid_blocks: section without text or fields"
        if kind == "context" and len(block.get("elements") or []) > 10:
            return "invalid_blocks: more than 10 context elements"
        if kind == "actions":
            for element in block.get("elements") or []:
                if len(str(element.get("value", ""))) > 2000 or len(element.get("text", {}).get("text", "")) > 75:
                    return "invalid_blocks: button value over 2000 or text over 75 characters"
    return None


class FakeSlack:
    """The fake Slack server. Use as a context manager; everything it records is readable from tests."""

    def __init__(self, *, bot_token: str = BOT_TOKEN, app_token: str = APP_TOKEN) -> None:
        self.bot_token = bot_token
        self.app_token = app_token
        self.requests: list[Request] = []
        self.messages: dict[str, list[dict[str, Any]]] = {}
        self.responses: list[dict[str, Any]] = []
        self.socket_acks: list[dict[str, Any]] = []
        self.faults: dict[str, list[Fault]] = {}
        self.delay: dict[str, float] = {}
        self._last_ts = 0.0
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._runner: web.AppRunner | None = None
        self._sockets: list[web.WebSocketResponse] = []
        self.port = 0

    # ------------------------------------------------------------------ lifecycle

    def __enter__(self) -> FakeSlack:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> None:
        ready = threading.Event()
        self._loop = asyncio.new_event_loop()

        def run() -> None:
            assert self._loop is not None
            asyncio.set_event_loop(self._loop)
            self._loop.run_until_complete(self._serve())
            ready.set()
            self._loop.run_forever()

        self._thread = threading.Thread(target=run, name="fakeslack", daemon=True)
        self._thread.start()
        if not ready.wait(10):
            raise RuntimeError("fake Slack server did not start")

    async def _serve(self) -> None:
        app = web.Application()
        app.router.add_route("*", "/api/{method}", self._api)
        app.router.add_post("/response/{id}", self._response_url)
        app.router.add_get("/socket", self._socket)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = self._runner.addresses[0][1]

    def stop(self) -> None:
        if self._loop is None:
            return
        loop = self._loop

        async def shutdown() -> None:
            for ws in list(self._sockets):
                await ws.close()
            if self._runner is not None:
                await self._runner.cleanup()

        asyncio.run_coroutine_threadsafe(shutdown(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        if self._thread is not None:
            self._thread.join(10)
        loop.close()
        self._loop = None

    # ------------------------------------------------------------------ addresses and scripting

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def api_url(self) -> str:
        return f"{self.base}/api/"

    def response_url(self, name: str = "1") -> str:
        return f"{self.base}/response/{name}"

    def fail(self, method: str, *, status: int = 200, error: str | None = None, retry_after: float | None = None,
             times: int = 1, after: int = 0) -> None:
        """After `after` good calls, the next `times` calls of `method` fail: HTTP `status` (429 adds
        Retry-After) or ok=false `error`."""
        with self._lock:
            queue = self.faults.setdefault(method, [])
            queue.extend(Fault(status, error, retry_after, after if i == 0 else 0) for i in range(times))

    def calls(self, method: str) -> list[Request]:
        return [r for r in self.requests if r.method == method]

    def posted(self, channel: str) -> list[dict[str, Any]]:
        """Messages in a channel, top-level and replies, oldest first."""
        return list(self.messages.get(channel, []))

    def top_level(self, channel: str) -> list[dict[str, Any]]:
        return [m for m in self.posted(channel) if m.get("thread_ts") in (None, m["ts"])]

    def replies(self, channel: str, thread_ts: str) -> list[dict[str, Any]]:
        return [m for m in self.posted(channel) if m.get("thread_ts") == thread_ts and m["ts"] != thread_ts]

    async def wait_for(self, predicate: Callable[[], Any], timeout: float = 10.0) -> Any:
        """Poll until `predicate()` is truthy (from async tests); AssertionError on timeout."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            value = predicate()
            if value:
                return value
            await asyncio.sleep(0.01)
        raise AssertionError("fake Slack: condition not met in time")

    def send_socket(self, envelope: dict[str, Any]) -> None:
        """Push an envelope (e.g. a slash_commands one) to every connected Socket Mode client."""
        if self._loop is None or not self._sockets:
            raise AssertionError("no Socket Mode client is connected")
        for ws in list(self._sockets):
            asyncio.run_coroutine_threadsafe(ws.send_str(json.dumps(envelope)), self._loop).result(5)

    @property
    def socket_clients(self) -> int:
        return len(self._sockets)

    # ------------------------------------------------------------------ HTTP handlers

    async def _body(self, request: web.Request) -> dict[str, Any]:
        body: dict[str, Any] = dict(request.query)
        raw = await request.read()
        if raw:
            if request.content_type == "application/json":
                body.update(json.loads(raw))
            else:
                body.update(parse_qsl(raw.decode("utf-8"), keep_blank_values=True))
        return body

    async def _api(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        body = await self._body(request)
        self.requests.append(Request(method, request.path, dict(request.headers), body))
        if method in self.delay:
            await asyncio.sleep(self.delay[method])
        with self._lock:
            queue = self.faults.get(method) or []
            fault = None
            if queue and queue[0].after > 0:
                queue[0].after -= 1
            elif queue:
                fault = queue.pop(0)
        if fault is not None and fault.status != 200:
            headers = {"Retry-After": str(int(fault.retry_after or 1))} if fault.status == 429 else {}
            if fault.status == 429:
                return web.json_response({"ok": False, "error": "ratelimited"}, status=429, headers=headers)
            return web.Response(status=fault.status, text="upstream error", headers=headers)
        if fault is not None and fault.error:
            return web.json_response({"ok": False, "error": fault.error})
        auth = request.headers.get("Authorization", "")
        token = auth.removeprefix("Bearer ").strip() or str(body.get("token", ""))
        expected = self.app_token if method == "apps.connections.open" else self.bot_token
        if not token:
            return web.json_response({"ok": False, "error": "not_authed"})
        if token != expected:
            return web.json_response({"ok": False, "error": "invalid_auth"})
        handler = getattr(self, "_m_" + method.replace(".", "_"), None)
        if handler is None:
            return web.json_response({"ok": False, "error": "unknown_method"})
        return web.json_response(handler(body))

    def _next_ts(self) -> str:
        """Slack-style "seconds.micros" from the clock, strictly increasing."""
        with self._lock:
            self._last_ts = max(time.time(), self._last_ts + 0.000001)
            return f"{self._last_ts:.6f}"

    def _m_auth_test(self, body: dict[str, Any]) -> dict[str, Any]:
        return {"ok": True, "url": "https://fake.slack.com/", "team": "Fake", "user": "earnings", "team_id": TEAM,
                "user_id": BOT_USER, "bot_id": BOT_ID, "is_enterprise_install": False}

    def _m_apps_connections_open(self, body: dict[str, Any]) -> dict[str, Any]:
        return {"ok": True, "url": f"ws://127.0.0.1:{self.port}/socket"}

    def _m_chat_postMessage(self, body: dict[str, Any]) -> dict[str, Any]:
        channel = str(body.get("channel", ""))
        if not channel:
            return {"ok": False, "error": "channel_not_found"}
        if not body.get("text") and not body.get("blocks"):
            return {"ok": False, "error": "no_text"}
        problem = check_blocks(body.get("blocks"))
        if problem:
            return {"ok": False, "error": "invalid_blocks", "errors": [problem]}
        thread_ts = body.get("thread_ts")
        if thread_ts and not any(m["ts"] == thread_ts for m in self.messages.get(channel, [])):
            return {"ok": False, "error": "thread_not_found"}
        blocks = body.get("blocks")
        message: dict[str, Any] = {
            "type": "message", "user": BOT_USER, "bot_id": BOT_ID, "text": body.get("text", ""),
            "blocks": json.loads(blocks) if isinstance(blocks, str) else (blocks or []), "ts": self._next_ts(),
        }
        if thread_ts:
            message["thread_ts"] = thread_ts
        metadata = body.get("metadata")
        if metadata:
            message["metadata"] = json.loads(metadata) if isinstance(metadata, str) else metadata
        with self._lock:
            self.messages.setdefault(channel, []).append(message)
        return {"ok": True, "channel": channel, "ts": message["ts"], "message": message}

    def _m_chat_update(self, body: dict[str, Any]) -> dict[str, Any]:
        channel, ts = str(body.get("channel", "")), str(body.get("ts", ""))
        problem = check_blocks(body.get("blocks"))
        if problem:
            return {"ok": False, "error": "invalid_blocks", "errors": [problem]}
        for message in self.messages.get(channel, []):
            if message["ts"] == ts:
                blocks = body.get("blocks")
                message.update(text=body.get("text", message["text"]),
                               blocks=json.loads(blocks) if isinstance(blocks, str) else (blocks or []),
                               edited={"user": BOT_USER, "ts": self._next_ts()})
                return {"ok": True, "channel": channel, "ts": ts, "text": message["text"]}
        return {"ok": False, "error": "message_not_found"}

    def _m_chat_getPermalink(self, body: dict[str, Any]) -> dict[str, Any]:
        channel, ts = str(body.get("channel", "")), str(body.get("message_ts", ""))
        if not any(m["ts"] == ts for m in self.messages.get(channel, [])):
            return {"ok": False, "error": "message_not_found"}
        link = f"https://fake.slack.com/archives/{channel}/p{ts.replace('.', '')}"
        return {"ok": True, "channel": channel, "permalink": link}

    def _page(self, items: list[dict[str, Any]], body: dict[str, Any]) -> dict[str, Any]:
        start = int(body.get("cursor") or 0)
        limit = min(int(body.get("limit") or _PAGE), 1000)
        page = items[start : start + limit]
        if not _truthy(body.get("include_all_metadata")):
            page = [{k: v for k, v in m.items() if k != "metadata"} for m in page]
        more = start + limit < len(items)
        return {"ok": True, "messages": page, "has_more": more,
                "response_metadata": {"next_cursor": str(start + limit) if more else ""}}

    def _m_conversations_history(self, body: dict[str, Any]) -> dict[str, Any]:
        channel = str(body.get("channel", ""))
        oldest = float(body.get("oldest") or 0)
        items = [m for m in reversed(self.top_level(channel)) if float(m["ts"]) > oldest]
        return self._page(items, body)

    def _m_conversations_replies(self, body: dict[str, Any]) -> dict[str, Any]:
        channel, ts = str(body.get("channel", "")), str(body.get("ts", ""))
        parent = [m for m in self.posted(channel) if m["ts"] == ts]
        if not parent:
            return {"ok": False, "error": "thread_not_found"}
        oldest = float(body.get("oldest") or 0)
        items = parent + [m for m in self.replies(channel, ts) if float(m["ts"]) > oldest]
        return self._page(items, body)

    async def _response_url(self, request: web.Request) -> web.Response:
        body = await self._body(request)
        self.requests.append(Request("response_url", request.path, dict(request.headers), body))
        problem = check_blocks(body.get("blocks"))
        if problem:
            return web.Response(status=400, text=problem)
        self.responses.append({"id": request.match_info["id"], **body})
        return web.Response(text="ok")

    async def _socket(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(autoping=True)
        await ws.prepare(request)
        self._sockets.append(ws)
        await ws.send_str(json.dumps({"type": "hello", "num_connections": 1,
                                      "connection_info": {"app_id": "A0FAKE001"},
                                      "debug_info": {"host": "fake", "approximate_connection_time": 3600}}))
        try:
            async for msg in ws:
                if msg.type == WSMsgType.TEXT:
                    self.socket_acks.append(json.loads(msg.data))
        finally:
            self._sockets.remove(ws)
        return ws
