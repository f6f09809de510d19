"""A local HTTP server for tests: canned routes on 127.0.0.1, recorded requests, and injectable faults.

Usage::

    with LocalServer() as server:
        server.route("/feed.xml", Reply.ok(body, "application/rss+xml", etag='"v1"'))
        server.route("/down", Reply.status(500))
        server.route("/busy", Reply.status(429, headers={"Retry-After": "7"}))
        server.route("/slow", Reply.ok(b"late", delay=2.0))
        server.route("/huge", Reply.huge(30 * 1024 * 1024))
        server.route("/loop", Reply.redirect("/loop"))
        server.route("/reset", Reply.reset())
        url = server.url("/feed.xml")              # http://127.0.0.1:<port>/feed.xml
        ...
        server.requests                            # every request, in arrival order
        server.requests_to("/feed.xml")            # only those to one path

A route may be given several replies: they are served in order and the last one repeats
(e.g. `Reply.status(503)` then `Reply.ok(...)`). A reply with `etag` or `last_modified`
answers 304 Not Modified to a request carrying the matching validator. Routes match the full
target (path and query) first, then the path alone; anything else is a 404.
"""

from __future__ import annotations

import socket
import struct
import sys
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from urllib.parse import parse_qs, urlsplit

_CHUNK = 64 * 1024


@dataclass(frozen=True)
class Reply:
    """One canned response. Build it with the class methods below."""

    code: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    etag: str | None = None
    last_modified: str | None = None
    delay: float = 0.0  # seconds to wait before answering (a server slower than the client's timeout)
    size: int = 0  # stream this many filler bytes instead of `body` (e.g. a 30 MB response)
    declare_length: bool = True  # False: no Content-Length, the body ends when the connection closes
    reset_midway: bool = False  # send the headers and part of the body, then reset the connection

    @classmethod
    def ok(
        cls,
        body: bytes | str,
        content_type: str = "text/html; charset=utf-8",
        *,
        etag: str | None = None,
        last_modified: str | None = None,
        delay: float = 0.0,
        headers: dict[str, str] | None = None,
    ) -> Reply:
        data = body.encode("utf-8") if isinstance(body, str) else body
        return cls(
            body=data,
            headers={"Content-Type": content_type, **(headers or {})},
            etag=etag,
            last_modified=last_modified,
            delay=delay,
        )

    @classmethod
    def status(cls, code: int, body: bytes = b"", headers: dict[str, str] | None = None) -> Reply:
        return cls(code=code, body=body, headers=dict(headers or {}))

    @classmethod
    def redirect(cls, location: str, code: int = 302) -> Reply:
        return cls(code=code, headers={"Location": location})

    @classmethod
    def huge(cls, size: int, *, declare_length: bool = True) -> Reply:
        return cls(size=size, headers={"Content-Type": "text/html"}, declare_length=declare_length)

    @classmethod
    def reset(cls) -> Reply:
        return cls(reset_midway=True, body=b"<html><body>partial", headers={"Content-Type": "text/html"})


@dataclass(frozen=True)
class Recorded:
    """A request the server received. `headers` keys are lower-case; `time` is time.monotonic()."""

    method: str
    target: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    time: float


class LocalServer:
    """A threaded HTTP/1.1 server on 127.0.0.1 with an ephemeral port; a context manager."""

    def __init__(self) -> None:
        self._routes: dict[str, list[Reply]] = {}
        self._served: dict[str, int] = {}
        self._lock = threading.Lock()
        self.requests: list[Recorded] = []
        self._httpd = _Server(("127.0.0.1", 0), _Handler)
        self._httpd.owner = self
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.02}, name="test-http", daemon=True
        )

    # -- lifecycle
    def start(self) -> LocalServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    def __enter__(self) -> LocalServer:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    # -- configuration
    @property
    def base_url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host!s}:{port}"

    def url(self, target: str) -> str:
        return self.base_url + target

    def route(self, target: str, *replies: Reply) -> None:
        """Serve `replies` (in order, the last repeating) for `target` ("/path" or "/path?query")."""
        if not replies:
            raise ValueError("route() needs at least one Reply")
        with self._lock:
            self._routes[target] = list(replies)
            self._served[target] = 0

    def requests_to(self, path: str) -> list[Recorded]:
        with self._lock:
            return [r for r in self.requests if r.path == path or r.target == path]

    # -- used by the handler
    def _next_reply(self, target: str, path: str) -> Reply:
        with self._lock:
            key = target if target in self._routes else path
            replies = self._routes.get(key)
            if replies is None:
                return Reply.status(404, b"not found")
            index = min(self._served[key], len(replies) - 1)
            self._served[key] += 1
            return replies[index]

    def _record(self, request: Recorded) -> None:
        with self._lock:
            self.requests.append(request)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    owner: LocalServer

    def handle_error(self, request: object, client_address: object) -> None:
        if isinstance(sys.exc_info()[1], OSError):  # a client hanging up (often on purpose, in fault tests)
            return
        super().handle_error(request, client_address)  # type: ignore[arg-type]


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: object) -> None:  # keep test output quiet
        return

    def do_GET(self) -> None:
        self._answer(send_body=True)

    def do_HEAD(self) -> None:
        self._answer(send_body=False)

    def _answer(self, *, send_body: bool) -> None:
        owner = self.server.owner
        parts = urlsplit(self.path)
        owner._record(
            Recorded(
                method=self.command,
                target=self.path,
                path=parts.path,
                query=parse_qs(parts.query),
                headers={k.lower(): v for k, v in self.headers.items()},
                time=time.monotonic(),
            )
        )
        reply = owner._next_reply(self.path, parts.path)
        if reply.delay:
            time.sleep(reply.delay)
        try:
            if self._not_modified(reply):
                self.send_response(304)
                self._validators(reply)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            self._send(reply, send_body=send_body)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    def _not_modified(self, reply: Reply) -> bool:
        if reply.code != 200:
            return False
        if reply.etag is not None and self.headers.get("If-None-Match") == reply.etag:
            return True
        return (
            reply.last_modified is not None and self.headers.get("If-Modified-Since") == reply.last_modified
        )

    def _validators(self, reply: Reply) -> None:
        if reply.etag is not None:
            self.send_header("ETag", reply.etag)
        if reply.last_modified is not None:
            self.send_header("Last-Modified", reply.last_modified)

    def _send(self, reply: Reply, *, send_body: bool) -> None:
        self.send_response(reply.code)
        for name, value in reply.headers.items():
            self.send_header(name, value)
        self._validators(reply)
        length = reply.size if reply.size else len(reply.body)
        if reply.reset_midway:
            self.send_header("Content-Length", str(len(reply.body) * 10))
            self.end_headers()
            self.wfile.write(reply.body)
            self.wfile.flush()
            # SO_LINGER with a zero timeout makes close() send a TCP RST: a connection reset mid-body.
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.connection.close()
            self.close_connection = True
            return
        if reply.declare_length:
            self.send_header("Content-Length", str(length))
        else:
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        if not send_body:
            return
        if reply.size:
            filler = b"x" * _CHUNK
            sent = 0
            while sent < reply.size:
                n = min(_CHUNK, reply.size - sent)
                self.wfile.write(filler[:n])
                sent += n
        else:
            self.wfile.write(reply.body)
