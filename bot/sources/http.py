"""One careful HTTP GET for every source: conditional requests, timeouts, size limit, redirects, errors."""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from urllib.parse import urlsplit, urlunsplit

import httpx

from bot import __version__
from bot.errors import SourceError
from bot.models import Frozen
from bot.sources.base import Validator

DEFAULT_USER_AGENT = f"earnings-bot/{__version__}"
MAX_BYTES = 25 * 1024 * 1024
MAX_REDIRECTS = 5
_REDIRECTS = frozenset({301, 302, 303, 307, 308})
_KEEP_ACROSS_ORIGINS = frozenset({"user-agent", "accept", "if-none-match", "if-modified-since"})


class Fetched(Frozen):
    """A 2xx response read in full: the final URL (after redirects), its body and its validators."""

    url: str
    status: int
    content: bytes
    content_type: str | None = None
    validator: Validator = Validator()


def redact(url: str | httpx.URL) -> str:
    """`url` without user info, query string or fragment: safe to put in logs and error messages."""
    try:
        parts = urlsplit(str(url))
        host = parts.hostname or ""
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        return "<invalid URL>"
    return urlunsplit((parts.scheme, host + port, parts.path, "", ""))


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds to wait from a Retry-After header: delta-seconds or an HTTP date; None when absent or bad."""
    if value is None or not value.strip():
        return None
    text = value.strip()
    if text.isdigit():
        return float(text)
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    delta = (when - (now or datetime.now(UTC))).total_seconds()
    return max(0.0, delta)


async def fetch(
    client: httpx.AsyncClient,
    url: str,
    *,
    validator: Validator | None,
    timeout: float,
    max_bytes: int = MAX_BYTES,
    headers: dict[str, str] | None = None,
) -> Fetched | None:
    """GET `url`; None on 304 Not Modified. Raises SourceError (URL redacted) on any failure.

    The whole exchange (redirects and body included) must finish within `timeout` seconds, the
    body is streamed and refused past `max_bytes`, and at most MAX_REDIRECTS redirects are followed.
    """
    try:
        async with asyncio.timeout(timeout):
            return await _fetch(client, url, validator, timeout, max_bytes, headers or {})
    except TimeoutError:
        raise SourceError(f"GET {redact(url)}: no complete response within {timeout:g}s") from None


async def _fetch(
    client: httpx.AsyncClient,
    url: str,
    validator: Validator | None,
    timeout: float,
    max_bytes: int,
    extra: dict[str, str],
) -> Fetched | None:
    req_headers = _request_headers(client, validator, extra)
    current = url
    visited: set[str] = set()
    for _ in range(MAX_REDIRECTS + 1):
        visited.add(current)
        try:
            async with client.stream(
                "GET", current, headers=req_headers, timeout=timeout, follow_redirects=False
            ) as resp:
                if resp.status_code in _REDIRECTS and "location" in resp.headers:
                    target = str(resp.url.join(resp.headers["location"]))
                    if target in visited:
                        raise SourceError(
                            f"GET {redact(url)}: redirect loop at {redact(target)}", status=resp.status_code
                        )
                    if urlsplit(target).netloc != urlsplit(current).netloc:
                        req_headers = {
                            k: v for k, v in req_headers.items() if k.lower() in _KEEP_ACROSS_ORIGINS
                        }
                    current = target
                    continue
                return await _read(resp, url, max_bytes)
        except httpx.TimeoutException as exc:
            raise SourceError(
                f"GET {redact(current)}: timed out after {timeout:g}s ({type(exc).__name__})"
            ) from None
        except httpx.InvalidURL:
            raise SourceError(f"GET {redact(current)}: invalid URL") from None
        except httpx.UnsupportedProtocol:
            raise SourceError(f"GET {redact(current)}: unsupported URL scheme") from None
        except httpx.HTTPError as exc:
            raise SourceError(f"GET {redact(current)}: connection failed ({type(exc).__name__})") from None
    raise SourceError(f"GET {redact(url)}: more than {MAX_REDIRECTS} redirects")


def _request_headers(
    client: httpx.AsyncClient, validator: Validator | None, extra: dict[str, str]
) -> dict[str, str]:
    headers: dict[str, str] = {}
    if client.headers.get("user-agent", "").startswith("python-httpx"):
        headers["User-Agent"] = DEFAULT_USER_AGENT
    if validator is not None:
        if validator.etag:
            headers["If-None-Match"] = validator.etag
        if validator.last_modified:
            headers["If-Modified-Since"] = validator.last_modified
    headers.update(extra)
    return headers


async def _read(resp: httpx.Response, url: str, max_bytes: int) -> Fetched | None:
    status = resp.status_code
    where = redact(resp.url)
    if status == 304:
        return None
    if not 200 <= status < 300:
        retry_after = parse_retry_after(resp.headers.get("retry-after"))
        wait = f", retry after {retry_after:g}s" if retry_after is not None else ""
        raise SourceError(f"GET {where}: HTTP {status}{wait}", status=status, retry_after=retry_after)
    declared = resp.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > max_bytes:
        raise SourceError(f"GET {where}: body of {int(declared)} bytes exceeds the {max_bytes}-byte limit")
    body = bytearray()
    async for chunk in resp.aiter_bytes():
        body += chunk
        if len(body) > max_bytes:
            raise SourceError(f"GET {where}: body exceeds the {max_bytes}-byte limit")
    return Fetched(
        url=str(resp.url),
        status=status,
        content=bytes(body),
        content_type=resp.headers.get("content-type"),
        validator=Validator(etag=resp.headers.get("etag"), last_modified=resp.headers.get("last-modified")),
    )


class RateLimiter:
    """An async token bucket: `rate` requests per second, up to `burst` at once.

    Tokens are counted on the clock at the moment a caller is let through (a caller that wakes late
    does not let the next one in early), and nothing is bound to an event loop, so one limiter can be
    shared process-wide.
    """

    def __init__(self, rate: float, burst: int = 1) -> None:
        self.configure(rate, burst)
        self._tokens = float(burst)
        self._stamp = time.monotonic()

    def configure(self, rate: float, burst: int = 1) -> None:
        if rate <= 0 or burst < 1:
            raise ValueError("rate must be > 0 and burst >= 1")
        self.rate = rate
        self.burst = burst

    async def acquire(self) -> None:
        """Wait until a token is free, then take it."""
        while True:
            now = time.monotonic()
            self._tokens = min(float(self.burst), self._tokens + (now - self._stamp) * self.rate)
            self._stamp = now
            if self._tokens >= 1.0 - 1e-9:
                self._tokens = max(0.0, self._tokens - 1.0)
                return
            await asyncio.sleep((1.0 - self._tokens) / self.rate)


class _RedactUrls(logging.Filter):
    """Strips query strings (where API keys may travel) from the URLs httpx logs about each request."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(redact(a) if isinstance(a, httpx.URL) else a for a in record.args)
        return True


logging.getLogger("httpx").addFilter(_RedactUrls())
