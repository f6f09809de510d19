"""Microsoft Teams: TeamsSink posts digest cards to Workflows webhooks; teams_endpoint answers @mentions."""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import hashlib
import hmac
import html
import json
import logging
import os
import re
import time
from collections import OrderedDict, deque
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import httpx
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from bot.commands import parse
from bot.config import BotConfig, Settings
from bot.digest.answers import AnswerStore, answer
from bot.digest.model import Answer, Digest
from bot.digest.teams import message_bytes, render_answer, render_digest
from bot.errors import BotError, ConfigError, DeliveryError, QueryError, StoreError
from bot.logs import RedactingFilter, Redactor
from bot.sources.http import parse_retry_after, redact
from bot.store.types import DeliveryItem
from bot.telemetry import COMMAND_LATENCY

log = logging.getLogger(__name__)

PATH = "/teams/messages"
RATE_PER_SECOND = 4  # Teams' limit per webhook
REPLY_DEADLINE = 4.5  # seconds: Teams drops outgoing-webhook replies after 5
MAX_ACTIVITY_AGE = 300.0  # seconds: older activities are refused as possible replays
CLOCK_SKEW = 60.0  # seconds an activity may be dated in the future
MAX_ACTIVITY_BYTES = 256 * 1024

_ERROR_CODE = re.compile(r"^[A-Za-z][A-Za-z0-9_.]{0,63}$")
_MENTION = re.compile(r"<at\b[^>]*>.*?</at>", re.IGNORECASE | re.DOTALL)
_TAG = re.compile(r"<[^>]*>")
_WHITESPACE = re.compile(r"\s+")
_JSON = {"Content-Type": "application/json"}
_LOG = {"platform": "teams"}
_SECRET_ENV = "TEAMS_OUTGOING_WEBHOOK_SECRET"

# httpx logs every request URL at INFO; a webhook URL is a credential, so that logger redacts the ones we use.
_webhook_urls: set[str] = set()
_httpx_redaction = RedactingFilter(Redactor())


def _hide_from_logs(url: str) -> None:
    if url not in _webhook_urls:
        _webhook_urls.update({url, str(httpx.URL(url)), redact(url)})  # also as bot.sources.http shortens it
        _httpx_redaction.redactor = Redactor(_webhook_urls)
    logging.getLogger("httpx").addFilter(_httpx_redaction)  # no-op when already there


# --------------------------------------------------------------------------- posting


class WebhookLimiter:
    """At most `rate` requests in any `per` seconds per webhook, keyed by its URL (held in memory only).

    A request holds its slot while in flight and for `per` seconds after its response, so the limit holds
    at the receiving end too, whatever the network delay.
    """

    def __init__(self, rate: int = RATE_PER_SECOND, per: float = 1.0) -> None:
        self.rate = rate
        self.per = per
        self._windows: dict[str, _Window] = {}

    @asynccontextmanager
    async def slot(self, key: str) -> AsyncIterator[None]:
        window = self._windows.setdefault(key, _Window())
        async with window.changed:
            while True:
                now = time.monotonic()
                while window.done and now - window.done[0] >= self.per:
                    window.done.popleft()
                if window.busy + len(window.done) < self.rate:
                    break
                wait = self.per - (now - window.done[0]) if window.done else None
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(window.changed.wait(), wait)
            window.busy += 1
        try:
            yield
        finally:
            async with window.changed:
                window.busy -= 1
                window.done.append(time.monotonic())
                window.changed.notify()


@dataclass
class _Window:
    busy: int = 0
    done: deque[float] = field(default_factory=deque)
    changed: asyncio.Condition = field(default_factory=asyncio.Condition)


