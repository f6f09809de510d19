"""The Slack app: bolt AsyncApp (Socket Mode or HTTP at /slack/events), the /earnings listeners, and SlackSink."""

from __future__ import annotations

import asyncio
import logging
import re
import secrets
import time
from collections.abc import Coroutine, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import aiohttp
from slack_bolt.adapter.asgi.async_handler import AsyncSlackRequestHandler
from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_bolt.async_app import AsyncAck, AsyncApp
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncServerErrorRetryHandler,
)
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.webhook.async_client import AsyncWebhookClient

from bot.commands import parse
from bot.config import BotConfig, Settings
from bot.delivery import CLAIM_TTL
from bot.digest.answers import AnswerStore, CachedStore, answer
from bot.digest.model import Answer, Digest
from bot.digest.slack import SHARE_ACTION, SlackMessage, render_answer, render_digest, render_thread
from bot.errors import ConfigError, DeliveryError, StoreError
from bot.models import CompanyConfig
from bot.platforms.manifest import EVENTS_PATH
from bot.platforms.slack_ack import CommandAck
from bot.store.types import DeliveryItem
from bot.telemetry import COMMAND_LATENCY

log = logging.getLogger(__name__)

PLATFORM = "slack"
COMMAND = re.compile(r"^/earnings[\w-]*$")
METADATA_TYPE = "earnings_digest"
_CHANNEL_ID = re.compile(r"^[CGD][A-Z0-9]{2,}$")
_HISTORY_PAGES = 5

# Slack errors that retrying cannot fix: recorded as permanent failures with the reason.
PERMANENT_ERRORS = frozenset({
    "channel_not_found", "not_in_channel", "is_archived", "channel_is_archived", "invalid_auth", "not_authed",
    "account_inactive", "token_revoked", "token_expired", "missing_scope", "no_permission", "restricted_action",
    "restricted_action_read_only_channel", "restricted_action_thread_only_channel", "team_access_not_granted",
    "ekm_access_denied", "not_allowed_token_type", "org_login_required", "invalid_blocks", "invalid_blocks_format",
    "msg_too_long", "invalid_arguments", "invalid_metadata_format", "invalid_metadata_schema", "metadata_too_large",
    "user_is_restricted", "as_user_not_supported", "app_missing_action_url", "method_deprecated",
})
_HINTS = {
    "not_in_channel": " (invite the app to the channel: /invite @Earnings)",
    "channel_not_found": " (check the channel id in config/bot.yaml routes)",
    "invalid_auth": " (check SLACK_BOT_TOKEN)",
    "token_revoked": " (reinstall the app and update SLACK_BOT_TOKEN)",
    "missing_scope": " (add the scope in the app's OAuth settings and reinstall)",
}
# Lookups that may fail without stopping a delivery: we then post without the duplicate check.
_LOOKUP_SOFT_ERRORS = frozenset({"missing_scope", "not_in_channel", "channel_not_found", "thread_not_found"})


def web_client(token: str, base_url: str) -> AsyncWebClient:
    """An AsyncWebClient for `base_url` (Slack, GovSlack, a proxy or a test server) retrying connection
    errors and 5xx answers twice with backoff; 429s are left to the caller (the dispatcher waits)."""
    return AsyncWebClient(
        token=token,
        base_url=base_url if base_url.endswith("/") else base_url + "/",
        timeout=30,
        retry_handlers=[AsyncConnectionErrorRetryHandler(max_retry_count=2),
                        AsyncServerErrorRetryHandler(max_retry_count=2)],
    )


def _retry_after(exc: SlackApiError) -> float | None:
    headers: Mapping[str, Any] = getattr(exc.response, "headers", None) or {}
    for name, value in headers.items():
        if name.lower() == "retry-after":
            raw = value[0] if isinstance(value, list | tuple) else value
            try:
                return max(0.0, float(raw))
            except (TypeError, ValueError):
                return None
    return None


def _error_code(exc: SlackApiError) -> str:
    data = getattr(exc.response, "data", None)
    if isinstance(data, dict) and data.get("error"):
        return str(data["error"])
    status = getattr(exc.response, "status_code", None)
    return "ratelimited" if status == 429 else f"http_{status}"


def delivery_error(exc: SlackApiError, method: str, channel: str) -> DeliveryError:
    """A Slack API refusal as a DeliveryError: permanent for errors retrying cannot fix, retry_after for 429."""
    code = _error_code(exc)
    message = f"slack {method} to {channel}: {code}{_HINTS.get(code, '')}"
    status = getattr(exc.response, "status_code", None)
    if status == 429 or code == "ratelimited":
        return DeliveryError(message, retry_after=_retry_after(exc) or 1.0)
    return DeliveryError(message, permanent=code in PERMANENT_ERRORS)


