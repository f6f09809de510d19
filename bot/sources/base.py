"""The source interface: specs, persisted poll state, fetched documents, and helpers every source shares."""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable, Collection, Iterable, Sequence
from datetime import datetime
from typing import NamedTuple, Protocol, TypeVar
from urllib.parse import urljoin, urlsplit, urlunsplit

import httpx
from pydantic import Field, field_validator

from bot.errors import SourceError
from bot.models import Frozen

SEEN_LIMIT = 500
_Item = TypeVar("_Item")
_NAME = re.compile(r"^[a-z0-9_-]+$")
_EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}")


class SourceSpec(Frozen):
    """Base config of every source (an entry of the config's `sources:` list)."""

    name: str
    kind: str
    interval_seconds: float = 300.0
    jitter_seconds: float = 15.0
    timeout_seconds: float = 20.0
    base_url: str | None = None
    tickers: tuple[str, ...] = ()

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        if not _NAME.match(v):
            raise ValueError(f"source name {v!r} must match [a-z0-9_-]+")
        return v

    @field_validator("interval_seconds", "timeout_seconds")
    @classmethod
    def _positive(cls, v: float) -> float:
        if v <= 0:
            raise ValueError("must be greater than 0")
        return v

    @field_validator("jitter_seconds")
    @classmethod
    def _not_negative(cls, v: float) -> float:
        if v < 0:
            raise ValueError("must not be negative")
        return v

    @field_validator("base_url")
    @classmethod
    def _base_url(cls, v: str | None) -> str | None:
        if v is not None and urlsplit(v).scheme not in ("http", "https"):
            raise ValueError(f"base_url {v!r} must be an http(s) URL")
        return v

    @field_validator("tickers")
    @classmethod
    def _tickers(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(t.strip().upper() for t in v if t.strip())


class Validator(Frozen):
    """Conditional-GET validators of one URL."""

    etag: str | None = None
    last_modified: str | None = None


class SourceState(Frozen):
    """Persisted by the store between polls; opaque to the store."""

    validators: dict[str, Validator] = Field(default_factory=dict)
    seen: tuple[str, ...] = ()
    cursor: str | None = None


class FetchedDocument(Frozen):
    """One document a source found, with what the source knows about it."""

    source: str
    key: str
    url: str | None = None
    title: str | None = None
    published: datetime | None = None
    content: bytes
    content_type: str | None = None
    ticker: str | None = None
    company: str | None = None
    form: str | None = None
    fiscal_year: int | None = None
    fiscal_quarter: int | None = None


class PollResult(Frozen):
    """What one poll found; `state` is to be persisted only after the documents are stored."""

    documents: tuple[FetchedDocument, ...]
    state: SourceState


class Source(Protocol):
    """A pollable source of documents."""

    @property
    def spec(self) -> SourceSpec: ...

    async def poll(self, client: httpx.AsyncClient, state: SourceState) -> PollResult: ...

    async def backfill(
        self, client: httpx.AsyncClient, ticker: str, quarters: int
    ) -> tuple[FetchedDocument, ...]: ...


# --------------------------------------------------------------------------- helpers


def remember(seen: tuple[str, ...], keys: Iterable[str], limit: int = SEEN_LIMIT) -> tuple[str, ...]:
    """`seen` with `keys` appended (newest last, no duplicates), trimmed to the newest `limit`."""
    new = [k for k in dict.fromkeys(keys) if k]
    fresh = set(new)
    kept = [k for k in seen if k not in fresh] + new
    return tuple(kept[-limit:]) if limit > 0 else ()


def has_email(value: str) -> bool:
    """True when `value` contains an e-mail address (SEC requires one in a declared User-Agent)."""
    return _EMAIL.search(value) is not None


def rebase(url: str, base_url: str | None) -> str:
    """`url` resolved against `base_url`; an absolute URL keeps its path and query but moves to `base_url`.

    That is the mirror/proxy rule: with base_url "http://127.0.0.1:8000/mirror", the link
    "https://www.sec.gov/Archives/x.htm" becomes "http://127.0.0.1:8000/mirror/Archives/x.htm".
    """
    if base_url is None:
        return url
    parts = urlsplit(url)
    if not parts.scheme:
        return urljoin(base_url.rstrip("/") + "/", url.lstrip("/")) if url else base_url
    base = urlsplit(base_url)
    path = base.path.rstrip("/") + (parts.path or "/")
    return urlunsplit((base.scheme, base.netloc, path, parts.query, ""))


def with_source(name: str, err: SourceError) -> SourceError:
    """`err` re-raised under the source's name, keeping its status and retry_after."""
    return SourceError(f"source {name}: {err}", retry_after=err.retry_after, status=err.status)


def must_back_off(err: SourceError) -> bool:
    """True when one item's failure means the whole source should back off (rate limited or refused)."""
    return err.retry_after is not None or err.status in (403, 429, 503)


def log_item_failure(logger: logging.Logger, name: str, key: str, err: Exception) -> None:
    """Log one item that failed and was left out (it is retried next poll)."""
    logger.warning(
        "source %s: skipped %s: %s",
        name,
        key,
        err,
        extra={"source": name, "key": key, "status": getattr(err, "status", None)},
    )


class FetchedItems(NamedTuple):
    """What `fetch_items` got: the documents, the keys of the items they came from, and whether none failed."""

    documents: tuple[FetchedDocument, ...]
    done: tuple[str, ...]
    complete: bool


async def fetch_items(
    name: str,
    logger: logging.Logger,
    items: Iterable[_Item],
    key: Callable[[_Item], str],
    documents: Callable[[_Item], Awaitable[Sequence[FetchedDocument]]],
    seen: Collection[str] = (),
) -> FetchedItems:
    """The documents of each item whose key is not in `seen`, in item order.

    A failed item is logged and left out (it is retried next poll); a failure that means the whole
    source should back off is raised under the source's name.
    """
    docs: list[FetchedDocument] = []
    done: list[str] = []
    complete = True
    for item in items:
        item_key = key(item)
        if item_key in seen:
            continue
        try:
            docs.extend(await documents(item))
            done.append(item_key)
        except SourceError as err:
            if must_back_off(err):
                raise with_source(name, err) from None
            log_item_failure(logger, name, item_key, err)
            complete = False
    return FetchedItems(documents=tuple(docs), done=tuple(done), complete=complete)


async def poll_listing(
    name: str,
    logger: logging.Logger,
    state: SourceState,
    listing_url: str,
    listing_validator: Validator,
    items: Sequence[_Item],
    key: Callable[[_Item], str],
    documents: Callable[[_Item], Awaitable[Sequence[FetchedDocument]]],
) -> PollResult:
    """One poll of a listing (feed or page) at `listing_url`, just read with the new `listing_validator`.

    `items` come newest first, as listings show them; the new ones are fetched oldest first, so `seen`
    keeps the newest last. With a failed item, the listing's old validator is kept so it is read again
    next poll.
    """
    fetched = await fetch_items(name, logger, reversed(items), key, documents, seen=state.seen)
    validators = dict(state.validators)
    if fetched.complete:
        validators[listing_url] = listing_validator
    return PollResult(
        documents=fetched.documents,
        state=SourceState(validators=validators, seen=remember(state.seen, fetched.done), cursor=state.cursor),
    )
