"""The Store: one async SQLAlchemy engine (SQLite file or PostgreSQL) and every operation the bot needs."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

from alembic.util import CommandError
from sqlalchemy import event, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from bot.config import Route
from bot.errors import ConfigError, StoreError
from bot.models import Document, Report
from bot.sources.base import FetchedDocument, SourceState
from bot.store import outbox, polls, queries
from bot.store.ingest import ingest
from bot.store.migrate import upgrade
from bot.store.polls import one_line
from bot.store.schema import utcnow
from bot.store.types import DeliveryItem, EventSummary, IngestResult, SourceStatus

log = logging.getLogger(__name__)

SQLITE_BUSY_TIMEOUT_MS = 30_000


def database_url(url: str) -> URL:
    """The URL with its async driver (sqlite+aiosqlite, postgresql+asyncpg); ConfigError when unusable."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise ConfigError(
            "DATABASE_URL is not a database URL (expected sqlite+aiosqlite:///path or postgresql+asyncpg://...)"
        ) from None
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        if parsed.database in (None, "", ":memory:") or (parsed.database or "").startswith("file:"):
            raise ConfigError("DATABASE_URL: give SQLite a file path (in-memory databases are not supported)")
        return parsed.set(drivername="sqlite+aiosqlite")
    if backend in ("postgresql", "postgres"):
        return parsed.set(drivername="postgresql+asyncpg")
    raise ConfigError(f"DATABASE_URL: unsupported database {backend!r} (use SQLite or PostgreSQL)")


def make_engine(url: str) -> AsyncEngine:
    """An engine for `url`; SQLite gets its folder created, WAL, a busy timeout and BEGIN IMMEDIATE
    transactions (writers queue instead of failing), PostgreSQL a pre-ping pool."""
    parsed = database_url(url)
    if parsed.get_backend_name() == "postgresql":
        return create_async_engine(parsed, pool_pre_ping=True)
    Path(parsed.database or "").parent.mkdir(parents=True, exist_ok=True)
    engine = create_async_engine(parsed)

    @event.listens_for(engine.sync_engine, "connect")
    def _connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # the driver emits no BEGIN of its own; "begin" below does
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA journal_mode = WAL")
        cursor.execute("PRAGMA synchronous = NORMAL")
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _begin(conn: Any) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


def _reason(exc: BaseException) -> str:
    """A short reason for a database failure (driver error class and first line), never the URL."""
    cause: BaseException = exc.orig if isinstance(exc, DBAPIError) and exc.orig is not None else exc
    first = str(cause).strip().splitlines()[0] if str(cause).strip() else ""
    return f"{type(cause).__name__}: {first[:200]}" if first else type(cause).__name__