class SlackSink:
    """Posts digests with chat.postMessage; later documents of an event go into the parent's thread and
    update the parent (chat.update). Every message carries metadata naming its delivery and part, so a row
    that may already have been posted (an earlier attempt, or a crash before it was recorded) is first
    looked up in the channel or thread and only its missing parts are posted."""

    platform = PLATFORM

    def __init__(self, client: AsyncWebClient, *, fresh_window: float = CLAIM_TTL) -> None:
        self.client = client
        self._fresh_window = fresh_window

    async def send(self, item: DeliveryItem, digest: Digest) -> str | None:
        channel = item.target.strip()
        if not _CHANNEL_ID.match(channel):
            raise DeliveryError(
                f"slack target {channel!r} is not a channel id (like C0123ABCD): set it in config/bot.yaml routes",
                permanent=True,
            )
        method = "chat.postMessage"
        try:
            if item.kind == "new_event" or not item.thread_id:
                return await self._post_event(item, digest, channel)
            return await self._post_update(item, digest, channel, item.thread_id)
        except SlackApiError as exc:
            method = str(getattr(exc.response, "api_url", method)).rstrip("/").rsplit("/", 1)[-1] or method
            raise delivery_error(exc, method, channel) from None
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            raise DeliveryError(f"slack {method} to {channel}: connection failed ({type(exc).__name__})") from None

    def _maybe_posted(self, item: DeliveryItem) -> bool:
        age = (datetime.now(UTC) - item.created_at.astimezone(UTC)).total_seconds()
        return item.attempts > 0 or age > self._fresh_window

    async def _post_event(self, item: DeliveryItem, digest: Digest, channel: str) -> str:
        found = await self._posted_parts(item, channel, None) if self._maybe_posted(item) else {}
        if 0 in found:  # the post went out before: only its missing thread parts follow
            ts = found[0]
            replies = await self._posted_parts(item, channel, ts)
        else:
            ts = await self._post(item, channel, render_digest(digest), part=0)
            replies = {}
        await self._post_thread(item, channel, ts, render_thread(digest), replies)
        return ts

    async def _post_update(self, item: DeliveryItem, digest: Digest, channel: str, parent: str) -> str:
        revised = item.kind == "revision"
        label = "Revised" if revised else "Update"
        found = await self._posted_parts(item, channel, parent) if self._maybe_posted(item) else {}
        head = render_digest(digest, note=f"{label}: {digest.source_label}")
        ts = found.get(0) or await self._post(item, channel, head, part=0, thread_ts=parent, broadcast=revised)
        await self._post_thread(item, channel, parent, render_thread(digest), found)
        note = (f"Revised: {digest.source_label} · the earlier version is in the thread" if revised
                else f"Updated with the {digest.source_label} · earlier documents in the thread")
        updated = render_digest(digest, note=note)
        try:
            await self.client.chat_update(channel=channel, ts=parent, text=updated.text, blocks=updated.blocks)
        except SlackApiError as exc:
            if _error_code(exc) not in ("message_not_found", "cant_update_message", "edit_window_closed"):
                raise
            log.warning("slack: parent %s in %s not updated: %s", parent, channel, _error_code(exc),
                        extra={"delivery_id": item.id, "platform": PLATFORM})
        return ts

    async def _post_thread(self, item: DeliveryItem, channel: str, thread_ts: str, messages: Sequence[SlackMessage],
                           found: Mapping[int, str]) -> None:
        """The thread parts (numbered from 1) not `found` already."""
        for part, message in enumerate(messages, start=1):
            if part not in found:
                await self._post(item, channel, message, part=part, thread_ts=thread_ts)

    async def _post(self, item: DeliveryItem, channel: str, message: SlackMessage, *, part: int,
                    thread_ts: str | None = None, broadcast: bool = False) -> str:
        kwargs: dict[str, Any] = {}
        if thread_ts:
            kwargs["thread_ts"] = thread_ts
            if broadcast:
                kwargs["reply_broadcast"] = True
        response = await self.client.chat_postMessage(
            channel=channel,
            text=message.text,
            blocks=message.blocks,
            unfurl_links=False,
            unfurl_media=False,
            metadata={"event_type": METADATA_TYPE,
                      "event_payload": {"delivery_id": item.id, "event_id": item.event_id, "part": part}},
            **kwargs,
        )
        return str(response["ts"])

    async def _posted_parts(self, item: DeliveryItem, channel: str, thread_ts: str | None) -> dict[int, str]:
        """Parts of this delivery already in the channel (thread_ts None) or thread: {part: ts}."""
        oldest = f"{item.created_at.timestamp() - 5:.6f}"
        found: dict[int, str] = {}
        cursor: str | None = None
        for _ in range(_HISTORY_PAGES):
            args: dict[str, Any] = {"channel": channel, "oldest": oldest, "limit": 200,
                                    "include_all_metadata": True}
            if cursor:
                args["cursor"] = cursor
            try:
                if thread_ts is None:
                    page = await self.client.conversations_history(**args)
                else:
                    page = await self.client.conversations_replies(ts=thread_ts, **args)
            except SlackApiError as exc:
                if _error_code(exc) in _LOOKUP_SOFT_ERRORS:
                    log.warning("slack: cannot check %s for an earlier post of delivery %s (%s); posting",
                                channel, item.id, _error_code(exc), extra={"delivery_id": item.id})
                    return found
                raise
            for message in page.get("messages") or []:
                meta = message.get("metadata") or {}
                payload = meta.get("event_payload") or {}
                ours = (payload.get("delivery_id"), payload.get("event_id")) == (item.id, item.event_id)
                if meta.get("event_type") == METADATA_TYPE and ours:
                    found.setdefault(int(payload.get("part", 0)), str(message["ts"]))
            cursor = (page.get("response_metadata") or {}).get("next_cursor") or None
            if not cursor:
                break
        return found


