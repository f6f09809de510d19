"""POST /slack/events: /earnings commands are verified and acknowledged here at once; the rest goes to bolt.

Slack gives a slash command 3 seconds for its acknowledgement. Bolt's request pipeline costs a few
milliseconds per request, which under a burst of concurrent commands queues into a tail of hundreds of
milliseconds; this front checks the signature (v0 HMAC-SHA256 of the timestamp and the raw body, requests
older than 5 minutes refused), answers 200 with an empty body (the ack) and hands the command to the same
listener code bolt would have run. Interactivity (the Share button) and everything else reach bolt unchanged.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any
from urllib.parse import parse_qsl

from slack_sdk.signature import SignatureVerifier

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[..., Awaitable[None]]
CommandHandler = Callable[[dict[str, Any]], None]

MAX_BODY = 64 * 1024  # a slash command is a few hundred bytes; anything this large is not one


class CommandAck:
    """An ASGI app in front of bolt's handler for one slash command."""

    def __init__(self, bolt: ASGIApp, signing_secret: str, command: re.Pattern[str], handle: CommandHandler) -> None:
        self._bolt = bolt
        self._verifier = SignatureVerifier(signing_secret)
        self._command = command
        self._handle = handle

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("method") != "POST":
            await self._bolt(scope, receive, send)
            return
        body = await _read(receive)
        if body is None:
            await _reply(send, 413)
            return
        fields = dict(parse_qsl(body.decode("utf-8", "replace"))) if b"command=" in body else {}
        if not self._command.match(fields.get("command", "")):
            await self._bolt(scope, _replay(body), send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        timestamp = headers.get("x-slack-request-timestamp", "")
        signature = headers.get("x-slack-signature", "")
        if not (timestamp.isdigit() and signature and self._verifier.is_valid(body, timestamp, signature)):
            await _reply(send, 401)
            return
        await _reply(send, 200)
        self._handle(fields)


async def _read(receive: Receive) -> bytes | None:
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > MAX_BODY:
            return None
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def _replay(body: bytes) -> Receive:
    sent = False

    async def receive() -> Message:
        nonlocal sent
        if sent:
            return {"type": "http.disconnect"}
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return receive


async def _reply(send: Send, status: int) -> None:
    await send({"type": "http.response.start", "status": status, "headers": [(b"content-length", b"0")]})
    await send({"type": "http.response.body", "body": b""})