class TeamsSink:
    """The outbox's Teams sink: one Adaptive Card per delivery, posted to the Workflows webhook whose URL is
    in the environment variable named by the delivery's target (Route.target)."""

    platform = "teams"
    limited_per_target = True  # each Workflows webhook has its own rate limit

    def __init__(
        self,
        *,
        client: httpx.AsyncClient | None = None,
        environ: Mapping[str, str] | None = None,
        limiter: WebhookLimiter | None = None,
        attempts: int = 3,
        max_wait: float = 10.0,
        backoff: float = 1.0,
        timeout: float = 10.0,
    ) -> None:
        self._owns_client = client is None
        self._client = client or httpx.AsyncClient(timeout=timeout, follow_redirects=False)
        self._environ = os.environ if environ is None else environ
        self._limiter = limiter or WebhookLimiter()
        self._attempts = max(1, attempts)
        self._max_wait = max_wait
        self._backoff = backoff

    async def aclose(self) -> None:
        if self._owns_client:
            await self._client.aclose()

    async def send(self, item: DeliveryItem, digest: Digest) -> str | None:
        """Post the digest card; Workflows gives no message id, so None. Raises DeliveryError."""
        url = self.webhook_url(item.target)
        await self.post(url, item.target, message_bytes(render_digest(digest, kind=item.kind)))
        return None

    def webhook_url(self, env_name: str) -> str:
        """The webhook URL held in the environment variable `env_name` (errors name the variable only)."""
        url = self._environ.get(env_name, "").strip()
        if not url:
            raise DeliveryError(f"Teams webhook: environment variable {env_name} is not set", permanent=True)
        try:
            parts = urlsplit(url)
            valid = parts.scheme in ("http", "https") and bool(parts.hostname) and bool(httpx.URL(url).host)
        except (ValueError, httpx.InvalidURL):
            valid = False
        if not valid:
            raise DeliveryError(
                f"Teams webhook: environment variable {env_name} does not hold an http(s) URL", permanent=True
            )
        _hide_from_logs(url)
        return url

    async def post(self, url: str, name: str, body: bytes) -> None:
        """POST `body` to `url` at the webhook's rate, retrying 429 and 5xx; errors name it `name`."""
        for attempt in range(1, self._attempts + 1):
            wait: float | None = None
            try:
                async with self._limiter.slot(url):
                    resp = await self._client.post(url, content=body, headers=_JSON)
            except httpx.TimeoutException:
                problem = "timed out"
            except (httpx.HTTPError, httpx.InvalidURL) as exc:  # str(exc) may hold the URL: only its type
                problem = f"connection failed ({type(exc).__name__})"
            else:
                status = resp.status_code
                if 200 <= status < 300:
                    return
                if status != 429 and status < 500:
                    refused = f"Teams webhook {name} refused the card: HTTP {status}{_error_code(resp)}"
                    raise DeliveryError(refused, permanent=True)
                problem = f"HTTP {status}"
                wait = parse_retry_after(resp.headers.get("retry-after"))
            if wait is None:
                wait = self._backoff * 2 ** (attempt - 1)
            if attempt == self._attempts or wait > self._max_wait:
                raise DeliveryError(f"Teams webhook {name}: {problem} after {attempt} attempt(s)", retry_after=wait)
            log.warning("Teams webhook %s: %s; retrying in %.1fs", name, problem, wait, extra=_LOG)
            await asyncio.sleep(wait)


def _error_code(resp: httpx.Response) -> str:
    """` (<code>)` from a Workflows error body that names a plain error code, else nothing."""
    try:
        code = resp.json().get("error", {}).get("code")
    except (ValueError, AttributeError):
        return ""
    return f" ({code})" if isinstance(code, str) and _ERROR_CODE.match(code) else ""


# --------------------------------------------------------------------------- outgoing webhook

Responder = Callable[[str, str | None], Awaitable[Answer]]


# Digests reach a Teams channel through a configured route (a Workflows webhook named by an env variable);
# a watchlist row keyed by the Teams channel id would queue deliveries no webhook can carry.
_NO_WATCHLISTS = Answer(
    ok=False,
    title="Watchlists are not available in Teams.",
    lines=(
        "Teams channels get digests through the Workflows webhook routes in the bot's configuration: "
        "ask whoever runs the bot to route this company to your channel's webhook.",
    ),
    shareable=False,
)


