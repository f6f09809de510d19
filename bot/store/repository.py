"""The Store: one async SQLAlchemy engine (SQLite file or PostgreSQL) and every operation the bot needs."""

from __future__ import annotations

import asyncio
import logging
import weakref
from collections.abc import AsyncIterator, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager, nullcontext
from datetime import datetime
from pathlib import Path
from typing import Any

from alembic.util import CommandError
from sqlalchemy import event, text
from sqlalchemy.engine import URL, Engine, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, OperationalError, SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from bot.config import Route
from bot.errors import ConfigError, StoreError
from bot.models import Document, Report
from bot.sources.base import FetchedDocument, SourceState
from bot.store import outbox, polls, queries
from bot.store.batch import PollBook
from bot.store.ingest import ingest
from bot.store.migrate import upgrade
from bot.store.polls import one_line
from bot.store.schema import utcnow
from bot.store.types import DeliveryItem, EventSummary, IngestResult, PollLease, SourceStatus

log = logging.getLogger(__name__)

SQLITE_BUSY_TIMEOUT_MS = 30_000
READ_ONLY = "earnings_bot_read_only"  # execution option: this transaction only reads (SQLite: a plain BEGIN)

# One lock per SQLite engine: its writers take turns in the event loop instead of in SQLite's busy handler,
# which sleeps in steps of up to 100 ms. Other processes on the same file still meet the busy timeout.
_WRITERS: weakref.WeakKeyDictionary[Engine, asyncio.Lock] = weakref.WeakKeyDictionary()


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
    transactions (writers queue instead of failing) except for reads, PostgreSQL a pre-ping pool."""
    parsed = database_url(url)
    if parsed.get_backend_name() == "postgresql":
        return create_async_engine(parsed, pool_pre_ping=True)
    Path(parsed.database or "").parent.mkdir(parents=True, exist_ok=True)
    # Every use of a connection ends its transaction (commit or rollback) before the pool gets it back,
    # so the pool's own rollback on return would only cost a round trip to the driver's thread.
    engine = create_async_engine(parsed, pool_reset_on_return=None)

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
        # A read runs in a deferred transaction: a snapshot of the WAL that never waits for writers.
        # Sent straight to the driver: one trip to its thread, where a statement through SQLAlchemy takes
        # three.
        begin = "BEGIN" if conn.get_execution_options().get(READ_ONLY) else "BEGIN IMMEDIATE"
        conn.connection.dbapi_connection.run_async(lambda driver: driver.execute_fetchall(begin))

    return engine


def _reason(exc: BaseException) -> str:
    """A short reason for a database failure (driver error class and first line), never the URL."""
    cause: BaseException = exc.orig if isinstance(exc, DBAPIError) and exc.orig is not None else exc
    first = str(cause).strip().splitlines()[0] if str(cause).strip() else ""
    return f"{type(cause).__name__}: {first[:200]}" if first else type(cause).__name__


MIGRATE_ATTEMPTS = 20


class Store:
    """Documents, events, the delivery outbox, source state and watchlists; see docs of each method."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._reader = engine.execution_options(**{READ_ONLY: True})
        self._sqlite = engine.dialect.name == "sqlite"
        self._polls = PollBook(self._tx)

    @property
    def engine(self) -> AsyncEngine:
        return self._engine

    @classmethod
    async def open(cls, url: str) -> Store:
        """Connect and bring the schema to the newest migration (data kept)."""
        engine = make_engine(url)
        safe = engine.url.render_as_string(hide_password=True)
        try:
            for attempt in range(MIGRATE_ATTEMPTS):
                try:
                    await upgrade(engine)
                    break
                except OperationalError as exc:
                    # SQLite answers "database is locked" at once (no busy wait) when two connections that
                    # both read the schema version try to write it: another process is migrating; wait.
                    if engine.dialect.name != "sqlite" or "locked" not in str(exc) or attempt + 1 == MIGRATE_ATTEMPTS:
                        raise
                    await asyncio.sleep(0.1 * (attempt + 1))
        except (SQLAlchemyError, OSError) as exc:
            await engine.dispose()
            raise StoreError(f"cannot open database {safe}: {_reason(exc)}") from None
        except CommandError as exc:  # e.g. a schema from a newer release than this one
            await engine.dispose()
            raise StoreError(f"cannot migrate database {safe}: {one_line(str(exc))}") from None
        return cls(engine)

    async def close(self) -> None:
        await self._polls.close()
        await self._engine.dispose()

    def _writer(self) -> AbstractAsyncContextManager[object]:
        """SQLite: this engine's writer lock (one write transaction at a time); PostgreSQL: nothing."""
        if not self._sqlite:
            return nullcontext()
        return _WRITERS.setdefault(self._engine.sync_engine, asyncio.Lock())

    @asynccontextmanager
    async def _tx(self, operation: str) -> AsyncIterator[AsyncConnection]:
        """A write transaction (SQLite: BEGIN IMMEDIATE, after this engine's earlier writers)."""
        try:
            async with self._writer(), self._engine.begin() as conn:
                yield conn
        except (SQLAlchemyError, OSError) as exc:
            raise StoreError(f"store: {operation} failed: {_reason(exc)}") from exc

    @asynccontextmanager
    async def _read(self, operation: str) -> AsyncIterator[AsyncConnection]:
        """A read-only transaction: one consistent snapshot, never waiting for writers on SQLite."""
        try:
            async with self._reader.begin() as conn:
                yield conn
        except (SQLAlchemyError, OSError) as exc:
            raise StoreError(f"store: {operation} failed: {_reason(exc)}") from exc

    async def ping(self) -> bool:
        """True when the database answers (for /readyz)."""
        try:
            async with self._reader.connect() as conn:
                await conn.execute(text("SELECT 1"))
        except (SQLAlchemyError, OSError) as exc:
            log.warning("store: ping failed: %s", _reason(exc))
            return False
        return True

    # ------------------------------------------------------------------ ingest

    async def ingest(
        self, fetched: FetchedDocument, document: Document, report: Report, routes: Sequence[Route],
        *, deliver: bool = True,
    ) -> IngestResult:
        """Store one document with its event and outbox rows in ONE transaction (rules in `ingest.ingest`);
        `deliver=False` stores it without queueing any delivery (backfill)."""
        async with self._tx("ingest") as conn:
            return await ingest(conn, fetched, document, report, routes, utcnow(), deliver=deliver)

    # ------------------------------------------------------------------ sources

    async def load_state(self, source: str) -> SourceState:
        async with self._read("load_state") as conn:
            return await polls.load_state(conn, source)

    async def begin_poll(self, source: str, owner: str, ttl: float, *, due_by: datetime | None = None) -> PollLease:
        """Start a poll in one transaction: take the source's lease for `ttl` seconds unless another replica
        holds it or (with `due_by`) the source is due only later, and read its status and saved state.
        End it with `finish_poll` (or `release_lease` when nothing is to be recorded)."""
        return await self._polls.begin(source, owner, ttl, due_by)

    async def finish_poll(
        self, source: str, owner: str, *, state: SourceState | None, error: str | None, next_poll_at: datetime
    ) -> None:
        """`record_poll` and `release_lease(source, owner)` in one small write (shared with the polls that
        finish or start meanwhile)."""
        await self._polls.finish(source, owner, state=state, error=error, next_poll_at=next_poll_at)

    async def record_poll(
        self, source: str, *, state: SourceState | None, error: str | None, next_poll_at: datetime
    ) -> None:
        """Record a poll (`error` None: success). Pass `state` only once the poll's documents are stored."""
        async with self._tx("record_poll") as conn:
            await polls.record_poll(conn, source, state=state, error=error, next_poll_at=next_poll_at, now=utcnow())

    async def source_status(self) -> list[SourceStatus]:
        async with self._read("source_status") as conn:
            return await polls.source_status(conn)

    async def status_of(self, source: str) -> SourceStatus | None:
        """One source's status, None before its first poll or lease."""
        async with self._read("source_status") as conn:
            found = await polls.source_status(conn, source)
        return found[0] if found else None

    async def acquire_lease(self, source: str, owner: str, ttl: float) -> bool:
        """Take or extend the source's lease for `ttl` seconds; True when `owner` holds it now."""
        async with self._tx("acquire_lease") as conn:
            return await polls.acquire_lease(conn, source, owner, ttl, utcnow())

    async def release_lease(self, source: str, owner: str) -> None:
        async with self._tx("release_lease") as conn:
            await polls.release_lease(conn, source, owner)

    async def release_leases(self, sources: Sequence[str], owner: str) -> None:
        """`release_lease` for many sources in one transaction (a replica stopping)."""
        if sources:
            async with self._tx("release_leases") as conn:
                await polls.release_leases(conn, sources, owner)

    # ------------------------------------------------------------------ outbox

    async def pending_deliveries(self, platform: str | None = None, limit: int = 50) -> list[DeliveryItem]:
        """Due pending rows, oldest first, each after the earlier rows of its event and target."""
        async with self._read("pending_deliveries") as conn:
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
        async with self._read("deliveries") as conn:
            return await outbox.listing(conn, state, limit)

    # ------------------------------------------------------------------ reading

    async def events(self, limit: int = 50) -> list[EventSummary]:
        async with self._read("events") as conn:
            return await queries.event_summaries(conn, limit)

    async def latest_report(self, ticker: str) -> Report | None:
        """The ticker's newest event's best report: most figures, then most guidance, then a press release
        over a transcript, then the newest (superseded revisions never)."""
        async with self._read("latest_report") as conn:
            return await queries.latest_report(conn, ticker)

    async def reports(self, ticker: str, limit: int = 8) -> list[Report]:
        """One best report per fiscal period, newest period first (for "revenue history")."""
        async with self._read("reports") as conn:
            return await queries.period_reports(conn, ticker, limit)

    async def event_reports(self, event_ids: Sequence[int]) -> dict[int, Report]:
        """Each given event's best report (as `latest_report` picks it); events without one are left out."""
        if not event_ids:
            return {}
        async with self._read("event_reports") as conn:
            return await queries.best_reports(conn, event_ids)

    async def companies(self) -> list[tuple[str | None, str | None]]:
        """(ticker, company) pairs known from stored events: one per ticker (its latest name), then companies
        known by name only."""
        async with self._read("companies") as conn:
            return await queries.companies(conn)

    async def watch(self, platform: str, channel: str, ticker: str) -> bool:
        """Add `ticker` to the channel's watchlist (InputError on a bad value); False when already there."""
        async with self._tx("watch") as conn:
            return await queries.watch(conn, platform, channel, ticker, utcnow())

    async def unwatch(self, platform: str, channel: str, ticker: str) -> bool:
        async with self._tx("unwatch") as conn:
            return await queries.unwatch(conn, platform, channel, ticker)

    async def watchlist(self, platform: str, channel: str) -> list[str]:
        async with self._read("watchlist") as conn:
            return await queries.watchlist(conn, platform, channel)