class Store:
    """Documents, events, the delivery outbox, source state and watchlists; see docs of each method."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    @property
    def engine(self) -> AsyncEngine:
        return self._engine

    @classmethod
    async def open(cls, url: str) -> Store:
        """Connect and bring the schema to the newest migration (data kept)."""
        engine = make_engine(url)
        safe = engine.url.render_as_string(hide_password=True)
        try:
            await upgrade(engine)
        except (SQLAlchemyError, OSError) as exc:
            await engine.dispose()
            raise StoreError(f"cannot open database {safe}: {_reason(exc)}") from None
        except CommandError as exc:  # e.g. a schema from a newer release than this one
            await engine.dispose()
            raise StoreError(f"cannot migrate database {safe}: {one_line(str(exc))}") from None
        return cls(engine)

    async def close(self) -> None:
        await self._engine.dispose()

    @asynccontextmanager
    async def _tx(self, operation: str) -> AsyncIterator[AsyncConnection]:
        try:
            async with self._engine.begin() as conn:
                yield conn
        except (SQLAlchemyError, OSError) as exc:
            raise StoreError(f"store: {operation} failed: {_reason(exc)}") from exc

    async def ping(self) -> bool:
        """True when the database answers (for /readyz)."""
        try:
            async with self._engine.connect() as conn:
                await conn.execute(text("SELECT 1"))
        except (SQLAlchemyError, OSError) as exc:
            log.warning("store: ping failed: %s", _reason(exc))
            return False
        return True

    # ------------------------------------------------------------------ ingest

    async def ingest(
        self, fetched: FetchedDocument, document: Document, report: Report, routes: Sequence[Route]
    ) -> IngestResult:
        """Store one document with its event and outbox rows in ONE transaction (rules in `ingest.ingest`)."""
        async with self._tx("ingest") as conn:
            return await ingest(conn, fetched, document, report, routes, utcnow())

    # ------------------------------------------------------------------ sources

    async def load_state(self, source: str) -> SourceState:
        async with self._tx("load_state") as conn:
            return await polls.load_state(conn, source)

    async def record_poll(
        self, source: str, *, state: SourceState | None, error: str | None, next_poll_at: datetime
    ) -> None:
        """Record a poll (`error` None: success). Pass `state` only once the poll's documents are stored."""
        async with self._tx("record_poll") as conn:
            await polls.record_poll(conn, source, state=state, error=error, next_poll_at=next_poll_at, now=utcnow())

    async def source_status(self) -> list[SourceStatus]:
        async with self._tx("source_status") as conn:
            return await polls.source_status(conn)

    async def status_of(self, source: str) -> SourceStatus | None:
        """One source's status, None before its first poll or lease."""
        async with self._tx("source_status") as conn:
            found = await polls.source_status(conn, source)
        return found[0] if found else None

    async def acquire_lease(self, source: str, owner: str, ttl: float) -> bool:
        """Take or extend the source's lease for `ttl` seconds; True when `owner` holds it now."""
        async with self._tx("acquire_lease") as conn:
            return await polls.acquire_lease(conn, source, owner, ttl, utcnow())

    async def release_lease(self, source: str, owner: str) -> None:
        async with self._tx("release_lease") as conn:
            await polls.release_lease(conn, source, owner)

    # ------------------------------------------------------------------ outbox

    async def pending_deliveries(self, platform: str | None = None, limit: int = 50) -> list[DeliveryItem]:
        """Due pending rows, oldest first, each after the earlier rows of its event and target."""
        async with self._tx("pending_deliveries") as conn:
            return await outbox.pending(conn, platform, limit, utcnow())

    async def claim_delivery(self, delivery_id: int, owner: str, ttl: float) -> bool:
        """Claim a pending row for `ttl` seconds so no other replica sends it; False when not available."""
        async with self._tx("claim_delivery") as conn:
            return await outbox.claim(conn, delivery_id, owner, ttl, utcnow())

    async def mark_sent(self, delivery_id: int, external_id: str | None) -> None:
        async with self._tx("mark_sent") as conn:
            await outbox.mark_sent(conn, delivery_id, external_id, utcnow())

    async def mark_failed(self, delivery_id: int, error: str, *, permanent: bool, retry_at: datetime | None) -> None:
        """Record a failed attempt; `error` must carry no secrets (it is shown by `earnings-bot status`)."""
        async with self._tx("mark_failed") as conn:
            await outbox.mark_failed(conn, delivery_id, error, permanent=permanent, retry_at=retry_at, now=utcnow())

    async def deliveries(self, state: str | None = None, limit: int = 100) -> list[DeliveryItem]:
        async with self._tx("deliveries") as conn:
            return await outbox.listing(conn, state, limit)

    # ------------------------------------------------------------------ reading

    async def events(self, limit: int = 50) -> list[EventSummary]:
        async with self._tx("events") as conn:
            return await queries.event_summaries(conn, limit)

    async def latest_report(self, ticker: str) -> Report | None:
        """The ticker's newest event's best report: most figures, then most guidance, then a press release
        over a transcript, then the newest (superseded revisions never)."""
        async with self._tx("latest_report") as conn:
            return await queries.latest_report(conn, ticker)

    async def reports(self, ticker: str, limit: int = 8) -> list[Report]:
        """One best report per fiscal period, newest period first (for "revenue history")."""
        async with self._tx("reports") as conn:
            return await queries.period_reports(conn, ticker, limit)

    async def companies(self) -> list[tuple[str | None, str | None]]:
        async with self._tx("companies") as conn:
            return await queries.companies(conn)

    async def watch(self, platform: str, channel: str, ticker: str) -> bool:
        """Add `ticker` to the channel's watchlist (InputError on a bad value); False when already there."""
        async with self._tx("watch") as conn:
            return await queries.watch(conn, platform, channel, ticker, utcnow())

    async def unwatch(self, platform: str, channel: str, ticker: str) -> bool:
        async with self._tx("unwatch") as conn:
            return await queries.unwatch(conn, platform, channel, ticker)

    async def watchlist(self, platform: str, channel: str) -> list[str]:
        async with self._tx("watchlist") as conn:
            return await queries.watchlist(conn, platform, channel)
