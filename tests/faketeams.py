"""A fake Teams Workflows webhook for tests: real HTTP on 127.0.0.1 that answers 202 like Power Automate.

Usage::

    with FakeWorkflows() as teams:
        url = teams.url("alerts")                   # http://127.0.0.1:<port>/workflows/alerts/...&sig=<random>
        teams.script(Scripted(429, retry_after="1"))  # the next request gets 429; later ones 202
        ...
        teams.requests                              # every request received, in arrival order
        teams.accepted                              # the requests answered 202: the posts Teams shows

Bodies over 28 KB get 400 (Teams' message limit), an unknown flow or signature 404, a body that is not a
Teams message 400; with `validator`, every attached card must also validate against the Adaptive Card schema.
Also: `card_schema()`, the Adaptive Card 1.5 schema from ../shared (the test is skipped when it is absent),
and `card_texts()`, every TextBlock text of a card.
"""

from __future__ import annotations

import json
import secrets
import threading
import time
from collections import deque
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from jsonschema import Draft6Validator
from jsonschema.protocols import Validator
from jsonschema.validators import validator_for

MAX_BODY = 28 * 1024
SHARED = Path(__file__).resolve().parents[1].parent / "shared"
SCHEMA = SHARED / "schemas" / "adaptive-card-1.5.0.json"


def card_schema() -> Validator:
    """A validator for Microsoft's Adaptive Card 1.5 schema (draft-06, as the file declares)."""
    if not SCHEMA.is_file():
        pytest.skip(f"Adaptive Card schema not found at {SCHEMA} (../shared is absent)")
    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    cls = validator_for(schema)
    assert cls is Draft6Validator, f"{SCHEMA.name} declares {schema.get('$schema')}, expected draft-06"
    cls.check_schema(schema)
    return cls(schema)


def card_texts(element: Any) -> list[str]:
    """Every TextBlock text in a card or element, in reading order."""
    if isinstance(element, dict):
        own = [element["text"]] if element.get("type") == "TextBlock" else []
        return own + [t for key, value in element.items() if key != "text" for t in card_texts(value)]
    if isinstance(element, list):
        return [t for item in element for t in card_texts(item)]
    return []


@dataclass(frozen=True)
class Scripted:
    """One scripted answer, served instead of the normal one to the next request."""

    status: int
    retry_after: str | None = None
    body: bytes = b""


@dataclass(frozen=True)
class Posted:
    """A request the fake received and what it answered. `at` is time.monotonic()."""

    path: str
    flow: str
    headers: dict[str, str]
    body: bytes
    at: float
    status: int

    def json(self) -> Any:
        return json.loads(self.body)

    def cards(self) -> list[dict[str, Any]]:
        return [a["content"] for a in self.json()["attachments"]]


class FakeWorkflows:
    """The fake endpoint; a context manager that serves on an ephemeral port in a background thread."""

    def __init__(self, validator: Validator | None = None) -> None:
        self.validator = validator
        self.requests: list[Posted] = []
        self.errors: list[str] = []
        self._script: deque[Scripted] = deque()
        self._sigs: dict[str, str] = {}
        self._lock = threading.Lock()
        self._httpd = _Server(("127.0.0.1", 0), _Handler)
        self._httpd.fake = self  # type: ignore[attr-defined]
        self._thread = threading.Thread(target=self._httpd.serve_forever, args=(0.05,), daemon=True)

    def __enter__(self) -> FakeWorkflows:
        self._thread.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)

    def url(self, flow: str = "alerts") -> str:
        """A webhook URL for `flow`, signed with a fresh random `sig` like the real ones."""
        with self._lock:
            sig = self._sigs.setdefault(flow, secrets.token_urlsafe(24))
        port = self._httpd.server_address[1]
        return (
            f"http://127.0.0.1:{port}/workflows/{flow}/triggers/manual/paths/invoke"
            f"?api-version=2016-06-01&sp=%2Ftriggers%2Fmanual%2Frun&sv=1.0&sig={sig}"
        )

    def script(self, *replies: Scripted) -> None:
        with self._lock:
            self._script.extend(replies)

    @property
    def accepted(self) -> list[Posted]:
        return [r for r in self.requests if r.status == 202]

    def _answer(self, target: str, body: bytes) -> tuple[int, dict[str, str], bytes]:
        parts = urlsplit(target)
        segments = parts.path.strip("/").split("/")
        flow = segments[1] if len(segments) > 1 and segments[0] == "workflows" else ""
        sig = parse_qs(parts.query).get("sig", [""])[0]
        with self._lock:
            scripted = self._script.popleft() if self._script else None
            known = flow in self._sigs and secrets.compare_digest(self._sigs[flow], sig)
        if scripted is not None:
            headers = {"Retry-After": scripted.retry_after} if scripted.retry_after else {}
            return scripted.status, headers, scripted.body
        if not known:
            return 404, {}, _error("WorkflowNotFound")
        if len(body) > MAX_BODY:
            return 400, {}, _error("MessageTooLarge")
        problem = self._check(body)
        if problem:
            self.errors.append(problem)
            return 400, {}, _error("InvalidRequestContent")
        return 202, {}, b""

    def _check(self, body: bytes) -> str | None:
        """Why `body` is not a Teams message with Adaptive Card attachments, or None when it is."""
        try:
            message = json.loads(body)
        except ValueError:
            return "body is not JSON"
        if not isinstance(message, dict) or message.get("type") != "message":
            return 'body is not {"type": "message", ...}'
        attachments = message.get("attachments")
        if not isinstance(attachments, list) or not attachments:
            return "message has no attachments"
        for attachment in attachments:
            if attachment.get("contentType") != "application/vnd.microsoft.card.adaptive":
                return f"attachment content type {attachment.get('contentType')!r}"
            if self.validator is not None:
                error = next(iter(self.validator.iter_errors(attachment.get("content"))), None)
                if error is not None:
                    return f"card does not validate: {error.message[:300]} at {list(error.absolute_path)}"
        return None


def _error(code: str) -> bytes:
    return json.dumps({"error": {"code": code, "message": f"fake Workflows: {code}"}}).encode()


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128  # bursts of concurrent posts must not overflow the listen backlog


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self) -> None:
        arrived = time.monotonic()
        fake: FakeWorkflows = self.server.fake  # type: ignore[attr-defined]
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        status, headers, payload = fake._answer(self.path, body)
        flow = urlsplit(self.path).path.strip("/").split("/")[1:2]
        with fake._lock:
            fake.requests.append(
                Posted(
                    path=urlsplit(self.path).path,
                    flow=flow[0] if flow else "",
                    headers={k.lower(): v for k, v in self.headers.items()},
                    body=body,
                    at=arrived,
                    status=status,
                )
            )
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        return