def engine_responder(store: AnswerStore, config: BotConfig) -> Responder:
    """The shared command engine, answering for Teams (watch, unwatch and watchlist excepted)."""

    async def respond(text: str, channel: str | None) -> Answer:
        query = parse(text)
        if query.action in ("watch", "unwatch", "watchlist"):
            return _NO_WATCHLISTS
        return await answer(query, store, companies=config.companies, platform="teams", channel=channel)

    return respond


def verify_hmac(key: bytes, authorization: str | None, body: bytes) -> bool:
    """Whether `Authorization: HMAC <base64>` is the HMAC-SHA256 of `body` under `key` (constant time)."""
    if not authorization or not authorization.startswith("HMAC "):
        return False
    expected = base64.b64encode(hmac.new(key, body, hashlib.sha256).digest())
    return hmac.compare_digest(expected, authorization[5:].strip().encode("ascii", "replace"))


def command_text(activity_text: str) -> str:
    """The command in an activity's text: mentions (<at>Bot</at>) and markup removed, entities decoded."""
    text = _TAG.sub(" ", _MENTION.sub(" ", activity_text))
    return _WHITESPACE.sub(" ", html.unescape(text)).strip()


def _timestamp(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        when = datetime.fromisoformat(value.strip())
    except ValueError:
        return None
    return when if when.tzinfo is not None else when.replace(tzinfo=UTC)


class ReplayGuard:
    """Remembers answered activities (id, timestamp) as long as their timestamp would still be accepted."""

    def __init__(self, window: float = MAX_ACTIVITY_AGE + CLOCK_SKEW) -> None:
        self.window = window
        self._seen: OrderedDict[tuple[str, str], float] = OrderedDict()

    def first(self, key: tuple[str, str], now: float) -> bool:
        while self._seen and next(iter(self._seen.values())) <= now - self.window:
            self._seen.popitem(last=False)
        if key in self._seen:
            return False
        self._seen[key] = now
        return True


class Lookups:
    """Answers in flight: a lookup that outlasts the reply deadline runs on, and asking again gets it."""

    def __init__(self, respond: Responder, *, keep: float = 120.0, limit: float = 60.0) -> None:
        self._respond = respond
        self._keep = keep
        self._limit = limit
        self._tasks: dict[tuple[str | None, str], asyncio.Task[Answer]] = {}

    async def get(self, text: str, channel: str | None, timeout: float) -> Answer | None:
        """The answer, or None when not ready within `timeout` seconds (it goes on in the background)."""
        key = (channel, text.lower())
        task = self._tasks.get(key)
        if task is None:
            task = asyncio.create_task(self._run(text, channel))
            self._tasks[key] = task
            loop = asyncio.get_running_loop()
            task.add_done_callback(lambda t: loop.call_later(self._keep, self._forget, key, t))
        try:
            result = await asyncio.wait_for(asyncio.shield(task), max(timeout, 0.0))
        except TimeoutError:
            return None
        self._forget(key, task)
        return result

    def _forget(self, key: tuple[str | None, str], task: asyncio.Task[Answer]) -> None:
        if self._tasks.get(key) is task:
            del self._tasks[key]

    async def _run(self, text: str, channel: str | None) -> Answer:
        try:
            return await asyncio.wait_for(self._respond(text, channel), self._limit)
        except TimeoutError:
            log.warning("Teams query timed out after %.0fs", self._limit, extra=_LOG)
            return Answer(ok=False, title="Looking this up took too long; please try again later.")
        except StoreError:
            log.warning("Teams query: store unavailable", exc_info=True, extra=_LOG)
            return Answer(ok=False, title="The earnings store is unavailable; try again in a minute.")
        except QueryError as exc:
            return Answer(ok=False, title=str(exc), suggestions=exc.suggestions)
        except BotError as exc:
            return Answer(ok=False, title=str(exc))
        except Exception:
            log.exception("Teams query failed", extra=_LOG)
            return Answer(ok=False, title="Something went wrong answering this; the error is logged.")


def _still_looking(text: str) -> Answer:
    return Answer(
        ok=True,
        title="Still looking this up…",
        lines=(f"Mention me again with “{text}” in a moment to get the answer.",),
    )


def _channel(activity: Mapping[str, Any]) -> str | None:
    for outer, inner in (("channelData", "channel"), ("conversation", None)):
        value = activity.get(outer)
        if isinstance(value, Mapping) and inner is not None:
            value = value.get(inner)
        if isinstance(value, Mapping) and isinstance(value.get("id"), str):
            return str(value["id"])
    return None


async def _read_body(request: Request) -> bytes | None:
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_ACTIVITY_BYTES:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


def teams_endpoint(
    settings: Settings,
    store: AnswerStore,
    config: BotConfig,
    *,
    respond: Responder | None = None,
    deadline: float = REPLY_DEADLINE,
    max_age: float = MAX_ACTIVITY_AGE,
) -> Route:
    """POST /teams/messages: the outgoing webhook for @mentions, answered with a card within `deadline` s.

    Raises ConfigError when TEAMS_OUTGOING_WEBHOOK_SECRET is unset or not base64 (mount it only for Teams).
    """
    secret = settings.teams_outgoing_webhook_secret
    if secret is None or not secret.get_secret_value().strip():
        raise ConfigError(f"environment variable {_SECRET_ENV}: not set (needed for Teams @mentions)")
    try:
        key = base64.b64decode(secret.get_secret_value().strip(), validate=True)
    except (binascii.Error, ValueError):
        raise ConfigError(f"environment variable {_SECRET_ENV}: not the base64 security token Teams showed") from None
    lookups = Lookups(respond or engine_responder(store, config))
    replays = ReplayGuard(max_age + CLOCK_SKEW)

    async def endpoint(request: Request) -> Response:
        started = time.monotonic()
        body = await _read_body(request)
        if body is None:
            return PlainTextResponse("activity too large", status_code=413)
        if not verify_hmac(key, request.headers.get("authorization"), body):
            log.warning("Teams outgoing webhook: missing or invalid HMAC", extra=_LOG)
            return PlainTextResponse("unauthorized", status_code=401)
        try:
            activity = json.loads(body)
        except ValueError:
            return PlainTextResponse("body is not JSON", status_code=400)
        if not isinstance(activity, dict):
            return PlainTextResponse("body is not an activity object", status_code=400)
        ident, stamp = activity.get("id"), activity.get("timestamp")
        when = _timestamp(stamp)
        if not isinstance(ident, str) or not isinstance(stamp, str) or when is None:
            return PlainTextResponse("activity needs an id and an ISO 8601 timestamp", status_code=400)
        age = (datetime.now(UTC) - when).total_seconds()
        if age > max_age or age < -CLOCK_SKEW:
            log.warning("Teams outgoing webhook: activity dated %.0fs ago refused", age, extra=_LOG)
            return PlainTextResponse("activity timestamp too old or in the future", status_code=401)
        if not replays.first((ident, stamp), started):
            log.warning("Teams outgoing webhook: replayed activity refused", extra=_LOG)
            return PlainTextResponse("activity already answered", status_code=401)
        raw_text = activity.get("text")
        text = command_text(raw_text if isinstance(raw_text, str) else "")
        remaining = deadline - (time.monotonic() - started)
        reply = await lookups.get(text, _channel(activity), remaining)
        card = render_answer(reply if reply is not None else _still_looking(text))
        COMMAND_LATENCY.labels(platform="teams").observe(time.monotonic() - started)
        return Response(message_bytes(card), media_type="application/json")

    return Route(PATH, endpoint, methods=["POST"])