# --------------------------------------------------------------------------- the app


class Replies:
    """Posts answers to the `response_url` Slack gives with each command or click, over one kept-alive
    HTTP session (bolt's respond() opens a new connection per reply, which dominates a busy minute)."""

    def __init__(self, timeout: float = 10.0) -> None:
        self._timeout = timeout
        self._session: aiohttp.ClientSession | None = None

    async def send(self, url: str, message: SlackMessage | None = None, **options: Any) -> None:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=self._timeout))
        body: dict[str, Any] = {"text": message.text, "blocks": message.blocks} if message else {}
        body.update(options)
        try:
            response = await AsyncWebhookClient(url, session=self._session).send_dict(body)
        except (aiohttp.ClientError, TimeoutError) as exc:
            log.warning("slack: reply not delivered: %s", type(exc).__name__, extra={"platform": PLATFORM})
            return
        if response.status_code >= 300:
            log.warning("slack: reply refused with HTTP %s", response.status_code, extra={"platform": PLATFORM})

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()


class Commands:
    """The /earnings listeners: ack at once, answer from the store, reply ephemerally with a "Share in
    channel" button; the button reposts the answer for everyone.

    A listener acks and hands the answering to a task of its own, then returns: bolt (run with
    process_before_response) sends the ack right away, before any answer is computed, so a burst of
    commands never keeps Slack waiting behind the work of the others."""

    def __init__(self, store: AnswerStore, companies: Sequence[CompanyConfig], replies: Replies) -> None:
        self._store = store
        self._companies = companies
        self._replies = replies
        self._tasks: set[asyncio.Task[None]] = set()

    def spawn(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("slack: a reply failed: %s", type(task.exception()).__name__, extra={"platform": PLATFORM})

    async def drain(self, timeout: float) -> None:
        """Let the answers in flight finish (up to `timeout` seconds), then cancel the rest."""
        if not self._tasks:
            return
        _, pending = await asyncio.wait(set(self._tasks), timeout=timeout)
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)

    def register(self, app: AsyncApp) -> None:
        app.command(COMMAND)(self.on_command)
        app.action(SHARE_ACTION)(self.on_share)
        app.error(self.on_error)

    async def answer(self, text: str, channel: str | None) -> Answer:
        started = time.monotonic()
        try:
            return await answer(parse(text), self._store, companies=self._companies, platform=PLATFORM,
                                channel=channel)
        except StoreError as exc:
            log.warning("slack: store unavailable answering a command: %s", exc, extra={"platform": PLATFORM})
            return Answer(ok=False, title="The earnings store is unavailable right now; try again in a minute.",
                          shareable=False)
        except Exception:
            log.exception("slack: answering a command failed", extra={"platform": PLATFORM})
            return Answer(ok=False, title="Something went wrong answering that; it has been logged.",
                          shareable=False)
        finally:
            COMMAND_LATENCY.labels(platform=PLATFORM).observe(time.monotonic() - started)

    async def on_command(self, ack: AsyncAck, command: dict[str, Any]) -> None:
        await ack()
        self.spawn(self.reply_command(command))

    async def reply_command(self, command: dict[str, Any]) -> None:
        text = str(command.get("text") or "")
        result = await self.answer(text, command.get("channel_id"))
        url = str(command.get("response_url") or "")
        if url:
            await self._replies.send(url, render_answer(result, share=text), response_type="ephemeral")

    async def on_share(self, ack: AsyncAck, body: dict[str, Any], action: dict[str, Any]) -> None:
        await ack()
        self.spawn(self.reply_share(body, action))

    async def reply_share(self, body: dict[str, Any], action: dict[str, Any]) -> None:
        url = str(body.get("response_url") or "")
        text = str(action.get("value") or "")
        result = await self.answer(text, (body.get("channel") or {}).get("id"))
        if not url:
            return
        if not result.ok:
            await self._replies.send(url, render_answer(result), response_type="ephemeral", replace_original=False)
            return
        shared = render_answer(result, shared_by=(body.get("user") or {}).get("id"))
        await self._replies.send(url, shared, response_type="in_channel", replace_original=False)
        await self._replies.send(url, delete_original=True)

    async def on_error(self, error: Exception) -> None:
        log.error("slack: listener failed: %s", type(error).__name__, extra={"platform": PLATFORM})


class SlackApp:
    """The bolt app and what the service needs from it: the ASGI handler for POST /slack/events, the sink,
    Socket Mode start/stop, and the connection state for /readyz."""

    def __init__(self, app: AsyncApp, sink: SlackSink, socket: AsyncSocketModeHandler | None,
                 commands: Commands, replies: Replies, *, signing_secret: str) -> None:
        self.app = app
        # /earnings is acked in front of bolt (see slack_ack); interactivity goes through bolt.
        self.asgi = CommandAck(AsyncSlackRequestHandler(app, path=EVENTS_PATH), signing_secret, COMMAND,
                               lambda fields: commands.spawn(commands.reply_command(fields)))
        self.sink = sink
        self.socket = socket
        self._commands = commands
        self._replies = replies

    @property
    def socket_mode(self) -> bool:
        return self.socket is not None

    @property
    def connected(self) -> bool:
        """Socket Mode: the WebSocket is open. HTTP mode: always True (Slack calls us)."""
        if self.socket is None:
            return True
        client = self.socket.client
        session = client.current_session
        return not client.closed and not client.stale and session is not None and not session.closed

    async def start_socket_mode(self) -> None:
        if self.socket is None:
            raise ConfigError("Socket Mode needs SLACK_APP_TOKEN (an xapp- token with connections:write)")
        await self.socket.connect_async()  # type: ignore[no-untyped-call]  # bolt leaves it untyped

    async def stop(self, drain: float = 10.0) -> None:
        """Close Socket Mode, let the answers in flight reach Slack (up to `drain` seconds), close."""
        if self.socket is not None:
            await self.socket.close_async()  # type: ignore[no-untyped-call]
        await self._commands.drain(drain)
        await self._replies.close()


def build_slack(settings: Settings, store: AnswerStore, config: BotConfig) -> SlackApp:
    """The Slack app for these settings: Socket Mode when SLACK_APP_TOKEN is set, else HTTP mode (the
    service mounts `.asgi` at POST /slack/events; requests are checked against SLACK_SIGNING_SECRET).
    Commands read the store through a short-lived cache (CachedStore)."""
    if settings.slack_bot_token is None or not settings.slack_bot_token.get_secret_value():
        raise ConfigError("SLACK_BOT_TOKEN is not set (the app's Bot User OAuth Token, xoxb-...)")
    app_token = settings.slack_app_token.get_secret_value() if settings.slack_app_token else ""
    signing = settings.slack_signing_secret.get_secret_value() if settings.slack_signing_secret else ""
    if not app_token and not signing:
        raise ConfigError(
            "SLACK_SIGNING_SECRET is not set (needed in HTTP mode; or set SLACK_APP_TOKEN for Socket Mode)"
        )
    client = web_client(settings.slack_bot_token.get_secret_value(), settings.slack_api_url)
    # Socket Mode without a signing secret: a random one, so nothing posted to /slack/events is trusted.
    signing = signing or secrets.token_hex(32)
    app = AsyncApp(
        client=client,
        signing_secret=signing,
        process_before_response=True,  # listeners only ack and spawn: see Commands
        logger=logging.getLogger("slack_bolt"),
    )
    replies = Replies()
    commands = Commands(CachedStore(store), config.companies, replies)
    commands.register(app)
    socket = AsyncSocketModeHandler(app, app_token=app_token, web_client=client) if app_token else None
    return SlackApp(app, SlackSink(client), socket, commands, replies, signing_secret=signing)
